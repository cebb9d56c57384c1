/*
 * The frame allocator's internal state, shared by its files and the audit (frame_audit.c);
 * outside core/ only the white-box tests (tests/core, the arena of tests/support) and the
 * frame-allocator fuzz target read it. Kernel code outside the allocator uses frame_alloc.h.
 *
 * Invariants (checked by frame_audit; docs/invariants.md names them):
 * - A1 heads[k] is the first block of the doubly linked list of free blocks of order k; bit k of
 *   nonempty is set iff heads[k] != 0.
 * - A5 buddy_free == sum over free blocks of 2^order; (caches) each cache holds count[k] <=
 *   cap[k] blocks of order k in its order-k stack, all distinct, heads in state CACHED with
 *   order k (count 0, interior records zero).
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
 * and drained by half its capacity (frame_alloc_state.cap[k]) at a time under one hold of
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
/* The stacks lie one after another in a cache's slots: order 0's first, then each higher
 * order's. frame_cache_stack_base[k] is where the order-k stack starts (frame_cpu_cache.c):
 * a table, so that the fast paths find any order's stack without a branch on the order. */
#define FRAME_CACHE_STACK_BASE(k) \
	((k) ? FRAME_CPU_CACHE_CAPACITY + ((k) - 1) * FRAME_CPU_CACHE_HI_CAPACITY : 0)
#define FRAME_CPU_CACHE_SLOTS FRAME_CACHE_STACK_BASE(FRAME_CACHED_ORDERS)
extern const uint16_t frame_cache_stack_base[FRAME_CACHED_ORDERS];
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
 * 8 KiB per CPU, cache-line aligned, so indexing is a shift and CPUs share no line.
 * busy: written by the owner only (1 while it works on the cache); stop: written under
 * drain_lock (CACHE_FROZEN while a remote CPU works on the cache, see above); count: written
 * by whoever works on the cache, read by anyone (cached_frames). slots: touched only by
 * whoever works on it.
 */
struct frame_cpu_cache {
	_Alignas(64) _Atomic uint32_t busy;
	_Atomic uint32_t stop;
	/* count[k] blocks of order k, their heads in slot[frame_cache_stack_base[k] + 0 ..
	 * count[k]), oldest first */
	_Atomic uint32_t count[FRAME_CACHED_ORDERS];
	paddr_t slot[FRAME_CPU_CACHE_SLOTS];
	uint8_t pad[8192 - 8 - 4 * FRAME_CACHED_ORDERS - 8 * FRAME_CPU_CACHE_SLOTS];
};
_Static_assert(sizeof(struct frame_cpu_cache) == 8192, "per-CPU cache is 8 KiB");

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
	/* blocks a CPU cache may hold of each order (0 = that order is not cached), set by
	 * frame_alloc_init from the machine's size; it moves (cap[k] + 1) / 2 at a time. Every
	 * free's fast path reads it: a cache line of its own, away from buddy_free and the
	 * lists, which another CPU's refill or drain writes */
	_Alignas(64) uint32_t cap[FRAME_CACHED_ORDERS];
	paddr_t metadata_base;
	bool ready;
	bool locks_ready; /* lock and drain_lock initialised (by the first frame_alloc_init) */
};

extern struct frame_alloc_state frame_alloc_state;
extern struct frame_cpu_cache frame_cpu_caches[FRAME_MAX_CPUS];

/*
 * Take every CPU cache (all of them with all=true, else only those holding frames) away from
 * its owner for the caller, who may then read and change it until frame_cpu_caches_thaw.
 * Owners that try to use a frozen cache wait. Returns the set of frozen caches (bit i = CPU
 * i). Never call with the global lock held or from inside the allocator's fast path.
 */
uint64_t frame_cpu_caches_freeze(bool all);
void frame_cpu_caches_thaw(uint64_t frozen);

#endif
