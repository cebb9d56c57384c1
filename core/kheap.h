/*
 * The kernel heap, front door: kmalloc / kzalloc / kfree / krealloc.
 *
 * Memory lives in the direct map: heap_frames.h says why.
 *
 * Routing: a request of at most SLAB_MAX_SIZE bytes (alignment <= SLAB_MAX_ALIGN) goes to the
 * slab allocator (slab.h), anything larger or more aligned to the linked-list allocator
 * (heap_list.h, alignment up to 4096, sizes up to heap_list_max_size(), about 4 MiB).
 * kfree asks the slab allocator first, which recognises its own frames by page info (an
 * allocated order-0 head) plus the slab magic keyed with the frame number; any other pointer
 * goes to the list allocator, which validates its block and chunk headers. A pointer neither
 * recognises, a double free, or a corrupted header is a kernel bug: plat_panic.
 *
 * Errors: allocation failure (cap reached, frames exhausted, size 0, size too large, bad
 * alignment) returns NULL and counts as a failed allocation; it never panics. The heap is
 * bounded by a cap on the frames it may hold (kheap_init, kheap_set_frame_cap).
 *
 * Rule B3: never allocate from the heap while holding the KernelMapper (heap_frames.h asserts
 * it for every frame the heap takes; kmalloc, kzalloc and krealloc assert it too).
 *
 * Locks: one per allocator (slab, list), never nested with each other. Lock order: heap
 * allocator lock, then the frame allocator's locks; the frame allocator never calls the heap.
 * All functions may be called from any CPU concurrently once kheap_init has run.
 */
#ifndef MMSIM_CORE_KHEAP_H
#define MMSIM_CORE_KHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap_frames.h"

#define KHEAP_CAP_UNLIMITED HEAP_FRAMES_UNLIMITED

/*
 * Start (or restart, forgetting everything: tests) the heap with a cap on the frames it may
 * hold. Call after frame_alloc_init, before any CPU uses the heap.
 */
void kheap_init(uint64_t frame_cap);
void kheap_set_frame_cap(uint64_t frame_cap);

/* 16-byte aligned memory of at least size bytes, or NULL (size 0 included). */
void *kmalloc(size_t size);
/* Same, zero-filled. */
void *kzalloc(size_t size);
/* align: a power of two up to 4096. NULL on a bad alignment. */
void *kmalloc_aligned(size_t size, size_t align);
/* kfree(NULL) does nothing. */
void kfree(void *ptr);
/*
 * Resize: krealloc(NULL, n) is kmalloc(n); krealloc(p, 0) frees p and returns NULL. Keeps p
 * when its block already holds n bytes and is the block kmalloc(n) would pick (same slab
 * class, or a list block at most twice what n needs); otherwise moves the contents to a new
 * 16-byte aligned block (a larger alignment asked from kmalloc_aligned is not kept). On
 * failure returns NULL and p is untouched.
 */
void *krealloc(void *ptr, size_t size);
/* Bytes usable at ptr (>= the size asked). Panics on a pointer the heap did not give. */
size_t kheap_usable_size(void *ptr);

/* Both allocators give back what they cache (empty slabs, the spare chunk): frames released. */
uint64_t kheap_shrink(void);

struct kheap_stats {
	uint64_t bytes_in_use;      /* slab object bytes + list payload bytes */
	uint64_t slab_bytes_in_use;
	uint64_t list_bytes_in_use;
	uint64_t slab_objects;
	uint64_t list_blocks;
	uint64_t slab_frames;       /* frames held by each allocator */
	uint64_t list_frames;
	uint64_t list_chunks;
	uint64_t frame_cap;
	uint64_t allocations;       /* successful kmalloc/kzalloc/kmalloc_aligned/krealloc moves */
	uint64_t frees;
	uint64_t failed_allocations;
};
void kheap_get_stats(struct kheap_stats *out);

/*
 * Check every invariant of both allocators (slab.c S1-S6, heap_list.c H1-H7), including
 * that the frames each holds are exactly what heap_frames counts for it. True if all hold;
 * otherwise false and the first violation, precisely, in buf. Allocates nothing; takes each
 * allocator's lock in turn, so it may run while other CPUs allocate.
 * Cost: O(slabs x objects per slab + list blocks).
 */
bool kheap_audit(char *buf, size_t len);

#endif
