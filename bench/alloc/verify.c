/*
 * The verifier: every allocator passes these checks before allocbench times it, and gets
 * no figures if it fails one.
 *
 * Each block an allocator hands out must lie inside the arena, start at a multiple of its
 * size (naturally aligned) and share no frame with any block still allocated (a block
 * handed out twice, or overlapping another). Frees must be accepted: what was freed can
 * be allocated again. The checks run on a shadow bitmap of allocated frames:
 *
 *   1. fill: order-0 allocations until the allocator has none (it must have at least half
 *      the arena), all freed in random order, then a second fill that must get exactly as
 *      many frames back;
 *   2. mixed: (max_order > 0) 200,000 allocations and frees of random orders 0..max_order
 *      at up to half occupancy, then everything freed;
 *   3. threads: (threads > 1) the same mix (order 0 only for order-0 allocators) on every
 *      thread at once, each thread as its own CPU, all against the one bitmap.
 *
 * The allocator is initialised afresh for each part. Trace replays are checked the same way
 * (trace.c).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbench.h"

bool verifier_init(struct verifier *v, const struct frame_allocator *fa, uint64_t frames)
{
	v->fa = fa;
	v->frames = frames;
	v->bits = ab_map((frames + 63) / 64 * sizeof(uint64_t));
	atomic_store(&v->failed, false);
	v->msg[0] = 0;
	return v->bits != NULL;
}

void verifier_fini(struct verifier *v)
{
	ab_unmap((void *)v->bits, (v->frames + 63) / 64 * sizeof(uint64_t));
	v->bits = NULL;
}

void v_fail(struct verifier *v, const char *fmt, ...)
{
	bool expected = false;
	if (!atomic_compare_exchange_strong(&v->failed, &expected, true))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

/* Set (or clear) the bits of [f, f + n); true if every one of them was clear (set) before. */
static bool flip(struct verifier *v, uint64_t f, uint64_t n, bool set)
{
	bool clean = true;

	while (n) {
		uint64_t w = f / 64, b = f % 64, k = 64 - b < n ? 64 - b : n;
		uint64_t mask = (k == 64 ? ~0ULL : ((1ULL << k) - 1)) << b;
		uint64_t old = set ? atomic_fetch_or(&v->bits[w], mask) : atomic_fetch_and(&v->bits[w], ~mask);
		if ((old & mask) != (set ? 0 : mask))
			clean = false;
		f += k;
		n -= k;
	}
	return clean;
}

uint64_t v_alloc(struct verifier *v, unsigned order)
{
	uint64_t f = v->fa->alloc(order), n = 1ULL << order;

	if (f == FA_NONE)
		return f;
	if (f >= v->frames || n > v->frames - f) {
		v_fail(v, "alloc(%u) returned frame %llu: the block is not inside the arena of %llu frames",
		       order, (unsigned long long)f, (unsigned long long)v->frames);
		return FA_NONE;
	}
	if (f & (n - 1)) {
		v_fail(v, "alloc(%u) returned frame %llu, which is not aligned to 2^%u frames", order,
		       (unsigned long long)f, order);
		return FA_NONE;
	}
	if (!flip(v, f, n, true)) {
		v_fail(v, "alloc(%u) returned frame %llu, but a frame of that block is already allocated "
		       "(handed out twice, or overlapping another block)", order, (unsigned long long)f);
		return FA_NONE; /* the bench never frees it: its bits stay set */
	}
	return f;
}

void v_free(struct verifier *v, uint64_t frame, unsigned order)
{
	if (!flip(v, frame, 1ULL << order, false))
		v_fail(v, "allocbench freed block %llu order %u that it did not hold (a bench bug)",
		       (unsigned long long)frame, order);
	v->fa->free(frame, order);
}

/* ---- the checks ---------------------------------------------------------------------------- */

struct vjob {
	struct verifier *v;
	unsigned cpu;
	unsigned max_order;
	uint64_t ops, target, cap;
	uint64_t *blocks;
	uint64_t rng;
};

static uint64_t fill(struct verifier *v, uint64_t *blocks, uint64_t cap)
{
	uint64_t n = 0;
	for (uint64_t f; n < cap && (f = v_alloc(v, 0)) != FA_NONE;)
		blocks[n++] = f;
	return n;
}

static void *mixed(void *arg)
{
	struct vjob *j = arg;
	struct verifier *v = j->v;
	uint64_t n = 0, held = 0;

	if (v->fa->thread_attach)
		v->fa->thread_attach(j->cpu);
	for (uint64_t i = 0; i < j->ops && !atomic_load(&v->failed); i++) {
		uint64_t x = ab_rnd(&j->rng);
		if ((held < j->target || !n) && n < j->cap) {
			unsigned o = (unsigned)((x & 0xffff) * (j->max_order + 1) >> 16);
			uint64_t f = v_alloc(v, o);
			if (f != FA_NONE) {
				j->blocks[n++] = f << 4 | o;
				held += 1ULL << o;
			}
		} else {
			uint64_t k = ((x >> 32) * n) >> 32, b = j->blocks[k];
			v_free(v, b >> 4, (unsigned)(b & 15));
			held -= 1ULL << (b & 15);
			j->blocks[k] = j->blocks[--n];
		}
	}
	while (n--)
		v_free(v, j->blocks[n] >> 4, (unsigned)(j->blocks[n] & 15));
	if (v->fa->thread_detach)
		v->fa->thread_detach(j->cpu);
	return NULL;
}

static bool init_fa(struct verifier *v, struct ab_arena *a, unsigned threads)
{
	a->fa.threads = threads;
	if (v->fa->init(&a->fa)) {
		v_fail(v, "init over %llu frames failed", (unsigned long long)a->fa.frames);
		return false;
	}
	return true;
}

static void fini_fa(struct verifier *v)
{
	if (v->fa->fini)
		v->fa->fini();
}

static void check_fill(struct verifier *v, struct ab_arena *a, uint64_t *blocks)
{
	uint64_t frames = a->fa.frames, seed = 42;

	if (!init_fa(v, a, 1))
		return;
	if (v->fa->thread_attach)
		v->fa->thread_attach(0);
	uint64_t first = fill(v, blocks, frames);
	if (!v->failed && first < frames / 2)
		v_fail(v, "only %llu of %llu frames could be allocated", (unsigned long long)first,
		       (unsigned long long)frames);
	ab_shuffle(blocks, first, &seed);
	for (uint64_t i = 0; i < first; i++)
		v_free(v, blocks[i], 0);
	uint64_t second = fill(v, blocks, frames);
	if (!v->failed && second != first)
		v_fail(v, "frees not accepted: the first fill got %llu frames, a fill after freeing them "
		       "all %llu", (unsigned long long)first, (unsigned long long)second);
	for (uint64_t i = 0; i < second; i++)
		v_free(v, blocks[i], 0);
	if (v->fa->thread_detach)
		v->fa->thread_detach(0);
	fini_fa(v);
}

static void check_mixed(struct verifier *v, struct ab_arena *a, unsigned threads, uint64_t *blocks)
{
	struct vjob job[64];
	uint64_t cap = a->fa.frames / threads;

	if (!init_fa(v, a, threads))
		return;
	for (unsigned i = 0; i < threads; i++)
		job[i] = (struct vjob){ v, i, v->fa->max_order < 9 ? v->fa->max_order : 9,
					threads > 1 ? 50000 : 200000, a->fa.frames / 2 / threads, cap,
					blocks + i * cap, 0x243f6a8885a308d3ULL * (i + 1) };
	run_threads(threads, mixed, job, sizeof(job[0]));
	fini_fa(v);
}

bool verify_allocator(const struct frame_allocator *fa, struct ab_arena *arena, unsigned threads,
		      char *msg, size_t msg_size)
{
	struct verifier v;
	uint64_t *blocks = ab_map(arena->fa.frames * sizeof(uint64_t));

	if (!blocks || !verifier_init(&v, fa, arena->fa.frames)) {
		snprintf(msg, msg_size, "out of memory for the verifier");
		ab_unmap(blocks, arena->fa.frames * sizeof(uint64_t));
		return false;
	}
	check_fill(&v, arena, blocks);
	if (!v.failed && fa->max_order > 0)
		check_mixed(&v, arena, 1, blocks);
	if (!v.failed && threads > 1 && fa->max_threads >= threads)
		check_mixed(&v, arena, threads, blocks);
	bool ok = !v.failed;
	snprintf(msg, msg_size, "%s", v.msg);
	verifier_fini(&v);
	ab_unmap(blocks, arena->fa.frames * sizeof(uint64_t));
	return ok;
}
