/*
 * The frame allocator's internal state, shared with the audit (frame_audit.c) and nobody
 * else. Kernel code outside the allocator uses frame_alloc.h.
 *
 * Invariants (checked by frame_audit):
 * - heads[k] is the first block of the doubly linked list of free blocks of order k; bit k of
 *   nonempty is set iff heads[k] != 0.
 * - buddy_free == sum over free blocks of 2^order; each cache's count == number of frames in
 *   frames[0..count), all distinct and in state CACHED.
 * - total == buddy_free + cached + allocated + metadata.
 * Locking: `lock` protects heads, nonempty, buddy_free and every FREE record. A CPU cache is
 * protected by its own `busy` flag (a spin lock); lock order is cache, then global.
 */
#ifndef MMSIM_CORE_FRAME_ALLOC_STATE_H
#define MMSIM_CORE_FRAME_ALLOC_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame_alloc.h"
#include "platform.h"

#define FRAME_CPU_CACHE_CAPACITY 63
#define FRAME_CPU_CACHE_BATCH 32

/* One cached frame: its address and the physical address of its page-info record (so the
 * allocation path needs no section lookup). */
struct frame_cpu_slot {
	paddr_t frame;
	paddr_t info_pa;
};

/* 1 KiB per CPU, cache-line aligned, so indexing is a shift and CPUs share no line. */
struct frame_cpu_cache {
	_Alignas(64) atomic_bool busy;
	_Atomic uint32_t count;
	struct frame_cpu_slot slots[FRAME_CPU_CACHE_CAPACITY];
};
_Static_assert(sizeof(struct frame_cpu_cache) == 1024, "per-CPU cache is 1 KiB");

struct frame_alloc_state {
	plat_lock_t lock;
	paddr_t heads[FRAME_ORDER_COUNT];
	uint32_t nonempty;
	uint64_t buddy_free;
	uint64_t total;
	uint64_t metadata;
	paddr_t metadata_base;
	bool ready;
};

extern struct frame_alloc_state frame_alloc_state;
extern struct frame_cpu_cache frame_cpu_caches[FRAME_MAX_CPUS];

static inline void frame_cpu_cache_lock(struct frame_cpu_cache *c)
{
	while (atomic_exchange_explicit(&c->busy, true, memory_order_acquire))
		while (atomic_load_explicit(&c->busy, memory_order_relaxed))
			__builtin_ia32_pause();
}

static inline void frame_cpu_cache_unlock(struct frame_cpu_cache *c)
{
	atomic_store_explicit(&c->busy, false, memory_order_release);
}

#endif
