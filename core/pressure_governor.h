/*
 * The pressure governor's state, shared by its files (pressure.c, pressure_levels.c,
 * pressure_reserve.c, pressure_fault_inject.c, pressure_shrinkers.c, pressure_victims.c,
 * pressure_picker.c) and nobody else. Locking: see pressure.h.
 */
#ifndef MMSIM_CORE_PRESSURE_GOVERNOR_H
#define MMSIM_CORE_PRESSURE_GOVERNOR_H

#include <stdatomic.h>

#include "frame_alloc.h"
#include "klock.h"
#include "platform.h"
#include "pressure.h"

#define MAX_SHRINKERS 8
#define CANDIDATES_PER_FRAME (PAGE_SIZE / sizeof(struct oom_candidate))

struct shrinker {
	const char *name;
	pressure_shrinker_t fn;
};

struct governor {
	struct kspin lock; /* spin: the governor's state; taken after every mm lock */
	bool lock_ready;
	enum pressure_state state;
	atomic_bool frozen;
	struct pressure_config cfg;
	uint64_t reserve;                     /* frames set aside by init_reserve */
	paddr_t pool_top;                     /* stack of pool frames, 0 = empty */
	uint64_t pool_count;
	unsigned ui_taken;
	uint64_t buffer_taken;
	frame_t ui[EMERGENCY_UI_FRAMES];
	size_t ui_text_len;
	struct shrinker shrinkers[MAX_SHRINKERS];
	unsigned nshrinkers;
	const struct oom_victim_source *victims;
	pressure_reclaimer_t reclaimer;       /* eviction to swap, when the machine has swap */
	atomic_bool reclaiming;               /* a CPU runs the reclaim step (one at a time) */
	_Atomic uint64_t ooms, kills, evacuated;
	_Atomic int fail_mode;      /* enum alloc_fail_mode */
	_Atomic uint64_t fail_n;
	_Atomic uint64_t checked;   /* normal allocations seen since the knob was last set on */
};

extern struct governor pressure_governor;
#define G pressure_governor

/*
 * The available count at or above which a Normal system stays Normal (the higher of the two
 * watermarks), so that check_before_alloc skips the level update on almost every allocation.
 * Kept with the machine size it was computed for (governor_quiet_total: tests and tools boot
 * machines of several sizes without a pressure_reset); pressure_configure and pressure_reset
 * clear it. It is recomputed under the governor's lock, which pressure_configure holds to
 * change the configuration, so a floor computed from a replaced configuration is never kept;
 * the floor is stored before governor_quiet_total (release), so a CPU that finds its machine
 * size there reads that floor or a newer one.
 */
extern _Atomic uint64_t governor_quiet_floor, governor_quiet_total;

void governor_ensure_lock(void);

/* pressure_levels.c */
enum pressure_state level_state(enum pressure_state now);

/* pressure_reserve.c; the take and give functions are called with the governor's lock held */
bool refill_pool(void);
void pool_push(frame_t f);
frame_t take_ui_frame(void);
frame_t take_buffer_frame(void);
void give_buffer_frame(frame_t f);

/* pressure_fault_inject.c */
/* Would a request of n frames get through now? Available memory, and no injected failure
 * that refuses everything (ALLOC_FAIL_AFTER): otherwise a retry could only fail again. */
bool memory_for(uint64_t n);

static inline bool injected_failure(void)
{
	enum alloc_fail_mode mode = (enum alloc_fail_mode)atomic_load(&G.fail_mode);
	uint64_t k;

	/* off: no count either (the count starts over at the next injection), so allocations
	 * on every CPU do not share a written cache line */
	if (mode == ALLOC_FAIL_OFF)
		return false;
	k = atomic_fetch_add(&G.checked, 1) + 1;
	switch (mode) {
	case ALLOC_FAIL_OFF:
		return false;
	case ALLOC_FAIL_NTH:
		return k == atomic_load(&G.fail_n);
	case ALLOC_FAIL_AFTER:
		return k > atomic_load(&G.fail_n);
	}
	return false;
}

/* pressure_shrinkers.c: runs without the governor's lock (the frozen flag makes the caller
 * its only user). */
uint64_t evacuate(void);

/* pressure_victims.c */
/* Calls fn for every candidate, a buffer frame's worth at a time. */
bool for_each_candidate(frame_t page, bool (*fn)(void *ctx, const struct oom_candidate *c),
			void *ctx);
bool better_victim(void *ctx, const struct oom_candidate *c);
struct find_name {
	const char *name;
	struct oom_candidate found;
};
bool match_name(void *ctx, const struct oom_candidate *c);
/* Takes the address-space and allocator locks of the victim's teardown: never with ours. */
void kill_victim(const struct oom_candidate *victim);

/* pressure_picker.c: the caller owns the governor (frozen, Picker) */
void draw_picker(frame_t table_page);

#endif
