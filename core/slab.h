/*
 * The slab allocator: small objects of fixed size classes, one frame (order 0) per slab.
 *
 * Size classes: 16, 32, 64, 128, 256, 512, 1024 bytes. Each slab frame begins with a 64-byte
 * header; objects follow back to back, so an object of class c is aligned to min(c, 64) and
 * never spans frames. There is no 2048 class on purpose: with the header in the frame only one
 * 2048-byte object would fit, which the linked-list allocator does better (16 bytes overhead).
 *
 * Slab lists per class: partial (some objects free), full (none free), empty (all free). At
 * most SLAB_EMPTY_KEEP (1) empty slab is cached per class, so a class that oscillates around a
 * slab boundary does not take and return a frame on every call; any further slab that becomes
 * empty goes straight back to the frame allocator. slab_shrink() returns the cached ones too.
 *
 * Identifying a slab from an object pointer (slab_free): the frame holding the pointer must be
 * an allocated order-0 head in its page info (a list chunk's inner frames are INTERIOR there,
 * and every heap-held head frame starts with a heap header, never with caller data), and its
 * first word must be the slab magic keyed with the frame number. Only then is the header
 * trusted; the class, the object slot and the per-slab allocation bitmap are checked next.
 *
 * Concurrency: one lock for the whole slab allocator (sleeping class, klock.h: a slab is made
 * under it). Lock order: after the memory manager's locks; slab lock, then the
 * frame allocator's locks. Never taken together with the linked-list allocator's lock.
 * A detected kernel bug releases the lock before panicking (so a test that catches the panic
 * can go on); detection always happens before any state is changed.
 */
#ifndef MMSIM_CORE_SLAB_H
#define MMSIM_CORE_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLAB_CLASS_COUNT 7
#define SLAB_MIN_SIZE 16
#define SLAB_MAX_SIZE 1024
#define SLAB_HEADER_SIZE 64
#define SLAB_MAX_ALIGN 64
#define SLAB_EMPTY_KEEP 1

/* Reset to the empty state (forgets everything; used by kheap_init). */
void slab_init(void);

/* Class index for an object of `size` bytes aligned to `align` (a power of two), or -1. */
int slab_class_for(size_t size, size_t align);
size_t slab_class_size(unsigned cls);
/* Objects per slab of class cls. */
unsigned slab_class_capacity(unsigned cls);

/* An object of class cls, or NULL when no frame can be had (cap or memory). */
void *slab_alloc(unsigned cls);

enum slab_free_result {
	SLAB_FREED,    /* it was a live slab object and is free now */
	SLAB_NOT_MINE, /* not in a slab frame: the caller tries the other allocator */
};
/*
 * Free an object. A pointer inside a slab frame that is not the start of a live object
 * (double free, interior pointer, the header) is a kernel bug: plat_panic.
 */
enum slab_free_result slab_free(void *ptr);

/* Size class of a live slab object, or 0 if ptr is not in a slab frame (panics like slab_free
 * on a pointer into a slab frame that is not a live object). */
size_t slab_usable_size(void *ptr);

/* Return every cached empty slab to the frame allocator; the number of frames released. */
uint64_t slab_shrink(void);

struct slab_class_stats {
	uint64_t size;
	uint64_t objects_in_use;
	uint64_t slabs_partial, slabs_full, slabs_empty;
};

struct slab_stats {
	uint64_t bytes_in_use; /* objects in use x class size */
	uint64_t objects_in_use;
	uint64_t frames;       /* slabs held (one frame each) */
	struct slab_class_stats cls[SLAB_CLASS_COUNT];
};
void slab_get_stats(struct slab_stats *out);

/*
 * Check every slab invariant (see slab.c) under the slab lock; true if all hold, else false
 * with the first violation described in buf. Allocates nothing. *frames_out (if not NULL)
 * receives the number of slab frames found.
 */
bool slab_audit(char *buf, size_t len, uint64_t *frames_out);

#endif
