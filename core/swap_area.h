/*
 * The swap area: a block device of page-sized slots behind a seam (the host provides it:
 * memory of its own by default, or a file), the slot map with a use count per slot, and the
 * swap cache that pairs a resident frame with the slot still holding its contents.
 *
 * A slot's count is the number of swap entries holding it (swap_entry.h) plus one while the
 * swap cache pairs it with a frame; a slot is free at count 0. The audit (swap_audit in
 * reclaim.c) checks exactly that against every page table.
 *
 * The swap cache (frame <-> slot, at most one slot per frame and one frame per slot) means
 * "this slot holds exactly this frame's contents". It holds no frame reference: the pair
 * goes when the frame is freed (swap_cache_frame_freed, called wherever a user frame loses
 * its last reference) or when the frame is about to be written or shared writable
 * (swap_cache_forget). A paired frame is therefore never mapped writable (page_fault.c's
 * may_write): its contents equal the slot's, so evicting it again needs no write.
 *
 * Lock: the swap lock (spin) protects the slot map and the cache. It is taken after any
 * address-space lock (and after the mm lock), never before; nothing is allocated, nobody is
 * waited for and the device is never called under it (reads and writes of whole slots need
 * no exclusion: swap_write_page).
 */
#ifndef MMSIM_CORE_SWAP_AREA_H
#define MMSIM_CORE_SWAP_AREA_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

/* The device: slots page-sized blocks, read and written a page at a time (the page is
 * kernel memory, through the direct map). false: an I/O error. */
struct swap_device {
	uint64_t slots;
	bool (*read)(void *ctx, uint64_t slot, void *page);
	bool (*write)(void *ctx, uint64_t slot, const void *page);
	void *ctx;
};

/* Boot: attach the device (NULL: no swap), allocating the slot map from the kernel heap.
 * false on ENOMEM. swap_area_reset forgets a previous boot. */
bool swap_area_attach(const struct swap_device *dev);
void swap_area_reset(void);
bool swap_configured(void);

struct swap_stats {
	uint64_t slots, used, cached;  /* cached: slots paired with a frame */
	uint64_t writes, reads;        /* pages written to and read from the device */
	uint64_t dropped_clean;        /* evictions that needed no write */
	uint64_t reclaimed;            /* frames global reclaim freed */
};
void swap_get_stats(struct swap_stats *out);

/* ---- the slot map ---- */
/* A free slot with count 0 (the caller adds the holders); false when swap is full. */
bool swap_slot_alloc(uint64_t *slot);
/* One more holder (a swap entry copied by fork, or the eviction installing one). */
void swap_slot_dup(uint64_t slot);
/* One holder fewer; the slot is free at 0 (a paired frame loses its pair then too). */
void swap_slot_put(uint64_t slot);
uint64_t swap_slot_count(uint64_t slot);
/* A slot with count 0 that swap_slot_alloc handed out but nobody took: give it back. */
void swap_slot_unused(uint64_t slot);

/* ---- the swap cache ---- */
/* Associations now (0: every check below is one load). */
extern uint64_t swap_cache_pairs;
/* The frame paired with slot, FRAME_NONE if none. */
frame_t swap_cache_lookup(uint64_t slot);
/* Whether slot is paired now, without the lock: a hint (a pair made just after is found by
 * swap_cache_add failing). */
bool swap_cache_has_slot(uint64_t slot);
/* The slot paired with f in *slot. */
bool swap_cache_slot_of(frame_t f, uint64_t *slot);
static inline bool swap_cache_holds(frame_t f)
{
	uint64_t s;

	return __atomic_load_n(&swap_cache_pairs, __ATOMIC_RELAXED) && swap_cache_slot_of(f, &s);
}
/* Pair f with slot (count + 1): SWAP_PAIRED. Otherwise nothing changes: SWAP_PAIR_TAKEN if
 * the slot is paired with another frame already (a swap-in on another CPU read the slot at
 * the same time and paired its copy first), SWAP_PAIR_UNINDEXED if f is outside the frames
 * the cache indexes. */
enum swap_pair { SWAP_PAIRED, SWAP_PAIR_TAKEN, SWAP_PAIR_UNINDEXED };
enum swap_pair swap_cache_add(uint64_t slot, frame_t f);
/* Unpair f (its slot's count - 1): f is about to differ from the slot. No-op if unpaired. */
void swap_cache_forget(frame_t f);
/* f lost its last reference: unpair it. One load when nothing is paired. */
static inline void swap_cache_frame_freed(frame_t f)
{
	if (__atomic_load_n(&swap_cache_pairs, __ATOMIC_RELAXED))
		swap_cache_forget(f);
}

/* ---- the device ---- */
/* Whole pages, with no lock held (a file's pwrite may block). */
bool swap_write_page(uint64_t slot, frame_t f);
bool swap_read_page(uint64_t slot, frame_t f);
void swap_note_clean_drops(uint64_t n);
void swap_note_reclaimed(uint64_t n);

/* Slots for a batch of evictions, under one hold of the swap lock: a frame the swap cache
 * pairs with a slot keeps that slot (clean: the pair's count becomes the swap entry's and
 * the pair goes; the caller installs the entry and frees the frame); any other gets a free
 * slot with count 1 (the entry's). In order; returns how many got a slot (fewer when swap
 * is full). The caller holds every space that maps the frames, so nobody meets the pair's
 * absence or the fresh slot before the entries are in place. */
struct swap_evict_slot {
	frame_t f;
	uint64_t slot;
	bool clean;
};
unsigned swap_slots_for_eviction(struct swap_evict_slot *v, unsigned n);

/* The audit (reclaim.c): slot counts against every swap entry and the swap cache, every
 * swap entry well formed, inside an anonymous grant and on a used slot. true if all hold,
 * else the first violation in buf. */
bool swap_audit(char *buf, size_t len);

/* What a fault on page va of as would meet (for explain and views): true if a swap entry is
 * there, with its slot in *slot and whether the swap cache still holds the page in a frame
 * in *cached. */
struct addr_space;
bool swap_entry_at(struct addr_space *as, uint64_t va, uint64_t *slot, bool *cached);

/* Where page va of as is (expect present, show process). */
enum page_residency {
	PAGE_UNTOUCHED,         /* no frame and no slot */
	PAGE_RESIDENT,          /* present (the zero frame included) */
	PAGE_RESIDENT_PROTNONE, /* PROT_NONE, keeping its frame */
	PAGE_SWAPPED,           /* in a swap slot */
};
enum page_residency addr_space_page_residency(struct addr_space *as, uint64_t va);
/* The space's pages in swap (its swap entries). */
uint64_t addr_space_swapped(struct addr_space *as);
/* Every swap entry of every live space: its space's name, address and slot. The mm lock is
 * held: fn must not call the memory manager. */
void swap_for_each_entry(void (*fn)(void *ctx, const char *space, uint64_t va, uint64_t slot),
			 void *ctx);

/* For views: calls fn for every used slot, with its count and paired frame (FRAME_NONE). */
void swap_for_each_used(void (*fn)(void *ctx, uint64_t slot, uint64_t count, frame_t cached),
			void *ctx);

#endif
