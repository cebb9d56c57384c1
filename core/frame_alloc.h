/*
 * The physical frame allocator: a buddy allocator of naturally aligned power-of-two blocks
 * (orders 0..FRAME_MAX_ORDER, i.e. 4 KiB .. 4 MiB) over sections of at most 128 MiB, with a
 * small per-CPU cache of order-0 frames in front of it so the common single-frame path takes
 * no global lock (like Linux's per-CPU page lists), and smaller per-CPU stacks of blocks of
 * the orders below FRAME_MAX_ORDER, refilled and emptied in batches.
 *
 * Accounting (exact; all three in frames):
 *   total_frames() = every frame the allocator manages: the RAM of the boot free areas.
 *   used_frames()  = frames in allocated blocks + the allocator's own metadata frames (section
 *                    table and page-info arrays, carved from that RAM at init). Metadata is
 *                    kernel memory: it is used, never reported free.
 *   free_frames()  = frames on the buddy lists + frames parked in per-CPU caches (a cached
 *                    frame is not allocated to anyone and any CPU gets it back by draining).
 *   free_frames() + used_frames() == total_frames() always holds when no allocation runs
 *   concurrently (the two are read at slightly different moments otherwise).
 *
 * Allocations are NOT zero-filled unless asked (FRAME_ZERO, allocate_zeroed_frame).
 *
 * Misuse is a kernel bug and panics: freeing a frame the allocator does not manage, a frame
 * that is free or cached (double free), with an order other than the allocated one, a frame
 * that still has references, or an interior frame of a block.
 *
 * Multi-frame blocks: only the head carries the block's state. frame_split_block turns one
 * order-k allocation into 2^k independent order-0 allocations, which may then be freed one at
 * a time in any order (the phys_contiguous pattern, any page count).
 */
#ifndef MMSIM_CORE_FRAME_ALLOC_H
#define MMSIM_CORE_FRAME_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "boot_memory.h"
#include "frame.h"

#define FRAME_ORDER_COUNT 11
#define FRAME_MAX_ORDER 10
#define FRAME_MAX_CPUS 64

/* allocate_p2frame_complex flags */
#define FRAME_ZERO 0x1u

/*
 * FRAME_STRATEGY_FAST: order 0 is served from the calling CPU's cache (refilled in batches
 *   from the buddy lists under the global lock); higher orders pop the most recently freed
 *   block of the smallest sufficient order (LIFO lists), splitting it and keeping the low half
 *   (allocate_p2frame tries the CPU's stack of that order first).
 * FRAME_STRATEGY_LOWEST: the lowest-addressed free block that can hold the request, among
 *   all buddy lists, bypassing the per-CPU caches; O(number of free blocks). For callers that
 *   want compact or deterministic placement (tests, boot-time structures).
 */
enum frame_strategy {
	FRAME_STRATEGY_FAST,
	FRAME_STRATEGY_LOWEST,
};

enum frame_init_error {
	FRAME_INIT_OK = 0,
	FRAME_INIT_NO_AREAS,            /* no free area given */
	FRAME_INIT_BAD_AREAS,           /* unaligned, empty, unsorted, overlapping, or
					 * ending past FRAME_LINK_LIMIT (64 GiB) */
	FRAME_INIT_NO_ROOM_FOR_METADATA,/* no area can hold the section table + page infos */
	FRAME_INIT_TOO_MANY_CPUS,       /* plat_cpu_count() > FRAME_MAX_CPUS */
};

/*
 * Take over the free areas (sorted, disjoint, page aligned, as boot_memory_init produces).
 * The section table and page-info arrays are carved from the start of the first area large
 * enough, and counted as used. May be called again to start over (tests), but not while any
 * other CPU uses the allocator.
 */
enum frame_init_error frame_alloc_init(const struct boot_area *areas, size_t n);

frame_t allocate_frame(void);
frame_t allocate_zeroed_frame(void);
frame_t allocate_p2frame(unsigned order);

/*
 * Best effort: the largest order from req_order down to min_order that can be satisfied
 * (written to *got_order if not NULL). If nothing fits and per-CPU caches hold frames, they
 * are drained and the attempt repeated once, so cached frames never cause a false
 * out-of-memory. Returns FRAME_NONE when memory is exhausted; never panics for that.
 */
frame_t allocate_p2frame_complex(unsigned req_order, unsigned flags, enum frame_strategy strategy,
				 unsigned min_order, unsigned *got_order);

void deallocate_p2frame(frame_t f, unsigned order);
void deallocate_frame(frame_t f);

/*
 * Freeing many order-0 frames at once (munmap's flusher, exit): the same checks, the same
 * trace lines and the same end state as one deallocate_frame per frame, in the same order,
 * but each naturally aligned piece of a run of consecutive frames (what a process that
 * faulted its pages in order holds) goes back to the buddy lists as one block, and the
 * blocks of many runs under one hold of the lock, instead of frame by frame through the
 * per-CPU cache and a merge chain each. Order-0 pieces go through the per-CPU cache.
 *
 *   struct frame_free_batch b;
 *   frame_free_batch_init(&b);
 *   frame_free_run(&b, first, n);   (as many runs as needed)
 *   frame_free_batch_finish(&b);    (gives back the blocks still held)
 *
 * Every frame of a block is checked before the block is queued, so a misuse panics outside
 * the lock. A queued block is neither allocated nor free yet (its frames are interior, its
 * head still USED): finish the batch before anything else looks at those frames.
 */
#define FRAME_FREE_BATCH_BLOCKS 32u

struct page_info;

struct frame_free_batch {
	unsigned n;
	paddr_t head[FRAME_FREE_BATCH_BLOCKS];
	struct page_info *rec[FRAME_FREE_BATCH_BLOCKS];
	uint8_t order[FRAME_FREE_BATCH_BLOCKS];
};

void frame_free_batch_init(struct frame_free_batch *b);
/* The n frames from first on, each allocated, order 0 and unreferenced. */
void frame_free_run(struct frame_free_batch *b, frame_t first, size_t n);
void frame_free_batch_finish(struct frame_free_batch *b);

/* The frames of v[0..n), in maximal runs of consecutive frames, through one batch. */
void deallocate_frames(const frame_t *v, size_t n);

/* Turn an unreferenced (U0) allocated block of 2^order frames into 2^order order-0 ones. */
void frame_split_block(frame_t f, unsigned order);

uint64_t free_frames(void);
/* free_frames without the allocator's lock: exact when nothing allocates concurrently,
 * otherwise off by what is in flight. For gates and watermarks on hot paths. */
uint64_t free_frames_estimate(void);
/* The frames in the buddy lists alone: a lower bound of free_frames_estimate that reads no
 * CPU's cache count (each CPU writes its own on every allocation, so reading them all on
 * another CPU's hot path moves their cache lines there). */
uint64_t free_frames_lower_bound(void);
uint64_t used_frames(void);
uint64_t total_frames(void);
/* The allocator's own metadata frames (included in used_frames). */
uint64_t metadata_frames(void);
/* Frames currently parked in per-CPU caches, blocks of every order (included in free_frames). */
uint64_t cached_frames(void);

/* Return every per-CPU cached frame to the buddy lists (the pressure governor calls this). */
void frame_alloc_drain_cpu_caches(void);

#endif
