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

void list_push(unsigned k, paddr_t f, struct page_info *r)
{
	paddr_t head = ST.heads[k];

	rec_set(r, 0, head | PAGE_META(PAGE_STATE_FREE, k));
	if (head)
		atomic_store_explicit(&rec(head)->rc, f, memory_order_relaxed);
	else
		ST.nonempty |= 1u << k;
	ST.heads[k] = f;
}

static void list_unlink(unsigned k, paddr_t f, struct page_info *r)
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
	(void)f;
}

/* Remove free block f of order k from its list and split it down to `order`, keeping the low
 * half; returns f's record. The head record of the result is left as is: the caller writes
 * its new state. */
static struct page_info *take_block(unsigned k, paddr_t f, unsigned order)
{
	struct page_info *r = rec(f);

	list_unlink(k, f, r);
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
	rec_set(r, 0, 0);
	buddy_free_add((int64_t)(1ULL << order));
	for (; order < FRAME_MAX_ORDER; order++) {
		paddr_t b = f ^ (PAGE_SIZE << order);
		/* the buddy may lie outside managed memory: no record, no merge */
		struct page_info *rb = frame_record(b);
		if (!rb || (rec_meta(rb) & (PAGE_META_STATE_MASK | PAGE_META_ORDER_MASK)) !=
				   PAGE_META(PAGE_STATE_FREE, order))
			break;
		list_unlink(order, b, rb);
		rec_set(rb, 0, 0);
		if (b < f) {
			f = b;
			r = rb;
		}
	}
	list_push(order, f, r);
}

/*
 * buddy_give for n blocks of one order, whose records are scattered over the page-info
 * arrays (a CPU cache's oldest frames): each give reads its buddy's record and, to unlink a
 * free buddy, that buddy's list neighbours, all likely cache misses. Their loads are issued
 * for the whole batch first (two rounds of prefetches: the buddies, then the neighbours the
 * buddies name), so the misses overlap instead of following one another. Prefetches are
 * hints; the gives below are the same as one buddy_give each.
 */
void buddy_give_batch(const paddr_t *f, struct page_info *const *r, unsigned n, unsigned order)
{
	struct page_info *rb[FRAME_CPU_CACHE_CAPACITY];

	if (n > FRAME_CPU_CACHE_CAPACITY || order >= FRAME_MAX_ORDER) {
		for (unsigned i = 0; i < n; i++)
			buddy_give(f[i], r[i], order);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		rb[i] = frame_record(f[i] ^ (PAGE_SIZE << order));
		if (rb[i])
			__builtin_prefetch(rb[i], 1);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!rb[i])
			continue;
		uint64_t meta = rec_meta(rb[i]);
		if ((meta & (PAGE_META_STATE_MASK | PAGE_META_ORDER_MASK)) != PAGE_META(PAGE_STATE_FREE, order))
			continue;
		paddr_t next = meta & PAGE_META_LINK_MASK, prev = rec_rc(rb[i]);
		struct page_info *x;
		if (next && (x = frame_record(next)))
			__builtin_prefetch(x, 1);
		if (prev && (x = frame_record(prev)))
			__builtin_prefetch(x, 1);
	}
	for (unsigned i = 0; i < n; i++)
		buddy_give(f[i], r[i], order);
}
