/*
 * Multi-threaded stress of the kernel heap: pthreads act as CPUs (host_set_current_cpu) and
 * kmalloc / kfree mixed sizes, hand objects to each other through mailboxes (so objects are
 * freed on another CPU than the one that allocated them), while one more CPU audits the heap
 * and the frame allocator and shrinks the heap. Run under TSan as well.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame_alloc.h"
#include "frame_audit.h"
#include "heap_frames.h"
#include "host/host_platform.h"
#include "kheap.h"
#include "test_machine.h"
#include "../check_main.h"

#define WORKERS 4
#define LIVE_MAX 128
#define MAILBOXES 64

struct obj {
	unsigned char *p;
	size_t size;
};

struct worker {
	unsigned cpu;
	uint64_t ops, seed;
	struct obj live[LIVE_MAX];
	unsigned nlive;
	uint64_t allocated, failed, clobbered;
};

static _Atomic(unsigned char *) mailbox[MAILBOXES];
static atomic_bool stop_auditor;
static atomic_int audit_failures;
static atomic_uint_fast64_t shrunk;
static char audit_report[512];

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* An object records its own size in its first 8 bytes and a byte pattern after it. */
static void stamp(unsigned char *p, size_t size)
{
	memcpy(p, &size, sizeof(size));
	memset(p + sizeof(size), (int)(size * 13 + 1) & 0xff, size - sizeof(size));
}

static bool intact(const unsigned char *p)
{
	size_t size;
	memcpy(&size, p, sizeof(size));
	if (size < sizeof(size) || size > (1u << 20))
		return false;
	for (size_t i = sizeof(size); i < size; i++)
		if (p[i] != (unsigned char)((size * 13 + 1) & 0xff))
			return false;
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	host_set_current_cpu(w->cpu);
	for (uint64_t i = 0; i < w->ops; i++) {
		uint64_t r = next_rand(&w->seed);
		unsigned action = (unsigned)(r % 8);
		if (w->nlive == 0 || (w->nlive < LIVE_MAX && action < 4)) {
			uint64_t kind = (r >> 8) % 16;
			size_t size = kind < 11 ? 8 + (r >> 16) % 1017
				    : kind < 15 ? 1025 + (r >> 16) % 8000
						: 20000 + (r >> 16) % 300000;
			unsigned char *p = kmalloc(size);
			if (!p) {
				w->failed++;
				continue;
			}
			stamp(p, size);
			w->live[w->nlive++] = (struct obj){ p, size };
			w->allocated++;
		} else {
			unsigned k = (unsigned)((r >> 8) % w->nlive);
			struct obj o = w->live[k];
			w->live[k] = w->live[--w->nlive];
			if (!intact(o.p))
				w->clobbered++;
			if (action == 7) {
				/* post it; free whatever another CPU posted there before */
				unsigned char *old = atomic_exchange(&mailbox[(r >> 32) % MAILBOXES], o.p);
				if (old) {
					if (!intact(old))
						w->clobbered++;
					kfree(old);
				}
			} else {
				kfree(o.p);
			}
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
		bool ok = kheap_audit(buf, sizeof(buf));
		if (ok)
			ok = frame_audit(buf, sizeof(buf));
		if (!ok && atomic_fetch_add(&audit_failures, 1) == 0)
			memcpy(audit_report, buf, sizeof(buf));
		atomic_fetch_add(&shrunk, kheap_shrink());
		usleep(1000);
	}
	return NULL;
}

START_TEST(test_concurrent_kmalloc_kfree)
{
	test_machine_boot(&(struct test_machine){
		.memory = 128 * MiB, .cpus = WORKERS + 1, .heap = true });
	uint64_t free0 = free_frames();
	const char *env = getenv("MMSIM_STRESS_OPS");
	uint64_t ops = env ? strtoull(env, NULL, 10) : 40000;

	static struct worker w[WORKERS];
	pthread_t t[WORKERS], aud;
	for (unsigned i = 0; i < MAILBOXES; i++)
		atomic_store(&mailbox[i], NULL);
	atomic_store(&stop_auditor, false);
	ck_assert_int_eq(pthread_create(&aud, NULL, auditor_main, NULL), 0);
	for (unsigned i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].cpu = i;
		w[i].ops = ops;
		w[i].seed = 0xabcdef123ULL * (i + 1);
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	uint64_t allocated = 0, failed = 0, clobbered = 0;
	for (unsigned i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		allocated += w[i].allocated;
		failed += w[i].failed;
		clobbered += w[i].clobbered;
	}
	atomic_store(&stop_auditor, true);
	ck_assert_int_eq(pthread_join(aud, NULL), 0);
	ck_assert_msg(atomic_load(&audit_failures) == 0, "concurrent audit failed %d times: %s",
		      atomic_load(&audit_failures), audit_report);
	ck_assert_uint_eq(clobbered, 0);
	ck_assert_uint_eq(failed, 0);
	ck_assert_uint_gt(allocated, ops);
	struct kheap_stats s;
	kheap_get_stats(&s);
	ck_assert_uint_eq(s.allocations, allocated);
	ck_assert_uint_eq(s.failed_allocations, 0);

	/* what is left is freed on CPU 0: cross-CPU frees again */
	uint64_t left = 0;
	for (unsigned i = 0; i < WORKERS; i++)
		for (unsigned k = 0; k < w[i].nlive; k++, left++) {
			ck_assert(intact(w[i].live[k].p));
			kfree(w[i].live[k].p);
		}
	for (unsigned i = 0; i < MAILBOXES; i++) {
		unsigned char *p = atomic_exchange(&mailbox[i], NULL);
		if (p) {
			ck_assert(intact(p));
			kfree(p);
			left++;
		}
	}
	ck_assert_uint_gt(left, 0);
	kheap_get_stats(&s);
	ck_assert_uint_eq(s.frees, s.allocations);
	ck_assert_uint_eq(s.bytes_in_use, 0);
	char buf[512];
	ck_assert_msg(kheap_audit(buf, sizeof(buf)), "kheap audit: %s", buf);
	kheap_shrink();
	kheap_get_stats(&s);
	ck_assert_uint_eq(s.slab_frames + s.list_frames, 0);
	ck_assert_uint_eq(heap_frames_held_total(), 0);
	ck_assert_uint_eq(free_frames(), free0);
	audit_ok();
	test_machine_halt();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("heap-stress");
	TCase *tc = tcase_create("stress");
	tcase_set_timeout(tc, 280);
	tcase_add_test(tc, test_concurrent_kmalloc_kfree);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
