/*
 * Regression tests for kernel bugs found by fuzz/fuzz_fault_handler. Each test is the
 * smallest sequence that shows the bug, written against the public interfaces, with the
 * fuzzer's input it was reduced from named in its comment.
 */
#include <check.h>
#include <stdlib.h>

#include "frame_alloc.h"
#include "kheap.h"
#include "page_info.h"
#include "pressure.h"
#include "slab.h"
#include "test_machine.h"
#include "../check_main.h"

#define ARENA (16 * MiB)

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = ARENA, .user_mm = true });
}

static void teardown(void)
{
	test_machine_halt();
}

/* Frames free once the heap gave back what it caches (empty slabs, its spare chunk). */
static uint64_t settled_free_frames(void)
{
	kheap_shrink();
	return free_frames();
}

/*
 * addr_space_create, when ug_init fails half-way: ug_reserve has already allocated the grant
 * array (krealloc) when the allocation of the hole indexes fails; ug_init returns false
 * without freeing it and addr_space_create only kfrees the address-space object, so the
 * grant array (and the slab frame holding it) leaks. Fuzz input: 2d 0e 05 00 01 (2 CPUs,
 * failure injection "after 1", spawn).
 */
START_TEST(test_spawn_enomem_leaks_grant_array)
{
	uint64_t free0 = settled_free_frames();
	struct slab_stats before, after;
	unsigned failures = 0;

	/* refuse every allocation after the first n: one of these n fails inside ug_init
	 * between the grant array and the hole indexes */
	for (uint64_t n = 0; n < 6; n++) {
		struct addr_space *as;

		slab_get_stats(&before);
		pressure_inject_failure(ALLOC_FAIL_AFTER, n);
		as = addr_space_create();
		pressure_inject_failure(ALLOC_FAIL_OFF, 0);
		if (as) {
			addr_space_destroy(as);
			continue;
		}
		failures++;
		slab_get_stats(&after);
		ck_assert_msg(after.objects_in_use == before.objects_in_use,
			      "a failed addr_space_create (allocations refused after %llu) left %lld kernel heap objects allocated",
			      (unsigned long long)n,
			      (long long)(after.objects_in_use - before.objects_in_use));
		ck_assert_msg(settled_free_frames() == free0,
			      "a failed addr_space_create (allocations refused after %llu) leaked %lld frames",
			      (unsigned long long)n, (long long)(free0 - settled_free_frames()));
	}
	ck_assert_uint_gt(failures, 0);
}
END_TEST

/* The kernel heap cannot grow (no frame for it: the cap is what it holds, after giving back
 * its empty slabs), and no frame allocation succeeds either; or back to normal. */
static void heap_frozen(bool on)
{
	struct kheap_stats st;

	if (!on) {
		pressure_inject_failure(ALLOC_FAIL_OFF, 0);
		kheap_set_frame_cap(KHEAP_CAP_UNLIMITED);
		return;
	}
	kheap_shrink();
	kheap_get_stats(&st);
	kheap_set_frame_cap(st.slab_frames + st.list_frames);
	pressure_inject_failure(ALLOC_FAIL_AFTER, 0);
}

/* A hinted mmap (it reserves one grant slot, where a fixed one reserves three) of one page
 * that lands on its hint. */
static void map_at(struct addr_space *as, uint64_t va)
{
	uint64_t at = 0;

	ck_assert_int_eq(mm_mmap(as, va, 0x1000, MM_PROT_READ | MM_PROT_WRITE, MM_MAP_POPULATE, &at),
			 MM_STATUS_OK);
	ck_assert_uint_eq(at, va);
}

/*
 * munmap reserved room for two grant splits up front (ug_reserve(2)), even when the range
 * covers whole grants and splits none: with the grant array full and the heap unable to
 * grow, unmapping a whole grant failed with ENOMEM. Fuzz input:
 * fuzz/corpus/fault_handler/regression-munmap-whole-grant-enomem. At every fill level of the
 * array (whatever its capacity and growth), the newest grant is unmapped with the heap
 * unable to grow and every frame allocation refused, and at the end all of them at once.
 */
START_TEST(test_munmap_whole_grant_needs_no_memory)
{
	uint64_t free0 = settled_free_frames();
	struct addr_space *as = addr_space_create();
	struct page_lookup l;

	ck_assert_ptr_nonnull(as);
	addr_space_switch(as);
	for (uint64_t k = 0; k < 40; k++) {
		/* one page each, a page apart: grants that never merge; hinted mappings, so the
		 * array fills up to its capacity */
		uint64_t va = 0x100000 + k * 0x2000;

		map_at(as, va);
		heap_frozen(true);
		ck_assert_int_eq(mm_munmap(as, va, 0x1000), MM_STATUS_OK);
		heap_frozen(false);
		ck_assert(!addr_space_lookup(as, va, &l));
		ck_assert_uint_eq(addr_space_rss(as), k);
		map_at(as, va);
		ck_assert_uint_eq(addr_space_rss(as), k + 1);
	}
	heap_frozen(true);
	ck_assert_int_eq(mm_munmap(as, 0x100000, 40 * 0x2000), MM_STATUS_OK);
	heap_frozen(false);
	ck_assert_uint_eq(addr_space_rss(as), 0);
	addr_space_switch(NULL);
	addr_space_destroy(as);
	ck_assert_uint_eq(settled_free_frames(), free0);
}
END_TEST

/*
 * ug_reserve grew the grant array (krealloc) before it allocated the larger hole indexes;
 * when the second allocation failed it returned false with the grant array grown, so the
 * capacity invariant (hole capacity >= grant capacity + 2, which lets later removals and
 * splits go without memory) no longer held. Fuzz input: the fault-handler campaign's
 * fuzz/corpus/fault_handler/regression-failed-reserve-grant-capacity (an mmap under an
 * injected failure). Here the heap is set up so that the next reserve gets its grant array
 * (1,536 bytes, from a free chunk of the list allocator) but not its hole indexes (544
 * bytes each, from a slab class with no free object, and the heap may not grow).
 */
START_TEST(test_failed_reserve_keeps_grant_capacities)
{
	uint64_t free0 = settled_free_frames();
	struct addr_space *as = addr_space_create();
	struct kheap_stats st;
	void *fill[256], *chunk;
	unsigned nfill = 0;
	char report[256];
	uint64_t at;

	ck_assert_ptr_nonnull(as);
	/* 16 grants: the array is full (16 of 16), the next mmap grows it to 32 */
	for (uint64_t k = 0; k < 16; k++)
		map_at(as, 0x100000 + k * 0x2000);
	chunk = kmalloc(1600);
	ck_assert_ptr_nonnull(chunk);
	kfree(chunk);
	kheap_get_stats(&st);
	kheap_set_frame_cap(st.slab_frames + st.list_frames);
	while (nfill < 256 && (fill[nfill] = kmalloc(544)))
		nfill++;
	ck_assert_uint_lt(nfill, 256);
	ck_assert_int_eq(mm_mmap(as, 0x40000000, 0x1000, MM_PROT_READ, 0, &at), MM_STATUS_ENOMEM);
	ck_assert_msg(mm_audit(report, sizeof(report)), "after a failed mmap: %s", report);
	while (nfill)
		kfree(fill[--nfill]);
	kheap_set_frame_cap(KHEAP_CAP_UNLIMITED);
	ck_assert_int_eq(mm_mmap(as, 0x40000000, 0x1000, MM_PROT_READ, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, 0x40000000);
	ck_assert_msg(mm_audit(report, sizeof(report)), "%s", report);
	addr_space_destroy(as);
	ck_assert_uint_eq(settled_free_frames(), free0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mm-fuzz-regressions");
	TCase *tc = tcase_create("fault_handler");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_spawn_enomem_leaks_grant_array);
	tcase_add_test(tc, test_munmap_whole_grant_needs_no_memory);
	tcase_add_test(tc, test_failed_reserve_keeps_grant_capacities);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_check_suite(suite());
}
