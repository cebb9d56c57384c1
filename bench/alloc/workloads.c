/*
 * The workloads. Each thread runs its own copy: prepare (untimed), the timed part, finish
 * (untimed: frees whatever it still holds, so an allocator ends with its arena free).
 *
 *   pair        order-0 alloc + free pairs on a fresh arena (an operation = a pair)
 *   pair-frag   the same after filling the arena with order-0 frames and freeing every
 *               other one of them in random order (half the frames free, scattered)
 *   fill        order-0 allocations until the allocator has none (an operation = a frame)
 *   free-random after a fill, free every frame in random order (an operation = a frame)
 *   uniform     orders 0..9 uniformly at random, at half occupancy: allocate while the
 *               thread holds less than its half of the arena, else free a random block it
 *               holds (reached untimed first; an operation = an alloc or a free)
 *   geometric   the same with order k at probability 2^-(k+1) (9 takes the rest): mostly
 *               order 0, about 100,000 blocks live in 4 GiB
 *   replay      a kernel trace (mmsim run --alloc-trace), one thread, see trace.c
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbench.h"

/* ---- helpers --------------------------------------------------------------------------- */

static bool hold(struct wl_thread *t, uint64_t frame, unsigned order)
{
	if (t->nblocks == t->cap)
		return false;
	t->blocks[t->nblocks++] = frame << 4 | order;
	return true;
}

static void fill_untimed(struct wl_thread *t)
{
	for (uint64_t f; (f = t->fa->alloc(0)) != FA_NONE;)
		if (!hold(t, f, 0)) {
			t->fa->free(f, 0);
			break;
		}
}

static void free_all(struct wl_thread *t)
{
	for (uint64_t i = 0; i < t->nblocks; i++)
		t->fa->free(t->blocks[i] >> 4, (unsigned)(t->blocks[i] & 15));
	t->nblocks = 0;
}

/* ---- order-0 pairs ------------------------------------------------------------------------ */

static void pairs_run(struct wl_thread *t)
{
	const struct frame_allocator *fa = t->fa;
	uint64_t failed = 0;

	for (uint64_t i = t->ops; i > 0; i--) {
		uint64_t f = fa->alloc(0);
		if (__builtin_expect(f == FA_NONE, 0)) {
			failed++;
			continue;
		}
		fa->free(f, 0);
	}
	t->failed_allocs = failed;
}

static void nothing(struct wl_thread *t)
{
	(void)t;
}

static void pair_frag_prepare(struct wl_thread *t)
{
	fill_untimed(t);
	ab_shuffle(t->blocks, t->nblocks, &t->rng);
	uint64_t keep = t->nblocks / 2;
	for (uint64_t i = keep; i < t->nblocks; i++)
		t->fa->free(t->blocks[i] >> 4, 0);
	t->nblocks = keep;
}

/* ---- fill and free ------------------------------------------------------------------------ */

static void fill_run(struct wl_thread *t)
{
	const struct frame_allocator *fa = t->fa;
	uint64_t *b = t->blocks, n = 0, cap = t->cap;

	for (uint64_t f; n < cap && (f = fa->alloc(0)) != FA_NONE;)
		b[n++] = f << 4;
	t->nblocks = n;
	t->ops = n;
}

static void free_random_prepare(struct wl_thread *t)
{
	fill_untimed(t);
	ab_shuffle(t->blocks, t->nblocks, &t->rng);
}

static void free_random_run(struct wl_thread *t)
{
	const struct frame_allocator *fa = t->fa;
	const uint64_t *b = t->blocks;
	uint64_t n = t->nblocks;

	for (uint64_t i = 0; i < n; i++)
		fa->free(b[i] >> 4, 0);
	t->nblocks = 0;
	t->ops = n;
}

/* ---- mixed orders at half occupancy ---------------------------------------------------------- */

static inline unsigned uniform_order(uint64_t x)
{
	return (unsigned)(((x & 0xffffffffu) * 10) >> 32);
}

static inline unsigned geometric_order(uint64_t x)
{
	return (unsigned)__builtin_ctzll(x | 1ULL << 9);
}

/* One operation: allocate while under the target, else free a random held block. */
static inline void mixed_step(struct wl_thread *t, uint64_t *held, uint64_t x, unsigned order)
{
	if (*held < t->target || !t->nblocks) {
		uint64_t f = t->fa->alloc(order);
		if (__builtin_expect(f == FA_NONE, 0)) {
			t->failed_allocs++;
			return;
		}
		t->blocks[t->nblocks++] = f << 4 | order;
		*held += 1ULL << order;
	} else {
		uint64_t j = ((x >> 32) * t->nblocks) >> 32;
		uint64_t b = t->blocks[j];
		t->fa->free(b >> 4, (unsigned)(b & 15));
		*held -= 1ULL << (b & 15);
		t->blocks[j] = t->blocks[--t->nblocks];
	}
}

static uint64_t held_frames(const struct wl_thread *t)
{
	uint64_t h = 0;
	for (uint64_t i = 0; i < t->nblocks; i++)
		h += 1ULL << (t->blocks[i] & 15);
	return h;
}

/* Reach the target untimed (bounded, in case the allocator runs dry early). */
static void mixed_prepare(struct wl_thread *t, bool geometric)
{
	uint64_t held = 0;
	for (uint64_t i = 0; held < t->target && i < 4 * t->frames; i++) {
		uint64_t x = ab_rnd(&t->rng);
		mixed_step(t, &held, x, geometric ? geometric_order(x) : uniform_order(x));
	}
	t->failed_allocs = 0;
}

static void uniform_prepare(struct wl_thread *t)
{
	mixed_prepare(t, false);
}

static void geometric_prepare(struct wl_thread *t)
{
	mixed_prepare(t, true);
}

static void uniform_run(struct wl_thread *t)
{
	uint64_t held = held_frames(t);
	for (uint64_t i = t->ops; i > 0; i--) {
		uint64_t x = ab_rnd(&t->rng);
		mixed_step(t, &held, x, uniform_order(x));
	}
}

static void geometric_run(struct wl_thread *t)
{
	uint64_t held = held_frames(t);
	for (uint64_t i = t->ops; i > 0; i--) {
		uint64_t x = ab_rnd(&t->rng);
		mixed_step(t, &held, x, geometric_order(x));
	}
}

/* ---- trace replay -------------------------------------------------------------------------------- */

static uint64_t replay_once(struct wl_thread *t)
{
	const struct frame_allocator *fa = t->fa;
	const struct trace_op *op = t->trace->ops;
	uint64_t *slot = t->slots, failed = 0;

	for (uint64_t i = t->trace->nops; i > 0; i--, op++) {
		if (op->is_free) {
			if (slot[op->slot] != FA_NONE)
				fa->free(slot[op->slot], op->order);
			slot[op->slot] = FA_NONE;
		} else if ((slot[op->slot] = fa->alloc(op->order)) == FA_NONE) {
			failed++;
		}
	}
	return failed;
}

static void replay_finish(struct wl_thread *t);

/*
 * A trace shorter than `ops` operations is replayed again until the replays add up to at
 * least that many (the blocks a replay leaves allocated are freed untimed in between), so
 * that a short trace is not timed on a cold cache alone.
 */
static void replay_run(struct wl_thread *t)
{
	uint64_t reps = t->ops / t->trace->nops + 1, failed = 0;
	double busy = 0;

	for (uint64_t r = 0; r < reps; r++) {
		if (r)
			replay_finish(t);
		double t0 = ab_now_ns();
		failed += replay_once(t);
		busy += ab_now_ns() - t0;
	}
	t->failed_allocs = failed;
	t->ops = reps * t->trace->nops;
	t->busy_ns = busy;
}

/* The blocks the trace left allocated (the kernel still held them at its end). */
static void replay_finish(struct wl_thread *t)
{
	const struct trace_op *op = t->trace->ops;

	for (uint64_t i = 0; i < t->trace->nops; i++)
		if (!op[i].is_free && t->slots[op[i].slot] != FA_NONE) {
			t->fa->free(t->slots[op[i].slot], op[i].order);
			t->slots[op[i].slot] = FA_NONE;
		}
}

const struct workload replay_workload = {
	"replay", "a kernel trace (mmsim run --alloc-trace), frames remapped", FA_MAX_ORDER, true,
	nothing, replay_run, replay_finish,
};

/* ---- the list -------------------------------------------------------------------------------------- */

static const struct workload workloads[] = {
	{ "pair", "order-0 alloc+free pairs, fresh arena", 0, false, nothing, pairs_run, free_all },
	{ "pair-frag", "order-0 alloc+free pairs, half the frames free and scattered", 0, false,
	  pair_frag_prepare, pairs_run, free_all },
	{ "fill", "order-0 allocations until none is left (per frame)", 0, false, nothing, fill_run,
	  free_all },
	{ "free-random", "free every frame in random order after a fill (per frame)", 0, false,
	  free_random_prepare, free_random_run, free_all },
	{ "uniform", "orders 0..9 uniformly, half the arena live (per alloc or free)", 9, false,
	  uniform_prepare, uniform_run, free_all },
	{ "geometric", "order k with probability 2^-(k+1), half the arena live", 9, false,
	  geometric_prepare, geometric_run, free_all },
};

size_t workload_count(void)
{
	return sizeof(workloads) / sizeof(workloads[0]);
}

const struct workload *workload_at(size_t i)
{
	return i < workload_count() ? &workloads[i] : NULL;
}

const struct workload *workload_find(const char *name)
{
	for (size_t i = 0; i < workload_count(); i++)
		if (!strcmp(workloads[i].name, name))
			return &workloads[i];
	return NULL;
}

/* ---- running one ------------------------------------------------------------------------------------ */

__attribute__((noinline)) void allocbench_timed(const struct workload *w, struct wl_thread *t)
{
	w->run(t);
}

/*
 * The threads' block tables, kept from one measurement to the next (and populated once), so
 * that no page fault of the bench's own lands in a timed loop.
 */
static uint64_t *tables[64];
static uint64_t table_cap;

static bool tables_ready(unsigned threads, uint64_t cap)
{
	if (cap != table_cap) {
		for (unsigned i = 0; i < 64; i++) {
			ab_unmap(tables[i], table_cap * sizeof(uint64_t));
			tables[i] = NULL;
		}
		table_cap = cap;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (!tables[i])
			tables[i] = ab_map_populated(cap * sizeof(uint64_t));
		if (!tables[i])
			return false;
	}
	return true;
}

struct wl_job {
	const struct workload *w;
	struct wl_thread t;
	pthread_barrier_t *bar;
};

static void *wl_thread_main(void *arg)
{
	struct wl_job *j = arg;
	struct wl_thread *t = &j->t;

	/* each thread on a CPU of its own: left to the scheduler, two threads woken by the
	 * barrier may start on one CPU and take turns there for much of a run; a single thread
	 * too, so that it runs on the same CPU as the first of several and from run to run (the
	 * host's virtual CPUs are not always equally fast: docs/performance.md) */
	cpu_set_t saved;
	bool pinned = ab_pin_thread(t->cpu, &saved);
	if (t->fa->thread_attach)
		t->fa->thread_attach(t->cpu);
	j->w->prepare(t);
	if (j->bar)
		pthread_barrier_wait(j->bar);
	t->t0 = ab_now_ns();
	allocbench_timed(j->w, t);
	t->t1 = ab_now_ns();
	if (j->bar)
		pthread_barrier_wait(j->bar); /* finish after everyone's timed part */
	j->w->finish(t);
	if (t->fa->thread_detach)
		t->fa->thread_detach(t->cpu);
	if (pinned && t->threads == 1) /* the main thread (run_threads): it goes on */
		ab_unpin_thread(&saved);
	return NULL;
}

bool workload_measure(const struct workload *w, const struct frame_allocator *fa,
		      struct ab_arena *arena, unsigned threads, uint64_t ops,
		      const struct trace *trace, struct wl_result *out)
{
	struct wl_job job[64];
	pthread_barrier_t bar;
	uint64_t cap = arena->fa.frames;
	bool ok = true;

	arena->fa.threads = threads;
	if (!tables_ready(threads, cap) || fa->init(&arena->fa))
		return false;
	if (threads > 1)
		pthread_barrier_init(&bar, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		struct wl_thread *t = &job[i].t;
		job[i] = (struct wl_job){ w, { 0 }, threads > 1 ? &bar : NULL };
		*t = (struct wl_thread){ .fa = fa, .trace = trace, .cpu = i, .threads = threads,
					 .frames = arena->fa.frames, .ops = ops,
					 .target = arena->fa.frames / 2 / threads, .cap = cap,
					 .rng = 0x9e3779b97f4a7c15ULL * (i + 1) };
		t->blocks = tables[i];
		if (trace) {
			t->slots = ab_map_populated((trace->nslots ? trace->nslots : 1) * sizeof(uint64_t));
			for (uint64_t s = 0; t->slots && s < trace->nslots; s++)
				t->slots[s] = FA_NONE;
		}
		if (!t->blocks || (trace && !t->slots))
			ok = false;
	}
	if (ok)
		run_threads(threads, wl_thread_main, job, sizeof(job[0]));
	if (threads > 1)
		pthread_barrier_destroy(&bar);
	double t0 = 1e300, t1 = 0;
	uint64_t total = 0, failed = 0;
	for (unsigned i = 0; i < threads; i++) {
		struct wl_thread *t = &job[i].t;
		t0 = t->t0 < t0 ? t->t0 : t0;
		t1 = t->t1 > t1 ? t->t1 : t1;
		total += t->ops;
		failed += t->failed_allocs;
		if (trace)
			ab_unmap(t->slots, (trace->nslots ? trace->nslots : 1) * sizeof(uint64_t));
	}
	if (fa->fini)
		fa->fini();
	if (!ok)
		return false;
	double wall = threads == 1 && job[0].t.busy_ns > 0 ? job[0].t.busy_ns : t1 - t0;
	*out = (struct wl_result){ total ? wall * threads / (double)total : 0,
				   wall > 0 ? (double)total / wall * 1e3 : 0, total, failed };
	return true;
}
