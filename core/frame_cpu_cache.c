/*
 * The per-CPU caches of the frame allocator (order-0 frames, and small stacks of blocks of
 * orders 1 .. FRAME_CACHED_ORDERS - 1) and the protocol that lets another CPU take one
 * (drain, audit). See frame_alloc_state.h for the cache's fields and lock order.
 *
 * Per-CPU caches: owned by their CPU, no locked instruction on the owner's path.
 * The order-0 fast path (allocate_frame, deallocate_frame) runs on the calling CPU's cache
 * only, like Linux's per-CPU page lists, whose owner disables interrupts instead of locking.
 * A cache has two flags, busy (written only by its owner) and stop (written only under
 * drain_lock; "stop" below means its CACHE_FROZEN bit). The handshake is Dekker's, with the
 * expensive half moved to the rare side:
 *
 *   owner (every operation)                 remote (drain, audit: frame_cpu_caches_freeze)
 *   busy = 1            (plain store)       take drain_lock
 *   compiler barrier                        stop = 1                 (plain store)
 *   if stop (acquire load):                 plat_barrier_all_cpus()  (IPI / membarrier)
 *       busy = 0 (release), wait for        wait until busy == 0     (acquire loads)
 *       drain_lock, retry                   ... use the cache ...
 *   ... use the cache ...                   stop = 0                 (release store)
 *   busy = 0            (release store)     release drain_lock
 *
 * Why it excludes: the owner's store-then-load has no fence, so the processor may perform
 * the load before the store is visible. plat_barrier_all_cpus makes the owner execute a full
 * barrier somewhere during the remote's call. If that barrier comes after the owner's load
 * of stop, the owner's busy = 1 preceded it and is visible when the remote reads busy, so the
 * remote waits for the owner's release of busy. If it comes before the load, the remote's
 * stop = 1 (stored before the call) is visible to the load, so the owner backs off without
 * touching the cache. Either way at most one side works on the cache, and the data hand-over
 * is a release/acquire pair on busy (owner -> remote) or stop (remote -> owner), which is
 * also what makes it visible to ThreadSanitizer. The owner pays two plain stores and a load;
 * a remote drain pays one barrier for all caches it takes, and none at all when it only
 * takes its own CPU's cache (its owner is the caller, who is not inside the fast path).
 *
 * The fast paths do not test plat_trace_on either: frame_alloc_trace_changed sets
 * CACHE_TRACED in every stop word while tracing is on, which sends the owner to the slow
 * paths, and they trace.
 *
 * Requirements: at most one thread runs as a given CPU at a time (as on a real CPU with
 * preemption off), and an interrupt handler on a CPU never interrupts that CPU's fast path
 * (mmsim delivers interrupts only at interrupt windows). Plain pthreads that act as CPUs
 * through host_set_current_cpu (tests) satisfy both; no IPI delivery is needed.
 */
#include "frame_cpu_cache.h"

#include "arch/x86_64/cpu_ops.h"
#include "lockdep.h"

#define KTRACE_KIND TRACE_FRAME

struct frame_cpu_cache frame_cpu_caches[FRAME_MAX_CPUS];

#define ST frame_alloc_state

/* Fill an empty cache with up to a batch of frames, largest blocks first. The caller works
 * on the cache (its owner inside the fast path, or a remote that froze it). */
static __attribute__((noinline)) uint32_t cache_refill(struct frame_cpu_cache *c)
{
	uint32_t n = 0, batch = (cache_cap(0) + 1) / 2;
	uint32_t *stack = cache_stack(c, 0);

	kspin_lock(&ST.lock);
	while (n < batch && ST.nonempty) {
		unsigned o = floor_log2(batch - n);
		if (!(ST.nonempty >> o))
			o = floor_log2(ST.nonempty);
		paddr_t f;
		struct page_info *r = buddy_take(o, &f);
		/* push high to low so that pops hand out ascending addresses */
		for (uint64_t i = 1ULL << o; i-- > 0;) {
			rec_set(r + i, RC_USED, PAGE_META(PAGE_STATE_CACHED, 0));
			stack[n++] = (uint32_t)((f >> PAGE_SHIFT) + i);
		}
	}
	cache_set_count(c, 0, n);
	kspin_unlock(&ST.lock);
	return n;
}

/* Return the `how_many` oldest frames of a cache the caller works on to the buddy lists. */
static __attribute__((noinline)) void cache_drain(struct frame_cpu_cache *c, uint32_t how_many)
{
	uint32_t n = cache_count(c, 0);
	uint32_t m = how_many < n ? how_many : n;
	uint32_t *stack = cache_stack(c, 0);

	if (!m)
		return;
	kspin_lock(&ST.lock);
	buddy_give_frames(stack, m);
	for (uint32_t i = m; i < n; i++)
		stack[i - m] = stack[i];
	cache_set_count(c, 0, n - m);
	kspin_unlock(&ST.lock);
}

/* ---- orders 1 .. FRAME_CACHED_ORDERS - 1 ---- */

/* Fill the empty order-k stack of a cache the caller works on with up to half its capacity
 * (at least one block); returns how many it got. */
static uint32_t hi_refill(struct frame_cpu_cache *c, unsigned k)
{
	uint32_t want = (cache_cap(k) + 1) / 2, n = 0;
	uint32_t *stack = cache_stack(c, k);

	kspin_lock(&ST.lock);
	for (; n < want; n++) {
		paddr_t f;
		struct page_info *r = buddy_take(k, &f);
		if (!r)
			break;
		rec_set(r, RC_USED, PAGE_META(PAGE_STATE_CACHED, k));
		stack[n] = (uint32_t)(f >> PAGE_SHIFT);
	}
	/* the first block taken on top: pops hand them out in the order the lists gave them */
	for (uint32_t i = 0; i < n / 2; i++) {
		uint32_t t = stack[i];
		stack[i] = stack[n - 1 - i];
		stack[n - 1 - i] = t;
	}
	cache_set_count(c, k, n);
	kspin_unlock(&ST.lock);
	return n;
}

/* Return the `how_many` oldest order-k blocks of a cache the caller works on. */
static void hi_drain(struct frame_cpu_cache *c, unsigned k, uint32_t how_many)
{
	uint32_t n = cache_count(c, k);
	uint32_t m = how_many < n ? how_many : n;
	uint32_t *stack = cache_stack(c, k);

	if (!m)
		return;
	kspin_lock(&ST.lock);
	for (uint32_t i = 0; i < m; i++) {
		paddr_t f = (paddr_t)stack[i] << PAGE_SHIFT;
		struct page_info *r = rec(f);
		KASSERT(rec_meta(r) == PAGE_META(PAGE_STATE_CACHED, k),
			"frame: cached block %#llx order %u has record meta %#x", (unsigned long long)f,
			k, rec_meta(r));
		buddy_give(f, r, k);
	}
	for (uint32_t i = m; i < n; i++)
		stack[i - m] = stack[i];
	cache_set_count(c, k, n - m);
	kspin_unlock(&ST.lock);
}

paddr_t hi_cache_alloc_slow(struct frame_cpu_cache *c, unsigned k)
{
	uint32_t n = cache_cap(k) ? hi_refill(c, k) : 0;

	if (!n) {
		cache_leave(c);
		return 0;
	}
	return cache_pop(c, k, cache_top(c, k) - 1);
}

bool hi_cache_free_slow(struct frame_cpu_cache *c, paddr_t f, struct page_info *r, unsigned k)
{
	if (!cache_cap(k)) {
		cache_leave(c);
		return false;
	}
	hi_drain(c, k, (cache_cap(k) + 1) / 2);
	cache_push(c, k, cache_top(c, k), f, r);
	return true;
}

/* Frames a cache holds, all orders. */
static uint64_t cache_frames(struct frame_cpu_cache *c)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < FRAME_CACHED_ORDERS; k++)
		n += (uint64_t)cache_count(c, k) << k;
	return n;
}

void cache_wait_remote(struct frame_cpu_cache *c)
{
	cache_leave(c);
	kspin_lock(&ST.drain_lock);
	kspin_unlock(&ST.drain_lock);
}

paddr_t cache_alloc_slow(struct frame_cpu_cache *c)
{
	uint32_t n = cache_refill(c);
	if (!n) {
		cache_leave(c);
		return 0;
	}
	return cache_pop(c, 0, cache_top(c, 0) - 1);
}

void cache_free_slow(struct frame_cpu_cache *c, paddr_t f, struct page_info *r)
{
	cache_drain(c, (cache_cap(0) + 1) / 2);
	cache_push(c, 0, cache_top(c, 0), f, r);
}

uint64_t free_frames_estimate(void)
{
	unsigned ncpu = plat_cpu_count() < FRAME_MAX_CPUS ? plat_cpu_count() : FRAME_MAX_CPUS;
	uint64_t n = atomic_load_explicit(&ST.buddy_free, memory_order_relaxed);

	for (unsigned i = 0; i < ncpu; i++)
		n += cache_frames(&frame_cpu_caches[i]);
	return n;
}

uint64_t free_frames_lower_bound(void)
{
	return atomic_load_explicit(&ST.buddy_free, memory_order_relaxed);
}

uint64_t cached_frames(void)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++)
		sum += cache_frames(&frame_cpu_caches[i]);
	return sum;
}

uint64_t frame_cpu_caches_freeze(bool all)
{
	unsigned self = plat_cpu_id();
	uint64_t frozen = 0;

	kspin_lock(&ST.drain_lock);
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++) {
		struct frame_cpu_cache *c = &frame_cpu_caches[i];
		if (!all && !cache_frames(c))
			continue;
		atomic_store_explicit(&c->stop,
				      atomic_load_explicit(&c->stop, memory_order_relaxed) |
					      CACHE_FROZEN | CACHE_SLOW,
				      memory_order_relaxed);
		frozen |= 1ULL << i;
	}
	/* The caller's own cache has no other user: no barrier needed for it alone. */
	if (frozen & ~(self < FRAME_MAX_CPUS ? 1ULL << self : 0)) {
		lockdep_might_wait("the all-cpu barrier");
		plat_barrier_all_cpus();
	}
	for (uint64_t m = frozen; m; m &= m - 1) {
		struct frame_cpu_cache *c = &frame_cpu_caches[__builtin_ctzll(m)];
		while (atomic_load_explicit(&c->busy, memory_order_acquire))
			arch_pause();
	}
	return frozen;
}

void frame_cpu_caches_thaw(uint64_t frozen)
{
	for (uint64_t m = frozen; m; m &= m - 1) {
		struct frame_cpu_cache *c = &frame_cpu_caches[__builtin_ctzll(m)];
		uint32_t stop = atomic_load_explicit(&c->stop, memory_order_relaxed);
		atomic_store_explicit(&c->stop, stop_word(stop & CACHE_TRACED), memory_order_release);
	}
	kspin_unlock(&ST.drain_lock);
}

void frame_alloc_trace_changed(void)
{
	if (!ST.locks_ready)
		return;
	kspin_lock(&ST.drain_lock);
	/* release: an owner that sees CACHE_TRACED also sees the new plat_trace_on */
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++)
		atomic_store_explicit(&frame_cpu_caches[i].stop,
				      stop_word(plat_trace_on || plat_frame_events), memory_order_release);
	kspin_unlock(&ST.drain_lock);
}

void frame_alloc_drain_cpu_caches(void)
{
	if (!ST.locks_ready)
		return;
	uint64_t frozen = frame_cpu_caches_freeze(false);

	for (uint64_t m = frozen; m; m &= m - 1) {
		struct frame_cpu_cache *c = &frame_cpu_caches[__builtin_ctzll(m)];
		cache_drain(c, FRAME_CPU_CACHE_CAPACITY);
		for (unsigned k = 1; k < FRAME_CACHED_ORDERS; k++)
			hi_drain(c, k, FRAME_CPU_CACHE_HI_CAPACITY);
	}
	frame_cpu_caches_thaw(frozen);
	KTRACE("frame: drained per-CPU caches");
}

