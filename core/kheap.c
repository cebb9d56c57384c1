/*
 * Kernel heap front door: routing between slab and list, statistics, audit. See kheap.h.
 *
 * Invariants: the counters below only ever grow (statistics); every live object belongs to
 * exactly one of the two allocators, which keep their own invariants (slab.c, heap_list.c).
 */
#include "kheap.h"

#include <stdatomic.h>

#include "heap_list.h"
#include "kstring.h"
#include "platform.h"
#include "slab.h"

static _Atomic uint64_t n_allocs, n_frees, n_failed;

void kheap_init(uint64_t frame_cap)
{
	heap_frames_reset(frame_cap);
	slab_init();
	heap_list_init();
	atomic_store(&n_allocs, 0);
	atomic_store(&n_frees, 0);
	atomic_store(&n_failed, 0);
}

void kheap_set_frame_cap(uint64_t frame_cap)
{
	heap_frames_set_cap(frame_cap);
}

static void *counted(void *p)
{
	atomic_fetch_add_explicit(p ? &n_allocs : &n_failed, 1, memory_order_relaxed);
	return p;
}

static void *alloc(size_t size, size_t align)
{
	heap_frames_assert_allowed("kmalloc");
	if (size == 0 || align == 0 || (align & (align - 1)))
		return NULL;
	int cls = slab_class_for(size, align);
	return cls >= 0 ? slab_alloc((unsigned)cls) : heap_list_alloc(size, align);
}

void *kmalloc(size_t size)
{
	return counted(alloc(size, 16));
}

void *kmalloc_aligned(size_t size, size_t align)
{
	return counted(alloc(size, align));
}

void *kzalloc(size_t size)
{
	void *p = counted(alloc(size, 16));

	if (p)
		kmemset(p, 0, size);
	return p;
}

void kfree(void *ptr)
{
	if (!ptr)
		return;
	if (slab_free(ptr) == SLAB_NOT_MINE)
		heap_list_free(ptr);
	atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
}

size_t kheap_usable_size(void *ptr)
{
	size_t n = slab_usable_size(ptr);

	return n ? n : heap_list_usable_size(ptr);
}

void *krealloc(void *ptr, size_t size)
{
	if (!ptr)
		return kmalloc(size);
	if (size == 0) {
		kfree(ptr);
		return NULL;
	}
	heap_frames_assert_allowed("krealloc");
	size_t usable = kheap_usable_size(ptr);
	int cls = slab_class_for(size, 16);
	if (size <= usable && (cls >= 0 ? slab_class_size((unsigned)cls) == usable : usable / 2 <= size))
		return ptr;
	void *q = kmalloc(size);
	if (!q)
		return NULL;
	kmemcpy(q, ptr, size < usable ? size : usable);
	kfree(ptr);
	return q;
}

uint64_t kheap_shrink(void)
{
	return slab_shrink() + heap_list_shrink();
}

void kheap_get_stats(struct kheap_stats *out)
{
	struct slab_stats s;
	struct heap_list_stats l;

	slab_get_stats(&s);
	heap_list_get_stats(&l);
	*out = (struct kheap_stats){
		.bytes_in_use = s.bytes_in_use + l.bytes_in_use,
		.slab_bytes_in_use = s.bytes_in_use,
		.list_bytes_in_use = l.bytes_in_use,
		.slab_objects = s.objects_in_use,
		.list_blocks = l.blocks_in_use,
		.slab_frames = s.frames,
		.list_frames = l.frames,
		.list_chunks = l.chunks,
		.frame_cap = heap_frames_cap(),
		.allocations = atomic_load_explicit(&n_allocs, memory_order_relaxed),
		.frees = atomic_load_explicit(&n_frees, memory_order_relaxed),
		.failed_allocations = atomic_load_explicit(&n_failed, memory_order_relaxed),
	};
}

bool kheap_audit(char *buf, size_t len)
{
	/*
	 * Each allocator compares the frames it finds with heap_frames_held(owner) under its own
	 * lock, where that count is stable, so the check is exact even while other CPUs allocate.
	 * (The gate's total also counts reservations in flight, so it is compared with the sum
	 * only at quiescent points, by the tests.)
	 */
	return slab_audit(buf, len, NULL) && heap_list_audit(buf, len, NULL);
}
