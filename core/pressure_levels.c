/*
 * The governor's levels: the reserve's size, the watermarks, and the Normal, Warning and
 * Emergency states they call for, checked on every normal allocation (check_before_alloc).
 */
#include "pressure_governor.h"

#define KTRACE_KIND TRACE_PRESSURE

/* ---- sizes and watermarks ----
 * Defaults: the buffer is 1/512 of memory, at least 4 frames (the OOM path's candidate
 * table); Warning below 1/16 of memory plus the buffer, Emergency below 1/64 plus the buffer.
 * On a 256 MiB machine: 124 + 4 reserve frames, Warning under 4000, Emergency under 1116. */

uint64_t buffer_frames(void)
{
	uint64_t b;

	if (G.cfg.reserve)
		return G.cfg.reserve - EMERGENCY_UI_FRAMES;
	b = total_frames() / 512;
	return b < 4 ? 4 : b;
}

uint64_t reserve_frames(void)
{
	return EMERGENCY_UI_FRAMES + buffer_frames();
}

uint64_t warning_watermark_frames(uint64_t total, uint64_t buffer)
{
	return total / 16 + buffer;
}

uint64_t emergency_watermark_frames(uint64_t total, uint64_t buffer)
{
	return total / 64 + buffer;
}

uint64_t emergency_watermark(void)
{
	return G.cfg.emergency ? G.cfg.emergency
			       : emergency_watermark_frames(total_frames(), buffer_frames());
}

uint64_t warning_watermark(void)
{
	return G.cfg.warning ? G.cfg.warning
			     : warning_watermark_frames(total_frames(), buffer_frames());
}

static __attribute__((noinline)) void recompute_normal_floor(uint64_t total)
{
	kspin_lock(&G.lock);
	uint64_t w = warning_watermark(), e = emergency_watermark();

	atomic_store_explicit(&governor_quiet_floor, w > e ? w : e, memory_order_relaxed);
	atomic_store_explicit(&governor_quiet_total, total, memory_order_release);
	kspin_unlock(&G.lock);
}

static uint64_t normal_floor(void)
{
	uint64_t total = total_frames();

	if (__builtin_expect(atomic_load_explicit(&governor_quiet_total, memory_order_acquire) != total, 0))
		recompute_normal_floor(total);
	return atomic_load_explicit(&governor_quiet_floor, memory_order_relaxed);
}


/* The state the available memory calls for, from a pressure level, with hysteresis. */
static enum pressure_state level_state_at(enum pressure_state now, uint64_t avail)
{
	uint64_t w = warning_watermark(), e = emergency_watermark();

	if (avail < e)
		return PRESSURE_EMERGENCY;
	if (now == PRESSURE_EMERGENCY && avail < e + e / 8 + 1)
		return PRESSURE_EMERGENCY;
	if (avail < w)
		return PRESSURE_WARNING;
	if (now == PRESSURE_WARNING && avail < w + w / 8 + 1)
		return PRESSURE_WARNING;
	return PRESSURE_NORMAL;
}

enum pressure_state level_state(enum pressure_state now)
{
	return level_state_at(now, free_frames_estimate());
}


/* pressure_update with the available memory just read (avail) for its first look. */
static void update_at(uint64_t avail)
{
	enum pressure_state now = pressure_state();

	if (system_frozen() || now > PRESSURE_EMERGENCY || level_state_at(now, avail) == now)
		return;
	kspin_lock(&G.lock);
	/* re-check under the lock: another CPU may have moved it meanwhile */
	now = pressure_state();
	if (now <= PRESSURE_EMERGENCY && !system_frozen())
		pressure_set_state(level_state(now));
	kspin_unlock(&G.lock);
}

void pressure_update(void)
{
	update_at(free_frames_estimate());
}

bool check_before_alloc(uint64_t n)
{
	uint64_t avail;

	if (system_frozen())
		return false;
	if (injected_failure()) {
		KTRACE("pressure: normal allocation %llu refused (injected failure)",
		       (unsigned long long)atomic_load(&G.checked));
		return false;
	}
	/* on every normal allocation: no lock. While the buddy lists alone hold more than the
	 * floor and the request, the estimate (never lower) would decide the same: nothing to
	 * update and the answer yes, without touching the other CPUs' cache counts */
	avail = free_frames_lower_bound();
	if (avail >= normal_floor() && avail >= n && pressure_state() == PRESSURE_NORMAL)
		return true;
	/* the allocation itself is the exact test, so one reading of the estimate serves the
	 * level and the answer */
	avail = free_frames_estimate();
	if (avail < normal_floor() || pressure_state() != PRESSURE_NORMAL)
		update_at(avail);
	return avail >= n;
}

