/*
 * The frame allocator's entry points: allocation, deallocation and accounting. See
 * frame_alloc.h for the contract. The allocator's pieces: the buddy lists (frame_buddy.c),
 * the per-CPU order-0 caches and their protocol (frame_cpu_cache.c), batch free
 * (frame_free_batch.c) and initialisation (frame_alloc_init.c).
 */
#include "frame_alloc.h"

#include "frame_cpu_cache.h"
#include "kstring.h"
#include "lockdep.h"

#define KTRACE_KIND TRACE_FRAME

#define ST frame_alloc_state

/* ---- allocation ----------------------------------------------------------------------- */

static paddr_t alloc_from_buddy(unsigned order, enum frame_strategy strategy)
{
	kspin_lock(&ST.lock);
	paddr_t f = 0;
	struct page_info *r = strategy == FRAME_STRATEGY_LOWEST ? buddy_take_lowest(order, &f)
								 : buddy_take(order, &f);
	if (r)
		rec_set(r, RC_USED, PAGE_META(PAGE_STATE_USED, order));
	kspin_unlock(&ST.lock);
	return f;
}

frame_t allocate_p2frame_complex(unsigned req_order, unsigned flags, enum frame_strategy strategy,
				 unsigned min_order, unsigned *got_order)
{
	KASSERT(req_order <= FRAME_MAX_ORDER && min_order <= req_order,
		"frame: bad orders req %u min %u", req_order, min_order);
	KASSERT(!(flags & ~FRAME_ZERO), "frame: unknown flags %#x", flags);
	KASSERT(strategy == FRAME_STRATEGY_FAST || strategy == FRAME_STRATEGY_LOWEST,
		"frame: unknown strategy %d", (int)strategy);
	KASSERT(ST.ready, "frame: allocation before frame_alloc_init");
	lockdep_might_sleep("a frame allocation"); /* it may drain the CPU caches (a barrier) */

	for (int attempt = 0; attempt < 2; attempt++) {
		for (unsigned o = req_order + 1; o-- > min_order;) {
			paddr_t f = 0;
			if (strategy == FRAME_STRATEGY_FAST && o < FRAME_CACHED_ORDERS)
				f = o ? hi_cache_alloc(o) : cache_alloc();
			/* (an order-0 cache refills itself from the lists) */
			if (!f && (o || strategy != FRAME_STRATEGY_FAST))
				f = alloc_from_buddy(o, strategy);
			if (!f)
				continue;
			if (flags & FRAME_ZERO)
				kmemset(phys_to_virt(f), 0, (size_t)(PAGE_SIZE << o));
			if (got_order)
				*got_order = o;
			KTRACE("frame: alloc %#llx order %u", (unsigned long long)f, o);
			KFRAME_EVENT(FRAME_EVENT_ALLOC, f, o);
			return (frame_t){ f };
		}
		if (!cached_frames())
			break;
		frame_alloc_drain_cpu_caches();
	}
	KTRACE("frame: alloc order %u..%u failed: out of memory", req_order, min_order);
	return FRAME_NONE;
}

/* Everything allocate_frame does not do inline: a frozen or empty cache. */
static __attribute__((noinline)) frame_t allocate_frame_slow(void)
{
	paddr_t f = cache_alloc();
	if (__builtin_expect(!f, 0))
		return allocate_p2frame_complex(0, 0, FRAME_STRATEGY_FAST, 0, NULL);
	KTRACE("frame: alloc %#llx order 0", (unsigned long long)f);
	KFRAME_EVENT(FRAME_EVENT_ALLOC, f, 0);
	return (frame_t){ f };
}

/* The order-0 fast path (frame_cpu_cache.h); every way off it is a tail call that starts
 * over, so the common case runs as a leaf function (no callee-saved registers, no frame). */
frame_t allocate_frame(void)
{
	uint64_t pfn;

	if (__builtin_expect(!frame_alloc_fast(0, &pfn), 0))
		return allocate_frame_slow();
	return (frame_t){ pfn << PAGE_SHIFT };
}

frame_t allocate_zeroed_frame(void)
{
	return allocate_p2frame_complex(0, FRAME_ZERO, FRAME_STRATEGY_FAST, 0, NULL);
}

/* Everything allocate_p2frame does not do inline: an order that is not cached, a traced,
 * frozen or empty stack, exhaustion, a bad order (panics in allocate_p2frame_complex). */
static __attribute__((noinline)) frame_t allocate_p2frame_slow(unsigned order)
{
	if (order == 0)
		return allocate_frame_slow();
	if (__builtin_expect(order <= FRAME_MAX_ORDER, 1)) {
		paddr_t f = order < FRAME_CACHED_ORDERS ? hi_cache_alloc(order) : 0;
		if (!f)
			f = alloc_from_buddy(order, FRAME_STRATEGY_FAST);
		if (__builtin_expect(f != 0, 1)) {
			KTRACE("frame: alloc %#llx order %u", (unsigned long long)f, order);
			KFRAME_EVENT(FRAME_EVENT_ALLOC, f, order);
			return (frame_t){ f };
		}
	}
	return allocate_p2frame_complex(order, 0, FRAME_STRATEGY_FAST, order, NULL);
}

/*
 * A block of exactly `order`: from this CPU's cache up to FRAME_CACHED_ORDERS - 1 (the inline
 * fast path, frame_cpu_cache.h), else straight from the buddy lists; allocate_p2frame_complex
 * (its checks, the drain of the CPU caches before giving up) only when neither has a block
 * that large. Every way off the fast path is a tail call, so that the common case runs as a
 * leaf function.
 */
frame_t allocate_p2frame(unsigned order)
{
	uint64_t pfn;

	if (__builtin_expect(order > FRAME_MAX_ORDER || !frame_alloc_fast(order, &pfn), 0))
		return allocate_p2frame_slow(order);
	return (frame_t){ pfn << PAGE_SHIFT };
}

/* ---- deallocation --------------------------------------------------------------------- */

static const char *const state_names[] = { "interior", "free", "used", "cached", "metadata",
					   "absent" };

static const char *state_name(uint32_t meta)
{
	unsigned s = page_meta_state(meta);
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "corrupt";
}

/* Explain why (f, order) cannot be freed. Cold: only reached on a kernel bug. */
_Noreturn __attribute__((noinline, cold)) void free_misuse(paddr_t f, unsigned order, struct page_info *r)
{
	if (!r || order > FRAME_MAX_ORDER)
		plat_panic("frame: free of unmanaged frame %#llx (order %u)", (unsigned long long)f, order);
	uint32_t w = rec_meta(r);
	enum page_state state = page_meta_state(w);
	if (state == PAGE_STATE_USED && (w & PAGE_META_ORDER_MASK) != order)
		plat_panic("frame: wrong-order free of %#llx: allocated order %u, freed as order %u",
			   (unsigned long long)f, (unsigned)(w & PAGE_META_ORDER_MASK), order);
	if (state == PAGE_STATE_FREE || state == PAGE_STATE_CACHED)
		plat_panic("frame: double free of %#llx order %u (frame is %s)", (unsigned long long)f,
			   order, state_name(w));
	if (w == 0)
		plat_panic("frame: free of interior frame %#llx order %u: not a block head "
			   "(inside a block, or a double free after merging)",
			   (unsigned long long)f, order);
	if (state == PAGE_STATE_USED)
		plat_panic("frame: free of %#llx which still has %llu references", (unsigned long long)f,
			   (unsigned long long)(rec_rc(r) & RC_COUNT_MASK));
	plat_panic("frame: free of %s frame %#llx order %u", state_name(w), (unsigned long long)f,
		   order);
}

/* deallocate_p2frame off its fast path: misuse (panics), tracing, an order that is not
 * cached, a frozen or full stack, a frame off the dense run. */
static __attribute__((noinline)) void deallocate_p2frame_slow(frame_t f, unsigned order)
{
	struct page_info *r = checked_free_target(f.base, order);

	KTRACE("frame: free %#llx order %u", (unsigned long long)f.base, order);
	KFRAME_EVENT(FRAME_EVENT_FREE, f.base, order);
	if (order == 0) {
		cache_free(this_cpu_cache(), f.base, r);
		return;
	}
	if (order < FRAME_CACHED_ORDERS && hi_cache_free(f.base, r, order))
		return;
	kspin_lock(&ST.lock);
	KASSERT(rec_meta(r) == PAGE_META(PAGE_STATE_USED, order),
		"frame: concurrent double free of %#llx", (unsigned long long)f.base);
	buddy_give(f.base, r, order);
	kspin_unlock(&ST.lock);
}

/* The inline fast path of every cached order (frame_cpu_cache.h), anything else in
 * deallocate_p2frame_slow. */
void deallocate_p2frame(frame_t f, unsigned order)
{
	if (__builtin_expect(order > FRAME_MAX_ORDER || !frame_free_fast(f.base >> PAGE_SHIFT, order),
			     0))
		deallocate_p2frame_slow(f, order);
}

/* deallocate_frame off its fast path: misuse (panics), a frozen cache, a full cache. */
static __attribute__((noinline)) void deallocate_frame_slow(frame_t f)
{
	struct page_info *r = checked_free_target(f.base, 0);

	cache_free(this_cpu_cache(), f.base, r);
	KTRACE("frame: free %#llx order 0", (unsigned long long)f.base);
	KFRAME_EVENT(FRAME_EVENT_FREE, f.base, 0);
}

/* The order-0 fast path (frame_cpu_cache.h); anything else starts over in
 * deallocate_frame_slow. */
void deallocate_frame(frame_t f)
{
	if (__builtin_expect(!frame_free_fast(f.base >> PAGE_SHIFT, 0), 0))
		deallocate_frame_slow(f);
}

void frame_split_block(frame_t f, unsigned order)
{
	struct page_info *r = checked_free_target(f.base, order);

	for (uint64_t i = 1; i < (1ULL << order); i++) {
		KASSERT(rec_meta(r + i) == 0, "frame: stale interior record in block %#llx",
			(unsigned long long)f.base);
		rec_set(r + i, RC_USED, PAGE_META(PAGE_STATE_USED, 0));
	}
	rec_set(r, RC_USED, PAGE_META(PAGE_STATE_USED, 0));
	KTRACE("frame: split %#llx order %u into %llu frames", (unsigned long long)f.base, order,
	       (unsigned long long)(1ULL << order));
	KFRAME_EVENT(FRAME_EVENT_SPLIT, f.base, order);
}

/* ---- accounting ----------------------------------------------------------------------- */

uint64_t total_frames(void)
{
	return ST.total;
}

uint64_t metadata_frames(void)
{
	return ST.metadata;
}

uint64_t free_frames(void)
{
	kspin_lock(&ST.lock);
	uint64_t n = atomic_load_explicit(&ST.buddy_free, memory_order_relaxed);
	kspin_unlock(&ST.lock);
	return n + cached_frames();
}

uint64_t used_frames(void)
{
	return ST.total - free_frames();
}

