/*
 * The kernel half: the direct map with the largest pages, its rights as the simulated
 * processor enforces them, device memory, the kernel image, the shared upper PML4 entries,
 * the KernelMapper lock and its local flushes, frame accounting.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86_64/kernel_space.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "host/host_platform.h"
#include "test_cpu.h"
#include "test_machine.h"
#include "../check_main.h"

#define GiB (1024 * MiB)
#define KiB 1024ull

static struct x86_cpu cpu;
static bool cpu_live;

static void caps(bool page_1g)
{
	paging_caps_set((struct paging_caps){ .phys_addr_bits = KMAP_MAXPHYADDR, .page_1g = page_1g });
}

static void boot(uint64_t bytes, bool page_1g)
{
	uint64_t used0;
	struct mapper *km;

	test_machine_boot(&(struct test_machine){ .memory = bytes });
	caps(page_1g);
	used0 = used_frames();
	ck_assert_int_eq(kernel_space_init(), MAP_OK);
	kernel_mapper_lock();
	km = kernel_mapper();
	/* every table of the kernel half is a used frame, and only those were allocated */
	ck_assert_uint_eq(used_frames() - used0, km->table_frames);
	kernel_mapper_unlock();
	kcpu_init(&cpu, bytes, kernel_space_pml4().base);
	cpu.page1gb = page_1g;
	cpu_live = true;
}

static void teardown(void)
{
	if (cpu_live)
		kcpu_destroy(&cpu);
	cpu_live = false;
	test_machine_halt();
}

struct census {
	uint64_t lo, hi;          /* va window counted */
	unsigned leaves[4];
	uint64_t bytes;
	unsigned tables;
	unsigned device;          /* leaves with PCD */
	unsigned bad_rights;      /* leaves without P|RW|NX|G or with US */
	uint64_t next_va;         /* contiguity check */
	unsigned gaps;
};

static bool census_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct census *c = ctx;
	page_flags_t f = pte_flags(e, level);
	page_flags_t need = PG_PRESENT | PG_WRITABLE | PG_NO_EXEC | PG_GLOBAL;

	if (va < c->lo || va >= c->hi)
		return true;
	c->leaves[level]++;
	c->bytes += pt_level_size(level);
	if (f & PG_CACHE_DISABLE)
		c->device++;
	if ((f & need) != need || (f & PG_USER))
		c->bad_rights++;
	if (va != c->next_va)
		c->gaps++;
	c->next_va = va + pt_level_size(level);
	/* a direct-map leaf maps pa at PHYS_OFFSET + pa */
	ck_assert_uint_eq(pte_address(e, level), va - PHYS_OFFSET);
	return true;
}

static bool census_table(void *ctx, frame_t t, unsigned level, uint64_t va)
{
	struct census *c = ctx;

	(void)t, (void)level, (void)va;
	c->tables++;
	return true;
}

static void take_census(struct census *c, uint64_t lo, uint64_t hi)
{
	struct mapper_visitor v = { census_table, census_leaf, c, NULL };

	memset(c, 0, sizeof(*c));
	c->lo = lo;
	c->hi = hi;
	c->next_va = lo;
	kernel_mapper_lock();
	ck_assert(mapper_visit(kernel_mapper(), MAPPER_VISIT_KERNEL, &v));
	kernel_mapper_unlock();
}

START_TEST(test_direct_map_uses_largest_pages)
{
	const uint64_t bytes = 3 * GiB + 6 * MiB + 12 * KiB;
	struct census c;

	boot(bytes, true);
	take_census(&c, PHYS_OFFSET, PHYS_OFFSET + DIRECT_MAP_SIZE);
	/* [0,640K) reserved + [640K,1M) device: 4 KiB; [1M,2M) 4 KiB; [2M,1G) 2 MiB;
	 * [1G,3G) 1 GiB; [3G,3G+6M) 2 MiB; 12 KiB tail */
	ck_assert_uint_eq(c.leaves[3], 2);
	ck_assert_uint_eq(c.leaves[2], 511 + 3);
	ck_assert_uint_eq(c.leaves[1], 160 + 96 + 256 + 3);
	ck_assert_uint_eq(c.bytes, bytes);
	ck_assert_uint_eq(c.gaps, 0);
	ck_assert_uint_eq(c.device, 96);
	ck_assert_uint_eq(c.bad_rights, 0);
	/* all tables counted: root + every table of the kernel half */
	take_census(&c, 0, 0);
	kernel_mapper_lock();
	ck_assert_uint_eq(c.tables, kernel_mapper()->table_frames);
	kernel_mapper_unlock();
	/* root, 256 PDPTs, PDs for [0,1G) and [3G,4G) (1 GiB leaves need none), PTs for [0,2M)
	 * and the 12 KiB tail, and one PD + one PT for the image at KERNEL_OFFSET */
	ck_assert_uint_eq(c.tables, 1 + 256 + 2 + 2 + 2);
}
END_TEST

START_TEST(test_direct_map_rights_on_the_processor)
{
	const uint64_t bytes = 3 * GiB + 6 * MiB + 12 * KiB;
	struct x86_walk_trace tr;
	struct x86_xlate x;
	static const uint64_t pas[] = { 0, 0x9ffff, 0xa0000, 0xfffff, 0x100000, 0x1fffff,
					0x200000, 0x3fffffff, 0x40000000, 0x87654321,
					0xbfffffff, 0xc0000000, 0xc05fffff, 0xc0600000,
					0xc0602fff };

	boot(bytes, true);
	for (unsigned i = 0; i < sizeof(pas) / sizeof(pas[0]); i++) {
		uint64_t va = direct_map_va(pas[i]);

		expect_pa(&cpu, va, X86_READ, false, pas[i]);
		expect_pa(&cpu, va, X86_WRITE, false, pas[i]);
		expect_pf(&cpu, va, X86_READ, true, X86_PF_P | X86_PF_U);
		expect_pf(&cpu, va, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
		expect_pf(&cpu, va, X86_FETCH, false, X86_PF_P | X86_PF_ID);
	}
	/* beyond the machine: not mapped */
	expect_pf(&cpu, direct_map_va(bytes), X86_READ, false, 0);
	expect_pf(&cpu, direct_map_va(4 * GiB), X86_READ, false, 0);
	/* page sizes and memory types as the processor reads them */
	x = kcpu_probe(&cpu, direct_map_va(0x87654321), X86_READ, false, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(tr.page_shift, 30);
	ck_assert_uint_eq(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD, 0);
	ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_G);
	x = kcpu_probe(&cpu, direct_map_va(0x300000), X86_READ, false, &tr);
	ck_assert_uint_eq(tr.page_shift, 21);
	x = kcpu_probe(&cpu, direct_map_va(0xb8000), X86_READ, false, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(tr.page_shift, 12);
	ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD);
	/* every table entry on the way is supervisor and executable: the leaf decides */
	for (int i = 0; i < tr.nsteps - 1; i++)
		ck_assert_uint_eq(tr.steps[i].entry & (X86_PTE_US | X86_PTE_XD | X86_PTE_G), 0);
	x = kcpu_probe(&cpu, direct_map_va(0x100000), X86_READ, false, &tr);
	ck_assert_uint_eq(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD, 0);
}
END_TEST

START_TEST(test_kernel_image_at_kernel_offset)
{
	struct census c;

	boot(64 * MiB, true);
	/* the default map's kernel image is [1 MiB, 3 MiB): 512 4 KiB pages (1 MiB aligned) */
	expect_pa(&cpu, KERNEL_OFFSET, X86_FETCH, false, BOOT_MEMORY_DEFAULT_KERNEL_BASE);
	expect_pa(&cpu, KERNEL_OFFSET + 0x1ffff8, X86_READ, false, 0x2ffff8);
	expect_pf(&cpu, KERNEL_OFFSET + 0x1000, X86_WRITE, false, X86_PF_P | X86_PF_W);
	expect_pf(&cpu, KERNEL_OFFSET + 0x1000, X86_READ, true, X86_PF_P | X86_PF_U);
	expect_pf(&cpu, KERNEL_OFFSET + 0x200000, X86_READ, false, 0);
	/* the direct map of the same memory is writable and NX */
	expect_pa(&cpu, direct_map_va(0x101000), X86_WRITE, false, 0x101000);
	take_census(&c, PHYS_OFFSET, PHYS_OFFSET + DIRECT_MAP_SIZE);
	ck_assert_uint_eq(c.bytes, 64 * MiB);
	ck_assert_uint_eq(c.leaves[2], 31);
	ck_assert_uint_eq(c.leaves[1], 512);
}
END_TEST

START_TEST(test_custom_map_device_identity_and_holes)
{
	const uint64_t bytes = 64 * MiB;
	struct x86_walk_trace tr;
	struct x86_xlate x;
	struct census c;

	arena_map(bytes);
	boot_memory_reset();
	ck_assert_int_eq(register_memory_region(0x100000, 32 * MiB - 0x100000, BOOT_MEMORY_FREE),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(40 * MiB, 8 * MiB, BOOT_MEMORY_FREE), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0x200000, 0x100000, BOOT_MEMORY_KERNEL),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(34 * MiB, 0x3000, BOOT_MEMORY_IDENTITY_MAP),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(36 * MiB, 0x1000, BOOT_MEMORY_RECLAIM),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0xfec00000ull, 0x1000, BOOT_MEMORY_DEVICE),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(0xe0000000ull, 4 * MiB, BOOT_MEMORY_DEVICE),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_int_eq(frame_alloc_init(boot_memory_areas(), boot_memory_area_count()),
			 FRAME_INIT_OK);
	caps(true);
	ck_assert_int_eq(kernel_space_init(), MAP_OK);
	kcpu_init(&cpu, bytes, kernel_space_pml4().base);
	cpu_live = true;

	take_census(&c, PHYS_OFFSET, PHYS_OFFSET + DIRECT_MAP_SIZE);
	ck_assert_uint_eq(c.bytes, 32 * MiB - 0x100000 + 8 * MiB + 0x3000 + 0x1000 + 0x1000 +
					   4 * MiB);
	ck_assert_uint_eq(c.device, 1 + 2);
	ck_assert_uint_eq(c.bad_rights, 0);
	expect_pa(&cpu, direct_map_va(34 * MiB + 0x2008), X86_READ, false, 34 * MiB + 0x2008);
	expect_pa(&cpu, direct_map_va(36 * MiB), X86_READ, false, 36 * MiB);
	expect_pf(&cpu, direct_map_va(35 * MiB), X86_READ, false, 0);  /* hole */
	expect_pf(&cpu, direct_map_va(0x80000), X86_READ, false, 0);   /* not in the map */
	x = kcpu_probe(&cpu, direct_map_va(0xfec00010ull), X86_WRITE, false, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(x.pa, 0xfec00010ull);
	ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD);
	x = kcpu_probe(&cpu, direct_map_va(0xe0123456ull), X86_READ, false, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(tr.page_shift, 21);
	ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD);
	/* kernel image from its own region */
	expect_pa(&cpu, KERNEL_OFFSET + 0x10, X86_FETCH, false, 0x200010);
	expect_pf(&cpu, KERNEL_OFFSET + 0x100000, X86_FETCH, false, X86_PF_ID);
}
END_TEST

START_TEST(test_without_1g_pages)
{
	struct census c;

	boot(2 * GiB + 2 * MiB, false);
	take_census(&c, PHYS_OFFSET, PHYS_OFFSET + DIRECT_MAP_SIZE);
	ck_assert_uint_eq(c.leaves[3], 0);
	ck_assert_uint_eq(c.leaves[2], 1024 - 1 + 1);
	ck_assert_uint_eq(c.bytes, 2 * GiB + 2 * MiB);
	/* the processor without 1 GiB pages finds no reserved bit anywhere */
	expect_pa(&cpu, direct_map_va(0x7fffffff), X86_WRITE, false, 0x7fffffff);
	expect_pa(&cpu, direct_map_va(0x40000000), X86_READ, false, 0x40000000);
}
END_TEST

START_TEST(test_clone_shares_upper_half)
{
	struct mapper u1, u2;
	const pte_t *k, *a, *b;
	frame_t f;
	uint64_t kva = KERNEL_OFFSET - 3 * GiB;

	boot(64 * MiB, true);
	ck_assert_int_eq(kernel_space_new_user(&u1), MAP_OK);
	ck_assert_int_eq(kernel_space_new_user(&u2), MAP_OK);
	ck_assert_uint_eq(u1.table_frames, 1);
	k = phys_to_virt(kernel_space_pml4().base);
	a = phys_to_virt(u1.root.base);
	b = phys_to_virt(u2.root.base);
	for (unsigned i = 0; i < 512; i++) {
		if (i < 256) {
			ck_assert_uint_eq(a[i], 0);
			ck_assert_uint_eq(b[i], 0);
		} else {
			ck_assert(pte_present(k[i]));
			ck_assert_uint_eq(k[i] & X86_PTE_US, 0);
			ck_assert_uint_eq(a[i], k[i]);
			ck_assert_uint_eq(b[i], k[i]);
		}
	}
	/* a kernel mapping made after the clones is seen through both user roots */
	f = allocate_frame();
	kernel_mapper_lock();
	ck_assert_int_eq(kernel_map_page(kva, f, PG_PRESENT | PG_WRITABLE | PG_NO_EXEC), MAP_OK);
	/* the direct map is kernel_space's alone */
	ck_assert_int_eq(kernel_map_page(direct_map_va(0x5000000), f, PG_PRESENT), MAP_EINVAL);
	kernel_mapper_unlock();
	ck_assert(x86_write_cr3(&cpu, u1.root.base));
	expect_pa(&cpu, kva + 8, X86_WRITE, false, f.base + 8);
	expect_pa(&cpu, direct_map_va(0x123456), X86_READ, false, 0x123456);
	ck_assert(x86_write_cr3(&cpu, u2.root.base));
	expect_pa(&cpu, kva + 8, X86_READ, false, f.base + 8);
	expect_pf(&cpu, kva + 8, X86_READ, true, X86_PF_P | X86_PF_U);
	/* tearing a user space down leaves the kernel half alone */
	ck_assert(x86_write_cr3(&cpu, kernel_space_pml4().base));
	mapper_destroy_user(&u1, NULL, NULL);
	mapper_destroy_user(&u2, NULL, NULL);
	expect_pa(&cpu, kva, X86_READ, false, f.base);
	ck_assert(pte_present(k[511]));
	audit_ok();
}
END_TEST

START_TEST(test_kernel_changes_flushed_locally)
{
	frame_t f;
	struct mapped_leaf old;
	uint64_t kva = KERNEL_OFFSET - GiB;

	boot(64 * MiB, true);
	f = allocate_frame();
	kernel_mapper_lock();
	ck_assert_int_eq(kernel_map_page(kva, f, PG_PRESENT | PG_WRITABLE | PG_NO_EXEC), MAP_OK);
	ck_assert_int_eq(kernel_map_page(kva, f, PG_PRESENT), MAP_EXISTS);
	ck_assert_int_eq(kernel_map_page(kva + PAGE_SIZE, f, PG_PRESENT | PG_USER), MAP_EINVAL);
	kernel_mapper_unlock();
	expect_pa(&cpu, kva, X86_WRITE, false, f.base); /* now in this CPU's TLB */
	ck_assert_uint_eq(cpu.stats.invlpgs, 0);
	kernel_mapper_lock();
	ck_assert_int_eq(kernel_remap_page(kva, PG_PRESENT | PG_NO_EXEC), MAP_OK);
	kernel_mapper_unlock();
	ck_assert_uint_eq(cpu.stats.invlpgs, 1);
	expect_pf(&cpu, kva, X86_WRITE, false, X86_PF_P | X86_PF_W);
	expect_pa(&cpu, kva, X86_READ, false, f.base);
	kernel_mapper_lock();
	ck_assert_int_eq(kernel_unmap_page(kva, &old), MAP_OK);
	ck_assert_int_eq(kernel_unmap_page(kva, &old), MAP_NOT_MAPPED);
	kernel_mapper_unlock();
	ck_assert_uint_eq(old.frame.base, f.base);
	ck_assert_uint_eq(cpu.stats.invlpgs, 2);
	expect_pf(&cpu, kva, X86_READ, false, 0);
}
END_TEST

START_TEST(test_map_device_memory)
{
	uint64_t va, tables;
	struct x86_walk_trace tr;
	struct x86_xlate x;
	struct census c;

	boot(64 * MiB, true);
	kernel_mapper_lock();
	tables = kernel_mapper()->table_frames;
	kernel_mapper_unlock();
	ck_assert_int_eq(map_device_memory(0x80000010ull, 0x2ff0, &va), MAP_OK);
	ck_assert_uint_eq(va, PHYS_OFFSET + 0x80000010ull);
	for (uint64_t off = 0; off < 0x3000; off += PAGE_SIZE) {
		x = kcpu_probe(&cpu, direct_map_va(0x80000000ull + off), X86_WRITE, false, &tr);
		ck_assert_int_eq(x.outcome, X86_OK);
		ck_assert_uint_eq(x.pa, 0x80000000ull + off);
		ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_PCD);
		ck_assert(tr.steps[tr.nsteps - 1].entry & X86_PTE_XD);
	}
	expect_pf(&cpu, direct_map_va(0x80003000ull), X86_READ, false, 0);
	kernel_mapper_lock();
	ck_assert_uint_eq(kernel_mapper()->table_frames, tables + 2); /* a PD and a PT */
	kernel_mapper_unlock();
	/* idempotent; overlapping the boot map's device range is fine too */
	ck_assert_int_eq(map_device_memory(0x80001000ull, 0x1000, &va), MAP_OK);
	ck_assert_int_eq(map_device_memory(0xa0000, 0x60000, &va), MAP_OK);
	/* a 2 MiB aligned BAR gets a 2 MiB page, a 1 GiB one a 1 GiB page */
	ck_assert_int_eq(map_device_memory(0x90000000ull, 2 * MiB, &va), MAP_OK);
	ck_assert_int_eq(map_device_memory(0x100000000ull, GiB, &va), MAP_OK);
	take_census(&c, PHYS_OFFSET + 0x80000000ull, PHYS_OFFSET + 0x200000000ull);
	ck_assert_uint_eq(c.leaves[1], 3);
	ck_assert_uint_eq(c.leaves[2], 1);
	ck_assert_uint_eq(c.leaves[3], 1);
	ck_assert_uint_eq(c.device, 5);
	ck_assert_uint_eq(c.bad_rights, 0);
	/* RAM is never aliased uncached; nothing changes */
	ck_assert_int_eq(map_device_memory(0x3ff000, 0x2000, &va), MAP_EXISTS);
	ck_assert_int_eq(map_device_memory(0x80002000ull, 0x2000, &va), MAP_OK);
	ck_assert_int_eq(map_device_memory(64 * MiB - PAGE_SIZE, 2 * PAGE_SIZE, &va), MAP_EXISTS);
	expect_pf(&cpu, direct_map_va(64 * MiB), X86_READ, false, 0);
	ck_assert_int_eq(map_device_memory(0x1000, 0, &va), MAP_EINVAL);
	ck_assert_int_eq(map_device_memory(DIRECT_MAP_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, &va),
			 MAP_EINVAL);
	ck_assert_int_eq(map_device_memory(~0ull - 0x10, 0x100, &va), MAP_EINVAL);
	ck_assert(!kernel_mapper_held_by_this_cpu());
}
END_TEST

static volatile bool other_got_lock;
static volatile bool other_saw_held;

static void *other_cpu(void *arg)
{
	(void)arg;
	host_set_current_cpu(1);
	other_saw_held = kernel_mapper_held_by_this_cpu();
	kernel_mapper_lock();
	other_got_lock = true;
	ck_assert(kernel_mapper_held_by_this_cpu());
	kernel_mapper_unlock();
	return NULL;
}

START_TEST(test_kernel_mapper_lock)
{
	pthread_t t;

	boot(64 * MiB, true);
	host_set_cpu_count(2);
	ck_assert(!kernel_mapper_held_by_this_cpu());
	EXPECT_PANIC(kernel_mapper(), "without the KernelMapper lock");
	EXPECT_PANIC(kernel_mapper_unlock(), "not its owner");
	kernel_mapper_lock();
	ck_assert(kernel_mapper_held_by_this_cpu());
	ck_assert_ptr_nonnull(kernel_mapper());
	/* the rule the heap checks: no re-entry on the same CPU */
	EXPECT_PANIC(kernel_mapper_lock(), "re-entered on cpu 0");
	ck_assert(kernel_mapper_held_by_this_cpu());
	/* another CPU: not the holder, and it waits */
	other_got_lock = other_saw_held = false;
	ck_assert_int_eq(pthread_create(&t, NULL, other_cpu, NULL), 0);
	usleep(50000);
	ck_assert(!other_got_lock);
	kernel_mapper_unlock();
	ck_assert(!kernel_mapper_held_by_this_cpu());
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(other_got_lock);
	ck_assert(!other_saw_held);
	/* map_device_memory takes the lock itself: calling it while holding is a bug */
	kernel_mapper_lock();
	{
		uint64_t va;

		EXPECT_PANIC(map_device_memory(0x80000000ull, 0x1000, &va), "re-entered");
	}
	kernel_mapper_unlock();
}
END_TEST

START_TEST(test_boot_enomem_and_limits)
{
	uint64_t held = 0, n;
	frame_t *all;

	test_machine_boot(&(struct test_machine){ .memory = 64 * MiB });
	caps(true);
	n = free_frames();
	all = malloc(sizeof(frame_t) * (size_t)(n + 1));
	ck_assert_ptr_nonnull(all);
	while (!frame_is_none(all[held] = allocate_frame()))
		held++;
	for (int i = 0; i < 100; i++)
		deallocate_frame(all[--held]); /* fewer than the 257 upper tables */
	ck_assert_int_eq(kernel_space_init(), MAP_ENOMEM);
	while (held)
		deallocate_frame(all[--held]);
	free(all);
	EXPECT_PANIC(kernel_space_pml4(), "not initialised");
	/* memory beyond the 64 TiB direct map cannot be booted */
	boot_memory_reset();
	ck_assert_int_eq(boot_memory_default_map(64 * MiB), BOOT_MEMORY_OK);
	ck_assert_int_eq(register_memory_region(DIRECT_MAP_SIZE, 0x1000, BOOT_MEMORY_DEVICE),
			 BOOT_MEMORY_OK);
	ck_assert_int_eq(boot_memory_init(0x100000, 0), BOOT_MEMORY_OK);
	ck_assert_int_eq(frame_alloc_init(boot_memory_areas(), boot_memory_area_count()),
			 FRAME_INIT_OK);
	ck_assert_int_eq(kernel_space_init(), MAP_EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmap-kernel-space");
	TCase *tc = tcase_create("kernel-space");

	tcase_add_checked_fixture(tc, panic_handler_install, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_direct_map_uses_largest_pages);
	tcase_add_test(tc, test_direct_map_rights_on_the_processor);
	tcase_add_test(tc, test_kernel_image_at_kernel_offset);
	tcase_add_test(tc, test_custom_map_device_identity_and_holes);
	tcase_add_test(tc, test_without_1g_pages);
	tcase_add_test(tc, test_clone_shares_upper_half);
	tcase_add_test(tc, test_kernel_changes_flushed_locally);
	tcase_add_test(tc, test_map_device_memory);
	tcase_add_test(tc, test_kernel_mapper_lock);
	tcase_add_test(tc, test_boot_enomem_and_limits);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
