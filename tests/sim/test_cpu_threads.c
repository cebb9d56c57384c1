/*
 * Simulated CPUs as threads: work runs on the CPU it was given to, IPIs reach their target
 * and run there, and two CPUs that wait for each other's acknowledgement (with interrupts
 * taken in arch_cpu_relax) both finish.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
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

struct placement {
	unsigned slot;
	bool pinned;
	int count_pinned, count_after;
	bool on_slot;
};

/* Pins itself to one host core, reads its affinity back, then lets go. */
static void pin_and_read(void *arg)
{
	struct placement *p = arg;
	cpu_set_t set, all;

	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(all), &all), 0);
	p->pinned = cpu_threads_pin_self(p->slot);
	CPU_ZERO(&set);
	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	p->count_pinned = CPU_COUNT(&set);
	/* the slot-th of the cores the thread had */
	for (int core = 0, seen = 0; core < CPU_SETSIZE; core++)
		if (CPU_ISSET(core, &all) && (unsigned)seen++ == p->slot)
			p->on_slot = CPU_ISSET(core, &set);
	cpu_threads_unpin_self();
	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(set), &set), 0);
	p->count_after = CPU_COUNT(&set);
}

START_TEST(a_cpu_thread_pins_itself_and_lets_go)
{
	unsigned cores = cpu_threads_host_cores();
	struct placement last = {.slot = cores - 1}, beyond = {.slot = cores};

	ck_assert_uint_ge(cores, 1);
	cpu_threads_run(1, pin_and_read, &last);
	ck_assert(last.pinned);
	ck_assert_int_eq(last.count_pinned, 1);
	ck_assert(last.on_slot);
	ck_assert_int_eq(last.count_after, (int)cores);
	/* no such core: nothing changes */
	cpu_threads_run(2, pin_and_read, &beyond);
	ck_assert(!beyond.pinned);
	ck_assert_int_eq(beyond.count_pinned, (int)cores);
	/* the driver is no CPU thread: it is never pinned */
	ck_assert(!cpu_threads_pin_self(0));
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
	tcase_add_test(tc, a_cpu_thread_pins_itself_and_lets_go);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
