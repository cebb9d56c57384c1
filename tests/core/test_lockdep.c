/*
 * The lock-order validator (core/lockdep.h), on in this (non-release) build: it must let
 * correct orders through and panic, naming both stacks of lock names, on an inversion, a
 * recursive take, two locks of one class out of their key order, a sleeping-class lock or a
 * forbidden call (an allocation that may sleep, a wait for another CPU) under a spin lock.
 * Every test uses classes of its own: the orders the validator learnt stay for the process.
 */
#include <check.h>
#include <string.h>

#include "host/host_platform.h"
#include "klock.h"
#include "lockdep.h"
#include "test_arena.h"
#include "../check_main.h"

#ifdef MMSIM_LOCKDEP

static void setup(void)
{
	panic_handler_install();
	lockdep_reset();
}

START_TEST(test_inversion_caught_with_both_stacks)
{
	static struct lock_class ca = LOCK_CLASS_INIT("test outer", LOCK_SPIN);
	static struct lock_class cb = LOCK_CLASS_INIT("test inner", LOCK_SPIN);
	struct kspin a, b;

	kspin_init(&a, &ca);
	kspin_init(&b, &cb);
	/* the right order, twice: nothing to say */
	for (int i = 0; i < 2; i++) {
		kspin_lock(&a);
		kspin_lock(&b);
		kspin_unlock(&b);
		kspin_unlock(&a);
	}
	/* the deliberately wrong one */
	kspin_lock(&b);
	EXPECT_PANIC(kspin_lock(&a), "inversion");
	/* this CPU's stack (inner, then outer) and the recorded one (outer -> inner) */
	ck_assert_msg(strstr(host_last_panic(), "this cpu: test inner -> test outer"), "%s",
		      host_last_panic());
	ck_assert_msg(strstr(host_last_panic(), "earlier: test outer -> test inner"), "%s",
		      host_last_panic());
	kspin_unlock(&b);
	/* a failed take leaves a free for the next one */
	ck_assert(kspin_trylock(&a));
	kspin_unlock(&a);
}
END_TEST

START_TEST(test_inversion_through_a_third_class)
{
	static struct lock_class c1 = LOCK_CLASS_INIT("test one", LOCK_SLEEP);
	static struct lock_class c2 = LOCK_CLASS_INIT("test two", LOCK_SLEEP);
	static struct lock_class c3 = LOCK_CLASS_INIT("test three", LOCK_SPIN);
	struct kspin l1, l2, l3;

	kspin_init(&l1, &c1);
	kspin_init(&l2, &c2);
	kspin_init(&l3, &c3);
	kspin_lock(&l1);
	kspin_lock(&l2);
	kspin_unlock(&l2);
	kspin_unlock(&l1);
	kspin_lock(&l2);
	kspin_lock(&l3);
	kspin_unlock(&l3);
	kspin_unlock(&l2);
	/* one -> two -> three was seen: three then one closes a cycle */
	kspin_lock(&l3);
	EXPECT_PANIC(kspin_lock(&l1), "test one taken while holding test three");
	kspin_unlock(&l3);
}
END_TEST

START_TEST(test_recursive_take)
{
	static struct lock_class c = LOCK_CLASS_INIT("test recursive", LOCK_SPIN);
	struct kspin l;

	kspin_init(&l, &c);
	kspin_lock(&l);
	EXPECT_PANIC(kspin_lock(&l), "recursively");
	kspin_unlock(&l);
}
END_TEST

START_TEST(test_same_class_by_key)
{
	static struct lock_class c = LOCK_CLASS_INIT("test space", LOCK_SLEEP);
	static struct krw_reader older_readers[1], newer_readers[1];
	struct krwlock older, newer;

	krw_init(&older, &c, older_readers, 1, sizeof(older_readers[0]));
	krw_init(&newer, &c, newer_readers, 1, sizeof(newer_readers[0]));
	krw_write_lock(&older, 1);
	krw_read_lock(&newer, 2);
	krw_read_unlock(&newer);
	krw_write_unlock(&older);
	krw_write_lock(&newer, 2);
	EXPECT_PANIC(krw_read_lock(&older, 1), "out of order");
	/* a try is allowed in any order: it never waits */
	ck_assert(krw_read_trylock(&older, 1));
	krw_read_unlock(&older);
	krw_write_unlock(&newer);
}
END_TEST

START_TEST(test_forbidden_calls_under_a_spin_lock)
{
	static struct lock_class spin = LOCK_CLASS_INIT("test table", LOCK_SPIN);
	static struct lock_class sleep = LOCK_CLASS_INIT("test mapping", LOCK_SLEEP);
	struct kspin s, m;

	kspin_init(&s, &spin);
	kspin_init(&m, &sleep);
	/* under a sleeping-class lock all of it is allowed */
	kspin_lock(&m);
	lockdep_might_sleep("an allocation");
	lockdep_might_wait("a shootdown");
	kspin_lock(&s);
	EXPECT_PANIC(lockdep_might_sleep("an allocation"), "with spin lock test table held");
	EXPECT_PANIC(lockdep_might_wait("a shootdown"), "waits for another cpu");
	kspin_unlock(&s);
	kspin_unlock(&m);
	/* a sleeping-class lock under a spin lock (one never seen with it: no inversion) */
	static struct lock_class other = LOCK_CLASS_INIT("test other mapping", LOCK_SLEEP);
	struct kspin o;

	kspin_init(&o, &other);
	kspin_lock(&s);
	EXPECT_PANIC(kspin_lock(&o), "may sleep");
	kspin_unlock(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-lockdep");
	TCase *tc = tcase_create("orders");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_inversion_caught_with_both_stacks);
	tcase_add_test(tc, test_inversion_through_a_third_class);
	tcase_add_test(tc, test_recursive_take);
	tcase_add_test(tc, test_same_class_by_key);
	tcase_add_test(tc, test_forbidden_calls_under_a_spin_lock);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}

#else

int main(void)
{
	return 77; /* skipped: a release build has no validator */
}

#endif
