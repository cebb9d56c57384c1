/*
 * Check tests of reclaim and swap: the swap-entry encoding, the slot map and swap cache,
 * eviction through the reverse map (a fork family), and the four local policies' victims.
 * Faults go through the simulated processor as in tests/mm; the swap device is host memory.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "frame_alloc.h"
#include "mm_internal.h"
#include "page_info.h"
#include "pressure.h"
#include "reclaim.h"
#include "replace_policy.h"
#include "swap_area.h"
#include "arch/x86_64/swap_entry.h"
#include "test_machine.h"

#include "../check_main.h"

#define ARENA (64 * MiB)
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define SLOTS 64u
#define BASE 0x10000ull

static uint64_t free0;
static unsigned char store[SLOTS][4096];

static bool dev_read(void *ctx, uint64_t slot, void *page)
{
	(void)ctx;
	memcpy(page, store[slot], 4096);
	return true;
}

static bool dev_write(void *ctx, uint64_t slot, const void *page)
{
	(void)ctx;
	memcpy(store[slot], page, 4096);
	return true;
}

static const struct swap_device dev = { SLOTS, dev_read, dev_write, NULL };

static void boot(enum replace_policy p)
{
	test_machine_boot(&(struct test_machine){
		.memory = ARENA, .user_mm = true, .policy = p, .swap = &dev });
	free0 = free_frames();
}

static void teardown(void)
{
	test_machine_halt();
}

static void audits(void)
{
	char buf[512];

	mm_audit_ok();
	ck_assert_msg(swap_audit(buf, sizeof(buf)), "swap_audit: %s", buf);
}

/* A space made current, with 16 pages at BASE. */
static struct addr_space *spawn(void)
{
	struct addr_space *as = test_spawn();
	uint64_t at;

	ck_assert_int_eq(mm_mmap(as, BASE, 16 * 4096, RW, MM_MAP_FIXED, &at), MM_STATUS_OK);
	return as;
}

static uint64_t slots_used(void)
{
	struct swap_stats s;

	swap_get_stats(&s);
	return s.used;
}

static uint64_t faults(struct addr_space *as)
{
	struct addr_space_stats s;

	addr_space_get_stats(as, &s);
	return s.faults_total;
}

START_TEST(test_entry_encoding)
{
	static const uint64_t slots[] = { 0, 1, 2, 0x1234, SWP_SLOT_MAX - 1, SWP_SLOT_MAX };

	for (unsigned i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		pte_t e = swp_entry_make(0, slots[i]);

		ck_assert(pte_is_swap(e));
		ck_assert(!pte_present(e));
		ck_assert(!pte_is_protnone(e, PT_LEVEL_PT));
		ck_assert(e != 0);
		ck_assert_uint_eq(swp_entry_slot(e), slots[i]);
		ck_assert_uint_eq(swp_entry_type(e), 0);
		ck_assert(swp_entry_well_formed(e));
		/* the address field of the lower half of the slots names no low memory: the
		 * slot is inverted (the area is far smaller than that half) */
		if (slots[i] < SWP_SLOT_MAX / 2)
			ck_assert_uint_ge(e & PTE_ADDR_4K, (PTE_ADDR_4K >> 1) & PTE_ADDR_4K);
	}
	ck_assert_uint_eq(swp_entry_slot(swp_entry_make(3, 77)), 77);
	ck_assert_uint_eq(swp_entry_type(swp_entry_make(3, 77)), 3);
	/* the other kinds of entry are never swap entries */
	ck_assert(!pte_is_swap(0));
	ck_assert(!pte_is_swap(pte_make_protnone(0x5000, PG_USER | PG_WRITABLE)));
	ck_assert(!pte_is_swap(0x5000 | PTE_P | PTE_US | PTE_AVL10));
	ck_assert(!swp_entry_well_formed(swp_entry_make(0, 5) | PTE_A));
}
END_TEST

START_TEST(test_slot_map_and_cache)
{
	uint64_t s, t;
	frame_t f;

	boot(REPLACE_FIFO);
	ck_assert(swap_slot_alloc(&s));
	ck_assert_uint_eq(slots_used(), 1);
	swap_slot_dup(s);
	swap_slot_dup(s);
	swap_slot_put(s); /* the allocation's own count goes: two holders left */
	ck_assert_uint_eq(swap_slot_count(s), 2);
	f = allocate_frame();
	ck_assert(!frame_is_none(f));
	ck_assert(swap_cache_add(s, f) == SWAP_PAIRED);
	ck_assert_uint_eq(swap_slot_count(s), 3);
	ck_assert(swap_cache_holds(f));
	ck_assert(swap_cache_slot_of(f, &t));
	ck_assert_uint_eq(t, s);
	ck_assert(frame_eq(swap_cache_lookup(s), f));
	swap_slot_put(s);
	swap_slot_put(s);
	ck_assert_uint_eq(slots_used(), 1); /* the pair alone holds it */
	swap_cache_frame_freed(f);
	ck_assert(!swap_cache_holds(f));
	ck_assert(frame_is_none(swap_cache_lookup(s)));
	ck_assert_uint_eq(slots_used(), 0);
	/* full: every slot taken, then one more is refused */
	for (unsigned i = 0; i < SLOTS; i++)
		ck_assert(swap_slot_alloc(&t));
	ck_assert(!swap_slot_alloc(&t));
	ck_assert_uint_eq(slots_used(), SLOTS);
	deallocate_frame(f);
}
END_TEST

/* Global reclaim of one space in batches: a pass over pages with their accessed bit set only
 * clears the bits; the next evicts every written page (each written to its slot), the pages
 * read back keep their slots (swap cache) and the pass after the bits were cleared drops
 * them without a write; when swap fills, the pass stops and nothing is lost. */
#define MANY 80u
START_TEST(test_reclaim_batches_dirty_clean_full)
{
	struct addr_space *as;
	struct addr_space_stats ast;
	struct swap_stats st;
	char line[512];
	uint64_t at;

	boot(REPLACE_CLOCK);
	as = addr_space_create();
	ck_assert_ptr_nonnull(as);
	addr_space_switch(as);
	ck_assert_int_eq(mm_mmap(as, BASE, MANY * 4096, RW, MM_MAP_FIXED, &at), MM_STATUS_OK);
	for (unsigned i = 0; i < 40; i++)
		uwrite(BASE + i * 4096ull, 0x1000 + i);
	ck_assert_uint_eq(reclaim_space(as, 40), 0); /* every bit was set */
	ck_assert_uint_eq(addr_space_rss(as), 40);
	ck_assert_uint_eq(reclaim_space(as, 40), 40);
	ck_assert_uint_eq(addr_space_rss(as), 0);
	ck_assert_uint_eq(addr_space_swapped(as), 40);
	swap_get_stats(&st);
	ck_assert_uint_eq(st.writes, 40);
	ck_assert_uint_eq(st.used, 40);
	audits();
	for (unsigned i = 0; i < 40; i++)
		ck_assert_uint_eq(uread(BASE + i * 4096ull), 0x1000 + i);
	addr_space_get_stats(as, &ast);
	ck_assert_uint_eq(ast.faults_major, 40);
	swap_get_stats(&st);
	ck_assert_uint_eq(st.cached, 40); /* read back, not written: paired with their slots */
	ck_assert_uint_eq(reclaim_space(as, 40), 0);
	ck_assert_uint_eq(reclaim_space(as, 40), 40);
	swap_get_stats(&st);
	ck_assert_uint_eq(st.writes, 40); /* clean: no second write */
	ck_assert_uint_eq(st.dropped_clean, 40);
	ck_assert_uint_eq(st.used, 40);
	ck_assert_uint_eq(st.cached, 0);
	audits();
	/* 80 written pages (the first 40 read back from swap again: 40 more reads), 64 slots:
	 * 64 go, the rest stay resident */
	for (unsigned i = 0; i < MANY; i++)
		uwrite(BASE + i * 4096ull, 0x2000 + i);
	ck_assert_uint_eq(slots_used(), 0); /* every write let its slot go */
	ck_assert_uint_eq(reclaim_space(as, MANY), 0);
	ck_assert_uint_eq(reclaim_space(as, MANY), SLOTS);
	ck_assert_uint_eq(slots_used(), SLOTS);
	ck_assert_uint_eq(addr_space_rss(as), MANY - SLOTS);
	audits();
	stats_string(line, sizeof(line));
	ck_assert_msg(strstr(line, ", swap 64/64 slots (0 in the swap cache), reclaimed 144, written 104, read 80, dropped clean 40"),
		      "%s", line);
	for (unsigned i = 0; i < MANY; i++)
		ck_assert_uint_eq(uread(BASE + i * 4096ull), 0x2000 + i);
	audits();
	addr_space_switch(NULL);
	addr_space_destroy(as);
	ck_assert_uint_eq(slots_used(), 0);
	ck_assert_uint_eq(free_frames(), free0);
	teardown();
}
END_TEST

/* The reverse map: a frame a fork family shares copy-on-write goes to swap from both spaces
 * at once, and each gets its value back. */
START_TEST(test_rmap_evicts_every_mapping)
{
	struct addr_space *a, *b;
	uint64_t got;

	boot(REPLACE_CLOCK);
	a = spawn();
	uwrite(BASE, 0xaa);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	/* two passes at most: the first clears the accessed bits */
	got = reclaim_direct(1);
	if (!got)
		got = reclaim_direct(1);
	ck_assert_uint_eq(got, 1);
	ck_assert_uint_eq(addr_space_swapped(a), 1);
	ck_assert_uint_eq(addr_space_swapped(b), 1);
	ck_assert_uint_eq(slots_used(), 1);
	audits();
	ck_assert_uint_eq(uread(BASE), 0xaa); /* a reads it back: a major fault */
	addr_space_switch(b);
	ck_assert_uint_eq(uread(BASE), 0xaa); /* b finds it in the swap cache */
	uwrite(BASE, 0xbb);
	addr_space_switch(a);
	ck_assert_uint_eq(uread(BASE), 0xaa);
	audits();
	addr_space_switch(NULL);
	addr_space_destroy(b);
	addr_space_destroy(a);
	ck_assert_uint_eq(slots_used(), 0);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* The reference string 0 1 2 0 1 3 0 3 1 2 1 with 3 frames: faults and the page left out. */
static const unsigned ostep[] = { 0, 1, 2, 0, 1, 3, 0, 3, 1, 2, 1 };
static size_t now;

static uint64_t future(void *ctx, struct addr_space *as, uint64_t va, uint64_t now_va)
{
	(void)ctx;
	(void)as;
	(void)now_va;
	for (size_t i = now + 1; i < sizeof(ostep) / sizeof(ostep[0]); i++)
		if (BASE + ostep[i] * 4096ull == va)
			return i;
	return UINT64_MAX;
}

static void run_policy(enum replace_policy p, uint64_t want_faults, unsigned out_page)
{
	struct addr_space *a;

	boot(p);
	replace_set_oracle(future, NULL);
	a = spawn();
	ck_assert_int_eq(mm_set_limit(a, 3), MM_STATUS_OK);
	for (now = 0; now < sizeof(ostep) / sizeof(ostep[0]); now++)
		uwrite(BASE + ostep[now] * 4096ull, 100 + ostep[now]);
	ck_assert_uint_eq(faults(a), want_faults);
	ck_assert_uint_eq(addr_space_swapped(a), 1);
	ck_assert_int_eq(addr_space_page_residency(a, BASE + out_page * 4096ull), PAGE_SWAPPED);
	audits();
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(uread(BASE + i * 4096ull), 100 + i);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(slots_used(), 0);
	ck_assert_uint_eq(free_frames(), free0);
}

START_TEST(test_policy_fifo)
{
	run_policy(REPLACE_FIFO, 7, 3); /* final 0 1 2 */
}
END_TEST

START_TEST(test_policy_lru)
{
	run_policy(REPLACE_LRU, 5, 0); /* final 1 3 2 */
}
END_TEST

START_TEST(test_policy_clock)
{
	run_policy(REPLACE_CLOCK, 7, 3); /* final 2 0 1 */
}
END_TEST

START_TEST(test_policy_opt)
{
	run_policy(REPLACE_OPT, 5, 0); /* final 1 3 2 */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("swap");
	TCase *tc = tcase_create("swap");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_entry_encoding);
	tcase_add_test(tc, test_slot_map_and_cache);
	tcase_add_test(tc, test_rmap_evicts_every_mapping);
	tcase_add_test(tc, test_reclaim_batches_dirty_clean_full);
	tcase_add_test(tc, test_policy_fifo);
	tcase_add_test(tc, test_policy_lru);
	tcase_add_test(tc, test_policy_clock);
	tcase_add_test(tc, test_policy_opt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_check_suite(suite());
}
