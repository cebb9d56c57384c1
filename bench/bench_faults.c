/*
 * Page-fault, fork and munmap costs of the simulated kernel, side by side with the host's
 * Linux kernel doing the same work in the same run. ns per page, medians of several runs.
 *
 * Simulated: a 1 GiB machine (MMSIM_BENCH_MB), 256 MiB mapped (MMSIM_BENCH_MAP_MB), driven
 * through the core APIs as tests/mm does: every user access goes through the simulated
 * processor (TLB, walk, #PF -> page_fault_handler, retry), so a "fault" figure is the whole
 * access: the faulting walk, the kernel's correction and the retried translation and store.
 * The arena is prefaulted (and backed by huge pages where the host allows), so no host page
 * fault lands inside a measurement.
 * Host: the same sizes with mmap/munmap/fork on the host process.
 *
 *   demand-zero   write to each page of a fresh private mapping
 *   read-zero     read each page of a fresh private mapping (the zero frame; Linux: its
 *                 zero page)
 *   fork          fork of a process with every page written, per mapped page
 *   cow-copy      after the fork the parent writes each page (the child still maps them)
 *   cow-reuse     after the fork the child is gone; the parent writes each page (sole owner:
 *                 the frame is made writable, no copy)
 *   munmap        munmap of the whole populated mapping, per page
 *
 * and the floors of those figures on the same machine (no host column): an access with a
 * cold TLB (one simulated walk and TLB fill; a fault pays two), zeroing a cold frame with
 * memset and as the fault path does (page_fill.h: streaming stores), copying one with
 * memcpy and as the fault path does.
 *
 * Swap, simulated only, on a swap area in host memory (prefaulted) as large as the mapping,
 * each a pass of the global reclaim clock over a space of its own (reclaim_space: batches
 * of 32 evictions with one shootdown each):
 *
 *   clock scan    a pass over pages whose accessed bit is set: each bit cleared (the
 *                 invalidations go with the batch's shootdown), nothing evicted
 *   evict dirty   a pass over written pages with the bit clear: each written to a slot
 *   major fault   read each page back (a fault that reads its slot into a new frame)
 *   evict clean   the pages read back, their bits cleared by a pass first: each still
 *                 paired with its slot (swap cache), dropped without a write
 *
 * with their goals taken from this run's figures: a major fault at most 1.3 times the CoW
 * copy fault, a dirty eviction at most the memcpy floor + 80 ns.
 *
 *   bench_faults                  every figure, simulated and host, 5 runs
 *   bench_faults --quick          a 64 MiB machine, 16 MiB mapped, 3 runs (meson benchmark)
 *   bench_faults --smoke          a tiny run that checks results (meson test, suite bench)
 *   bench_faults --no-clzero      the kernel zeroes with MOVNTI even where CLZERO exists
 *                                 (page_fill.h), to compare the two ways
 *   bench_faults --only sim       no host part (for callgrind: instructions per page are the
 *                                 inclusive Ir of each phase function / pages, see README)
 *   bench_faults --cpus N         N processes at once, one per simulated CPU (each its own
 *                                 host thread, pinned to a host CPU of its own; the
 *                                 environment's MMSIM_BENCH_PIN=0 leaves the threads to the
 *                                 host's scheduler), and two CPUs in one space: fault
 *                                 throughput and the speedup over one CPU, beside N host
 *                                 processes (bench_faults_cpus.c)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/kernel_space.h"
#include "arch/x86_64/page_fill.h"
#include "arch/x86_64/page_flags.h"
#include "host/arena.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "host/host_cpu_ops.h"
#include "host/host_platform.h"
#include "kheap.h"
#include "page_info.h"
#include "phys.h"
#include "host/user_access.h"
#include "reclaim.h"
#include "swap_area.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "x86_cpu.h"

#define PG 4096ull
#define VBASE 0x10000000ull
#define RW (MM_PROT_READ | MM_PROT_WRITE)

enum fig {
	F_DZ, F_RZ, F_FORK, F_COPY, F_REUSE, F_UNMAP,
	F_WALK, F_ZERO, F_ZERO_NT, F_ZERO_MOVNTI, F_COPY4K, F_COPY_NT,
	F_SCAN, F_EVICT_DIRTY, F_MAJOR, F_EVICT_CLEAN, F_COUNT
};
#define F_FIRST_SWAP F_SCAN
/* The figures from F_WALK on are the floors of the simulated ones, measured in the same run
 * on the same arena: what every fault pays before the kernel does anything. */
#define F_FIRST_FLOOR F_WALK
static const char *const fig_name[F_COUNT] = {
	"demand-zero write fault", "read fault (zero frame)", "fork, per mapped page",
	"CoW copy fault", "CoW reuse fault", "munmap, per page",
	"TLB miss + walk, no fault", "zero a cold frame, memset", "zero a cold frame, kernel",
	"zero a cold frame, MOVNTI", "copy a cold frame, memcpy", "copy a cold frame, kernel",
	"clock scan, A bit set", "evict dirty (written)", "major fault (read back)",
	"evict clean (no write)",
};
/* < 0: none; the swap goals relative to this run's own figures are filled in by main */
static double goal[F_COUNT] = {350, -1, 10, 600, 30, 10, -1, -1, -1, -1, -1, -1, 5, -1, -1, 60};
static bool clzero_on; /* the kernel zeroes with CLZERO (page_fill.h) */

static uint64_t machine_bytes = 1024ull << 20, map_bytes = 256ull << 20, pages;
static int runs = 5;
#define MAX_CPUS 8u
static struct x86_cpu cpus[MAX_CPUS];
static unsigned ncpus = 1;

static struct arena arena;

/* The swap area: host memory as large as the mapping, prefaulted (no host page fault inside
 * a measurement) and in huge pages where the host allows, as the arena is (and as the
 * simulator's default device asks for), copied with memcpy as that device does. */
static struct arena swap_arena;
static uint8_t *swap_mem;

static bool swap_mem_read(void *ctx, uint64_t slot, void *page)
{
	(void)ctx;
	memcpy(page, swap_mem + slot * PG, PG);
	return true;
}

static bool swap_mem_write(void *ctx, uint64_t slot, const void *page)
{
	(void)ctx;
	memcpy(swap_mem + slot * PG, page, PG);
	return true;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_faults: %s\n", what);
	exit(1);
}

/* ---- the simulated kernel --------------------------------------------------------------- */

static void boot(void)
{
	unsigned flags = ARENA_PREFAULT | ARENA_THP;

	if (arena_create(&arena, machine_bytes, flags) != ARENA_OK)
		die("no arena");
	phys_direct_map_base = (uintptr_t)arena.base;
	host_set_cpu_count(ncpus);
	host_set_current_cpu(0);
	boot_memory_reset();
	if (boot_memory_default_map(machine_bytes) || boot_memory_init(0x100000, 0) ||
	    frame_alloc_init(boot_memory_areas(), boot_memory_area_count()))
		die("boot failed");
	paging_caps_set((struct paging_caps){ .phys_addr_bits = 40, .page_1g = true });
	if (zero_frame_init() != MM_OK || kernel_space_init() != MAP_OK)
		die("kernel space");
	kheap_init(KHEAP_CAP_UNLIMITED);
	interrupt_reset();
	if (!user_mm_init())
		die("user_mm_init");
	if (ncpus == 1) {
		struct swap_device dev = { map_bytes / PG, swap_mem_read, swap_mem_write, NULL };

		if (arena_create(&swap_arena, map_bytes, ARENA_PREFAULT | ARENA_THP) != ARENA_OK)
			die("no host memory for the swap area");
		swap_mem = swap_arena.base;
		if (!swap_area_attach(&dev))
			die("swap area");
	}
	for (unsigned i = 0; i < ncpus; i++) {
		if (!x86_cpu_init(&cpus[i], (struct x86_phys){ arena.base, machine_bytes }, 64, 40) ||
		    !x86_write_cr3(&cpus[i], kernel_space_pml4().base))
			die("cpu");
		/* an AMD model, so that the kernel zeroes with CLZERO where the host has it */
		cpus[i].vendor = X86_AMD;
	}
	host_cpu_ops_attach(cpus, ncpus);
}

/* One user access through the processor, faults handled and retried (sim/host/user_access.h). */
static inline void uaccess(uint64_t va, bool write, uint64_t *v)
{
	struct user_access a = { .va = va, .kind = write ? X86_WRITE : X86_READ, .size = 8,
				 .value = write ? *v : 0 };

	if (user_access(&cpus[0], &a) != UA_OK)
		die("an access failed");
	if (!write)
		*v = a.value;
}

static __attribute__((noinline)) void sim_write_all(uint64_t tag)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v = tag + i;

		uaccess(VBASE + i * PG, true, &v);
	}
}

static __attribute__((noinline)) uint64_t sim_read_all(void)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++) {
		uint64_t v;

		uaccess(VBASE + i * PG, false, &v);
		sum += v;
	}
	return sum;
}

/* The phases, each a function of its own so callgrind gives its inclusive cost. */
static __attribute__((noinline)) void sim_demand_zero(void) { sim_write_all(1); }
static __attribute__((noinline)) uint64_t sim_read_zero(void) { return sim_read_all(); }
static __attribute__((noinline)) void sim_cow_copy(void) { sim_write_all(2); }
static __attribute__((noinline)) void sim_cow_reuse(void) { sim_write_all(3); }

static __attribute__((noinline)) struct addr_space *sim_fork(struct addr_space *a)
{
	struct addr_space *b;

	if (mm_fork(a, &b) != MM_STATUS_OK)
		die("fork");
	return b;
}

static __attribute__((noinline)) void sim_munmap(struct addr_space *a)
{
	if (mm_munmap(a, VBASE, map_bytes) != MM_STATUS_OK)
		die("munmap");
}

static struct addr_space *fresh(void)
{
	struct addr_space *a = addr_space_create();

	if (!a)
		die("addr_space_create");
	addr_space_switch(a);
	if (mm_mmap(a, VBASE, map_bytes, RW, MM_MAP_FIXED, NULL) != MM_STATUS_OK)
		die("mmap");
	return a;
}

static void check(bool ok, const char *what)
{
	if (!ok)
		die(what);
}

/*
 * The floors, with every page of the mapping present: one access per page through the
 * processor with a cold TLB (a walk and a TLB fill, no fault: a fault costs two of them, the
 * faulting walk and the retry's), and zeroing and copying frames nobody touched lately (what
 * demand-zero and copy-on-write must do at least).
 */
static void sim_floors(double out[F_COUNT])
{
	uint64_t n = pages / 2; /* frames per set: three sets next to the mapping's own */
	frame_t *f = malloc(3 * n * sizeof(*f));
	double t;

	check(f != NULL && n > 0, "no memory for the floors");
	x86_flush_all(&cpus[0]);
	t = now_ns();
	(void)sim_read_all();
	out[F_WALK] = (now_ns() - t) / (double)pages;
	for (uint64_t i = 0; i < 3 * n; i++) {
		f[i] = allocate_frame();
		check(!frame_is_none(f[i]), "no frames for the floors");
	}
	t = now_ns();
	for (uint64_t i = 0; i < n; i++)
		memset(arena.base + f[i].base, 0, PG);
	out[F_ZERO] = (now_ns() - t) / (double)n;
	/* streaming stores (the kernel's way where CLZERO is missing) first: they leave
	 * nothing in the cache for the kernel's way, on the same frames, to find */
	page_fill_allow_clzero(false);
	t = now_ns();
	for (uint64_t i = 0; i < n; i++)
		page_zero_for_access(arena.base + f[n + i].base, 0);
	out[F_ZERO_MOVNTI] = (now_ns() - t) / (double)n;
	page_fill_allow_clzero(clzero_on);
	t = now_ns();
	for (uint64_t i = 0; i < n; i++)
		page_zero_for_access(arena.base + f[n + i].base, 0);
	out[F_ZERO_NT] = (now_ns() - t) / (double)n;
	/* copies from the first set (zeroed first, so the least likely to be cached) */
	t = now_ns();
	for (uint64_t i = 0; i < n; i++)
		memcpy(arena.base + f[n + i].base, arena.base + f[i].base, PG);
	out[F_COPY4K] = (now_ns() - t) / (double)n;
	t = now_ns();
	for (uint64_t i = 0; i < n; i++)
		page_copy_for_access(arena.base + f[2 * n + i].base, arena.base + f[i].base, 0);
	out[F_COPY_NT] = (now_ns() - t) / (double)n;
	for (uint64_t i = 0; i < 3 * n; i++)
		deallocate_frame(f[i]);
	free(f);
}

static void sim_run(double out[F_COUNT], bool verify)
{
	uint64_t free0 = free_frames();
	struct addr_space *a, *b;
	double t;

	/* read-zero on a space of its own */
	a = fresh();
	t = now_ns();
	check(sim_read_zero() == 0, "zero frame not zero");
	out[F_RZ] = (now_ns() - t) / (double)pages;
	addr_space_switch(NULL);
	addr_space_destroy(a);

	a = fresh();
	t = now_ns();
	sim_demand_zero();
	out[F_DZ] = (now_ns() - t) / (double)pages;
	check(addr_space_rss(a) == pages, "rss after demand-zero");
	sim_floors(out);

	t = now_ns();
	b = sim_fork(a);
	out[F_FORK] = (now_ns() - t) / (double)pages;

	uint64_t before = free_frames();
	t = now_ns();
	sim_cow_copy(); /* a writes, b still maps every frame */
	out[F_COPY] = (now_ns() - t) / (double)pages;
	if (verify) {
		struct page_lookup l;

		check(before - free_frames() >= pages, "a copy per page");
		check(addr_space_lookup(b, VBASE, &l) && l.refcount == 1, "child's refcount");
	}

	/* the child's copies are its own now: a has no sharer; take the child away and fork again
	 * so that every page is Cow(2), then exit the child: a's pages are read-only, count 1 */
	addr_space_destroy(b);
	b = sim_fork(a);
	addr_space_destroy(b);
	before = free_frames();
	t = now_ns();
	sim_cow_reuse();
	out[F_REUSE] = (now_ns() - t) / (double)pages;
	check(free_frames() == before, "reuse allocated a frame");

	t = now_ns();
	sim_munmap(a);
	out[F_UNMAP] = (now_ns() - t) / (double)pages;
	check(addr_space_rss(a) == 0, "rss after munmap");
	addr_space_switch(NULL);
	addr_space_destroy(a);
	check(free_frames() == free0, "frames leaked");
	if (verify) {
		char buf[256];

		check(mm_audit(buf, sizeof(buf)), buf);
	}
}

static __attribute__((noinline)) uint64_t sim_reclaim_pass(struct addr_space *a)
{
	return reclaim_space(a, pages);
}
/* its own code (the asm), so that the linker's identical-code folding does not merge it with
 * sim_read_zero and callgrind tells the two phases apart */
static __attribute__((noinline)) uint64_t sim_major_faults(void)
{
	__asm__ volatile("" ::: "memory");
	return sim_read_all();
}

static void sim_swap_run(double out[F_COUNT], bool verify)
{
	uint64_t free0 = free_frames(), sum = 0, n;
	struct addr_space *a = fresh();
	struct swap_stats st;
	double t;

	sim_write_all(5); /* every page written: accessed and dirty */
	t = now_ns();
	n = sim_reclaim_pass(a);
	out[F_SCAN] = (now_ns() - t) / (double)pages;
	check(n == 0, "a page with its accessed bit set was evicted");
	t = now_ns();
	n = sim_reclaim_pass(a);
	out[F_EVICT_DIRTY] = (now_ns() - t) / (double)pages;
	check(n == pages && addr_space_rss(a) == 0, "every page evicted");
	t = now_ns();
	sum = sim_major_faults();
	out[F_MAJOR] = (now_ns() - t) / (double)pages;
	check(sum == 5 * pages + pages * (pages - 1) / 2, "values read back from swap");
	check(sim_reclaim_pass(a) == 0, "pages just read were evicted");
	swap_get_stats(&st);
	check(st.cached == pages, "every page read back paired with its slot");
	t = now_ns();
	n = sim_reclaim_pass(a);
	out[F_EVICT_CLEAN] = (now_ns() - t) / (double)pages;
	check(n == pages, "every clean page evicted");
	if (verify) {
		char buf[256];

		swap_get_stats(&st);
		check(st.used == pages && st.cached == 0, "clean evictions kept their slots");
		check(mm_audit(buf, sizeof(buf)), buf);
	}
	sim_munmap(a);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	swap_get_stats(&st);
	check(st.used == 0, "munmap freed every slot");
	check(free_frames() == free0, "frames leaked");
}

/* ---- the host kernel ---------------------------------------------------------------------- */

static uint8_t *host_map(void)
{
	void *p = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die("host mmap");
	/* 4 KiB pages, as the simulated kernel maps them */
	madvise(p, map_bytes, MADV_NOHUGEPAGE);
	return p;
}

static __attribute__((noinline)) void host_write_all(volatile uint8_t *p, uint8_t tag)
{
	for (uint64_t i = 0; i < pages; i++)
		p[i * PG] = tag;
}

static __attribute__((noinline)) uint64_t host_read_all(volatile uint8_t *p)
{
	uint64_t sum = 0;

	for (uint64_t i = 0; i < pages; i++)
		sum += p[i * PG];
	return sum;
}

static pid_t host_fork_child_waiting(int *release_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("host fork");
	if (pid == 0) {
		char c;

		close(fds[1]);
		while (read(fds[0], &c, 1) < 0)
			;
		_exit(0);
	}
	close(fds[0]);
	*release_fd = fds[1];
	return pid;
}

static void host_release(pid_t pid, int fd)
{
	if (write(fd, "x", 1) != 1)
		die("pipe write");
	close(fd);
	waitpid(pid, NULL, 0);
}

static void host_run(double out[F_COUNT])
{
	uint8_t *p;
	double t;
	int fd;
	pid_t pid;

	p = host_map();
	t = now_ns();
	check(host_read_all(p) == 0, "host zero page");
	out[F_RZ] = (now_ns() - t) / (double)pages;
	munmap(p, map_bytes);

	p = host_map();
	t = now_ns();
	host_write_all(p, 1);
	out[F_DZ] = (now_ns() - t) / (double)pages;

	t = now_ns();
	pid = host_fork_child_waiting(&fd);
	out[F_FORK] = (now_ns() - t) / (double)pages;
	t = now_ns();
	host_write_all(p, 2);
	out[F_COPY] = (now_ns() - t) / (double)pages;
	host_release(pid, fd);

	pid = host_fork_child_waiting(&fd);
	host_release(pid, fd); /* the child has exited: a's pages are read-only, mapcount 1 */
	t = now_ns();
	host_write_all(p, 3);
	out[F_REUSE] = (now_ns() - t) / (double)pages;

	t = now_ns();
	munmap(p, map_bytes);
	out[F_UNMAP] = (now_ns() - t) / (double)pages;
}

static const char usage[] =
	"usage: bench_faults [--quick|--smoke] [--no-clzero] [--only sim] [--cpus N]\n";
static int cpus_main(bool quick, bool smoke, bool host);

int main(int argc, char **argv)
{
	bool quick = false, smoke = false, host = true, clzero = true;
	double sim[F_COUNT][16], hst[F_COUNT][16];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--smoke"))
			smoke = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--no-clzero"))
			clzero = false;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc && !strcmp(argv[i + 1], "sim"))
			host = false, i++;
		else if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
			ncpus = (unsigned)strtoul(argv[++i], NULL, 10);
			if (ncpus < 1 || ncpus > MAX_CPUS) {
				fprintf(stderr, "bench_faults: --cpus takes 1 to %u\n", MAX_CPUS);
				return 2;
			}
		}
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (ncpus > 1)
		return cpus_main(quick, smoke, host);
	if (getenv("MMSIM_BENCH_MB"))
		machine_bytes = strtoull(getenv("MMSIM_BENCH_MB"), NULL, 0) << 20;
	if (getenv("MMSIM_BENCH_MAP_MB"))
		map_bytes = strtoull(getenv("MMSIM_BENCH_MAP_MB"), NULL, 0) << 20;
	if (quick)
		machine_bytes = 64ull << 20, map_bytes = 16ull << 20, runs = 3;
	if (smoke)
		machine_bytes = 64ull << 20, map_bytes = 2ull << 20, runs = 1;
	if (map_bytes * 5 / 2 + (16ull << 20) > machine_bytes)
		die("the mapping must fit 2.5 times in the machine (the CoW copies, the floors' "
		    "frames), with room to spare");
	pages = map_bytes / PG;
	boot();
	clzero_on = page_fill_allow_clzero(clzero);
	for (int r = 0; r < runs; r++) {
		double s[F_COUNT] = { 0 }, h[F_COUNT] = { 0 };

		sim_run(s, smoke || r == 0);
		sim_swap_run(s, smoke || r == 0);
		if (host)
			host_run(h);
		for (int f = 0; f < F_COUNT; f++)
			sim[f][r] = s[f], hst[f][r] = host ? h[f] : 0;
	}
	printf("bench_faults: %" PRIu64 " MiB machine, %" PRIu64 " MiB mapped (%" PRIu64
	       " pages), median of %d runs, ns per page\n",
	       machine_bytes >> 20, map_bytes >> 20, pages, runs);
	printf("the kernel zeroes frames with %s\n", clzero_on ? "CLZERO" : "MOVNTI (streaming stores)");
	/* the swap goals that are relative to this run's own figures */
	goal[F_MAJOR] = 1.3 * median(sim[F_COPY], runs);
	goal[F_EVICT_DIRTY] = median(sim[F_COPY4K], runs) + 80;
	printf("%-26s %10s %12s %8s %8s\n", "figure", "simulated", "host kernel", "ratio", "goal");
	for (int f = 0; f < F_COUNT; f++) {
		double s = median(sim[f], runs), h = host && f < F_FIRST_FLOOR ? median(hst[f], runs) : 0;
		char g[16] = "-";

		if (f == F_FIRST_FLOOR)
			printf("floors of the figures above, on the simulated machine:\n");
		if (f == F_FIRST_SWAP)
			printf("swap, batches of %u evictions with one shootdown (goals: major <= 1.3 x CoW copy, dirty <= memcpy floor + 80):\n",
			       32u);
		if (goal[f] >= 0)
			snprintf(g, sizeof(g), "%.0f", goal[f]);
		if (h > 0)
			printf("%-26s %10.1f %12.1f %8.2f %8s\n", fig_name[f], s, h, s / h, g);
		else
			printf("%-26s %10.1f %12s %8s %8s\n", fig_name[f], s, "-", "-", g);
	}
	host_cpu_ops_attach(NULL, 0);
	for (unsigned i = 0; i < ncpus; i++)
		x86_cpu_destroy(&cpus[i]);
	arena_destroy(&arena);
	if (swap_mem)
		arena_destroy(&swap_arena);
	return 0;
}

#include "bench_faults_cpus.c"
