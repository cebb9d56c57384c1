/*
 * The session API behind `mmsim repl`: statements parsed and run one line at a time against
 * one live machine, errors reported without ending the session. Also runs the quizzes once
 * each, so that valgrind sees them (the CLI tests are not run under valgrind).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teach/quiz.h"
#include "scenario/session.h"
#include "scenario/sim.h"
#include "../check_main.h"

struct io {
	char *out, *err;
	size_t nout, nerr;
	FILE *o, *e;
};

static void io_open(struct io *io)
{
	memset(io, 0, sizeof(*io));
	io->o = open_memstream(&io->out, &io->nout);
	io->e = open_memstream(&io->err, &io->nerr);
	ck_assert(io->o && io->e);
}

static void io_close(struct io *io)
{
	fclose(io->o);
	fclose(io->e);
	free(io->out);
	free(io->err);
}

static int line(struct sim_session *s, struct io *io, const char *text, int n)
{
	int rc = sim_session_line(s, text, strlen(text), n);

	fflush(io->o);
	fflush(io->e);
	return rc;
}

START_TEST(lines_run_at_once_and_errors_do_not_end_the_session)
{
	struct sim_options opts = {0};
	struct sim_session s;
	struct io io;

	io_open(&io);
	sim_session_init(&s, "repl", &opts, io.o, io.e);
	ck_assert_int_eq(line(&s, &io, "machine kernel=off memory=1M\n", 1), 0);
	ck_assert(s.created); /* a machine line alone builds the machine */
	ck_assert_int_eq(line(&s, &io, "poke 0x1000 0x2007\n", 2), 0);
	ck_assert_int_eq(line(&s, &io, "peek 0x1000\n", 3), 0);
	ck_assert_str_eq(io.out, "peek 0x1000 = 0x2007\n");
	ck_assert_int_eq(line(&s, &io, "peek 0x100000\n", 4), 2);
	ck_assert_ptr_nonnull(strstr(io.err, "repl:4:6: error: physical address 0x100000"));
	ck_assert_int_eq(line(&s, &io, "expect peek 0x1000 == 1\n", 5), 1);
	ck_assert_ptr_nonnull(strstr(io.err, "repl:5: expectation failed"));
	ck_assert_int_eq(line(&s, &io, "machine kernel=off\n", 6), 2);
	ck_assert_ptr_nonnull(strstr(io.err, "repl:6:1: error: a second machine line"));
	/* continuation inside one logical line, comments and blank lines */
	ck_assert_int_eq(line(&s, &io, "poke 0x1008 \\\n 0x3007 # two lines\n", 7), 0);
	ck_assert_int_eq(line(&s, &io, "   # nothing\n", 9), 0);
	ck_assert_int_eq(line(&s, &io, "peek 0x1008\n", 10), 0);
	ck_assert_str_eq(io.out, "peek 0x1000 = 0x2007\npeek 0x1008 = 0x3007\n");
	/* more than the parser's 20 errors per file: each line still reports its own */
	for (int i = 0; i < 25; i++)
		ck_assert_int_eq(line(&s, &io, "frob\n", 11 + i), 2);
	ck_assert_ptr_nonnull(strstr(io.err, "repl:35:1: error: unknown command 'frob'"));
	ck_assert_ptr_null(strstr(io.err, "too many errors"));
	sim_session_destroy(&s);
	io_close(&io);
}
END_TEST

START_TEST(a_rejected_machine_line_leaves_the_defaults)
{
	struct sim_options opts = {0};
	struct sim_session s;
	struct io io;

	io_open(&io);
	sim_session_init(&s, "repl", &opts, io.o, io.e);
	/* kernel=off is read before memory= fails: it must not stick */
	ck_assert_int_eq(line(&s, &io, "machine kernel=off memory=3\n", 1), 2);
	ck_assert(sim_session_machine(&s)->kernel);
	ck_assert(!s.created);
	ck_assert_int_eq(line(&s, &io, "machine memory=16M\n", 2), 0);
	ck_assert_int_eq(line(&s, &io, "checkpoint a\n", 3), 0);
	ck_assert_int_eq(line(&s, &io, "expect free_frames == a\n", 4), 0);
	ck_assert_int_eq(line(&s, &io, "expect free_frames == b\n", 5), 2);
	ck_assert_int_eq(line(&s, &io, "expect total_frames == 3328\n", 6), 0);
	sim_session_destroy(&s);
	io_close(&io);
}
END_TEST

START_TEST(quizzes_run)
{
	struct quiz_options o = {.seed = 2, .solve = true};
	struct io io;

	io_open(&io);
	ck_assert_int_eq(quiz_translate(&o, io.o, io.e), 0);
	fflush(io.o);
	ck_assert_ptr_nonnull(strstr(io.out, "  6. "));
	ck_assert_int_eq(quiz_buddy(&o, io.o, io.e), 0);
	fflush(io.o);
	ck_assert_ptr_nonnull(strstr(io.out, "Free lists at the end:"));
	fflush(io.e);
	ck_assert_uint_eq(io.nerr, 0);
	io_close(&io);
}
END_TEST

/* Each simulated CPU on cache lines of its own (x86_cpu.h): no two CPUs share one. */
START_TEST(cpus_sit_on_lines_of_their_own)
{
	struct machine_cfg cfg;
	struct sim_options opts;
	struct sim sim;
	struct io io;

	machine_cfg_default(&cfg);
	cfg.memory = 16ull << 20;
	cfg.cpus = 3;
	memset(&opts, 0, sizeof(opts));
	io_open(&io);
	ck_assert(sim_create(&sim, &cfg, &opts, "t", io.o, io.e));
	ck_assert_uint_eq(_Alignof(struct x86_cpu), 64);
	ck_assert_uint_eq(sizeof(struct x86_cpu) % 64, 0);
	for (unsigned c = 0; c < cfg.cpus; c++)
		ck_assert_uint_eq((uintptr_t)&sim.cpus[c] % 64, 0);
	sim_destroy(&sim);
	io_close(&io);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lines_run_at_once_and_errors_do_not_end_the_session);
	tcase_add_test(tc, a_rejected_machine_line_leaves_the_defaults);
	tcase_add_test(tc, quizzes_run);
	tcase_add_test(tc, cpus_sit_on_lines_of_their_own);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
