/*
 * A deliberately broken allocator for the verifier's test: the textbook buddy, except that
 * every 100th allocation hands out the previous block again instead of a new one.
 */
#include <stddef.h>

#include "allocbench.h"

static const struct frame_allocator *inner;
static uint64_t calls, last = FA_NONE;

static int broken_init(const struct fa_arena *a)
{
	inner = fa_find("textbook");
	calls = 0;
	last = FA_NONE;
	return inner ? inner->init(a) : 1;
}

static void broken_fini(void)
{
	inner->fini();
}

static uint64_t broken_alloc(unsigned order)
{
	if (++calls % 100 == 0 && last != FA_NONE)
		return last; /* the bug */
	return last = inner->alloc(order);
}

static void broken_free(uint64_t frame, unsigned order)
{
	inner->free(frame, order);
}

static const struct frame_allocator broken_twice = {
	.name = "broken-twice",
	.about = "test only: hands a block out twice",
	.max_order = FA_MAX_ORDER,
	.max_threads = 1,
	.init = broken_init,
	.fini = broken_fini,
	.alloc = broken_alloc,
	.free = broken_free,
};
FRAME_ALLOCATOR_REGISTER(broken_twice)

/* Blocks not aligned to their order (the 2nd and later allocations of order > 0 are off by
 * one frame). */
static uint64_t skew_alloc(unsigned order)
{
	uint64_t f = inner->alloc(order);
	return f != FA_NONE && order && ++calls > 1 ? f + 1 : f;
}

static void skew_free(uint64_t frame, unsigned order)
{
	inner->free(order && frame & 1 ? frame - 1 : frame, order);
}

static const struct frame_allocator broken_unaligned = {
	.name = "broken-unaligned",
	.about = "test only: hands out unaligned blocks",
	.max_order = FA_MAX_ORDER,
	.max_threads = 1,
	.init = broken_init,
	.fini = broken_fini,
	.alloc = skew_alloc,
	.free = skew_free,
};
FRAME_ALLOCATOR_REGISTER(broken_unaligned)
