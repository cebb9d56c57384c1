/*
 * The memory-pressure governor: the reserve is set aside and never reached by normal
 * allocations, the emergency UI gets frames at zero free memory, watermarks move the state
 * with hysteresis, illegal transitions are kernel bugs, and the OOM path evacuates, picks or
 * accepts a victim, and restores.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "frame_alloc.h"
#include "page_info.h"
#include "host/host_platform.h"
#include "pressure.h"
#include "test_machine.h"
#include "../check_main.h"

/* A fake process table: each process holds some frames; killing frees them. */
#define NPROC 4
struct fake_proc {
	const char *name;
	uint64_t seq;
	frame_t frames[512];
	unsigned nframes;
	bool alive;
};
static struct fake_proc procs[NPROC];
static int killed_order[NPROC], nkilled;

static size_t fake_list(struct oom_candidate *out, size_t max, size_t skip)
{
	size_t n = 0, seen = 0;

	for (int i = 0; i < NPROC && n < max; i++) {
		if (!procs[i].alive || seen++ < skip)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		strncpy(out[n].name, procs[i].name, sizeof(out[n].name) - 1);
		out[n].rss = procs[i].nframes;
		out[n].seq = procs[i].seq;
		out[n].ref = &procs[i];
		n++;
	}
	return n;
}

static void fake_kill(void *ref)
{
	struct fake_proc *p = ref;

	for (unsigned i = 0; i < p->nframes; i++)
		deallocate_frame(p->frames[i]);
	p->nframes = 0;
	p->alive = false;
	killed_order[nkilled++] = (int)(p - procs);
}

static const struct oom_victim_source fake_source = {fake_list, fake_kill};

static void give(int i, const char *name, unsigned nframes, uint64_t seq)
{
	procs[i].name = name;
	procs[i].seq = seq;
	procs[i].alive = true;
	procs[i].nframes = 0;
	for (unsigned k = 0; k < nframes; k++) {
		frame_t f = allocate_frame();

		ck_assert(!frame_is_none(f));
		procs[i].frames[procs[i].nframes++] = f;
	}
}

/* Take every frame normal allocation can get; returns how many. */
static frame_t hoard[1 << 16];
static unsigned nhoard;

static unsigned exhaust(void)
{
	unsigned start = nhoard;

	for (;;) {
		frame_t f = allocate_frame();

		if (frame_is_none(f))
			break;
		ck_assert_uint_lt(nhoard, sizeof(hoard) / sizeof(hoard[0]));
		hoard[nhoard++] = f;
	}
	return nhoard - start;
}

static void release_hoard(void)
{
	while (nhoard)
		deallocate_frame(hoard[--nhoard]);
}

/* The frame allocator's and the governor's audits. */
static void audits_ok(void)
{
	char buf[512];

	audit_ok();
	ck_assert_msg(pressure_audit(buf, sizeof(buf)), "pressure audit: %s", buf);
}

/* The governor's audit fails, naming the invariant. */
static void pressure_audit_fails(const char *invariant)
{
	char buf[512];

	ck_assert(!pressure_audit(buf, sizeof(buf)));
	ck_assert_msg(strncmp(buf, invariant, strlen(invariant)) == 0, "pressure audit: %s", buf);
}

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = 16 * MiB });
	pressure_reset();
	memset(procs, 0, sizeof(procs));
	nkilled = 0;
	nhoard = 0;
}

static void teardown(void)
{
	test_machine_halt();
}

START_TEST(reserve_is_set_aside)
{
	uint64_t free_before = free_frames();

	ck_assert(init_reserve());
	ck_assert_uint_eq(reserve_frames(), EMERGENCY_UI_FRAMES + buffer_frames());
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	ck_assert_uint_eq(free_frames(), free_before - reserve_frames());
	ck_assert_uint_eq(available_frames(), free_frames());
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	ck_assert(!system_frozen());
	audits_ok();
}
END_TEST

static void first_reserve_frame(void *ctx, frame_t f)
{
	frame_t *first = ctx;

	if (frame_is_none(*first))
		*first = f;
}

/* The audit sees a reserve frame that went back to the allocator (PR2). */
START_TEST(pressure_audit_sees_a_freed_reserve_frame)
{
	frame_t f = FRAME_NONE;

	ck_assert(init_reserve());
	audits_ok();
	pressure_for_each_reserve_frame(first_reserve_frame, &f);
	ck_assert(!frame_is_none(f));
	deallocate_frame(f);
	pressure_audit_fails("PR2");
}
END_TEST

START_TEST(normal_allocations_never_take_the_reserve)
{
	ck_assert(init_reserve());
	ck_assert_uint_gt(exhaust(), 1000);
	ck_assert_uint_eq(available_frames(), 0);
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	ck_assert(!check_before_alloc(1));
	/* the emergency UI still gets its frames, and only its share */
	for (unsigned i = 0; i < EMERGENCY_UI_FRAMES; i++)
		ck_assert(!frame_is_none(alloc_emergency_frame()));
	ck_assert(frame_is_none(alloc_emergency_frame()));
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames() - EMERGENCY_UI_FRAMES);
	/* outside the OOM path, UI frames are out against PR4 */
	pressure_audit_fails("PR4");
	release_hoard();
	audit_ok();
}
END_TEST

START_TEST(defaults_and_configuration)
{
	struct pressure_config bad1 = {.reserve = EMERGENCY_UI_FRAMES};
	struct pressure_config bad2 = {.warning = 100, .emergency = 200};
	struct pressure_config good = {.reserve = 20, .warning = 900, .emergency = 300};
	uint64_t total = total_frames();

	/* 16 MiB: 3328 frames: buffer 3328/512 = 6 */
	ck_assert_uint_eq(total, 3328);
	ck_assert_uint_eq(buffer_frames(), 6);
	ck_assert_uint_eq(warning_watermark_frames(total, 6), 3328 / 16 + 6);
	ck_assert_uint_eq(emergency_watermark_frames(total, 6), 3328 / 64 + 6);
	ck_assert_uint_eq(emergency_watermark(), 58);
	ck_assert(!pressure_configure(&bad1));
	ck_assert(!pressure_configure(&bad2));
	ck_assert(pressure_configure(&good));
	ck_assert_uint_eq(reserve_frames(), 20);
	ck_assert_uint_eq(buffer_frames(), 20 - EMERGENCY_UI_FRAMES);
	ck_assert_uint_eq(warning_watermark(), 900);
	ck_assert_uint_eq(emergency_watermark(), 300);
}
END_TEST

START_TEST(watermarks_with_hysteresis)
{
	struct pressure_config c = {.reserve = 16, .warning = 800, .emergency = 400};
	uint64_t avail;

	ck_assert(pressure_configure(&c));
	ck_assert(init_reserve());
	avail = available_frames();
	ck_assert_uint_gt(avail, 800);
	/* down to 799 available: Warning */
	while (available_frames() > 799)
		hoard[nhoard++] = allocate_frame();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_WARNING);
	/* back to exactly 800: still Warning (needs 800 + 800/8 + 1 = 901) */
	deallocate_frame(hoard[--nhoard]);
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_WARNING);
	while (available_frames() < 901)
		deallocate_frame(hoard[--nhoard]);
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	/* straight down to Emergency */
	while (available_frames() > 300)
		hoard[nhoard++] = allocate_frame();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_EMERGENCY);
	release_hoard();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
}
END_TEST

/* The level follows a configuration changed after allocations were checked (the floor under
 * which check_before_alloc looks at the level is recomputed), including an emergency
 * watermark above the default warning one. */
START_TEST(reconfiguring_moves_the_levels)
{
	uint64_t avail = available_frames();
	struct pressure_config warn = {.warning = avail + 10, .emergency = 100};
	struct pressure_config emerg = {.emergency = avail + 10};

	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	ck_assert(pressure_configure(&warn));
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_WARNING);
	ck_assert(pressure_configure(&emerg));
	ck_assert_uint_lt(warning_watermark(), avail);
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_EMERGENCY);
	pressure_reset();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	/* and back under the defaults: nothing moves while memory is plentiful */
	hoard[nhoard++] = allocate_frame();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	release_hoard();
}
END_TEST

START_TEST(illegal_transitions_are_kernel_bugs)
{
	pressure_set_state(PRESSURE_WARNING);
	pressure_set_state(PRESSURE_EVACUATING);
	EXPECT_PANIC(pressure_set_state(PRESSURE_NORMAL), "illegal transition evacuating -> normal");
	ck_assert_int_eq(pressure_state(), PRESSURE_EVACUATING);
	pressure_set_state(PRESSURE_PICKER);
	EXPECT_PANIC(pressure_set_state(PRESSURE_EVACUATING), "picker -> evacuating");
	pressure_set_state(PRESSURE_RESTORING);
	EXPECT_PANIC(pressure_set_state(PRESSURE_PICKER), "restoring -> picker");
	pressure_set_state(PRESSURE_NORMAL);
	EXPECT_PANIC(pressure_set_state(PRESSURE_RESTORING), "normal -> restoring");
}
END_TEST

static uint64_t shrink_hoard_half(void)
{
	unsigned n = nhoard / 2;

	for (unsigned i = 0; i < n; i++)
		deallocate_frame(hoard[--nhoard]);
	return n;
}

START_TEST(evacuation_without_a_kill)
{
	ck_assert(init_reserve());
	pressure_set_victim_source(&fake_source);
	give(0, "a", 100, 1);
	exhaust();
	ck_assert(pressure_register_shrinker("hoard", shrink_hoard_half));
	ck_assert_int_eq(on_oom(1, NULL), OOM_RETRY);
	ck_assert_int_eq(nkilled, 0);
	ck_assert(procs[0].alive);
	ck_assert(!system_frozen());
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	ck_assert_uint_gt(available_frames(), 1000);
	fake_kill(&procs[0]);
	release_hoard();
	audit_ok();
}
END_TEST

START_TEST(auto_kills_the_largest_then_the_newest)
{
	char line[256];

	ck_assert(init_reserve());
	pressure_set_victim_source(&fake_source);
	give(0, "small", 10, 1);
	give(1, "big-old", 300, 2);
	give(2, "big-new", 300, 3);
	exhaust();
	ck_assert_int_eq(on_oom(1, &procs[0]), OOM_RETRY);
	ck_assert_int_eq(nkilled, 1);
	ck_assert_int_eq(killed_order[0], 2); /* tie on rss: the most recently created */
	/* 300 frames came back: above the warning mark of 16 MiB (3328/16 + 6 = 214) */
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	ck_assert(!system_frozen());
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	ck_assert_uint_eq(available_frames(), 300);
	exhaust();
	ck_assert_int_eq(on_oom(1, &procs[1]), OOM_KILLED_CURRENT);
	ck_assert_int_eq(killed_order[1], 1);
	stats_string(line, sizeof(line));
	ck_assert_msg(strstr(line, "oom 2, killed 2"), "%s", line);
	fake_kill(&procs[0]);
	release_hoard();
	ck_assert(check_before_alloc(1));
	ck_assert_int_eq(pressure_state(), PRESSURE_NORMAL);
	audit_ok();
}
END_TEST

START_TEST(nobody_to_kill)
{
	ck_assert(init_reserve());
	pressure_set_victim_source(&fake_source);
	exhaust();
	ck_assert_int_eq(on_oom(1, NULL), OOM_NO_VICTIM);
	ck_assert(!system_frozen());
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	release_hoard();
}
END_TEST

START_TEST(picker_at_zero_free_memory)
{
	struct pressure_config c = {.policy = OOM_PICKER};
	char screen[1024], line[256];

	ck_assert(pressure_configure(&c));
	ck_assert(init_reserve());
	pressure_set_victim_source(&fake_source);
	give(0, "editor", 50, 1);
	give(1, "hog", 400, 2);
	exhaust();
	ck_assert_uint_eq(available_frames(), 0);
	ck_assert_int_eq(on_oom(1, &procs[0]), OOM_FROZEN);
	ck_assert_int_eq(pressure_state(), PRESSURE_PICKER);
	ck_assert(system_frozen());
	audits_ok();
	ck_assert(!check_before_alloc(1));
	ck_assert_int_eq(on_oom(1, &procs[0]), OOM_FROZEN);
	/* the UI was drawn into reserve frames although nothing was free */
	ck_assert_uint_gt(pressure_picker_text(screen, sizeof(screen)), 0);
	ck_assert_msg(strstr(screen, "OUT OF MEMORY"), "%s", screen);
	/* by resident memory, largest first */
	ck_assert_msg(strstr(screen, " 1  hog: 400 pages resident\n"), "%s", screen);
	ck_assert_msg(strstr(screen, " 2  editor: 50 pages resident\n"), "%s", screen);
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames() - EMERGENCY_UI_FRAMES);
	stats_string(line, sizeof(line));
	ck_assert_msg(strstr(line, "pressure picker (frozen)"), "%s", line);
	ck_assert_int_eq(pressure_pick("nobody"), PICK_NO_SUCH_PROCESS);
	ck_assert_int_eq(pressure_pick("hog"), PICK_OK);
	ck_assert_int_eq(killed_order[0], 1);
	ck_assert(!system_frozen());
	ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
	ck_assert_uint_eq(pressure_picker_text(screen, sizeof(screen)), 0);
	ck_assert_int_eq(pressure_pick("hog"), PICK_NOT_IN_PICKER);
	fake_kill(&procs[0]);
	release_hoard();
	audits_ok();
}
END_TEST

START_TEST(injected_failures)
{
	struct frame_or_error r[5];

	ck_assert(init_reserve());
	pressure_inject_failure(ALLOC_FAIL_NTH, 3);
	for (int i = 0; i < 5; i++)
		r[i] = init_frame(REFCOUNT_ONE_INIT);
	ck_assert_int_eq(r[0].error, MM_OK);
	ck_assert_int_eq(r[1].error, MM_OK);
	ck_assert_int_eq(r[2].error, MM_ENOMEM);
	ck_assert(frame_is_none(r[2].frame));
	ck_assert_int_eq(r[3].error, MM_OK);
	ck_assert_int_eq(r[4].error, MM_OK);
	ck_assert_uint_eq(pressure_checked_allocations(), 5);
	pressure_inject_failure(ALLOC_FAIL_AFTER, 1);
	ck_assert_int_eq(init_frame(REFCOUNT_ONE_INIT).error, MM_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(init_frame(REFCOUNT_ONE_INIT).error, MM_ENOMEM);
	ck_assert_uint_eq(available_frames() > 1000, 1);
	pressure_inject_failure(ALLOC_FAIL_OFF, 0);
	ck_assert_int_eq(init_frame(REFCOUNT_ONE_INIT).error, MM_OK);
}
END_TEST

/* Several CPUs allocate until nothing is left, many times: the reserve is intact after each. */
struct stress_arg {
	unsigned cpu;
	frame_t got[2048];
	unsigned n;
};

static void *stress_cpu(void *p)
{
	struct stress_arg *a = p;

	host_set_current_cpu(a->cpu);
	a->n = 0;
	while (a->n < 2048) {
		frame_t f;

		if (!check_before_alloc(1))
			break;
		f = allocate_frame();
		if (frame_is_none(f))
			break;
		a->got[a->n++] = f;
	}
	return NULL;
}

START_TEST(reserve_survives_concurrent_exhaustion)
{
	static struct stress_arg args[4];
	pthread_t t[4];

	uint64_t used_start;

	host_set_cpu_count(4);
	ck_assert(init_reserve());
	used_start = used_frames();
	for (int round = 0; round < 20; round++) {
		unsigned total = 0;

		for (unsigned i = 0; i < 4; i++) {
			args[i].cpu = i;
			ck_assert_int_eq(pthread_create(&t[i], NULL, stress_cpu, &args[i]), 0);
		}
		for (unsigned i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			total += args[i].n;
		}
		ck_assert_uint_eq(reserve_pool_frames(), reserve_frames());
		ck_assert_uint_eq(used_frames(), used_start + total);
		ck_assert_uint_eq(available_frames(), 0);
		for (unsigned i = 0; i < 4; i++) {
			host_set_current_cpu(i);
			while (args[i].n)
				deallocate_frame(args[i].got[--args[i].n]);
		}
		host_set_current_cpu(0);
	}
	frame_alloc_drain_cpu_caches();
	audit_ok();
	host_set_cpu_count(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pressure");
	TCase *tc = tcase_create("governor");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, reserve_is_set_aside);
	tcase_add_test(tc, normal_allocations_never_take_the_reserve);
	tcase_add_test(tc, defaults_and_configuration);
	tcase_add_test(tc, watermarks_with_hysteresis);
	tcase_add_test(tc, reconfiguring_moves_the_levels);
	tcase_add_test(tc, illegal_transitions_are_kernel_bugs);
	tcase_add_test(tc, evacuation_without_a_kill);
	tcase_add_test(tc, auto_kills_the_largest_then_the_newest);
	tcase_add_test(tc, nobody_to_kill);
	tcase_add_test(tc, picker_at_zero_free_memory);
	tcase_add_test(tc, reserve_survives_concurrent_exhaustion);
	tcase_add_test(tc, injected_failures);
	tcase_add_test(tc, pressure_audit_sees_a_freed_reserve_frame);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
