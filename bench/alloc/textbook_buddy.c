/*
 * A textbook binary buddy allocator, small and plain: a place for students to start from.
 *
 * Memory is cut into naturally aligned blocks of 2^k frames (k = 0 .. FA_MAX_ORDER). The
 * free blocks of each order sit on a doubly linked list. Every frame has a small record; only
 * the record of a free block's first frame (its head) says "free, order k" and holds the
 * list links. The "buddy" of the block of order k at frame f is the block at f XOR 2^k: the
 * other half of the block of order k+1 they were split from.
 *
 *   alloc(order): take a block from the smallest non-empty list of order >= `order`; while it
 *                 is too big, split it in two and put the upper half on the list one order
 *                 down.
 *   free(f, order): while the buddy is a free block of the same order, take it off its list
 *                 and merge (the merged block starts at the lower of the two); then put the
 *                 result on its list.
 *
 * With more than one thread, one lock around everything (a spin lock: the critical sections
 * are a few dozen instructions). No per-CPU cache, no checks: the bench verifies it.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>

#include "frame_allocator_api.h"

#define NIL UINT32_MAX

struct frame_rec {
	uint32_t next, prev; /* list links (frame numbers), valid while `free` */
	uint8_t free;        /* 1: this frame is the head of a free block */
	uint8_t order;       /* the order of that block */
};

static struct frame_rec *rec;
static uint64_t nframes;
static uint32_t free_list[FA_MAX_ORDER + 1];
static bool locked;
static atomic_flag lock = ATOMIC_FLAG_INIT;

static void lock_take(void)
{
	if (locked)
		while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
			__builtin_ia32_pause();
}

static void lock_drop(void)
{
	if (locked)
		atomic_flag_clear_explicit(&lock, memory_order_release);
}

static void list_push(uint32_t f, unsigned order)
{
	rec[f] = (struct frame_rec){ .next = free_list[order], .prev = NIL, .free = 1, .order = (uint8_t)order };
	if (free_list[order] != NIL)
		rec[free_list[order]].prev = f;
	free_list[order] = f;
}

static void list_remove(uint32_t f, unsigned order)
{
	if (rec[f].prev != NIL)
		rec[rec[f].prev].next = rec[f].next;
	else
		free_list[order] = rec[f].next;
	if (rec[f].next != NIL)
		rec[rec[f].next].prev = rec[f].prev;
	rec[f].free = 0;
}

static void buddy_fini(void)
{
	if (rec)
		munmap(rec, nframes * sizeof(*rec));
	rec = NULL;
}

static int buddy_init(const struct fa_arena *a)
{
	buddy_fini();
	if (a->frames >= NIL)
		return 1;
	nframes = a->frames;
	/* populated now, so that no page fault lands in a timed loop */
	rec = mmap(NULL, nframes * sizeof(*rec), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
	if (rec == MAP_FAILED) {
		rec = NULL;
		return 1;
	}
	locked = a->threads > 1;
	for (unsigned k = 0; k <= FA_MAX_ORDER; k++)
		free_list[k] = NIL;
	/* cut [0, frames) into the largest aligned blocks that fit */
	for (uint64_t f = 0; f < nframes;) {
		unsigned k = FA_MAX_ORDER;
		while ((f & ((1ULL << k) - 1)) || f + (1ULL << k) > nframes)
			k--;
		list_push((uint32_t)f, k);
		f += 1ULL << k;
	}
	return 0;
}

static uint64_t buddy_alloc(unsigned order)
{
	unsigned k = order;

	lock_take();
	while (k <= FA_MAX_ORDER && free_list[k] == NIL)
		k++;
	if (k > FA_MAX_ORDER) {
		lock_drop();
		return FA_NONE;
	}
	uint32_t f = free_list[k];
	list_remove(f, k);
	while (k > order) {
		k--;
		list_push(f + (1u << k), k); /* the upper half stays free */
	}
	lock_drop();
	return f;
}

static void buddy_free(uint64_t frame, unsigned order)
{
	uint32_t f = (uint32_t)frame;

	lock_take();
	while (order < FA_MAX_ORDER) {
		uint32_t b = f ^ (1u << order);
		if (b >= nframes || !rec[b].free || rec[b].order != order)
			break;
		list_remove(b, order);
		if (b < f)
			f = b;
		order++;
	}
	list_push(f, order);
	lock_drop();
}

static const struct frame_allocator textbook_allocator = {
	.name = "textbook",
	.about = "a textbook binary buddy allocator (bench/alloc/textbook_buddy.c), one lock",
	.max_order = FA_MAX_ORDER,
	.max_threads = 64,
	.init = buddy_init,
	.fini = buddy_fini,
	.alloc = buddy_alloc,
	.free = buddy_free,
};
FRAME_ALLOCATOR_REGISTER(textbook_allocator)
