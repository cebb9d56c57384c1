/*
 * Multi-CPU stress of the memory manager: 4 simulated CPUs (MMSIM_STRESS_CPUS: 1 to 8; host
 * threads, sim/cpu_threads), each driven by its own pthread so that all of them run kernel
 * code at the same time. They fault through their own simulated processors (hw-x86: TLB,
 * walk, #PF -> page_fault_handler, retry) on address spaces they share, munmap and mmap
 * again, mprotect down (r or none) and back up, borrow pages of a shared space into a space
 * of their own and transfer pages out of a shared space and back (two-space locking, racing
 * the other CPUs' faults on the lender), fork private children, use them, destroy them or
 * let them exit while they lend pages. Every restriction of a shared space
 * needs a TLB shootdown of the other CPUs, acknowledged at their interrupt windows.
 *
 * What must hold:
 * - every value read is 0 (never written, or the page was unmapped and mapped again) or a
 *   value some CPU wrote at that very address: `(va << 8) | tag`. A stale TLB entry that
 *   reached a freed and reused frame, or a copy-on-write copy of the wrong page, shows up
 *   here;
 * - between rounds (all CPUs quiet) the full mm_audit holds (refcount census, no writable
 *   copy-on-write or zero-frame entry, grants and hole indexes, the frame allocator);
 * - at the end, with every address space destroyed, free_frames is back at its start value.
 * User loads and stores on the arena are relaxed atomics: two CPUs writing one shared page
 * is a race of the simulated program, not of the simulator (TSan must stay quiet).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/cpu_threads.h"
#include "frame_alloc.h"
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"
#include "teach/prng.h"
#include "test_machine.h"
#include "host/user_access.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "../check_main.h"

#define MAX_NCPU 8u
#define NSPACE 3u
#define ARENA (64 * MiB)
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define BASE 0x400000ull
#define PAGES 48u
#define SHBASE 0x10000000ull
#define SHPAGES 8u
/* each worker's own space: borrowed and transferred pages land here */
#define MINE_BORROW 0x20000000ull
#define MINE_MOVED 0x30000000ull

static unsigned NCPU = 4; /* MMSIM_STRESS_CPUS: 1 to 8 */
static double seconds;    /* MMSIM_STRESS_SECONDS: rounds until that much time has passed */
static struct addr_space *spaces[NSPACE];
static uint64_t free0;
/* rounds and operations per round; the valgrind setup gets fewer (it runs far slower) */
static unsigned rounds = 20, ops_per_round = 1000;

struct worker {
	unsigned cpu;
	struct prng rng;
	struct addr_space *current, *mine;
	uint64_t accesses, faults_ok, segv, forks, munmaps, mprotects, borrows, transfers, exits;
	char failure[256];
};
static struct worker workers[MAX_NCPU];

static void report(struct worker *w, const char *what, uint64_t va, uint64_t v)
{
	if (!w->failure[0])
		snprintf(w->failure, sizeof(w->failure), "cpu%u: %s at %#llx: %#llx", w->cpu, what,
			 (unsigned long long)va, (unsigned long long)v);
}

static void use_space(struct worker *w, struct addr_space *as)
{
	if (w->current != as) {
		addr_space_switch(as);
		w->current = as;
	}
}

/* One user access on this CPU's processor through the one access loop (sim/host/user_access.h):
 * faults go to the kernel through vector 14 and are retried. */
static enum pf_status worker_access(struct worker *w, uint64_t va, bool write, uint64_t *value)
{
	struct user_access a = {.va = va, .kind = write ? X86_WRITE : X86_READ, .size = 8,
				.value = *value};
	enum user_access_result r = user_access(test_machine_cpu(w->cpu), &a);

	cpu_threads_interrupt_window();
	switch (r) {
	case UA_OK:
		if (!write)
			*value = a.value;
		w->accesses++;
		w->faults_ok += a.faults;
		return PF_OK;
	case UA_SEGV:
	case UA_OOM:
	case UA_KILLED:
		w->faults_ok += a.faults ? a.faults - 1 : 0;
		return a.verdict != PF_OK ? (enum pf_status)a.verdict : PF_SEGV;
	case UA_LOOP:
		report(w, "access keeps faulting", va, a.faults);
		return PF_SEGV;
	default:
		report(w, "translation neither ok nor #PF", va, (uint64_t)r);
		return PF_SEGV;
	}
}

/* A random access to a page of the current space; reads check what they see. Values are
 * keyed by the address in the shared spaces: `delta` is how far this view of the page
 * (borrowed, transferred) lies from it. */
static void poke_view(struct worker *w, uint64_t base, unsigned pages, uint64_t delta,
		      bool may_write)
{
	uint64_t va = base + prng_below(&w->rng, pages) * PAGE_SIZE + prng_below(&w->rng, 8) * 8;
	bool write = prng_below(&w->rng, 2) && may_write;
	uint64_t key = va - delta, v = (key << 8) | (w->cpu + 1);
	enum pf_status r = worker_access(w, va, write, &v);

	if (r == PF_SEGV) {
		w->segv++;
		return;
	}
	if (r != PF_OK) {
		report(w, pf_status_name(r), va, 0);
		return;
	}
	if (!write && v != 0 && (v >> 8) != key)
		report(w, "read a value written elsewhere", va, v);
}

static void poke_page(struct worker *w, uint64_t base, unsigned pages)
{
	poke_view(w, base, pages, 0, true);
}

/* Borrow a few pages of a shared space into this worker's own, use them there (the lender's
 * other CPUs fault, unmap, protect and fork meanwhile), give them back. The lender's range may
 * be in the middle of another CPU's munmap (EINVAL) or protected (EPERM). */
static void op_borrow(struct worker *w, struct addr_space *as, uint64_t va, uint64_t len)
{
	enum mm_status s = mm_borrow(as, va, w->mine, MINE_BORROW, len, RW);

	if (s == MM_STATUS_EINVAL || s == MM_STATUS_EPERM)
		return;
	if (s != MM_STATUS_OK) {
		report(w, "borrow", va, (uint64_t)s);
		return;
	}
	w->borrows++;
	use_space(w, w->mine);
	for (unsigned i = 0; i < 6; i++)
		poke_view(w, MINE_BORROW, (unsigned)(len / PAGE_SIZE), MINE_BORROW - va, true);
	if (mm_munmap(w->mine, MINE_BORROW, len) != MM_STATUS_OK)
		report(w, "munmap borrowed", MINE_BORROW, len);
}

/* Move a few pages out of a shared space into this worker's own (other CPUs find a hole
 * there meanwhile: a fault is a segv, an mmap may fill it), use them, move them back (EEXIST
 * if the hole was filled: then they are dropped). */
static void op_transfer(struct worker *w, struct addr_space *as, uint64_t va, uint64_t len)
{
	enum mm_status s = mm_transfer(as, va, w->mine, MINE_MOVED, len);

	if (s == MM_STATUS_EINVAL)
		return; /* a hole from another CPU's munmap */
	if (s != MM_STATUS_OK) {
		report(w, "transfer out", va, (uint64_t)s);
		return;
	}
	w->transfers++;
	use_space(w, w->mine);
	for (unsigned i = 0; i < 6; i++)
		poke_view(w, MINE_MOVED, (unsigned)(len / PAGE_SIZE), MINE_MOVED - va, true);
	s = mm_transfer(w->mine, MINE_MOVED, as, va, len);
	if (s == MM_STATUS_EEXIST) {
		if (mm_munmap(w->mine, MINE_MOVED, len) != MM_STATUS_OK)
			report(w, "munmap moved", MINE_MOVED, len);
	} else if (s != MM_STATUS_OK) {
		report(w, "transfer back", va, (uint64_t)s);
	}
}

static void op_fork_child(struct worker *w, struct addr_space *parent)
{
	struct addr_space *child;
	enum mm_status s = mm_fork(parent, &child);

	if (s != MM_STATUS_OK) {
		report(w, "fork", 0, (uint64_t)s);
		return;
	}
	w->forks++;
	use_space(w, child);
	for (unsigned i = 0; i < 12; i++)
		poke_page(w, BASE, PAGES);
	for (unsigned i = 0; i < 4; i++)
		poke_page(w, SHBASE, SHPAGES);
	/* nobody else runs in the child: its own munmap needs no remote shootdown */
	if (mm_munmap(child, BASE + prng_below(&w->rng, PAGES) * PAGE_SIZE, PAGE_SIZE) != MM_STATUS_OK)
		report(w, "munmap in child", 0, 0);
	if (prng_below(&w->rng, 2)) {
		/* the child lends to this worker's space and exits while lent: the borrowed
		 * grant keeps the dead space's object (its references), not its pages */
		uint64_t va = BASE + prng_below(&w->rng, PAGES - 2) * PAGE_SIZE;

		if (mm_borrow(child, va, w->mine, MINE_BORROW, 2 * PAGE_SIZE, RW) == MM_STATUS_OK) {
			use_space(w, w->mine);
			poke_view(w, MINE_BORROW, 2, MINE_BORROW - va, true);
			addr_space_exit(child);
			w->exits++;
			if (mm_munmap(w->mine, MINE_BORROW, 2 * PAGE_SIZE) != MM_STATUS_OK)
				report(w, "munmap borrowed from the dead", MINE_BORROW, 0);
			use_space(w, NULL);
			return;
		}
	}
	use_space(w, NULL);
	addr_space_destroy(child);
}

static void one_op(struct worker *w)
{
	unsigned k = (unsigned)prng_below(&w->rng, NSPACE);
	struct addr_space *as = spaces[k];
	uint64_t dice = prng_below(&w->rng, 100);
	uint64_t page = prng_below(&w->rng, PAGES - 4);
	uint64_t len = (1 + prng_below(&w->rng, 4)) * PAGE_SIZE;
	uint64_t va = BASE + page * PAGE_SIZE;

	use_space(w, as);
	if (dice < 75) {
		poke_page(w, dice < 65 ? BASE : SHBASE, dice < 65 ? PAGES : SHPAGES);
	} else if (dice < 85) {
		/* an mmap of the same range restores it: unmapped pages read zero afterwards */
		if (mm_munmap(as, va, len) != MM_STATUS_OK)
			report(w, "munmap", va, len);
		if (mm_mmap(as, va, len, RW, MM_MAP_FIXED, NULL) != MM_STATUS_OK)
			report(w, "mmap", va, len);
		w->munmaps++;
	} else if (dice < 88) {
		op_borrow(w, as, va, len);
	} else if (dice < 91) {
		op_transfer(w, as, va, len);
	} else if (dice < 97) {
		/* a hole made by another CPU's munmap may sit in the range for a moment: ENOMEM.
		 * Down to r or to none (the pages keep their frames: reads afterwards still see
		 * only values written for their own address) */
		unsigned down = prng_below(&w->rng, 2) ? MM_PROT_READ : 0;
		enum mm_status s = mm_mprotect(as, va, len, down);

		if (s != MM_STATUS_OK && s != MM_STATUS_ENOMEM)
			report(w, down ? "mprotect r" : "mprotect none", va, (uint64_t)s);
		poke_page(w, BASE, PAGES);
		s = mm_mprotect(as, va, len, RW);
		if (s != MM_STATUS_OK && s != MM_STATUS_ENOMEM)
			report(w, "mprotect rw", va, (uint64_t)s);
		w->mprotects++;
	} else {
		op_fork_child(w, as);
	}
}

static void run_batch(void *arg)
{
	struct worker *w = arg;

	w->mine = addr_space_create();
	if (!w->mine) {
		report(w, "addr_space_create", 0, 0);
		return;
	}
	for (unsigned i = 0; i < ops_per_round && !w->failure[0]; i++)
		one_op(w);
	/* leave no CR3 pointing at a shared space between rounds (the audit and the teardown) */
	use_space(w, NULL);
	addr_space_destroy(w->mine);
	w->mine = NULL;
}

static void *driver(void *arg)
{
	struct worker *w = arg;

	cpu_threads_run(w->cpu, run_batch, w);
	return NULL;
}

struct audit_work {
	bool ok;
	char buf[512];
};

static void audit_on_cpu(void *arg)
{
	struct audit_work *a = arg;

	a->ok = mm_audit(a->buf, sizeof(a->buf));
}

static void audit_now(void)
{
	struct audit_work a = {0};

	cpu_threads_run(0, audit_on_cpu, &a);
	ck_assert_msg(a.ok, "mm_audit: %s", a.buf);
}

static void create_spaces(void *arg)
{
	(void)arg;
	for (unsigned k = 0; k < NSPACE; k++) {
		spaces[k] = addr_space_create();
		ck_assert_ptr_nonnull(spaces[k]);
		ck_assert_int_eq(mm_mmap(spaces[k], BASE, PAGES * PAGE_SIZE, RW, MM_MAP_FIXED, NULL),
				 MM_STATUS_OK);
		ck_assert_int_eq(mm_mmap(spaces[k], SHBASE, SHPAGES * PAGE_SIZE, RW,
					 MM_MAP_FIXED | MM_MAP_SHARED, NULL),
				 MM_STATUS_OK);
	}
}

static void destroy_spaces(void *arg)
{
	(void)arg;
	addr_space_switch(NULL);
	for (unsigned k = 0; k < NSPACE; k++)
		addr_space_destroy(spaces[k]);
}

static void setup(void)
{
	const char *v = getenv("MMSIM_STRESS_ROUNDS");

	if (v && atoi(v) > 0)
		rounds = (unsigned)atoi(v);
	v = getenv("MMSIM_STRESS_CPUS");
	if (v && atoi(v) >= 1 && atoi(v) <= (int)MAX_NCPU)
		NCPU = (unsigned)atoi(v);
	v = getenv("MMSIM_STRESS_SECONDS");
	if (v && atof(v) > 0)
		seconds = atof(v);
	test_machine_boot(&(struct test_machine){
		.memory = ARENA, .cpus = NCPU, .user_mm = true, .cpu_threads = true });
	free0 = free_frames();
}

static void teardown(void)
{
	test_machine_halt();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_cpus_fault_unmap_protect_fork_borrow_transfer_exit)
{
	pthread_t t[MAX_NCPU];
	uint64_t accesses = 0, forks = 0, munmaps = 0, mprotects = 0, faults = 0;
	uint64_t borrows = 0, transfers = 0, exits = 0;
	double start = now_s();
	unsigned r;

	cpu_threads_run(0, create_spaces, NULL);
	for (unsigned c = 0; c < NCPU; c++) {
		memset(&workers[c], 0, sizeof(workers[c]));
		workers[c].cpu = c;
		prng_seed(&workers[c].rng, 0x5eed0000u + c);
	}
	for (r = 0; seconds > 0 ? now_s() - start < seconds : r < rounds; r++) {
		for (unsigned c = 0; c < NCPU; c++)
			ck_assert_int_eq(pthread_create(&t[c], NULL, driver, &workers[c]), 0);
		for (unsigned c = 0; c < NCPU; c++)
			pthread_join(t[c], NULL);
		for (unsigned c = 0; c < NCPU; c++)
			ck_assert_msg(!workers[c].failure[0], "round %u: %s", r, workers[c].failure);
		audit_now();
	}
	for (unsigned c = 0; c < NCPU; c++) {
		accesses += workers[c].accesses;
		faults += workers[c].faults_ok;
		forks += workers[c].forks;
		munmaps += workers[c].munmaps;
		mprotects += workers[c].mprotects;
		borrows += workers[c].borrows;
		transfers += workers[c].transfers;
		exits += workers[c].exits;
	}
	printf("mm-stress: %u cpus, %u rounds in %.0f s: %llu accesses, %llu faults resolved, "
	       "%llu forks, %llu munmap+mmap, %llu mprotect pairs, %llu borrows, %llu transfers, "
	       "%llu exits while lending\n",
	       NCPU, r, now_s() - start, (unsigned long long)accesses, (unsigned long long)faults,
	       (unsigned long long)forks, (unsigned long long)munmaps,
	       (unsigned long long)mprotects, (unsigned long long)borrows,
	       (unsigned long long)transfers, (unsigned long long)exits);
	/* the mix really ran: every kind of operation happened, faults were resolved */
	ck_assert_uint_gt(accesses, r * ops_per_round);
	ck_assert_uint_gt(faults, 100);
	ck_assert_uint_gt(forks, 0);
	ck_assert_uint_gt(munmaps, 0);
	ck_assert_uint_gt(mprotects, 0);
	ck_assert_uint_gt(borrows, 0);
	ck_assert_uint_gt(transfers, 0);
	ck_assert_uint_gt(exits, 0);
	cpu_threads_run(0, destroy_spaces, NULL);
	audit_now();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mm_stress");
	TCase *tc = tcase_create("stress");

	if (getenv("MMSIM_STRESS_QUICK"))
		rounds = 3, ops_per_round = 150;
	tcase_add_checked_fixture(tc, setup, teardown);
	/* a long run (MMSIM_STRESS_SECONDS) gets its time and more */
	tcase_set_timeout(tc, getenv("MMSIM_STRESS_SECONDS")
				      ? atof(getenv("MMSIM_STRESS_SECONDS")) * 2 + 300
				      : 120);
	tcase_add_test(tc, test_cpus_fault_unmap_protect_fork_borrow_transfer_exit);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
