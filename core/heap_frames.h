/*
 * The kernel heap's one gate to the frame allocator.
 *
 * Both heap allocators (slab.c, heap_list.c) take and give back frames only through
 * heap_frames_take / heap_frames_give. That single place is where
 * - the cap on frames the whole kernel heap may hold is enforced (exceeding it is an
 *   ordinary allocation failure, never a panic),
 * - the "no heap growth while the KernelMapper is held" rule (docs/redox-mm-notes.md B3) is asserted,
 *   through a check the page-table code registers with kheap_set_forbidden_check,
 * - the pressure governor is asked before any frame is taken (check_before_alloc).
 *
 * Where heap memory lives: in the direct map, like Linux's kmalloc. A heap object is
 * phys_to_virt(frame) + offset; there is no heap virtual window, so growing the heap never
 * edits a page table nor needs the KernelMapper. The rule above stays, so that the mapper
 * may call the heap's clients without a deadlock risk.
 *
 * Invariants:
 * - held(owner) is exactly the number of frames that owner got from heap_frames_take and has
 *   not given back; each owner updates its own count only under its own lock, so under that
 *   lock the count is stable and its audit can compare it with what it finds.
 * - held(SLAB) + held(LIST) <= cap at every moment: frames are reserved against the cap
 *   (compare-and-swap on the total) before the frame allocator is asked.
 *
 * Lock order: a heap allocator's lock, then the frame allocator's locks (taken inside
 * allocate_p2frame_complex / deallocate_p2frame). This file takes no lock of its own.
 */
#ifndef MMSIM_CORE_HEAP_FRAMES_H
#define MMSIM_CORE_HEAP_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

enum heap_owner {
	HEAP_OWNER_SLAB,
	HEAP_OWNER_LIST,
	HEAP_OWNER_COUNT,
};

#define HEAP_FRAMES_UNLIMITED UINT64_MAX

/* Forget all counts (heap re-initialisation) and set the cap in frames. */
void heap_frames_reset(uint64_t cap);
void heap_frames_set_cap(uint64_t cap);
uint64_t heap_frames_cap(void);

/*
 * A block of 2^order frames for owner, best effort from want_order down to min_order (the
 * order obtained goes to *got_order). The cap limits the largest order tried. Returns
 * FRAME_NONE when neither the cap nor the frame allocator allows even min_order. Panics
 * (kernel bug) if the registered forbidden check says the caller holds the KernelMapper.
 */
frame_t heap_frames_take(enum heap_owner owner, unsigned want_order, unsigned min_order,
			 unsigned *got_order);

/* Give back a block obtained from heap_frames_take by the same owner, with its order. */
void heap_frames_give(enum heap_owner owner, frame_t f, unsigned order);

uint64_t heap_frames_held(enum heap_owner owner);
uint64_t heap_frames_held_total(void);

/*
 * Register the check "the current CPU holds the KernelMapper" (NULL removes it). The heap
 * calls it before taking frames and on every kmalloc; when it returns true that is a kernel
 * bug and the heap panics. Until something registers a check, no check is made: the heap has
 * no link dependency on the page-table code.
 */
void kheap_set_forbidden_check(bool (*held)(void));

/* KASSERT that the forbidden check (if any) is false; `what` names the caller for the panic. */
void heap_frames_assert_allowed(const char *what);

#endif
