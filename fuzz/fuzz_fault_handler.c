/*
 * Fuzzing the page-fault handler (and the memory system calls around it) with operation
 * sequences on a whole booted kernel.
 *
 * The kernel boots once (kernel_init, the default PC memory map with a 256 KiB kernel image;
 * a swap area of SWAP_SLOTS slots in host memory, unless FUZZ_FH_SWAP=0) on a 4 MiB machine of 4
 * simulated CPUs, each a host thread (sim/cpu_threads) that lives across inputs: every kernel
 * call runs on the CPU the input names, so TLB shootdowns are real IPIs answered by the other
 * CPUs' threads, and each CPU keeps the address space it last ran in (and its TLB entries)
 * until the input switches it away. A small machine makes exhaustion, the governor's levels and
 * the OOM killer a few hundred faults away. Each input ends with every process exited and every
 * CPU back on the kernel's tables with an empty TLB, and the kernel must then be back at the
 * checkpoint taken after boot (free and used frames, the reserve pool, the heap's bytes,
 * objects, blocks and frames, swap slots and the swap cache, the spaces under an lru limit, the
 * governor's level, not frozen): the next input starts from the post-boot state without a
 * reboot. Input format:
 *
 *   byte 0: CPUs the input uses (2 + b % 3) and, with swap, the replacement policy of
 *           `limit` (fifo, lru, clock, opt: (b / 3) % 4; opt's oracle answers from the input)
 *   then up to MAX_OPS operations, one opcode byte each, then their argument bytes:
 *     spawn; fork P; exit P; mmap P (fixed or hinted, private or shared, populate or lazy,
 *     any protection); mmap phys P (a range of the device window [0xA0000, 0x100000));
 *     munmap P, mprotect P (any page range, partial grants too); borrow A -> B; transfer
 *     A -> B; a batch of 1..8 user accesses (read, write or fetch, 1/2/4/8 bytes at any
 *     offset of a page) by P on a CPU; a kernel copy (copy_to_user / copy_from_user of up to
 *     three pages) for P on a CPU; a CPU switching to P or to the kernel's tables; failure
 *     injection (pressure_inject_failure off, nth or after); memory exhaustion (a populated
 *     mapping of 1/64..1/8 of memory, or 3/4 of it, outside the window, or its release). Opcode
 *     bytes 0xf0..0xff: a file server (mm_fserve of a window range), a client's file
 *     mapping (mm_fmap, fixed or hinted, any offset and protection), exhaustion by faults
 *     (1/16..3/4 of memory: populated while half the free memory is left, the rest mapped
 *     lazily and written page by page until the OOM killer acts);
 *     with swap (by default), 0xfe and 0xff are `limit` P N (0..47, 0 for none) or direct
 *     reclaim of 1..64 frames instead, and exhaustion evicts before it kills; the other
 *     operations then meet swapped pages (accesses, kernel copies, fork, munmap, mprotect,
 *     borrow, transfer, exit).
 *   Processes: at most MAX_PROCS at once; P is an index modulo the live ones. Addresses are
 *   pages of a window [0, WIN_PAGES * 4 KiB) so operations collide; hinted mmaps may land
 *   outside it and are then unmapped again at once.
 *
 * Checked:
 *   - after every operation: kheap_audit, pressure_audit and the frame accounting hold; at
 *     the end of the input, mm_audit (every space, reference count and frame) too
 *     (FUZZ_FH_FULL_AUDIT=1: mm_audit after every operation); a violation prints the report
 *     and aborts;
 *   - every translation that succeeds for a user access lands on a frame that is not free,
 *     cached, allocator metadata or kernel-private (else: a stale TLB entry, i.e. a missing
 *     shootdown, or a table that outlived its frame), and inside physical memory;
 *   - the access outcome on the process's own memory (private, shared, device): segv exactly
 *     when there is no grant or its protection forbids the access; when allowed, only ok,
 *     oom or killed;
 *   - values: a model of every page of the window in every process (a content object per
 *     page: private pages are copied at fork, shared and device pages and borrowed views
 *     share one object, transfer moves them). Every read, user or kernel, must return the
 *     model's bytes. Where the kernel's semantics are not pinned down by its contract (a
 *     borrowed view whose source page was unmapped, moved or forked; a borrow of nothing),
 *     the object is marked unknown and no longer checked;
 *   - a user copy that fails half-way may have written a prefix: each byte read back from
 *     the page tables' frames must be the old or the new value;
 *   - at the end every process exits: the kernel must be back at the post-boot checkpoint.
 * A kernel panic is a crash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot_memory.h"
#include "host/cpu_threads.h"
#include "frame_alloc.h"
#include "frame_alloc_view.h"
#include "fuzz_input.h"
#include "host/host_cpu_ops.h"
#include "host/host_platform.h"
#include "kernel_init.h"
#include "kheap.h"
#include "phys.h"
#include "platform.h"
#include "pressure.h"
#include "reclaim.h" /* reclaim_direct: the forced reclaim operation */
#include "replace_policy.h"
#include "swap_area.h"
#include "host/user_access.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "x86_cpu.h"

/* a small machine: exhaustion, the governor's levels and the OOM killer come after few
 * faults (every operation scales its sizes from MEM_BYTES), so inputs stay fast */
#ifndef MEM_MIB
#define MEM_MIB 4
#endif
#define MEM_BYTES ((uint64_t)MEM_MIB << 20)
#define KERNEL_IMAGE_BYTES ((uint64_t)256 << 10)
#define NCPUS 4u
#define MAX_PROCS 6u
#define MAX_OPS 64
#define MAX_ACCESSES 256
#define WIN_PAGES 64u
#define PAGE 4096u
#define DEV_BASE 0xA0000ull
#define DEV_PAGES ((0x100000ull - DEV_BASE) / PAGE)
#define HOG_BASE 0x10000000ull
#define HOG_MAX MEM_BYTES
#define RECORDS_PA 0x7000ull
#define COPY_MAX (3 * PAGE)

/* ---- the model ------------------------------------------------------------------------ */

struct obj {
	unsigned refs;      /* slots pointing here (device objects: not counted) */
	unsigned borrowers; /* of them, borrowed views (mm_borrow, and their fork copies) */
	bool unknown;       /* the kernel's contract does not fix its content any more */
	bool device;        /* one of dev[]: physical memory, lives for the whole input */
	uint8_t *data;      /* PAGE bytes, NULL while all zero */
};

enum slot_kind { S_NONE, S_PRIVATE, S_SHARED, S_DEVICE, S_BORROWED, S_UNKNOWN };

struct slot {
	uint8_t kind;
	uint8_t prot;
	struct obj *obj; /* NULL for S_NONE and S_UNKNOWN */
};

struct proc {
	struct addr_space *as; /* NULL: not a process (free entry) */
	unsigned id;
	struct slot s[WIN_PAGES];
	bool hog;
	unsigned serve_first, serve_n; /* the range of the last successful mm_fserve */
};

static struct obj dev[DEV_PAGES];
static struct proc procs[MAX_PROCS];
static unsigned next_id;

static uint8_t *arena;
static struct x86_cpu cpus[NCPUS];
static unsigned ncpus_used;
static const char *current_op = "boot";
/* FUZZ_FH_FULL_AUDIT=1: the whole audit after every operation too (slower) */
static bool getenv_full_audit;
/* Swap (on unless FUZZ_FH_SWAP=0): a swap area, the input's replacement policy, and the limit
 * and reclaim operations. Without it, opcodes 0xfe and 0xff are exhaustion by faults, as
 * before swap joined. */
static bool swap_on;

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_fault_handler: during %s: ", current_op);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void panic_is_a_crash(const char *msg)
{
	fail("kernel panic: %s", msg);
}

static struct obj *obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	if (!o)
		fail("out of host memory");
	return o;
}

static uint8_t obj_byte(const struct obj *o, unsigned off)
{
	return o->data ? o->data[off] : 0;
}

static void obj_set(struct obj *o, unsigned off, uint8_t b)
{
	if (!o->data) {
		if (!b)
			return;
		o->data = calloc(1, PAGE);
		if (!o->data)
			fail("out of host memory");
	}
	o->data[off] = b;
}

/* A slot is dropped (unmapped, replaced, moved away, its process gone). */
static void slot_drop(struct slot *s)
{
	struct obj *o = s->obj;

	if (o) {
		if (s->kind == S_BORROWED)
			o->borrowers--;
		/* views borrowed through this page now depend on what its address becomes */
		if (o->borrowers)
			o->unknown = true;
		if (!o->device && --o->refs == 0) {
			free(o->data);
			free(o);
		}
	}
	*s = (struct slot){S_NONE, 0, NULL};
}

static void slot_ref(struct slot *dst, uint8_t kind, uint8_t prot, struct obj *o)
{
	slot_drop(dst);
	dst->kind = o || kind == S_NONE ? kind : S_UNKNOWN;
	dst->prot = prot;
	dst->obj = o;
	if (o && !o->device)
		o->refs++;
	if (o && kind == S_BORROWED)
		o->borrowers++;
}

static void proc_forget(struct proc *p)
{
	for (unsigned i = 0; i < WIN_PAGES; i++)
		slot_drop(&p->s[i]);
	p->as = NULL;
	p->hog = false;
}

/* ---- running work on the simulated CPUs ---------------------------------------------- */

struct work {
	void (*fn)(struct work *w);
	struct proc *p, *q;
	uint64_t a, b, c, d, e;
	unsigned prot, flags;
	enum mm_status st;
	struct addr_space *child;
	bool ok;
	char buf[512];
};

/*
 * Between operations: the heap's and the governor's audits and the frame accounting, which
 * cost little. They run on the CPU of the operation's first piece of work, right after it
 * (a hand-off to another CPU thread costs more than these audits); an operation that ran
 * nothing on a CPU gets them in a hand-off of their own. The whole audit (mm_audit: every
 * space, every reference count, the frame allocator) runs after boot and at the end of each
 * input, where a corruption an operation left behind is still there to see.
 */
static struct {
	bool due;  /* set before an operation; the first hand-off runs the audits and clears it */
	bool ok;
	bool dead; /* a process the OOM killer ended is still held by the model */
	char buf[512];
} between;

static void check_between(void)
{
	between.ok = kheap_audit(between.buf, sizeof(between.buf)) &&
		     pressure_audit(between.buf, sizeof(between.buf));
	if (between.ok && free_frames() + used_frames() != total_frames()) {
		snprintf(between.buf, sizeof(between.buf), "free %llu + used %llu != total %llu frames",
			 (unsigned long long)free_frames(), (unsigned long long)used_frames(),
			 (unsigned long long)total_frames());
		between.ok = false;
	}
	between.dead = false;
	for (unsigned i = 0; i < MAX_PROCS; i++)
		if (procs[i].as && !addr_space_is_alive(procs[i].as))
			between.dead = true;
}

static void work_trampoline(void *arg)
{
	struct work *w = arg;

	w->fn(w);
	if (between.due) {
		between.due = false;
		check_between();
	}
}

static void on_cpu(unsigned cpu, void (*fn)(struct work *w), struct work *w)
{
	w->fn = fn;
	cpu_threads_run(cpu, work_trampoline, w);
}

/* Runs p on this CPU, as a scheduler would before its system call or instruction. */
static void enter(struct proc *p)
{
	if (p && p->as)
		addr_space_switch(p->as);
}

/* ---- audit and liveness (on CPU 0) ---------------------------------------------------- */

/* Processes the OOM killer ended: the model lets them go. */
static void w_forget_dead(struct work *w)
{
	(void)w;
	for (unsigned i = 0; i < MAX_PROCS; i++) {
		struct proc *p = &procs[i];

		if (p->as && !addr_space_is_alive(p->as)) {
			addr_space_release(p->as);
			proc_forget(p);
		}
	}
}

static void w_audit(struct work *w)
{
	w->ok = mm_audit(w->buf, sizeof(w->buf));
	if (!w->ok)
		return;
	w->ok = kheap_audit(w->buf, sizeof(w->buf));
	if (!w->ok)
		return;
	w_forget_dead(w);
}

static void audit(void)
{
	struct work w = {0};

	on_cpu(0, w_audit, &w);
	if (!w.ok)
		fail("audit: %s", w.buf);
}

/* After an operation: the audits between operations (see `between`). An operation that ran
 * nothing on any CPU (no process to pick, no free slot) changed nothing since the last
 * audits, and needs no hand-off of its own. */
static void quick_audit(void)
{
	struct work w = {0};

	if (getenv_full_audit) {
		between.due = false;
		audit();
		return;
	}
	between.due = false;
	if (!between.ok)
		fail("audit: %s", between.buf);
	if (between.dead) {
		on_cpu(0, w_forget_dead, &w);
		between.dead = false;
	}
}

/* ---- the swap area ------------------------------------------------------------------- */

/* Host memory: SWAP_SLOTS pages, fewer than the free frames, so exhaustion reaches the OOM
 * killer once swap is full. */
#define SWAP_SLOTS 192u
static uint8_t swap_mem[SWAP_SLOTS][PAGE];

static bool swap_dev_read(void *ctx, uint64_t slot, void *page)
{
	(void)ctx;
	if (slot >= SWAP_SLOTS)
		fail("the kernel reads swap slot %llu of %u", (unsigned long long)slot, SWAP_SLOTS);
	memcpy(page, swap_mem[slot], PAGE);
	return true;
}

static bool swap_dev_write(void *ctx, uint64_t slot, const void *page)
{
	(void)ctx;
	if (slot >= SWAP_SLOTS)
		fail("the kernel writes swap slot %llu of %u", (unsigned long long)slot, SWAP_SLOTS);
	memcpy(swap_mem[slot], page, PAGE);
	return true;
}

static const struct swap_device swap_dev = {SWAP_SLOTS, swap_dev_read, swap_dev_write, NULL};

/* policy=opt asks when a page is next used: an answer derived from the input (any answer
 * must leave the kernel correct; only the choice of victim depends on it) */
static uint64_t opt_seed;

static uint64_t opt_oracle(void *ctx, struct addr_space *as, uint64_t va, uint64_t now_va)
{
	uint64_t h = (va >> 12) * 0x9e3779b97f4a7c15ull ^ opt_seed ^ (now_va >> 12);

	(void)ctx;
	(void)as;
	h ^= h >> 29;
	return (h & 7) == 7 ? UINT64_MAX : h & 0xffff;
}

/* ---- boot ------------------------------------------------------------------------------ */

static void w_boot(struct work *w)
{
	struct bootloader_memory_record rec[4] = {
		{0, DEV_BASE, BOOT_MEMORY_RESERVED},
		{DEV_BASE, 0x100000 - DEV_BASE, BOOT_MEMORY_DEVICE},
		{BOOT_MEMORY_DEFAULT_KERNEL_BASE, KERNEL_IMAGE_BYTES, BOOT_MEMORY_KERNEL},
		{0x100000, MEM_BYTES - 0x100000, BOOT_MEMORY_FREE},
	};
	enum kernel_init_error e;

	memcpy(phys_to_virt(RECORDS_PA), rec, sizeof(rec));
	e = kernel_init(RECORDS_PA, 4, &(struct kernel_params){.swap = swap_on ? &swap_dev : NULL});
	if (e != KERNEL_INIT_OK)
		fail("the kernel does not boot: %s", kernel_init_strerror(e));
	(void)w;
}

static void w_ap(struct work *w)
{
	(void)w;
	kernel_cpu_start();
}

/*
 * What the kernel holds with no process alive, compared between the checkpoint taken after
 * boot and the end of every input: any difference is a leak (or a double free) by the input.
 * The heap's caches (empty slabs, the spare chunk) are given back first: what the heap keeps
 * for later is not a leak. The governor's level is read after a pressure_update, the check
 * the next allocation would make.
 */
struct kernel_state {
	uint64_t free_frames, used_frames, reserve_pool;
	uint64_t heap_bytes, heap_objects, heap_blocks, heap_frames;
	uint64_t swap_used, swap_cached, lru_spaces;
	enum pressure_state level;
	bool frozen;
};

static struct kernel_state checkpoint;

static void w_leave(struct work *w);
static void w_end(struct work *w);

/* On CPU 0 at the end of an input (and after boot): it leaves the processes' tables, the
 * whole audit runs, then the kernel's state is read. */
static void w_kernel_state(struct work *w)
{
	struct kernel_state *k = (struct kernel_state *)(uintptr_t)w->a;
	struct kheap_stats h;
	struct swap_stats sw;

	w_leave(w);
	w_audit(w);
	if (!w->ok)
		return;

	kheap_shrink();
	pressure_update();
	kheap_get_stats(&h);
	swap_get_stats(&sw);
	*k = (struct kernel_state){
		.free_frames = free_frames(), .used_frames = used_frames(),
		.reserve_pool = reserve_pool_frames(),
		.heap_bytes = h.bytes_in_use, .heap_objects = h.slab_objects,
		.heap_blocks = h.list_blocks, .heap_frames = h.slab_frames + h.list_frames,
		.swap_used = sw.used, .swap_cached = sw.cached,
		.lru_spaces = atomic_load(&replace_lru_spaces),
		.level = pressure_state(), .frozen = system_frozen(),
	};
}

/* CPU 0's end of an input (w_end), then the audit and the kernel's state, one hand-off */
static void w_end_and_state(struct work *w)
{
	w_end(w);
	w_kernel_state(w);
}

static void kernel_state(struct kernel_state *k, bool end_input)
{
	struct work w = {0};

	w.a = (uintptr_t)k;
	on_cpu(0, end_input ? w_end_and_state : w_kernel_state, &w);
	if (!w.ok)
		fail("audit: %s", w.buf);
}

#define SAME(field, what)                                                                   \
	do {                                                                                \
		if (now.field != checkpoint.field)                                          \
			fail("after every process exited, %s is %llu, after boot %llu", what,    \
			     (unsigned long long)now.field,                                  \
			     (unsigned long long)checkpoint.field);                          \
	} while (0)

/* The end of an input: the kernel must be back at the checkpoint taken after boot. */
static void check_back_at_checkpoint(bool end_input)
{
	struct kernel_state now;

	kernel_state(&now, end_input);
	SAME(free_frames, "free_frames");
	SAME(used_frames, "used_frames");
	SAME(reserve_pool, "the reserve pool");
	SAME(heap_bytes, "the heap's bytes in use");
	SAME(heap_objects, "the heap's slab objects");
	SAME(heap_blocks, "the heap's list blocks");
	SAME(heap_frames, "the heap's frames");
	SAME(swap_used, "swap_used");
	SAME(swap_cached, "the swap cache");
	SAME(lru_spaces, "the count of spaces under an lru limit");
	if (now.level != checkpoint.level)
		fail("after every process exited, the governor is %s, after boot %s",
		     pressure_state_name(now.level), pressure_state_name(checkpoint.level));
	if (now.frozen != checkpoint.frozen)
		fail("after every process exited, the system is %s",
		     now.frozen ? "frozen" : "not frozen");
}

/*
 * The machine boots once, on the first input (kernel_init, the default PC memory map, every
 * CPU started); the checkpoint is taken then. Every input ends with every process exited,
 * every CPU back on the kernel's tables with its TLB flushed, the whole audit, and the
 * kernel compared with the checkpoint, so the next one starts from the post-boot state.
 */
static void setup_once(void)
{
	struct work w = {0};

	arena = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED)
		fail("cannot map the arena");
	phys_direct_map_base = (uintptr_t)arena;
	for (unsigned i = 0; i < NCPUS; i++) {
		if (!x86_cpu_init(&cpus[i], (struct x86_phys){arena, MEM_BYTES}, 64, 46))
			fail("cannot create cpu %u", i);
		/* AMD: the kernel zeroes demand-zero pages with CLZERO where the host has it (the
		 * cheapest fill; the copy path still streams) */
		cpus[i].vendor = X86_AMD;
	}
	host_cpu_ops_attach(cpus, NCPUS);
	host_set_cpu_count(NCPUS);
	host_set_panic_handler(panic_is_a_crash);
	/* FUZZ_FH_TRACE=1: the kernel's trace lines on stderr (to read a reproducer) */
	getenv_full_audit = getenv("FUZZ_FH_FULL_AUDIT") != NULL;
	swap_on = !getenv("FUZZ_FH_SWAP") || strcmp(getenv("FUZZ_FH_SWAP"), "0") != 0;
	if (getenv("FUZZ_FH_TRACE"))
		host_set_trace(stderr, true);
	if (!cpu_threads_start(NCPUS))
		fail("cannot start the cpu threads");
	current_op = "boot";
	on_cpu(0, w_boot, &w);
	for (unsigned c = 1; c < NCPUS; c++)
		on_cpu(c, w_ap, &w);
	kernel_state(&checkpoint, false);
	for (unsigned i = 0; i < DEV_PAGES; i++)
		dev[i].device = true;
}

/* The model starts empty, and so does the device window (a device's memory, not the
 * kernel's: the previous input's writes to it are not this one's). */
static void start_input(void)
{
	for (unsigned i = 0; i < DEV_PAGES; i++) {
		free(dev[i].data);
		dev[i] = (struct obj){.device = true};
	}
	memset(arena + DEV_BASE, 0, DEV_PAGES * PAGE);
	memset(procs, 0, sizeof(procs));
	next_id = 0;
	between.ok = true;
	between.dead = false;
}

/* ---- operations ------------------------------------------------------------------------ */

static struct proc *pick(struct fuzz_input *in)
{
	unsigned live = 0, k;

	for (unsigned i = 0; i < MAX_PROCS; i++)
		live += procs[i].as != NULL;
	if (!live)
		return NULL;
	k = fuzz_u8(in) % live;
	for (unsigned i = 0; i < MAX_PROCS; i++)
		if (procs[i].as && k-- == 0)
			return &procs[i];
	return NULL;
}

static unsigned pick_cpu(struct fuzz_input *in)
{
	return fuzz_u8(in) % ncpus_used;
}

/* A page range of the window: first page and count, inside it. */
static void pick_range(struct fuzz_input *in, unsigned *first, unsigned *n)
{
	uint8_t a = fuzz_u8(in), b = fuzz_u8(in);

	*first = a % WIN_PAGES;
	*n = 1 + b % (b & 0x80 ? WIN_PAGES - *first : (WIN_PAGES - *first < 4 ? WIN_PAGES - *first : 4));
}

static struct proc *proc_slot(void)
{
	for (unsigned i = 0; i < MAX_PROCS; i++)
		if (!procs[i].as)
			return &procs[i];
	return NULL;
}

static void name_and_hold(struct proc *p, struct addr_space *as)
{
	char name[16];

	memset(p, 0, sizeof(*p));
	p->as = as;
	p->id = next_id++;
	snprintf(name, sizeof(name), "p%u", p->id);
	addr_space_set_name(as, name);
	addr_space_hold(as);
}

static void w_spawn(struct work *w)
{
	struct addr_space *as;

	as = addr_space_create();

	if (as)
		name_and_hold(w->q, as);
}

static void op_spawn(struct fuzz_input *in)
{
	struct work w = {0};
	unsigned cpu = pick_cpu(in);

	w.q = proc_slot();
	if (!w.q)
		return;
	on_cpu(cpu, w_spawn, &w);
}

static void w_fork(struct work *w)
{
	enter(w->p);
	w->st = mm_fork(w->p->as, &w->child);
	if (w->st == MM_STATUS_OK)
		name_and_hold(w->q, w->child);
}

static void op_fork(struct fuzz_input *in)
{
	struct work w = {0};
	struct proc *p = pick(in), *c;
	unsigned cpu = pick_cpu(in);

	w.q = c = proc_slot();
	if (!p || !c)
		return;
	w.p = p;
	on_cpu(cpu, w_fork, &w);
	if (w.st != MM_STATUS_OK) {
		if (w.st != MM_STATUS_ENOMEM)
			fail("fork: %s", mm_status_name(w.st));
		return;
	}
	for (unsigned i = 0; i < WIN_PAGES; i++) {
		struct slot *s = &p->s[i];
		struct obj *o = s->obj;

		switch (s->kind) {
		case S_NONE:
		case S_UNKNOWN:
			c->s[i] = (struct slot){s->kind, s->prot, NULL};
			break;
		case S_PRIVATE: {
			struct obj *copy = obj_new();

			/* a private page some space borrows is shared by now: fork may copy or
			 * keep sharing it, both views are no longer fixed */
			if (o->borrowers)
				o->unknown = true;
			copy->unknown = o->unknown;
			if (o->data) {
				copy->data = malloc(PAGE);
				if (!copy->data)
					fail("out of host memory");
				memcpy(copy->data, o->data, PAGE);
			}
			slot_ref(&c->s[i], S_PRIVATE, s->prot, copy);
			break;
		}
		case S_SHARED:
		case S_DEVICE:
		case S_BORROWED:
			slot_ref(&c->s[i], s->kind, s->prot, o);
			break;
		}
	}
}

static void w_exit(struct work *w)
{
	addr_space_exit(w->p->as);
	addr_space_release(w->p->as);
}

static void exit_proc(struct proc *p, unsigned cpu)
{
	struct work w = {0};

	w.p = p;
	on_cpu(cpu, w_exit, &w);
	proc_forget(p);
}

static unsigned prot_of(uint8_t b)
{
	return b & 7u;
}

static void w_mmap(struct work *w)
{
	enter(w->p);
	if (w->flags & 0x100u)
		w->st = mm_mmap_phys(w->p->as, w->a, w->b, w->prot, w->c, w->flags & 0xffu, &w->d);
	else
		w->st = mm_mmap(w->p->as, w->a, w->b, w->prot, w->flags, &w->d);
	/* the model covers the window only: anything placed beyond it goes away at once */
	if (w->st == MM_STATUS_OK && w->d + w->b > (uint64_t)WIN_PAGES * PAGE) {
		enum mm_status s = mm_munmap(w->p->as, w->d, w->b);

		if (s != MM_STATUS_OK)
			fail("munmap of a fresh mapping at %#llx: %s", (unsigned long long)w->d,
			     mm_status_name(s));
		w->flags |= 0x200u;
	}
}

/*
 * A fixed mmap that fails with ENOMEM while populating has already discarded what was
 * mapped in its range, as Linux's MAP_FIXED does (core/user_mm.h states it;
 * scenarios/kernel/fuzz-03-failed-fixed-populate-unmaps.scn shows it): the model forgets the
 * pages of the range that no grant covers any more.
 */
struct covered {
	uint64_t lo, hi;
	bool page[WIN_PAGES];
};

static bool note_grant(void *ctx, const struct grant_view *g)
{
	struct covered *c = ctx;

	for (uint64_t va = g->start; va < g->start + g->size && va < c->hi; va += PAGE)
		if (va >= c->lo)
			c->page[va / PAGE] = true;
	return true;
}

static void w_grants(struct work *w)
{
	addr_space_for_each_grant(w->p->as, note_grant, (void *)(uintptr_t)w->a);
}

static void forget_unmapped(struct proc *p, unsigned first, unsigned n)
{
	struct covered c = {(uint64_t)first * PAGE, (uint64_t)(first + n) * PAGE, {false}};
	struct work w = {0};

	w.p = p;
	w.a = (uintptr_t)&c;
	on_cpu(0, w_grants, &w);
	for (unsigned i = first; i < first + n; i++)
		if (!c.page[i] && p->s[i].kind != S_NONE)
			slot_drop(&p->s[i]);
}

static void op_mmap(struct fuzz_input *in, bool phys)
{
	struct work w = {0};
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in), first, n;
	uint8_t f = fuzz_u8(in);
	uint8_t prot = (uint8_t)prot_of(f);

	pick_range(in, &first, &n);
	if (!p)
		return;
	w.p = p;
	w.a = (uint64_t)first * PAGE;
	w.b = (uint64_t)n * PAGE;
	w.prot = prot;
	w.flags = (f & 0x08 ? MM_MAP_FIXED : 0) | (f & 0x10 ? MM_MAP_SHARED : 0) |
		  (f & 0x20 ? MM_MAP_POPULATE : 0);
	if (phys) {
		unsigned dp = fuzz_u8(in) % DEV_PAGES;

		if (n > DEV_PAGES - dp)
			n = (unsigned)(DEV_PAGES - dp);
		w.b = (uint64_t)n * PAGE;
		w.c = DEV_BASE + (uint64_t)dp * PAGE;
		w.flags = (w.flags & MM_MAP_FIXED) | 0x100u;
		if (f & 0x40)
			w.c += 0x10; /* a misaligned physical address: einval */
	}
	if (f & 0x80)
		w.a += 0x800; /* a misaligned address: einval for fixed, a hint otherwise */
	on_cpu(cpu, w_mmap, &w);
	if (w.st == MM_STATUS_ENOMEM && (w.flags & MM_MAP_FIXED))
		forget_unmapped(p, first, n);
	if (w.st != MM_STATUS_OK || (w.flags & 0x200u))
		return;
	if (w.d & (PAGE - 1))
		fail("mmap returned the misaligned address %#llx", (unsigned long long)w.d);
	first = (unsigned)(w.d / PAGE);
	for (unsigned i = 0; i < n; i++) {
		struct slot *s = &p->s[first + i];

		if (phys)
			slot_ref(s, S_DEVICE, prot, &dev[(w.c - DEV_BASE) / PAGE + i]);
		else
			slot_ref(s, (w.flags & MM_MAP_SHARED) ? S_SHARED : S_PRIVATE, prot,
				 obj_new());
	}
}

static void w_range(struct work *w)
{
	enter(w->p);
	if (w->flags)
		w->st = mm_mprotect(w->p->as, w->a, w->b, w->prot);
	else
		w->st = mm_munmap(w->p->as, w->a, w->b);
}

static void op_range(struct fuzz_input *in, bool mprotect)
{
	struct work w = {0};
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in), first, n;
	uint8_t prot = (uint8_t)prot_of(fuzz_u8(in));

	pick_range(in, &first, &n);
	if (!p)
		return;
	w.p = p;
	w.a = (uint64_t)first * PAGE;
	w.b = (uint64_t)n * PAGE;
	w.prot = prot;
	w.flags = mprotect;
	on_cpu(cpu, w_range, &w);
	if (w.st != MM_STATUS_OK)
		return;
	for (unsigned i = first; i < first + n; i++) {
		if (!mprotect)
			slot_drop(&p->s[i]);
		else if (p->s[i].kind != S_NONE)
			p->s[i].prot = prot;
	}
}

static void w_two(struct work *w)
{
	enter(w->p);
	if (w->flags)
		w->st = mm_transfer(w->p->as, w->a, w->q->as, w->b, w->c);
	else
		w->st = mm_borrow(w->p->as, w->a, w->q->as, w->b, w->c, w->prot);
}

static void op_two(struct fuzz_input *in, bool transfer)
{
	struct work w = {0};
	struct proc *a = pick(in), *b = pick(in);
	unsigned cpu = pick_cpu(in), sf, df, n, dn;
	uint8_t prot = (uint8_t)prot_of(fuzz_u8(in));
	struct slot tmp[WIN_PAGES];

	pick_range(in, &sf, &n);
	pick_range(in, &df, &dn);
	if (!a || !b)
		return;
	if (n > WIN_PAGES - df)
		n = WIN_PAGES - df;
	w.p = a;
	w.q = b;
	w.a = (uint64_t)sf * PAGE;
	w.b = (uint64_t)df * PAGE;
	w.c = (uint64_t)n * PAGE;
	w.prot = prot;
	w.flags = transfer;
	on_cpu(cpu, w_two, &w);
	if (w.st != MM_STATUS_OK)
		return;
	if (transfer) {
		memcpy(tmp, &a->s[sf], n * sizeof(tmp[0]));
		for (unsigned i = 0; i < n; i++) {
			struct obj *o = tmp[i].obj;

			/* moved, not dropped: the object keeps its reference */
			if (o && o->borrowers)
				o->unknown = true;
			a->s[sf + i] = (struct slot){S_NONE, 0, NULL};
		}
		for (unsigned i = 0; i < n; i++) {
			slot_drop(&b->s[df + i]);
			b->s[df + i] = tmp[i];
		}
		return;
	}
	memcpy(tmp, &a->s[sf], n * sizeof(tmp[0]));
	for (unsigned i = 0; i < n; i++) {
		struct obj *o = tmp[i].obj;

		/* a borrow of a hole or of something the model lost: unknown */
		slot_ref(&b->s[df + i], o ? S_BORROWED : S_UNKNOWN, prot, o);
	}
}

/* ---- user accesses --------------------------------------------------------------------- */

enum acc_result { ACC_OK, ACC_SEGV, ACC_OOM, ACC_KILLED };

struct access {
	uint64_t va;
	enum x86_access kind;
	unsigned size;
	uint8_t bytes[8];
	enum acc_result result;
	enum pf_status pf;
};

/*
 * Is this translation one a correct kernel could have produced? The frame it reached must not
 * be free, cached, allocator metadata or kernel-private, and must lie inside memory. tlb_hit:
 * the translation came from the TLB (-1: unknown, then the page tables are asked whether they
 * still point at the frame).
 */
static void check_frame(uint64_t va, uint64_t pa, unsigned size, int tlb_hit)
{
	enum frame_use use;

	if (pa + size > MEM_BYTES)
		fail("cpu%u: access at %#llx reached physical %#llx, beyond memory", plat_cpu_id(),
		     (unsigned long long)va, (unsigned long long)pa);
	use = frame_alloc_use_of(frame_containing(pa));
	if (use != FRAME_USE_FREE && use != FRAME_USE_CACHED && use != FRAME_USE_METADATA &&
	    use != FRAME_USE_KERNEL)
		return;
	if (tlb_hit < 0) {
		struct x86_xlate now;

		x86_probe(&cpus[plat_cpu_id()], va, X86_READ, true, false, &now, NULL);
		tlb_hit = now.outcome != X86_OK || (now.pa >> 12) != (pa >> 12);
	}
	fail("cpu%u: user access at %#llx reached frame %#llx, which is %s%s", plat_cpu_id(),
	     (unsigned long long)va, (unsigned long long)(pa & ~(uint64_t)0xfff),
	     frame_use_name(use),
	     tlb_hit ? " (through a stale TLB entry: a missing TLB shootdown)"
		     : " (the page tables still point at it)");
}

static bool access_translated(struct user_access *ua, struct x86_cpu *cpu,
			      const struct x86_walk_trace *t, const struct x86_xlate *x)
{
	(void)cpu;
	if (x->outcome == X86_OK)
		check_frame(ua->va, x->pa, ua->size, t->tlb_hit);
	else if (x->outcome != X86_PF)
		fail("access at %#llx: translation outcome %d", (unsigned long long)ua->va,
		     x->outcome);
	return true;
}

static const struct user_access_observer access_observer = {.translated = access_translated};

/*
 * One access through the one access loop (sim/host/user_access.h), its translations checked.
 * narrated: every translation is told (the walk the trace of a reproducer shows) and checked
 * as it happens; else the access takes the quick walk a processor's TLB miss takes, and only
 * its last translation, the one that succeeded (every earlier one faulted), is checked, once
 * the access is done. Exhaustion by faults, hundreds of pages an operation, runs unnarrated.
 */
static void user_access_of(struct access *a, bool narrated)
{
	struct user_access ua = {.va = a->va, .kind = a->kind, .size = a->size,
				 .observer = narrated ? &access_observer : NULL};
	enum user_access_result r;

	memcpy(&ua.value, a->bytes, a->size);
	r = user_access(&cpus[plat_cpu_id()], &ua);
	a->pf = (enum pf_status)ua.verdict;
	switch (r) {
	case UA_OK:
		if (!narrated)
			check_frame(ua.va, ua.pa, ua.size, -1);
		if (a->kind == X86_READ)
			memcpy(a->bytes, &ua.value, a->size);
		a->result = ACC_OK;
		return;
	case UA_KILLED:
		a->result = ACC_KILLED;
		return;
	case UA_OOM:
		a->result = ACC_OOM;
		return;
	case UA_SEGV:
		a->result = ACC_SEGV;
		return;
	case UA_LOOP:
		fail("the page-fault handler keeps answering success at %#llx but the access faults again",
		     (unsigned long long)a->va);
	case UA_BUS:
	case UA_BEYOND:
	case UA_STOPPED:
		break;
	}
	fail("access at %#llx: unexpected end %d", (unsigned long long)a->va, r);
}

struct batch {
	struct proc *p;
	unsigned n;
	struct access acc[8];
	bool frozen;
};

static void w_batch(struct work *w)
{
	struct batch *b = (struct batch *)(uintptr_t)w->a;

	/* a frozen system runs no user code */
	if (system_frozen()) {
		b->frozen = true;
		return;
	}
	enter(b->p);
	for (unsigned i = 0; i < b->n; i++) {
		user_access_of(&b->acc[i], true);
		if (b->acc[i].result == ACC_KILLED) {
			b->n = i + 1;
			break;
		}
	}
}

static bool prot_allows(unsigned prot, enum x86_access kind)
{
	switch (kind) {
	case X86_READ:
		return prot != 0;
	case X86_WRITE:
		return prot & MM_PROT_WRITE;
	case X86_FETCH:
		return prot & MM_PROT_EXEC;
	}
	return false;
}

static const char *const kind_names[] = {"read", "write", "fetch"};
static const char *const result_names[] = {"ok", "segv", "oom", "killed"};

static bool own_memory(const struct slot *s)
{
	return s->kind == S_NONE || s->kind == S_PRIVATE || s->kind == S_SHARED ||
	       s->kind == S_DEVICE;
}

static void op_access(struct fuzz_input *in, unsigned *budget)
{
	struct work w = {0};
	struct batch batch = {0}, *b = &batch;
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);
	uint8_t h = fuzz_u8(in);

	w.a = (uintptr_t)b;
	b->n = 1 + h % 8;
	for (unsigned i = 0; i < b->n; i++) {
		struct access *a = &b->acc[i];
		uint8_t k = fuzz_u8(in);
		unsigned page = fuzz_u8(in) % WIN_PAGES;
		unsigned off = fuzz_u16(in) % PAGE;

		a->kind = k % 4 == 3 ? X86_FETCH : k % 4 == 2 ? X86_READ : k % 4 == 1 ? X86_WRITE : X86_READ;
		a->size = 1u << ((k >> 2) & 3);
		off &= ~(a->size - 1); /* aligned: never crosses the page */
		a->va = (uint64_t)page * PAGE + off;
		if (a->kind == X86_WRITE) {
			uint8_t v = fuzz_u8(in);

			for (unsigned j = 0; j < a->size; j++)
				a->bytes[j] = (uint8_t)(v + 0x11 * j + 1);
		}
	}
	if (!p || *budget < b->n)
		return;
	*budget -= b->n;
	b->p = p;
	on_cpu(cpu, w_batch, &w);
	if (b->frozen)
		return;
	for (unsigned i = 0; i < b->n; i++) {
		struct access *a = &b->acc[i];
		unsigned page = (unsigned)(a->va / PAGE), off = (unsigned)(a->va % PAGE);
		struct slot *s = &p->s[page];

		if (a->result == ACC_KILLED)
			break;
		if (own_memory(s)) {
			bool allowed = s->kind != S_NONE && prot_allows(s->prot, a->kind);

			if (!allowed && a->result != ACC_SEGV)
				fail("p%u: %s of %u bytes at %#llx (no grant or prot %#x) ended %s",
				     p->id, kind_names[a->kind], a->size, (unsigned long long)a->va,
				     s->prot, result_names[a->result]);
			if (allowed && a->result == ACC_SEGV)
				fail("p%u: %s of %u bytes at %#llx (prot %#x, %s) ended segv (%s)",
				     p->id, kind_names[a->kind], a->size, (unsigned long long)a->va,
				     s->prot, s->kind == S_DEVICE ? "device" : s->kind == S_SHARED ? "shared" : "private",
				     pf_status_name(a->pf));
		}
		if (a->result != ACC_OK || !s->obj)
			continue;
		if (a->kind == X86_WRITE) {
			for (unsigned j = 0; j < a->size; j++)
				obj_set(s->obj, off + j, a->bytes[j]);
		} else if (a->kind == X86_READ && !s->obj->unknown) {
			for (unsigned j = 0; j < a->size; j++)
				if (a->bytes[j] != obj_byte(s->obj, off + j))
					fail("p%u: read of %u bytes at %#llx: byte %u is %#x, the model says %#x (%s page)",
					     p->id, a->size, (unsigned long long)a->va, j, a->bytes[j],
					     obj_byte(s->obj, off + j),
					     s->kind == S_BORROWED ? "borrowed"
					     : s->kind == S_SHARED ? "shared"
					     : s->kind == S_DEVICE ? "device" : "private");
		}
	}
}

/* ---- kernel copies --------------------------------------------------------------------- */

struct kcopy {
	struct proc *p;
	bool out;
	uint64_t va;
	size_t len;
	enum mm_status st;
	uint8_t buf[COPY_MAX];
	uint8_t after[COPY_MAX]; /* copy-out failed: the bytes the tables show now */
	bool present[COPY_MAX / PAGE + 1];
};

static void w_kcopy(struct work *w)
{
	struct kcopy *k = (struct kcopy *)(uintptr_t)w->a;

	enter(k->p);
	k->st = k->out ? copy_to_user(k->va, k->buf, k->len) : copy_from_user(k->buf, k->va, k->len);
	if (!k->out || k->st == MM_STATUS_OK)
		return;
	/* a failed copy-out: what did it leave behind? */
	for (uint64_t va = k->va & ~(uint64_t)(PAGE - 1); va < k->va + k->len; va += PAGE) {
		struct page_lookup l;
		size_t idx = (size_t)((va - (k->va & ~(uint64_t)(PAGE - 1))) / PAGE);

		k->present[idx] = addr_space_lookup(k->p->as, va, &l);
		if (!k->present[idx])
			continue;
		for (uint64_t x = va; x < va + PAGE; x++)
			if (x >= k->va && x < k->va + k->len)
				k->after[x - k->va] =
					*((const uint8_t *)phys_to_virt((l.pa & ~(uint64_t)(PAGE - 1))) +
					  (x - va));
	}
}

static void op_kcopy(struct fuzz_input *in)
{
	static struct kcopy k;
	struct work w = {0};
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);
	uint8_t f = fuzz_u8(in);
	unsigned page = fuzz_u8(in) % WIN_PAGES;
	unsigned off = fuzz_u16(in) % PAGE;
	size_t len = 1 + fuzz_u16(in) % COPY_MAX;
	bool predict_ok = true, predictable = true;

	if (!p)
		return;
	memset(&k, 0, sizeof(k));
	k.p = p;
	k.out = f & 1;
	k.va = (uint64_t)page * PAGE + off;
	if (k.va + len > (uint64_t)WIN_PAGES * PAGE)
		len = (size_t)((uint64_t)WIN_PAGES * PAGE - k.va);
	k.len = len;
	for (size_t i = 0; i < len; i++)
		k.buf[i] = k.out ? (uint8_t)(f + i * 7 + 3) : 0x5a;
	for (uint64_t pg = k.va / PAGE; pg <= (k.va + len - 1) / PAGE; pg++) {
		const struct slot *s = &p->s[pg];

		if (!own_memory(s))
			predictable = false;
		else if (s->kind == S_NONE || !prot_allows(s->prot, k.out ? X86_WRITE : X86_READ))
			predict_ok = false;
	}
	w.a = (uintptr_t)&k;
	on_cpu(cpu, w_kcopy, &w);
	if (k.st != MM_STATUS_OK && k.st != MM_STATUS_EFAULT)
		fail("a user copy failed with %s (only ok or efault are possible)",
		     mm_status_name(k.st));
	/* efault where the process may access everything: only out of memory explains it,
	 * which the model cannot see from here; ok where it may not is a bug */
	if (predictable && !predict_ok && k.st == MM_STATUS_OK)
		fail("p%u: %s of %zu bytes at %#llx succeeded over memory the process cannot %s",
		     p->id, k.out ? "copy_to_user" : "copy_from_user", len,
		     (unsigned long long)k.va, k.out ? "write" : "read");
	for (size_t i = 0; i < len; i++) {
		uint64_t va = k.va + i;
		struct slot *s = &p->s[va / PAGE];
		unsigned o = (unsigned)(va % PAGE);
		size_t pidx = (size_t)(va / PAGE - k.va / PAGE);

		if (!s->obj)
			continue;
		if (k.out && k.st == MM_STATUS_OK) {
			obj_set(s->obj, o, k.buf[i]);
		} else if (k.out) {
			if (!k.present[pidx])
				continue;
			if (!s->obj->unknown && k.after[i] != obj_byte(s->obj, o) &&
			    k.after[i] != k.buf[i])
				fail("p%u: failed copy_to_user at %#llx left byte %#x at %#llx: neither the old %#x nor the new %#x",
				     p->id, (unsigned long long)k.va, k.after[i],
				     (unsigned long long)va, obj_byte(s->obj, o), k.buf[i]);
			obj_set(s->obj, o, k.after[i]);
		} else if (k.st == MM_STATUS_OK && !s->obj->unknown && k.buf[i] != obj_byte(s->obj, o)) {
			fail("p%u: copy_from_user of %zu bytes at %#llx: byte at %#llx is %#x, the model says %#x",
			     p->id, len, (unsigned long long)k.va, (unsigned long long)va, k.buf[i],
			     obj_byte(s->obj, o));
		}
	}
}

/* ---- CPU switches, failure injection, exhaustion ----------------------------------------- */

static void w_switch(struct work *w)
{
	addr_space_switch(w->p ? w->p->as : NULL);
}

static void op_switch(struct fuzz_input *in)
{
	struct work w = {0};
	uint8_t b = fuzz_u8(in);
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);

	w.p = b & 1 ? p : NULL;
	on_cpu(cpu, w_switch, &w);
}

static void w_inject(struct work *w)
{
	pressure_inject_failure((enum alloc_fail_mode)w->a, w->b);
}

static void op_inject(struct fuzz_input *in)
{
	struct work w = {0};
	uint8_t b = fuzz_u8(in);

	w.a = b % 3 == 0 ? ALLOC_FAIL_OFF : b % 3 == 1 ? ALLOC_FAIL_NTH : ALLOC_FAIL_AFTER;
	w.b = (b >> 2) % 24;
	on_cpu(0, w_inject, &w);
}

static void w_hog(struct work *w)
{
	enter(w->p);
	if (w->a)
		w->st = mm_mmap(w->p->as, HOG_BASE, w->a, MM_PROT_READ | MM_PROT_WRITE,
				MM_MAP_FIXED | MM_MAP_POPULATE, NULL);
	else
		w->st = mm_munmap(w->p->as, HOG_BASE, HOG_MAX);
}

static void op_hog(struct fuzz_input *in)
{
	struct work w = {0};
	uint8_t b = fuzz_u8(in);
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);

	if (!p)
		return;
	w.p = p;
	/* mostly small hogs (several add up to exhaustion), now and then one bigger than the
	 * free memory of the machine: populating costs time, and the fuzzer's speed counts */
	if (b & 0x80)
		w.a = 0;
	else if ((b & 0x70) == 0x70)
		w.a = MEM_BYTES / 4 * 3;
	else
		w.a = ((uint64_t)1 + b % 8) * (MEM_BYTES / 64);
	on_cpu(cpu, w_hog, &w);
}

/* ---- file servers, and exhaustion by faults --------------------------------------------- */

static void w_fserve(struct work *w)
{
	enter(w->p);
	w->st = mm_fserve(w->p->as, w->a, w->b);
}

/* P serves a page range of its window as a file (einval unless anonymous memory covers it,
 * ebusy while an earlier file is mapped). */
static void op_fserve(struct fuzz_input *in)
{
	struct work w = {0};
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in), first, n;

	pick_range(in, &first, &n);
	if (!p)
		return;
	w.p = p;
	w.a = (uint64_t)first * PAGE;
	w.b = (uint64_t)n * PAGE;
	on_cpu(cpu, w_fserve, &w);
	/* the file a client maps is always the server's last one: an earlier file either
	 * ended or, still mapped, made this call ebusy */
	if (w.st == MM_STATUS_OK) {
		p->serve_first = first;
		p->serve_n = n;
	}
}

static void w_fmap(struct work *w)
{
	enter(w->p);
	w->st = mm_fmap(w->p->as, w->a, w->b, w->prot, w->q->as, w->c, w->flags, &w->d);
	if (w->st == MM_STATUS_OK && w->d + w->b > (uint64_t)WIN_PAGES * PAGE) {
		enum mm_status s = mm_munmap(w->p->as, w->d, w->b);

		if (s != MM_STATUS_OK)
			fail("munmap of a fresh file mapping at %#llx: %s", (unsigned long long)w->d,
			     mm_status_name(s));
		w->flags |= 0x200u;
	}
}

/*
 * A maps pages of the file S serves (any offset: beyond the file is einval). The model does
 * not follow file contents: the client's pages are S_UNKNOWN (their accesses still run every
 * kernel path and every check but the value and outcome ones: the audit, the frame each
 * translation reaches, no panic, no leak at the end), and so are S's served pages from now
 * on, which clients may write.
 */
static void op_fmap(struct fuzz_input *in)
{
	struct work w = {0};
	struct proc *a = pick(in), *srv = pick(in);
	unsigned cpu = pick_cpu(in), first, n;
	uint8_t f = fuzz_u8(in), off = fuzz_u8(in);
	uint8_t prot = (uint8_t)prot_of(f);

	pick_range(in, &first, &n);
	if (!a || !srv)
		return;
	w.p = a;
	w.q = srv;
	w.a = (uint64_t)first * PAGE;
	w.b = (uint64_t)n * PAGE;
	w.c = (uint64_t)(off % WIN_PAGES) * PAGE;
	w.prot = prot;
	w.flags = f & 0x08 ? MM_MAP_FIXED : 0;
	on_cpu(cpu, w_fmap, &w);
	if (w.st == MM_STATUS_ENOMEM && (w.flags & MM_MAP_FIXED))
		forget_unmapped(a, first, n);
	if (w.st != MM_STATUS_OK || (w.flags & 0x200u))
		return;
	for (unsigned i = srv->serve_first; i < srv->serve_first + srv->serve_n; i++)
		if (srv->s[i].obj)
			srv->s[i].obj->unknown = true;
	first = (unsigned)(w.d / PAGE);
	for (unsigned i = 0; i < n; i++)
		slot_ref(&a->s[first + i], S_UNKNOWN, prot, NULL);
}

static void w_hog_touch(struct work *w)
{
	struct access acc = {0};

	uint64_t pre = free_frames() / 2 * PAGE;

	/* the first pages, up to half the free memory (no exhaustion yet), populated at once:
	 * only the faults past them, which reach the governor's levels and the OOM killer, run
	 * one by one */
	if (pre >= w->a)
		pre = w->a - PAGE;
	enter(w->p);
	if (pre && mm_mmap(w->p->as, HOG_BASE, pre, MM_PROT_READ | MM_PROT_WRITE,
			   MM_MAP_FIXED | MM_MAP_POPULATE, NULL) != MM_STATUS_OK)
		pre = 0;
	w->st = mm_mmap(w->p->as, HOG_BASE + pre, w->a - pre, MM_PROT_READ | MM_PROT_WRITE,
			MM_MAP_FIXED, NULL);
	if (w->st != MM_STATUS_OK)
		return;
	acc.kind = X86_WRITE;
	acc.size = 8;
	for (uint64_t off = pre; off < w->a; off += PAGE) {
		acc.va = HOG_BASE + off;
		memcpy(acc.bytes, &off, sizeof(off));
		user_access_of(&acc, false);
		if (acc.result == ACC_SEGV)
			fail("p%u: write to its own hog at %#llx ended segv (%s)", w->p->id,
			     (unsigned long long)acc.va, pf_status_name(acc.pf));
		if (acc.result != ACC_OK)
			break; /* killed (by the OOM killer), or oom (the system froze) */
	}
}

/*
 * Exhaustion by page faults: P maps 1/16..3/4 of memory outside the window (populated while
 * half the free memory is left, lazily after that) and writes every lazy page of it, so the
 * faults, not mmap, run out of memory: the governor evacuates, then picks
 * a victim (the largest resident set, this hog often, another process sometimes), and the
 * killed process's CPUs leave its tables. The audit after the operation forgets the dead.
 */
static void op_hog_touch(struct fuzz_input *in)
{
	struct work w = {0};
	uint8_t b = fuzz_u8(in);
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);

	if (!p)
		return;
	w.p = p;
	w.a = (uint64_t)(1 + b % 12) * (MEM_BYTES / 16);
	on_cpu(cpu, w_hog_touch, &w);
}

/* ---- swap: limits and forced reclaim ------------------------------------------------- */

static void w_limit(struct work *w)
{
	enter(w->p);
	w->st = mm_set_limit(w->p->as, w->a);
}

static void w_reclaim(struct work *w)
{
	w->a = reclaim_direct(w->b);
}

/*
 * Opcode bytes 0xfe and 0xff: `limit` P N (at most N resident private pages, 0..47, 0 for
 * none: the excess is evicted at once by the input's policy, enomem when swap cannot take
 * it), or direct reclaim of up to N frames (1..64) from every process, as a fault short of
 * memory forces it. Evicted pages keep their values in the model: every later read, user or
 * kernel, by the process or by a fork child, checks what came back from swap.
 */
static void op_swap(struct fuzz_input *in)
{
	struct work w = {0};
	uint8_t b = fuzz_u8(in);
	struct proc *p = pick(in);
	unsigned cpu = pick_cpu(in);

	if (b & 1) {
		w.b = 1 + (b >> 1) % 64;
		on_cpu(cpu, w_reclaim, &w);
		return;
	}
	if (!p)
		return;
	w.p = p;
	w.a = (b >> 1) % 48;
	on_cpu(cpu, w_limit, &w);
	if (w.st != MM_STATUS_OK && w.st != MM_STATUS_ENOMEM)
		fail("limit %llu: %s", (unsigned long long)w.a, mm_status_name(w.st));
}

/* The input's replacement policy for `limit` (a per-boot setting: set while no process
 * exists, only when it changes). */
static void w_policy(struct work *w)
{
	replace_configure((enum replace_policy)w->a);
	if (w->a == REPLACE_OPT)
		replace_set_oracle(opt_oracle, NULL);
}

/* ---- the target ----------------------------------------------------------------------- */

static void w_leave(struct work *w)
{
	addr_space_switch(NULL);
	/* the next input starts with empty TLBs, as after boot */
	x86_flush_all(&cpus[plat_cpu_id()]);
	(void)w;
}

/*
 * The end of an input on one CPU: the processes whose index falls to it exit there (the
 * first CPU to run it, the input's last, first turns failure injection off), then it leaves
 * for the kernel's tables. One hand-off per CPU the input used: CPU 0 comes last and goes on
 * with the audit and the kernel's state in the same hand-off (w_end_and_state).
 */
static void w_end(struct work *w)
{
	unsigned cpu = plat_cpu_id();

	if (cpu == ncpus_used - 1)
		pressure_inject_failure(ALLOC_FAIL_OFF, 0);
	addr_space_switch(NULL);
	for (unsigned i = cpu; i < MAX_PROCS; i += ncpus_used) {
		if (!procs[i].as)
			continue;
		addr_space_exit(procs[i].as);
		addr_space_release(procs[i].as);
		proc_forget(&procs[i]);
	}
	w_leave(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	unsigned budget = MAX_ACCESSES;
	struct work w = {0};
	static char opname[64];

	if (!arena)
		setup_once();
	start_input();
	{
		/* byte 0: the CPUs the input uses and the replacement policy */
		uint8_t b = fuzz_u8(&in);
		static enum replace_policy policy = REPLACE_FIFO;

		ncpus_used = 2 + b % (NCPUS - 1);
		w.a = (b / (NCPUS - 1)) % REPLACE_POLICY_COUNT;
		opt_seed = size * 0x100000001b3ull ^ b;
		if (swap_on && w.a != policy) {
			policy = (enum replace_policy)w.a;
			on_cpu(0, w_policy, &w);
		}
	}

	for (int op = 0; op < MAX_OPS && fuzz_more(&in); op++) {
		uint8_t o = fuzz_u8(&in);
		static const char *const names[] = {
			"spawn", "fork", "exit", "mmap", "mmap phys", "munmap", "mprotect", "borrow",
			"transfer", "access", "access", "access", "kernel copy", "cpu switch",
			"failure injection", "exhaustion",
		};

		/* the bytes 0xf0..0xff are the operations added after the first campaigns (the
		 * corpus kept its meaning for the other 15 in 16 opcode bytes) */
		static const char *const late_names[] = {
			"file serve", "file map", "exhaustion by faults", "limit or reclaim",
		};
		unsigned late = o < 0xf0 ? 0 : o < 0xf8 ? 1 : o < 0xfc ? 2 : o < 0xfe || !swap_on ? 3 : 4;

		snprintf(opname, sizeof(opname), "operation %d (%s)", op,
			 late ? late_names[late - 1] : names[o % 16]);
		current_op = opname;
		between.due = true;
		if (late) {
			if (late == 1)
				op_fserve(&in);
			else if (late == 2)
				op_fmap(&in);
			else if (late == 3)
				op_hog_touch(&in);
			else
				op_swap(&in);
			quick_audit();
			continue;
		}
		switch (o % 16) {
		case 0:
			op_spawn(&in);
			break;
		case 1:
			op_fork(&in);
			break;
		case 2: {
			struct proc *p = pick(&in);
			unsigned cpu = pick_cpu(&in);

			if (p)
				exit_proc(p, cpu);
			break;
		}
		case 3:
			op_mmap(&in, false);
			break;
		case 4:
			op_mmap(&in, true);
			break;
		case 5:
			op_range(&in, false);
			break;
		case 6:
			op_range(&in, true);
			break;
		case 7:
			op_two(&in, false);
			break;
		case 8:
			op_two(&in, true);
			break;
		case 9:
		case 10:
		case 11:
			op_access(&in, &budget);
			break;
		case 12:
			op_kcopy(&in);
			break;
		case 13:
			op_switch(&in);
			break;
		case 14:
			op_inject(&in);
			break;
		default:
			op_hog(&in);
			break;
		}
		quick_audit();
	}

	current_op = "the final exits and the audit at the end";
	/* the CPUs the input did not use never left the kernel's tables */
	for (unsigned c = ncpus_used - 1; c > 0; c--)
		on_cpu(c, w_end, &w);
	check_back_at_checkpoint(true);
	current_op = "between inputs";
	return 0;
}
