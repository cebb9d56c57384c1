/*
 * The linked-list kernel heap allocator: first fit over address-ordered free lists with
 * coalescing, in chunks of physically contiguous frames taken from the frame allocator.
 *
 * Chunks. Growth asks heap_frames for a 1 MiB block (order LIST_CHUNK_ORDER = 8) and accepts
 * anything down to the smallest order that can hold the request (order 0 for small ones).
 * A request too large for a 1 MiB chunk gets a chunk of its own of the order it needs, if the
 * buddy can provide one (at most FRAME_MAX_ORDER: 4 MiB); otherwise the allocation fails with
 * NULL. Unlike Redox's heap (docs/redox-mm-notes.md section 7) growth never panics, is bounded by the
 * heap frame cap, and chunks are given back: when a chunk becomes entirely free it is returned
 * to the frame allocator, except that one empty chunk of at most LIST_CHUNK_ORDER is kept as a
 * spare (so a single allocation freed and made again at a chunk boundary does not take and
 * return 1 MiB each time). heap_list_shrink() returns the spare too. An emptied chunk larger
 * than LIST_CHUNK_ORDER (a dedicated big allocation) is always returned at once.
 *
 * Layout. Every chunk starts with a 64-byte chunk header; the rest is tiled by blocks, each
 * with a 16-byte header (magic keyed with its address, offset from the chunk start, size).
 * Free blocks of a chunk form a singly linked list in address order; adjacent free blocks are
 * always merged; a chunk's blocks never merge with another chunk's, even if the chunks are
 * physically adjacent (each chunk goes back to the frame allocator on its own). First fit scans
 * the chunks in address order, so it is first fit over one address-ordered free list.
 *
 * Alignment: payloads are 16-byte aligned; heap_list_alloc accepts any power-of-two alignment
 * up to LIST_MAX_ALIGN (4096). The space skipped before an aligned payload stays a free block.
 *
 * Validation of a pointer to free: its block header must carry the used magic for its address,
 * the header's frame must be an allocated frame (head or inner) of the frame allocator, and the
 * chunk the header points back to must carry the chunk magic, be an allocated head of the
 * chunk's recorded order, and contain the block. Anything else is plat_panic.
 *
 * Concurrency: one lock for the allocator (sleeping class, klock.h: chunks are made under it).
 * Lock order: after the memory manager's locks; list lock, then the frame
 * allocator's locks. Never taken together with the slab lock. A detected kernel bug releases
 * the lock before panicking; detection always happens before any state changes.
 */
#ifndef MMSIM_CORE_HEAP_LIST_H
#define MMSIM_CORE_HEAP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIST_CHUNK_ORDER 8
#define LIST_CHUNK_HEADER 64
#define LIST_BLOCK_HEADER 16
#define LIST_MIN_BLOCK 32
#define LIST_MAX_ALIGN 4096
#define LIST_SPARE_KEEP 1

/* Reset to the empty state (forgets everything; used by kheap_init). */
void heap_list_init(void);

/*
 * size bytes aligned to align (a power of two <= LIST_MAX_ALIGN; smaller values mean 16).
 * NULL if size is 0, the alignment is invalid, or no chunk can be had (cap or memory).
 */
void *heap_list_alloc(size_t size, size_t align);

/* Free a block; anything but a live block of this allocator is a kernel bug (panic). */
void heap_list_free(void *ptr);

/* Payload bytes of a live block (>= the size asked); panics like heap_list_free. */
size_t heap_list_usable_size(void *ptr);

/* Largest size heap_list_alloc can ever satisfy with 16-byte alignment. */
size_t heap_list_max_size(void);

/* Return the spare empty chunk (if any); frames released. */
uint64_t heap_list_shrink(void);

struct heap_list_stats {
	uint64_t bytes_in_use;  /* payload bytes of live blocks (usable sizes) */
	uint64_t blocks_in_use;
	uint64_t bytes_free;    /* bytes in free blocks, headers included */
	uint64_t free_blocks;
	uint64_t chunks;
	uint64_t frames;
};
void heap_list_get_stats(struct heap_list_stats *out);

/*
 * Check every invariant (see heap_list.c) under the list lock; true if all hold, else false
 * with the first violation in buf. Allocates nothing. *frames_out (if not NULL) receives the
 * frames found in chunks.
 */
bool heap_list_audit(char *buf, size_t len, uint64_t *frames_out);

#endif
