/*
 * The governor's audit (pressure_audit): the invariants PR1, PR2 and PR4 of pressure.c and
 * the state half of PR3, under the governor's lock. Allocates nothing.
 */
#include "kformat.h"
#include "page_info.h"
#include "phys.h"
#include "pressure_governor.h"

/* PR1/PR2: a pool or UI frame is the head of an order-0 allocation nobody references. */
static bool check_reserve_frame(char *buf, size_t len, paddr_t pa)
{
	struct page_info *r = get_page_info(frame_containing(pa));
	uint64_t rc;

	if (!r) {
		kformat(buf, len, "PR1: reserve frame %#llx is not managed memory",
			(unsigned long long)pa);
		return false;
	}
	if (page_info_state(r) != PAGE_STATE_USED || page_info_order(r) != 0) {
		kformat(buf, len, "PR2: reserve frame %#llx is not an allocated order-0 frame",
			(unsigned long long)pa);
		return false;
	}
	rc = page_info_rc(r) & RC_COUNT_MASK;
	if (rc) {
		kformat(buf, len, "PR1: reserve frame %#llx has %llu references",
			(unsigned long long)pa, (unsigned long long)rc);
		return false;
	}
	return true;
}

static bool audit_locked(char *buf, size_t len)
{
	enum pressure_state s = pressure_state();
	bool oom_path = s == PRESSURE_EVACUATING || s == PRESSURE_PICKER;
	uint64_t n = 0, held = G.pool_count + G.ui_taken + G.buffer_taken;
	paddr_t pa;

	/* PR1: the pool is a stack of exactly pool_count frames (a repeated frame would loop) */
	for (pa = G.pool_top; pa && n <= G.pool_count; pa = *(paddr_t *)phys_to_virt(pa), n++)
		if (!check_reserve_frame(buf, len, pa))
			return false;
	if (n != G.pool_count || pa) {
		kformat(buf, len, "PR1: the pool's stack holds %s%llu frames, pool_count is %llu",
			pa ? "more than " : "", (unsigned long long)n,
			(unsigned long long)G.pool_count);
		return false;
	}
	for (unsigned i = 0; i < G.ui_taken && i < EMERGENCY_UI_FRAMES; i++)
		if (!check_reserve_frame(buf, len, frame_base(G.ui[i])))
			return false;
	if (G.ui_taken > EMERGENCY_UI_FRAMES || (G.reserve && G.buffer_taken > buffer_frames()) ||
	    held > G.reserve) {
		kformat(buf, len, "PR1: pool %llu + UI %u + buffer %llu frames against a reserve of "
			"%llu (UI at most %u, buffer at most %llu)",
			(unsigned long long)G.pool_count, G.ui_taken,
			(unsigned long long)G.buffer_taken, (unsigned long long)G.reserve,
			EMERGENCY_UI_FRAMES, (unsigned long long)buffer_frames());
		return false;
	}
	/* PR3, the state half: the OOM path's states are frozen ones (any state may also be
	 * frozen by hand) */
	if ((oom_path || s == PRESSURE_RESTORING) && !system_frozen()) {
		kformat(buf, len, "PR3: the state is %s but the system is not frozen",
			pressure_state_name(s));
		return false;
	}
	/* PR4: UI frames, and the OOM path's buffer, are out only while that path runs */
	if (!oom_path && (G.ui_taken || G.buffer_taken)) {
		kformat(buf, len, "PR4: %u UI and %llu buffer frames taken in state %s", G.ui_taken,
			(unsigned long long)G.buffer_taken, pressure_state_name(s));
		return false;
	}
	return true;
}

bool pressure_audit(char *buf, size_t len)
{
	bool ok;

	governor_ensure_lock();
	kspin_lock(&G.lock);
	ok = audit_locked(buf, len);
	kspin_unlock(&G.lock);
	return ok;
}
