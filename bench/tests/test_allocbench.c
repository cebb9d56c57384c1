/*
 * allocbench's verifier and trace loader: the project's allocators pass verification, broken
 * ones are caught, traces load, remap and are refused when invalid.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "allocbench.h"
#include "check_main.h"

static struct ab_arena arena;

static void setup(void)
{
	ck_assert(ab_arena_map(&arena, 16ULL << 20));
}

static void teardown(void)
{
	ab_arena_unmap(&arena);
}

START_TEST(test_project_allocators_pass)
{
	static const char *const names[] = { "mmsim", "textbook", "stacks", "lifo" };
	char msg[256];

	for (unsigned i = 0; i < 4; i++) {
		const struct frame_allocator *fa = fa_find(names[i]);
		ck_assert_ptr_nonnull(fa);
		for (unsigned threads = 1; threads <= 2; threads++)
			ck_assert_msg(verify_allocator(fa, &arena, threads, msg, sizeof(msg)), "%s on %u threads: %s",
				      names[i], threads, msg);
	}
}
END_TEST

START_TEST(test_block_handed_out_twice_is_caught)
{
	char msg[256];

	ck_assert(!verify_allocator(fa_find("broken-twice"), &arena, 1, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "alloc(0) returned frame") && strstr(msg, "handed out twice"), "%s", msg);
}
END_TEST

START_TEST(test_unaligned_block_is_caught)
{
	char msg[256];

	ck_assert(!verify_allocator(fa_find("broken-unaligned"), &arena, 1, msg, sizeof(msg)));
	ck_assert_msg(strstr(msg, "not aligned"), "%s", msg);
}
END_TEST

/* The verifier itself, on blocks outside the arena and overlapping ones. */
static uint64_t script[8];
static unsigned script_pos;

static int script_init(const struct fa_arena *a)
{
	(void)a;
	script_pos = 0;
	return 0;
}

static uint64_t script_alloc(unsigned order)
{
	(void)order;
	return script[script_pos++];
}

static void script_free(uint64_t f, unsigned order)
{
	(void)f;
	(void)order;
}

static const struct frame_allocator scripted = { .name = "scripted", .max_order = 10, .max_threads = 1,
						 .init = script_init, .alloc = script_alloc,
						 .free = script_free };

START_TEST(test_verifier_overlap_and_bounds)
{
	struct verifier v;

	ck_assert(verifier_init(&v, &scripted, 4096));
	script[0] = 8;    /* order 3: frames 8..15 */
	script[1] = 12;   /* order 2: frames 12..15, inside the first block */
	script_pos = 0;
	ck_assert_uint_eq(v_alloc(&v, 3), 8);
	ck_assert_uint_eq(v_alloc(&v, 2), FA_NONE);
	ck_assert(v.failed);
	ck_assert_msg(strstr(v.msg, "frame 12") && strstr(v.msg, "already allocated"), "%s", v.msg);
	verifier_fini(&v);

	ck_assert(verifier_init(&v, &scripted, 4096));
	script[0] = 4096 - 2; /* order 2 would end past the arena */
	script_pos = 0;
	ck_assert_uint_eq(v_alloc(&v, 1), 4094);
	v_free(&v, 4094, 1);
	ck_assert(!v.failed);
	script[1] = 4092;
	ck_assert_uint_eq(v_alloc(&v, 2), 4092);
	ck_assert(!v.failed);
	script[2] = 4096;
	ck_assert_uint_eq(v_alloc(&v, 0), FA_NONE);
	ck_assert_msg(strstr(v.msg, "not inside the arena"), "%s", v.msg);
	verifier_fini(&v);
}
END_TEST

static char *write_trace(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/allocbench-test-%ld.trace", (long)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

START_TEST(test_trace_remaps_and_splits)
{
	struct trace t;
	const char *p = write_trace("# mmsim alloc trace 1\n"
				    "a 0 0 0x100 user\n"
				    "a 2 1 0x104 heap\n"
				    "s 2 1 0x104\n"
				    "f 0 0 0x100\n"
				    "a 0 0 0x100 pagetable\n"
				    "f 0 1 0x105\n"
				    "f 0 1 0x104\n"
				    "f 0 1 0x107\n"
				    "f 0 1 0x106\n");

	ck_assert(trace_load(&t, p));
	ck_assert_uint_eq(t.allocs, 3);
	ck_assert_uint_eq(t.frees, 5);
	ck_assert_uint_eq(t.splits, 1);
	ck_assert_uint_eq(t.max_order, 2);
	/* a0 a1 f0 a2 f1(after the last piece) */
	ck_assert_uint_eq(t.nops, 5);
	ck_assert_uint_eq(t.ops[0].slot, 0);
	ck_assert_uint_eq(t.ops[1].slot, 1);
	ck_assert_uint_eq(t.ops[2].is_free, 1);
	ck_assert_uint_eq(t.ops[2].slot, 0);
	ck_assert_uint_eq(t.ops[3].slot, 2);
	ck_assert_uint_eq(t.ops[4].is_free, 1);
	ck_assert_uint_eq(t.ops[4].slot, 1);
	ck_assert_uint_eq(t.ops[4].order, 2);

	struct verifier v;
	char msg[256];
	const struct frame_allocator *fa = fa_find("textbook");
	arena.fa.threads = 1;
	ck_assert(verifier_init(&v, fa, arena.fa.frames));
	ck_assert_int_eq(fa->init(&arena.fa), 0);
	ck_assert_msg(trace_replay_checked(&t, &v, msg, sizeof(msg)), "%s", msg);
	fa->fini();
	verifier_fini(&v);
	trace_free(&t);
	unlink(p);
}
END_TEST

START_TEST(test_invalid_traces_are_refused)
{
	static const char *const bad[] = {
		"a 0 0 0x100 user\nf 0 0 0x100\nf 0 0 0x100\n", /* double free */
		"a 1 0 0x100 user\nf 0 0 0x100\n",              /* wrong order */
		"a 1 0 0x100 user\na 0 0 0x101 user\n",         /* overlap */
		"a 1 0 0x101 user\n",                           /* unaligned */
		"x 0 0 0x100\n",                                /* unknown event */
		"s 1 0 0x100\n",                                /* split of nothing */
		"# nothing\n",                                  /* empty */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct trace t;
		const char *p = write_trace(bad[i]);
		ck_assert_msg(!trace_load(&t, p), "trace %u was accepted", i);
		unlink(p);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("allocbench");
	TCase *tc = tcase_create("verifier");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_project_allocators_pass);
	tcase_add_test(tc, test_block_handed_out_twice_is_caught);
	tcase_add_test(tc, test_unaligned_block_is_caught);
	tcase_add_test(tc, test_verifier_overlap_and_bounds);
	tcase_add_test(tc, test_trace_remaps_and_splits);
	tcase_add_test(tc, test_invalid_traces_are_refused);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
