/*
 * Fuzzing the buddy frame allocator with operation sequences.
 *
 * Each input boots the allocator afresh over an 8 MiB physical arena: either through
 * kernel_init with a bootloader memory map decoded from the input (up to 8 regions of any
 * kind, so free memory comes with holes, reserved islands and overlaps; written as packed
 * records in low memory) or through the default PC map and frame_alloc_init directly. Then up
 * to 256 operations run, four simulated CPUs taking turns:
 *
 *   alloc (order 0..10, with or without FRAME_ZERO, FAST or LOWEST, a minimum order, and the
 *   allocate_frame / allocate_zeroed_frame / allocate_p2frame shorthands), free of a live
 *   allocation chosen by index, frame_split_block (its 2^k frames are then freed one by one
 *   in any order), a batch free of order-0 frames (deallocate_frames), drain of the per-CPU caches, switch of the current CPU, init_frame,
 *   add_ref / remove_ref / page_info_set_refcount on live frames.
 *
 * Checked after every operation: frame_audit (a violation is a crash), free + used == total,
 * the reference count of every live allocation against a model. On every allocation: the
 * block is aligned to its order, lies in managed RAM, overlaps no live allocation, reads zero
 * if zeroing was asked, and a failed allocation leaves no free block of the minimum order.
 * Each allocated frame is stamped with its owner's tag and the stamp is verified before the
 * free (a frame handed out twice, or metadata placed inside an allocation, shows there). At
 * the end everything is freed and the caches drained: free_frames must be back at its value
 * right after boot. A kernel panic is a crash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_alloc_state.h"
#include "frame_audit.h"
#include "fuzz_input.h"
#include "host/host_cpu_ops.h"
#include "host/host_platform.h"
#include "kernel_init.h"
#include "page_info.h"
#include "phys.h"

#define ARENA_BYTES ((uint64_t)8 << 20)
#define ARENA_PAGES (ARENA_BYTES >> PAGE_SHIFT)
#define NCPUS 4
#define MAX_OPS 256
#define MAX_LIVE 4096
#define RECORDS_PA 0x1000ull
#define MAX_REGIONS 8

struct live {
	uint64_t base;
	unsigned order;
	uint64_t tag;
	struct refcount rc; /* model: REFCOUNT_U0, ONE, SHARED or COW with its count */
};

static uint8_t *arena;
static struct x86_cpu boot_cpu;
static struct live live[MAX_LIVE];
static unsigned nlive;
static uint64_t next_tag;

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_frame_allocator: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static void panic_is_a_crash(const char *msg)
{
	fail("kernel panic: %s", msg);
}

static void audit(const char *after)
{
	char buf[512];

	if (!frame_audit(buf, sizeof(buf)))
		fail("audit after %s: %s", after, buf);
	if (free_frames() + used_frames() != total_frames())
		fail("after %s: free %llu + used %llu != total %llu", after,
		     (unsigned long long)free_frames(), (unsigned long long)used_frames(),
		     (unsigned long long)total_frames());
}

static uint64_t *word(uint64_t pa)
{
	return (uint64_t *)phys_to_virt(pa);
}

/* The first and last word of every frame of the block carry its tag. */
static void stamp(const struct live *l)
{
	for (uint64_t i = 0; i < (1ull << l->order); i++) {
		uint64_t f = l->base + (i << PAGE_SHIFT);

		*word(f) = l->tag;
		*word(f + PAGE_SIZE - 8) = ~l->tag;
	}
}

static void check_stamp(const struct live *l)
{
	for (uint64_t i = 0; i < (1ull << l->order); i++) {
		uint64_t f = l->base + (i << PAGE_SHIFT);

		if (*word(f) != l->tag || *word(f + PAGE_SIZE - 8) != ~l->tag)
			fail("frame %#llx of the block %#llx order %u was overwritten (%#llx/%#llx, tag %#llx)",
			     (unsigned long long)f, (unsigned long long)l->base, l->order,
			     (unsigned long long)*word(f), (unsigned long long)*word(f + PAGE_SIZE - 8),
			     (unsigned long long)l->tag);
	}
}

static void check_refcount(const struct live *l)
{
	struct refcount got = page_info_refcount(get_page_info((frame_t){l->base}));

	if (got.kind != l->rc.kind || got.count != l->rc.count)
		fail("frame %#llx: refcount kind %d count %llu, model says kind %d count %llu",
		     (unsigned long long)l->base, got.kind, (unsigned long long)got.count, l->rc.kind,
		     (unsigned long long)l->rc.count);
}

/* A fresh block from the allocator: where it may be, what it must hold. */
static void adopt(uint64_t base, unsigned order, bool zeroed, struct refcount rc)
{
	uint64_t end = base + (PAGE_SIZE << order);
	struct page_info *head = get_page_info((frame_t){base});
	struct live *l;

	if (base & ((PAGE_SIZE << order) - 1))
		fail("block %#llx is not aligned to its order %u", (unsigned long long)base, order);
	if (base < KERNEL_LOW_LIMIT || end > ARENA_BYTES)
		fail("block %#llx order %u lies outside the managed RAM", (unsigned long long)base,
		     order);
	if (!frame_is_none(zero_frame()) && zero_frame().base >= base && zero_frame().base < end)
		fail("block %#llx order %u contains the zero frame", (unsigned long long)base, order);
	if (!head || page_info_state(head) != PAGE_STATE_USED || page_info_order(head) != order)
		fail("block %#llx order %u: head record is not USED of that order",
		     (unsigned long long)base, order);
	for (uint64_t f = base; f < end; f += PAGE_SIZE)
		if (!get_page_info((frame_t){f}))
			fail("block %#llx order %u covers unmanaged frame %#llx",
			     (unsigned long long)base, order, (unsigned long long)f);
	for (unsigned i = 0; i < nlive; i++) {
		uint64_t ob = live[i].base, oe = ob + (PAGE_SIZE << live[i].order);

		if (base < oe && ob < end)
			fail("block %#llx order %u overlaps live block %#llx order %u",
			     (unsigned long long)base, order, (unsigned long long)ob, live[i].order);
	}
	if (zeroed) {
		const uint64_t *w = word(base);

		for (uint64_t i = 0; i < (PAGE_SIZE << order) / 8; i++)
			if (w[i])
				fail("zeroed block %#llx order %u has %#llx at offset %#llx",
				     (unsigned long long)base, order, (unsigned long long)w[i],
				     (unsigned long long)(i * 8));
	}
	if (nlive == MAX_LIVE)
		fail("the harness tracks at most %d blocks", MAX_LIVE);
	l = &live[nlive++];
	l->base = base;
	l->order = order;
	l->tag = 0x7a67000000000000ull | ++next_tag;
	l->rc = rc;
	stamp(l);
}

static void forget(unsigned i)
{
	live[i] = live[--nlive];
}

/* Drop every reference the model says the frame has, down to U0. */
static void unref_all(struct live *l)
{
	struct page_info *info = get_page_info((frame_t){l->base});

	while (l->rc.kind != REFCOUNT_U0) {
		struct refcount r = remove_ref(info);

		if (l->rc.count == 1)
			l->rc = (struct refcount){REFCOUNT_U0, 0};
		else if (l->rc.count == 2)
			l->rc = REFCOUNT_ONE_INIT;
		else
			l->rc.count--;
		if (r.kind != l->rc.kind || r.count != l->rc.count)
			fail("remove_ref on %#llx returned kind %d count %llu, model kind %d count %llu",
			     (unsigned long long)l->base, r.kind, (unsigned long long)r.count,
			     l->rc.kind, (unsigned long long)l->rc.count);
	}
}

static void free_live(unsigned i)
{
	struct live *l = &live[i];

	check_stamp(l);
	unref_all(l);
	deallocate_p2frame((frame_t){l->base}, l->order);
	forget(i);
}

/* Free live order-0 frames at once, as munmap and exit do (deallocate_frames: runs of
 * consecutive frames go back as aligned blocks through one batch): up to 64 of them from a
 * chosen index on, in the harness's order or sorted by address (which makes runs). */
static void op_free_batch(struct fuzz_input *in)
{
	uint8_t how = fuzz_u8(in);
	unsigned want = 1 + fuzz_u8(in) % 64, n = 0;
	frame_t v[64];

	if (!nlive)
		return;
	for (unsigned i = fuzz_u16(in) % nlive; i < nlive && n < want;) {
		if (live[i].order != 0) {
			i++;
			continue;
		}
		check_stamp(&live[i]);
		unref_all(&live[i]);
		v[n++] = (frame_t){live[i].base};
		forget(i); /* the last one moves to i */
	}
	if (how & 1)
		for (unsigned i = 1; i < n; i++)
			for (unsigned j = i; j > 0 && v[j - 1].base > v[j].base; j--) {
				frame_t t = v[j];

				v[j] = v[j - 1];
				v[j - 1] = t;
			}
	deallocate_frames(v, n);
}

static void op_alloc(struct fuzz_input *in)
{
	uint8_t a = fuzz_u8(in), b = fuzz_u8(in);
	unsigned order = (a & 0x80) ? a % FRAME_ORDER_COUNT : a % 3;
	unsigned min_order = order ? b % (order + 1) : 0;
	unsigned flags = (b & 0x40) ? FRAME_ZERO : 0;
	enum frame_strategy strategy = (b & 0x80) ? FRAME_STRATEGY_LOWEST : FRAME_STRATEGY_FAST;
	unsigned got = 99;
	frame_t f;

	if (nlive + 1 > MAX_LIVE)
		return;
	switch ((a >> 5) & 3) {
	case 0:
		f = allocate_frame();
		order = min_order = got = 0;
		flags = 0;
		break;
	case 1:
		f = allocate_zeroed_frame();
		order = min_order = got = 0;
		flags = FRAME_ZERO;
		break;
	case 2:
		f = allocate_p2frame(order);
		min_order = got = order;
		flags = 0;
		break;
	default:
		f = allocate_p2frame_complex(order, flags, strategy, min_order, &got);
		break;
	}
	if (frame_is_none(f)) {
		if (frame_alloc_state.nonempty >> min_order)
			fail("allocation of order %u..%u failed with free blocks on lists %#x",
			     order, min_order, frame_alloc_state.nonempty);
		return;
	}
	if (got < min_order || got > order)
		fail("allocation of order %u..%u returned order %u", order, min_order, got);
	adopt(f.base, got, flags & FRAME_ZERO, (struct refcount){REFCOUNT_U0, 0});
}

static void op_split(struct fuzz_input *in)
{
	unsigned i, order;
	uint64_t base;

	if (!nlive)
		return;
	i = fuzz_u16(in) % nlive;
	order = live[i].order;
	if (order == 0 || nlive - 1 + (1u << order) > MAX_LIVE)
		return;
	check_stamp(&live[i]);
	unref_all(&live[i]);
	base = live[i].base;
	frame_split_block((frame_t){base}, order);
	forget(i);
	for (uint64_t k = 0; k < (1ull << order); k++)
		adopt(base + (k << PAGE_SHIFT), 0, false, (struct refcount){REFCOUNT_U0, 0});
}

static void op_init_frame(struct fuzz_input *in)
{
	bool shared = fuzz_u8(in) & 1;
	struct refcount rc = shared ? REFCOUNT_SHARED2_INIT : REFCOUNT_ONE_INIT;
	struct frame_or_error r;

	if (nlive + 1 > MAX_LIVE)
		return;
	r = init_frame(rc);
	if (r.error != MM_OK) {
		if (!frame_is_none(r.frame) || frame_alloc_state.nonempty)
			fail("init_frame failed with free blocks on lists %#x",
			     frame_alloc_state.nonempty);
		return;
	}
	adopt(r.frame.base, 0, true, rc);
}

static void op_add_ref(struct fuzz_input *in)
{
	unsigned i;
	enum ref_kind kind;
	struct live *l;
	enum add_ref_error want, got;

	if (!nlive)
		return;
	i = fuzz_u16(in) % nlive;
	kind = (fuzz_u8(in) & 1) ? REF_SHARED : REF_COW;
	l = &live[i];
	if (l->rc.kind == REFCOUNT_U0)
		return; /* add_ref on U0 is a misuse that panics by contract */
	if (l->rc.kind == REFCOUNT_ONE)
		want = ADD_REF_OK;
	else if (l->rc.kind == REFCOUNT_SHARED)
		want = kind == REF_SHARED ? ADD_REF_OK : ADD_REF_SHARED_TO_COW;
	else
		want = kind == REF_COW ? ADD_REF_OK : ADD_REF_COW_TO_SHARED;
	got = add_ref(get_page_info((frame_t){l->base}), kind);
	if (got != want)
		fail("add_ref on %#llx (kind %d count %llu) returned %d, model %d",
		     (unsigned long long)l->base, l->rc.kind, (unsigned long long)l->rc.count, got,
		     want);
	if (got == ADD_REF_OK) {
		if (l->rc.kind == REFCOUNT_ONE)
			l->rc = (struct refcount){kind == REF_SHARED ? REFCOUNT_SHARED : REFCOUNT_COW,
						  2};
		else
			l->rc.count++;
	}
}

static void op_remove_ref(struct fuzz_input *in)
{
	unsigned i;
	struct live *l;
	struct refcount r;

	if (!nlive)
		return;
	i = fuzz_u16(in) % nlive;
	l = &live[i];
	if (l->rc.kind == REFCOUNT_U0)
		return; /* underflow is a misuse that panics by contract */
	r = remove_ref(get_page_info((frame_t){l->base}));
	if (l->rc.count == 1)
		l->rc = (struct refcount){REFCOUNT_U0, 0};
	else if (l->rc.count == 2)
		l->rc = REFCOUNT_ONE_INIT;
	else
		l->rc.count--;
	if (r.kind != l->rc.kind || r.count != l->rc.count)
		fail("remove_ref on %#llx returned kind %d count %llu, model kind %d count %llu",
		     (unsigned long long)l->base, r.kind, (unsigned long long)r.count, l->rc.kind,
		     (unsigned long long)l->rc.count);
}

static void op_set_refcount(struct fuzz_input *in)
{
	uint8_t b;
	unsigned i;
	struct live *l;
	struct refcount rc;

	if (!nlive)
		return;
	i = fuzz_u16(in) % nlive;
	b = fuzz_u8(in);
	l = &live[i];
	if (l->rc.kind != REFCOUNT_U0)
		return;
	if ((b & 3) == 0)
		rc = REFCOUNT_ONE_INIT;
	else
		rc = (struct refcount){(b & 3) == 1 ? REFCOUNT_SHARED : REFCOUNT_COW,
				       2 + (uint64_t)(b >> 2)};
	page_info_set_refcount(get_page_info((frame_t){l->base}), rc);
	l->rc = rc;
}

/* Boots the allocator as the input says; false if the map is one the kernel refuses. */
static bool boot(struct fuzz_input *in)
{
	uint8_t mode = fuzz_u8(in);

	boot_memory_reset();
	if (mode & 1) {
		struct bootloader_memory_record *rec = phys_to_virt(RECORDS_PA);
		static const uint64_t kinds[] = {
			BOOT_MEMORY_FREE,     BOOT_MEMORY_FREE,   BOOT_MEMORY_FREE,
			BOOT_MEMORY_RESERVED, BOOT_MEMORY_RECLAIM, BOOT_MEMORY_KERNEL,
			BOOT_MEMORY_DEVICE,   BOOT_MEMORY_IDENTITY_MAP,
		};
		unsigned n = 1 + (mode >> 1) % MAX_REGIONS;

		/* Regions stay inside the arena: a map that promises RAM the machine lacks is a
		 * bootloader bug the kernel cannot detect, not an allocator bug. */
		for (unsigned i = 0; i < n; i++) {
			uint64_t base = (fuzz_u16(in) % ARENA_PAGES) << PAGE_SHIFT;
			uint64_t size = ((uint64_t)fuzz_u16(in) % ARENA_PAGES + 1) << PAGE_SHIFT;
			uint8_t k = fuzz_u8(in);

			if (size > ARENA_BYTES - base)
				size = ARENA_BYTES - base;
			/* unaligned edges now and then: free ranges shrink, others grow */
			if (k & 0x80)
				base += k & 0x78;
			if (k & 0x40)
				size -= (k & 0x38) ? (k & 0x38) : 8;
			rec[i] = (struct bootloader_memory_record){base, size, kinds[k & 7]};
		}
		return kernel_init(RECORDS_PA, n, &(struct kernel_params){0}) == KERNEL_INIT_OK;
	}
	if (boot_memory_default_map(ARENA_BYTES) != BOOT_MEMORY_OK ||
	    boot_memory_init(KERNEL_LOW_LIMIT, 0) != BOOT_MEMORY_OK)
		fail("the default map of %llu bytes was refused", (unsigned long long)ARENA_BYTES);
	return frame_alloc_init(boot_memory_areas(), boot_memory_area_count()) == FRAME_INIT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	uint64_t start_free;

	if (!arena) {
		arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (arena == MAP_FAILED)
			fail("cannot map the arena");
		phys_direct_map_base = (uintptr_t)arena;
		/* kernel_init boots the whole kernel (its half of the address space too): it
		 * needs a processor to load CR3 on */
		if (!x86_cpu_init(&boot_cpu, (struct x86_phys){arena, ARENA_BYTES}, 64, 46))
			fail("cannot create the boot cpu");
		host_cpu_ops_attach(&boot_cpu, 1);
		host_set_cpu_count(NCPUS);
		host_set_panic_handler(panic_is_a_crash);
	}
	/* every input starts from zeroed memory, so a run never depends on the previous one */
	if (madvise(arena, ARENA_BYTES, MADV_DONTNEED) != 0)
		fail("madvise");
	host_set_current_cpu(0);
	nlive = 0;
	if (!boot(&in))
		return 0;
	audit("boot");
	start_free = free_frames();

	for (int op = 0; op < MAX_OPS && fuzz_more(&in); op++) {
		uint8_t o = fuzz_u8(&in);

		switch (o % 10) {
		case 0:
		case 1:
		case 2:
			op_alloc(&in);
			break;
		case 3:
		case 4:
			if (o & 0x80)
				op_free_batch(&in);
			else if (nlive)
				free_live(fuzz_u16(&in) % nlive);
			break;
		case 5:
			op_split(&in);
			break;
		case 6:
			if (o & 0x80)
				frame_alloc_drain_cpu_caches();
			else
				host_set_current_cpu((o >> 4) % NCPUS);
			break;
		case 7:
			op_init_frame(&in);
			break;
		case 8:
			if (o & 0x80)
				op_add_ref(&in);
			else
				op_remove_ref(&in);
			break;
		default:
			op_set_refcount(&in);
			break;
		}
		audit("an operation");
		for (unsigned i = 0; i < nlive; i++)
			check_refcount(&live[i]);
	}

	/* free in the order the input leaves them (the tracking swaps, so not LIFO) */
	while (nlive)
		free_live(0);
	frame_alloc_drain_cpu_caches();
	audit("freeing everything");
	if (free_frames() != start_free)
		fail("free_frames %llu after freeing everything, %llu after boot",
		     (unsigned long long)free_frames(), (unsigned long long)start_free);
	return 0;
}
