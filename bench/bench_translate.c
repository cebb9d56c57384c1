/*
 * Latency of one simulated memory access, measured as a dependent pointer chase (each load
 * gives the address of the next, so nothing overlaps), over 64, 256 and 1024 pages:
 *   host   a plain host load through host pointers (same pages, same cache lines),
 *   tlb    x86_translate answered by the TLB (the TLB holds every page), then the load,
 *   walk   x86_translate with a 1-entry TLB, so every access is a full four-level walk over
 *          cache-hot tables (A is already set, so no compare-exchange), then the load.
 * The three run in the same process, interleaved, and each figure is the median of several
 * runs. The layout is that of QEMU's softmmu TLB measurements (a hit, a miss that walks
 * cache-hot tables, a flush), so the numbers can be read next to QEMU's.
 *
 * usage: bench_translate [accesses-per-run]   (default 2000000)
 *        bench_translate --only host|tlb|walk N
 *            one chase of N accesses over 64 pages after the warm-up, nothing printed: for
 *            callgrind, instructions per access = (Ir of 2N - Ir of N) / N
 */
#include "x86_cpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 5
#define MAX_PAGES 1024
#define TABLES 0x1000ull	/* PML4, PDPT, PD, PT0, PT1 at 0x1000..0x5fff */
#define DATA 0x10000ull
#define MEM_SIZE (DATA + MAX_PAGES * 4096ull)
#define VA_BASE 0x0000000040000000ull	/* PML4 index 0, PDPT index 1, PD 0..1 */

static uint8_t *mem;

static void put64(uint64_t pa, uint64_t v)
{
	memcpy(mem + pa, &v, 8);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Cache-line offset of the chase slot in page i: spread over the sets, not all at 0. */
static uint64_t slot_off(unsigned i)
{
	return (uint64_t)((i * 7u) % 64u) * 64u;
}

/*
 * Maps n pages at VA_BASE and links them in a random cycle: each slot holds the next page's
 * VA (for the simulated chase) and, 8 bytes later, its host address (for the host chase).
 */
static uint64_t build(unsigned n)
{
	unsigned order[MAX_PAGES], i;

	memset(mem, 0, MEM_SIZE);
	put64(TABLES + 0x0000, (TABLES + 0x1000) | 0x7);		/* PML4[0] */
	put64(TABLES + 0x1000 + 8, (TABLES + 0x2000) | 0x7);		/* PDPT[1] */
	put64(TABLES + 0x2000, (TABLES + 0x3000) | 0x7);		/* PD[0] */
	put64(TABLES + 0x2000 + 8, (TABLES + 0x4000) | 0x7);		/* PD[1] */
	for (i = 0; i < n; i++)
		put64(TABLES + 0x3000 + 8ull * i, (DATA + 4096ull * i) | 0x7);

	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)(next_rand() % (i + 1));
		unsigned t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < n; i++) {
		unsigned from = order[i], to = order[(i + 1) % n];
		uint64_t slot = DATA + 4096ull * from + slot_off(from);

		put64(slot, VA_BASE + 4096ull * to + slot_off(to));
		put64(slot + 8, (uint64_t)(uintptr_t)(mem + DATA + 4096ull * to + slot_off(to) + 8));
	}
	return VA_BASE + 4096ull * order[0] + slot_off(order[0]);
}

static volatile uint64_t sink;

static double chase_host(uint64_t start_va, unsigned long iters)
{
	uint64_t host = (uint64_t)(uintptr_t)(mem + DATA + (start_va - VA_BASE) + 8);
	uint64_t t0 = now_ns();
	unsigned long i;

	for (i = 0; i < iters; i++)
		memcpy(&host, (const void *)(uintptr_t)host, 8);
	sink = host;
	return (double)(now_ns() - t0) / (double)iters;
}

static double chase_sim(struct x86_cpu *cpu, uint64_t start_va, unsigned long iters)
{
	uint64_t va = start_va, t0 = now_ns();
	unsigned long i;

	for (i = 0; i < iters; i++) {
		struct x86_xlate x;

		x86_translate(cpu, va, X86_READ, false, false, &x, NULL);
		if (x.outcome != X86_OK) {
			fprintf(stderr, "bench_translate: unexpected fault at 0x%" PRIx64 "\n", va);
			exit(1);
		}
		memcpy(&va, mem + x.pa, 8);
	}
	sink = va;
	return (double)(now_ns() - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp_double);
	return v[RUNS / 2];
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 64, 256, 1024 };
	unsigned long iters = 2000000;
	struct x86_phys phys;
	size_t k;

	static const char usage[] = "usage: bench_translate [accesses-per-run]   (default 2000000)\n"
				    "       bench_translate --only host|tlb|walk N\n";

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc == 2) {
		char *end;

		iters = strtoul(argv[1], &end, 10);
		if (*end || !iters) {
			fputs(usage, stderr);
			return 2;
		}
	} else if (argc != 1 &&
		   !(argc == 4 && !strcmp(argv[1], "--only") &&
		     (!strcmp(argv[2], "host") || !strcmp(argv[2], "tlb") || !strcmp(argv[2], "walk")))) {
		fputs(usage, stderr);
		return 2;
	}
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem)
		return 1;
	phys.base = mem;
	phys.size = MEM_SIZE;

	if (argc == 4 && !strcmp(argv[1], "--only")) {
		unsigned long n = strtoul(argv[3], NULL, 10);
		struct x86_cpu cpu;
		uint64_t start = build(64);

		if (!x86_cpu_init(&cpu, phys, strcmp(argv[2], "walk") ? 256 : 1, 46))
			return 1;
		x86_write_cr3(&cpu, TABLES);
		chase_sim(&cpu, start, 4 * 64);
		if (!strcmp(argv[2], "host"))
			chase_host(start, n);
		else
			chase_sim(&cpu, start, n);
		x86_cpu_destroy(&cpu);
		free(mem);
		return 0;
	}

	printf("dependent pointer chase, ns per access (median of %d runs of %lu accesses)\n",
	       RUNS, iters);
	printf("%6s %5s %10s %10s %8s %10s %8s %9s\n", "pages", "tlb", "host load", "tlb hit",
	       "(+)", "full walk", "(+)", "tlb hits");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		unsigned n = sizes[k], tlb_n = n < 256 ? 256 : n;
		struct x86_cpu hit_cpu, walk_cpu;
		double host[RUNS], hit[RUNS], walk[RUNS];
		uint64_t start = build(n), misses0;
		int r;

		if (!x86_cpu_init(&hit_cpu, phys, tlb_n, 46) || !x86_cpu_init(&walk_cpu, phys, 1, 46))
			return 1;
		x86_write_cr3(&hit_cpu, TABLES);
		x86_write_cr3(&walk_cpu, TABLES);
		/* Warm up: fill the TLB, set every A bit, bring everything into the caches. */
		chase_host(start, 4 * n);
		chase_sim(&hit_cpu, start, 4 * n);
		chase_sim(&walk_cpu, start, 4 * n);
		misses0 = hit_cpu.stats.tlb_misses;
		hit_cpu.stats.tlb_hits = 0;
		for (r = 0; r < RUNS; r++) {
			host[r] = chase_host(start, iters);
			hit[r] = chase_sim(&hit_cpu, start, iters);
			walk[r] = chase_sim(&walk_cpu, start, iters);
		}
		{
			double h = median(host), t = median(hit), w = median(walk);
			double hits = (double)hit_cpu.stats.tlb_hits /
				      (double)(hit_cpu.stats.tlb_hits + hit_cpu.stats.tlb_misses - misses0);

			printf("%6u %5u %10.1f %10.1f %+8.1f %10.1f %+8.1f %8.1f%%\n", n, tlb_n, h, t,
			       t - h, w, w - h, 100.0 * hits);
		}
		x86_cpu_destroy(&hit_cpu);
		x86_cpu_destroy(&walk_cpu);
	}
	free(mem);
	return 0;
}
