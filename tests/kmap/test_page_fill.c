/*
 * Filling a frame for a faulting access: every byte ends zero (or equal to the source) whatever
 * line is the hot one, and nothing outside the page is touched.
 */
#include <check.h>
#include <cpuid.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/page_fill.h"
#include "host/host_cpu_ops.h"
#include "phys.h"
#include "../check_main.h"

/* three pages; the middle one is zeroed, its neighbours must keep their fill */
static unsigned char buf[3 * 4096] __attribute__((aligned(4096)));

static const unsigned char zeros[4096];

/* Fill the middle page of buf for hot (src NULL: zero it) and check all three pages. */
static void check_fill(size_t hot, const unsigned char *src)
{
	unsigned char fill[4096];

	memset(fill, 0xa5, sizeof(fill));
	memset(buf, 0xa5, sizeof(buf));
	if (src)
		page_copy_for_access(buf + 4096, src, hot);
	else
		page_zero_for_access(buf + 4096, hot);
	ck_assert_msg(!memcmp(buf + 4096, src ? src : zeros, 4096), "hot %zu: wrong contents", hot);
	ck_assert_msg(!memcmp(buf, fill, 4096), "hot %zu: the page before changed", hot);
	ck_assert_msg(!memcmp(buf + 8192, fill, 4096), "hot %zu: the page after changed", hot);
}

/* the first, last and every other line; offsets inside a line; beyond the page (only the
 * offset inside the page counts) */
static const size_t odd_hots[] = { 1, 4095, 4096 + 130, SIZE_MAX };

static void zero_every_hot_line(void)
{
	for (size_t hot = 0; hot < 4096; hot += 64)
		check_fill(hot, NULL);
	for (size_t i = 0; i < sizeof(odd_hots) / sizeof(odd_hots[0]); i++)
		check_fill(odd_hots[i], NULL);
}

static bool host_has_clzero(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000008u)
		return false;
	__get_cpuid(0x80000008u, &a, &b, &c, &d);
	return b & 1u;
}

static struct x86_cpu cpu;

static void attach_cpu(enum x86_vendor vendor)
{
	static uint8_t mem[4096];

	ck_assert(x86_cpu_init(&cpu, (struct x86_phys){ mem, sizeof(mem) }, 1, 40));
	cpu.vendor = vendor;
	host_cpu_ops_attach(&cpu, 1);
	page_fill_probe();
}

static void detach_cpu(void)
{
	host_cpu_ops_attach(NULL, 0);
	x86_cpu_destroy(&cpu);
}

/* The simulated processor answers: an Intel model never has CLZERO, an AMD one where the
 * host has it (the instruction runs on the host). Both ways zero every line. */
START_TEST(test_zero_every_hot_line)
{
	attach_cpu(X86_INTEL);
	ck_assert(!page_fill_allow_clzero(true));
	zero_every_hot_line();
	detach_cpu();

	attach_cpu(X86_AMD);
	ck_assert_int_eq(page_fill_allow_clzero(true), host_has_clzero());
	zero_every_hot_line();
	ck_assert(!page_fill_allow_clzero(false));
	zero_every_hot_line();
	ck_assert_int_eq(page_fill_allow_clzero(true), host_has_clzero());
	detach_cpu();
}
END_TEST

START_TEST(test_copy_every_hot_line)
{
	static unsigned char src[4096] __attribute__((aligned(4096)));

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(i * 7 + (i >> 8));
	for (size_t hot = 0; hot < 4096; hot += 64)
		check_fill(hot, src);
	for (size_t i = 0; i < sizeof(odd_hots) / sizeof(odd_hots[0]); i++)
		check_fill(odd_hots[i], src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmap-page-fill");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_zero_every_hot_line);
	tcase_add_test(tc, test_copy_every_hot_line);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
