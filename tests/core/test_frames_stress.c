/*
 * Multi-threaded stress of the frame allocator: pthreads act as CPUs (host_set_current_cpu),
 * allocate and free random orders, free frames allocated on other CPUs, while one CPU keeps
 * draining every per-CPU cache and auditing. Meant to be run under TSan as well.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame_alloc.h"
#include "frame_audit.h"
#include "host/host_platform.h"
#include "page_info.h"
#include "test_machine.h"
#include "../check_main.h"

#define WORKERS 4
#define LIVE_MAX 256

struct block {
	frame_t f;
	unsigned order;
};

struct worker {
	unsigned cpu;
	uint64_t ops;
	uint64_t seed;
	struct block live[LIVE_MAX];
	unsigned nlive;
	uint64_t allocated, failed;
};

static atomic_bool stop_auditor;
static atomic_int audit_failures;
static char audit_report[512];

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	host_set_current_cpu(w->cpu);
	for (uint64_t i = 0; i < w->ops; i++) {
		uint64_t r = next_rand(&w->seed);
		bool do_alloc = w->nlive == 0 || (w->nlive < LIVE_MAX && (r & 1));
		if (do_alloc) {
			unsigned order = (r >> 8) % 8 == 0 ? (unsigned)((r >> 16) % 4) : 0;
			frame_t f = order ? allocate_p2frame(order) : allocate_frame();
			if (frame_is_none(f)) {
				w->failed++;
				continue;
			}
			/* touch the memory: the block is ours alone */
			memset(phys_to_virt(f.base), (int)w->cpu, PAGE_SIZE << order);
			w->live[w->nlive++] = (struct block){ f, order };
			w->allocated++;
		} else {
			unsigned k = (unsigned)((r >> 8) % w->nlive);
			struct block b = w->live[k];
			const unsigned char *p = phys_to_virt(b.f.base);
			if (p[0] != w->cpu || p[(PAGE_SIZE << b.order) - 1] != w->cpu)
				abort(); /* someone else wrote into our block */
			w->live[k] = w->live[--w->nlive];
			deallocate_p2frame(b.f, b.order);
		}
	}
	return NULL;
}

static void *auditor_main(void *arg)
{
	(void)arg;
	host_set_current_cpu(WORKERS);
	char buf[512];
	while (!atomic_load(&stop_auditor)) {
		frame_alloc_drain_cpu_caches();
		if (!frame_audit(buf, sizeof(buf)) && atomic_fetch_add(&audit_failures, 1) == 0)
			memcpy(audit_report, buf, sizeof(buf));
		(void)free_frames();
		usleep(500);
	}
	return NULL;
}

START_TEST(test_concurrent_alloc_free)
{
	/* 8 MiB of RAM: 4 workers x 256 live blocks of up to 8 frames can run it dry */
	test_machine_boot(&(struct test_machine){ .memory = 8 * MiB, .cpus = WORKERS + 1 });
	ck_assert_int_eq(zero_frame_init(), MM_OK);
	uint64_t free0 = free_frames();
	const char *env = getenv("MMSIM_STRESS_OPS");
	uint64_t ops = env ? strtoull(env, NULL, 10) : 200000;

	static struct worker w[WORKERS];
	pthread_t t[WORKERS], aud;
	atomic_store(&stop_auditor, false);
	ck_assert_int_eq(pthread_create(&aud, NULL, auditor_main, NULL), 0);
	for (unsigned i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].cpu = i;
		w[i].ops = ops;
		w[i].seed = 0x1234567ULL * (i + 1);
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	uint64_t allocated = 0;
	for (unsigned i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		allocated += w[i].allocated;
	}
	atomic_store(&stop_auditor, true);
	ck_assert_int_eq(pthread_join(aud, NULL), 0);
	ck_assert_msg(atomic_load(&audit_failures) == 0, "concurrent audit failed %d times: %s",
		      atomic_load(&audit_failures), audit_report);
	ck_assert_uint_gt(allocated, ops);

	/* everything the workers still hold is freed here, on cpu 0: cross-CPU frees */
	host_set_current_cpu(0);
	uint64_t live = 0;
	for (unsigned i = 0; i < WORKERS; i++)
		for (unsigned k = 0; k < w[i].nlive; k++) {
			live += 1u << w[i].live[k].order;
			deallocate_p2frame(w[i].live[k].f, w[i].live[k].order);
		}
	ck_assert_uint_gt(live, 0);
	audit_ok();
	frame_alloc_drain_cpu_caches();
	ck_assert_uint_eq(cached_frames(), 0);
	ck_assert_uint_eq(free_frames(), free0);
	ck_assert_uint_eq(used_frames(), metadata_frames() + 1 /* zero frame */);
	audit_ok();
	/* nothing is lost to fragmentation: all order-10 blocks come back */
	uint64_t big = 0;
	for (frame_t f; !frame_is_none(f = allocate_p2frame(10));)
		big++;
	ck_assert_uint_eq(big, (8 * MiB - 4 * MiB) / (4 * MiB)); /* [4 MiB, 8 MiB) is whole */
	test_machine_halt();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-frames-stress");
	TCase *tc = tcase_create("stress");
	tcase_set_timeout(tc, 110);
	tcase_add_test(tc, test_concurrent_alloc_free);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
