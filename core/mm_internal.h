/*
 * The memory manager's private declarations: the address-space object, grants and their
 * index, the address-space locks, the TLB flusher and the helpers the system calls, the
 * fault handler, fork, the views and the audit share. Outside core/, only the white-box
 * tests (tests/mm, tests/swap) include this header, to set up and inspect internal states,
 * and the fault-handler fuzz target (through reclaim.h, to force direct reclaim); the rest of
 * the host uses user_mm.h. The locking rules are written once, at the top of
 * addr_space.c (which owns the locks), and in docs/locking.md.
 */
#ifndef MMSIM_CORE_MM_INTERNAL_H
#define MMSIM_CORE_MM_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/mapper.h"
#include "frame.h"
#include "frame_alloc.h"
#include "klock.h"
#include "page_info.h"
#include "platform.h"
#include "user_mm.h"
#include "user_mm_view.h"

#define MM_MAX_CPUS 64u
/* External -> External -> ... chains deeper than this fail with PF_RECURSION_LIMIT. */
#define MM_BORROW_DEPTH_MAX 16u
#define AS_NAME_MAX 16u

/* ---- the locks (addr_space.c) ------------------------------------------------------------- */

struct addr_space;
/* The space's lock: shared for a fault, exclusive for everything that changes its grants. */
void as_lock_read(struct addr_space *as);
/* Shared if it can be had without waiting (a fault's source space, L3). */
bool as_trylock_read(struct addr_space *as);
void as_unlock_read(struct addr_space *as);
void as_lock_write(struct addr_space *as);
void as_unlock_write(struct addr_space *as);
bool as_write_held_here(const struct addr_space *as);
/* Two spaces (possibly the same one, then locked once, exclusively if either asks), in
 * creation order (L2). */
void as_lock_two(struct addr_space *a, bool a_write, struct addr_space *b, bool b_write);
void as_unlock_two(struct addr_space *a, bool a_write, struct addr_space *b, bool b_write);
/* The registry of spaces, with every space's hold count (L1). */
void mm_registry_lock(void);
void mm_registry_unlock(void);
/* The registry and every registered space exclusively: nothing changes (the audit). */
void mm_lock_all(void);
void mm_unlock_all(void);

/* Count one fault of kind `field` in this CPU's statistics of as (struct as_percpu): only
 * this CPU writes them, so a load and a store, no locked instruction; views add up every
 * CPU's (relaxed atomics: a view may read while a CPU counts a fault it has not yet taken
 * the lock for). */
#define AS_STAT_INC(as, field) as_stat_inc(&as_this_cpu(as)->stats.field)

/* ---- grants ----------------------------------------------------------------------------- */

/*
 * One grant: pages [start, start + pages * 4 KiB) with one provider. `offset` is the
 * provider's position of `start`: the physical address (PHYS_BORROWED), the source address in
 * `src` (EXTERNAL) or the byte offset in the file `src` serves (FMAP_BORROWED); splitting a
 * grant advances it for the later pieces (G5), for every provider.
 */
struct grant {
	uint64_t start;
	uint64_t pages;
	unsigned prot;     /* MM_PROT_* in force */
	unsigned max_prot; /* what mprotect may grant: rwx for anonymous memory, the original
			      protection for borrowed memory (upgrades beyond it: EPERM) */
	enum grant_provider_kind kind;
	struct addr_space *src; /* EXTERNAL, FMAP_BORROWED: a reference is held (as_get) */
	uint64_t offset;
};

static inline uint64_t grant_end(const struct grant *g)
{
	return g->start + g->pages * PAGE_SIZE;
}

struct hole {
	uint64_t start, size;
};

/*
 * The grants of one address space, ordered by address, and the free ranges between them,
 * indexed twice: by address and by (size, address). Invariants (checked by ug_audit):
 * - G1 grants are non-overlapping, sorted, have at least one page and lie in [0, USER_END);
 * - G2 holes are exactly the complement of the grants in [0, USER_END), maximal (no two
 *   touch), non-empty, and by_addr and by_size hold the same set, each sorted by its key.
 * Capacity: every mutation runs after ug_reserve made room, so it cannot fail halfway.
 */
struct user_grants {
	struct grant *g;
	size_t n, cap;
	struct hole *by_addr, *by_size;
	size_t nholes, hcap;
};

bool ug_init(struct user_grants *ug);
void ug_destroy(struct user_grants *ug);
/* Room for `extra` more grants (and the holes that may come with them). false: ENOMEM. */
bool ug_reserve(struct user_grants *ug, size_t extra);
/* Index of the first grant whose end is above va (n if none). */
size_t ug_lower_bound(const struct user_grants *ug, uint64_t va);
struct grant *ug_find(struct user_grants *ug, uint64_t va);
bool ug_conflicts(const struct user_grants *ug, uint64_t start, uint64_t size);
/* Insert a grant over a free range (no merge). Needs one reserved slot. */
void ug_insert(struct user_grants *ug, const struct grant *g);
/* Remove grant i; its range becomes free. */
void ug_remove_at(struct user_grants *ug, size_t i);
/* Split the grant containing va strictly inside it into [start, va) and [va, end); the
 * provider offset of the second piece advances (G5). Needs one reserved slot. */
void ug_split_at(struct user_grants *ug, uint64_t va);
/* Merge compatible exact neighbours among the grants touching [lo, hi] (G7). */
void ug_merge_near(struct user_grants *ug, uint64_t lo, uint64_t hi);
/* A free range of `pages` at or above min: the nearest to `near` when near != 0 (ties: the
 * lowest), else the smallest hole that fits (best fit, lowest address among equals, G3). */
bool ug_find_free(const struct user_grants *ug, uint64_t min, uint64_t pages, uint64_t near,
		  uint64_t *out);
bool ug_audit(const struct user_grants *ug, char *buf, size_t len);

/* ---- address spaces --------------------------------------------------------------------- */

/* A file served by an address space (fserve): [base, base + size) of its own memory. pins
 * counts the FMAP_BORROWED grants (pieces) of every address space that map it; while it is
 * non-zero the server may not unmap, mprotect or move the range (EBUSY). */
struct file_server {
	bool active; /* active, base, size: under the server's lock */
	uint64_t base, size;
	/* changed by the clients under their own locks (a client's munmap drops its pins
	 * after its shootdown): atomic */
	_Atomic uint64_t pins;
	_Atomic uint64_t notified; /* unmap notifications delivered (handle_notify_files) */
};

/*
 * What one CPU writes in a space on the fault path, on cache lines no other CPU writes: its
 * reader slot of the space's lock and its fault statistics. Faults of one space on several
 * CPUs then share no written line but the page tables'.
 */
struct as_percpu {
	alignas(64) struct krw_reader reader;
	struct addr_space_stats stats;
};

struct addr_space {
	struct krwlock lock;      /* L2: grants, tables, fserve.active/base/size, dead */
	struct as_percpu *percpu; /* [ncpus]: plat_cpu_count() when the space was made; */
	unsigned ncpus;           /* on a one-CPU machine, percpu_one */
	struct mapper mapper;
	struct user_grants grants;
	_Atomic uint64_t used_by; /* CPUs whose CR3 holds this space */
	_Atomic uint64_t refs;    /* creator + holders + every EXTERNAL / FMAP grant here */
	uint64_t holds;           /* addr_space_hold references (the process table's), L1 */
	bool dead;                /* destroyed: no grants, no tables; kept while referenced
				   * (set under the lock held exclusively; addr_space_is_alive
				   * reads it without the lock) */
	uint64_t mmap_min;
	struct file_server fserve;
	char name[AS_NAME_MAX];
	uint64_t seq;             /* creation order, for the OOM victim choice */
	atomic_bool doomed;       /* being killed: every CPU must leave it (oom.c) */
	/* reclaim and swap (reclaim.c, replace_policy.c), under the space's lock */
	uint64_t family;          /* the fork family: where the reverse map looks (reclaim.h) */
	uint64_t swapped;         /* swap entries in this space's tables (W1) */
	uint64_t reclaim_hand;    /* where the global reclaim clock goes on in this space */
	struct replace_state *replace; /* `limit` and the local policy's places, or NULL */
	struct addr_space *prev, *next; /* the registry of live spaces */
	struct as_percpu percpu_one[1];
};

static inline struct as_percpu *as_this_cpu(struct addr_space *as)
{
	unsigned me = plat_cpu_id();

	KASSERT(me < as->ncpus, "address space: cpu %u in a space made for %u", me,
		as->ncpus);
	return &as->percpu[me];
}

static inline void as_stat_inc(uint64_t *counter)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* Resident pages, with the space's lock held (user_mm_view.c). */
uint64_t as_rss_locked(struct addr_space *as);

/* The memory manager's side of the OOM path (oom.c). */
/* A fault found no frame: ask the governor; PF_OK (retry), PF_KILLED or PF_OOM. */
enum pf_status mm_oom_from_fault(struct addr_space *as);

/* Installs page_fault_handler as the #PF exception (vector 14); at user_mm_init. */
bool page_fault_init(void);

void as_get(struct addr_space *as);
void as_put(struct addr_space *as);
struct addr_space *mm_registry_first(void);
struct addr_space *as_current_on(unsigned cpu);

/* The served range of as overlaps [start, end) and is pinned. */
bool as_range_pinned(const struct addr_space *as, uint64_t start, uint64_t end);

/* Leaf flags of the pages of g (0 for PROT_NONE: nothing is ever present; pages that have a
 * frame keep it in a protnone entry, mapper.h M8). */
page_flags_t grant_leaf_flags(const struct grant *g);

/* The next present user leaf in [va, end): true with its address in *found. */
bool mm_next_leaf(const struct mapper *m, uint64_t va, uint64_t end, uint64_t *found);
/*
 * Range scans a level-1 table at a time (mapper_leaf_table): the next table of m with
 * entries for [*va, end), *va moved past the holes before it. True with *pt its entries and
 * *stop the end of the part of [*va, end) it covers; false when no table is left. 4 KiB user
 * pages only (a huge leaf is a kernel bug).
 */
bool mm_next_leaf_table(struct mapper *m, uint64_t *va, uint64_t end, pte_t **pt, uint64_t *stop);

/* The next present user leaf or protnone entry in [va, end). */
bool mm_next_entry(const struct mapper *m, uint64_t va, uint64_t end, uint64_t *found);

/* A frame may be mapped writable: unmanaged (physical) memory, One or Shared, never the zero
 * frame (page_fault.c). */
bool mm_frame_may_write(frame_t f);

/* ---- the flusher (tlb_flush.c) ----------------------------------------------------------- */

#define FLUSH_MAX_PAGES 32u
/*
 * Frames wait for the shootdown as runs of consecutive frames with consecutive records: a
 * munmap of memory faulted in order queues a few long runs. A shootdown per 512 frames at
 * most (a 2 MiB delay before they are free again), or when 64 runs are queued (frames
 * scattered through memory: as often as a flat list of 64). Runs instead of a flat list
 * keep the flusher, which lives on the kernel stack once per level of a borrow chain
 * (MM_BORROW_DEPTH_MAX), at about the size of that list.
 */
#define FLUSH_MAX_FRAMES 512u
#define FLUSH_MAX_RUNS 64u
#define FLUSH_MAX_NOTIFY 8u

/*
 * Batched invalidations for one address space. Every page-table change that removes or
 * restricts a translation queues its page; frames whose reference must be dropped, tables
 * the mapper unlinked and file-server notifications are queued too, and all of them are
 * released only after every CPU that may cache a translation of this space acknowledged the
 * shootdown (R8, T1, T3). A full queue flushes first.
 */
struct flusher {
	struct addr_space *as;
	unsigned npages;
	bool all;
	uint64_t pages[FLUSH_MAX_PAGES];
	/* nframes frames in nruns runs; run i is the frames from run_base[i] on, whose records
	 * are run_info[i][0..), up to run_start[i + 1] (frame numbers in queue order; the last
	 * run ends at nframes). next_base and next_info extend the last run. */
	unsigned nframes, nruns;
	paddr_t next_base;
	struct page_info *next_info;
	paddr_t run_base[FLUSH_MAX_RUNS];
	struct page_info *run_info[FLUSH_MAX_RUNS];
	uint16_t run_start[FLUSH_MAX_RUNS];
	unsigned nnotify;
	struct addr_space *notify[FLUSH_MAX_NOTIFY];
	struct table_release rel;
};

void flusher_init(struct flusher *f, struct addr_space *as);
void flusher_flush(struct flusher *f);
/* flusher_free's way when frame starts a new run. */
void flusher_free_run(struct flusher *f, frame_t frame, struct page_info *info);

/* Queue the invalidation of page va (past FLUSH_MAX_PAGES pages: of every page). */
static inline void flusher_page(struct flusher *f, uint64_t va)
{
	if (f->all)
		return;
	if (f->npages == FLUSH_MAX_PAGES) {
		f->all = true;
		return;
	}
	f->pages[f->npages++] = va;
}
/* Drop one reference of frame, whose record is info (get_page_info), after the shootdown. */
static inline void flusher_free(struct flusher *f, frame_t frame, struct page_info *info)
{
	if (__builtin_expect(frame.base != f->next_base || info != f->next_info ||
				     f->nframes == FLUSH_MAX_FRAMES,
			     0))
		return flusher_free_run(f, frame, info);
	f->nframes++;
	f->next_base += PAGE_SIZE;
	f->next_info++;
}
/* Deliver an unmap notification to server srv (pins - 1, notified + 1, reference dropped)
 * after the shootdown. */
void flusher_notify(struct flusher *f, struct addr_space *srv);
/* A table_release with room for one more unmap. */
struct table_release *flusher_rel(struct flusher *f);

void tlb_flush_reset(void);
void tlb_shootdown_interrupt(unsigned vector);

/* ---- shared operations ------------------------------------------------------------------- */

/* Unmap [start, end) of as, splitting grants at the ends (needs 2 reserved slots), releasing
 * provider resources. No pinned check here. */
void mm_unmap_range(struct addr_space *as, uint64_t start, uint64_t end, struct flusher *fl);
/* Fault-path correction of the page of as holding addr, with as locked exclusively, or every
 * space (all: mm_lock_all), which a page under a limit needs, as it may evict (the offset of
 * addr in its page is the line the access touches: zeroing writes it last). touch: the access
 * happens now (a fault the processor retries, a populate), so the entry made gets the A and
 * D bits the access would set (page_fault.c); false for a page made present on another's
 * behalf (fork sharing a page). */
enum mm_access { MM_ACCESS_READ, MM_ACCESS_WRITE, MM_ACCESS_EXEC };
enum pf_status mm_correct_page(struct addr_space *as, uint64_t addr, enum mm_access acc,
			       bool touch, bool all, struct flusher *fl);
/* A fresh frame (count One, from init_frame) that nothing maps goes back: its reference is
 * dropped and it is freed. */
static inline void mm_free_fresh(frame_t f)
{
	remove_ref(get_page_info(f));
	deallocate_frame(f);
}

/* flags for the entry a fault makes for an access acc that touches the page now (touch: the
 * processor retries the access, or a populate stands for it), with the accessed bit, and the
 * dirty bit for a write to a writable page, set already (as Linux does): the retried access
 * finds them, and the processor has nothing to write back to the entry. A page made present
 * for someone else (a borrower's source, fork sharing a page) gets neither: nothing touched
 * it in this space. */
static inline page_flags_t mm_preset_ad(page_flags_t flags, enum mm_access acc, bool touch)
{
	if (!touch)
		return flags;
	flags |= PG_ACCESSED;
	if (acc == MM_ACCESS_WRITE && (flags & PG_WRITABLE))
		flags |= PG_DIRTY;
	return flags;
}

/* Local invalidation when as is loaded on this CPU. */
void mm_local_invlpg(struct addr_space *as, uint64_t va);

#endif
