/*
 * A physical frame: one 4 KiB page of physical memory, named by its page-aligned base address.
 *
 * Invariants:
 * - base is a multiple of PAGE_SIZE.
 * - base 0 means "no frame" (FRAME_NONE). Physical frame 0 is never allocatable: the low
 *   1 MiB is reserved by the boot memory map, so 0 is free to act as the sentinel.
 */
#ifndef MMSIM_CORE_FRAME_H
#define MMSIM_CORE_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "phys.h"

typedef struct frame {
	paddr_t base;
} frame_t;

#define FRAME_NONE ((frame_t){ 0 })

static inline bool frame_is_none(frame_t f)
{
	return f.base == 0;
}

/* The frame holding physical address pa (frame_containing(x) with x < PAGE_SIZE is none). */
static inline frame_t frame_containing(paddr_t pa)
{
	return (frame_t){ pa & ~PAGE_MASK };
}

static inline paddr_t frame_base(frame_t f)
{
	return f.base;
}

/* Page frame number: base / PAGE_SIZE. */
static inline uint64_t frame_number(frame_t f)
{
	return f.base >> PAGE_SHIFT;
}

/* The frame n frames after f. */
static inline frame_t frame_add(frame_t f, uint64_t n)
{
	return (frame_t){ f.base + (n << PAGE_SHIFT) };
}

static inline bool frame_eq(frame_t a, frame_t b)
{
	return a.base == b.base;
}

/* True if f is the head of a naturally aligned block of 2^order frames. */
static inline bool frame_is_aligned_to_order(frame_t f, unsigned order)
{
	return (f.base & ((PAGE_SIZE << order) - 1)) == 0;
}

#endif
