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

#include "arch/x86_64/cpu_ops.h"

struct frame_alloc_state frame_alloc_state;

#define ST frame_alloc_state

struct page_info *get_page_info_slow(frame_t f)
{
	struct page_info *r = frame_section_lookup(f.base);
	if (!r || page_info_state(r) == PAGE_STATE_ABSENT)
		return NULL;
	return r;
}

struct page_info *rec_slow(paddr_t pa)
{
	struct page_info *r = frame_section_lookup(pa);

	KASSERT(r, "frame: %#llx is linked on a buddy list but has no record", (unsigned long long)pa);
	return r;
}

/* A buddy's record off the dense run, or NULL if the buddy is not managed. */
static __attribute__((noinline)) struct page_info *buddy_rec_slow(paddr_t pa)
{
	return frame_section_lookup(pa);
}

/* ---- buddy lists (global lock held) --------------------------------------------------- */

/*
 * The dense run, copied into locals by the loops that follow links: every record store is
 * an atomic one, after which the compiler would load the globals again.
 */
struct dense {
	uint64_t first, frames;
	struct page_info *infos;
};

static inline struct dense dense_now(void)
{
	return (struct dense){ frame_dense_first_pfn, frame_dense_frames, frame_dense_infos };
}

/* rec() of frame number pfn, with the dense run in locals. */
static inline __attribute__((always_inline)) struct page_info *drec_pfn(const struct dense *d,
									 uint64_t pfn)
{
	uint64_t i = pfn - d->first;

	if (__builtin_expect(i < d->frames, 1))
		return d->infos + i;
	return rec_slow(pfn << PAGE_SHIFT);
}

/* rec() with the dense run in locals. */
static inline __attribute__((always_inline)) struct page_info *drec(const struct dense *d, paddr_t pa)
{
	return drec_pfn(d, pa >> PAGE_SHIFT);
}

/* Push free block f of order k, whose head record is r. Inlined into the merge loop: it runs
 * once per give. */
static inline __attribute__((always_inline)) void push_block(const struct dense *d, unsigned k,
							     paddr_t f, struct page_info *r)
{
	paddr_t head = ST.heads[k];

	rec_set(r, 0, page_free_meta(k, head >> PAGE_SHIFT));
	if (head)
		rec_set_rc(drec(d, head), (uint32_t)(f >> PAGE_SHIFT));
	else
		ST.nonempty |= 1u << k;
	ST.heads[k] = f;
}

void list_push(unsigned k, paddr_t f, struct page_info *r)
{
	struct dense d = dense_now();

	push_block(&d, k, f, r);
}

/* Take the free block whose head record is r off list k (its record is left as is). The
 * neighbours' link words are stored, not read first (page_info.h). */
static inline __attribute__((always_inline)) void list_unlink(const struct dense *d, unsigned k,
							      struct page_info *r)
{
	uint64_t prev = rec_rc(r), next = page_meta_next(rec_meta(r));

	if (prev) {
		rec_set_meta(drec_pfn(d, prev), page_free_meta(k, next));
	} else {
		ST.heads[k] = next << PAGE_SHIFT;
		if (!next)
			ST.nonempty &= ~(1u << k);
	}
	if (next)
		rec_set_rc(drec_pfn(d, next), (uint32_t)prev);
}

/* Remove free block f of order k from its list and split it down to `order`, keeping the low
 * half; returns f's record. The head record of the result is left as is: the caller writes
 * its new state. */
static struct page_info *take_block(unsigned k, paddr_t f, unsigned order)
{
	struct dense d = dense_now();
	struct page_info *r = drec(&d, f);

	list_unlink(&d, k, r);
	while (k > order) {
		k--;
		/* a block lies inside one section, whose records are consecutive (A6) */
		push_block(&d, k, f + (PAGE_SIZE << k), r + (1ULL << k));
	}
	buddy_free_add(-(int64_t)(1ULL << order));
	return r;
}

struct page_info *buddy_take(unsigned order, paddr_t *f)
{
	uint32_t avail = ST.nonempty >> order;
	if (!avail)
		return NULL;
	unsigned k = order + (unsigned)__builtin_ctz(avail);
	*f = ST.heads[k];
	return take_block(k, *f, order);
}

struct page_info *buddy_take_lowest(unsigned order, paddr_t *f)
{
	paddr_t best = 0;
	unsigned best_k = 0;

	for (unsigned k = order; k < FRAME_ORDER_COUNT; k++)
		for (paddr_t f = ST.heads[k]; f; f = page_meta_next(rec_meta(rec(f))) << PAGE_SHIFT)
			if (!best || f < best) {
				best = f;
				best_k = k;
			}
	if (!best)
		return NULL;
	*f = best;
	return take_block(best_k, best, order);
}

/* Merge the block (f, order), head record r, with its free buddies and push the result; the
 * caller counts its frames in buddy_free. */
static inline __attribute__((always_inline)) void merge_push(const struct dense *d, paddr_t f,
							     struct page_info *r, unsigned order)
{
	/* in frame numbers, the sizes and the record state wanted kept from level to level */
	uint64_t pfn = f >> PAGE_SHIFT, step = 1ULL << order;
	uint32_t want = PAGE_META(PAGE_STATE_FREE, order);

	for (; order < FRAME_MAX_ORDER; order++, step <<= 1, want++) {
		uint64_t bpfn = pfn ^ step, i = bpfn - d->first;
		struct page_info *rb;

		if (__builtin_expect(i < d->frames, 1)) {
			rb = d->infos + i;
		} else {
			/* the buddy may lie outside managed memory: no record, no merge */
			rb = buddy_rec_slow(bpfn << PAGE_SHIFT);
			if (!rb)
				break;
		}
		if ((rec_meta(rb) & PAGE_META_HEAD_MASK) != want)
			break;
		list_unlink(d, order, rb);
		/* The upper head becomes interior; the lower one is rewritten by the push. Which
		 * of the two is lower is a coin toss when frees come in random order, so it is
		 * found by arithmetic, not a branch: a block and its buddy lie in one section,
		 * whose records are consecutive (A6). */
		uint64_t lower = pfn & bpfn;
		r -= pfn - lower;
		pfn = lower;
		rec_set(r + step, 0, 0);
	}
	push_block(d, order, pfn << PAGE_SHIFT, r);
}

void buddy_give(paddr_t f, struct page_info *r, unsigned order)
{
	struct dense d = dense_now();

	buddy_free_add((int64_t)(1ULL << order));
	merge_push(&d, f, r, order);
}

/*
 * Ask for the records of the order-3, 4 and 5 buddies of frame f (64, 128 and 256 bytes from
 * f's record: other cache lines; those of orders 0..2 lie within 56 bytes of it) before the
 * merge reads them. A drain knows its frames in advance, and one of frames freed in random
 * order would otherwise wait for a miss at each level it merges.
 */
static inline void prefetch_buddies(const struct dense *d, paddr_t f)
{
	uint64_t i = (f >> PAGE_SHIFT) - d->first;

	if ((i | 63) < d->frames) {
		arch_prefetch(d->infos + (i ^ 8));
		arch_prefetch(d->infos + (i ^ 16));
		arch_prefetch(d->infos + (i ^ 32));
	}
}

/* How many frames ahead buddy_give_frames prefetches: enough for a miss to arrive. */
#define GIVE_PREFETCH_AHEAD 8

/* r, the record of frame f being drained, must be CACHED with order 0. */
static inline void check_cached(paddr_t f, struct page_info *r)
{
	KASSERT(rec_meta(r) == PAGE_META(PAGE_STATE_CACHED, 0),
		"frame: cached frame %#llx has record meta %#x", (unsigned long long)f, rec_meta(r));
}

/*
 * Give back the run of n > 1 consecutive cached frames from f as its maximal naturally
 * aligned blocks: one merge per block instead of one per frame. Frames freed in address
 * order (an exit, an munmap) come to a drain as such runs. The result is the one the frames
 * one at a time would give: merging is order-blind.
 */
static void give_run(const struct dense *d, paddr_t f, uint32_t n)
{
	while (n) {
		unsigned k = aligned_block_order(f, n);
		uint64_t len = 1ULL << k;
		struct page_info *r = drec(d, f);

		check_cached(f, r);
		/* a block lies inside one section, whose records are consecutive (A6) */
		for (uint64_t j = 1; j < len; j++) {
			check_cached(f + j * PAGE_SIZE, r + j);
			rec_set(r + j, 0, 0);
		}
		merge_push(d, f, r, k);
		f += len << PAGE_SHIFT;
		n -= (uint32_t)len;
	}
}

void buddy_give_frames(const uint32_t *pfn, uint32_t n)
{
	struct dense d = dense_now();

	for (uint32_t i = 0; i < n;) {
		paddr_t f = (paddr_t)pfn[i] << PAGE_SHIFT;
		uint32_t run = 1;

		if (i + GIVE_PREFETCH_AHEAD < n)
			prefetch_buddies(&d, (paddr_t)pfn[i + GIVE_PREFETCH_AHEAD] << PAGE_SHIFT);
		while (i + run < n && pfn[i + run] == pfn[i] + run)
			run++;
		if (__builtin_expect(run > 1, 0)) {
			give_run(&d, f, run);
		} else {
			struct page_info *r = drec(&d, f);

			check_cached(f, r);
			merge_push(&d, f, r, 0);
		}
		i += run;
	}
	buddy_free_add(n);
}
