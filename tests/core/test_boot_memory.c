/* Unit tests of the boot memory map (B1, B2) and register_bootloader_areas. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "boot_memory.h"
#include "host/host_platform.h"
#include "test_arena.h"
#include "../check_main.h"

static void setup(void)
{
	boot_memory_reset();
}

/* Find the entry of `kind` containing base; false if none. */
static bool entry_of(enum bootloader_memory_kind kind, paddr_t base, struct boot_memory_entry *out)
{
	for (size_t i = 0; i < boot_memory_map_count(); i++) {
		ck_assert(boot_memory_map_entry(i, out));
		if (out->kind == kind && out->base <= base && base < out->base + out->size)
			return true;
	}
	return false;
}

START_TEST(test_register_alignment)
{
	ck_assert_int_eq(register_memory_region(0x1800, 0x3000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x10800, 0x1000, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 2);
	struct boot_memory_entry e;
	ck_assert(entry_of(BOOT_MEMORY_FREE, 0x2000, &e));
	ck_assert_uint_eq(e.base, 0x2000); /* free shrinks inward: [0x1800,0x4800) -> [0x2000,0x4000) */
	ck_assert_uint_eq(e.size, 0x2000);
	ck_assert(entry_of(BOOT_MEMORY_RESERVED, 0x10000, &e));
	ck_assert_uint_eq(e.base, 0x10000); /* others grow outward: [0x10800,0x11800) -> [0x10000,0x12000) */
	ck_assert_uint_eq(e.size, 0x2000);
	/* free range inside one page vanishes; null and empty are ignored */
	ck_assert_int_eq(register_memory_region(0x20100, 0x800, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x30000, 0x1000, BOOT_MEMORY_NULL), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x40000, 0, BOOT_MEMORY_KERNEL), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 2);
	ck_assert_int_eq(register_memory_region(0x40000, 0x1000, (enum bootloader_memory_kind)7),
			 BOOT_MEMORY_BAD_KIND);
	ck_assert_int_eq(register_memory_region(UINT64_MAX - 0xfff, 0x2000, BOOT_MEMORY_FREE),
			 BOOT_MEMORY_BAD_RANGE);
	ck_assert_uint_eq(boot_memory_map_count(), 2);
	ck_assert(!boot_memory_map_entry(2, &e));
}
END_TEST

START_TEST(test_merge_same_kind)
{
	/* B2, the two Redox tests: overlapping and adjacent same-kind entries merge */
	ck_assert_int_eq(register_memory_region(0x1000, 0x2000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x2000, 0x2000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 1);
	ck_assert_int_eq(register_memory_region(0x4000, 0x1000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 1);
	struct boot_memory_entry e;
	ck_assert(boot_memory_map_entry(0, &e));
	ck_assert_uint_eq(e.base, 0x1000);
	ck_assert_uint_eq(e.size, 0x4000);
	ck_assert_int_eq(e.kind, BOOT_MEMORY_FREE);
	/* a range bridging two entries merges all three */
	ck_assert_int_eq(register_memory_region(0x10000, 0x1000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 2);
	ck_assert_int_eq(register_memory_region(0x5000, 0xb000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 1);
	ck_assert(boot_memory_map_entry(0, &e));
	ck_assert_uint_eq(e.base, 0x1000);
	ck_assert_uint_eq(e.size, 0x10000);
}
END_TEST

START_TEST(test_different_kinds_stay_separate)
{
	ck_assert_int_eq(register_memory_region(0x1000, 0x4000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x5000, 0x1000, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x2000, 0x1000, BOOT_MEMORY_KERNEL), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x6000, 0x1000, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 3);
	struct boot_memory_entry e;
	ck_assert(entry_of(BOOT_MEMORY_FREE, 0x1000, &e));
	ck_assert_uint_eq(e.size, 0x4000);
	ck_assert(entry_of(BOOT_MEMORY_KERNEL, 0x2000, &e));
	ck_assert_uint_eq(e.size, 0x1000);
	ck_assert(entry_of(BOOT_MEMORY_RESERVED, 0x5000, &e));
	ck_assert_uint_eq(e.base, 0x5000);
	ck_assert_uint_eq(e.size, 0x2000);
}
END_TEST

START_TEST(test_map_capacity)
{
	for (unsigned i = 0; i < BOOT_MEMORY_MAP_CAPACITY; i++)
		ck_assert_int_eq(register_memory_region(0x2000ULL * i, 0x1000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), BOOT_MEMORY_MAP_CAPACITY);
	ck_assert_int_eq(register_memory_region(0x2000ULL * 600, 0x1000, BOOT_MEMORY_FREE), BOOT_MEMORY_MAP_FULL);
	/* a merging range still fits */
	ck_assert_int_eq(register_memory_region(0x1000, 0x1000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), BOOT_MEMORY_MAP_CAPACITY - 1);
}
END_TEST

START_TEST(test_init_subtracts_and_sorts)
{
	/* B1 */
	ck_assert_int_eq(register_memory_region(0x500000, 0x500000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x0, 0x300000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x600000, 0x1000, BOOT_MEMORY_RECLAIM), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x700000, 0x10000, BOOT_MEMORY_IDENTITY_MAP), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x9ff000, 0x10000, BOOT_MEMORY_DEVICE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x4ff000, 0x2000, BOOT_MEMORY_KERNEL), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x200000, 0x800, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	const struct boot_area *a = boot_memory_areas();
	struct boot_area want[] = {
		{ 0x100000, 0x100000 }, { 0x201000, 0xff000 }, { 0x501000, 0xff000 },
		{ 0x601000, 0xff000 },  { 0x710000, 0x2ef000 },
	};
	ck_assert_uint_eq(boot_memory_area_count(), 5);
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_uint_eq(a[i].base, want[i].base);
		ck_assert_uint_eq(a[i].size, want[i].size);
	}
	/* a high limit clips, and recomputing replaces the previous areas */
	ck_assert_int_eq(boot_memory_init(0x100000, 0x280000), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_area_count(), 2);
	ck_assert_uint_eq(a[1].base, 0x201000);
	ck_assert_uint_eq(a[1].size, 0x7f000);
	ck_assert_int_eq(boot_memory_init(0x300000, 0x200000), BOOT_MEMORY_BAD_LIMITS);
}
END_TEST

START_TEST(test_init_merges_overlapping_pieces)
{
	/* two Free entries that became adjacent only after a reservation was subtracted */
	ck_assert_int_eq(register_memory_region(0x100000, 0x100000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x300000, 0x100000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x200000, 0x100000, BOOT_MEMORY_RESERVED), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x200000, 0x100000, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 2); /* the three free ranges merged */
	ck_assert_int_eq(boot_memory_init(0, 0), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_area_count(), 2);
	ck_assert_uint_eq(boot_memory_areas()[0].base, 0x100000);
	ck_assert_uint_eq(boot_memory_areas()[0].size, 0x100000);
	ck_assert_uint_eq(boot_memory_areas()[1].base, 0x300000);
}
END_TEST

START_TEST(test_default_map)
{
	ck_assert_int_eq(boot_memory_default_map(64 * MiB), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 4);
	struct boot_memory_entry e;
	ck_assert(entry_of(BOOT_MEMORY_RESERVED, 0, &e));
	ck_assert_uint_eq(e.size, 0xA0000);
	ck_assert(entry_of(BOOT_MEMORY_DEVICE, 0xA0000, &e));
	ck_assert_uint_eq(e.size, 0x60000);
	ck_assert(entry_of(BOOT_MEMORY_KERNEL, 0x100000, &e));
	ck_assert_uint_eq(e.size, 0x200000);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_area_count(), 1);
	ck_assert_uint_eq(boot_memory_areas()[0].base, 3 * MiB);
	ck_assert_uint_eq(boot_memory_areas()[0].size, 61 * MiB);
	boot_memory_reset();
	ck_assert_int_eq(boot_memory_default_map(3 * MiB), BOOT_MEMORY_TOO_SMALL);
	ck_assert_str_eq(bootloader_memory_kind_name(BOOT_MEMORY_IDENTITY_MAP), "identity-map");
}
END_TEST

START_TEST(test_register_bootloader_areas)
{
	arena_map(8 * MiB);
	struct bootloader_memory_record recs[] = {
		{ 0x0, 0x9f000, BOOT_MEMORY_FREE },
		{ 0x9f000, 0x61000, BOOT_MEMORY_RESERVED },
		{ 0x100000, 0x6f0000, BOOT_MEMORY_FREE },
		{ 0x7f0000, 0x10000, BOOT_MEMORY_RECLAIM },
		{ 0x0, 0x0, BOOT_MEMORY_NULL },
	};
	paddr_t table = 0x500000;
	memcpy((char *)phys_to_virt(table), recs, sizeof(recs));
	ck_assert_int_eq(register_bootloader_areas(table, 5), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_map_count(), 4);
	ck_assert_int_eq(register_memory_region(table, sizeof(recs), BOOT_MEMORY_IDENTITY_MAP), BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_uint_eq(boot_memory_area_count(), 2);
	ck_assert_uint_eq(boot_memory_areas()[0].base, 0x100000);
	ck_assert_uint_eq(boot_memory_areas()[0].size, 0x400000);
	ck_assert_uint_eq(boot_memory_areas()[1].base, 0x501000);
	ck_assert_uint_eq(boot_memory_areas()[1].size, 0x2ef000);
	/* a bad kind stops the walk with an error */
	struct bootloader_memory_record bad = { 0x1000, 0x1000, 0x42 };
	memcpy((char *)phys_to_virt(table), &bad, sizeof(bad));
	ck_assert_int_eq(register_bootloader_areas(table, 1), BOOT_MEMORY_BAD_KIND);
	arena_unmap();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-boot-memory");
	TCase *tc = tcase_create("boot");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_register_alignment);
	tcase_add_test(tc, test_merge_same_kind);
	tcase_add_test(tc, test_different_kinds_stay_separate);
	tcase_add_test(tc, test_map_capacity);
	tcase_add_test(tc, test_init_subtracts_and_sorts);
	tcase_add_test(tc, test_init_merges_overlapping_pieces);
	tcase_add_test(tc, test_default_map);
	tcase_add_test(tc, test_register_bootloader_areas);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
