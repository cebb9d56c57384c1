/*
 * Simulated CPUs as threads: work runs on the CPU it was given to, IPIs reach their target
 * and run there, and two CPUs that wait for each other's acknowledgement (with interrupts
 * taken in arch_cpu_relax) both finish.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "host/cpu_threads.h"
#include "host/host_platform.h"
#include "platform.h"
#include "../check_main.h"

#define NCPU 4
#define VEC_ACK 0xf0

static _Atomic unsigned taken_on[NCPU];
static _Atomic unsigned ran_on = 99;

static void ack_handler(unsigned vector)
{
	ck_assert_uint_eq(vector, VEC_ACK);
	atomic_fetch_add(&taken_on[plat_cpu_id()], 1);
}

static void setup(void)
{
	interrupt_reset();
	ck_assert(interrupt_register(VEC_ACK, ack_handler));
	for (int i = 0; i < NCPU; i++)
		atomic_store(&taken_on[i], 0);
	host_set_cpu_count(NCPU);
	ck_assert(cpu_threads_start(NCPU));
}

static void teardown(void)
{
	cpu_threads_stop();
	interrupt_reset();
}

static void record_cpu(void *arg)
{
	(void)arg;
	atomic_store(&ran_on, plat_cpu_id());
}

START_TEST(work_runs_on_its_cpu)
{
	for (unsigned c = 0; c < NCPU; c++) {
		cpu_threads_run(c, record_cpu, NULL);
		ck_assert_uint_eq(atomic_load(&ran_on), c);
	}
}
END_TEST

/* CPU 1 interrupts every other CPU and waits until each took it: a shootdown's shape. */
static void broadcast_and_wait(void *arg)
{
	unsigned rounds = *(unsigned *)arg;

	for (unsigned r = 1; r <= rounds; r++) {
		for (unsigned c = 0; c < NCPU; c++)
			if (c != plat_cpu_id())
				arch_send_ipi(c, VEC_ACK);
		for (unsigned c = 0; c < NCPU; c++)
			while (c != plat_cpu_id() && atomic_load(&taken_on[c]) < r)
				arch_cpu_relax();
	}
}

START_TEST(ipis_reach_their_targets)
{
	unsigned rounds = 50;

	cpu_threads_run(1, broadcast_and_wait, &rounds);
	ck_assert_uint_eq(atomic_load(&taken_on[0]), 50);
	ck_assert_uint_eq(atomic_load(&taken_on[1]), 0);
	ck_assert_uint_eq(atomic_load(&taken_on[2]), 50);
	ck_assert_uint_eq(atomic_load(&taken_on[3]), 50);
}
END_TEST

struct pingpong {
	unsigned cpu, peer, rounds;
};

static void ping(void *arg)
{
	struct pingpong *p = arg;

	for (unsigned r = 1; r <= p->rounds; r++) {
		arch_send_ipi(p->peer, VEC_ACK);
		while (atomic_load(&taken_on[p->peer]) < r)
			arch_cpu_relax();
	}
	/* the peer may still be sending: keep taking its interrupts until it is done */
	while (atomic_load(&taken_on[p->cpu]) < p->rounds)
		arch_cpu_relax();
}

static void *driver(void *arg)
{
	struct pingpong *p = arg;

	cpu_threads_run(p->cpu, ping, p);
	return NULL;
}

START_TEST(two_cpus_waiting_for_each_other_finish)
{
	struct pingpong a = {2, 3, 200}, b = {3, 2, 200};
	pthread_t ta, tb;

	ck_assert_int_eq(pthread_create(&ta, NULL, driver, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, driver, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_uint_eq(atomic_load(&taken_on[2]), 200);
	ck_assert_uint_eq(atomic_load(&taken_on[3]), 200);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu_threads");
	TCase *tc = tcase_create("threads");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, work_runs_on_its_cpu);
	tcase_add_test(tc, ipis_reach_their_targets);
	tcase_add_test(tc, two_cpus_waiting_for_each_other_finish);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
