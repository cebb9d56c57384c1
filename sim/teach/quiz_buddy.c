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

#include "host/arena.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_alloc_view.h"
#include "host/host_platform.h"
#include "phys.h"
#include "teach/prng.h"
#include "teach/quiz.h"

#define QB_AREA_BASE 0x100000ull
#define QB_MAX_OPS 32
#define QB_DEFAULT_OPS 10
#define QB_SHOW_ORDERS 7 /* the area is at most 96 frames: no block above order 6 */
#define QB_MAX_ATTEMPTS 64

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

/* Boots the allocator afresh on the quiz's free area. */
static bool boot_area(unsigned frames)
{
	boot_memory_reset();
	return register_memory_region(QB_AREA_BASE, (uint64_t)frames << 12, BOOT_MEMORY_FREE) ==
		       BOOT_MEMORY_OK &&
	       boot_memory_init(QB_AREA_BASE, 0) == BOOT_MEMORY_OK &&
	       frame_alloc_init(boot_memory_areas(), boot_memory_area_count()) == FRAME_INIT_OK;
}

/* The operations: allocations while few blocks are live, then frees more often. */
static void make_ops(struct prng *rng, struct op *ops, unsigned n)
{
	bool live[QB_MAX_OPS] = {false};
	unsigned nptr = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned nlive = 0;

		for (unsigned p = 0; p < nptr; p++)
			nlive += live[p];
		if (nlive == 0 || (nlive < 4 && prng_below(rng, 3) != 0) || prng_below(rng, 3) == 0) {
			ops[i] = (struct op){true, 1 + (unsigned)prng_below(rng, 3), nptr};
			live[nptr++] = true;
		} else {
			unsigned pick = (unsigned)prng_below(rng, nlive), p = 0;

			for (;; p++)
				if (live[p] && pick-- == 0)
					break;
			live[p] = false;
			ops[i] = (struct op){false, 0, p};
		}
	}
}

/* Blocks on every free list: an allocation that does not lower it split a block, a free
 * that does not raise it merged one. */
static uint64_t free_blocks(void)
{
	uint64_t counts[FRAME_ORDER_COUNT], sum = 0;

	frame_alloc_free_counts(counts);
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++)
		sum += counts[k];
	return sum;
}

struct buddy_effects {
	unsigned splits, merges;
};

/*
 * Runs one operation on the allocator: the address an allocation got (0: it failed), and
 * whether it split or merged. addr/order_of/live hold the pointers' state.
 */
static void play_one(const struct op *op, paddr_t *addr, unsigned *order_of, bool *live,
		     bool *split, bool *merged)
{
	uint64_t before = free_blocks();

	*split = *merged = false;
	if (op->alloc) {
		frame_t f = allocate_p2frame_complex(op->order, 0, FRAME_STRATEGY_FAST, op->order,
						     NULL);

		addr[op->ptr] = f.base;
		order_of[op->ptr] = op->order;
		live[op->ptr] = f.base != 0;
		*split = f.base && free_blocks() >= before;
	} else if (live[op->ptr]) {
		deallocate_p2frame((frame_t){addr[op->ptr]}, order_of[op->ptr]);
		live[op->ptr] = false;
		*merged = free_blocks() <= before;
	}
}

/* Every operation, then every block still allocated freed (the allocator left clean). */
static struct buddy_effects play(const struct op *ops, unsigned n, paddr_t *addr_out,
				 bool *split_out, bool *merged_out)
{
	paddr_t addr[QB_MAX_OPS];
	unsigned order_of[QB_MAX_OPS];
	bool live[QB_MAX_OPS] = {false};
	struct buddy_effects fx = {0, 0};

	for (unsigned i = 0; i < n; i++) {
		bool split, merged;

		play_one(&ops[i], addr, order_of, live, &split, &merged);
		fx.splits += split;
		fx.merges += merged;
		if (addr_out)
			addr_out[i] = ops[i].alloc ? addr[ops[i].ptr] : 0;
		if (split_out)
			split_out[i] = split, merged_out[i] = merged;
	}
	for (unsigned p = 0; p < n; p++)
		if (live[p])
			deallocate_p2frame((frame_t){addr[p]}, order_of[p]);
	return fx;
}

static void json_lists(FILE *out)
{
	paddr_t blocks[64];

	fputc('{', out);
	for (unsigned k = 0; k < QB_SHOW_ORDERS; k++) {
		size_t nb = frame_alloc_free_list(k, blocks, 64);

		fprintf(out, "%s\"%u\": [", k ? ", " : "", k);
		for (size_t i = 0; i < nb; i++)
			fprintf(out, "%s\"0x%" PRIx64 "\"", i ? ", " : "", blocks[i]);
		fputc(']', out);
	}
	fputc('}', out);
}

/*
 * The problem and its key as one JSON object: the area, the free lists after boot (order ->
 * blocks, first block first), and per operation the allocator's answer, whether it split or
 * merged, and the free lists after it; anyone can replay the rules on the first lists.
 */
static void print_json(const struct quiz_options *o, const struct op *ops, unsigned n,
		       unsigned frames, FILE *out)
{
	paddr_t addr[QB_MAX_OPS];
	unsigned order_of[QB_MAX_OPS];
	bool live[QB_MAX_OPS] = {false};

	fprintf(out, "{\"quiz\": \"buddy\", \"seed\": %" PRIu64 ",\n", o->seed);
	fprintf(out, " \"area\": {\"base\": \"0x%llx\", \"frames\": %u, \"metadata_frames\": %" PRIu64
		"},\n \"free_lists\": ", (unsigned long long)QB_AREA_BASE, frames, metadata_frames());
	json_lists(out);
	fputs(",\n \"operations\": [", out);
	for (unsigned i = 0; i < n; i++) {
		bool split, merged;

		play_one(&ops[i], addr, order_of, live, &split, &merged);
		fprintf(out, "%s\n  {\"n\": %u, ", i ? "," : "", i + 1);
		if (ops[i].alloc && addr[ops[i].ptr])
			fprintf(out, "\"op\": \"alloc\", \"order\": %u, \"ptr\": \"p%u\",\n   \"answer\": "
				"{\"result\": \"0x%" PRIx64 "\"", ops[i].order, ops[i].ptr, addr[ops[i].ptr]);
		else if (ops[i].alloc)
			fprintf(out, "\"op\": \"alloc\", \"order\": %u, \"ptr\": \"p%u\",\n   \"answer\": "
				"{\"result\": \"fails\"", ops[i].order, ops[i].ptr);
		else
			fprintf(out, "\"op\": \"free\", \"ptr\": \"p%u\",\n   \"answer\": {\"result\": \"ok\"",
				ops[i].ptr);
		fprintf(out, ", \"split\": %s, \"merged\": %s, \"free_lists\": ",
			split ? "true" : "false", merged ? "true" : "false");
		json_lists(out);
		fputs("}}", out);
	}
	fputs("\n ]\n}\n", out);
	for (unsigned p = 0; p < n; p++)
		if (live[p])
			deallocate_p2frame((frame_t){addr[p]}, order_of[p]);
}

int quiz_buddy(const struct quiz_options *o, FILE *out, FILE *err)
{
	unsigned n = o->count ? o->count : QB_DEFAULT_OPS;
	struct op ops[QB_MAX_OPS];
	bool live[QB_MAX_OPS] = {false};
	paddr_t addr[QB_MAX_OPS];
	unsigned order_of[QB_MAX_OPS];
	unsigned frames;
	struct prng rng;
	struct arena a;

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
	/* drawn until the allocator splits and merges at least once (two operations cannot
	 * merge: only then is a split enough); the rng goes on, so a seed stays one problem */
	for (unsigned attempt = 0;; attempt++) {
		struct buddy_effects fx;

		make_ops(&rng, ops, n);
		if (!boot_area(frames)) {
			fprintf(err, "mmsim: the frame allocator cannot start on the quiz's memory\n");
			arena_destroy(&a);
			return 2;
		}
		fx = play(ops, n, NULL, NULL, NULL);
		if ((fx.splits && (fx.merges || n < 3)) || attempt == QB_MAX_ATTEMPTS)
			break;
	}
	if (!boot_area(frames)) {
		fprintf(err, "mmsim: the frame allocator cannot start on the quiz's memory\n");
		arena_destroy(&a);
		return 2;
	}
	if (o->json) {
		print_json(o, ops, n, frames, out);
		arena_destroy(&a);
		phys_direct_map_base = 0;
		return 0;
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
	for (unsigned i = 0; i < n; i++) {
		bool was = !ops[i].alloc && live[ops[i].ptr], split, merged;

		play_one(&ops[i], addr, order_of, live, &split, &merged);
		if (ops[i].alloc) {
			fprintf(out, "  %2u. p%u = alloc(order %u)", i + 1, ops[i].ptr, ops[i].order);
			if (!o->solve)
				fputs("  -> ?\n", out);
			else if (addr[ops[i].ptr])
				fprintf(out, "  -> 0x%" PRIx64 "%s\n", addr[ops[i].ptr],
					split ? "  (a larger block was split)" : "");
			else
				fputs("  -> fails: no free block large enough\n", out);
		} else {
			fprintf(out, "  %2u. free(p%u)%s%s\n", i + 1, ops[i].ptr,
				o->solve && !was ? "  (p was never allocated: nothing to do)" : "",
				o->solve && merged ? "  (merged with its buddy)" : "");
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
	return 0;
}
