/*
 * Per-frame metadata (one 8-byte record per managed frame) and the reference-count state
 * machine of the memory manager (docs/redox-mm-notes.md section 3). Free and used-unreferenced
 * are distinct states, and no interior record is ever stale.
 *
 * 8 bytes, so that the records of a 4 GiB machine (8 MiB) stay in a processor's last-level
 * cache: every free reads one, every merge its buddy's. Two 32-bit atomic words:
 *
 *   word `meta` (bits 0..3 order, bits 4..6 state, bit 7 zero, bits 8..31 next link):
 *     PAGE_STATE_INTERIOR  not a block head: a frame inside a block whose head is elsewhere.
 *                          The record is all zero (meta == 0 and rc == 0).
 *     PAGE_STATE_FREE      head of a free block of 2^order frames on buddy list `order`;
 *                          bits 8..31 are the frame number of the next block (0 = end of
 *                          list: frame 0 is never managed).
 *     PAGE_STATE_USED      head of an allocated block of 2^order frames (owned outside the
 *                          allocator). `rc` holds the reference count below.
 *     PAGE_STATE_CACHED    head of a block of 2^order frames held in a per-CPU cache of the
 *                          allocator (order < FRAME_CACHED_ORDERS): free for accounting, but
 *                          not on a buddy list and not allocatable by others.
 *     PAGE_STATE_METADATA  a frame holding the allocator's own metadata (section table and
 *                          page-info arrays): permanently used, counted in used_frames().
 *     PAGE_STATE_ABSENT    a hole inside a section window (not RAM the allocator manages);
 *                          get_page_info() returns NULL for it.
 *
 *   word `rc`:
 *     FREE: the frame number of the previous block on the list (0 = list head).
 *     USED: RC_USED | (RC_SHARED if the frame is Shared, not CoW) | count (bits 0..29).
 *     CACHED: RC_USED, what an unreferenced (U0) frame holds, so that the fast paths move a
 *             frame between its user and a CPU cache with one store (of `meta`).
 *             Nothing reads rc without checking the state first.
 *     every other state: 0.
 *
 * A link is a frame number of FRAME_LINK_BITS bits, so managed memory ends at
 * FRAME_LINK_LIMIT (64 GiB, the largest machine). Each link lies in a word of its own with
 * nothing but the list's order and state beside it, so taking a block off its list stores
 * its neighbours' words without reading them (a read would wait for a miss).
 *
 * Reference counts (only on USED heads):
 *   count 0  -> U0: allocated but unreferenced (page tables, kernel stacks, heap pages, and
 *               every frame right after allocation). add_ref/remove_ref panic on U0.
 *   count 1  -> One (the kind bit is ignored).
 *   count n>=2 -> Shared(n) or Cow(n) according to RC_SHARED.
 *
 * Invariants kept here (R6, R7):
 * - add_ref and remove_ref never change the state bits, the RC_USED bit, or the order.
 * - Overflow at RC_MAX returns ADD_REF_OVERFLOW and leaves the count unchanged.
 * - CowToShared / SharedToCow return their error and leave the state unchanged.
 * - remove_ref below One, add_ref on a free or U0 frame: kernel bug, plat_panic.
 * - RC_USED is found in the rc word of a USED or CACHED head only (audited as R6 and A2 by
 *   frame_audit.c; a link is below bit 24): the inline One steps of add_ref and remove_ref
 *   read rc alone.
 *
 * Concurrency: the `meta` word and the FREE `rc` word change only under the allocator's lock
 * (CACHED <-> USED under the owning CPU cache's protocol, which never produces or consumes a
 * FREE record, so the buddy merge that reads a sibling's state is never misled). Reference
 * counts of USED frames change without any lock, atomically: several spaces drop and take
 * references of one Cow or Shared frame at once (read-modify-write and compare-and-exchange
 * steps). Transitions out of One are plain stores and are safe only for the single owner of
 * a One frame: the one entry that maps it, changed only by a holder of its space's lock
 * exclusively or of its table's lock (pt_lock.h), as in Redox.
 */
#ifndef MMSIM_CORE_PAGE_INFO_H
#define MMSIM_CORE_PAGE_INFO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct page_info {
	union {
		struct {
			_Atomic uint32_t meta;
			_Atomic uint32_t rc;
		};
		/* both words at once, meta in the low half: what the allocator's fast paths
		 * write on an allocation and test on a free (frame_cpu_cache.h) */
		_Atomic uint64_t word;
	};
};
_Static_assert(sizeof(struct page_info) == 8, "page_info is two 32-bit words");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "page_info.word has meta in its low half");

enum page_state {
	PAGE_STATE_INTERIOR = 0,
	PAGE_STATE_FREE = 1,
	PAGE_STATE_USED = 2,
	PAGE_STATE_CACHED = 3,
	PAGE_STATE_METADATA = 4,
	PAGE_STATE_ABSENT = 5,
};

#define PAGE_META_ORDER_MASK 0xfu
#define PAGE_META_STATE_SHIFT 4
#define PAGE_META_STATE_MASK (0x7u << PAGE_META_STATE_SHIFT)
/* the state and the order */
#define PAGE_META_HEAD_MASK (PAGE_META_STATE_MASK | PAGE_META_ORDER_MASK)
#define PAGE_META(state, order) (((uint32_t)(state) << PAGE_META_STATE_SHIFT) | (uint32_t)(order))

#define FRAME_LINK_BITS 24
#define PAGE_META_NEXT_SHIFT 8
/* Managed memory ends at this physical address (64 GiB), so that a link fits. */
#define FRAME_LINK_LIMIT (1ULL << (FRAME_LINK_BITS + PAGE_SHIFT))

/* The meta word of the FREE head of an order-k block whose next block is frame `next`. */
static inline uint32_t page_free_meta(unsigned k, uint64_t next)
{
	return (uint32_t)next << PAGE_META_NEXT_SHIFT | PAGE_META(PAGE_STATE_FREE, k);
}

/* The next link of a FREE meta word: a frame number, 0 for none. */
static inline uint64_t page_meta_next(uint32_t meta)
{
	return meta >> PAGE_META_NEXT_SHIFT;
}

#define RC_USED (1u << 31)
#define RC_SHARED (1u << 30)
#define RC_MAX (1u << 29)
#define RC_COUNT_MASK (RC_SHARED - 1)

static inline uint32_t page_info_meta(const struct page_info *info)
{
	return atomic_load_explicit(&((struct page_info *)info)->meta, memory_order_relaxed);
}

/* The state a meta word records. */
static inline enum page_state page_meta_state(uint32_t meta)
{
	return (enum page_state)((meta & PAGE_META_STATE_MASK) >> PAGE_META_STATE_SHIFT);
}

static inline enum page_state page_info_state(const struct page_info *info)
{
	return page_meta_state(page_info_meta(info));
}

/* The block order recorded in a FREE, USED or CACHED head. */
static inline unsigned page_info_order(const struct page_info *info)
{
	return page_info_meta(info) & PAGE_META_ORDER_MASK;
}

/* The rc word (relaxed). */
static inline uint32_t page_info_rc(const struct page_info *info)
{
	return atomic_load_explicit(&((struct page_info *)info)->rc, memory_order_relaxed);
}

/*
 * The dense run: the longest stretch of consecutive frames whose records are consecutive too
 * (consecutive windows, each described from its start to its end, records laid out one after
 * another, as frame_alloc_init places them). Inside it a record is one subtraction and one
 * bounds check away, which the order-0 fast paths use; frames outside it (and holes, whose
 * records are ABSENT) take frame_section_lookup. Set by frame_alloc_init.
 */
extern uint64_t frame_dense_first_pfn;
extern uint64_t frame_dense_frames;
/* Through the direct map (fixed after boot), so a lookup needs no phys_to_virt. */
extern struct page_info *frame_dense_infos;

/* Record of f if f lies in the dense run, else NULL (it may still be managed). */
static inline struct page_info *frame_dense_lookup(paddr_t pa)
{
	uint64_t i = (pa >> PAGE_SHIFT) - frame_dense_first_pfn;
	if (__builtin_expect(i >= frame_dense_frames, 0))
		return NULL;
	return frame_dense_infos + i;
}

/* get_page_info off the dense run: the section table (frame_buddy.c). */
struct page_info *get_page_info_slow(frame_t f);

/*
 * The page info of a frame, or NULL if the allocator does not manage it (outside every
 * section, or a hole inside one). O(1): sections are indexed by 128 MiB window. Inline, the
 * dense run first: fork, munmap and every fault call it once a page, and whether a link-time
 * optimiser inlines it across files was found to vary from build to build.
 */
static inline struct page_info *get_page_info(frame_t f)
{
	struct page_info *r = frame_dense_lookup(f.base);

	if (__builtin_expect(!r, 0))
		return get_page_info_slow(f);
	return page_info_state(r) == PAGE_STATE_ABSENT ? NULL : r;
}

/* Not allocated: on a buddy list, inside a free block, or in a per-CPU cache. */
bool page_info_is_free(const struct page_info *info);

/* Allocated head (any reference count, including U0). */
bool page_info_is_used(const struct page_info *info);

/* ---- reference counts ---------------------------------------------------------------- */

enum refcount_kind {
	REFCOUNT_FREE,   /* not an allocated head: no count at all */
	REFCOUNT_U0,     /* allocated, used by the kernel, no references */
	REFCOUNT_ONE,
	REFCOUNT_SHARED, /* count >= 2, writable sharing */
	REFCOUNT_COW,    /* count >= 2, copy on write */
};

struct refcount {
	enum refcount_kind kind;
	uint64_t count; /* 0 for FREE and U0, 1 for ONE, >= 2 otherwise */
};

#define REFCOUNT_ONE_INIT ((struct refcount){ REFCOUNT_ONE, 1 })
#define REFCOUNT_SHARED2_INIT ((struct refcount){ REFCOUNT_SHARED, 2 })

enum ref_kind { REF_COW, REF_SHARED };

enum add_ref_error {
	ADD_REF_OK = 0,
	ADD_REF_COW_TO_SHARED,
	ADD_REF_SHARED_TO_COW,
	ADD_REF_OVERFLOW,
};

/* Errors the memory manager hands to its callers (Redox's Enomem). */
enum mm_error {
	MM_OK = 0,
	MM_ENOMEM,
};

struct refcount page_info_refcount(const struct page_info *info);

/* add_ref and remove_ref with every check (page_info.c): for every count but One, and for a
 * One that another owner's drop made of a Cow(2) or Shared(2) between the two loads. */
enum add_ref_error add_ref_slow(struct page_info *info, enum ref_kind kind);
struct refcount remove_ref_slow(struct page_info *info);
/* A reference taken or dropped through no record (get_page_info said the frame is not
 * managed): a kernel bug, reported as such instead of a host crash. */
_Noreturn __attribute__((cold)) void page_info_missing(const char *op);

/*
 * The count word alone tells a One frame: RC_USED with a count is found in a USED head only
 * (CACHED records hold RC_USED with count 0, FREE ones a link, below bit 24, and every other
 * state 0; the audit checks all three, R6 and A2). So the commonest steps, One -> 2 and One
 * -> U0, are taken inline without reading the state word: fork and munmap take one a page.
 */
static inline bool page_info_rc_is_one(uint32_t raw)
{
	return (raw & ~RC_SHARED) == (RC_USED | 1);
}

/*
 * One -> Cow(2) / Shared(2) (the single owner chooses the kind afresh); Cow(n) + REF_COW ->
 * Cow(n+1); Shared(n) + REF_SHARED -> Shared(n+1); Cow + REF_SHARED -> ADD_REF_COW_TO_SHARED;
 * Shared + REF_COW -> ADD_REF_SHARED_TO_COW; at RC_MAX -> ADD_REF_OVERFLOW. Errors change
 * nothing. Panics on a frame that is free or U0.
 */
static inline enum add_ref_error add_ref(struct page_info *info, enum ref_kind kind)
{
	if (__builtin_expect(!info, 0))
		page_info_missing("add_ref");
	/* acquire: a borrower that takes a One frame and writes it comes after the copies the
	 * holders that dropped their references made of it (their drops release) */
	uint32_t raw = atomic_load_explicit(&info->rc, memory_order_acquire);

	if (__builtin_expect(!page_info_rc_is_one(raw), 0))
		return add_ref_slow(info, kind);
	atomic_store_explicit(&info->rc, RC_USED | (kind == REF_SHARED ? RC_SHARED : 0) | 2,
			      memory_order_relaxed);
	return ADD_REF_OK;
}

/*
 * One -> U0 (returned as REFCOUNT_U0: the caller must deallocate the frame); n >= 2 -> n-1
 * (2 decodes as One). Panics on a frame that is free or U0 (underflow).
 */
static inline struct refcount remove_ref(struct page_info *info)
{
	if (__builtin_expect(!info, 0))
		page_info_missing("remove_ref");
	/* acquire: a frame freed after its last drop must come after every access of the
	 * spaces that dropped earlier (their drops release) */
	uint32_t raw = atomic_load_explicit(&info->rc, memory_order_acquire);

	if (__builtin_expect(!page_info_rc_is_one(raw), 0))
		return remove_ref_slow(info);
	atomic_store_explicit(&info->rc, RC_USED, memory_order_relaxed);
	return (struct refcount){ REFCOUNT_U0, 0 };
}

/* One and Shared may be mapped writable, Cow may not. Panics on free or U0. */
bool allows_writable(const struct page_info *info);

/*
 * Set the count of a U0 frame (One or Shared(2) normally; any ONE/SHARED/COW value is
 * accepted). Panics if the frame is not U0 or the value is malformed.
 */
void page_info_set_refcount(struct page_info *info, struct refcount rc);

/* ---- frames with a count ------------------------------------------------------------ */

struct frame_or_error {
	frame_t frame;       /* FRAME_NONE when error != MM_OK */
	enum mm_error error;
};

/* Allocate one zero-filled frame and give it the count init_rc (One or Shared(2)). The
 * pressure governor's check_before_alloc gate comes first: it may refuse (MM_ENOMEM). */
struct frame_or_error init_frame(struct refcount init_rc);

/*
 * init_frame with a choice of contents: FRAME_FILL_ZERO as init_frame, FRAME_FILL_NONE leaves
 * whatever the frame held (another process's old data), for a caller that overwrites every
 * byte before anyone can see it (a copy-on-write copy: zeroing first would be wasted work).
 * The same governor gate.
 */
enum frame_fill { FRAME_FILL_ZERO, FRAME_FILL_NONE };
struct frame_or_error init_frame_fill(struct refcount init_rc, enum frame_fill fill);

/*
 * The permanently referenced zeroed frame. zero_frame_init (after frame_alloc_init) allocates
 * it with count One, the base reference that is never released; zero_frame() is FRAME_NONE
 * before that.
 */
enum mm_error zero_frame_init(void);
frame_t zero_frame(void);

/* Forget the zero frame and the raii holder count of a previous boot (frame_alloc_init). */
void page_info_boot_reset(void);

/*
 * An owned reference to one frame. C has no destructor: whoever holds a raii_frame must call
 * raii_frame_release (drops the reference, frees the frame at U0) or raii_frame_take (hands
 * the reference to the caller) exactly once. raii_frame_holders() counts the live handles so
 * the audit can see a forgotten release.
 */
struct raii_frame {
	frame_t frame;
};

enum mm_error raii_frame_allocate(struct raii_frame *out);
/* Adopt a reference the caller already holds. */
void raii_frame_adopt(struct raii_frame *out, frame_t f);
static inline frame_t raii_frame_get(const struct raii_frame *r)
{
	return r->frame;
}
void raii_frame_release(struct raii_frame *r);
frame_t raii_frame_take(struct raii_frame *r);
uint64_t raii_frame_holders(void);

#endif
