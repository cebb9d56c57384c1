/*
 * The pressure governor's state machine and out-of-memory path. Its other parts: the
 * watermarks and levels (pressure_levels.c), the reserve pool (pressure_reserve.c),
 * allocation-failure injection (pressure_fault_inject.c), shrinkers (pressure_shrinkers.c),
 * victim choice (pressure_victims.c) and the picker's screen (pressure_picker.c).
 *
 * Invariants kept here (PR1-PR4 in docs/invariants.md; pressure_audit checks what a snapshot
 * can see, run by mm_audit; the tests check the rest):
 * - PR1 the pool holds reserve_frames() - ui_taken - buffer_taken frames, all allocated (used)
 *   frames that nothing maps; ui_taken <= EMERGENCY_UI_FRAMES, buffer_taken <= buffer;
 * - PR2 normal allocations never get a pool frame: the pool's frames left the buddy lists at
 *   init_reserve and only alloc_emergency_frame / the OOM path's buffer take them;
 * - PR3 while frozen, check_before_alloc refuses; frozen iff the state is Evacuating, Picker or
 *   Restoring (set_system_frozen lets tests and the shell freeze by hand too);
 * - PR4 UI frames are handed out only in Evacuating/Picker and all come back by Restoring.
 */
#include "pressure_governor.h"

#include "arch/x86_64/cpu_ops.h"
#include "kformat.h"
#include "kstring.h"
#include "swap_area.h"

#define KTRACE_KIND TRACE_PRESSURE

/* spin: the governor's state; taken after every memory-manager lock, and a check before an
 * allocation may take it before pressure_reset ran */
static struct lock_class governor_class = LOCK_CLASS_INIT("pressure governor", LOCK_SPIN);
struct governor pressure_governor = { .lock = KSPIN_INIT(&governor_class) };
_Atomic uint64_t governor_quiet_floor, governor_quiet_total;

static const char *const state_names[PRESSURE_STATE_COUNT] = {
	"normal", "warning", "emergency", "evacuating", "picker", "restoring",
};

const char *pressure_state_name(enum pressure_state s)
{
	return s < PRESSURE_STATE_COUNT ? state_names[s] : "?";
}

void governor_ensure_lock(void)
{
	if (!G.lock_ready) {
		kspin_init(&G.lock, &governor_class);
		G.lock_ready = true;
	}
}

void pressure_reset(void)
{
	governor_ensure_lock();
	G.state = PRESSURE_NORMAL;
	atomic_store(&G.frozen, false);
	kmemset(&G.cfg, 0, sizeof(G.cfg));
	atomic_store(&governor_quiet_total, 0);
	G.reserve = 0;
	G.pool_top = 0;
	G.pool_count = 0;
	G.ui_taken = 0;
	G.buffer_taken = 0;
	G.ui_text_len = 0;
	G.nshrinkers = 0;
	G.victims = NULL;
	G.reclaimer = NULL;
	atomic_store(&G.reclaiming, false);
	atomic_store(&G.ooms, 0);
	atomic_store(&G.kills, 0);
	atomic_store(&G.evacuated, 0);
	atomic_store(&G.fail_mode, ALLOC_FAIL_OFF);
	atomic_store(&G.checked, 0);
}

bool pressure_configure(const struct pressure_config *c)
{
	uint64_t total = total_frames();

	if (c->reserve && (c->reserve <= EMERGENCY_UI_FRAMES || c->reserve > total / 2))
		return false;
	if (c->warning && c->emergency && c->emergency > c->warning)
		return false;
	governor_ensure_lock();
	kspin_lock(&G.lock);
	G.cfg = *c;
	atomic_store(&governor_quiet_total, 0);
	kspin_unlock(&G.lock);
	return true;
}

/* ---- the state machine ---- */

static bool legal(enum pressure_state from, enum pressure_state to)
{
	switch (from) {
	case PRESSURE_NORMAL:
	case PRESSURE_WARNING:
	case PRESSURE_EMERGENCY:
		return to <= PRESSURE_EMERGENCY || to == PRESSURE_EVACUATING;
	case PRESSURE_EVACUATING:
		return to == PRESSURE_PICKER || to == PRESSURE_RESTORING;
	case PRESSURE_PICKER:
		return to == PRESSURE_RESTORING;
	case PRESSURE_RESTORING:
		return to <= PRESSURE_EMERGENCY;
	case PRESSURE_STATE_COUNT:
		break;
	}
	return false;
}

enum pressure_state pressure_state(void)
{
	return __atomic_load_n(&G.state, __ATOMIC_ACQUIRE);
}

void pressure_set_state(enum pressure_state to)
{
	enum pressure_state from = pressure_state();

	if (from == to)
		return;
	KASSERT(to < PRESSURE_STATE_COUNT && legal(from, to),
		"pressure: illegal transition %s -> %s", pressure_state_name(from),
		pressure_state_name(to));
	KTRACE("pressure: %s -> %s (available %llu, reserve pool %llu, warning %llu, emergency %llu)",
	       pressure_state_name(from), pressure_state_name(to),
	       (unsigned long long)available_frames(), (unsigned long long)G.pool_count,
	       (unsigned long long)warning_watermark(), (unsigned long long)emergency_watermark());
	__atomic_store_n(&G.state, to, __ATOMIC_RELEASE);
}

bool system_frozen(void)
{
	return atomic_load_explicit(&G.frozen, memory_order_acquire);
}

void set_system_frozen(bool frozen)
{
	atomic_store_explicit(&G.frozen, frozen, memory_order_release);
}

uint64_t available_frames(void)
{
	return free_frames();
}

uint64_t reserve_pool_frames(void)
{
	return G.pool_count;
}

/* Restoring: UI frames back to the pool, the pool refilled, unfrozen, state by level.
 * Called with the lock held. */
static void restore(void)
{
	pressure_set_state(PRESSURE_RESTORING);
	while (G.ui_taken)
		pool_push(G.ui[--G.ui_taken]);
	G.ui_text_len = 0;
	if (!refill_pool())
		KTRACE("pressure: the reserve could not be refilled completely (%llu of %llu frames)",
		       (unsigned long long)G.pool_count, (unsigned long long)G.reserve);
	set_system_frozen(false);
	pressure_set_state(level_state(PRESSURE_NORMAL));
}



/* Ends the OOM path: the buffer frame back, Restoring, unfrozen. */
static void finish(frame_t table)
{
	kspin_lock(&G.lock);
	if (!frame_is_none(table))
		give_buffer_frame(table);
	restore();
	kspin_unlock(&G.lock);
}

/*
 * The thread that freezes the system owns the governor until it unfreezes it: evacuation and
 * kills run without the governor's lock (shrinkers take the heap's lock, and heap growth calls
 * check_before_alloc), and no second OOM path can start meanwhile.
 */
enum oom_outcome on_oom(uint64_t need, void *current)
{
	struct oom_candidate victim;
	bool killed_current = false, killed_any = false;
	frame_t table;

	kspin_lock(&G.lock);
	if (system_frozen() || pressure_state() > PRESSURE_EMERGENCY) {
		bool picker = G.cfg.policy == OOM_PICKER;

		kspin_unlock(&G.lock);
		if (picker)
			return OOM_FROZEN;
		/* another CPU is resolving it: wait (taking interrupts: it may shoot down our
		 * TLB while it kills), then try again */
		while (system_frozen())
			arch_cpu_relax();
		return OOM_RETRY;
	}
	atomic_fetch_add(&G.ooms, 1);
	set_system_frozen(true);
	pressure_set_state(PRESSURE_EVACUATING);
	kspin_unlock(&G.lock);

	evacuate();
	if (memory_for(need)) {
		finish(FRAME_NONE);
		return OOM_RETRY;
	}
	if (G.reserve == 0) {
		/* no reserve was ever set aside (a kernel without init_reserve): evacuation is all
		 * the governor can do */
		finish(FRAME_NONE);
		return OOM_NO_VICTIM;
	}
	kspin_lock(&G.lock);
	table = take_buffer_frame();
	KASSERT(!frame_is_none(table), "pressure: the reserve's buffer is empty in the OOM path");
	if (G.cfg.policy == OOM_PICKER)
		pressure_set_state(PRESSURE_PICKER);
	kspin_unlock(&G.lock);
	if (G.cfg.policy == OOM_PICKER) {
		draw_picker(table);
		kspin_lock(&G.lock);
		give_buffer_frame(table);
		kspin_unlock(&G.lock);
		return OOM_FROZEN;
	}
	/* one victim at a time, the largest first, until the request fits */
	do {
		kmemset(&victim, 0, sizeof(victim));
		for_each_candidate(table, better_victim, &victim);
		if (!victim.ref)
			break;
		kill_victim(&victim);
		killed_any = true;
		killed_current |= victim.ref == current;
	} while (!memory_for(need) && !killed_current);
	finish(table);
	if (killed_current)
		return OOM_KILLED_CURRENT;
	return killed_any && memory_for(need) ? OOM_RETRY : OOM_NO_VICTIM;
}

enum pick_result pressure_pick(const char *name)
{
	struct find_name f;
	frame_t table;

	kspin_lock(&G.lock);
	if (pressure_state() != PRESSURE_PICKER) {
		kspin_unlock(&G.lock);
		return PICK_NOT_IN_PICKER;
	}
	table = take_buffer_frame();
	KASSERT(!frame_is_none(table), "pressure: the reserve's buffer is empty at the picker");
	kspin_unlock(&G.lock);
	kmemset(&f, 0, sizeof(f));
	f.name = name;
	for_each_candidate(table, match_name, &f);
	if (!f.found.ref) {
		kspin_lock(&G.lock);
		give_buffer_frame(table);
		kspin_unlock(&G.lock);
		return PICK_NO_SUCH_PROCESS;
	}
	kill_victim(&f.found);
	finish(table);
	return PICK_OK;
}

size_t stats_string(char *buf, size_t len)
{
	uint64_t pool, reserve;
	unsigned ui;
	size_t n;
	struct swap_stats sw;

	governor_ensure_lock();
	kspin_lock(&G.lock);
	pool = G.pool_count;
	reserve = G.reserve;
	ui = G.ui_taken;
	kspin_unlock(&G.lock);
	n = kformat(buf, len,
		    "pressure %s%s: free %llu, available %llu, reserve %llu/%llu (ui %u/%u), warning under %llu, emergency under %llu, oom %llu, killed %llu",
		    pressure_state_name(pressure_state()), system_frozen() ? " (frozen)" : "",
		    (unsigned long long)(available_frames() + pool),
		    (unsigned long long)available_frames(), (unsigned long long)pool,
		    (unsigned long long)reserve, ui, EMERGENCY_UI_FRAMES,
		    (unsigned long long)warning_watermark(),
		    (unsigned long long)emergency_watermark(),
		    (unsigned long long)atomic_load(&G.ooms),
		    (unsigned long long)atomic_load(&G.kills));
	if (!swap_configured() || n >= len)
		return n;
	swap_get_stats(&sw);
	return n + kformat(buf + n, len - n,
			   ", swap %llu/%llu slots (%llu in the swap cache), reclaimed %llu, written %llu, read %llu, dropped clean %llu",
			   (unsigned long long)sw.used, (unsigned long long)sw.slots,
			   (unsigned long long)sw.cached, (unsigned long long)sw.reclaimed,
			   (unsigned long long)sw.writes, (unsigned long long)sw.reads,
			   (unsigned long long)sw.dropped_clean);
}
