/* Unit tests of the buddy frame allocator and its audit (A1-A9). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_alloc_state.h"
#include "frame_audit.h"
#include "frame_cpu_cache.h"
#include "frame_section.h"
#include "host/host_platform.h"
#include "page_info.h"
#include "test_machine.h"
#include "../check_main.h"

/*
 * 64 MiB default machine: free area [3 MiB, 64 MiB) = 15616 frames; one section; metadata =
 * 16 B table + 15616 * 8 B infos = 124944 B -> 31 frames at [0x300000, 0x31f000). Free run
 * [0x31f000, 0x4000000): order 0 at 0x31f000, order 5 at 0x320000, order 6 at 0x340000,
 * order 7 at 0x380000, and 15 order-10 blocks from 0x400000.
 */
#define TOTAL 15616u
#define META 31u

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = 64 * MiB, .cpus = 4 });
}

static void teardown(void)
{
	test_machine_halt();
}

START_TEST(test_init_layout)
{
	ck_assert_uint_eq(total_frames(), TOTAL);
	ck_assert_uint_eq(metadata_frames(), META);
	ck_assert_uint_eq(used_frames(), META);
	ck_assert_uint_eq(free_frames(), TOTAL - META);
	ck_assert_uint_eq(frame_section_table_pa, 0x300000);
	ck_assert_uint_eq(frame_alloc_state.heads[0], 0x31f000);
	ck_assert_uint_eq(frame_alloc_state.heads[5], 0x320000);
	ck_assert_uint_eq(frame_alloc_state.heads[6], 0x340000);
	ck_assert_uint_eq(frame_alloc_state.heads[7], 0x380000);
	ck_assert_uint_eq(frame_alloc_state.heads[10], 0x400000);
	ck_assert_uint_eq(frame_alloc_state.nonempty,
			  (1u << 0) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 10));
	struct list_snapshot s;
	snapshot_lists(&s);
	ck_assert_uint_eq(s.count[10], 15);
	ck_assert_uint_eq(s.blocks[10][0], 0x400000);
	ck_assert_uint_eq(s.blocks[10][14], 0x3c00000);
	snapshot_free(&s);
	/* page infos: managed frames have one, the rest do not */
	ck_assert_ptr_null(get_page_info((frame_t){ 0x2ff000 }));
	ck_assert_ptr_null(get_page_info((frame_t){ 0x4000000 }));
	ck_assert_ptr_null(get_page_info((frame_t){ 0x1000 }));
	ck_assert_ptr_nonnull(get_page_info((frame_t){ 0x300000 }));
	ck_assert_ptr_eq(get_page_info((frame_t){ 0x3ff000 }), get_page_info((frame_t){ 0x3fe000 }) + 1);
	ck_assert_int_eq(page_info_state(get_page_info((frame_t){ 0x31e000 })), PAGE_STATE_METADATA);
	ck_assert_int_eq(page_info_state(get_page_info((frame_t){ 0x31f000 })), PAGE_STATE_FREE);
	audit_ok();
}
END_TEST

START_TEST(test_order0_fast_path_addresses)
{
	frame_t a = allocate_frame(), b = allocate_frame();
	ck_assert_uint_eq(a.base, 0x320000);
	ck_assert_uint_eq(b.base, 0x321000);
	/* the refill took 32 frames (the order-5 block, whole) into cpu 0's cache */
	ck_assert_uint_eq(cached_frames(), 30);
	ck_assert_uint_eq(frame_alloc_state.heads[5], 0);
	ck_assert_uint_eq(frame_alloc_state.heads[6], 0x340000);
	ck_assert_uint_eq(used_frames(), META + 2);
	ck_assert_uint_eq(free_frames() + used_frames(), total_frames());
	struct page_info *ia = get_page_info(a);
	ck_assert_int_eq(page_info_state(ia), PAGE_STATE_USED);
	ck_assert_int_eq(page_info_refcount(ia).kind, REFCOUNT_U0);
	audit_ok();
	deallocate_frame(b);
	deallocate_frame(a);
	ck_assert_uint_eq(cached_frames(), 32);
	/* LIFO: the last freed comes back first */
	ck_assert_uint_eq(allocate_frame().base, 0x320000);
	ck_assert_uint_eq(allocate_frame().base, 0x321000);
	audit_ok();
}
END_TEST

START_TEST(test_lowest_strategy)
{
	unsigned got = 99;
	frame_t f = allocate_p2frame_complex(0, 0, FRAME_STRATEGY_LOWEST, 0, &got);
	ck_assert_uint_eq(f.base, 0x31f000);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_eq(cached_frames(), 0);
	/* the lowest block is now the order-5 one at 0x320000: split, its first frame */
	ck_assert_uint_eq(allocate_p2frame_complex(0, 0, FRAME_STRATEGY_LOWEST, 0, NULL).base, 0x320000);
	/* its halves left free: 0x321000 (order 0), 0x322000 (1), 0x324000 (2), ... */
	ck_assert_uint_eq(allocate_p2frame_complex(2, 0, FRAME_STRATEGY_LOWEST, 2, &got).base, 0x324000);
	ck_assert_uint_eq(got, 2);
	/* FAST order 2 takes from the smallest sufficient list: the order-3 block at 0x328000,
	 * split */
	ck_assert_uint_eq(allocate_p2frame(2).base, 0x328000);
	audit_ok();
}
END_TEST

START_TEST(test_best_effort_orders)
{
	/* take every order-10 block: then order 10 fails and the best effort falls back */
	frame_t big[15];
	for (int i = 0; i < 15; i++) {
		big[i] = allocate_p2frame(10);
		ck_assert_uint_eq(big[i].base, 0x400000 + (uint64_t)i * 0x400000);
	}
	ck_assert(frame_is_none(allocate_p2frame(10)));
	ck_assert(frame_is_none(allocate_p2frame(8)));
	unsigned got = 0;
	frame_t f = allocate_p2frame_complex(10, 0, FRAME_STRATEGY_FAST, 3, &got);
	ck_assert_uint_eq(got, 7);
	ck_assert_uint_eq(f.base, 0x380000);
	ck_assert(frame_is_none(allocate_p2frame_complex(10, 0, FRAME_STRATEGY_FAST, 7, &got)));
	f = allocate_p2frame_complex(10, 0, FRAME_STRATEGY_FAST, 3, &got);
	ck_assert_uint_eq(got, 6);
	ck_assert_uint_eq(f.base, 0x340000);
	ck_assert_uint_eq(used_frames(), META + 15 * 1024 + 128 + 64);
	audit_ok();
	for (int i = 14; i >= 0; i--)
		deallocate_p2frame(big[i], 10);
	audit_ok();
}
END_TEST

START_TEST(test_zero_flag_and_not_zeroed_by_default)
{
	frame_t f = allocate_p2frame(3);
	ck_assert(frame_is_aligned_to_order(f, 3));
	memset(phys_to_virt(f.base), 0xab, 8 * PAGE_SIZE);
	deallocate_p2frame(f, 3);
	frame_t g = allocate_p2frame(3);
	ck_assert_uint_eq(g.base, f.base);
	unsigned char *p = phys_to_virt(g.base);
	ck_assert_uint_eq(p[0], 0xab); /* not zeroed without the flag */
	ck_assert_uint_eq(p[8 * PAGE_SIZE - 1], 0xab);
	deallocate_p2frame(g, 3);
	unsigned got;
	frame_t h = allocate_p2frame_complex(3, FRAME_ZERO, FRAME_STRATEGY_FAST, 3, &got);
	ck_assert_uint_eq(h.base, f.base);
	for (size_t i = 0; i < 8 * PAGE_SIZE; i++)
		ck_assert_uint_eq(p[i], 0);
	/* zeroed order-0 frame */
	frame_t z = allocate_frame();
	memset(phys_to_virt(z.base), 0x5a, PAGE_SIZE);
	deallocate_frame(z);
	frame_t z2 = allocate_zeroed_frame();
	ck_assert_uint_eq(z2.base, z.base);
	unsigned char *q = phys_to_virt(z2.base);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		ck_assert_uint_eq(q[i], 0);
	audit_ok();
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(test_split_merge_exact)
{
	struct list_snapshot before, after;
	snapshot_lists(&before);
	enum { N = 2000 }; /* orders 0..4 average 6.2 frames: about 12400 of 15554 */
	frame_t *fr = calloc(N, sizeof(*fr));
	unsigned *ord = calloc(N, sizeof(*ord));
	uint64_t expect_used = META;
	int live = 0;
	for (int i = 0; i < N; i++) {
		unsigned o = (unsigned)(rnd() % 5);
		frame_t f = allocate_p2frame(o);
		if (frame_is_none(f))
			break;
		ck_assert(frame_is_aligned_to_order(f, o));
		fr[live] = f;
		ord[live++] = o;
		expect_used += 1u << o;
		ck_assert_uint_eq(used_frames(), expect_used);
		if (i % 500 == 0)
			audit_ok();
	}
	ck_assert_int_eq(live, N);
	/* free in random order */
	for (int i = live - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint64_t)(i + 1));
		frame_t tf = fr[i]; fr[i] = fr[j]; fr[j] = tf;
		unsigned to = ord[i]; ord[i] = ord[j]; ord[j] = to;
	}
	for (int i = 0; i < live; i++) {
		deallocate_p2frame(fr[i], ord[i]);
		expect_used -= 1u << ord[i];
		ck_assert_uint_eq(used_frames(), expect_used);
		if (i % 500 == 0)
			audit_ok();
	}
	ck_assert_uint_eq(used_frames(), META);
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(cached_frames(), 0);
	audit_ok();
	snapshot_lists(&after);
	ck_assert(snapshots_equal_as_sets(&before, &after));
	snapshot_free(&before);
	snapshot_free(&after);
	free(fr);
	free(ord);
}
END_TEST

START_TEST(test_exhaustion)
{
	uint64_t avail = free_frames();
	ck_assert_uint_eq(avail, TOTAL - META);
	frame_t *all = calloc(avail + 1, sizeof(*all));
	uint64_t n = 0;
	for (;;) {
		frame_t f = allocate_frame();
		if (frame_is_none(f))
			break;
		ck_assert_uint_lt(n, avail);
		all[n++] = f;
	}
	ck_assert_uint_eq(n, avail);
	ck_assert_uint_eq(free_frames(), 0);
	ck_assert_uint_eq(used_frames(), TOTAL);
	ck_assert(frame_is_none(allocate_frame()));
	ck_assert(frame_is_none(allocate_p2frame(0)));
	ck_assert(frame_is_none(allocate_p2frame(4)));
	ck_assert(frame_is_none(allocate_zeroed_frame()));
	ck_assert_int_eq(init_frame(REFCOUNT_ONE_INIT).error, MM_ENOMEM);
	audit_ok();
	/* A7: free every other frame of the 4 MiB-aligned region: order 0 works, order 1 not */
	uint64_t freed = 0;
	for (uint64_t i = 0; i < n; i++)
		if (all[i].base >= 0x400000 && (all[i].base >> PAGE_SHIFT) % 2 == 0) {
			deallocate_frame(all[i]);
			all[i] = FRAME_NONE;
			freed++;
		}
	ck_assert_uint_eq(freed, 15 * 512);
	ck_assert_uint_eq(free_frames(), freed);
	ck_assert(frame_is_none(allocate_p2frame(1)));
	frame_alloc_drain_cpu_caches();
	ck_assert(frame_is_none(allocate_p2frame(1)));
	audit_ok();
	frame_t one = allocate_frame();
	ck_assert(!frame_is_none(one));
	deallocate_frame(one);
	/* free the rest: everything merges back, an order-10 block is available again */
	for (uint64_t i = 0; i < n; i++)
		if (!frame_is_none(all[i]))
			deallocate_frame(all[i]);
	frame_t big = allocate_p2frame(10);
	ck_assert(!frame_is_none(big));
	deallocate_p2frame(big, 10);
	ck_assert_uint_eq(free_frames(), avail);
	audit_ok();
	free(all);
}
END_TEST

START_TEST(test_double_free_detected)
{
	frame_t f = allocate_frame();
	deallocate_frame(f);
	EXPECT_PANIC(deallocate_frame(f), "double free");
	frame_t g = allocate_p2frame(3);
	deallocate_p2frame(g, 3);
	EXPECT_PANIC(deallocate_p2frame(g, 3), "double free");
	audit_ok();
}
END_TEST

START_TEST(test_wrong_order_free_detected)
{
	frame_t f = allocate_p2frame(2);
	EXPECT_PANIC(deallocate_p2frame(f, 1), "wrong-order free");
	EXPECT_PANIC(deallocate_p2frame(f, 3), "wrong-order free");
	EXPECT_PANIC(deallocate_frame(f), "wrong-order free");
	/* an interior frame is not a block of its own */
	EXPECT_PANIC(deallocate_frame(frame_add(f, 1)), "interior");
	EXPECT_PANIC(deallocate_frame((frame_t){ 0x1000 }), "unmanaged");
	EXPECT_PANIC(deallocate_frame((frame_t){ 0x300000 }), "metadata");
	/* a frame that still has references */
	frame_t r = init_frame(REFCOUNT_ONE_INIT).frame;
	EXPECT_PANIC(deallocate_frame(r), "references");
	deallocate_p2frame(f, 2);
	audit_ok();
}
END_TEST

START_TEST(test_split_block_page_by_page)
{
	uint64_t free0 = free_frames();
	/* a 5-frame run: allocate order 3, split, give back the 3-frame tail at once */
	frame_t f = allocate_p2frame(3);
	frame_split_block(f, 3);
	for (unsigned i = 5; i < 8; i++)
		deallocate_frame(frame_add(f, i));
	ck_assert_uint_eq(free_frames(), free0 - 5);
	audit_ok();
	unsigned order[] = { 3, 0, 4, 1, 2 };
	for (unsigned i = 0; i < 5; i++) {
		deallocate_frame(frame_add(f, order[i]));
		audit_ok();
	}
	ck_assert_uint_eq(free_frames(), free0);
	/* a 1000-frame run from an order-10 block, freed from the middle outwards */
	frame_t b = allocate_p2frame(10);
	frame_split_block(b, 10);
	for (unsigned i = 1000; i < 1024; i++)
		deallocate_frame(frame_add(b, i));
	for (unsigned i = 0; i < 500; i++) {
		deallocate_frame(frame_add(b, 499 - i));
		deallocate_frame(frame_add(b, 500 + i));
	}
	ck_assert_uint_eq(free_frames(), free0);
	frame_alloc_drain_cpu_caches();
	audit_ok();
	/* everything merged back: the order-10 block is whole again */
	ck_assert_uint_eq(allocate_p2frame(10).base, b.base);
	EXPECT_PANIC(frame_split_block(frame_add(b, 1), 0), "interior");
}
END_TEST

/* Every frame of the order-10 block b is free again and merged back whole: free_frames is
 * free0 and the block can be had again. */
static void expect_whole_again(frame_t b, uint64_t free0)
{
	ck_assert_uint_eq(free_frames(), free0);
	frame_alloc_drain_cpu_caches();
	audit_ok();
	ck_assert_uint_eq(allocate_p2frame(10).base, b.base);
	deallocate_p2frame(b, 10);
}

/* Four order-0 frames, unreferenced but frame i, which has one reference. */
static frame_t four_frames_one_referenced(unsigned i)
{
	frame_t c = allocate_p2frame(2);

	frame_split_block(c, 2);
	page_info_set_refcount(get_page_info(frame_add(c, i)), REFCOUNT_ONE_INIT);
	return c;
}

START_TEST(test_batch_free_gives_runs_back_whole)
{
	uint64_t free0 = free_frames(), cached0 = cached_frames();
	frame_t b = allocate_p2frame(10), v[1024];
	struct page_info *r;

	frame_split_block(b, 10);
	/* an aligned run of 16 (frames 16..31) goes back as one order-4 block: no per-CPU cache,
	 * its head FREE with order 4 (its buddy, frames 0..15, is still allocated), the other 15
	 * records interior */
	for (unsigned i = 0; i < 16; i++)
		v[i] = frame_add(b, 16 + i);
	deallocate_frames(v, 16);
	ck_assert_uint_eq(free_frames(), free0 - 1024 + 16);
	ck_assert_uint_eq(cached_frames(), cached0);
	r = get_page_info(frame_add(b, 16));
	ck_assert_int_eq(page_info_state(r), PAGE_STATE_FREE);
	ck_assert_uint_eq(page_info_order(r), 4);
	for (unsigned i = 17; i < 32; i++)
		ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, i))), PAGE_STATE_INTERIOR);
	audit_ok();
	/* not aligned, not ascending, with gaps: frames 33..39 descending, then 64, 66, 65: each
	 * on its own (runs of 2 where they line up: 38/39 is not, 64/65 is not in order) */
	unsigned odd[] = { 39, 38, 37, 36, 35, 34, 33, 64, 66, 65 };
	for (unsigned i = 0; i < 10; i++)
		v[i] = frame_add(b, odd[i]);
	deallocate_frames(v, 10);
	ck_assert_uint_eq(free_frames(), free0 - 1024 + 26);
	audit_ok();
	/* the rest in address order: runs of every size; everything merges back whole */
	unsigned n = 0;
	for (unsigned i = 0; i < 1024; i++) {
		if ((i >= 16 && i < 40 && i != 32) || i == 64 || i == 65 || i == 66)
			continue;
		v[n++] = frame_add(b, i);
	}
	ck_assert_uint_eq(n, 1024 - 26);
	deallocate_frames(v, n);
	expect_whole_again(b, free0);
	/* misuse inside a run is caught like a single free: a frame with a reference, twice the
	 * same frame */
	frame_t c = four_frames_one_referenced(2);
	for (unsigned i = 0; i < 4; i++)
		v[i] = frame_add(c, i);
	EXPECT_PANIC(deallocate_frames(v, 4), "references");
	v[0] = frame_add(c, 3);
	v[1] = frame_add(c, 3);
	remove_ref(get_page_info(frame_add(c, 2)));
	EXPECT_PANIC(deallocate_frames(v, 2), "double free");
}
END_TEST

/* frame_free_run cuts a run into naturally aligned blocks, largest first; a batch holding
 * more blocks than it has room for gives the first ones back on the way. */
START_TEST(test_free_run_blocks_and_batch_overflow)
{
	uint64_t free0 = free_frames();
	frame_t b = allocate_p2frame(10);
	struct frame_free_batch batch;
	struct page_info *r;

	frame_split_block(b, 10);
	/* frames 3..66 (64 frames): 3 (order 0, through the cache), 4..7 (2), 8..15 (3),
	 * 16..31 (4), 32..63 (5), 64..65 (1), 66 (0) */
	frame_free_batch_init(&batch);
	frame_free_run(&batch, frame_add(b, 3), 64);
	ck_assert_uint_eq(batch.n, 5);
	frame_free_batch_finish(&batch);
	ck_assert_uint_eq(batch.n, 0);
	ck_assert_uint_eq(free_frames(), free0 - 1024 + 64);
	static const unsigned head[] = { 4, 8, 16, 32, 64 }, order[] = { 2, 3, 4, 5, 1 };
	for (unsigned i = 0; i < 5; i++) {
		r = get_page_info(frame_add(b, head[i]));
		ck_assert_int_eq(page_info_state(r), PAGE_STATE_FREE);
		ck_assert_uint_eq(page_info_order(r), order[i]);
	}
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 3))), PAGE_STATE_CACHED);
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 66))), PAGE_STATE_CACHED);
	audit_ok();
	/* 40 runs of 2 (frames 128+4i, 129+4i): 40 order-1 blocks, 8 more than a batch holds */
	frame_free_batch_init(&batch);
	for (unsigned i = 0; i < 40; i++)
		frame_free_run(&batch, frame_add(b, 128 + 4 * i), 2);
	ck_assert_uint_eq(batch.n, 40 - FRAME_FREE_BATCH_BLOCKS);
	/* the first 32 are back already, the last 8 still queued (interior tails) */
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 128))), PAGE_STATE_FREE);
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 128 + 4 * 32))), PAGE_STATE_USED);
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 129 + 4 * 32))), PAGE_STATE_INTERIOR);
	frame_free_batch_finish(&batch);
	ck_assert_uint_eq(free_frames(), free0 - 1024 + 64 + 80);
	for (unsigned i = 0; i < 40; i++) {
		r = get_page_info(frame_add(b, 128 + 4 * i));
		ck_assert_int_eq(page_info_state(r), PAGE_STATE_FREE);
		ck_assert_uint_eq(page_info_order(r), 1);
	}
	audit_ok();
	/* the frames still allocated, page by page: everything merges back into the order-10
	 * block */
	for (unsigned i = 0; i < 1024; i++)
		if (page_info_state(get_page_info(frame_add(b, i))) == PAGE_STATE_USED)
			deallocate_frame(frame_add(b, i));
	expect_whole_again(b, free0);
	/* a run with an unreferenced frame's neighbour still referenced panics like a single free */
	frame_t c = four_frames_one_referenced(3);
	frame_free_batch_init(&batch);
	EXPECT_PANIC(frame_free_run(&batch, c, 4), "references");
}
END_TEST

/* Drain every CPU cache: nothing stays cached, every frame but the metadata is free, and the
 * lists hold the blocks of *before (which is freed). */
static void drain_back_to(struct list_snapshot *before)
{
	struct list_snapshot after;

	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(cached_frames(), 0);
	ck_assert_uint_eq(free_frames(), TOTAL - META);
	audit_ok();
	snapshot_lists(&after);
	ck_assert(snapshots_equal_as_sets(before, &after));
	snapshot_free(before);
	snapshot_free(&after);
}

START_TEST(test_cpu_caches_and_drain)
{
	struct list_snapshot before;
	snapshot_lists(&before);
	frame_t a[40], b[40];
	host_set_current_cpu(0);
	for (int i = 0; i < 40; i++)
		a[i] = allocate_frame();
	host_set_current_cpu(1);
	for (int i = 0; i < 40; i++)
		b[i] = allocate_frame();
	ck_assert_uint_eq(used_frames(), META + 80);
	for (int i = 0; i < 40; i++)
		deallocate_frame(a[i]); /* frames of cpu 0 freed on cpu 1 */
	host_set_current_cpu(0);
	for (int i = 0; i < 40; i++)
		deallocate_frame(b[i]);
	ck_assert_uint_gt(cached_frames(), 0);
	ck_assert_uint_eq(free_frames(), TOTAL - META);
	ck_assert_uint_eq(used_frames(), META);
	audit_ok();
	drain_back_to(&before);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[0], 0), 0);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[1], 0), 0);
}
END_TEST

/*
 * The order-0 cache holds 1/256 of the machine's frames, between 63 and 255, and moves half
 * of that at a time: 63 and 32 on the 64 MiB machine, 255 and 128 on a 1 GiB one.
 */
START_TEST(test_order0_cache_capacity)
{
	char buf[256];

	ck_assert_uint_eq(cache_cap(0), 63);
	test_machine_halt();
	test_machine_boot(&(struct test_machine){ .memory = 1024 * MiB, .cpus = 2 });
	ck_assert_uint_eq(cache_cap(0), 255);
	struct list_snapshot before;
	snapshot_lists(&before);
	uint64_t used = used_frames();
	/* the first allocation refills 128 frames and hands one out */
	frame_t *f = calloc(256, sizeof(*f));
	f[0] = allocate_frame();
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[0], 0), 127);
	for (int i = 1; i < 256; i++)
		f[i] = allocate_frame();
	frame_alloc_drain_cpu_caches();
	/* 255 frees fill the cache; the 256th drains the 128 oldest first */
	for (int i = 0; i < 255; i++)
		deallocate_frame(f[i]);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[0], 0), 255);
	deallocate_frame(f[255]);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[0], 0), 128);
	ck_assert_uint_eq(cache_stack(&frame_cpu_caches[0], 0)[0], f[128].base >> PAGE_SHIFT);
	ck_assert_uint_eq(cache_stack(&frame_cpu_caches[0], 0)[127], f[255].base >> PAGE_SHIFT);
	ck_assert_uint_eq(used_frames(), used);
	audit_ok();
	/* the audit checks every stack against the capacity the fast path tests */
	cache_set_cap(0, 100);
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "cpu 0 holds 128 > 100 blocks of order 0"), "%s", buf);
	cache_set_cap(0, 255);
	audit_ok();
	/* drained, the lists are as before */
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(cached_frames(), 0);
	ck_assert_uint_eq(used_frames(), used);
	struct list_snapshot after;
	snapshot_lists(&after);
	ck_assert(snapshots_equal_as_sets(&before, &after));
	snapshot_free(&before);
	snapshot_free(&after);
	free(f);
}
END_TEST

/*
 * Orders 1 .. FRAME_CACHED_ORDERS - 1 have per-CPU stacks too. The 64 MiB machine allows a
 * CPU 1/256 of its 15616 frames per order: 28 blocks of order 1 (the most a stack holds), 15
 * of order 2, 7 of order 3, 3 of order 4, 1 of order 5 and none above.
 */
START_TEST(test_hi_order_cpu_caches)
{
	struct list_snapshot before;
	char buf[256];

	snapshot_lists(&before);
	ck_assert_uint_eq(cache_cap(1), FRAME_CPU_CACHE_HI_CAPACITY);
	ck_assert_uint_eq(FRAME_CPU_CACHE_HI_CAPACITY, 28);
	ck_assert_uint_eq(cache_cap(2), 15);
	ck_assert_uint_eq(cache_cap(3), 7);
	ck_assert_uint_eq(cache_cap(5), 1);
	ck_assert_uint_eq(cache_cap(6), 0);
	/* the first order-2 allocation takes half a stack (8 of 15 blocks) under one hold of the
	 * lock, hands out the first and keeps 7 */
	frame_t f = allocate_p2frame(2);
	ck_assert(frame_is_aligned_to_order(f, 2));
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[0], 2), 7);
	ck_assert_uint_eq(cached_frames(), 7 * 4);
	ck_assert_uint_eq(used_frames(), META + 4);
	ck_assert_uint_eq(free_frames(), TOTAL - META - 4);
	paddr_t next = (paddr_t)cache_stack(&frame_cpu_caches[0], 2)[6] << PAGE_SHIFT;
	ck_assert_int_eq(page_info_state(get_page_info((frame_t){ next })), PAGE_STATE_CACHED);
	ck_assert_uint_eq(page_info_order(get_page_info((frame_t){ next })), 2);
	audit_ok();
	/* LIFO: a freed block comes back first, on its CPU */
	deallocate_p2frame(f, 2);
	ck_assert_uint_eq(cached_frames(), 8 * 4);
	ck_assert_int_eq(page_info_state(get_page_info(f)), PAGE_STATE_CACHED);
	EXPECT_PANIC(deallocate_p2frame(f, 2), "double free");
	ck_assert_uint_eq(allocate_p2frame(2).base, f.base);
	/* another CPU has its own stack */
	host_set_current_cpu(1);
	frame_t g = allocate_p2frame(2);
	ck_assert_uint_ne(g.base, f.base);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[1], 2), 7);
	/* a full stack gives its oldest half back to the lists before taking the block */
	frame_t h[29];
	for (int i = 0; i < 29; i++)
		h[i] = allocate_p2frame(1);
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[1], 1), 0);
	for (int i = 0; i < 28; i++)
		deallocate_p2frame(h[i], 1);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[1], 1), 28);
	ck_assert_uint_eq(cache_stack(&frame_cpu_caches[1], 1)[0], h[0].base >> PAGE_SHIFT);
	deallocate_p2frame(h[28], 1);
	ck_assert_uint_eq(cache_count(&frame_cpu_caches[1], 1), 15);
	ck_assert_uint_eq(cache_stack(&frame_cpu_caches[1], 1)[0], h[14].base >> PAGE_SHIFT);
	ck_assert_uint_eq(cache_stack(&frame_cpu_caches[1], 1)[14], h[28].base >> PAGE_SHIFT);
	deallocate_p2frame(g, 2);
	audit_ok();
	/* an order the machine does not cache goes straight to the lists */
	uint64_t cached = cached_frames();
	frame_t big = allocate_p2frame(6);
	deallocate_p2frame(big, 6);
	ck_assert_uint_eq(cached_frames(), cached);
	/* the audit sees a stack slot that is not a cached block of its order */
	struct frame_cpu_cache *c = &frame_cpu_caches[1];
	uint32_t saved = cache_stack(c, 2)[0];
	cache_stack(c, 2)[0] = (uint32_t)(f.base >> PAGE_SHIFT); /* allocated on cpu 0 */
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "not a cached block of that order"), "%s", buf);
	cache_stack(c, 2)[0] = saved;
	audit_ok();
	host_set_current_cpu(0);
	deallocate_p2frame(f, 2);
	/* a drain gives every cached block back, merged: the lists are as after boot */
	drain_back_to(&before);
}
END_TEST

START_TEST(test_cached_frames_never_cause_false_oom)
{
	/* cpu 1 parks frames in its cache, then cpu 0 must still get every free frame */
	host_set_current_cpu(1);
	frame_t x = allocate_frame();
	deallocate_frame(x);
	ck_assert_uint_gt(cached_frames(), 0);
	host_set_current_cpu(0);
	uint64_t avail = free_frames(), n = 0;
	frame_t *all = calloc(avail, sizeof(*all));
	for (frame_t f; !frame_is_none(f = allocate_frame());)
		all[n++] = f;
	ck_assert_uint_eq(n, avail);
	/* and an order-10 request succeeds when the only free memory sits in caches */
	for (uint64_t i = 0; i < n; i++)
		if (all[i].base >= 0x400000 && all[i].base < 0x800000)
			deallocate_frame(all[i]);
	ck_assert_uint_gt(cached_frames(), 0);
	frame_t big = allocate_p2frame(10);
	ck_assert_uint_eq(big.base, 0x400000);
	audit_ok();
	free(all);
}
END_TEST

START_TEST(test_audit_detects_corruption)
{
	char buf[256];
	frame_t f = allocate_p2frame(2);
	struct page_info *r = get_page_info(frame_add(f, 1));
	atomic_store(&r->meta, PAGE_META(PAGE_STATE_FREE, 0)); /* stale interior record */
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "A2") && strstr(buf, "inside used block"), "%s", buf);
	atomic_store(&r->meta, 0);
	audit_ok();
	/* break a prev link on the order-10 list */
	struct page_info *second = frame_section_lookup(0x800000);
	uint32_t saved = atomic_load(&second->rc);
	atomic_store(&second->rc, 0x1234);
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "A1: list 10 element 0x800000 has prev 0x1234000"), "%s", buf);
	atomic_store(&second->rc, saved);
	/* a counter that lies */
	frame_alloc_state.buddy_free++;
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "A5"), "%s", buf);
	frame_alloc_state.buddy_free--;
	/* a frame cached twice */
	frame_t g = allocate_frame();
	deallocate_frame(g);
	struct frame_cpu_cache *c = &frame_cpu_caches[0];
	uint32_t n = cache_count(c, 0);
	uint32_t *stack = cache_stack(c, 0);
	uint32_t saved_frame = stack[n - 2];
	stack[n - 2] = stack[n - 1];
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "cached twice"), "%s", buf);
	stack[n - 2] = saved_frame;
	audit_ok();
	/* the sentinel below a stack, what an empty stack pops on the fast path */
	cache_stack(c, 3)[-1] = 0;
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "cpu 0 order 3: the sentinel below the stack is 0"), "%s", buf);
	cache_stack(c, 3)[-1] = FRAME_CACHE_SENTINEL;
	audit_ok();
	/* a cached record holds exactly RC_USED: the fast paths move frames with one store */
	struct page_info *top = get_page_info((frame_t){ (paddr_t)stack[n - 1] << PAGE_SHIFT });
	atomic_store(&top->rc, 0);
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "A2") && strstr(buf, "rc 0x0 meta 0x30"), "%s", buf);
	atomic_store(&top->rc, RC_USED);
	audit_ok();
	deallocate_p2frame(f, 2);
	audit_ok();
}
END_TEST

START_TEST(test_init_errors)
{
	struct boot_area unsorted[] = { { 0x800000, 0x100000 }, { 0x400000, 0x100000 } };
	ck_assert_int_eq(frame_alloc_init(unsorted, 2), FRAME_INIT_BAD_AREAS);
	struct boot_area unaligned[] = { { 0x400800, 0x100000 } };
	ck_assert_int_eq(frame_alloc_init(unaligned, 1), FRAME_INIT_BAD_AREAS);
	ck_assert_int_eq(frame_alloc_init(unsorted, 0), FRAME_INIT_NO_AREAS);
	/* a free list links frame numbers of 24 bits: memory ends at 64 GiB */
	struct boot_area past_link[] = { { 0x400000, 0x100000 }, { FRAME_LINK_LIMIT - 0x1000, 0x2000 } };
	ck_assert_int_eq(frame_alloc_init(past_link, 2), FRAME_INIT_BAD_AREAS);
	/* 480 windows need a 2-frame table: no 1-frame area can hold it */
	struct boot_area tiny[] = { { 0x400000, 0x1000 }, { 60ULL << 30, 0x1000 } };
	ck_assert_int_eq(frame_alloc_init(tiny, 2), FRAME_INIT_NO_ROOM_FOR_METADATA);
	host_set_cpu_count(FRAME_MAX_CPUS + 1);
	ck_assert_int_eq(frame_alloc_init(boot_memory_areas(), boot_memory_area_count()),
			 FRAME_INIT_TOO_MANY_CPUS);
	host_set_cpu_count(4);
}
END_TEST

START_TEST(test_multiple_sections_with_holes)
{
	/* 300 MiB machine, with a device hole [100 MiB, 140 MiB) and a reserved page at 200 MiB */
	arena_map(300 * MiB);
	boot_memory_reset();
	ck_assert_int_eq(boot_memory_default_map(300 * MiB), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(100 * MiB, 40 * MiB, BOOT_MEMORY_DEVICE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(200 * MiB, 1, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_area_count(), 3);
	ck_assert_int_eq(frame_alloc_init(boot_memory_areas(), boot_memory_area_count()), FRAME_INIT_OK);
	uint64_t expect = (300 * MiB - 3 * MiB - 40 * MiB - PAGE_SIZE) >> PAGE_SHIFT;
	ck_assert_uint_eq(total_frames(), expect);
	ck_assert_uint_eq(frame_section_window_count, 3);
	/* 3 windows: [3M,128M) with a hole, [128M,256M) with a hole, [256M,300M) */
	ck_assert_ptr_null(get_page_info((frame_t){ 120 * MiB }));
	ck_assert_ptr_null(get_page_info((frame_t){ 200 * MiB }));
	ck_assert_ptr_nonnull(get_page_info((frame_t){ 200 * MiB + PAGE_SIZE }));
	ck_assert_ptr_nonnull(get_page_info((frame_t){ 140 * MiB }));
	audit_ok();
	/* fill everything with order-10 first, then the rest with order 0, check no block
	 * straddles a hole, and free it all */
	uint64_t avail = free_frames(), got = 0, nb = 0;
	frame_t *blocks = calloc(avail, sizeof(*blocks));
	unsigned *ords = calloc(avail, sizeof(*ords));
	for (int o = 10; o >= 0; o--)
		for (frame_t f; !frame_is_none(f = allocate_p2frame((unsigned)o));) {
			for (uint64_t i = 0; i < (1u << o); i++)
				ck_assert_ptr_nonnull(get_page_info(frame_add(f, i)));
			blocks[nb] = f;
			ords[nb++] = (unsigned)o;
			got += 1u << o;
		}
	ck_assert_uint_eq(got, avail);
	ck_assert_uint_eq(free_frames(), 0);
	audit_ok();
	for (uint64_t i = 0; i < nb; i++)
		deallocate_p2frame(blocks[nb - 1 - i], ords[nb - 1 - i]);
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(free_frames(), avail);
	audit_ok();
	free(blocks);
	free(ords);
}
END_TEST

START_TEST(test_trace_lines)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	host_set_trace(mem, true);
	frame_t f = allocate_p2frame_complex(1, 0, FRAME_STRATEGY_LOWEST, 1, NULL);
	deallocate_p2frame(f, 1);
	host_set_trace(NULL, false);
	fclose(mem);
	/* the lowest block that holds order 1 is the order-5 block at 0x320000 */
	ck_assert_msg(strstr(text, "frame: alloc 0x320000 order 1\n"), "%s", text);
	ck_assert_msg(strstr(text, "frame: free 0x320000 order 1\n"), "%s", text);
	free(text);
}
END_TEST

/* The order-0 fast paths do not read plat_trace_on: switching tracing after boot reaches
 * them through the caches' stop words, and a freeze (drain) keeps the traced bit. */
START_TEST(test_trace_lines_order0_after_boot)
{
	char *text = NULL, want[64];
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	frame_t warm = allocate_frame(); /* the cache is filled, so the next ones are fast */
	host_set_trace(mem, true);
	ck_assert_uint_eq(atomic_load(&frame_cpu_caches[3].stop), CACHE_TRACED | CACHE_SLOW);
	frame_t f = allocate_frame();
	deallocate_frame(f);
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(atomic_load(&frame_cpu_caches[0].stop), CACHE_TRACED | CACHE_SLOW);
	frame_t g = allocate_frame();
	deallocate_frame(g);
	host_set_trace(NULL, false);
	fclose(mem);
	ck_assert_uint_eq(atomic_load(&frame_cpu_caches[0].stop), 0);
	snprintf(want, sizeof(want), "frame: alloc %#llx order 0\n", (unsigned long long)f.base);
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "frame: free %#llx order 0\n", (unsigned long long)f.base);
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "frame: alloc %#llx order 0\n", (unsigned long long)g.base);
	ck_assert_msg(strstr(text, want), "%s", text);
	snprintf(want, sizeof(want), "frame: free %#llx order 0\n", (unsigned long long)g.base);
	ck_assert_msg(strstr(text, want), "%s", text);
	free(text);
	deallocate_frame(warm);
	audit_ok();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-frames");
	TCase *tc = tcase_create("frames");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init_layout);
	tcase_add_test(tc, test_order0_fast_path_addresses);
	tcase_add_test(tc, test_lowest_strategy);
	tcase_add_test(tc, test_best_effort_orders);
	tcase_add_test(tc, test_zero_flag_and_not_zeroed_by_default);
	tcase_add_test(tc, test_split_merge_exact);
	tcase_add_test(tc, test_exhaustion);
	tcase_add_test(tc, test_double_free_detected);
	tcase_add_test(tc, test_wrong_order_free_detected);
	tcase_add_test(tc, test_split_block_page_by_page);
	tcase_add_test(tc, test_cpu_caches_and_drain);
	tcase_add_test(tc, test_order0_cache_capacity);
	tcase_add_test(tc, test_hi_order_cpu_caches);
	tcase_add_test(tc, test_cached_frames_never_cause_false_oom);
	tcase_add_test(tc, test_audit_detects_corruption);
	tcase_add_test(tc, test_init_errors);
	tcase_add_test(tc, test_multiple_sections_with_holes);
	tcase_add_test(tc, test_trace_lines);
	tcase_add_test(tc, test_trace_lines_order0_after_boot);
	tcase_add_test(tc, test_batch_free_gives_runs_back_whole);
	tcase_add_test(tc, test_free_run_blocks_and_batch_overflow);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
