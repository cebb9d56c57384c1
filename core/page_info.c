/*
 * The reference-count state machine (docs/redox-mm-notes.md 3.2) over USED page-info records, the zero
 * frame, init_frame and the owned-frame handle. Invariants are listed in page_info.h; the
 * ones this file enforces: every transition keeps RC_USED and the `meta` word untouched;
 * errors (kind mismatch, overflow) leave the count unchanged; underflow panics.
 */
#include "page_info.h"

#include "frame_alloc.h"
#include "pressure.h"
#include "lockdep.h"
#include "platform.h"

#define KTRACE_KIND TRACE_FRAME

static frame_t the_zero_frame;
static _Atomic uint64_t raii_holders;

/* acquire: a decision taken on the count (a One frame is written in place) comes after
 * everything the holders that dropped their references did with the frame (a copy) */
static inline uint32_t rc_load(const struct page_info *info)
{
	return atomic_load_explicit(&((struct page_info *)info)->rc, memory_order_acquire);
}

bool page_info_is_used(const struct page_info *info)
{
	return page_info_state(info) == PAGE_STATE_USED;
}

bool page_info_is_free(const struct page_info *info)
{
	enum page_state s = page_info_state(info);
	return s == PAGE_STATE_FREE || s == PAGE_STATE_CACHED || s == PAGE_STATE_INTERIOR;
}

static struct refcount decode(uint32_t raw)
{
	uint64_t n = raw & RC_COUNT_MASK;

	if (!(raw & RC_USED))
		return (struct refcount){ REFCOUNT_FREE, 0 };
	if (n == 0)
		return (struct refcount){ REFCOUNT_U0, 0 };
	if (n == 1)
		return (struct refcount){ REFCOUNT_ONE, 1 };
	return (struct refcount){ raw & RC_SHARED ? REFCOUNT_SHARED : REFCOUNT_COW, n };
}

struct refcount page_info_refcount(const struct page_info *info)
{
	if (!page_info_is_used(info))
		return (struct refcount){ REFCOUNT_FREE, 0 };
	return decode(rc_load(info));
}

/* Out of line, so that the reference-count operations stay small enough to inline. */
static __attribute__((noinline, cold, noreturn)) void not_referenced(const struct page_info *info,
								     uint32_t raw, const char *what)
{
	if (!page_info_is_used(info) || !(raw & RC_USED))
		plat_panic("page_info: %s on a free frame (record %p)", what, (const void *)info);
	plat_panic("page_info: %s on an unreferenced (U0) frame (record %p)", what,
		   (const void *)info);
}

/* The raw word of a referenced frame; panics (with `what`) on free or U0. */
static inline uint32_t referenced_raw(const struct page_info *info, const char *what)
{
	uint32_t raw = rc_load(info);

	if (__builtin_expect(!page_info_is_used(info) || !(raw & RC_USED) || !(raw & RC_COUNT_MASK), 0))
		not_referenced(info, raw, what);
	return raw;
}

void page_info_missing(const char *op)
{
	plat_panic("page info: %s of a frame the allocator does not manage", op);
}

enum add_ref_error add_ref_slow(struct page_info *info, enum ref_kind kind)
{
	uint32_t raw = referenced_raw(info, "add_ref");
	uint32_t n = raw & RC_COUNT_MASK;

	if (n == 1) {
		/* One -> Cow(2) / Shared(2): the single owner chooses the kind afresh. */
		atomic_store_explicit(&info->rc, RC_USED | (kind == REF_SHARED ? RC_SHARED : 0) | 2,
				      memory_order_relaxed);
		return ADD_REF_OK;
	}
	bool shared = raw & RC_SHARED;
	if (shared && kind == REF_COW)
		return ADD_REF_SHARED_TO_COW;
	if (!shared && kind == REF_SHARED)
		return ADD_REF_COW_TO_SHARED;
	uint32_t old = atomic_fetch_add_explicit(&info->rc, 1, memory_order_relaxed);
	if ((old & RC_COUNT_MASK) >= RC_MAX) {
		atomic_fetch_sub_explicit(&info->rc, 1, memory_order_relaxed);
		return ADD_REF_OVERFLOW;
	}
	return ADD_REF_OK;
}

struct refcount remove_ref_slow(struct page_info *info)
{
	uint32_t raw = referenced_raw(info, "remove_ref");

	/* spaces sharing a frame drop their references at the same time: one exchange per
	 * step, so two drops from Cow(2) make One then U0, never a count below One */
	for (;;) {
		uint32_t n = raw & RC_COUNT_MASK, next = n == 1 ? RC_USED : raw - 1;

		KASSERT((raw & RC_USED) && n >= 1, "page_info: remove_ref raced below One (%#llx)",
			(unsigned long long)raw);
		if (atomic_compare_exchange_weak_explicit(&info->rc, &raw, next, memory_order_acq_rel,
							  memory_order_acquire))
			return n == 1 ? (struct refcount){ REFCOUNT_U0, 0 } : decode(next);
	}
}

bool allows_writable(const struct page_info *info)
{
	uint32_t raw = referenced_raw(info, "allows_writable");
	return (raw & RC_COUNT_MASK) == 1 || (raw & RC_SHARED);
}

void page_info_set_refcount(struct page_info *info, struct refcount rc)
{
	uint32_t raw = rc_load(info);

	KASSERT(page_info_is_used(info) && raw == RC_USED,
		"page_info: set_refcount on a frame that is not U0 (record %p, rc %#llx)",
		(const void *)info, (unsigned long long)raw);
	switch (rc.kind) {
	case REFCOUNT_ONE:
		KASSERT(rc.count == 1, "page_info: One with count %llu", (unsigned long long)rc.count);
		atomic_store_explicit(&info->rc, RC_USED | 1, memory_order_relaxed);
		return;
	case REFCOUNT_SHARED:
	case REFCOUNT_COW:
		KASSERT(rc.count >= 2 && rc.count <= RC_MAX, "page_info: bad count %llu",
			(unsigned long long)rc.count);
		atomic_store_explicit(&info->rc,
				      RC_USED | (rc.kind == REFCOUNT_SHARED ? RC_SHARED : 0) | (uint32_t)rc.count,
				      memory_order_relaxed);
		return;
	case REFCOUNT_FREE:
	case REFCOUNT_U0:
		break;
	}
	plat_panic("page_info: set_refcount to kind %d", (int)rc.kind);
}

struct frame_or_error init_frame_fill(struct refcount init_rc, enum frame_fill fill)
{
	frame_t f;

	lockdep_might_sleep("a frame allocation");
	/* user data frames are normal allocations: the pressure governor may refuse them */
	if (!check_before_alloc(1))
		return (struct frame_or_error){ FRAME_NONE, MM_ENOMEM };
	f = fill == FRAME_FILL_ZERO ? allocate_zeroed_frame() : allocate_frame();

	if (frame_is_none(f))
		return (struct frame_or_error){ FRAME_NONE, MM_ENOMEM };
	struct page_info *info = get_page_info(f);

	KASSERT(info, "page_info: allocated frame %#llx has no record", (unsigned long long)f.base);
	page_info_set_refcount(info, init_rc);
	return (struct frame_or_error){ f, MM_OK };
}

struct frame_or_error init_frame(struct refcount init_rc)
{
	return init_frame_fill(init_rc, FRAME_FILL_ZERO);
}

enum mm_error zero_frame_init(void)
{
	struct frame_or_error r = init_frame(REFCOUNT_ONE_INIT);

	the_zero_frame = r.frame;
	KTRACE("page_info: zero frame %#llx", (unsigned long long)r.frame.base);
	return r.error;
}

void page_info_boot_reset(void)
{
	the_zero_frame = FRAME_NONE;
	atomic_store_explicit(&raii_holders, 0, memory_order_relaxed);
}

frame_t zero_frame(void)
{
	return the_zero_frame;
}

enum mm_error raii_frame_allocate(struct raii_frame *out)
{
	struct frame_or_error r = init_frame(REFCOUNT_ONE_INIT);

	out->frame = r.frame;
	if (r.error == MM_OK)
		atomic_fetch_add_explicit(&raii_holders, 1, memory_order_relaxed);
	return r.error;
}

void raii_frame_adopt(struct raii_frame *out, frame_t f)
{
	KASSERT(!frame_is_none(f), "page_info: adopting no frame");
	out->frame = f;
	atomic_fetch_add_explicit(&raii_holders, 1, memory_order_relaxed);
}

static void raii_forget(struct raii_frame *r)
{
	KASSERT(!frame_is_none(r->frame), "page_info: raii_frame released twice");
	r->frame = FRAME_NONE;
	uint64_t old = atomic_fetch_sub_explicit(&raii_holders, 1, memory_order_relaxed);
	KASSERT(old > 0, "page_info: raii_frame holder count underflow");
}

void raii_frame_release(struct raii_frame *r)
{
	frame_t f = r->frame;

	raii_forget(r);
	struct page_info *info = get_page_info(f);
	KASSERT(info, "page_info: raii_frame holds unmanaged frame %#llx", (unsigned long long)f.base);
	if (remove_ref(info).kind == REFCOUNT_U0)
		deallocate_frame(f);
}

frame_t raii_frame_take(struct raii_frame *r)
{
	frame_t f = r->frame;

	raii_forget(r);
	return f;
}

uint64_t raii_frame_holders(void)
{
	return atomic_load_explicit(&raii_holders, memory_order_relaxed);
}
