/*
 * Frame allocator throughput, single thread unless stated, ns per operation as the median of
 * several runs, each next to a plain LIFO stack of frames measured in the same run (the floor:
 * what handing out and taking back a frame costs with no allocator at all).
 *
 *   bench_frames                 all benchmarks (MMSIM_BENCH_MB of RAM, default 1024)
 *   bench_frames --quick         fewer runs/iterations (meson benchmark)
 *   bench_frames --pairs N       only N order-0 alloc+free pairs (for callgrind: instructions
 *                                per pair = (Ir of --pairs 2N - Ir of --pairs N) / N)
 *   bench_frames --drain         only one fill, shuffle and random-order free of all memory
 *   bench_frames --mixed N       only one run of N operations of the mixed-orders benchmark
 *   bench_frames --batch N       only N batch frees (deallocate_frames) of the 1024 frames of a
 *                                split order-10 block, in address order (as munmap frees a
 *                                range faulted in order): callgrind --toggle-collect=
 *                                deallocate_frames, Ir / (N * 1024) = instructions per frame
 *
 * The timed loops of the last two are functions of their own (drain_frames, mixed_ops) so
 * that callgrind counts them alone: valgrind --tool=callgrind --toggle-collect=mixed_ops
 * ./build-rel/bench/bench_frames --mixed 1000000, Ir / 1000000 = instructions per operation.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot_memory.h"
#include "frame_alloc.h"
#include "host/host_platform.h"
#include "phys.h"

static uint64_t machine_bytes;
static int runs = 7;
static uint64_t pair_iters = 20 * 1000 * 1000;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
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

static void boot(void)
{
	boot_memory_reset();
	if (boot_memory_default_map(machine_bytes) || boot_memory_init(0x100000, 0) ||
	    frame_alloc_init(boot_memory_areas(), boot_memory_area_count())) {
		fprintf(stderr, "bench_frames: boot failed\n");
		exit(1);
	}
}

/* ---- the reference: a LIFO stack of frame addresses --------------------------------- */

struct lifo {
	paddr_t *v;
	uint64_t n;
};

static struct lifo lifo;

static __attribute__((noinline)) paddr_t lifo_pop(void)
{
	return lifo.n ? lifo.v[--lifo.n] : 0;
}

static __attribute__((noinline)) void lifo_push(paddr_t f)
{
	lifo.v[lifo.n++] = f;
}

static void lifo_fill(void)
{
	lifo.n = 0;
	for (paddr_t p = machine_bytes; p > 0x400000; p -= PAGE_SIZE)
		lifo_push(p - PAGE_SIZE);
}

/* ---- benchmarks -------------------------------------------------------------------- */

static __attribute__((noinline)) void pairs(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		frame_t f = allocate_frame();
		__asm__ volatile("" : : "r"(f.base) : "memory");
		deallocate_frame(f);
	}
}

static double time_pairs(uint64_t n)
{
	double t0 = now_ns();
	pairs(n);
	return (now_ns() - t0) / (double)n;
}

static double time_lifo_pairs(uint64_t n)
{
	double t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		paddr_t f = lifo_pop();
		__asm__ volatile("" : : "r"(f) : "memory");
		lifo_push(f);
	}
	return (now_ns() - t0) / (double)n;
}

static frame_t *all;

/* Allocate every free frame as order 0; returns the count. */
static uint64_t fill_all(void)
{
	uint64_t n = 0;
	for (frame_t f; !frame_is_none(f = allocate_frame());)
		all[n++] = f;
	return n;
}

static void shuffle(frame_t *v, uint64_t n)
{
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = rnd() % (i + 1);
		frame_t t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

static void fragment(void)
{
	boot();
	uint64_t n = fill_all();
	shuffle(all, n);
	for (uint64_t i = 0; i < n / 2; i++)
		deallocate_frame(all[i]);
	frame_alloc_drain_cpu_caches();
}

struct live_block {
	frame_t f;
	unsigned order;
};

static __attribute__((noinline)) void drain_frames(const frame_t *v, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++)
		deallocate_frame(v[k]);
}

/* ops operations: allocate a block of a random order 0..9 while fewer than `half` frames are
 * held, else free a random live block. */
static __attribute__((noinline)) void mixed_ops(uint64_t ops, uint64_t half, struct live_block *live)
{
	uint64_t held = 0, nlive = 0;

	for (uint64_t k = 0; k < ops; k++) {
		uint64_t x = rnd();
		if (held < half || !nlive) {
			unsigned o = (unsigned)(x % 10);
			frame_t f = allocate_p2frame(o);
			if (frame_is_none(f))
				continue;
			live[nlive++] = (struct live_block){ f, o };
			held += 1ULL << o;
		} else {
			uint64_t j = (x >> 8) % nlive;
			deallocate_p2frame(live[j].f, live[j].order);
			held -= 1ULL << live[j].order;
			live[j] = live[--nlive];
		}
	}
}

static void bench_pairs(const char *label, bool fragmented)
{
	double a[16], r[16];
	for (int i = 0; i < runs; i++) {
		if (fragmented)
			fragment();
		else
			boot();
		a[i] = time_pairs(pair_iters);
		lifo_fill();
		r[i] = time_lifo_pairs(pair_iters);
	}
	printf("%-44s %8.2f ns/pair   (LIFO stack %5.2f)\n", label, median(a, runs), median(r, runs));
}

static void bench_fill_drain(void)
{
	double fill[16], drain[16], lf[16], ld[16];
	uint64_t n = 0;
	for (int i = 0; i < runs; i++) {
		boot();
		double t0 = now_ns();
		n = fill_all();
		fill[i] = (now_ns() - t0) / (double)n;
		shuffle(all, n);
		t0 = now_ns();
		drain_frames(all, n);
		drain[i] = (now_ns() - t0) / (double)n;
		/* reference: pop everything, push back in the same random order */
		lifo_fill();
		uint64_t m = lifo.n;
		t0 = now_ns();
		for (uint64_t k = 0; k < m; k++)
			all[k].base = lifo_pop();
		lf[i] = (now_ns() - t0) / (double)m;
		shuffle(all, m);
		t0 = now_ns();
		for (uint64_t k = 0; k < m; k++)
			lifo_push(all[k].base);
		ld[i] = (now_ns() - t0) / (double)m;
	}
	printf("%-44s %8.2f ns/frame  (LIFO stack %5.2f)   [%llu frames]\n", "fill all memory, order 0",
	       median(fill, runs), median(lf, runs), (unsigned long long)n);
	printf("%-44s %8.2f ns/frame  (LIFO stack %5.2f)\n", "free all in random order", median(drain, runs),
	       median(ld, runs));
}

static void bench_mixed(void)
{
	double t[16], r[16];
	uint64_t ops = pair_iters / 4;
	struct live_block *live = calloc(machine_bytes / PAGE_SIZE, sizeof(*live));
	for (int i = 0; i < runs; i++) {
		boot();
		uint64_t half = free_frames() / 2;
		double t0 = now_ns();
		mixed_ops(ops, half, live);
		t[i] = (now_ns() - t0) / (double)ops;
		/* reference: the same op mix on the LIFO stack (one pop/push per block, any order) */
		lifo_fill();
		uint64_t lheld = 0, lnlive = 0;
		t0 = now_ns();
		for (uint64_t k = 0; k < ops; k++) {
			uint64_t x = rnd();
			if (lheld < half || !lnlive) {
				unsigned o = (unsigned)(x % 10);
				paddr_t f = lifo_pop();
				live[lnlive++] = (struct live_block){ { f }, o };
				lheld += 1ULL << o;
			} else {
				uint64_t j = (x >> 8) % lnlive;
				lifo_push(live[j].f.base);
				lheld -= 1ULL << live[j].order;
				live[j] = live[--lnlive];
			}
		}
		r[i] = (now_ns() - t0) / (double)ops;
	}
	printf("%-44s %8.2f ns/op    (LIFO stack %5.2f)\n", "random orders 0..9, about half live",
	       median(t, runs), median(r, runs));
	free(live);
}

struct scal {
	unsigned cpu;
	uint64_t n;
	pthread_barrier_t *bar;
	double ns;
};

static void *scal_main(void *arg)
{
	struct scal *s = arg;
	host_set_current_cpu(s->cpu);
	pthread_barrier_wait(s->bar);
	s->ns = time_pairs(s->n);
	return NULL;
}

static void bench_scaling(unsigned max_threads)
{
	for (unsigned nt = 1; nt <= max_threads; nt++) {
		double per[16], agg[16];
		for (int i = 0; i < runs; i++) {
			boot();
			pthread_barrier_t bar;
			pthread_barrier_init(&bar, NULL, nt);
			pthread_t t[FRAME_MAX_CPUS];
			struct scal s[FRAME_MAX_CPUS];
			double t0 = now_ns();
			for (unsigned k = 0; k < nt; k++) {
				s[k] = (struct scal){ k, pair_iters / 2, &bar, 0 };
				pthread_create(&t[k], NULL, scal_main, &s[k]);
			}
			double worst = 0;
			for (unsigned k = 0; k < nt; k++) {
				pthread_join(t[k], NULL);
				worst = s[k].ns > worst ? s[k].ns : worst;
			}
			double wall = now_ns() - t0;
			per[i] = worst;
			agg[i] = (double)(pair_iters / 2) * nt / wall * 1e3; /* M pairs/s */
			pthread_barrier_destroy(&bar);
		}
		printf("order-0 pairs, %u thread%s %*s %8.2f ns/pair per thread, %7.1f M pairs/s total\n", nt,
		       nt == 1 ? " " : "s", 17, "", median(per, runs), median(agg, runs));
	}
}

static const char usage[] =
	"usage: bench_frames [--quick | --pairs N | --drain | --mixed N | --batch N]\n"
	"  (no option)  every benchmark, 7 runs each (MMSIM_BENCH_MB of RAM, default 1024)\n"
	"  --quick      fewer runs and iterations\n"
	"  --pairs N    only N order-0 alloc+free pairs (for callgrind)\n"
	"  --drain      only one fill, shuffle and random-order free of all memory\n"
	"  --mixed N    only N operations of the mixed-orders benchmark\n"
	"  --batch N    only N batch frees (deallocate_frames) of a split order-10 block\n";

/* The option forms main knows; anything else is a usage error. */
static bool known_arguments(int argc, char **argv)
{
	if (argc == 1)
		return true;
	if (argc == 2)
		return !strcmp(argv[1], "--quick") || !strcmp(argv[1], "--drain");
	return argc == 3 && (!strcmp(argv[1], "--pairs") || !strcmp(argv[1], "--mixed") ||
			     !strcmp(argv[1], "--batch"));
}

int main(int argc, char **argv)
{
	const char *mb = getenv("MMSIM_BENCH_MB");

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (!known_arguments(argc, argv)) {
		fputs(usage, stderr);
		return 2;
	}
	machine_bytes = (mb ? strtoull(mb, NULL, 10) : 1024) << 20;
	void *arena = mmap(NULL, machine_bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	phys_direct_map_base = (uintptr_t)arena;
	setvbuf(stdout, NULL, _IOLBF, 0);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned max_threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
	host_set_cpu_count(max_threads);
	host_set_current_cpu(0);

	if (argc == 3 && !strcmp(argv[1], "--pairs")) {
		boot();
		pairs(strtoull(argv[2], NULL, 10));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--drain")) {
		all = calloc(machine_bytes / PAGE_SIZE, sizeof(*all));
		boot();
		uint64_t n = fill_all();
		shuffle(all, n);
		drain_frames(all, n);
		free(all);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--batch")) {
		frame_t v[1024];
		boot();
		for (uint64_t k = strtoull(argv[2], NULL, 10); k-- > 0;) {
			frame_t b = allocate_p2frame(10);
			frame_split_block(b, 10);
			for (unsigned j = 0; j < 1024; j++)
				v[j] = (frame_t){ b.base + j * PAGE_SIZE };
			deallocate_frames(v, 1024);
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--mixed")) {
		struct live_block *live = calloc(machine_bytes / PAGE_SIZE, sizeof(*live));
		boot();
		mixed_ops(strtoull(argv[2], NULL, 10), free_frames() / 2, live);
		free(live);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--quick")) {
		runs = 3;
		pair_iters = 2 * 1000 * 1000;
	}
	all = calloc(machine_bytes / PAGE_SIZE, sizeof(*all));
	lifo.v = calloc(machine_bytes / PAGE_SIZE, sizeof(paddr_t));
	printf("bench_frames: %llu MiB machine, %d runs per figure (median), %llu pairs per run\n",
	       (unsigned long long)(machine_bytes >> 20), runs, (unsigned long long)pair_iters);
	bench_pairs("order-0 alloc+free pair, fresh arena", false);
	bench_pairs("order-0 alloc+free pair, fragmented arena", true);
	bench_fill_drain();
	bench_mixed();
	bench_scaling(max_threads);
	free(all);
	free(lifo.v);
	munmap(arena, machine_bytes);
	return 0;
}
