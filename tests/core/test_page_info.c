/* Unit tests of the refcount state machine (R6, R7), init_frame, the zero frame and raii. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "frame_alloc.h"
#include "frame_alloc_view.h"
#include "frame_audit.h"
#include "host/host_platform.h"
#include "page_info.h"
#include "test_machine.h"
#include "../check_main.h"

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = 16 * MiB, .cpus = 2 });
}

static void teardown(void)
{
	test_machine_halt();
}

static struct page_info *one_frame(void)
{
	struct frame_or_error r = init_frame(REFCOUNT_ONE_INIT);
	ck_assert_int_eq(r.error, MM_OK);
	return get_page_info(r.frame);
}

static void expect_rc(struct page_info *info, enum refcount_kind kind, uint64_t count)
{
	struct refcount rc = page_info_refcount(info);
	ck_assert_int_eq(rc.kind, kind);
	ck_assert_uint_eq(rc.count, count);
	/* R6: never flips the state or the used bit */
	if (kind != REFCOUNT_FREE) {
		ck_assert_int_eq(page_info_state(info), PAGE_STATE_USED);
		ck_assert(atomic_load(&info->rc) & RC_USED);
		ck_assert_uint_eq(atomic_load(&info->rc) & RC_COUNT_MASK, count);
	}
}

START_TEST(test_free_vs_u0)
{
	frame_t f = allocate_frame();
	struct page_info *info = get_page_info(f);
	expect_rc(info, REFCOUNT_U0, 0);
	ck_assert(page_info_is_used(info));
	ck_assert(!page_info_is_free(info));
	deallocate_frame(f);
	expect_rc(info, REFCOUNT_FREE, 0);
	ck_assert(page_info_is_free(info));
	ck_assert(!page_info_is_used(info));
	EXPECT_PANIC(add_ref(info, REF_COW), "free frame");
	EXPECT_PANIC(remove_ref(info), "free frame");
	EXPECT_PANIC(allows_writable(info), "free frame");
	/* a frame with no record (get_page_info's NULL) is a kernel bug too, not a host crash */
	EXPECT_PANIC(add_ref(get_page_info(FRAME_NONE), REF_COW),
		     "add_ref of a frame the allocator does not manage");
	EXPECT_PANIC(remove_ref(get_page_info(FRAME_NONE)),
		     "remove_ref of a frame the allocator does not manage");
	frame_t g = allocate_frame();
	struct page_info *volatile gi = get_page_info(g); /* read again after each longjmp */
	EXPECT_PANIC(add_ref(gi, REF_SHARED), "U0");
	EXPECT_PANIC(remove_ref(gi), "U0");
	EXPECT_PANIC(allows_writable(gi), "U0");
	expect_rc(gi, REFCOUNT_U0, 0);
}
END_TEST

START_TEST(test_one_transitions)
{
	struct page_info *a = one_frame();
	expect_rc(a, REFCOUNT_ONE, 1);
	ck_assert(allows_writable(a));
	ck_assert_int_eq(add_ref(a, REF_COW), ADD_REF_OK);
	expect_rc(a, REFCOUNT_COW, 2);
	ck_assert(!allows_writable(a));

	struct page_info *b = one_frame();
	ck_assert_int_eq(add_ref(b, REF_SHARED), ADD_REF_OK);
	expect_rc(b, REFCOUNT_SHARED, 2);
	ck_assert(allows_writable(b));

	struct refcount r = remove_ref(b);
	ck_assert_int_eq(r.kind, REFCOUNT_ONE);
	ck_assert_uint_eq(r.count, 1);
	r = remove_ref(b);
	ck_assert_int_eq(r.kind, REFCOUNT_U0);
	expect_rc(b, REFCOUNT_U0, 0);
	EXPECT_PANIC(remove_ref(b), "U0");
}
END_TEST

START_TEST(test_n_transitions_and_errors)
{
	struct page_info *c = one_frame();
	ck_assert_int_eq(add_ref(c, REF_COW), ADD_REF_OK);
	ck_assert_int_eq(add_ref(c, REF_COW), ADD_REF_OK);
	expect_rc(c, REFCOUNT_COW, 3);
	uint64_t raw = atomic_load(&c->rc);
	ck_assert_int_eq(add_ref(c, REF_SHARED), ADD_REF_COW_TO_SHARED);
	ck_assert_uint_eq(atomic_load(&c->rc), raw); /* unchanged */
	expect_rc(c, REFCOUNT_COW, 3);

	struct page_info *s = one_frame();
	ck_assert_int_eq(add_ref(s, REF_SHARED), ADD_REF_OK);
	ck_assert_int_eq(add_ref(s, REF_SHARED), ADD_REF_OK);
	ck_assert_int_eq(add_ref(s, REF_SHARED), ADD_REF_OK);
	expect_rc(s, REFCOUNT_SHARED, 4);
	raw = atomic_load(&s->rc);
	ck_assert_int_eq(add_ref(s, REF_COW), ADD_REF_SHARED_TO_COW);
	ck_assert_uint_eq(atomic_load(&s->rc), raw);

	struct refcount r = remove_ref(s);
	ck_assert_int_eq(r.kind, REFCOUNT_SHARED);
	ck_assert_uint_eq(r.count, 3);
	r = remove_ref(c);
	ck_assert_int_eq(r.kind, REFCOUNT_COW);
	ck_assert_uint_eq(r.count, 2);
	r = remove_ref(c); /* Cow(2) -> One: the kind bit goes stale but decodes as One */
	ck_assert_int_eq(r.kind, REFCOUNT_ONE);
	ck_assert(allows_writable(c));
	/* kind reset through One: Cow(2) -> One -> add_ref(Shared) -> Shared(2) */
	ck_assert_int_eq(add_ref(c, REF_SHARED), ADD_REF_OK);
	expect_rc(c, REFCOUNT_SHARED, 2);
	r = remove_ref(c);
	ck_assert_int_eq(add_ref(c, REF_COW), ADD_REF_OK);
	expect_rc(c, REFCOUNT_COW, 2);
}
END_TEST

START_TEST(test_overflow_guard)
{
	frame_t f = allocate_frame();
	struct page_info *info = get_page_info(f);
	ck_assert_ptr_nonnull(info);
	page_info_set_refcount(info, (struct refcount){ REFCOUNT_COW, RC_MAX - 1 });
	ck_assert_int_eq(add_ref(info, REF_COW), ADD_REF_OK);
	expect_rc(info, REFCOUNT_COW, RC_MAX);
	uint64_t raw = atomic_load(&info->rc);
	ck_assert_int_eq(add_ref(info, REF_COW), ADD_REF_OVERFLOW);
	ck_assert_uint_eq(atomic_load(&info->rc), raw);
	expect_rc(info, REFCOUNT_COW, RC_MAX);
	struct refcount r = remove_ref(info);
	ck_assert_int_eq(r.kind, REFCOUNT_COW);
	ck_assert_uint_eq(r.count, RC_MAX - 1);
	/* same for Shared */
	frame_t g = allocate_frame();
	struct page_info *volatile gi = get_page_info(g); /* read again after each longjmp */
	page_info_set_refcount(gi, (struct refcount){ REFCOUNT_SHARED, RC_MAX });
	ck_assert_int_eq(add_ref(gi, REF_SHARED), ADD_REF_OVERFLOW);
	expect_rc(gi, REFCOUNT_SHARED, RC_MAX);
	ck_assert(atomic_load(&gi->rc) & RC_SHARED);
	char buf[256];
	ck_assert_msg(frame_audit(buf, sizeof(buf)), "%s", buf);
}
END_TEST

START_TEST(test_set_refcount_rules)
{
	struct page_info *a = one_frame();
	EXPECT_PANIC(page_info_set_refcount(a, REFCOUNT_ONE_INIT), "not U0");
	frame_t f = allocate_frame();
	struct page_info *volatile info = get_page_info(f); /* read again after each longjmp */
	EXPECT_PANIC(page_info_set_refcount(info, (struct refcount){ REFCOUNT_ONE, 2 }), "One with count");
	EXPECT_PANIC(page_info_set_refcount(info, (struct refcount){ REFCOUNT_COW, 1 }), "bad count");
	EXPECT_PANIC(page_info_set_refcount(info, (struct refcount){ REFCOUNT_U0, 0 }), "kind");
	page_info_set_refcount(info, REFCOUNT_SHARED2_INIT);
	expect_rc(info, REFCOUNT_SHARED, 2);
}
END_TEST

START_TEST(test_init_frame_zeroed_and_enomem)
{
	frame_t f = allocate_frame();
	memset(phys_to_virt(f.base), 0xee, PAGE_SIZE);
	deallocate_frame(f);
	struct frame_or_error r = init_frame(REFCOUNT_SHARED2_INIT);
	ck_assert_int_eq(r.error, MM_OK);
	ck_assert_uint_eq(r.frame.base, f.base);
	const unsigned char *p = phys_to_virt(r.frame.base);
	for (size_t i = 0; i < PAGE_SIZE; i++)
		ck_assert_uint_eq(p[i], 0);
	expect_rc(get_page_info(r.frame), REFCOUNT_SHARED, 2);
	while (!frame_is_none(allocate_frame()))
		;
	r = init_frame(REFCOUNT_ONE_INIT);
	ck_assert_int_eq(r.error, MM_ENOMEM);
	ck_assert(frame_is_none(r.frame));
	struct raii_frame h;
	ck_assert_int_eq(raii_frame_allocate(&h), MM_ENOMEM);
	ck_assert(frame_is_none(raii_frame_get(&h)));
	ck_assert_uint_eq(raii_frame_holders(), 0);
}
END_TEST

START_TEST(test_zero_frame)
{
	ck_assert_int_eq(zero_frame_init(), MM_OK);
	frame_t z = zero_frame();
	ck_assert(!frame_is_none(z));
	struct page_info *zi = get_page_info(z);
	expect_rc(zi, REFCOUNT_ONE, 1);
	ck_assert_int_eq(add_ref(zi, REF_COW), ADD_REF_OK);
	ck_assert(!allows_writable(zi));
	char buf[256];
	ck_assert_msg(frame_audit(buf, sizeof(buf)), "%s", buf);
	((unsigned char *)phys_to_virt(z.base))[100] = 1;
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R5: zero frame"), "%s", buf);
	((unsigned char *)phys_to_virt(z.base))[100] = 0;
	ck_assert_int_eq(remove_ref(zi).kind, REFCOUNT_ONE);
	ck_assert_msg(frame_audit(buf, sizeof(buf)), "%s", buf);
}
END_TEST

START_TEST(test_raii_frame)
{
	uint64_t used0 = used_frames();
	struct raii_frame a, b;
	ck_assert_int_eq(raii_frame_allocate(&a), MM_OK);
	ck_assert_int_eq(raii_frame_allocate(&b), MM_OK);
	ck_assert_uint_eq(raii_frame_holders(), 2);
	ck_assert_uint_eq(used_frames(), used0 + 2);
	struct page_info *ai = get_page_info(raii_frame_get(&a));
	ck_assert_int_eq(add_ref(ai, REF_SHARED), ADD_REF_OK); /* someone else shares a */
	raii_frame_release(&a); /* Shared(2) -> One: the frame stays */
	ck_assert(frame_is_none(raii_frame_get(&a)));
	ck_assert_uint_eq(used_frames(), used0 + 2);
	expect_rc(ai, REFCOUNT_ONE, 1);
	raii_frame_release(&b); /* One -> U0 -> freed */
	ck_assert_uint_eq(used_frames(), used0 + 1);
	ck_assert_uint_eq(raii_frame_holders(), 0);
	EXPECT_PANIC(raii_frame_release(&b), "released twice");
	/* take hands the reference over; adopt takes one back */
	ck_assert_int_eq(raii_frame_allocate(&a), MM_OK);
	frame_t t = raii_frame_take(&a);
	ck_assert_uint_eq(raii_frame_holders(), 0);
	expect_rc(get_page_info(t), REFCOUNT_ONE, 1);
	raii_frame_adopt(&b, t);
	ck_assert_uint_eq(raii_frame_holders(), 1);
	char buf[256];
	ck_assert_msg(frame_audit(buf, sizeof(buf)), "%s", buf);
	raii_frame_release(&b);
	/* a holder count that exceeds the references is reported */
	/* the only reference left is a's frame (One): two holders cannot be right */
	struct raii_frame ghost1, ghost2;
	frame_t u0 = allocate_frame();
	raii_frame_adopt(&ghost1, u0);
	ck_assert_msg(frame_audit(buf, sizeof(buf)), "%s", buf);
	raii_frame_adopt(&ghost2, u0);
	ck_assert(!frame_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R1: 2 raii_frame holders but only 1 references"), "%s", buf);
	ck_assert_uint_eq(raii_frame_take(&ghost1).base, u0.base);
	ck_assert_uint_eq(raii_frame_take(&ghost2).base, u0.base);
	ck_assert_uint_eq(used_frames(), used0 + 2);
}
END_TEST

START_TEST(test_get_page_info_unmanaged)
{
	ck_assert_ptr_null(get_page_info((frame_t){ 0 }));
	ck_assert_ptr_null(get_page_info((frame_t){ 0xb8000 }));
	ck_assert_ptr_null(get_page_info((frame_t){ 0x100000 }));
	ck_assert_ptr_null(get_page_info((frame_t){ 16 * MiB }));
	ck_assert_ptr_null(get_page_info((frame_t){ 1ULL << 40 }));
	ck_assert_ptr_nonnull(get_page_info((frame_t){ 16 * MiB - PAGE_SIZE }));
}
END_TEST

/*
 * The lockless view a check on every user access asks first: true exactly for a USED head
 * with references, as frame_alloc_use_of (locked) says ONE, SHARED or COW.
 */
START_TEST(test_is_referenced_matches_use_of)
{
	frame_t f = allocate_frame();
	struct page_info *info = get_page_info(f);
	struct page_info *two;
	frame_t f2;

	ck_assert(!frame_alloc_is_referenced(f)); /* U0: kernel memory */
	ck_assert_int_eq(frame_alloc_use_of(f), FRAME_USE_KERNEL);
	page_info_set_refcount(info, REFCOUNT_ONE_INIT);
	ck_assert(frame_alloc_is_referenced(f));
	ck_assert_int_eq(frame_alloc_use_of(f), FRAME_USE_ONE);
	ck_assert_int_eq(add_ref(info, REF_COW), ADD_REF_OK);
	ck_assert(frame_alloc_is_referenced(f));
	ck_assert_int_eq(frame_alloc_use_of(f), FRAME_USE_COW);
	remove_ref(info);
	remove_ref(info);
	ck_assert(!frame_alloc_is_referenced(f)); /* back to U0 */
	deallocate_frame(f);
	ck_assert(!frame_alloc_is_referenced(f)); /* parked in the CPU's cache */
	ck_assert_int_eq(frame_alloc_use_of(f), FRAME_USE_CACHED);

	f2 = init_frame(REFCOUNT_SHARED2_INIT).frame;
	two = get_page_info(f2);
	ck_assert(frame_alloc_is_referenced(f2));
	ck_assert_int_eq(frame_alloc_use_of(f2), FRAME_USE_SHARED);
	remove_ref(two);
	remove_ref(two);
	deallocate_frame(f2);

	/* interior frames of a free block and frames the allocator does not manage */
	ck_assert(!frame_alloc_is_referenced((frame_t){ 16 * MiB - PAGE_SIZE }));
	ck_assert(!frame_alloc_is_referenced((frame_t){ 0xb8000 }));
	ck_assert(!frame_alloc_is_referenced((frame_t){ 1ULL << 40 }));
	audit_ok();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-page-info");
	TCase *tc = tcase_create("refcount");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_free_vs_u0);
	tcase_add_test(tc, test_one_transitions);
	tcase_add_test(tc, test_n_transitions_and_errors);
	tcase_add_test(tc, test_overflow_guard);
	tcase_add_test(tc, test_set_refcount_rules);
	tcase_add_test(tc, test_init_frame_zeroed_and_enomem);
	tcase_add_test(tc, test_zero_frame);
	tcase_add_test(tc, test_raii_frame);
	tcase_add_test(tc, test_get_page_info_unmanaged);
	tcase_add_test(tc, test_is_referenced_matches_use_of);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
