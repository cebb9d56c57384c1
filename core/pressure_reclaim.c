/*
 * The governor's reclaim step (pressure.h): at Warning and Emergency, frames come back by
 * eviction to swap before the governor does anything else. The OOM path's evacuation and
 * victim come only after reclaim freed nothing (swap full, or nothing evictable).
 *
 * How reclaim gets the frames it needs: it needs none. The swap area's maps are allocated
 * at boot, the device's storage is the host's (outside the machine's memory, as a disk is),
 * and an eviction only edits existing page-table entries and frees frames; so the reserve
 * is never touched for it, and normal allocations still never reach the reserve.
 */
#include "pressure_governor.h"

#define KTRACE_KIND TRACE_PRESSURE

/* A batch of the reclaim step (Linux's SWAP_CLUSTER_MAX). */
#define RECLAIM_STEP_BATCH 32u

void pressure_register_reclaimer(pressure_reclaimer_t fn)
{
	G.reclaimer = fn;
}

uint64_t pressure_reclaim_step(void)
{
	enum pressure_state s = pressure_state();
	uint64_t freed = 0, goal, before;

	if (!G.reclaimer || system_frozen() || s == PRESSURE_NORMAL || s > PRESSURE_EMERGENCY)
		return 0;
	if (atomic_exchange_explicit(&G.reclaiming, true, memory_order_acquire))
		return 0; /* another CPU is at it */
	/* where Warning ends: the watermark plus the hysteresis of level_state */
	goal = warning_watermark() + warning_watermark() / 8 + 1;
	before = available_frames();
	while (available_frames() < goal && !system_frozen()) {
		uint64_t n = G.reclaimer(RECLAIM_STEP_BATCH);

		if (!n)
			break;
		freed += n;
	}
	atomic_store_explicit(&G.reclaiming, false, memory_order_release);
	if (freed)
		KTRACE("pressure: %s: reclaim freed %llu frames (available %llu -> %llu, Warning ends at %llu)",
		       pressure_state_name(s), (unsigned long long)freed, (unsigned long long)before,
		       (unsigned long long)available_frames(), (unsigned long long)goal);
	pressure_update();
	return freed;
}
