/*
 * The mapper: round trips, refusals, huge pages, out-of-memory without leaks, table
 * reclamation handed to the caller, the visitor and teardown; and the key cross-check: the
 * simulated processor, walking the same physical memory, agrees with every table the
 * mapper writes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/kernel_space.h"
#include "arch/x86_64/mapper.h"
#include "frame_alloc.h"
#include "host/host_platform.h"
#include "test_cpu.h"
#include "test_machine.h"
#include "../check_main.h"

#define MACHINE (64 * MiB)
#define RW_USER (PG_PRESENT | PG_WRITABLE | PG_USER | PG_NO_EXEC)
#define RO_USER (PG_PRESENT | PG_USER | PG_NO_EXEC)
#define GiB (1024 * MiB)

static struct mapper um;
static struct x86_cpu cpu;

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = MACHINE, .kernel_space = true });
	ck_assert_int_eq(kernel_space_new_user(&um), MAP_OK);
	kcpu_init(&cpu, MACHINE, um.root.base);
}

static void teardown(void)
{
	kcpu_destroy(&cpu);
	test_machine_halt();
}

static frame_t new_frame(void)
{
	frame_t f = allocate_frame();

	ck_assert(!frame_is_none(f));
	return f;
}

/* mapper_translate and the processor's side-effect-free probe agree on va. */
static void agree(uint64_t va)
{
	struct translation t;
	struct x86_xlate x = kcpu_probe(&cpu, va, X86_READ, false, NULL);
	enum map_result r = mapper_translate(&um, va, &t);

	if (r == MAP_OK) {
		ck_assert_msg(x.outcome == X86_OK, "va 0x%llx: kernel pa 0x%llx, cpu outcome %d",
			      (unsigned long long)va, (unsigned long long)t.pa, x.outcome);
		ck_assert_uint_eq(x.pa, t.pa);
	} else {
		ck_assert_int_eq(r, MAP_NOT_MAPPED);
		ck_assert_msg(x.outcome == X86_PF && !(x.err & X86_PF_P),
			      "va 0x%llx: kernel says unmapped, cpu outcome %d err 0x%x",
			      (unsigned long long)va, x.outcome, x.err);
	}
}

START_TEST(test_map_translate_unmap_round_trip)
{
	frame_t f = new_frame();
	struct translation t;
	struct mapped_leaf old;
	uint64_t va = 0x400000;

	ck_assert_int_eq(mapper_translate(&um, va, &t), MAP_NOT_MAPPED);
	ck_assert_int_eq(mapper_map(&um, va, f, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_translate(&um, va + 0x123, &t), MAP_OK);
	ck_assert_uint_eq(t.pa, f.base + 0x123);
	ck_assert_uint_eq(t.leaf.frame.base, f.base);
	ck_assert_uint_eq(t.leaf.level, 1);
	ck_assert_uint_eq(t.leaf.flags, RW_USER);
	ck_assert_uint_eq(t.entry, f.base | 0x8000000000000007ull);
	ck_assert_int_eq(mapper_unmap(&um, va, &old, NULL, NULL), MAP_OK);
	ck_assert_uint_eq(old.frame.base, f.base);
	ck_assert_uint_eq(old.flags, RW_USER);
	ck_assert_uint_eq(old.level, 1);
	ck_assert_int_eq(mapper_translate(&um, va, &t), MAP_NOT_MAPPED);
	ck_assert_int_eq(mapper_unmap(&um, va, &old, NULL, NULL), MAP_NOT_MAPPED);
	deallocate_frame(f);
}
END_TEST

static bool count_protnone(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	uint64_t *n = ctx;

	ck_assert_uint_eq(va, 0x401000);
	ck_assert(pte_is_protnone(e, level) && !pte_present(e));
	(*n)++;
	return true;
}

/* M8: a protnone entry keeps the frame and rights for the kernel, and is not present to the
 * processor. */
START_TEST(test_protnone_entry)
{
	frame_t f = new_frame(), g = new_frame();
	struct mapped_leaf old, kept;
	struct translation t;
	struct table_release rel;
	unsigned released;
	uint64_t va = 0x401000, n = 0;
	struct mapper_visitor v = { NULL, NULL, &n, count_protnone };

	ck_assert_int_eq(mapper_protnone(&um, va, &old), MAP_NOT_MAPPED);
	ck_assert_int_eq(mapper_map(&um, va, f, RW_USER | PG_DIRTY), MAP_OK);
	ck_assert_int_eq(mapper_protnone(&um, va, &old), MAP_OK);
	ck_assert_uint_eq(old.frame.base, f.base);
	ck_assert_uint_eq(old.flags, RW_USER | PG_DIRTY);
	/* the processor: not present (P=0 in the error code), whatever the access */
	agree(va);
	struct x86_xlate x = kcpu_probe(&cpu, va, X86_WRITE, true, NULL);
	ck_assert(x.outcome == X86_PF && !(x.err & X86_PF_P));
	ck_assert_int_eq(mapper_translate(&um, va, &t), MAP_NOT_MAPPED);
	ck_assert_int_eq(mapper_protnone_get(&um, va, &kept), MAP_OK);
	ck_assert_uint_eq(kept.frame.base, f.base);
	ck_assert_uint_eq(kept.flags, PG_PROTNONE | PG_WRITABLE | PG_USER | PG_NO_EXEC | PG_DIRTY);
	ck_assert_int_eq(mapper_protnone(&um, va, NULL), MAP_NOT_MAPPED);
	/* M1: nothing is mapped over it */
	ck_assert_int_eq(mapper_map(&um, va, g, RW_USER), MAP_EXISTS);
	ck_assert_int_eq(mapper_map_protnone(&um, va, g, PG_USER), MAP_EXISTS);
	ck_assert(mapper_visit(&um, MAPPER_VISIT_USER, &v));
	ck_assert_uint_eq(n, 1);
	/* back to present with new rights, the same frame and the kept D bit */
	ck_assert_int_eq(mapper_protnone_restore(&um, va, RO_USER, &kept), MAP_OK);
	ck_assert_uint_eq(kept.frame.base, f.base);
	ck_assert_int_eq(mapper_translate(&um, va, &t), MAP_OK);
	ck_assert_uint_eq(t.leaf.frame.base, f.base);
	ck_assert_uint_eq(t.leaf.flags, RO_USER | PG_DIRTY);
	agree(va);
	ck_assert_int_eq(mapper_protnone_restore(&um, va, RO_USER, NULL), MAP_EXISTS);
	ck_assert_int_eq(mapper_protnone_get(&um, va, &kept), MAP_EXISTS);
	ck_assert_int_eq(mapper_protnone_restore(&um, va + 0x1000, RO_USER, NULL), MAP_NOT_MAPPED);
	/* M6: a table holding only a protnone entry is not empty; unmap removes the entry */
	ck_assert_int_eq(mapper_protnone(&um, va, NULL), MAP_OK);
	uint64_t tables = um.table_frames;
	table_release_init(&rel);
	ck_assert_int_eq(mapper_map(&um, va + 0x1000, g, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_unmap(&um, va + 0x1000, NULL, &rel, &released), MAP_OK);
	ck_assert_uint_eq(released, 0);
	ck_assert_uint_eq(um.table_frames, tables);
	ck_assert_int_eq(mapper_unmap(&um, va, &old, &rel, &released), MAP_OK);
	ck_assert_uint_eq(old.frame.base, f.base);
	ck_assert(old.flags & PG_PROTNONE && !(old.flags & PG_PRESENT));
	ck_assert_uint_eq(released, 3);
	ck_assert_int_eq(mapper_protnone_get(&um, va, &kept), MAP_NOT_MAPPED);
	agree(va);
	table_release_free(&rel);
	/* refusals: kernel half, unaligned, rights beyond what an entry keeps */
	ck_assert_int_eq(mapper_map_protnone(&um, va + 1, g, PG_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_protnone(&um, KERNEL_HALF_START, g, PG_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_protnone(&um, va, g, PG_USER | PG_GLOBAL), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_protnone(&um, va, g, PG_NO_EXEC), MAP_EINVAL);
	deallocate_frame(f);
	deallocate_frame(g);
}
END_TEST

START_TEST(test_cpu_agrees_on_rights)
{
	frame_t rw = new_frame(), ro = new_frame(), rx = new_frame(), kf = new_frame();
	uint64_t kva = KERNEL_OFFSET - GiB; /* outside the direct map and the image */

	ck_assert_int_eq(mapper_map(&um, 0x10000, rw, page_flags_from_prot(PROT_BIT_READ |
									      PROT_BIT_WRITE)),
			 MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x11000, ro, page_flags_from_prot(PROT_BIT_READ)), MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x7fffffffe000ull, rx,
				    page_flags_from_prot(PROT_BIT_READ | PROT_BIT_EXEC)),
			 MAP_OK);
	/* a supervisor page in the shared kernel half, mapped after the clone */
	kernel_mapper_lock();
	ck_assert_int_eq(kernel_map_page(kva, kf, PG_PRESENT | PG_WRITABLE | PG_NO_EXEC), MAP_OK);
	kernel_mapper_unlock();

	/* read-write user page */
	expect_pa(&cpu, 0x10abc, X86_READ, true, rw.base + 0xabc);
	expect_pa(&cpu, 0x10abc, X86_WRITE, true, rw.base + 0xabc);
	expect_pf(&cpu, 0x10000, X86_FETCH, true, X86_PF_P | X86_PF_U | X86_PF_ID);
	/* read-only user page: user and supervisor writes fault (CR0.WP=1) */
	expect_pa(&cpu, 0x11008, X86_READ, true, ro.base + 8);
	expect_pf(&cpu, 0x11008, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_pf(&cpu, 0x11008, X86_WRITE, false, X86_PF_P | X86_PF_W);
	/* executable user page at the top of the user half */
	expect_pa(&cpu, 0x7fffffffeff0ull, X86_FETCH, true, rx.base + 0xff0);
	expect_pf(&cpu, 0x7fffffffe000ull, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	/* unmapped: not present, neighbours and other PML4 slots */
	expect_pf(&cpu, 0x12000, X86_READ, true, X86_PF_U);
	expect_pf(&cpu, 0x12000, X86_WRITE, true, X86_PF_W | X86_PF_U);
	expect_pf(&cpu, 0x600000000000ull, X86_FETCH, true, X86_PF_U | X86_PF_ID);
	/* supervisor page: user access is a protection fault, supervisor is fine, NX holds */
	expect_pf(&cpu, kva + 4, X86_READ, true, X86_PF_P | X86_PF_U);
	expect_pa(&cpu, kva + 4, X86_WRITE, false, kf.base + 4);
	expect_pf(&cpu, kva, X86_FETCH, false, X86_PF_P | X86_PF_ID);
	/* and the kernel's own translation agrees everywhere */
	agree(0x10abc);
	agree(0x11008);
	agree(0x12000);
	agree(0x7fffffffe123ull);
	agree(kva + 0x10);
	agree(kva + PAGE_SIZE);
}
END_TEST

START_TEST(test_huge_pages_agree)
{
	struct translation t;
	struct x86_walk_trace tr;
	struct x86_xlate x;
	frame_t big = allocate_p2frame(9); /* a 2 MiB block: order 9 */

	ck_assert(!frame_is_none(big));
	ck_assert(frame_is_aligned_to_order(big, 9));
	ck_assert_int_eq(mapper_map_huge(&um, 0x40000000ull, big, RW_USER, PT_LEVEL_PD), MAP_OK);
	/* a 1 GiB leaf may name physical memory beyond this machine: only the address matters */
	ck_assert_int_eq(mapper_map_huge(&um, 0x8000000000ull, (frame_t){ 0x3c0000000ull }, RO_USER,
					 PT_LEVEL_PDPT),
			 MAP_OK);
	ck_assert_int_eq(mapper_translate(&um, 0x40000000ull + 0x1fffff, &t), MAP_OK);
	ck_assert_uint_eq(t.pa, big.base + 0x1fffff);
	ck_assert_uint_eq(t.leaf.level, 2);
	ck_assert(t.leaf.flags & PG_HUGE);
	ck_assert_int_eq(mapper_translate(&um, 0x8000000000ull + 0x12345678, &t), MAP_OK);
	ck_assert_uint_eq(t.pa, 0x3c0000000ull + 0x12345678);
	ck_assert_uint_eq(t.leaf.level, 3);

	x = kcpu_probe(&cpu, 0x40012345ull, X86_WRITE, true, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(x.pa, big.base + 0x12345);
	ck_assert_uint_eq(tr.page_shift, 21);
	ck_assert_int_eq(tr.nsteps, 3);
	x = kcpu_probe(&cpu, 0x8000000000ull + 0x12345678, X86_READ, true, &tr);
	ck_assert_int_eq(x.outcome, X86_OK);
	ck_assert_uint_eq(x.pa, 0x3c0000000ull + 0x12345678);
	ck_assert_uint_eq(tr.page_shift, 30);
	ck_assert_int_eq(tr.nsteps, 2);
	expect_pf(&cpu, 0x8000000000ull + 0x40, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	agree(0x40000000ull + 0x100000);
	agree(0x40200000ull);
	agree(0x8000000000ull + 0x3fffffff);
	agree(0x8000000000ull + 0x40000000);

	/* conflicts: a 4 KiB map inside a huge leaf, a 2 MiB map inside a 1 GiB leaf */
	ck_assert_int_eq(mapper_map(&um, 0x40001000ull, new_frame(), RW_USER), MAP_HUGE_CONFLICT);
	ck_assert_int_eq(mapper_map_huge(&um, 0x8000200000ull, big, RW_USER, PT_LEVEL_PD),
			 MAP_HUGE_CONFLICT);
	ck_assert_int_eq(mapper_map_huge(&um, 0x40000000ull, big, RW_USER, PT_LEVEL_PD), MAP_EXISTS);
	/* a huge map where a table already is */
	ck_assert_int_eq(mapper_map(&um, 0x80000000ull, new_frame(), RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_map_huge(&um, 0x80000000ull, big, RW_USER, PT_LEVEL_PD), MAP_EXISTS);
	/* unmap and remap only at the base of a huge leaf */
	ck_assert_int_eq(mapper_unmap(&um, 0x40001000ull, NULL, NULL, NULL), MAP_HUGE_CONFLICT);
	ck_assert_int_eq(mapper_remap(&um, 0x40001000ull, RO_USER, NULL), MAP_HUGE_CONFLICT);
	ck_assert_int_eq(mapper_remap(&um, 0x40000000ull, RO_USER, NULL), MAP_OK);
	ck_assert_int_eq(mapper_translate(&um, 0x40000000ull, &t), MAP_OK);
	ck_assert_uint_eq(t.leaf.flags, RO_USER | PG_HUGE); /* probes set no A bit */
	expect_pf(&cpu, 0x40000000ull, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	{
		struct mapped_leaf old;

		ck_assert_int_eq(mapper_unmap(&um, 0x40000000ull, &old, NULL, NULL), MAP_OK);
		ck_assert_uint_eq(old.level, 2);
		ck_assert_uint_eq(old.frame.base, big.base);
	}
	agree(0x40000000ull);
}
END_TEST

START_TEST(test_map_refuses_to_overwrite)
{
	frame_t a = new_frame(), b = new_frame();
	struct translation t;
	uint64_t tables = um.table_frames;

	ck_assert_int_eq(mapper_map(&um, 0x200000, a, RW_USER), MAP_OK);
	ck_assert_uint_eq(um.table_frames, tables + 3);
	ck_assert_int_eq(mapper_map(&um, 0x200000, b, RW_USER), MAP_EXISTS);
	ck_assert_int_eq(mapper_map(&um, 0x200000, a, RO_USER), MAP_EXISTS);
	ck_assert_int_eq(mapper_translate(&um, 0x200000, &t), MAP_OK);
	ck_assert_uint_eq(t.leaf.frame.base, a.base);
	ck_assert_uint_eq(t.leaf.flags, RW_USER);
	ck_assert_uint_eq(um.table_frames, tables + 3);
	expect_pa(&cpu, 0x200010, X86_READ, true, a.base + 0x10);
}
END_TEST

START_TEST(test_invalid_arguments)
{
	frame_t f = new_frame();
	struct mapper km_view = { .root = um.root, .space = MAPPER_KERNEL };

	/* non-canonical, unaligned va and frame */
	ck_assert_int_eq(mapper_map(&um, 0x0000800000000000ull, f, RW_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, 0x1234, f, RW_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, 0x1000, (frame_t){ f.base + 8 }, RW_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_huge(&um, 0x201000, f, RW_USER, PT_LEVEL_PD), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_huge(&um, 0x200000, (frame_t){ 0x201000 }, RW_USER,
					 PT_LEVEL_PD),
			 MAP_EINVAL);
	/* flag and half mismatches */
	ck_assert_int_eq(mapper_map(&um, 0x1000, f, PG_PRESENT | PG_WRITABLE), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, 0x1000, f, RW_USER | PG_GLOBAL), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, 0x1000, f, PG_USER | PG_WRITABLE), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, 0x1000, f, RW_USER | PG_HUGE), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&um, KERNEL_OFFSET - GiB, f, PG_PRESENT), MAP_EINVAL);
	ck_assert_int_eq(mapper_map(&km_view, 0x1000, f, RW_USER), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_huge(&um, 0, (frame_t){ 0 }, RW_USER, PT_LEVEL_PT), MAP_EINVAL);
	ck_assert_int_eq(mapper_map_huge(&um, 0, (frame_t){ 0 }, RW_USER, PT_LEVEL_PML4),
			 MAP_EINVAL);
	/* beyond this CPU's 40 physical address bits, and 1 GiB pages on a CPU without them */
	ck_assert_int_eq(mapper_map(&um, 0x1000, (frame_t){ 1ull << 40 }, RW_USER), MAP_EINVAL);
	paging_caps_set((struct paging_caps){ .phys_addr_bits = KMAP_MAXPHYADDR, .page_1g = false });
	ck_assert_int_eq(mapper_map_huge(&um, 0x40000000ull, (frame_t){ 0x40000000ull }, RW_USER,
					 PT_LEVEL_PDPT),
			 MAP_EINVAL);
	ck_assert_int_eq(mapper_unmap(&um, 0x0000800000000000ull, NULL, NULL, NULL), MAP_EINVAL);
	ck_assert_int_eq(mapper_remap(&um, 0x1000, RW_USER | PG_GLOBAL, NULL), MAP_EINVAL);
	{
		struct translation t;

		ck_assert_int_eq(mapper_translate(&um, 0x0000900000000000ull, &t), MAP_EINVAL);
	}
	/* nothing above changed the tree: only the root is there */
	ck_assert_uint_eq(um.table_frames, 1);
	agree(0x1000);
	agree(0x200000);
}
END_TEST

START_TEST(test_remap_keeps_frame_and_dirty_bit)
{
	frame_t f = new_frame();
	struct translation t;
	page_flags_t old;

	ck_assert_int_eq(mapper_map(&um, 0x5000, f, RW_USER), MAP_OK);
	expect_pa(&cpu, 0x5004, X86_WRITE, true, f.base + 4); /* the CPU sets A and D */
	ck_assert_int_eq(mapper_remap(&um, 0x5000, RO_USER, &old), MAP_OK);
	ck_assert_uint_eq(old, RW_USER | PG_ACCESSED | PG_DIRTY);
	ck_assert_int_eq(mapper_translate(&um, 0x5000, &t), MAP_OK);
	ck_assert_uint_eq(t.leaf.frame.base, f.base);
	ck_assert_uint_eq(t.leaf.flags, RO_USER | PG_ACCESSED | PG_DIRTY);
	/* the stale TLB entry still allows the write until the flush: that is the caller's job */
	expect_pa(&cpu, 0x5008, X86_WRITE, true, f.base + 8);
	x86_invlpg(&cpu, 0x5000);
	expect_pf(&cpu, 0x5008, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_pa(&cpu, 0x5008, X86_READ, true, f.base + 8);
	ck_assert_int_eq(mapper_remap(&um, 0x6000, RO_USER, NULL), MAP_NOT_MAPPED);
}
END_TEST

START_TEST(test_enomem_leaves_nothing_behind)
{
	frame_t leaf = new_frame();
	uint64_t n = free_frames(), held = 0, before_tables = um.table_frames;
	frame_t *all = malloc(sizeof(frame_t) * (size_t)(n + 1));
	struct translation t;

	ck_assert_ptr_nonnull(all);
	while (!frame_is_none(all[held] = allocate_frame()))
		held++;
	ck_assert_uint_eq(free_frames(), 0);
	/* room for 2 of the 3 tables a fresh PML4 slot needs */
	deallocate_frame(all[--held]);
	deallocate_frame(all[--held]);
	ck_assert_uint_eq(free_frames(), 2);
	ck_assert_int_eq(mapper_map(&um, 0x7f0000000000ull, leaf, RW_USER), MAP_ENOMEM);
	ck_assert_uint_eq(free_frames(), 2);
	ck_assert_uint_eq(um.table_frames, before_tables);
	ck_assert_uint_eq(((pte_t *)phys_to_virt(um.root.base))[pt_index(0x7f0000000000ull, 4)], 0);
	ck_assert_int_eq(mapper_translate(&um, 0x7f0000000000ull, &t), MAP_NOT_MAPPED);
	agree(0x7f0000000000ull);
	/* 2 free frames are enough for a huge leaf (PDPT + PD) in the same fresh slot */
	ck_assert_int_eq(mapper_map_huge(&um, 0x7f0000000000ull, (frame_t){ 0x200000 }, RO_USER,
					 PT_LEVEL_PD),
			 MAP_OK);
	ck_assert_uint_eq(free_frames(), 0);
	ck_assert_uint_eq(um.table_frames, before_tables + 2);
	/* a 4 KiB page next to it needs one more PT: none left */
	ck_assert_int_eq(mapper_map(&um, 0x7f0000200000ull, leaf, RW_USER), MAP_ENOMEM);
	ck_assert_uint_eq(um.table_frames, before_tables + 2);
	deallocate_frame(all[--held]);
	ck_assert_int_eq(mapper_map(&um, 0x7f0000200000ull, leaf, RW_USER), MAP_OK);
	ck_assert_uint_eq(free_frames(), 0);
	expect_pa(&cpu, 0x7f0000200010ull, X86_READ, true, leaf.base + 0x10);
	expect_pa(&cpu, 0x7f0000000010ull, X86_READ, true, 0x200010);
	while (held)
		deallocate_frame(all[--held]);
	free(all);
	audit_ok();
}
END_TEST

START_TEST(test_unmap_hands_back_empty_tables)
{
	frame_t a = new_frame(), b = new_frame(), c = new_frame();
	struct table_release rel;
	struct mapped_leaf old;
	unsigned released;
	uint64_t free0 = free_frames(), tables0 = um.table_frames;

	table_release_init(&rel);
	/* a and b share a PT; c is in another PT of the same PD */
	ck_assert_int_eq(mapper_map(&um, 0x1000000000ull, a, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x1000001000ull, b, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x1000200000ull, c, RW_USER), MAP_OK);
	ck_assert_uint_eq(um.table_frames, tables0 + 4);
	ck_assert_uint_eq(free_frames(), free0 - 4);
	expect_pa(&cpu, 0x1000000000ull, X86_READ, true, a.base);

	ck_assert_int_eq(mapper_unmap(&um, 0x1000000000ull, &old, &rel, &released), MAP_OK);
	ck_assert_uint_eq(released, 0);
	ck_assert_int_eq(mapper_unmap(&um, 0x1000001000ull, &old, &rel, &released), MAP_OK);
	ck_assert_uint_eq(released, 1); /* the PT of a and b */
	ck_assert_uint_eq(rel.count, 1);
	ck_assert_uint_eq(um.table_frames, tables0 + 3);
	/* released but not freed: the frame is still used until the caller's shootdown */
	ck_assert_uint_eq(free_frames(), free0 - 4);
	/* the processor's TLB still has a's translation: exactly why the PT is not freed yet */
	expect_pa(&cpu, 0x1000000000ull, X86_READ, true, a.base);
	x86_invlpg(&cpu, 0x1000000000ull);
	expect_pf(&cpu, 0x1000000000ull, X86_READ, true, X86_PF_U);

	ck_assert_int_eq(mapper_unmap(&um, 0x1000200000ull, &old, &rel, &released), MAP_OK);
	ck_assert_uint_eq(released, 3); /* its PT, the PD, the PDPT */
	ck_assert_uint_eq(rel.count, 4);
	ck_assert_uint_eq(um.table_frames, tables0);
	ck_assert_uint_eq(((pte_t *)phys_to_virt(um.root.base))[pt_index(0x1000000000ull, 4)], 0);
	ck_assert_uint_eq(free_frames(), free0 - 4);
	table_release_free(&rel);
	ck_assert_uint_eq(rel.count, 0);
	ck_assert_uint_eq(free_frames(), free0);
	agree(0x1000200000ull);
	/* without a release list, empty tables stay linked */
	ck_assert_int_eq(mapper_map(&um, 0x2000000000ull, a, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_unmap(&um, 0x2000000000ull, NULL, NULL, &released), MAP_OK);
	ck_assert_uint_eq(released, 0);
	ck_assert_uint_eq(um.table_frames, tables0 + 3);
	audit_ok();
}
END_TEST

START_TEST(test_leaf_table_batch_edits)
{
	frame_t a = new_frame(), b = new_frame();
	struct table_release rel;
	uint64_t next = 1, tables0 = um.table_frames, free0;
	pte_t *pt = NULL, *again = NULL;
	struct translation t;

	table_release_init(&rel);
	/* nothing there: the hole is the whole PML4 slot of 512 GiB */
	ck_assert_int_eq(mapper_leaf_table(&um, 0x1000003000ull, false, &pt, &next), MAP_NOT_MAPPED);
	ck_assert_uint_eq(next, 0x8000000000ull);
	ck_assert_ptr_null(pt);
	ck_assert_uint_eq(um.table_frames, tables0);
	/* the kernel half and kernel mappers are refused */
	ck_assert_int_eq(mapper_leaf_table(&um, KERNEL_HALF_START, true, &pt, NULL), MAP_EINVAL);

	/* create: PDPT, PD and PT appear, linked, empty */
	free0 = free_frames();
	ck_assert_int_eq(mapper_leaf_table(&um, 0x1000003000ull, true, &pt, NULL), MAP_OK);
	ck_assert_uint_eq(um.table_frames, tables0 + 3);
	ck_assert_uint_eq(free_frames(), free0 - 3);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		ck_assert_uint_eq(pt[i], 0);
	ck_assert_int_eq(mapper_leaf_table(&um, 0x10001ff000ull, false, &again, NULL), MAP_OK);
	ck_assert_ptr_eq(again, pt);
	/* entries written through the batch pointer are what the processor walks */
	mapper_entry_store(&pt[3], pte_make_leaf(a.base, RW_USER, PT_LEVEL_PT));
	mapper_entry_store(&pt[4], pte_make_leaf(b.base, RW_USER, PT_LEVEL_PT));
	expect_pa(&cpu, 0x1000003008ull, X86_WRITE, true, a.base + 8);
	ck_assert_int_eq(mapper_translate(&um, 0x1000004000ull, &t), MAP_OK);
	ck_assert_uint_eq(t.leaf.frame.base, b.base);
	/* write protection keeps the D bit the processor set: before the caller looked (both
	 * A and D seen: the plain store) */
	ck_assert_uint_eq(pt[3] & (PTE_A | PTE_D), PTE_A | PTE_D);
	mapper_entry_clear(&pt[3], mapper_entry_load(&pt[3]), PG_WRITABLE);
	ck_assert_uint_eq(pt[3] & (PTE_RW | PTE_A | PTE_D), PTE_A | PTE_D);
	x86_invlpg(&cpu, 0x1000003000ull);
	expect_pf(&cpu, 0x1000003000ull, X86_WRITE, true, X86_PF_P | X86_PF_W | X86_PF_U);
	/* ... and after it looked (D not seen: the locked AND keeps the processor's update) */
	{
		pte_t seen = mapper_entry_load(&pt[4]);

		ck_assert_uint_eq(seen & PTE_D, 0);
		expect_pa(&cpu, 0x1000004010ull, X86_WRITE, true, b.base + 0x10);
		mapper_entry_clear(&pt[4], seen, PG_WRITABLE);
		ck_assert_uint_eq(pt[4] & (PTE_RW | PTE_A | PTE_D), PTE_A | PTE_D);
		x86_invlpg(&cpu, 0x1000004000ull);
	}

	/* a table that still holds an entry is not pruned; an empty one goes with its parents */
	ck_assert_uint_eq(mapper_entry_exchange(&pt[3], 0) & PTE_ADDR_4K, a.base);
	ck_assert_uint_eq(mapper_prune_tables(&um, 0x1000003000ull, &rel), 0);
	ck_assert_uint_eq(rel.count, 0);
	ck_assert_uint_eq(mapper_entry_exchange(&pt[4], 0) & PTE_ADDR_4K, b.base);
	ck_assert_uint_eq(mapper_prune_tables(&um, 0x1000003000ull, &rel), 3);
	ck_assert_uint_eq(rel.count, 3);
	ck_assert_uint_eq(um.table_frames, tables0);
	ck_assert_int_eq(mapper_leaf_table(&um, 0x1000003000ull, false, &pt, &next), MAP_NOT_MAPPED);
	table_release_free(&rel);
	ck_assert_uint_eq(free_frames(), free0);

	/* a huge leaf on the way */
	ck_assert_int_eq(mapper_map_huge(&um, 0x2000000000ull, (frame_t){ 0x200000 }, RO_USER,
					 PT_LEVEL_PD),
			 MAP_OK);
	ck_assert_int_eq(mapper_leaf_table(&um, 0x2000001000ull, true, &pt, NULL),
			 MAP_HUGE_CONFLICT);
	/* the last PD entry's hole ends at the next 2 MiB boundary */
	ck_assert_int_eq(mapper_leaf_table(&um, 0x2000200000ull, false, &pt, &next), MAP_NOT_MAPPED);
	ck_assert_uint_eq(next, 0x2000400000ull);
	audit_ok();
}
END_TEST

START_TEST(test_release_list_capacity)
{
	frame_t f = new_frame();
	struct table_release rel;
	unsigned released, i;

	table_release_init(&rel);
	for (i = 0; i < 5; i++) {
		uint64_t va = 0x10000000000ull * (i + 1);

		ck_assert(!table_release_needs_flush(&rel));
		ck_assert_int_eq(mapper_map(&um, va, f, RW_USER), MAP_OK);
		ck_assert_int_eq(mapper_unmap(&um, va, NULL, &rel, &released), MAP_OK);
		ck_assert_uint_eq(released, 3);
	}
	ck_assert_uint_eq(rel.count, 15);
	ck_assert(table_release_needs_flush(&rel));
	ck_assert_int_eq(mapper_map(&um, 0x60000000000ull, f, RW_USER), MAP_OK);
	EXPECT_PANIC(mapper_unmap(&um, 0x60000000000ull, NULL, &rel, &released), "flush it first");
	table_release_free(&rel);
	ck_assert(!table_release_needs_flush(&rel));
	ck_assert_int_eq(mapper_unmap(&um, 0x60000000000ull, NULL, &rel, &released), MAP_OK);
	ck_assert_uint_eq(released, 3);
	table_release_free(&rel);
	ck_assert_uint_eq(um.table_frames, 1);
}
END_TEST

struct census {
	unsigned leaves[4];
	unsigned tables[5];
	uint64_t vas[16];
	unsigned nvas;
	int stop_after;
};

static bool count_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct census *c = ctx;

	ck_assert(pte_present(e) && pte_is_leaf(e, level));
	c->leaves[level]++;
	if (c->nvas < 16)
		c->vas[c->nvas++] = va;
	return --c->stop_after != 0;
}

static bool count_table(void *ctx, frame_t t, unsigned level, uint64_t va)
{
	struct census *c = ctx;

	(void)va;
	ck_assert(!frame_is_none(t));
	c->tables[level]++;
	return true;
}

START_TEST(test_visitor)
{
	struct census c = { .stop_after = -1 };
	struct mapper_visitor v = { count_table, count_leaf, &c, NULL };

	ck_assert_int_eq(mapper_map(&um, 0x1000, new_frame(), RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x2000, new_frame(), RO_USER), MAP_OK);
	ck_assert_int_eq(mapper_map(&um, 0x7ffffffff000ull, new_frame(), RO_USER), MAP_OK);
	ck_assert_int_eq(mapper_map_huge(&um, 0x600000, (frame_t){ 0x600000 }, RO_USER,
					 PT_LEVEL_PD),
			 MAP_OK);
	ck_assert_int_eq(mapper_map_huge(&um, 0x40000000ull, (frame_t){ 0 }, RO_USER, PT_LEVEL_PDPT),
			 MAP_OK);
	ck_assert(mapper_visit(&um, MAPPER_VISIT_USER, &v));
	ck_assert_uint_eq(c.leaves[1], 3);
	ck_assert_uint_eq(c.leaves[2], 1);
	ck_assert_uint_eq(c.leaves[3], 1);
	ck_assert_uint_eq(c.nvas, 5);
	ck_assert_uint_eq(c.vas[0], 0x1000);
	ck_assert_uint_eq(c.vas[1], 0x2000);
	ck_assert_uint_eq(c.vas[2], 0x600000);
	ck_assert_uint_eq(c.vas[3], 0x40000000ull);
	ck_assert_uint_eq(c.vas[4], 0x7ffffffff000ull);
	/* root, 2 PDPTs (slot 0 and 255), 2 PDs, 2 PTs */
	ck_assert_uint_eq(c.tables[4], 1);
	ck_assert_uint_eq(c.tables[3], 2);
	ck_assert_uint_eq(c.tables[2], 2);
	ck_assert_uint_eq(c.tables[1], 2);
	ck_assert_uint_eq(c.tables[1] + c.tables[2] + c.tables[3] + c.tables[4], um.table_frames);
	/* early stop */
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	ck_assert(!mapper_visit(&um, MAPPER_VISIT_USER, &v));
	ck_assert_uint_eq(c.nvas, 2);
	/* the kernel half seen through the user root: the shared direct map, canonical vas */
	memset(&c, 0, sizeof(c));
	c.stop_after = -1;
	ck_assert(mapper_visit(&um, MAPPER_VISIT_KERNEL, &v));
	ck_assert_uint_eq(c.tables[3], 256);
	ck_assert_uint_eq(c.vas[0], PHYS_OFFSET);
}
END_TEST

struct reaped {
	unsigned count;
	uint64_t bytes;
};

static void reap_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct reaped *r = ctx;

	ck_assert(va < USER_END);
	r->count++;
	r->bytes += pt_level_size(level);
	if (level == 1)
		deallocate_frame((frame_t){ pte_address(e, level) });
}

START_TEST(test_destroy_returns_every_frame)
{
	uint64_t free0 = free_frames(), used0 = used_frames();
	struct mapper m2;
	struct reaped r = { 0 };
	struct translation t;
	frame_t top;

	kcpu_destroy(&cpu);
	ck_assert_int_eq(kernel_space_new_user(&m2), MAP_OK);
	kcpu_init(&cpu, MACHINE, m2.root.base);
	for (uint64_t i = 0; i < 700; i++) /* crosses a PT boundary */
		ck_assert_int_eq(mapper_map(&m2, 0x400000 + i * PAGE_SIZE, new_frame(), RW_USER),
				 MAP_OK);
	top = new_frame();
	ck_assert_int_eq(mapper_map(&m2, 0x7ffffffff000ull, top, RW_USER), MAP_OK);
	ck_assert_int_eq(mapper_map_huge(&m2, 0x200000000ull, (frame_t){ 0x400000 }, RO_USER,
					 PT_LEVEL_PD),
			 MAP_OK);
	expect_pa(&cpu, 0x7ffffffff000ull, X86_WRITE, true, top.base);
	ck_assert_uint_eq(used_frames() - used0, 701 + m2.table_frames);
	ck_assert_uint_eq(m2.table_frames, 1 + 2 + 3 + 2 + 1); /* root, PDPTs, PDs, PTs */
	/* exit: the CPU leaves the address space first */
	ck_assert(x86_write_cr3(&cpu, kernel_space_pml4().base));
	mapper_destroy_user(&m2, reap_leaf, &r);
	ck_assert_uint_eq(r.count, 702);
	ck_assert_uint_eq(r.bytes, 701 * PAGE_SIZE + 2 * MiB);
	ck_assert_uint_eq(m2.table_frames, 0);
	ck_assert(frame_is_none(m2.root));
	ck_assert_uint_eq(free_frames(), free0);
	ck_assert_uint_eq(used_frames(), used0);
	/* the shared kernel half survived */
	kernel_mapper_lock();
	ck_assert_int_eq(mapper_translate(kernel_mapper(), PHYS_OFFSET + 0x300000, &t), MAP_OK);
	kernel_mapper_unlock();
	ck_assert_uint_eq(t.pa, 0x300000);
	expect_pa(&cpu, PHYS_OFFSET + 0x300000, X86_READ, false, 0x300000);
	audit_ok();
	EXPECT_PANIC(mapper_destroy_user(&m2, NULL, NULL), "no root");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmap-mapper");
	TCase *tc = tcase_create("mapper");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_translate_unmap_round_trip);
	tcase_add_test(tc, test_cpu_agrees_on_rights);
	tcase_add_test(tc, test_huge_pages_agree);
	tcase_add_test(tc, test_map_refuses_to_overwrite);
	tcase_add_test(tc, test_invalid_arguments);
	tcase_add_test(tc, test_remap_keeps_frame_and_dirty_bit);
	tcase_add_test(tc, test_enomem_leaves_nothing_behind);
	tcase_add_test(tc, test_unmap_hands_back_empty_tables);
	tcase_add_test(tc, test_release_list_capacity);
	tcase_add_test(tc, test_leaf_table_batch_edits);
	tcase_add_test(tc, test_visitor);
	tcase_add_test(tc, test_destroy_returns_every_frame);
	tcase_add_test(tc, test_protnone_entry);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
