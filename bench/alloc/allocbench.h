/*
 * allocbench's internals, shared by its parts: the registry of allocators, the workloads,
 * the verifier, trace replay and the reports. An allocator needs frame_allocator_api.h only.
 */
#ifndef MMSIM_BENCH_ALLOCBENCH_H
#define MMSIM_BENCH_ALLOCBENCH_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_allocator_api.h"

/* ---- registry (registry.c) -------------------------------------------------------------- */

/* Every registered allocator, mmsim first, then the textbook buddy, the floors, and the
 * rest by name. */
size_t fa_count(void);
const struct frame_allocator *fa_at(size_t i);
const struct frame_allocator *fa_find(const char *name);

/* ---- the arena ---------------------------------------------------------------------------- */

struct ab_arena {
	struct fa_arena fa; /* what allocators see (threads set per run) */
	uint64_t bytes;
};

bool ab_arena_map(struct ab_arena *a, uint64_t bytes);
void ab_arena_unmap(struct ab_arena *a);

/* ---- the verifier (verify.c) ---------------------------------------------------------------- */

/*
 * A shadow bitmap of the arena's allocated frames. v_alloc calls the allocator and checks
 * the block it gets (inside the arena, aligned to its order, no frame of it already handed
 * out); v_free clears the block's bits, then calls the allocator. Thread-safe (atomic bit
 * operations), so that threads racing inside a broken allocator are caught too. The first
 * failure is kept in msg; later checks still run but keep the first message.
 */
struct verifier {
	const struct frame_allocator *fa;
	_Atomic uint64_t *bits;
	uint64_t frames;
	atomic_bool failed;
	char msg[256];
};

bool verifier_init(struct verifier *v, const struct frame_allocator *fa, uint64_t frames);
void verifier_fini(struct verifier *v);
/* The block (FA_NONE when the allocator had none, which is not an error). */
uint64_t v_alloc(struct verifier *v, unsigned order);
void v_free(struct verifier *v, uint64_t frame, unsigned order);
void v_fail(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Everything allocbench checks before it times an allocator, on the arena with `threads`
 * threads (see verify.c). true if it passed; otherwise why in msg.
 */
bool verify_allocator(const struct frame_allocator *fa, struct ab_arena *arena, unsigned threads,
		      char *msg, size_t msg_size);

/* ---- traces (trace.c) ------------------------------------------------------------------------ */

/* A trace turned into replayable operations: slot numbers instead of frames. */
struct trace_op {
	uint32_t slot;
	uint8_t order;
	uint8_t is_free;
};

struct trace {
	char *name;      /* file name without directories and extensions */
	struct trace_op *ops;
	uint64_t nops, nslots;
	uint64_t allocs, frees, splits;
	unsigned max_order;
};

/* Read and check a trace (mmsim run --alloc-trace); false with a FILE:LINE: message on
 * stderr if it is not valid (a free of a block not allocated, with another order, an
 * allocation of a frame already allocated). */
bool trace_load(struct trace *t, const char *path);
void trace_free(struct trace *t);

/* Replay every operation through the verifier; false (msg) if the allocator misbehaved. */
bool trace_replay_checked(const struct trace *t, struct verifier *v, char *msg, size_t msg_size);

/* ---- workloads (workloads.c) ------------------------------------------------------------------- */

/* One thread's part of a workload. */
struct wl_thread {
	const struct frame_allocator *fa;
	const struct trace *trace; /* replay workloads */
	unsigned cpu, threads;
	uint64_t frames;           /* the arena's */
	uint64_t ops;              /* asked (pair, mixed) or done (fill, free, replay) */
	uint64_t target;           /* mixed: frames this thread keeps live */
	uint64_t *blocks;          /* frame << 4 | order */
	uint64_t nblocks, cap;
	uint64_t *slots;           /* replay */
	uint64_t rng;
	uint64_t failed_allocs;
	double t0, t1;             /* timed part, ns */
	double busy_ns;            /* if not 0: the time of the timed part (it timed itself) */
};

struct workload {
	const char *name;
	const char *about;
	unsigned max_order; /* highest order it asks for */
	bool one_thread;    /* only ever run on one thread */
	void (*prepare)(struct wl_thread *t);
	void (*run)(struct wl_thread *t);
	void (*finish)(struct wl_thread *t);
};

size_t workload_count(void);
const struct workload *workload_at(size_t i);
const struct workload *workload_find(const char *name);
/* The replay workload (one per loaded trace). */
extern const struct workload replay_workload;

struct wl_result {
	double ns_per_op;    /* wall time * threads / operations */
	double mops;         /* operations per microsecond, all threads */
	uint64_t ops;
	uint64_t failed_allocs;
};

/*
 * Run workload w against fa on `threads` threads: init the allocator over the arena, each
 * thread attaches, prepares, waits for the others, runs the timed part, finishes (frees
 * what it holds), detaches; fini. ops: operations per thread for pair and mixed workloads.
 * false if init failed.
 */
bool workload_measure(const struct workload *w, const struct frame_allocator *fa,
		      struct ab_arena *arena, unsigned threads, uint64_t ops,
		      const struct trace *trace, struct wl_result *out);

/* The timed part of a workload, a function of its own so that callgrind
 * (--toggle-collect=allocbench_timed) counts it alone. */
void allocbench_timed(const struct workload *w, struct wl_thread *t);

/* Run n threads of fn(arg_i) (on this thread when n == 1). */
void run_threads(unsigned n, void *(*fn)(void *), void *args, size_t arg_size);
/* Keep the calling thread on the i-th CPU it may run on (modulo their number), its previous
 * set of CPUs in *saved; false, nothing done, with MMSIM_BENCH_PIN=0. */
bool ab_pin_thread(unsigned i, cpu_set_t *saved);
/* Give the calling thread back the CPUs ab_pin_thread saved. */
void ab_unpin_thread(const cpu_set_t *saved);

double ab_now_ns(void);
uint64_t ab_rnd(uint64_t *state);
/* Fisher-Yates with the given state. */
void ab_shuffle(uint64_t *v, uint64_t n, uint64_t *state);
/* Anonymous memory, untouched until written; NULL on failure. */
void *ab_map(size_t bytes);
/* The same, every page faulted in now. */
void *ab_map_populated(size_t bytes);
void ab_unmap(void *p, size_t bytes);

#endif
