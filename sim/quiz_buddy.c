/*
 * mmsim quiz buddy: allocations and frees of blocks of 2, 4 and 8 frames on the kernel's
 * real buddy allocator (core/frame_buddy.c), booted on a small free area, and the question a
 * student must answer: which address each allocation returns, and what the free lists hold
 * at the end. The answers come from the allocator itself (frame_alloc_free_list).
 *
 * Order 0 is left out on purpose: mmsim serves single frames from a per-CPU cache in front of
 * the buddy lists (a different lesson), while blocks of order 1 and more go to the lists.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_alloc_view.h"
#include "host_platform.h"
#include "phys.h"
#include "prng.h"
#include "quiz.h"

#define QB_AREA_BASE 0x100000ull
#define QB_MAX_OPS 32
#define QB_DEFAULT_OPS 10
#define QB_SHOW_ORDERS 7 /* the area is at most 96 frames: no block above order 6 */

struct op {
	bool alloc;
	unsigned order;
	unsigned ptr; /* alloc: the pointer it sets; free: the pointer it frees */
};

static void print_lists(FILE *out, const char *indent)
{
	uint64_t counts[FRAME_ORDER_COUNT];
	paddr_t blocks[64];

	frame_alloc_free_counts(counts);
	for (unsigned k = 0; k < QB_SHOW_ORDERS; k++) {
		size_t n = frame_alloc_free_list(k, blocks, 64);

		fprintf(out, "%sorder %u (%3u KiB):", indent, k, 4u << k);
		if (n == 0)
			fputs(" empty", out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, " 0x%" PRIx64, blocks[i]);
		fputc('\n', out);
	}
}

/* The free lists on one line, empty orders left out. */
static void print_lists_short(FILE *out)
{
	paddr_t blocks[64];
	bool first = true;

	fputs("        free lists:", out);
	for (unsigned k = 0; k < QB_SHOW_ORDERS; k++) {
		size_t n = frame_alloc_free_list(k, blocks, 64);

		if (n == 0)
			continue;
		fprintf(out, "%s order %u:", first ? "" : " |", k);
		for (size_t i = 0; i < n; i++)
			fprintf(out, " 0x%" PRIx64, blocks[i]);
		first = false;
	}
	fputs(first ? " all empty\n" : "\n", out);
}

int quiz_buddy(const struct quiz_options *o, FILE *out, FILE *err)
{
	unsigned n = o->count ? o->count : QB_DEFAULT_OPS;
	struct op ops[QB_MAX_OPS];
	bool live[QB_MAX_OPS] = {false};
	paddr_t addr[QB_MAX_OPS];
	unsigned order_of[QB_MAX_OPS];
	unsigned nptr = 0, frames;
	struct prng rng;
	struct arena a;
	enum frame_init_error fe;

	if (n > QB_MAX_OPS) {
		fprintf(err, "mmsim: quiz buddy: at most %d operations\n", QB_MAX_OPS);
		return 2;
	}
	prng_seed(&rng, o->seed);
	frames = 32 + (unsigned)prng_below(&rng, 65); /* 32..96 frames of RAM above 1 MiB */
	if (arena_create(&a, 2u << 20, 0) != ARENA_OK) {
		fprintf(err, "mmsim: cannot create physical memory\n");
		return 2;
	}
	phys_direct_map_base = (uintptr_t)a.base;
	host_set_cpu_count(1);
	host_set_current_cpu(0);
	boot_memory_reset();
	if (register_memory_region(QB_AREA_BASE, (uint64_t)frames << 12, BOOT_MEMORY_FREE) !=
		    BOOT_MEMORY_OK ||
	    boot_memory_init(QB_AREA_BASE, 0) != BOOT_MEMORY_OK ||
	    (fe = frame_alloc_init(boot_memory_areas(), boot_memory_area_count())) != FRAME_INIT_OK) {
		fprintf(err, "mmsim: the frame allocator cannot start on the quiz's memory\n");
		arena_destroy(&a);
		return 2;
	}

	/* the operations: allocations while few blocks are live, then frees more often */
	for (unsigned i = 0; i < n; i++) {
		unsigned nlive = 0;

		for (unsigned p = 0; p < nptr; p++)
			nlive += live[p];
		if (nlive == 0 || (nlive < 4 && prng_below(&rng, 3) != 0) || prng_below(&rng, 3) == 0) {
			ops[i] = (struct op){true, 1 + (unsigned)prng_below(&rng, 3), nptr};
			live[nptr++] = true;
		} else {
			unsigned pick = (unsigned)prng_below(&rng, nlive), p = 0;

			for (;; p++)
				if (live[p] && pick-- == 0)
					break;
			live[p] = false;
			ops[i] = (struct op){false, 0, p};
		}
	}

	fprintf(out, "ARG quiz buddy\nARG seed %" PRIu64 "\nARG operations %u\n", o->seed, n);
	fprintf(out, "ARG free area [0x%llx, 0x%llx) (%u frames of 4 KiB)\n\n",
		(unsigned long long)QB_AREA_BASE,
		(unsigned long long)(QB_AREA_BASE + ((uint64_t)frames << 12)), frames);
	fprintf(out,
		"The kernel's buddy allocator took over that area at boot; its own metadata took\n"
		"%" PRIu64 " frame%s at its start. A block of order k is 2^k frames, aligned to its size; its buddy\n"
		"is the block at its address XOR (4 KiB << k). The rules mmsim follows:\n"
		"  - alloc(k) takes the first block of the smallest non-empty list of order >= k;\n"
		"    a larger block is split in halves: the low half is kept (split further if\n"
		"    needed) and each high half goes to the front of the list of its order;\n"
		"  - free puts the block back and merges it with its buddy while the buddy is free\n"
		"    and whole; the merged block goes to the front of its list;\n"
		"  - an allocation that finds no block large enough fails.\n\n"
		"Free lists after boot (first block first):\n",
		metadata_frames(), metadata_frames() == 1 ? "" : "s");
	print_lists(out, "  ");
	fputs("\nOperations:\n", out);
	nptr = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ops[i].alloc) {
			frame_t f = allocate_p2frame_complex(ops[i].order, 0, FRAME_STRATEGY_FAST,
							     ops[i].order, NULL);

			addr[ops[i].ptr] = f.base;
			order_of[ops[i].ptr] = ops[i].order;
			live[ops[i].ptr] = f.base != 0;
			fprintf(out, "  %2u. p%u = alloc(order %u)", i + 1, ops[i].ptr, ops[i].order);
			if (!o->solve)
				fputs("  -> ?\n", out);
			else if (f.base)
				fprintf(out, "  -> 0x%" PRIx64 "\n", f.base);
			else
				fputs("  -> fails: no free block large enough\n", out);
		} else {
			bool was = live[ops[i].ptr];

			fprintf(out, "  %2u. free(p%u)%s\n", i + 1, ops[i].ptr,
				o->solve && !was ? "  (p was never allocated: nothing to do)" : "");
			if (was) {
				deallocate_p2frame((frame_t){addr[ops[i].ptr]}, order_of[ops[i].ptr]);
				live[ops[i].ptr] = false;
			}
		}
		if (o->solve)
			print_lists_short(out);
	}
	if (!o->solve)
		fputs("\nWhat does each allocation return, and what do the free lists hold at the end?\n",
		      out);
	else {
		fputs("\nFree lists at the end:\n", out);
		print_lists(out, "  ");
	}
	/* leave nothing allocated (valgrind, and a clean allocator if anyone looks) */
	for (unsigned p = 0; p < QB_MAX_OPS; p++)
		if (p < n && live[p])
			deallocate_p2frame((frame_t){addr[p]}, order_of[p]);
	arena_destroy(&a);
	phys_direct_map_base = 0;
	(void)fe;
	return 0;
}
