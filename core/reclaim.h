/*
 * Reclaim and swap, as the rest of the memory manager calls them: the swap-in of a fault on
 * a swap entry, eviction of a frame (from one mapping, or from every mapping through the
 * reverse map), global direct reclaim, and the upkeep of swap entries that munmap, exit,
 * fork and transfer need. The policies that choose a victim under a limit are
 * replace_policy.h.
 *
 * The reverse map: an anonymous frame is mapped only at one address, in the spaces of one
 * fork family (a process and every child forked from it, transitively), as Linux's anon_vma
 * finds it: mm_fork keeps the child in its parent's family, and a frame found at va in one
 * space is looked up at va in every space of the family. A frame mapped anywhere else
 * (borrowed, transferred, a PROT_NONE entry) shows up as references the family does not
 * account for: such a frame is not evicted (it stays resident, which is always correct).
 *
 * Locks: every function here that edits page tables expects the locks of the spaces it
 * edits to be held exclusively (every space, mm_lock_all, where several are edited), except
 * swap_in_page (below) and reclaim_direct / reclaim_space, which run with none held and
 * take them themselves, like the OOM path: each space exclusively, alone, in turn, and
 * every space for the frames several of them map.
 */
#ifndef MMSIM_CORE_RECLAIM_H
#define MMSIM_CORE_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "mm_internal.h"

/* The fault on the swap entry in *slot (page va of grant g): the page comes back (from the
 * swap cache, or read from its slot: a major fault) and is mapped; PF_OOM if no frame. A
 * write may still need the present path (copy-on-write) afterwards: correct_in runs it;
 * PF_OK also when the entry is no longer a swap entry (look again).
 * Locks: a page read from its slot needs only as, shared (the common case: the entry is
 * replaced by compare-and-exchange). Shared memory, a limit and a page the swap cache still
 * holds in a frame need every space (all: the caller holds them): without them, *need_all
 * is set and nothing is done. Under a limit whose victim swap cannot take, PF_OOM with
 * *limit_full set (left alone otherwise). */
enum pf_status swap_in_page(struct addr_space *as, struct grant *g, uint64_t va, pte_t *slot,
			    enum mm_access acc, bool touch, bool all, bool *need_all,
			    bool *limit_full);

/* A mapping of a frame as eviction sees it. */
struct evict_map {
	struct addr_space *as;
	uint64_t va;
	pte_t *slot;
};
/* Why a page is evicted, for the trace. */
struct evict_reason {
	const char *policy; /* "fifo", "clock", "global", ... */
	char why[96];
};
/* Evict frame f from the n mappings in m (each a present leaf of f): each becomes a swap
 * entry for one slot, every space is shot down, the contents are written unless the swap
 * cache says the slot already holds them, and the mappings' references are dropped.
 * false (nothing changed) when swap is full or f cannot be paired. */
bool evict_frame(frame_t f, const struct evict_map *m, unsigned n, const struct evict_reason *why);

/* Direct reclaim, no lock held: evict up to target frames of every process (shared and
 * copy-on-write frames from all their mappings). Returns the frames freed. */
uint64_t reclaim_direct(uint64_t target);
/* The same for the governor's evacuation (a shrinker: one batch). */
uint64_t reclaim_shrinker(void);
/* One round of the global clock through as alone (its lock taken here), evicting up to want
 * frames that only as maps; the frames freed. For tests and the benchmark. */
uint64_t reclaim_space(struct addr_space *as, uint64_t want);

/* munmap and exit: the swap entry old was removed from as (its slot loses a holder). */
void swap_entry_removed(struct addr_space *as, pte_t old);
/* Exit: drop every swap entry of as (before its tables are freed). */
void swap_release_space(struct addr_space *as);
/* fork: the child gets a copy of the parent's swap entry e at va (its slot gains a holder);
 * *cpt is the child's level-1 table for va, made if NULL. false on ENOMEM. */
bool swap_entry_fork(struct addr_space *child, uint64_t va, pte_t e, pte_t **cpt);
/* transfer: copy the swap entries of src in [start, end) to dst at dst_start (each slot
 * gains a holder); false on ENOMEM, with the copies made undone. */
bool swap_entries_copy(struct addr_space *src, uint64_t start, uint64_t end,
		       struct addr_space *dst, uint64_t dst_start);
/* Drop the swap entries of as in [start, end). */
void swap_entries_drop(struct addr_space *as, uint64_t start, uint64_t end);

/* Local replacement (replace_policy.c), the space's lock held. Page va of as is about to
 * become resident (a new frame, or one from the swap cache): false when a victim was needed
 * and could not be evicted (swap full). */
bool replace_make_room(struct addr_space *as, uint64_t va, uint64_t now_va);
/* Page va of as became resident. */
void replace_note_resident(struct addr_space *as, uint64_t va);
/* Exit: the limit's state goes. */
void replace_forget(struct addr_space *as);


#endif
