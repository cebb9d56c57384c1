/*
 * The kernel's reader-writer lock (core/klock.h), a big-reader lock: readers on several CPUs
 * hold it at once, a writer excludes every reader and every other writer, and a writer that
 * has claimed it keeps new readers out (writers are preferred); a CPU joins the readers at its
 * first read while no other CPU reads, so a reader alone in the set knows it. Each simulated
 * CPU is a host thread that sets its CPU number.
 */
#include <check.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "host/host_platform.h"
#include "klock.h"
#include "platform.h"
#include "test_arena.h"
#include "../check_main.h"

#define NCPU 4u
#define ROUNDS 20000u

struct reader_line {
	alignas(64) struct krw_reader r;
};

static struct lock_class cls = LOCK_CLASS_INIT("test rw", LOCK_SLEEP);
static struct reader_line lines[NCPU];
static struct krwlock lock;

/* written in pairs under the lock exclusively; a reader must always see them equal */
static volatile uint64_t pair_a, pair_b;
static atomic_uint torn, stop;

static void setup(void)
{
	panic_handler_install();
	host_set_cpu_count(NCPU);
	host_set_current_cpu(0);
	krw_init(&lock, &cls, &lines[0].r, NCPU, sizeof(lines[0]));
	pair_a = pair_b = 0;
	atomic_store(&torn, 0);
	atomic_store(&stop, 0);
}

static void *reader(void *arg)
{
	host_set_current_cpu((unsigned)(uintptr_t)arg);
	while (!atomic_load(&stop)) {
		krw_read_lock(&lock, 0);
		uint64_t a = pair_a;

		for (volatile int i = 0; i < 20; i++)
			;
		if (pair_b != a)
			atomic_fetch_add(&torn, 1);
		krw_read_unlock(&lock);
	}
	return NULL;
}

START_TEST(test_writer_excludes_readers)
{
	pthread_t t[NCPU];

	for (unsigned c = 1; c < NCPU; c++)
		ck_assert_int_eq(pthread_create(&t[c], NULL, reader, (void *)(uintptr_t)c), 0);
	for (unsigned i = 0; i < ROUNDS; i++) {
		krw_write_lock(&lock, 0);
		pair_a = pair_a + 1;
		for (volatile int k = 0; k < 20; k++)
			;
		pair_b = pair_b + 1;
		krw_write_unlock(&lock);
	}
	atomic_store(&stop, 1);
	for (unsigned c = 1; c < NCPU; c++)
		pthread_join(t[c], NULL);
	ck_assert_uint_eq(atomic_load(&torn), 0);
	ck_assert_uint_eq(pair_a, ROUNDS);
	ck_assert_uint_eq(pair_b, ROUNDS);
}
END_TEST

static void *try_read_on(void *arg)
{
	host_set_current_cpu((unsigned)(uintptr_t)arg);
	if (!krw_read_trylock(&lock, 0))
		return (void *)0;
	krw_read_unlock(&lock);
	return (void *)1;
}

static bool other_cpu_can_read(unsigned cpu)
{
	pthread_t t;
	void *got;

	ck_assert_int_eq(pthread_create(&t, NULL, try_read_on, (void *)(uintptr_t)cpu), 0);
	pthread_join(t, &got);
	return got != NULL;
}

START_TEST(test_readers_share)
{
	/* CPU 1 has read it before (it joined the readers): CPU 0 holds it shared, CPU 1 reads
	 * at the same time */
	ck_assert(other_cpu_can_read(1));
	krw_read_lock(&lock, 0);
	ck_assert(other_cpu_can_read(1));
	krw_read_unlock(&lock);
	/* held exclusively: nobody reads */
	krw_write_lock(&lock, 0);
	ck_assert(krw_write_held_here(&lock));
	ck_assert(!other_cpu_can_read(1));
	krw_write_unlock(&lock);
	ck_assert(other_cpu_can_read(1));
}
END_TEST

static atomic_uint writer_in;

static void *writer_on_cpu2(void *arg)
{
	(void)arg;
	host_set_current_cpu(2);
	krw_write_lock(&lock, 0);
	atomic_store(&writer_in, 1);
	krw_write_unlock(&lock);
	return NULL;
}

START_TEST(test_waiting_writer_keeps_new_readers_out)
{
	pthread_t w;

	atomic_store(&writer_in, 0);
	ck_assert(other_cpu_can_read(1)); /* CPU 1 joins the readers */
	krw_read_lock(&lock, 0);
	ck_assert_int_eq(pthread_create(&w, NULL, writer_on_cpu2, NULL), 0);
	/* the writer claims the lock, then waits for CPU 0's reader: a new reader on CPU 1 is
	 * refused from the moment it has claimed it */
	while (other_cpu_can_read(1))
		;
	ck_assert_uint_eq(atomic_load(&writer_in), 0);
	krw_read_unlock(&lock);
	pthread_join(w, NULL);
	ck_assert_uint_eq(atomic_load(&writer_in), 1);
	ck_assert(other_cpu_can_read(1));
}
END_TEST

START_TEST(test_first_read_joins_alone)
{
	/* CPU 0's first read: it is the only reader ever, alone */
	krw_read_lock(&lock, 0);
	ck_assert(krw_read_alone(&lock, 0));
	ck_assert_uint_eq(atomic_load(&lock.cpus), 1u);
	/* CPU 1 cannot join while CPU 0 reads: CPU 0 stays alone */
	ck_assert(!other_cpu_can_read(1));
	ck_assert(krw_read_alone(&lock, 0));
	krw_read_unlock(&lock);
	/* with nobody inside it joins; from then on neither CPU is alone, and both read at
	 * once */
	ck_assert(other_cpu_can_read(1));
	ck_assert_uint_eq(atomic_load(&lock.cpus), 3u);
	krw_read_lock(&lock, 0);
	ck_assert(!krw_read_alone(&lock, 0));
	ck_assert(other_cpu_can_read(1));
	krw_read_unlock(&lock);
	/* a writer leaves the set as it was */
	krw_write_lock(&lock, 0);
	krw_write_unlock(&lock);
	ck_assert_uint_eq(atomic_load(&lock.cpus), 3u);
}
END_TEST

/* CPU 3 reads once (joins) while the main thread's CPU 0 reads all the time, and CPU 2
 * writes: the join waits for CPU 0 as a writer would, and nobody is left out */
static void *join_on_cpu3(void *arg)
{
	(void)arg;
	host_set_current_cpu(3);
	krw_read_lock(&lock, 0);
	ck_assert(!krw_read_alone(&lock, 3));
	krw_read_unlock(&lock);
	return NULL;
}

START_TEST(test_join_waits_for_readers)
{
	pthread_t j;

	ck_assert(other_cpu_can_read(1));
	krw_read_lock(&lock, 0);
	ck_assert_int_eq(pthread_create(&j, NULL, join_on_cpu3, NULL), 0);
	/* the joiner has claimed the lock as a writer does: new readers are refused */
	while (other_cpu_can_read(1))
		;
	krw_read_unlock(&lock);
	pthread_join(j, NULL);
	ck_assert_uint_eq(atomic_load(&lock.cpus), 1u | 2u | 8u);
	krw_read_lock(&lock, 0);
	ck_assert(!krw_read_alone(&lock, 0));
	krw_read_unlock(&lock);
}
END_TEST

START_TEST(test_shared_twice_is_a_bug)
{
	krw_read_lock(&lock, 0);
	EXPECT_PANIC(krw_read_lock(&lock, 0), "test rw"); /* the validator or the lock says so */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-klock");
	TCase *tc = tcase_create("rwlock");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_writer_excludes_readers);
	tcase_add_test(tc, test_readers_share);
	tcase_add_test(tc, test_waiting_writer_keeps_new_readers_out);
	tcase_add_test(tc, test_first_read_joins_alone);
	tcase_add_test(tc, test_join_waits_for_readers);
	tcase_add_test(tc, test_shared_twice_is_a_bug);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
