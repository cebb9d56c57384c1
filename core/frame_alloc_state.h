/*
 * The frame allocator's internal state, shared by its files and the audit (frame_audit.c);
 * outside core/ only the white-box tests (tests/core, the arena of tests/support) and the
 * frame-allocator fuzz target read it. Kernel code outside the allocator uses frame_alloc.h.
 *
 * Invariants (checked by frame_audit; docs/invariants.md names them):
 * - A1 heads[k] is the first block of the doubly linked list of free blocks of order k; bit k of
 *   nonempty is set iff heads[k] != 0.
 * - A5 buddy_free == sum over free blocks of 2^order; (caches) each cache holds at most
 *   cache_cap(k) blocks of order k in its order-k stack, all distinct, heads in state CACHED
 *   with order k (count 0, interior records zero), and a sentinel below each stack.
 * - A5 total == buddy_free + cached + allocated + metadata.
 * Locking: `lock` protects heads, nonempty, buddy_free and every FREE record. A CPU cache
 * belongs to its CPU, which uses it with plain loads and stores (busy/stop handshake, see
 * frame_cpu_cache.c); any other CPU reaches it only between frame_cpu_caches_freeze and
 * frame_cpu_caches_thaw. Lock order: drain_lock, then a CPU cache, then `lock`.
 */
#ifndef MMSIM_CORE_FRAME_ALLOC_STATE_H
#define MMSIM_CORE_FRAME_ALLOC_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame_alloc.h"
#include "klock.h"
#include "platform.h"

/*
 * A CPU cache keeps a stack of blocks for each order 0 .. FRAME_CACHED_ORDERS - 1, refilled
 * and drained by half its capacity (cache_cap(k)) at a time under one hold of
 * the global lock. The order-0 stack holds 1/256 (FRAME_CPU_CACHE_HI_SHARE) of the
 * machine's frames, at least FRAME_CPU_CACHE_MIN_CAPACITY and at most
 * FRAME_CPU_CACHE_CAPACITY. A larger cache reaches the buddy lists less often (a run of
 * frees or allocations has to be about as long as the cache), a small machine does not park
 * much of its memory in it.
 */
#define FRAME_CPU_CACHE_CAPACITY 255
#define FRAME_CPU_CACHE_MIN_CAPACITY 63
/*
 * Orders 1 .. FRAME_CACHED_ORDERS - 1 have a small stack each (the mixed-order paths then
 * take the global lock once per batch, not once per block). At most
 * FRAME_CPU_CACHE_HI_CAPACITY blocks each, fewer where that many would hold more than
 * 1/FRAME_CPU_CACHE_HI_SHARE of the machine's frames (cap 0: none at all for the large
 * orders of a small machine). Order FRAME_MAX_ORDER is never cached: its blocks
 * neither split nor merge. A stack is refilled and drained by half its capacity, so the
 * buddy lists see an order again only after a run of allocations or frees of that order
 * about as long as the capacity (a random walk's: the larger, the rarer).
 */
#define FRAME_CACHED_ORDERS FRAME_MAX_ORDER
#define FRAME_CPU_CACHE_HI_CAPACITY 28
#define FRAME_CPU_CACHE_HI_SHARE 256
/*
 * A cache has a stack for every order 0 .. FRAME_MAX_ORDER (order FRAME_MAX_ORDER's has
 * room for none), one after another in its slot array, order 0's first, each right above a
 * sentinel slot (FRAME_CACHE_SENTINEL). A stack holds frame numbers (below 2^24, see
 * FRAME_LINK_LIMIT: 32 bits are enough). Popping an empty stack reads its sentinel, which
 * is no frame of the dense run: the fast path's range test on the popped frame is its test
 * for an empty stack too, and no order needs a table of where its stack starts.
 */
#define FRAME_CACHE_STACK_BASE(k)                                                    \
	((k) ? 1 + FRAME_CPU_CACHE_CAPACITY + 1 + ((k) - 1) * (FRAME_CPU_CACHE_HI_CAPACITY + 1) \
	     : 1)
#define FRAME_CPU_CACHE_SLOTS FRAME_CACHE_STACK_BASE(FRAME_MAX_ORDER)
#define FRAME_CACHE_SENTINEL UINT32_MAX
/*
 * A cache's stop word: why its owner must leave the fast path. CACHE_FROZEN: a remote CPU
 * has the cache (frame_cpu_caches_freeze). CACHE_TRACED: tracing is on; the fast paths do
 * not read plat_trace_on, the slow paths trace. CACHE_SLOW (bit 31) is set iff one of the
 * others is, so that the fast paths test it together with the count in one sign test.
 * Written only under drain_lock.
 */
#define CACHE_FROZEN 1u
#define CACHE_TRACED 2u
#define CACHE_SLOW (1u << 31)

/*
 * 4 KiB per CPU, cache-line aligned, so indexing is a shift and CPUs share no line.
 * busy: written by the owner only (1 while it works on the cache); stop: written under
 * drain_lock (CACHE_FROZEN while a remote CPU works on the cache, see above); top: written
 * by whoever works on the cache, read by anyone (cached_frames). slots: touched only by
 * whoever works on it.
 */
struct frame_cpu_cache {
	_Alignas(64) _Atomic uint32_t busy;
	_Atomic uint32_t stop;
	/* the order-k stack is slot[FRAME_CACHE_STACK_BASE(k) .. top[k]), oldest first */
	_Atomic uint32_t top[FRAME_ORDER_COUNT];
	uint32_t slot[FRAME_CPU_CACHE_SLOTS];
	uint8_t pad[4096 - 8 - 4 * FRAME_ORDER_COUNT - 4 * FRAME_CPU_CACHE_SLOTS];
};
_Static_assert(sizeof(struct frame_cpu_cache) == 4096, "per-CPU cache is 4 KiB");

struct frame_alloc_state {
	struct kspin lock;       /* spin: the buddy lists; nothing allocated or waited for under it */
	struct kspin drain_lock; /* sleeping class: serialises remote access to the CPU caches,
				    held across the all-CPU barrier; taken before lock */
	paddr_t heads[FRAME_ORDER_COUNT];
	uint32_t nonempty;
	_Atomic uint64_t buddy_free; /* written under `lock` (relaxed: one writer); read
				      * without it only by free_frames_estimate */
	uint64_t total;
	uint64_t metadata;
	/* lim[k]: where the order-k stack ends, FRAME_CACHE_STACK_BASE(k) + the blocks a CPU
	 * cache may hold of that order (none: lim[k] is the base, as for FRAME_MAX_ORDER), set
	 * by frame_alloc_init from the machine's size (cache_cap); a stack moves half its
	 * capacity, rounded up, at a time. Every free's fast path reads it: a cache line of its
	 * own, away from buddy_free and the lists, which another CPU's refill or drain writes */
	_Alignas(64) uint32_t lim[FRAME_ORDER_COUNT];
	paddr_t metadata_base;
	bool ready;
	bool locks_ready; /* lock and drain_lock initialised (by the first frame_alloc_init) */
};

extern struct frame_alloc_state frame_alloc_state;
extern struct frame_cpu_cache frame_cpu_caches[FRAME_MAX_CPUS];

/* Where a cache's order-k stack starts, and how many blocks it holds. */
static inline uint32_t *cache_stack(struct frame_cpu_cache *c, unsigned k)
{
	return c->slot + FRAME_CACHE_STACK_BASE(k);
}

static inline void cache_set_count(struct frame_cpu_cache *c, unsigned k, uint32_t n)
{
	atomic_store_explicit(&c->top[k], FRAME_CACHE_STACK_BASE(k) + n, memory_order_relaxed);
}

static inline uint32_t cache_top(struct frame_cpu_cache *c, unsigned k)
{
	return atomic_load_explicit(&c->top[k], memory_order_relaxed);
}

static inline uint32_t cache_count(struct frame_cpu_cache *c, unsigned k)
{
	return cache_top(c, k) - FRAME_CACHE_STACK_BASE(k);
}

/* Blocks of order k a CPU cache may hold, and setting it (frame_alloc_init; white-box tests). */
static inline uint32_t cache_cap(unsigned k)
{
	return frame_alloc_state.lim[k] - FRAME_CACHE_STACK_BASE(k);
}

static inline void cache_set_cap(unsigned k, uint32_t cap)
{
	KASSERT(cap <= (k == 0			  ? FRAME_CPU_CACHE_CAPACITY
			: k < FRAME_CACHED_ORDERS ? FRAME_CPU_CACHE_HI_CAPACITY
						  : 0),
		"frame: cache capacity %u for order %u exceeds its stack", cap, k);
	frame_alloc_state.lim[k] = FRAME_CACHE_STACK_BASE(k) + cap;
}

/*
 * Take every CPU cache (all of them with all=true, else only those holding frames) away from
 * its owner for the caller, who may then read and change it until frame_cpu_caches_thaw.
 * Owners that try to use a frozen cache wait. Returns the set of frozen caches (bit i = CPU
 * i). Never call with the global lock held or from inside the allocator's fast path.
 */
uint64_t frame_cpu_caches_freeze(bool all);
void frame_cpu_caches_thaw(uint64_t frozen);

#endif
