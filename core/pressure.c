/*
 * Invariants kept here (checked by pressure_audit through mm_audit, and by the tests):
 * - P1 the pool holds reserve_frames() - ui_taken - buffer_taken frames, all allocated (used)
 *   frames that nothing maps; ui_taken <= EMERGENCY_UI_FRAMES, buffer_taken <= buffer;
 * - P2 normal allocations never get a pool frame: the pool's frames left the buddy lists at
 *   init_reserve and only alloc_emergency_frame / the OOM path's buffer take them;
 * - P3 while frozen, check_before_alloc refuses; frozen iff the state is Evacuating, Picker or
 *   Restoring (set_system_frozen lets tests and the shell freeze by hand too);
 * - P4 UI frames are handed out only in Evacuating/Picker and all come back by Restoring.
 *
 * The pool is a stack linked through the first word of each free pool frame (kernel memory
 * nobody else maps), so the reserve costs no heap and works at zero free memory.
 */
#include "pressure.h"

#include <stdatomic.h>

#include "arch/x86_64/cpu_ops.h"
#include "frame_alloc.h"
#include "kformat.h"
#include "kstring.h"
#include "phys.h"
#include "platform.h"

#define MAX_SHRINKERS 8
#define CANDIDATES_PER_FRAME (PAGE_SIZE / sizeof(struct oom_candidate))

struct shrinker {
	const char *name;
	pressure_shrinker_t fn;
};

static struct governor {
	plat_lock_t lock;
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
	_Atomic uint64_t ooms, kills, evacuated;
	_Atomic int fail_mode;      /* enum alloc_fail_mode */
	_Atomic uint64_t fail_n;
	_Atomic uint64_t checked;   /* normal allocations seen since the knob was last set on */
} G;

/*
 * The available count at or above which a Normal system stays Normal (the higher of the two
 * watermarks), so that check_before_alloc skips the level update on almost every allocation.
 * Kept with the machine size it was computed for (quiet_total: tests and tools boot machines
 * of several sizes without a pressure_reset); pressure_configure and pressure_reset clear
 * it. It is recomputed under the governor's lock, which pressure_configure holds to change
 * the configuration, so a floor computed from a replaced configuration is never kept; the
 * floor is stored before quiet_total (release), so a CPU that finds its machine size there
 * reads that floor or a newer one.
 */
static _Atomic uint64_t quiet_floor, quiet_total;

static const char *const state_names[PRESSURE_STATE_COUNT] = {
	"normal", "warning", "emergency", "evacuating", "picker", "restoring",
};

const char *pressure_state_name(enum pressure_state s)
{
	return s < PRESSURE_STATE_COUNT ? state_names[s] : "?";
}

static void ensure_lock(void)
{
	if (!G.lock_ready) {
		plat_lock_init(&G.lock);
		G.lock_ready = true;
	}
}

void pressure_reset(void)
{
	ensure_lock();
	G.state = PRESSURE_NORMAL;
	atomic_store(&G.frozen, false);
	kmemset(&G.cfg, 0, sizeof(G.cfg));
	atomic_store(&quiet_total, 0);
	G.reserve = 0;
	G.pool_top = 0;
	G.pool_count = 0;
	G.ui_taken = 0;
	G.buffer_taken = 0;
	G.ui_text_len = 0;
	G.nshrinkers = 0;
	G.victims = NULL;
	atomic_store(&G.ooms, 0);
	atomic_store(&G.kills, 0);
	atomic_store(&G.evacuated, 0);
	atomic_store(&G.fail_mode, ALLOC_FAIL_OFF);
	atomic_store(&G.checked, 0);
}

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
	plat_lock_acquire(&G.lock);
	uint64_t w = warning_watermark(), e = emergency_watermark();

	atomic_store_explicit(&quiet_floor, w > e ? w : e, memory_order_relaxed);
	atomic_store_explicit(&quiet_total, total, memory_order_release);
	plat_lock_release(&G.lock);
}

static uint64_t normal_floor(void)
{
	uint64_t total = total_frames();

	if (__builtin_expect(atomic_load_explicit(&quiet_total, memory_order_acquire) != total, 0))
		recompute_normal_floor(total);
	return atomic_load_explicit(&quiet_floor, memory_order_relaxed);
}

bool pressure_configure(const struct pressure_config *c)
{
	uint64_t total = total_frames();

	if (c->reserve && (c->reserve <= EMERGENCY_UI_FRAMES || c->reserve > total / 2))
		return false;
	if (c->warning && c->emergency && c->emergency > c->warning)
		return false;
	ensure_lock();
	plat_lock_acquire(&G.lock);
	G.cfg = *c;
	atomic_store(&quiet_total, 0);
	plat_lock_release(&G.lock);
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

static enum pressure_state level_state(enum pressure_state now)
{
	return level_state_at(now, free_frames_estimate());
}

void pressure_inject_failure(enum alloc_fail_mode mode, uint64_t n)
{
	atomic_store(&G.fail_n, n);
	atomic_store(&G.checked, 0);
	atomic_store(&G.fail_mode, (int)mode);
	KTRACE("pressure: allocation failure injection %s %llu",
	       mode == ALLOC_FAIL_OFF ? "off" : mode == ALLOC_FAIL_NTH ? "at allocation" : "after allocation",
	       (unsigned long long)n);
}

uint64_t pressure_checked_allocations(void)
{
	return atomic_load(&G.checked);
}

/* Would a request of n frames get through now? Available memory, and no injected failure
 * that refuses everything (ALLOC_FAIL_AFTER): otherwise a retry could only fail again. */
static bool memory_for(uint64_t n)
{
	return atomic_load(&G.fail_mode) != ALLOC_FAIL_AFTER && available_frames() >= n;
}

static bool injected_failure(void)
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

/* pressure_update with the available memory just read (avail) for its first look. */
static void update_at(uint64_t avail)
{
	enum pressure_state now = pressure_state();

	if (system_frozen() || now > PRESSURE_EMERGENCY || level_state_at(now, avail) == now)
		return;
	plat_lock_acquire(&G.lock);
	/* re-check under the lock: another CPU may have moved it meanwhile */
	now = pressure_state();
	if (now <= PRESSURE_EMERGENCY && !system_frozen())
		pressure_set_state(level_state(now));
	plat_lock_release(&G.lock);
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
	/* on every normal allocation: no lock; the allocation itself is the exact test, so
	 * one reading of the estimate serves the level and the answer */
	avail = free_frames_estimate();
	if (avail < normal_floor() || pressure_state() != PRESSURE_NORMAL)
		update_at(avail);
	return avail >= n;
}

/* ---- the pool ---- */

static void pool_push(frame_t f)
{
	*(paddr_t *)phys_to_virt(frame_base(f)) = G.pool_top;
	G.pool_top = frame_base(f);
	G.pool_count++;
}

static frame_t pool_pop(void)
{
	paddr_t top = G.pool_top;

	if (!top)
		return FRAME_NONE;
	G.pool_top = *(paddr_t *)phys_to_virt(top);
	G.pool_count--;
	return frame_containing(top);
}

void pressure_for_each_reserve_frame(void (*fn)(void *ctx, frame_t f), void *ctx)
{
	ensure_lock();
	plat_lock_acquire(&G.lock);
	for (paddr_t pa = G.pool_top; pa; pa = *(paddr_t *)phys_to_virt(pa))
		fn(ctx, frame_containing(pa));
	for (unsigned i = 0; i < G.ui_taken; i++)
		fn(ctx, G.ui[i]);
	plat_lock_release(&G.lock);
}

/* Tops the pool up to the reserve (whatever the UI and buffer currently hold counts). */
static bool refill_pool(void)
{
	while (G.pool_count + G.ui_taken + G.buffer_taken < G.reserve) {
		frame_t f = allocate_frame();

		if (frame_is_none(f))
			return false;
		pool_push(f);
	}
	return true;
}

bool init_reserve(void)
{
	bool ok;

	ensure_lock();
	plat_lock_acquire(&G.lock);
	G.reserve = reserve_frames();
	ok = refill_pool();
	plat_lock_release(&G.lock);
	KTRACE("pressure: reserve of %llu frames set aside (%u for the emergency UI), warning under %llu, emergency under %llu available",
	       (unsigned long long)G.reserve, EMERGENCY_UI_FRAMES,
	       (unsigned long long)warning_watermark(), (unsigned long long)emergency_watermark());
	return ok;
}

/* Called with the lock held. */
static frame_t take_ui_frame(void)
{
	frame_t f = FRAME_NONE;

	if (G.ui_taken < EMERGENCY_UI_FRAMES) {
		f = pool_pop();
		if (!frame_is_none(f))
			G.ui[G.ui_taken++] = f;
	}
	return f;
}

frame_t alloc_emergency_frame(void)
{
	frame_t f;

	plat_lock_acquire(&G.lock);
	f = take_ui_frame();
	plat_lock_release(&G.lock);
	return f;
}

/* Buffer frames: the OOM path's own working memory. Called with the lock held. */
static frame_t take_buffer_frame(void)
{
	frame_t f;

	if (G.buffer_taken >= buffer_frames())
		return FRAME_NONE;
	f = pool_pop();
	if (!frame_is_none(f))
		G.buffer_taken++;
	return f;
}

static void give_buffer_frame(frame_t f)
{
	G.buffer_taken--;
	pool_push(f);
}

/* ---- evacuation ---- */

bool pressure_register_shrinker(const char *name, pressure_shrinker_t fn)
{
	if (G.nshrinkers == MAX_SHRINKERS || !fn)
		return false;
	G.shrinkers[G.nshrinkers++] = (struct shrinker){name, fn};
	return true;
}

void pressure_set_victim_source(const struct oom_victim_source *src)
{
	G.victims = src;
}

/* Runs without the governor's lock (the frozen flag makes the caller its only user). */
static uint64_t evacuate(void)
{
	uint64_t before = available_frames(), released = 0;

	frame_alloc_drain_cpu_caches();
	for (unsigned i = 0; i < G.nshrinkers; i++) {
		uint64_t n = G.shrinkers[i].fn();

		KTRACE("pressure: evacuation: %s released %llu frames", G.shrinkers[i].name,
		       (unsigned long long)n);
		released += n;
	}
	atomic_fetch_add(&G.evacuated, released);
	KTRACE("pressure: evacuation done: available %llu -> %llu", (unsigned long long)before,
	       (unsigned long long)available_frames());
	return released;
}

/* ---- victims ---- */

/* Calls fn for every candidate, a buffer frame's worth at a time. */
static bool for_each_candidate(frame_t page, bool (*fn)(void *ctx, const struct oom_candidate *c),
			       void *ctx)
{
	struct oom_candidate *table = phys_to_virt(frame_base(page));
	size_t skip = 0, n;

	if (!G.victims)
		return true;
	do {
		n = G.victims->list(table, CANDIDATES_PER_FRAME, skip);
		for (size_t i = 0; i < n; i++)
			if (!fn(ctx, &table[i]))
				return false;
		skip += n;
	} while (n == CANDIDATES_PER_FRAME);
	return true;
}

static bool better_victim(void *ctx, const struct oom_candidate *c)
{
	struct oom_candidate *best = ctx;

	if (!best->ref || c->rss > best->rss || (c->rss == best->rss && c->seq > best->seq))
		*best = *c;
	return true;
}

struct find_name {
	const char *name;
	struct oom_candidate found;
};

static bool match_name(void *ctx, const struct oom_candidate *c)
{
	struct find_name *f = ctx;
	size_t i = 0;

	while (i < sizeof(c->name) && c->name[i] && c->name[i] == f->name[i])
		i++;
	if ((i == sizeof(c->name) || c->name[i] == 0) && f->name[i] == 0) {
		f->found = *c;
		return false;
	}
	return true;
}

struct ui_draw {
	char *screen;
	size_t cap, len;
	unsigned row;
};

/* Candidate order on the picker: largest resident set first, then the most recent. */
static bool ranks_before(const struct oom_candidate *a, uint64_t rss, uint64_t seq)
{
	return a->rss > rss || (a->rss == rss && a->seq > seq);
}

/* The best candidate ranked strictly after (rss, seq): one selection-sort step. */
struct next_row {
	uint64_t after_rss, after_seq;
	struct oom_candidate best;
	bool found;
};

static bool find_next_row(void *ctx, const struct oom_candidate *c)
{
	struct next_row *n = ctx;

	/* only candidates strictly after the last row drawn */
	if (!(c->rss < n->after_rss || (c->rss == n->after_rss && c->seq < n->after_seq)))
		return true;
	if (!n->found || ranks_before(c, n->best.rss, n->best.seq)) {
		n->best = *c;
		n->found = true;
	}
	return true;
}

static void draw_row(struct ui_draw *d, const struct oom_candidate *c)
{
	size_t n;

	if (d->len + 1 >= d->cap)
		return;
	n = kformat(d->screen + d->len, d->cap - d->len, "  %2u  %s: %llu pages resident\n",
		    ++d->row, c->name, (unsigned long long)c->rss);
	d->len += n < d->cap - d->len ? n : d->cap - d->len - 1;
}

/* Draws the picker into the first UI frame: the screen (a text page), rows by resident size
 * as the candidates come. The caller owns the governor (frozen, Picker). */
static void draw_picker(frame_t table_page)
{
	frame_t screen;
	struct ui_draw d;

	plat_lock_acquire(&G.lock);
	screen = take_ui_frame();
	for (unsigned i = 1; i < EMERGENCY_UI_FRAMES; i++)
		take_ui_frame(); /* the rest of the UI's memory: fonts, the frame buffer */
	plat_lock_release(&G.lock);
	if (frame_is_none(screen))
		return;
	d.screen = phys_to_virt(frame_base(screen));
	d.cap = PAGE_SIZE;
	d.len = kformat(d.screen, d.cap, "%s",
			"OUT OF MEMORY - the system is frozen. Choose a process to end (pick NAME):\n");
	d.row = 0;
	/* rows by rank, found one at a time: the screen needs no memory beyond its own page */
	for (struct next_row n = {UINT64_MAX, UINT64_MAX, {{0}, 0, 0, NULL}, false};;
	     n.found = false) {
		for_each_candidate(table_page, find_next_row, &n);
		if (!n.found)
			break;
		draw_row(&d, &n.best);
		n.after_rss = n.best.rss;
		n.after_seq = n.best.seq;
	}
	plat_lock_acquire(&G.lock);
	G.ui_text_len = d.len;
	plat_lock_release(&G.lock);
}

size_t pressure_picker_text(char *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return 0;
	plat_lock_acquire(&G.lock);
	n = pressure_state() == PRESSURE_PICKER && G.ui_taken ? G.ui_text_len : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		kmemcpy(buf, phys_to_virt(frame_base(G.ui[0])), n);
	buf[n] = 0;
	plat_lock_release(&G.lock);
	return n;
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

/* Takes the address-space and allocator locks of the victim's teardown: never with ours. */
static void kill_victim(const struct oom_candidate *victim)
{
	KTRACE("pressure: killing %s (%llu pages resident)", victim->name,
	       (unsigned long long)victim->rss);
	atomic_fetch_add(&G.kills, 1);
	G.victims->kill(victim->ref);
}

/* Ends the OOM path: the buffer frame back, Restoring, unfrozen. */
static void finish(frame_t table)
{
	plat_lock_acquire(&G.lock);
	if (!frame_is_none(table))
		give_buffer_frame(table);
	restore();
	plat_lock_release(&G.lock);
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

	plat_lock_acquire(&G.lock);
	if (system_frozen() || pressure_state() > PRESSURE_EMERGENCY) {
		bool picker = G.cfg.policy == OOM_PICKER;

		plat_lock_release(&G.lock);
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
	plat_lock_release(&G.lock);

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
	plat_lock_acquire(&G.lock);
	table = take_buffer_frame();
	KASSERT(!frame_is_none(table), "pressure: the reserve's buffer is empty in the OOM path");
	if (G.cfg.policy == OOM_PICKER)
		pressure_set_state(PRESSURE_PICKER);
	plat_lock_release(&G.lock);
	if (G.cfg.policy == OOM_PICKER) {
		draw_picker(table);
		plat_lock_acquire(&G.lock);
		give_buffer_frame(table);
		plat_lock_release(&G.lock);
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

	plat_lock_acquire(&G.lock);
	if (pressure_state() != PRESSURE_PICKER) {
		plat_lock_release(&G.lock);
		return PICK_NOT_IN_PICKER;
	}
	table = take_buffer_frame();
	KASSERT(!frame_is_none(table), "pressure: the reserve's buffer is empty at the picker");
	plat_lock_release(&G.lock);
	kmemset(&f, 0, sizeof(f));
	f.name = name;
	for_each_candidate(table, match_name, &f);
	if (!f.found.ref) {
		plat_lock_acquire(&G.lock);
		give_buffer_frame(table);
		plat_lock_release(&G.lock);
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

	ensure_lock();
	plat_lock_acquire(&G.lock);
	pool = G.pool_count;
	reserve = G.reserve;
	ui = G.ui_taken;
	plat_lock_release(&G.lock);
	return kformat(buf, len,
		       "pressure %s%s: free %llu, available %llu, reserve %llu/%llu (ui %u/%u), warning under %llu, emergency under %llu, oom %llu, killed %llu",
		       pressure_state_name(pressure_state()), system_frozen() ? " (frozen)" : "",
		       (unsigned long long)(available_frames() + pool),
		       (unsigned long long)available_frames(), (unsigned long long)pool,
		       (unsigned long long)reserve, ui, EMERGENCY_UI_FRAMES,
		       (unsigned long long)warning_watermark(),
		       (unsigned long long)emergency_watermark(),
		       (unsigned long long)atomic_load(&G.ooms),
		       (unsigned long long)atomic_load(&G.kills));
}
