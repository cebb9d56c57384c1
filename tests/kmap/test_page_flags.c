/*
 * The kernel's entry encoding against literal values from the architecture manual, and
 * against the simulated processor's own decoding of the same raw entries.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/page_flags.h"
#include "host/host_platform.h"
#include "test_arena.h"
#include "x86_cpu.h"
#include "../check_main.h"

static void setup(void)
{
	panic_handler_install();
	paging_caps_set((struct paging_caps){ .phys_addr_bits = 52, .page_1g = true });
}

START_TEST(test_leaf_4k_literal)
{
	/* P RW US XD, address 0x1234000 */
	ck_assert_uint_eq(pte_make_leaf(0x1234000, PG_PRESENT | PG_WRITABLE | PG_USER | PG_NO_EXEC,
					PT_LEVEL_PT),
			  0x8000000001234007ull);
	/* P, global, PCD, PWT, A, D, supervisor, read-only, executable */
	ck_assert_uint_eq(pte_make_leaf(0xabcdef000ull,
					PG_PRESENT | PG_GLOBAL | PG_CACHE_DISABLE |
						PG_WRITE_THROUGH | PG_ACCESSED | PG_DIRTY,
					PT_LEVEL_PT),
			  0x0000000abcdef179ull);
	/* software bits 9 and 10 */
	ck_assert_uint_eq(pte_make_leaf(0x5000, PG_PRESENT | PG_SOFT0 | PG_SOFT1, PT_LEVEL_PT),
			  0x5601ull);
}
END_TEST

/* The generic code's names for entry bits (pte_bits, pte_has, pte_keep) against the
 * manual's literal bit positions, one flag at a time. */
START_TEST(test_flag_bits_literal)
{
	static const struct {
		page_flags_t flag;
		pte_t bit;
	} want[] = {
		{ PG_PRESENT, 1ull << 0 },	 { PG_WRITABLE, 1ull << 1 },
		{ PG_USER, 1ull << 2 },		 { PG_WRITE_THROUGH, 1ull << 3 },
		{ PG_CACHE_DISABLE, 1ull << 4 }, { PG_ACCESSED, 1ull << 5 },
		{ PG_DIRTY, 1ull << 6 },	 { PG_HUGE, 1ull << 7 },
		{ PG_GLOBAL, 1ull << 8 },	 { PG_SOFT0, 1ull << 9 },
		{ PG_SOFT1, 1ull << 10 },	 { PG_PROTNONE, 1ull << 11 },
		{ PG_NO_EXEC, 1ull << 63 },
	};
	page_flags_t all = 0;
	pte_t all_bits = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_uint_eq(pte_bits(want[i].flag), want[i].bit);
		ck_assert(pte_has(want[i].bit, want[i].flag));
		ck_assert(!pte_has(~want[i].bit, want[i].flag));
		all |= want[i].flag;
		all_bits |= want[i].bit;
	}
	ck_assert_uint_eq(pte_bits(all), all_bits);
	ck_assert(pte_has(0x8000000001234067ull, PG_PRESENT | PG_USER | PG_NO_EXEC));
	ck_assert(!pte_has(0x8000000001234065ull, PG_PRESENT | PG_WRITABLE));
	/* a child's read-only copy of a writable, accessed, dirty leaf */
	ck_assert_uint_eq(pte_keep(0x8000000001234067ull, PG_PRESENT | PG_USER | PG_NO_EXEC),
			  0x8000000001234005ull);
}
END_TEST

START_TEST(test_leaf_huge_literal)
{
	ck_assert_uint_eq(pte_make_leaf(0x40200000ull, PG_PRESENT | PG_WRITABLE | PG_HUGE,
					PT_LEVEL_PD),
			  0x40200083ull);
	ck_assert_uint_eq(pte_make_leaf(0x1c0000000ull, PG_PRESENT | PG_HUGE | PG_GLOBAL |
								PG_NO_EXEC,
					PT_LEVEL_PDPT),
			  0x80000001c0000181ull);
	/* bit 12 of a huge leaf is PAT, not address: the decoder masks it out */
	ck_assert_uint_eq(pte_address(0x40201083ull, PT_LEVEL_PD), 0x40200000ull);
	ck_assert_uint_eq(pte_address(0x1c0001081ull, PT_LEVEL_PDPT), 0x1c0000000ull);
	/* ...but at level 1 bit 12 is address and bit 7 is PAT, not PS */
	ck_assert_uint_eq(pte_address(0x40201083ull, PT_LEVEL_PT), 0x40201000ull);
	ck_assert(pte_is_leaf(0x40201083ull, PT_LEVEL_PT));
	ck_assert(!(pte_flags(0x40201083ull, PT_LEVEL_PT) & PG_HUGE));
}
END_TEST

START_TEST(test_table_entries)
{
	pte_t e = pte_make_table(0x5000, PG_PRESENT | PG_WRITABLE | PG_USER, PT_LEVEL_PML4);

	ck_assert_uint_eq(e, 0x5007ull);
	ck_assert_uint_eq(pte_make_table(0x7ff000, PG_PRESENT | PG_WRITABLE, PT_LEVEL_PD),
			  0x7ff003ull);
	ck_assert(!pte_is_leaf(e, PT_LEVEL_PML4));
	ck_assert(!pte_is_leaf(e, PT_LEVEL_PD));
	ck_assert_uint_eq(pte_address(e, PT_LEVEL_PML4), 0x5000);
	/* bit 6 (D) and bit 8 (G) are ignored in a non-leaf entry: not reported */
	ck_assert_uint_eq(pte_flags(0x5000 | 0x1 | 0x40 | 0x100, PT_LEVEL_PD), PG_PRESENT);
	/* forbidden table flags are kernel bugs */
	EXPECT_PANIC(pte_make_table(0x5000, PG_PRESENT | PG_NO_EXEC, PT_LEVEL_PD), "table entry");
	EXPECT_PANIC(pte_make_table(0x5000, PG_PRESENT | PG_GLOBAL, PT_LEVEL_PML4), "table entry");
	EXPECT_PANIC(pte_make_table(0x5000, PG_PRESENT | PG_HUGE, PT_LEVEL_PD), "table entry");
	EXPECT_PANIC(pte_make_table(0x5000, PG_PRESENT, PT_LEVEL_PT), "level 1");
	EXPECT_PANIC(pte_make_table(0x5008, PG_PRESENT, PT_LEVEL_PD), "not encodable");
}
END_TEST

static const page_flags_t optional_leaf_flags[] = {
	PG_WRITABLE, PG_USER, PG_NO_EXEC, PG_GLOBAL, PG_WRITE_THROUGH,
	PG_CACHE_DISABLE, PG_ACCESSED, PG_DIRTY, PG_SOFT0, PG_SOFT1,
};
#define N_OPT (sizeof(optional_leaf_flags) / sizeof(optional_leaf_flags[0]))

START_TEST(test_round_trip_every_combination)
{
	static const paddr_t pas[] = { 0, 0x1000, 0x40000000ull, 0xffffc0000000ull,
				       0x000fffffc0000000ull };
	unsigned checked = 0;

	for (unsigned level = PT_LEVEL_PT; level <= PT_LEVEL_PDPT; level++) {
		for (unsigned mask = 0; mask < (1u << N_OPT); mask++) {
			page_flags_t f = PG_PRESENT | (level > 1 ? PG_HUGE : 0);

			for (unsigned b = 0; b < N_OPT; b++)
				if (mask & (1u << b))
					f |= optional_leaf_flags[b];
			for (unsigned i = 0; i < sizeof(pas) / sizeof(pas[0]); i++) {
				pte_t e;
				bool ok;

				if (pas[i] & (pt_level_size(level) - 1))
					continue;
				/* one assertion per case: Check's per-assertion cost is high */
				ok = pte_leaf_encodable(pas[i], f, level);
				e = ok ? pte_make_leaf(pas[i], f, level) : 0;
				ok = ok && pte_present(e) && pte_is_leaf(e, level) &&
				     pte_address(e, level) == pas[i] && pte_flags(e, level) == f &&
				     /* XD only when asked; PAT never */
				     !!(e >> 63) == !!(f & PG_NO_EXEC) &&
				     (e & (level == PT_LEVEL_PT ? 0x80ull : 0x1000ull)) == 0;
				if (!ok)
					ck_abort_msg("level %u pa 0x%llx flags 0x%x -> 0x%llx", level,
						     (unsigned long long)pas[i], f,
						     (unsigned long long)e);
				checked++;
			}
		}
	}
	ck_assert_uint_eq(checked, 1024 * (5 + 4 + 4)); /* 0x1000 is no huge address */
}
END_TEST

START_TEST(test_reserved_bits_refused)
{
	page_flags_t p = PG_PRESENT, h = PG_PRESENT | PG_HUGE;

	/* unaligned addresses: bits 20:13 / 29:13 of huge leaves are reserved */
	ck_assert(!pte_leaf_encodable(0x1001, p, PT_LEVEL_PT));
	ck_assert(!pte_leaf_encodable(0x201000, h, PT_LEVEL_PD));
	ck_assert(!pte_leaf_encodable(0x40200000ull, h, PT_LEVEL_PDPT));
	/* PS where the level has none, or missing where it is needed */
	ck_assert(!pte_leaf_encodable(0x200000, h, PT_LEVEL_PT));
	ck_assert(!pte_leaf_encodable(0x200000, p, PT_LEVEL_PD));
	ck_assert(!pte_leaf_encodable(0, h, PT_LEVEL_PML4));
	ck_assert(!pte_leaf_encodable(0, p, 0));
	/* not present, or unknown flag bits */
	ck_assert(!pte_leaf_encodable(0x1000, PG_WRITABLE, PT_LEVEL_PT));
	ck_assert(!pte_leaf_encodable(0x1000, p | (1u << 20), PT_LEVEL_PT));
	/* beyond MAXPHYADDR */
	ck_assert(!pte_leaf_encodable(1ull << 52, p, PT_LEVEL_PT));
	paging_caps_set((struct paging_caps){ .phys_addr_bits = 40, .page_1g = true });
	ck_assert(!pte_leaf_encodable(1ull << 40, p, PT_LEVEL_PT));
	ck_assert(pte_leaf_encodable((1ull << 40) - 0x1000, p, PT_LEVEL_PT));
	ck_assert(!pte_leaf_encodable(1ull << 40, h, PT_LEVEL_PDPT));
	/* 1 GiB pages only on a CPU that has them */
	ck_assert(pte_leaf_encodable(1ull << 30, h, PT_LEVEL_PDPT));
	paging_caps_set((struct paging_caps){ .phys_addr_bits = 40, .page_1g = false });
	ck_assert(!pte_leaf_encodable(1ull << 30, h, PT_LEVEL_PDPT));
	ck_assert(pte_leaf_encodable(1ull << 30, h, PT_LEVEL_PD));
	EXPECT_PANIC(pte_make_leaf(1ull << 30, h, PT_LEVEL_PDPT), "reserved bits");
	EXPECT_PANIC(pte_make_leaf(0x201000, h, PT_LEVEL_PD), "reserved bits");
	EXPECT_PANIC(paging_caps_set((struct paging_caps){ .phys_addr_bits = 53 }), "MAXPHYADDR");
}
END_TEST

START_TEST(test_prot_conversion)
{
	ck_assert_uint_eq(page_flags_from_prot(0), 0);
	ck_assert_uint_eq(page_flags_from_prot(PROT_BIT_READ), PG_PRESENT | PG_USER | PG_NO_EXEC);
	ck_assert_uint_eq(page_flags_from_prot(PROT_BIT_READ | PROT_BIT_WRITE),
			  PG_PRESENT | PG_USER | PG_WRITABLE | PG_NO_EXEC);
	ck_assert_uint_eq(page_flags_from_prot(PROT_BIT_READ | PROT_BIT_EXEC),
			  PG_PRESENT | PG_USER);
	ck_assert_uint_eq(page_flags_from_prot(PROT_BIT_WRITE),
			  PG_PRESENT | PG_USER | PG_WRITABLE | PG_NO_EXEC);
	ck_assert_uint_eq(page_flags_from_prot(PROT_BIT_EXEC), PG_PRESENT | PG_USER);
	ck_assert_uint_eq(page_flags_from_prot(7), PG_PRESENT | PG_USER | PG_WRITABLE);
	/* back: write implies read, exec implies read, NONE stays NONE */
	ck_assert_uint_eq(page_flags_to_prot(page_flags_from_prot(0)), 0);
	ck_assert_uint_eq(page_flags_to_prot(page_flags_from_prot(PROT_BIT_WRITE)),
			  PROT_BIT_READ | PROT_BIT_WRITE);
	ck_assert_uint_eq(page_flags_to_prot(page_flags_from_prot(PROT_BIT_EXEC)),
			  PROT_BIT_READ | PROT_BIT_EXEC);
	for (unsigned prot = 0; prot < 8; prot++) {
		page_flags_t f = page_flags_from_prot(prot);

		if (prot)
			ck_assert(pte_leaf_encodable(0x1000, f, PT_LEVEL_PT));
		else
			ck_assert(!pte_leaf_encodable(0x1000, f, PT_LEVEL_PT));
	}
}
END_TEST

/* Does the processor's formatter list `word` as a token of the entry? */
static bool hw_says(const char *fmt, const char *word)
{
	size_t n = strlen(word);
	const char *p = fmt;

	while ((p = strstr(p, word))) {
		if ((p == fmt || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

START_TEST(test_processor_decodes_kernel_entries)
{
	struct x86_cpu cpu;
	uint8_t mem[4096];
	char buf[256], want[64];

	ck_assert(x86_cpu_init(&cpu, (struct x86_phys){ mem, sizeof(mem) }, 1, 52));
	for (unsigned level = PT_LEVEL_PT; level <= PT_LEVEL_PDPT; level++) {
		for (unsigned mask = 0; mask < (1u << N_OPT); mask += 7) {
			page_flags_t f = PG_PRESENT | (level > 1 ? PG_HUGE : 0);
			paddr_t pa = level == 1 ? 0x7654000ull : level == 2 ? 0x7600000ull
									 : 0x80000000ull;
			pte_t e;

			for (unsigned b = 0; b < N_OPT; b++)
				if (mask & (1u << b))
					f |= optional_leaf_flags[b];
			e = pte_make_leaf(pa, f, level);
			x86_format_entry(buf, sizeof(buf), e, (int)level, &cpu);
			ck_assert_msg(hw_says(buf, "P"), "%s", buf);
			ck_assert_msg(hw_says(buf, "RW") == !!(f & PG_WRITABLE), "%s", buf);
			ck_assert_msg(hw_says(buf, "US") == !!(f & PG_USER), "%s", buf);
			ck_assert_msg(hw_says(buf, "XD") == !!(f & PG_NO_EXEC), "%s", buf);
			ck_assert_msg(hw_says(buf, "G") == !!(f & PG_GLOBAL), "%s", buf);
			ck_assert_msg(hw_says(buf, "PCD") == !!(f & PG_CACHE_DISABLE), "%s", buf);
			ck_assert_msg(hw_says(buf, "PWT") == !!(f & PG_WRITE_THROUGH), "%s", buf);
			ck_assert_msg(hw_says(buf, "D") == !!(f & PG_DIRTY), "%s", buf);
			ck_assert_msg(hw_says(buf, "A") == !!(f & PG_ACCESSED), "%s", buf);
			ck_assert_msg(hw_says(buf, "PS") == (level > 1), "%s", buf);
			snprintf(want, sizeof(want), "0x%llx", (unsigned long long)pa);
			ck_assert_msg(hw_says(buf, want), "%s lacks %s", buf, want);
			/* the processor finds no reserved bit in anything the kernel encodes */
			ck_assert_msg(!strstr(buf, "RESERVED"), "%s", buf);
		}
	}
	{
		pte_t t = pte_make_table(0x3000, PG_PRESENT | PG_WRITABLE | PG_USER, PT_LEVEL_PML4);

		x86_format_entry(buf, sizeof(buf), t, 4, &cpu);
		ck_assert_msg(hw_says(buf, "P") && hw_says(buf, "RW") && hw_says(buf, "US") &&
				      !hw_says(buf, "PS") && !hw_says(buf, "G") &&
				      hw_says(buf, "0x3000") && !strstr(buf, "RESERVED"),
			      "%s", buf);
	}
	x86_cpu_destroy(&cpu);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmap-page-flags");
	TCase *tc = tcase_create("encoding");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_leaf_4k_literal);
	tcase_add_test(tc, test_flag_bits_literal);
	tcase_add_test(tc, test_leaf_huge_literal);
	tcase_add_test(tc, test_table_entries);
	tcase_add_test(tc, test_round_trip_every_combination);
	tcase_add_test(tc, test_reserved_bits_refused);
	tcase_add_test(tc, test_prot_conversion);
	tcase_add_test(tc, test_processor_decodes_kernel_entries);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
