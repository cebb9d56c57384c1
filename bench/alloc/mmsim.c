/*
 * mmsim's own frame allocator (core/frame_alloc.c) behind the interface, called out of line
 * like any other: the arena is its physical memory (the direct map), frame n is physical
 * address n * 4 KiB. Frame 0 stays out (physical address 0 is the kernel's "no frame"); the
 * allocator carves its section table and 8-byte records from the start of the arena.
 *
 * An operation is one call, as for the other allocators: the adapter is made of the kernel's
 * inline fast paths (frame_cpu_cache.h: the per-CPU caches, the same code allocate_p2frame
 * and deallocate_p2frame are made of, with every check of a free), which take and give frame
 * numbers as the interface does; everything else goes through the kernel's entry points.
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

/* Everything but the fast path: the kernel's entry points. */
static __attribute__((noinline)) uint64_t mmsim_alloc_slow(unsigned order)
{
	frame_t f = allocate_p2frame(order);
	return frame_is_none(f) ? FA_NONE : frame_number(f);
}

/* One path for every order, with no branch on the order (frame_cpu_cache.h): a mix of
 * orders would mispredict one. The interface asks for orders up to max_order alone, which
 * the fast paths take. */
static uint64_t mmsim_alloc(unsigned order)
{
	uint64_t pfn;

	if (__builtin_expect(frame_alloc_fast(order, &pfn), 1))
		return pfn;
	return mmsim_alloc_slow(order);
}

static void mmsim_free(uint64_t frame, unsigned order)
{
	if (__builtin_expect(!frame_free_fast(frame, order), 0))
		deallocate_p2frame((frame_t){ frame << PAGE_SHIFT }, order);
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
