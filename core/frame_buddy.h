/*
 * The frame allocator's records and buddy lists, shared by its files (frame_buddy.c,
 * frame_cpu_cache.c, frame_free_batch.c, frame_alloc_init.c, frame_alloc.c) and nobody else.
 * The lists are under frame_alloc_state.lock (see frame_alloc_state.h).
 */
#ifndef MMSIM_CORE_FRAME_BUDDY_H
#define MMSIM_CORE_FRAME_BUDDY_H

#include "frame_alloc.h"
#include "frame_alloc_state.h"
#include "frame_section.h"
#include "page_info.h"
#include "platform.h"

/* Under ST.lock: the only writer, so a relaxed load and store never lose an update, and
 * free_frames_estimate may read the counter without the lock. */
static inline void buddy_free_add(int64_t delta)
{
	atomic_store_explicit(&frame_alloc_state.buddy_free,
			      atomic_load_explicit(&frame_alloc_state.buddy_free, memory_order_relaxed) +
				      (uint64_t)delta,
			      memory_order_relaxed);
}

/* rec off the dense run: the section table; no record means the lists are corrupt (panics). */
struct page_info *rec_slow(paddr_t pa);

/* Record of a frame known to be managed (a buddy list link or head). The dense run inline,
 * without a null test (it runs for every link a list operation follows). */
static inline struct page_info *rec(paddr_t pa)
{
	uint64_t i = (pa >> PAGE_SHIFT) - frame_dense_first_pfn;

	if (__builtin_expect(i < frame_dense_frames, 1))
		return frame_dense_infos + i;
	return rec_slow(pa);
}

static inline void rec_set(struct page_info *r, uint32_t rc, uint32_t meta)
{
	atomic_store_explicit(&r->rc, rc, memory_order_relaxed);
	atomic_store_explicit(&r->meta, meta, memory_order_relaxed);
}

static inline void rec_set_meta(struct page_info *r, uint32_t meta)
{
	atomic_store_explicit(&r->meta, meta, memory_order_relaxed);
}

static inline void rec_set_rc(struct page_info *r, uint32_t rc)
{
	atomic_store_explicit(&r->rc, rc, memory_order_relaxed);
}

static inline uint32_t rec_rc(struct page_info *r)
{
	return atomic_load_explicit(&r->rc, memory_order_relaxed);
}

/* A record's two words as one (page_info.word), e.g. to store or compare with one access. */
static inline uint64_t rec_word(uint32_t rc, uint32_t meta)
{
	return (uint64_t)rc << 32 | meta;
}

static inline void rec_set_word(struct page_info *r, uint64_t word)
{
	atomic_store_explicit(&r->word, word, memory_order_relaxed);
}

static inline uint64_t rec_load_word(struct page_info *r)
{
	return atomic_load_explicit(&r->word, memory_order_relaxed);
}

static inline uint32_t rec_meta(struct page_info *r)
{
	return atomic_load_explicit(&r->meta, memory_order_relaxed);
}

static inline unsigned floor_log2(uint32_t x)
{
	return 31u - (unsigned)__builtin_clz(x);
}

/* The largest order of a naturally aligned block at frame f with at most n frames. */
static inline unsigned aligned_block_order(paddr_t f, size_t n)
{
	const size_t max_block = (size_t)1 << FRAME_MAX_ORDER;
	uint64_t pfn = f >> PAGE_SHIFT;
	unsigned k = floor_log2((uint32_t)(n < max_block ? n : max_block));

	if (pfn && (unsigned)__builtin_ctzll(pfn) < k)
		k = (unsigned)__builtin_ctzll(pfn);
	return k;
}

/* ---- buddy lists (frame_buddy.c; global lock held) ---- */

/* Push free block f of order k, whose head record is r. */
void list_push(unsigned k, paddr_t f, struct page_info *r);
/* Take a block of `order`: its head record, and the block in *f; NULL if there is none. */
struct page_info *buddy_take(unsigned order, paddr_t *f);
/* The lowest-addressed block that can hold `order` (FRAME_STRATEGY_LOWEST). */
struct page_info *buddy_take_lowest(unsigned order, paddr_t *f);
/* Give the block (f, order), whose head record is r, back and merge it with free buddies.
 * The head record may hold anything (USED, CACHED): it is cleared here. */
void buddy_give(paddr_t f, struct page_info *r, unsigned order);
/* Give n order-0 frames back (frame numbers pfn[i], each checked CACHED): a drain of a CPU
 * cache. A run of consecutive frames goes back as its maximal aligned blocks, anything else a
 * frame at a time. */
void buddy_give_frames(const uint32_t *pfn, uint32_t n);

/* ---- checks of a free (frame_alloc.c) ---- */

/* Explain why (f, order) cannot be freed. Cold: only reached on a kernel bug. */
_Noreturn void free_misuse(paddr_t f, unsigned order, struct page_info *r);

/* r must be the record of an allocated, unreferenced block of `order` at f being freed;
 * panics on every misuse. */
static inline void check_free_target(paddr_t f, unsigned order, struct page_info *r)
{
	/* meta and count folded into one word: one branch instead of two (deallocate_frames runs
	 * this once per frame) */
	if (__builtin_expect(!r || order > FRAME_MAX_ORDER ||
				     ((rec_meta(r) ^ PAGE_META(PAGE_STATE_USED, order)) |
				      (rec_rc(r) & RC_COUNT_MASK)),
			     0))
		free_misuse(f, order, r);
}

/* The record of such a block, checked. */
static inline struct page_info *checked_free_target(paddr_t f, unsigned order)
{
	struct page_info *r = frame_record(f);

	check_free_target(f, order, r);
	return r;
}

#endif
