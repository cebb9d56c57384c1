/*
 * Zeroing a frame for a faulting access: every byte ends zero whatever line is the hot one,
 * and nothing outside the page is touched.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/page_clear.h"
#include "phys.h"
#include "../check_main.h"

/* three pages; the middle one is zeroed, its neighbours must keep their fill */
static unsigned char buf[3 * 4096] __attribute__((aligned(4096)));

static const unsigned char zeros[4096];

static void check_zeroed(size_t hot)
{
	unsigned char fill[4096];

	memset(fill, 0xa5, sizeof(fill));
	memset(buf, 0xa5, sizeof(buf));
	page_zero_for_access(buf + 4096, hot);
	ck_assert_msg(!memcmp(buf + 4096, zeros, 4096), "hot %zu: the page is not all zeros", hot);
	ck_assert_msg(!memcmp(buf, fill, 4096), "hot %zu: the page before changed", hot);
	ck_assert_msg(!memcmp(buf + 8192, fill, 4096), "hot %zu: the page after changed", hot);
}

START_TEST(test_every_hot_line)
{
	/* the first, last and every other line; offsets inside a line; beyond the page (only
	 * the offset inside the page counts) */
	for (size_t hot = 0; hot < 4096; hot += 64)
		check_zeroed(hot);
	check_zeroed(1);
	check_zeroed(4095);
	check_zeroed(4096 + 130);
	check_zeroed(SIZE_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmap-page-clear");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_every_hot_line);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
