/*
 * The heap's frame gate: cap reservation, per-owner counts, the forbidden-context check.
 * See heap_frames.h for the invariants (held <= cap, per-owner counts changed only under the
 * owner's lock).
 */
#include "heap_frames.h"

#include <stdatomic.h>

#include "frame_alloc.h"
#include "lockdep.h"
#include "pressure.h"
#include "platform.h"

#define KTRACE_KIND TRACE_HEAP

static _Atomic uint64_t held_total;
static _Atomic uint64_t held[HEAP_OWNER_COUNT];
static _Atomic uint64_t cap_frames = HEAP_FRAMES_UNLIMITED;
static bool (*_Atomic forbidden_check)(void);

static const char *const owner_names[HEAP_OWNER_COUNT] = { "slab", "list" };

void heap_frames_reset(uint64_t cap)
{
	atomic_store(&held_total, 0);
	for (unsigned i = 0; i < HEAP_OWNER_COUNT; i++)
		atomic_store(&held[i], 0);
	atomic_store(&cap_frames, cap);
}

void heap_frames_set_cap(uint64_t cap)
{
	atomic_store(&cap_frames, cap);
}

uint64_t heap_frames_cap(void)
{
	return atomic_load(&cap_frames);
}

void kheap_set_forbidden_check(bool (*check)(void))
{
	atomic_store(&forbidden_check, check);
}

void heap_frames_assert_allowed(const char *what)
{
	bool (*check)(void) = atomic_load(&forbidden_check);

	KASSERT(!check || !check(), "kheap: %s on cpu %u while holding the KernelMapper", what,
		plat_cpu_id());
}

/* Reserve n frames against the cap; false if that would exceed it. */
static bool reserve(uint64_t n)
{
	uint64_t cap = atomic_load(&cap_frames);
	uint64_t cur = atomic_load(&held_total);

	do {
		if (cur > cap || n > cap - cur)
			return false;
	} while (!atomic_compare_exchange_weak(&held_total, &cur, cur + n));
	return true;
}

static void unreserve(uint64_t n)
{
	atomic_fetch_sub(&held_total, n);
}

frame_t heap_frames_take(enum heap_owner owner, unsigned want_order, unsigned min_order,
			 unsigned *got_order)
{
	KASSERT(owner < HEAP_OWNER_COUNT && min_order <= want_order && want_order <= FRAME_MAX_ORDER,
		"kheap: bad frame request owner %u orders %u..%u", owner, min_order, want_order);
	heap_frames_assert_allowed("frame allocation");
	lockdep_might_sleep("a heap frame allocation");
	/* heap growth is a normal allocation: the pressure governor may refuse it */
	if (!check_before_alloc(1ULL << min_order))
		return FRAME_NONE;
	/*
	 * The largest order the cap allows is reserved first; what the frame allocator does not
	 * deliver is handed back to the cap right after.
	 */
	unsigned order = want_order;
	while (!reserve(1ULL << order)) {
		if (order == min_order)
			return FRAME_NONE;
		order--;
	}
	unsigned got = 0;
	frame_t f = allocate_p2frame_complex(order, 0, FRAME_STRATEGY_FAST, min_order, &got);
	if (frame_is_none(f)) {
		unreserve(1ULL << order);
		KTRACE("kheap: %s: no frames for order %u..%u", owner_names[owner], min_order, order);
		return FRAME_NONE;
	}
	unreserve((1ULL << order) - (1ULL << got));
	atomic_fetch_add(&held[owner], 1ULL << got);
	*got_order = got;
	KTRACE("kheap: %s takes %#llx order %u", owner_names[owner], (unsigned long long)f.base, got);
	KFRAME_EVENT(FRAME_EVENT_HEAP, f.base, got);
	return f;
}

void heap_frames_give(enum heap_owner owner, frame_t f, unsigned order)
{
	KASSERT(owner < HEAP_OWNER_COUNT && atomic_load(&held[owner]) >= (1ULL << order),
		"kheap: %s gives back %#llx order %u it does not hold", owner < HEAP_OWNER_COUNT ?
		owner_names[owner] : "?", (unsigned long long)f.base, order);
	deallocate_p2frame(f, order);
	atomic_fetch_sub(&held[owner], 1ULL << order);
	unreserve(1ULL << order);
	KTRACE("kheap: %s gives back %#llx order %u", owner_names[owner], (unsigned long long)f.base,
	       order);
}

uint64_t heap_frames_held(enum heap_owner owner)
{
	return owner < HEAP_OWNER_COUNT ? atomic_load(&held[owner]) : 0;
}

uint64_t heap_frames_held_total(void)
{
	return atomic_load(&held_total);
}
