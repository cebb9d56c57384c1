/*
 * Read-only views of the frame allocator for people: the free lists per order and what
 * each frame is used for. Nothing here changes allocator state.
 */
#ifndef MMSIM_CORE_FRAME_ALLOC_VIEW_H
#define MMSIM_CORE_FRAME_ALLOC_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame_alloc.h"

/* Number of free blocks on each buddy list. */
void frame_alloc_free_counts(uint64_t counts[FRAME_ORDER_COUNT]);

/* The first `max` blocks of the order-k free list, in list order (most recently freed first).
 * Returns how many were written. */
size_t frame_alloc_free_list(unsigned order, paddr_t *out, size_t max);

enum frame_use {
	FRAME_USE_NONE,      /* not RAM the allocator manages (reserved, device, kernel image, holes) */
	FRAME_USE_FREE,      /* on a buddy list (head or interior of a free block) */
	FRAME_USE_CACHED,    /* parked in a per-CPU cache */
	FRAME_USE_METADATA,  /* the allocator's own section table and page infos */
	FRAME_USE_KERNEL,    /* allocated, no references: kernel memory (tables, heap, ...) */
	FRAME_USE_ONE,       /* one reference: a private user page or a kernel-held frame */
	FRAME_USE_SHARED,    /* shared references */
	FRAME_USE_COW,       /* copy-on-write references */
	FRAME_USE_COUNT,
};

/* What frame f is used for. Takes the allocator lock to read free blocks consistently. */
enum frame_use frame_alloc_use_of(frame_t f);

/*
 * True if f is the head of an allocated block with at least one reference (ONE, SHARED or
 * COW), read from its count word alone without the allocator's lock: the answer for every
 * frame a correct kernel's user page tables map, so a check made on every user access asks
 * this first and frame_alloc_use_of (locked, exact) only when it says false. A frame freed
 * or parked meanwhile reads false.
 */
bool frame_alloc_is_referenced(frame_t f);
const char *frame_use_name(enum frame_use use);

#endif
