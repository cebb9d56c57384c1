/*
 * The owner's side of the per-CPU cache protocol (see frame_cpu_cache.c), inlined into the
 * allocator's paths. Shared by the frame allocator's files and, for the fast paths alone,
 * the allocator benchmark's adapter (bench/alloc/mmsim.c); nobody else.
 */
#ifndef MMSIM_CORE_FRAME_CPU_CACHE_H
#define MMSIM_CORE_FRAME_CPU_CACHE_H

#include "frame_buddy.h"

/* Slow halves of the owner's side (frame_cpu_cache.c). */
/* A remote CPU holds the cache: let go and wait for it (it holds drain_lock meanwhile). */
__attribute__((cold)) void cache_wait_remote(struct frame_cpu_cache *c);
/* The cache was empty: refill it (or find nothing) and pop. Entered; leaves. */
paddr_t cache_alloc_slow(struct frame_cpu_cache *c);
/* The cache was full: return its oldest batch to the buddy lists, then push. Entered; leaves. */
void cache_free_slow(struct frame_cpu_cache *c, paddr_t f, struct page_info *r);

static inline struct frame_cpu_cache *this_cpu_cache(void)
{
	unsigned cpu = plat_cpu_id();
	KASSERT(cpu < FRAME_MAX_CPUS, "frame: cpu %u >= FRAME_MAX_CPUS", cpu);
	return &frame_cpu_caches[cpu];
}

/*
 * this_cpu_cache for the fast paths. frame_alloc_init refuses more CPUs than
 * caches, so plat_cpu_id() < FRAME_MAX_CPUS by the platform's contract; the mask (one
 * instruction instead of a compare and a branch) keeps even a broken platform's id inside
 * the array.
 */
static inline struct frame_cpu_cache *fast_cpu_cache(void)
{
	struct frame_cpu_cache *c = &frame_cpu_caches[plat_cpu_id() & (FRAME_MAX_CPUS - 1)];

	/* Hide where c came from, so that the compiler addresses every field from one pointer
	 * instead of recomputing array base + cpu * 4 KiB + field for each (Linux's RELOC_HIDE). */
	__asm__("" : "+r"(c));
	return c;
}

/* Claim the caller's own cache (see the handshake at the top) and return its stop word:
 * CACHE_SLOW is set if the owner must take the slow path. */
static inline uint32_t cache_claim(struct frame_cpu_cache *c)
{
	atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return atomic_load_explicit(&c->stop, memory_order_acquire);
}

/* cache_claim for the slow paths: false if a remote CPU has the cache. */
static inline bool cache_enter(struct frame_cpu_cache *c)
{
	return __builtin_expect(!(cache_claim(c) & CACHE_FROZEN), 1);
}

static inline void cache_leave(struct frame_cpu_cache *c)
{
	atomic_store_explicit(&c->busy, 0, memory_order_release);
}

/* Pop slot t (top[k] - 1) of the caller's non-empty order-k stack and mark its block used
 * (its rc is already RC_USED: see page_info.h); leaves. */
static inline paddr_t cache_pop(struct frame_cpu_cache *c, unsigned k, uint32_t t)
{
	paddr_t f = (paddr_t)c->slot[t] << PAGE_SHIFT;

	rec_set_meta(rec(f), PAGE_META(PAGE_STATE_USED, k));
	atomic_store_explicit(&c->top[k], t, memory_order_relaxed);
	cache_leave(c);
	return f;
}

/* Push the order-k block f, whose record r is USED with rc exactly RC_USED, in slot t
 * (top[k], below lim[k]) of the caller's stack of that order; leaves. */
static inline void cache_push(struct frame_cpu_cache *c, unsigned k, uint32_t t, paddr_t f,
			      struct page_info *r)
{
	rec_set_meta(r, PAGE_META(PAGE_STATE_CACHED, k));
	c->slot[t] = (uint32_t)(f >> PAGE_SHIFT);
	atomic_store_explicit(&c->top[k], t + 1, memory_order_relaxed);
	cache_leave(c);
}

/* An order-0 frame from this CPU's cache (refilled from the lists if empty; a frozen cache
 * is waited for), or 0. */
static inline paddr_t cache_alloc(void)
{
	struct frame_cpu_cache *c = this_cpu_cache();

	while (__builtin_expect(!cache_enter(c), 0))
		cache_wait_remote(c);
	uint32_t t = cache_top(c, 0);
	if (__builtin_expect(t == FRAME_CACHE_STACK_BASE(0), 0))
		return cache_alloc_slow(c);
	return cache_pop(c, 0, t - 1);
}

/* Park the checked order-0 frame f (record r) on this CPU's cache, draining its oldest batch
 * first if it is full. */
static inline void cache_free(struct frame_cpu_cache *c, paddr_t f, struct page_info *r)
{
	/* drop a kind bit that outlived the last reference (cache_push wants exactly RC_USED) */
	rec_set_rc(r, RC_USED);
	while (__builtin_expect(!cache_enter(c), 0))
		cache_wait_remote(c);
	uint32_t t = cache_top(c, 0);
	if (__builtin_expect(t >= frame_alloc_state.lim[0], 0)) {
		cache_free_slow(c, f, r);
		return;
	}
	cache_push(c, 0, t, f, r);
}

/* The order-k stack was empty: refill it (if order k is cached) and pop. Entered; leaves. */
paddr_t hi_cache_alloc_slow(struct frame_cpu_cache *c, unsigned k);
/* The order-k stack was full: return its oldest half and push (false, nothing done, if order
 * k is not cached). Entered; leaves. */
bool hi_cache_free_slow(struct frame_cpu_cache *c, paddr_t f, struct page_info *r, unsigned k);

/* Orders 1 .. FRAME_CACHED_ORDERS - 1 off the fast paths. A traced or frozen cache is not
 * used at these orders at all: the caller takes the global lock instead (no wait for the
 * remote, and the trace shows every block as the buddy lists hand it out). */

/* A block of order k from this CPU's cache, or 0: the caller goes to the buddy lists. */
static inline paddr_t hi_cache_alloc(unsigned k)
{
	struct frame_cpu_cache *c = fast_cpu_cache();

	if (__builtin_expect(cache_claim(c) & CACHE_SLOW, 0)) {
		cache_leave(c);
		return 0;
	}
	uint32_t t = cache_top(c, k);
	if (__builtin_expect(t == FRAME_CACHE_STACK_BASE(k), 0))
		return hi_cache_alloc_slow(c, k);
	return cache_pop(c, k, t - 1);
}

/* Park the checked block (f, k), record r, on this CPU's cache; false if it was not taken
 * (the caller gives it to the buddy lists). */
static inline bool hi_cache_free(paddr_t f, struct page_info *r, unsigned k)
{
	struct frame_cpu_cache *c = fast_cpu_cache();

	if (__builtin_expect(cache_claim(c) & CACHE_SLOW, 0)) {
		cache_leave(c);
		return false;
	}
	/* drop a kind bit that outlived the last reference (cache_push wants exactly RC_USED) */
	rec_set_rc(r, RC_USED);
	uint32_t t = cache_top(c, k);
	if (__builtin_expect(t >= frame_alloc_state.lim[k], 0))
		return hi_cache_free_slow(c, f, r, k);
	cache_push(c, k, t, f, r);
	return true;
}

/*
 * The fast paths, inline, one for every order 0 .. FRAME_MAX_ORDER with no branch on the
 * order: a caller whose orders vary at random (a mix of sizes) would mispredict one. An
 * order that is not cached has an empty stack with no room. allocate_frame,
 * allocate_p2frame, deallocate_frame and deallocate_p2frame are made of them, and so is the
 * allocator benchmark's adapter (bench/alloc/mmsim.c), where an operation is then one call,
 * as for any other allocator. They take and give frame numbers, what the stacks hold.
 * The caller makes sure that k <= FRAME_MAX_ORDER.
 */

/* Pop a block of order k off this CPU's stack of that order into *pfn; false, nothing done,
 * if the cache is frozen or traced, the stack empty or its top block off the dense run (its
 * record is then a section lookup away: the slow path, so that this one calls nothing). */
static inline __attribute__((always_inline)) bool frame_alloc_fast(unsigned k, uint64_t *pfn)
{
	struct frame_cpu_cache *c = fast_cpu_cache();
	/* all ones if CACHE_SLOW (bit 31) is set, else 0 */
	uint64_t slow = (uint64_t)((int64_t)(int32_t)cache_claim(c) >> 63);
	uint32_t t = cache_top(c, k);
	/* A frozen or traced cache pops slot 0 instead, order 0's sentinel, which nobody writes
	 * after boot: a frozen cache's stacks are a remote CPU's to change meanwhile. */
	uint64_t p = c->slot[(uint64_t)(t - 1) & ~slow];
	uint64_t i = p - frame_dense_first_pfn;

	/* frozen or traced, empty (a sentinel, 2^32 - 1, is beyond any frame number) or off the
	 * dense run: one compare */
	if (__builtin_expect(i >= frame_dense_frames, 0)) {
		cache_leave(c);
		return false;
	}
	/* both words (the rc is RC_USED already): the free that comes next, often the very
	 * next operation, reads them in one load, which a store of one word could not forward */
	rec_set_word(&frame_dense_infos[i], rec_word(RC_USED, PAGE_META(PAGE_STATE_USED, k)));
	atomic_store_explicit(&c->top[k], t - 1, memory_order_relaxed);
	cache_leave(c);
	*pfn = p;
	return true;
}

/*
 * Push the block of frame number pfn and order k on this CPU's stack of that order after
 * the checks that catch a double free (the head must be USED: a FREE, CACHED or INTERIOR
 * record fails), a wrong order and references left (count 0); false, nothing done, for
 * anything else (misuse, a block off the dense run, a frozen or traced cache, a full stack,
 * an order this machine does not cache): the caller takes the slow path.
 */
static inline __attribute__((always_inline)) bool frame_free_fast(uint64_t pfn, unsigned k)
{
	uint64_t i = pfn - frame_dense_first_pfn;

	if (__builtin_expect(i >= frame_dense_frames, 0))
		return false;
	struct page_info *r = frame_dense_infos + i;
	/* USED with order k, rc exactly RC_USED (count 0, no kind bit: what cache_push wants) */
	if (__builtin_expect(rec_load_word(r) != rec_word(RC_USED, PAGE_META(PAGE_STATE_USED, k)), 0))
		return false;
	struct frame_cpu_cache *c = fast_cpu_cache();
	uint32_t stop = cache_claim(c);
	uint32_t t = cache_top(c, k);
	/* frozen or traced (CACHE_SLOW, bit 31 of stop, is above any lim) or full (an order
	 * not cached has no room): one compare */
	if (__builtin_expect((t | stop) >= frame_alloc_state.lim[k], 0)) {
		cache_leave(c);
		return false;
	}
	rec_set_meta(r, PAGE_META(PAGE_STATE_CACHED, k));
	c->slot[t] = (uint32_t)pfn;
	atomic_store_explicit(&c->top[k], t + 1, memory_order_relaxed);
	cache_leave(c);
	return true;
}

/* The stop word of an unfrozen cache: CACHE_TRACED (and CACHE_SLOW) while tracing is on or
 * frame events are recorded (platform.h). */
static inline uint32_t stop_word(bool traced)
{
	return traced ? CACHE_TRACED | CACHE_SLOW : 0;
}

#endif
