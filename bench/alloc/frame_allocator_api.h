/*
 * allocbench's frame-allocator interface: what any physical frame allocator provides to be
 * benchmarked, verified and replayed against kernel traces next to mmsim's.
 *
 * Frames are numbered 0 .. frames-1 inside an arena of `frames` 4 KiB frames. A block of
 * order k is 2^k consecutive frames starting at a multiple of 2^k (naturally aligned).
 * Every call goes through these function pointers, out of line, compiled without
 * link-time optimisation: no allocator is inlined into the workloads.
 *
 * Adding an allocator (bench/README.md has a complete example):
 *   1. write bench/alloc/NAME.c defining a `static const struct frame_allocator` and ending
 *      with FRAME_ALLOCATOR_REGISTER(that_variable);
 *   2. add 'alloc/NAME.c', to the allocbench_adapters list in bench/meson.build.
 */
#ifndef MMSIM_BENCH_FRAME_ALLOCATOR_API_H
#define MMSIM_BENCH_FRAME_ALLOCATOR_API_H

#include <stdint.h>

#define FA_PAGE_SIZE 4096u
/* The highest order any workload asks for (4 MiB blocks). */
#define FA_MAX_ORDER 10u
/* alloc's answer when it has no block. */
#define FA_NONE UINT64_MAX

struct fa_arena {
	/* frames * FA_PAGE_SIZE bytes of anonymous memory, mapped MAP_NORESERVE (zero until
	 * written; only what is written costs RAM). The allocator may use the memory of frames
	 * it has not handed out (links in free blocks, or its metadata carved from the arena);
	 * the bench never writes into the arena. */
	void *mem;
	uint64_t frames;
	/* Most threads that will call at once (each after thread_attach with its CPU number
	 * 0 .. threads-1). 1: no locking needed. */
	unsigned threads;
};

struct frame_allocator {
	/* One word, no spaces or commas: the table's label and `--alloc NAME`. */
	const char *name;
	/* One line for `allocbench --list`. */
	const char *about;
	/* Highest order alloc serves; workloads that need more skip this allocator. */
	unsigned max_order;
	/* Most threads it supports at once (1: not thread-safe; threaded workloads skip it). */
	unsigned max_threads;

	/* Take over the arena (all of it free). 0 on success, anything else is a failure. May
	 * be called again after fini. */
	int (*init)(const struct fa_arena *arena);
	/* Forget everything (optional: NULL). */
	void (*fini)(void);
	/* The first frame of a free block of 2^order frames (order <= max_order: the bench asks
	 * for no more), now allocated, or FA_NONE. */
	uint64_t (*alloc)(unsigned order);
	/* Give back a block alloc returned, with the order it was allocated with. */
	void (*free)(uint64_t frame, unsigned order);
	/* Optional (NULL): the calling thread now runs as CPU `cpu` / stops doing so. Called
	 * on each thread before its first and after its last alloc or free. */
	void (*thread_attach)(unsigned cpu);
	void (*thread_detach)(unsigned cpu);
};

/* Adds an allocator to allocbench's list (FRAME_ALLOCATOR_REGISTER calls it at start-up). */
void fa_register(const struct frame_allocator *a);

#define FRAME_ALLOCATOR_REGISTER(var)                                                          \
	static void __attribute__((constructor)) fa_register_##var(void)                        \
	{                                                                                      \
		fa_register(&(var));                                                           \
	}

#endif
