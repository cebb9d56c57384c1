/*
 * The memory-pressure governor: a sacred reserve of frames and an out-of-memory path that
 * never panics.
 *
 * The reserve is set aside at boot as real frames taken from the allocator and kept in a pool
 * no normal allocation can reach: EMERGENCY_UI_FRAMES for the emergency UI (the screen that
 * lets a person pick what to kill) plus buffer_frames() of working memory for the OOM path
 * itself (the candidate table). Reserve frames hold nothing: they are reported as free, but
 * not as available (available = free - reserve).
 *
 * States (each transition is traced; an illegal one is a kernel bug):
 *
 *   Normal <-> Warning <-> Emergency      by available frames against the watermarks,
 *     \           |           /           with hysteresis (leaving a worse state needs
 *      +----> Evacuating <---+            watermark + watermark/8)
 *                 |     \
 *                 |      Picker           (oom=picker: frozen until a person picks)
 *                 v     /
 *              Restoring --> Normal | Warning | Emergency
 *
 * When an allocation fails, on_oom() freezes the system (normal allocations are refused and
 * user accesses end as `oom` while it is frozen), evacuates what can be had without killing
 * (per-CPU caches, registered shrinkers: empty slabs and heap chunks, empty page tables) and,
 * if that is not enough, needs a victim: automatically the process with the largest resident
 * set (ties: the most recently created), or the one a person picks. The victim's memory is
 * freed, Restoring refills the reserve and unfreezes.
 *
 * Lock order: the governor's lock is taken before the frame allocator's, never while holding
 * an address space's lock (the victim's teardown takes it).
 */
#ifndef MMSIM_CORE_PRESSURE_H
#define MMSIM_CORE_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define EMERGENCY_UI_FRAMES 4u

enum pressure_state {
	PRESSURE_NORMAL,
	PRESSURE_WARNING,
	PRESSURE_EMERGENCY,
	PRESSURE_EVACUATING,
	PRESSURE_PICKER,
	PRESSURE_RESTORING,
	PRESSURE_STATE_COUNT,
};
const char *pressure_state_name(enum pressure_state s);

enum oom_policy { OOM_AUTO, OOM_PICKER };

/* Zero fields take the defaults (documented at pressure_configure in pressure.c). */
struct pressure_config {
	uint64_t reserve;   /* frames: UI + buffer; at least EMERGENCY_UI_FRAMES + 1 */
	uint64_t warning;   /* available frames under which the state is Warning */
	uint64_t emergency; /* available frames under which the state is Emergency */
	enum oom_policy policy;
};

/* Before init_reserve. Returns false (nothing changed) for an inconsistent configuration
 * (emergency above warning, a reserve too small or larger than half of memory). */
bool pressure_configure(const struct pressure_config *c);

uint64_t buffer_frames(void);
uint64_t reserve_frames(void);
uint64_t warning_watermark_frames(uint64_t total, uint64_t buffer);
uint64_t emergency_watermark_frames(uint64_t total, uint64_t buffer);
/* The emergency watermark in force. */
uint64_t emergency_watermark(void);
uint64_t warning_watermark(void);

/* The governor's state. set_state panics on an illegal transition; setting the current
 * state is a no-op. */
enum pressure_state pressure_state(void);
void pressure_set_state(enum pressure_state to);
bool system_frozen(void);
void set_system_frozen(bool frozen);

/* Once the frame allocator is ready: take the reserve's frames. false on ENOMEM. */
bool init_reserve(void);
/* Frames in the reserve pool now (reserve_frames() when full). */
uint64_t reserve_pool_frames(void);
/* Calls fn for every frame of the reserve (the pool and the UI frames out of it); for views. */
void pressure_for_each_reserve_frame(void (*fn)(void *ctx, frame_t f), void *ctx);
/* Frames normal allocations can still get: allocator free frames (the pool is not in them). */
uint64_t available_frames(void);

/*
 * Before every normal frame allocation of n frames (user faults, page tables, heap growth):
 * false when it must not go ahead: the system is frozen, or fewer than n frames are available.
 * Moves the state between Normal, Warning and Emergency as available memory crosses the
 * watermarks.
 */
bool check_before_alloc(uint64_t n);

/*
 * Allocation-failure injection, for tests: count the normal allocations check_before_alloc
 * sees from now on and refuse the nth (ALLOC_FAIL_NTH) or every one after the nth
 * (ALLOC_FAIL_AFTER; n = 0 refuses all). Drives every ENOMEM / PF_OOM path on purpose.
 */
enum alloc_fail_mode { ALLOC_FAIL_OFF, ALLOC_FAIL_NTH, ALLOC_FAIL_AFTER };
void pressure_inject_failure(enum alloc_fail_mode mode, uint64_t n);
/* Normal allocations checked since the last pressure_inject_failure turned an injection on
 * (none are counted while it is off). */
uint64_t pressure_checked_allocations(void);

/* Re-evaluate Normal / Warning / Emergency now (memory was released); no-op while frozen. */
void pressure_update(void);

/* A frame from the UI part of the reserve (the emergency path only); FRAME_NONE when the UI
 * part is used up. */
frame_t alloc_emergency_frame(void);

/* Shrinkers: reclaim without killing, run by the evacuation. Boot time registration. */
typedef uint64_t (*pressure_shrinker_t)(void); /* returns frames released */
bool pressure_register_shrinker(const char *name, pressure_shrinker_t fn);

/*
 * Reclaim: the governor's first answer to Warning and Emergency. With a reclaimer (eviction
 * to swap, registered at boot when the machine has swap), pressure_reclaim_step brings the
 * available frames back up to where Warning ends (the warning watermark plus its
 * hysteresis), a batch at a time, and stops when a batch frees nothing (swap full, or
 * nothing evictable). It is called with no lock held: after every fault that ended in
 * Warning or Emergency (page_fault.c), by one CPU at a time (the others go on: Linux's
 * kswapd, run by the faulting CPU). The OOM path (evacuation, then a victim) comes only
 * when an allocation still fails after the fault's own direct reclaim freed nothing.
 */
typedef uint64_t (*pressure_reclaimer_t)(uint64_t frames); /* returns frames freed */
void pressure_register_reclaimer(pressure_reclaimer_t fn);
uint64_t pressure_reclaim_step(void);

/* The kernel's processes, as the governor sees them. */
struct oom_candidate {
	char name[32];
	uint64_t rss;   /* resident 4 KiB pages */
	uint64_t seq;   /* creation order: larger is newer */
	void *ref;      /* the source's handle */
};
struct oom_victim_source {
	/* Fills up to max candidates (live processes), skipping the first `skip` of them;
	 * returns how many it wrote. The order must be stable while the system is frozen. */
	size_t (*list)(struct oom_candidate *out, size_t max, size_t skip);
	/* Kills the process: frees every frame it alone held. */
	void (*kill)(void *ref);
};
void pressure_set_victim_source(const struct oom_victim_source *src);

enum oom_outcome {
	OOM_RETRY,          /* memory was found (evacuated, or a victim killed): retry */
	OOM_KILLED_CURRENT, /* the victim was the caller's own process */
	OOM_FROZEN,         /* the picker waits for a person; the access ends as oom */
	OOM_NO_VICTIM,      /* nothing to evacuate and nobody to kill */
};
/* An allocation of `need` frames failed. current is the caller's process handle (may be
 * NULL), to tell the caller whether it was chosen. */
enum oom_outcome on_oom(uint64_t need, void *current);

enum pick_result { PICK_OK, PICK_NOT_IN_PICKER, PICK_NO_SUCH_PROCESS };
/* At the picker: kill the process called name, restore. */
enum pick_result pressure_pick(const char *name);

/* The picker's screen as drawn into the UI frames (empty outside the Picker state). */
size_t pressure_picker_text(char *buf, size_t len);

/* The governor's invariants (PR1-PR4, see pressure.c and docs/invariants.md): true if they
 * hold, else false and the first violation in buf. Allocates nothing. */
bool pressure_audit(char *buf, size_t len);

/* A one-line summary of state, free, reserve and watermarks, and with swap: slots in use,
 * in the swap cache, frames reclaimed, pages written, read and dropped clean; no
 * allocation, any state. */
size_t stats_string(char *buf, size_t len);

/* Forget everything (a fresh boot; tests). The pool's frames are not returned. */
void pressure_reset(void);

#endif
