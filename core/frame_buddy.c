/*
 * The buddy lists of the frame allocator: free blocks of order k on a doubly linked list
 * threaded through their head records, all under frame_alloc_state.lock. See page_info.h for
 * the record states and frame_alloc_state.h for the state invariants.
 *
 * Record invariants kept by this file (A1-A3, A9):
 * - A record is FREE iff it is the head of a block on buddy list `order`; its links are exact.
 * - A record is USED iff it is the head of an allocated block of 2^order frames.
 * - Every other frame of a free or allocated block has an all-zero INTERIOR record. Splitting
 *   writes the new upper heads, merging clears the absorbed heads, so no record is ever stale:
 *   a merge that finds a FREE sibling of the right order has found a real free block.
 * - Blocks are maximally merged: a free block's buddy is never a free block of the same order.
 */
#include "frame_buddy.h"

struct frame_alloc_state frame_alloc_state;

#define ST frame_alloc_state

struct page_info *get_page_info_slow(frame_t f)
{
	struct page_info *r = frame_section_lookup(f.base);
	if (!r || page_info_state(r) == PAGE_STATE_ABSENT)
		return NULL;
	return r;
}

/* ---- buddy lists (global lock held) --------------------------------------------------- */

/* Inlined into the merge loop: it runs once per merge. */
static inline __attribute__((always_inline)) void push_block(unsigned k, paddr_t f, struct page_info *r)
{
	paddr_t head = ST.heads[k];

	rec_set(r, 0, head | PAGE_META(PAGE_STATE_FREE, k));
	if (head)
		atomic_store_explicit(&rec(head)->rc, f, memory_order_relaxed);
	else
		ST.nonempty |= 1u << k;
	ST.heads[k] = f;
}

void list_push(unsigned k, paddr_t f, struct page_info *r)
{
	push_block(k, f, r);
}

/* Take the free block whose head record is r off list k (its record is left as is). */
static inline __attribute__((always_inline)) void list_unlink(unsigned k, struct page_info *r)
{
	paddr_t prev = rec_rc(r);
	paddr_t next = rec_meta(r) & PAGE_META_LINK_MASK;

	if (prev) {
		atomic_store_explicit(&rec(prev)->meta, next | PAGE_META(PAGE_STATE_FREE, k),
				      memory_order_relaxed);
	} else {
		ST.heads[k] = next;
		if (!next)
			ST.nonempty &= ~(1u << k);
	}
	if (next)
		atomic_store_explicit(&rec(next)->rc, prev, memory_order_relaxed);
}

/* Remove free block f of order k from its list and split it down to `order`, keeping the low
 * half; returns f's record. The head record of the result is left as is: the caller writes
 * its new state. */
static struct page_info *take_block(unsigned k, paddr_t f, unsigned order)
{
	struct page_info *r = rec(f);

	list_unlink(k, r);
	while (k > order) {
		k--;
		/* a block lies inside one section, whose records are consecutive (A6) */
		list_push(k, f + (PAGE_SIZE << k), r + (1ULL << k));
	}
	buddy_free_add(-(int64_t)(1ULL << order));
	return r;
}

/* Take a block of `order` (0 if there is none) and its record (*r). */
paddr_t buddy_take(unsigned order, struct page_info **r)
{
	uint32_t avail = ST.nonempty >> order;
	if (!avail)
		return 0;
	unsigned k = order + (unsigned)__builtin_ctz(avail);
	paddr_t f = ST.heads[k];
	*r = take_block(k, f, order);
	return f;
}

paddr_t buddy_take_lowest(unsigned order, struct page_info **r)
{
	paddr_t best = 0;
	unsigned best_k = 0;

	for (unsigned k = order; k < FRAME_ORDER_COUNT; k++)
		for (paddr_t f = ST.heads[k]; f; f = rec_meta(rec(f)) & PAGE_META_LINK_MASK)
			if (!best || f < best) {
				best = f;
				best_k = k;
			}
	if (best)
		*r = take_block(best_k, best, order);
	return best;
}

void buddy_give(paddr_t f, struct page_info *r, unsigned order)
{
	buddy_free_add((int64_t)(1ULL << order));
	for (; order < FRAME_MAX_ORDER; order++) {
		paddr_t b = f ^ (PAGE_SIZE << order);
		/* the buddy may lie outside managed memory: no record, no merge */
		struct page_info *rb = frame_record(b);
		if (!rb || (rec_meta(rb) & (PAGE_META_STATE_MASK | PAGE_META_ORDER_MASK)) !=
				   PAGE_META(PAGE_STATE_FREE, order))
			break;
		list_unlink(order, rb);
		/* the upper head becomes interior; the lower one is rewritten by the push */
		if (b < f) {
			rec_set(r, 0, 0);
			f = b;
			r = rb;
		} else {
			rec_set(rb, 0, 0);
		}
	}
	push_block(order, f, r);
}

