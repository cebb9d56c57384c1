/*
 * Sections: the page-info arrays of the frame allocator, one per 128 MiB physical window.
 *
 * The section table has one entry per 128 MiB window from physical address 0 up to the end of
 * the highest managed frame. Entry w describes window [w << 27, (w + 1) << 27): the managed
 * frames of the window lie in [window + first, window + first + count) frames, and their
 * 8-byte records are consecutive at physical address infos_pa. A window without managed
 * frames has count 0. Frames inside that range that are not RAM (holes between boot areas)
 * have records in state ABSENT.
 *
 * Invariants:
 * - first + count <= FRAME_SECTION_FRAMES; a section never crosses a 128 MiB boundary, so a
 *   buddy block (at most 4 MiB, naturally aligned) and its buddy lie in one section.
 * - info(f + 1) == info(f) + 1 within a section (A6).
 * - The table and every page-info array lie in METADATA frames of the allocator itself.
 */
#ifndef MMSIM_CORE_FRAME_SECTION_H
#define MMSIM_CORE_FRAME_SECTION_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "page_info.h"

#define FRAME_SECTION_SHIFT 27
#define FRAME_SECTION_FRAMES (1u << (FRAME_SECTION_SHIFT - PAGE_SHIFT))

struct frame_section {
	paddr_t infos_pa; /* record of the frame at window + first */
	uint32_t first;   /* frame offset of the first managed frame inside the window */
	uint32_t count;   /* frames described (0 = empty window) */
};
_Static_assert(sizeof(struct frame_section) == 16, "section entry is 16 bytes");

/* Where the table lives; set by frame_alloc_init. */
extern paddr_t frame_section_table_pa;
extern uint64_t frame_section_window_count;

static inline struct frame_section *frame_section_table(void)
{
	return (struct frame_section *)phys_to_virt(frame_section_table_pa);
}

/* Record of f if f lies in a section's range (ABSENT records included), else NULL. */
static inline struct page_info *frame_section_lookup(paddr_t pa)
{
	uint64_t w = pa >> FRAME_SECTION_SHIFT;
	if (__builtin_expect(w >= frame_section_window_count, 0))
		return NULL;
	const struct frame_section *s = &frame_section_table()[w];
	uint32_t off = (uint32_t)((pa >> PAGE_SHIFT) & (FRAME_SECTION_FRAMES - 1)) - s->first;
	if (__builtin_expect(off >= s->count, 0))
		return NULL;
	return (struct page_info *)phys_to_virt(s->infos_pa) + off;
}

/* The dense run (frame_dense_first_pfn, frame_dense_frames, frame_dense_infos and
 * frame_dense_lookup) is declared in page_info.h, whose get_page_info looks there first. */

/* Record of f if f lies in a section's range: the dense run first, the table for the rest. */
static inline struct page_info *frame_record(paddr_t pa)
{
	uint64_t i = (pa >> PAGE_SHIFT) - frame_dense_first_pfn;
	if (__builtin_expect(i < frame_dense_frames, 1))
		return frame_dense_infos + i;
	return frame_section_lookup(pa);
}

#endif
