/*
 * The common end of every Check runner: run the suite with the settings of the environment
 * (CK_FORK, CK_VERBOSITY, CK_RUN_CASE...) and make the failures the exit status, so meson
 * and CI see them. Check prints its "N%: Checks: ..." summary line, which .ci/summary.py
 * counts.
 */
#ifndef MMSIM_TESTS_CHECK_MAIN_H
#define MMSIM_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int run_check_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
