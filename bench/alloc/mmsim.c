/*
 * mmsim's own frame allocator (core/frame_alloc.c) behind the interface, called out of line
 * like any other: the arena is its physical memory (the direct map), frame n is physical
 * address n * 4 KiB. Frame 0 stays out (physical address 0 is the kernel's "no frame"); the
 * allocator carves its section table and 8-byte records from the start of the arena.
 *
 * An operation is one call, as for the other allocators: the adapter is made of the kernel's
 * inline fast paths (frame_cpu_cache.h: the per-CPU caches of orders 0 .. FRAME_CACHED_ORDERS
 * - 1, the same code allocate_p2frame and deallocate_p2frame are made of, with every check of
 * a free), converting between frame numbers and physical addresses on the way; everything
 * else goes through the kernel's entry points.
 */
#include <stdio.h>

#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_allocator_api.h"
#include "frame_cpu_cache.h"
#include "host/host_platform.h"
#include "phys.h"

static struct boot_area area;

static int mmsim_init(const struct fa_arena *a)
{
	if (a->frames < 2)
		return 1;
	phys_direct_map_base = (uintptr_t)a->mem;
	host_set_cpu_count(a->threads);
	host_set_current_cpu(0);
	area = (struct boot_area){ PAGE_SIZE, (a->frames - 1) * PAGE_SIZE };
	return frame_alloc_init(&area, 1) == FRAME_INIT_OK ? 0 : 1;
}

/* Everything but the order-0 fast path: the kernel's entry points. */
static __attribute__((noinline)) uint64_t mmsim_alloc_slow(unsigned order)
{
	frame_t f = order ? allocate_p2frame(order) : allocate_frame();
	return frame_is_none(f) ? FA_NONE : frame_number(f);
}

/* Orders above 0: a function of their own, so that the order-0 path stays a leaf with
 * nothing to save. */
static __attribute__((noinline)) uint64_t mmsim_alloc_hi(unsigned order)
{
	paddr_t f;

	if (__builtin_expect(order < FRAME_CACHED_ORDERS && frame_alloc_hi_fast(order, &f), 1))
		return f >> PAGE_SHIFT;
	return mmsim_alloc_slow(order);
}

static __attribute__((noinline)) void mmsim_free_hi(uint64_t frame, unsigned order)
{
	frame_t f = { frame << PAGE_SHIFT };

	if (__builtin_expect(order < FRAME_CACHED_ORDERS && frame_free_hi_fast(f.base, frame, order), 1))
		return;
	deallocate_p2frame(f, order);
}

static uint64_t mmsim_alloc(unsigned order)
{
	paddr_t f;

	if (__builtin_expect(order != 0, 0))
		return mmsim_alloc_hi(order);
	if (__builtin_expect(frame_alloc_fast(&f), 1))
		return f >> PAGE_SHIFT;
	return mmsim_alloc_slow(0);
}

static void mmsim_free(uint64_t frame, unsigned order)
{
	if (__builtin_expect(order != 0, 0))
		return mmsim_free_hi(frame, order);
	if (__builtin_expect(frame_free_fast(frame << PAGE_SHIFT, frame), 1))
		return;
	deallocate_frame((frame_t){ frame << PAGE_SHIFT });
}

static void mmsim_attach(unsigned cpu)
{
	host_set_current_cpu(cpu);
}

static const struct frame_allocator mmsim_allocator = {
	.name = "mmsim",
	.about = "mmsim's buddy allocator with per-CPU order-0 caches (core/frame_alloc.c)",
	.max_order = FRAME_MAX_ORDER,
	.max_threads = FRAME_MAX_CPUS,
	.init = mmsim_init,
	.alloc = mmsim_alloc,
	.free = mmsim_free,
	.thread_attach = mmsim_attach,
};
FRAME_ALLOCATOR_REGISTER(mmsim_allocator)
