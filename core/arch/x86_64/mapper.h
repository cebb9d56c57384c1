/*
 * The page-table mapper: edits one x86_64 four-level page-table tree, given its top-level
 * table (PML4) frame. Every table is a frame from the frame allocator, reached through
 * phys_to_virt; every entry is written with pte_make_leaf / pte_make_table (page_flags.h).
 *
 * A mapper edits one half of the address space:
 *   MAPPER_USER   the lower half [0, USER_END): one per address space. It owns its PML4 and
 *                 every table below PML4 slots 0..255. Slots 256..511 are copies of the kernel's
 *                 (kernel_space_clone_upper) and are never edited nor freed through it.
 *   MAPPER_KERNEL the upper half [KERNEL_HALF_START, 2^64): the kernel's own tree
 *                 (kernel_space.h), edited only under the KernelMapper lock.
 *
 * Invariants kept here:
 * - M1 a present leaf is never overwritten: mapping over one is MAP_EXISTS (Redox overwrites
 *   it silently and leaks the old frame's reference);
 * - M2 intermediate entries are P|RW, plus US for user-half addresses and supervisor for the
 *   kernel half, never XD or G: the leaf alone decides about rights;
 * - M3 a huge leaf is never walked through as a table: MAP_HUGE_CONFLICT;
 * - M4 nothing is half-built: a map call allocates every missing table (zeroed) before it
 *   links any, links them bottom-up and publishes the chain with one store, so a concurrent
 *   hardware walk sees the old tree or a whole chain, never a partial one; on MAP_ENOMEM it
 *   frees what it allocated (never visible to anyone) and changes nothing;
 * - M5 table_frames counts exactly the tables reachable from this mapper that it owns (the
 *   root included; a user mapper does not count the shared kernel-half tables);
 * - M6 a user-half table that becomes empty on unmap is unlinked and handed back in a
 *   table_release, never freed inside the unmap: the processor (and its paging-structure
 *   caches) may still walk it until the caller's TLB shootdown. Kernel-half tables are never
 *   released (they are shared by every address space).
 * - M7 entries that the processor may update concurrently (A/D bits) are changed with atomic
 *   exchange / compare-and-swap, so a remap or unmap never loses a D bit set meanwhile.
 * - M8 protnone entries (page_flags.h): a 4 KiB user-half entry with P=0 that keeps a frame
 *   for a PROT_NONE page. The processor sees it as not present (every access faults, nothing
 *   is cached); to the mapper it is an entry like a leaf: it is never overwritten (mapping
 *   over it is MAP_EXISTS, M1), it keeps its tables (a table holding one is not empty, M6),
 *   mapper_unmap removes it, mapper_destroy_user reports it, and mapper_visit reports it
 *   through its own callback. The frame reference a present PTE holds is held by the
 *   protnone entry instead: refcount == present user PTEs + protnone entries + kernel
 *   holders (the audit's R1). mapper_translate, which walks as the processor does, never
 *   sees it; mapper_protnone_get reads it.
 * - M9 swap entries (swap_entry.h: P=0, bit 11 clear, software bit 10 set, the area's
 *   type in bits 62:59, the slot inverted in bits 51:12): a 4 KiB user-half entry whose page
 *   is in a swap slot. Never confusable with an empty entry (it is non-zero) nor with a
 *   protnone one (bit 11). To the mapper it is an occupied entry: mapping over it is
 *   MAP_EXISTS, a table holding one is not empty (M6), mapper_translate and mapper_visit's
 *   leaf and protnone callbacks never see it, and mapper_destroy_user ignores it (the
 *   memory manager drops every swap entry's slot first, reclaim.c). The slot count a swap
 *   entry holds is the memory manager's (swap_area.h).
 *
 * Concurrency: a mapper is not locked inside; the caller serialises the edits of one tree
 * (the address space's lock, or the KernelMapper lock), with one exception: missing tables
 * may be made by several CPUs at once (page faults of one space hold its lock shared):
 * a chain of new tables is published with a compare-and-exchange of the empty entry it
 * hangs from, the loser frees its tables and walks again, and table_frames is counted
 * atomically. Unlinking tables (M6) needs the caller's exclusive lock. Reads by the
 * processor may run at any time and always see either the old or the new entry.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_MAPPER_H
#define MMSIM_CORE_ARCH_X86_64_MAPPER_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/page_flags.h"
#include "frame.h"

/* The end of the user half and the start of the kernel half (4-level paging, 48 bits). */
#define USER_END 0x0000800000000000ull
#define KERNEL_HALF_START 0xffff800000000000ull
/* PML4 slots of the two halves. */
#define PML4_USER_SLOTS 256u
#define PML4_KERNEL_FIRST_SLOT 256u

static inline bool va_canonical(uint64_t va)
{
	return va < USER_END || va >= KERNEL_HALF_START;
}

static inline bool va_is_user(uint64_t va)
{
	return va < USER_END;
}

enum map_result {
	MAP_OK = 0,
	MAP_ENOMEM,        /* a table could not be allocated; nothing changed */
	MAP_EXISTS,        /* a present leaf (or, for a huge map, a table) is already there */
	MAP_NOT_MAPPED,    /* no present leaf maps the address */
	MAP_HUGE_CONFLICT, /* a huge leaf is where a table is needed, or va is inside (not at the
			      base of) the huge leaf being unmapped or remapped */
	MAP_EINVAL,        /* non-canonical or unaligned address, bad flags or level, address
			      not encodable, or user/kernel half mismatch */
};

const char *map_result_name(enum map_result r);

enum mapper_space {
	MAPPER_USER,
	MAPPER_KERNEL,
};

struct mapper {
	frame_t root;
	enum mapper_space space;
	uint64_t table_frames; /* M5 */
};

/*
 * Allocate a zeroed PML4 and make m a mapper over it. MAP_ENOMEM if no frame. A user mapper
 * gets the kernel half by kernel_space_clone_upper(m->root) (see kernel_space_new_user).
 */
enum map_result mapper_new(struct mapper *m, enum mapper_space space);

/*
 * Map the 4 KiB page at va to frame. flags are leaf flags: PG_PRESENT required, PG_HUGE not
 * allowed; a user-half va needs PG_USER and must not be PG_GLOBAL (a global user page would
 * survive the address-space switch); a kernel-half va must not be PG_USER. Allocates missing
 * tables zeroed (M4). No TLB flush is needed: a not-present translation is never cached.
 */
enum map_result mapper_map(struct mapper *m, uint64_t va, frame_t frame, page_flags_t flags);

/*
 * Map a 2 MiB (level PT_LEVEL_PD) or 1 GiB (level PT_LEVEL_PDPT) page at va to the block
 * starting at frame; both aligned to the page size. PG_HUGE is implied. MAP_EXISTS if the
 * slot holds a present leaf or a table (even an empty one), MAP_HUGE_CONFLICT if a larger
 * leaf covers va, MAP_EINVAL for 1 GiB pages on a CPU without them.
 */
enum map_result mapper_map_huge(struct mapper *m, uint64_t va, frame_t frame, page_flags_t flags,
				unsigned level);

/* What an unmap or translate found. */
struct mapped_leaf {
	frame_t frame;      /* base of the page (first frame of a huge page) */
	page_flags_t flags; /* the entry's flags, with A/D as the processor left them */
	unsigned level;     /* 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB) */
};

/*
 * Tables emptied by unmaps, waiting for the TLB shootdown. Contract:
 *  1. unmap with a table_release that has room for MAPPER_UNMAP_MAX_RELEASE more frames
 *     (table_release_needs_flush() false); an unmap panics otherwise;
 *  2. the caller shoots down the unmapped addresses on every CPU that may use the address
 *     space (INVLPG also drops the paging-structure-cache entries for the address);
 *  3. only then table_release_free() returns the frames to the frame allocator.
 * Between 1 and 3 the frames are still allocated (used) but no longer counted in the
 * mapper's table_frames.
 */
#define TABLE_RELEASE_CAPACITY 16u
#define MAPPER_UNMAP_MAX_RELEASE 3u /* a PT, its PD and its PDPT */

struct table_release {
	unsigned count;
	frame_t frames[TABLE_RELEASE_CAPACITY];
};

void table_release_init(struct table_release *rel);
bool table_release_needs_flush(const struct table_release *rel);
/* Free every held table frame (after the shootdown) and empty the list. */
void table_release_free(struct table_release *rel);

/*
 * Unlink every user-half table that maps nothing (rollbacks unmap without a release list and
 * leave such tables linked) into rel, bottom-up, until rel is full; the root is kept. Returns
 * how many were unlinked. The same contract as unmap: shoot the space down before
 * table_release_free. Memory-pressure evacuation calls it.
 */
unsigned mapper_reclaim_empty_tables(struct mapper *m, struct table_release *rel);

/*
 * Remove the leaf mapping va, or the protnone entry at va (M8: out->flags then has
 * PG_PROTNONE and no PG_PRESENT), and report it in *out (may be NULL). va must be the base of
 * the leaf (MAP_HUGE_CONFLICT inside a huge page). For a user-half va and rel != NULL, every
 * intermediate table left without a present entry is unlinked from its parent and appended
 * to rel (M6); *released (may be NULL) gets how many. With rel == NULL empty tables stay
 * linked (they are freed with the address space). The caller flushes the TLB.
 */
enum map_result mapper_unmap(struct mapper *m, uint64_t va, struct mapped_leaf *out,
			     struct table_release *rel, unsigned *released);

/*
 * Replace the flags of the present leaf at va (its base, as for unmap). The frame, the page
 * size and the processor's A/D bits are kept; the same flag rules as mapper_map apply.
 * *old_flags (may be NULL) gets the previous flags. The caller flushes the TLB.
 */
enum map_result mapper_remap(struct mapper *m, uint64_t va, page_flags_t flags,
			     page_flags_t *old_flags);

/*
 * PROT_NONE pages (M8), user mappers and 4 KiB pages only (MAP_EINVAL otherwise):
 *
 * mapper_protnone: the present 4 KiB leaf at va becomes a protnone entry with the same frame
 * and its rights kept (PG_PROTNONE_KEPT_FLAGS, A/D as the processor left them); *out (may be
 * NULL) gets the leaf as it was. MAP_NOT_MAPPED without a present leaf, MAP_HUGE_CONFLICT for
 * a huge one. The caller shoots the page down (the old translation may be cached).
 */
enum map_result mapper_protnone(struct mapper *m, uint64_t va, struct mapped_leaf *out);

/*
 * The protnone entry at va becomes a present leaf with the same frame and `flags` (the same
 * rules as mapper_map; its kept A/D bits stay). *kept (may be NULL) gets the protnone entry
 * (flags with PG_PROTNONE, no PG_PRESENT). MAP_NOT_MAPPED if va holds no protnone entry,
 * MAP_EXISTS if it holds a present leaf. No TLB flush is needed (nothing was cached).
 */
enum map_result mapper_protnone_restore(struct mapper *m, uint64_t va, page_flags_t flags,
					struct mapped_leaf *kept);

/*
 * Install a protnone entry for frame at va (fork and transfer copy them): `flags` are the
 * rights kept (within PG_PROTNONE_KEPT_FLAGS, PG_USER required). Allocates missing tables as
 * mapper_map does (M4); MAP_EXISTS if va holds a present leaf or a protnone entry.
 */
enum map_result mapper_map_protnone(struct mapper *m, uint64_t va, frame_t frame,
				    page_flags_t flags);

/* The protnone entry at va in *out: MAP_OK; MAP_EXISTS for a present leaf; MAP_NOT_MAPPED. */
enum map_result mapper_protnone_get(const struct mapper *m, uint64_t va, struct mapped_leaf *out);

struct translation {
	paddr_t pa;           /* the physical address va translates to (offset included) */
	struct mapped_leaf leaf;
	pte_t entry;          /* the raw leaf entry */
};

/*
 * Range edits a level-1 table at a time (fork, munmap), instead of a walk from the root per
 * page. mapper_leaf_table gives the 512 entries of the table (PT) that holds the 4 KiB entry
 * of va in a user mapper, through the direct map; they stay valid while the caller keeps
 * edits of the tree serialised and the table linked. Results:
 *   MAP_OK            *entries set;
 *   MAP_NOT_MAPPED    (create false) a table on the way is missing: *next (may be NULL) gets
 *                     the first address past that hole (0 at the top), so a scan skips it;
 *   MAP_ENOMEM        (create true) a missing table could not be had; nothing changed (M4);
 *   MAP_HUGE_CONFLICT a huge leaf covers va;
 *   MAP_EINVAL        va is not in the user half, or m is not a user mapper.
 * The caller keeps the invariants itself: M1 (a non-zero entry is replaced only by whoever
 * takes over what it held, the frame reference with it), M7 (the mapper_entry_* operations
 * below are atomic; a plain load and store loses an A/D update), M8 (protnone entries hold
 * a frame like leaves), and M6 through mapper_prune_tables once it emptied entries.
 */
enum map_result mapper_leaf_table(struct mapper *m, uint64_t va, bool create, pte_t **entries,
				  uint64_t *next);

/* M6 after range edits: unlink the level-1 table of va, then its parents, bottom-up while
 * they are empty, into rel (room for MAPPER_UNMAP_MAX_RELEASE, as for mapper_unmap). Returns
 * how many were unlinked. */
unsigned mapper_prune_tables(struct mapper *m, uint64_t va, struct table_release *rel);

/*
 * mapper_map and mapper_remap of a user 4 KiB page whose level-1 slot the caller already has
 * (from mapper_leaf_table, for va; the fault path finds it once). mapper_map_slot with a NULL
 * slot (the table is missing) is mapper_map. The same rules and results as the two calls.
 */
enum map_result mapper_map_slot(struct mapper *m, pte_t *slot, uint64_t va, frame_t frame,
				page_flags_t flags);
enum map_result mapper_remap_slot(pte_t *slot, page_flags_t flags, page_flags_t *old_flags);

static inline pte_t mapper_entry_load(const pte_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Only into an empty slot (M1), or by the one who owns a table nobody walks yet. */
static inline void mapper_entry_store(pte_t *slot, pte_t value)
{
	__atomic_store_n(slot, value, __ATOMIC_RELEASE);
}

/* Replace an entry by another with a plain store, for a caller that holds every other
 * writer off (the space's lock exclusively) and has no use for the A/D bits a processor may
 * set meanwhile: processors set them by compare-and-exchange against the entry they walked,
 * so never into the new one (M7 holds: no update lands in the wrong entry). */
static inline void mapper_entry_overwrite(pte_t *slot, pte_t value)
{
	__atomic_store_n(slot, value, __ATOMIC_RELEASE);
}

/* Replace an entry by another (0 to empty the slot) in one step; returns the old entry with
 * the A/D bits the processor left (M7). */
static inline pte_t mapper_entry_exchange(pte_t *slot, pte_t value)
{
	return __atomic_exchange_n(slot, value, __ATOMIC_ACQ_REL);
}

/* Replace the entry seen at slot by value if it is still exactly what was seen: true if
 * done. How two CPUs faulting in one space fill an empty entry (one wins). */
static inline bool mapper_entry_cas(pte_t *slot, pte_t seen, pte_t value)
{
	return __atomic_compare_exchange_n(slot, &seen, value, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* The entry at slot is still the one seen, but for the A/D bits the processor may have set
 * since (M7): whoever looked at it and then let go of its table lock asks this. */
static inline bool mapper_entry_unchanged(const pte_t *slot, pte_t seen)
{
	return !((mapper_entry_load(slot) ^ seen) & ~(PTE_A | PTE_D));
}

/* Clear flags (PG_WRITABLE for write protection) of the entry seen at slot without losing a
 * concurrent A/D update (M7). A processor only ever sets A and D in an entry, and every
 * other writer holds the lock the caller holds: with both already set in what the caller
 * saw, nothing can change the entry meanwhile, and a plain store (no locked instruction) is
 * exact. */
static inline void mapper_entry_clear(pte_t *slot, pte_t seen, page_flags_t flags)
{
	if ((seen & (PTE_A | PTE_D)) == (PTE_A | PTE_D))
		__atomic_store_n(slot, seen & ~pte_bits(flags), __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(slot, ~pte_bits(flags), __ATOMIC_ACQ_REL);
}

/* Clear flags of the entry at slot in one atomic step (PG_ACCESSED for a second chance, M7);
 * true if any of them was set. */
static inline bool mapper_entry_test_and_clear(pte_t *slot, page_flags_t flags)
{
	return (__atomic_fetch_and(slot, ~pte_bits(flags), __ATOMIC_ACQ_REL) & pte_bits(flags)) != 0;
}

/* Walk the tree as the processor would (without rights checks) for any canonical va. */
enum map_result mapper_translate(const struct mapper *m, uint64_t va, struct translation *out);

/*
 * Visit the tree in address order. table(ctx, frame, level, va) is called for every table
 * (the root with level 4 first, then each table before the entries inside it; va is the first
 * address it covers); leaf(ctx, va, entry, level) for every present leaf; protnone(ctx, va,
 * entry, level) for every protnone entry (M8). Any of them may be NULL. A callback returning
 * false stops the walk; mapper_visit then returns false.
 */
enum mapper_visit_scope {
	MAPPER_VISIT_USER,   /* PML4 slots 0..255 */
	MAPPER_VISIT_KERNEL, /* PML4 slots 256..511 */
	MAPPER_VISIT_ALL,
};

struct mapper_visitor {
	bool (*table)(void *ctx, frame_t table, unsigned level, uint64_t va);
	bool (*leaf)(void *ctx, uint64_t va, pte_t entry, unsigned level);
	void *ctx;
	bool (*protnone)(void *ctx, uint64_t va, pte_t entry, unsigned level);
};

bool mapper_visit(const struct mapper *m, enum mapper_visit_scope scope,
		  const struct mapper_visitor *v);

/*
 * Exit: free every user-half table and the PML4 of a user mapper, calling leaf(ctx, va,
 * entry, level) first for every present leaf and every protnone entry (pte_present(entry)
 * false; both hold a frame reference, M8: the caller drops the frames' references).
 * The caller guarantees that no CPU still uses this tree (every CPU switched CR3 away and its
 * TLB was shot down). Afterwards m->root is FRAME_NONE and m->table_frames 0.
 */
void mapper_destroy_user(struct mapper *m, void (*leaf)(void *ctx, uint64_t va, pte_t entry,
							 unsigned level),
			 void *ctx);

#endif
