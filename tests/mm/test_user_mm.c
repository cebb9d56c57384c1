/*
 * Check tests of the memory manager (core/addr_space, user_grants, mm_map, page_fault, fork,
 * usercopy, tlb_flush, mm_audit). Faults are driven through the simulated processor exactly
 * as the simulator does: a user access is translated by hw-x86, a #PF goes to
 * page_fault_handler with the error code and CR2, and the access is retried. Every test
 * checks real values (frames, refcounts, free frames, bytes read back) and ends with the
 * audit holding and, where everything was unmapped, free_frames back at its start value.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/interrupts.h"
#include "frame_alloc.h"
#include "host/host_platform.h"
#include "kheap.h"
#include "mm_internal.h"
#include "page_info.h"
#include "test_machine.h"
#include "../check_main.h"

#define ARENA (64 * MiB)
#define RW (MM_PROT_READ | MM_PROT_WRITE)
#define FIXED MM_MAP_FIXED
#define NONE 0u /* PROT_NONE */

static uint64_t free0;

static void setup(void)
{
	test_machine_boot(&(struct test_machine){ .memory = ARENA, .user_mm = true });
	free0 = free_frames();
}

static void teardown(void)
{
	test_machine_halt();
}

/* The end of a test with a parent a and its child b: the audit holds, both spaces go and
 * every frame is back. */
static void end_two(struct addr_space *a, struct addr_space *b)
{
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(b);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}

/* Frame i of block b given one reference (One), its record returned: the flusher tests. */
static struct page_info *one_ref(frame_t b, unsigned i)
{
	struct page_info *r = get_page_info(frame_add(b, i));

	page_info_set_refcount(r, REFCOUNT_ONE_INIT);
	return r;
}

/*
 * The flusher queues frames as runs of consecutive frames (and records), shoots down at
 * FLUSH_MAX_FRAMES frames or FLUSH_MAX_RUNS runs, and frees the frames whose last reference
 * its flush drops: a frame queued twice once, a still-referenced one not at all.
 */
START_TEST(test_flusher_runs)
{
	struct addr_space *a = test_spawn();
	struct flusher fl;
	uint64_t before = free_frames();
	frame_t b = allocate_p2frame(10), c = allocate_p2frame(10);

	ck_assert(!frame_is_none(b) && !frame_is_none(c));
	frame_split_block(b, 10);
	frame_split_block(c, 10);
	flusher_init(&fl, a);
	for (unsigned i = 0; i < 100; i++)
		flusher_free(&fl, frame_add(b, i), one_ref(b, i));
	ck_assert_uint_eq(fl.nruns, 1);
	ck_assert_uint_eq(fl.nframes, 100);
	flusher_free(&fl, frame_add(b, 200), one_ref(b, 200));
	flusher_free(&fl, frame_add(b, 201), one_ref(b, 201));
	ck_assert_uint_eq(fl.nruns, 2);
	/* 201 twice (Shared(2)): not consecutive with itself, a run of its own */
	ck_assert_int_eq(add_ref(get_page_info(frame_add(b, 201)), REF_SHARED), ADD_REF_OK);
	flusher_free(&fl, frame_add(b, 201), get_page_info(frame_add(b, 201)));
	/* 300 keeps a reference after the flush */
	ck_assert_int_eq(add_ref(one_ref(b, 300), REF_SHARED), ADD_REF_OK);
	flusher_free(&fl, frame_add(b, 300), get_page_info(frame_add(b, 300)));
	ck_assert_uint_eq(fl.nruns, 4);
	ck_assert_uint_eq(fl.nframes, 104);
	flusher_flush(&fl);
	ck_assert_uint_eq(fl.nruns + fl.nframes, 0);
	/* 0..99, 200 and 201 are free; 300 is One; the rest of b is still allocated */
	ck_assert_uint_eq(free_frames(), before - 2048 + 102);
	ck_assert_int_eq(page_info_refcount(get_page_info(frame_add(b, 300))).kind, REFCOUNT_ONE);
	ck_assert_int_ne(page_info_state(get_page_info(frame_add(b, 201))), PAGE_STATE_USED);
	ck_assert_int_eq(page_info_state(get_page_info(frame_add(b, 202))), PAGE_STATE_USED);
	/* a 513th consecutive frame flushes the first 512 */
	for (unsigned i = 0; i < FLUSH_MAX_FRAMES; i++)
		flusher_free(&fl, frame_add(c, i), one_ref(c, i));
	ck_assert_uint_eq(fl.nruns, 1);
	ck_assert_uint_eq(free_frames(), before - 2048 + 102);
	flusher_free(&fl, frame_add(c, FLUSH_MAX_FRAMES), one_ref(c, FLUSH_MAX_FRAMES));
	ck_assert_uint_eq(fl.nframes, 1);
	ck_assert_uint_eq(free_frames(), before - 2048 + 102 + FLUSH_MAX_FRAMES);
	/* every other frame from 600 on: with the run of frame 512 still queued, the 64th of
	 * them starts a 65th run, which flushes the 64 queued runs first */
	for (unsigned i = 0; i < FLUSH_MAX_RUNS - 1; i++)
		flusher_free(&fl, frame_add(c, 600 + 2 * i), one_ref(c, 600 + 2 * i));
	ck_assert_uint_eq(fl.nruns, FLUSH_MAX_RUNS);
	unsigned last = 600 + 2 * (FLUSH_MAX_RUNS - 1);
	flusher_free(&fl, frame_add(c, last), one_ref(c, last));
	ck_assert_uint_eq(fl.nruns, 1);
	ck_assert_uint_eq(free_frames(), before - 2048 + 102 + FLUSH_MAX_FRAMES + FLUSH_MAX_RUNS);
	flusher_flush(&fl);
	/* (no audit before this: the frames referenced by hand are mapped nowhere) */
	/* the rest by hand: everything comes back */
	remove_ref(get_page_info(frame_add(b, 300)));
	for (unsigned i = 0; i < 1024; i++) {
		if (page_info_state(get_page_info(frame_add(b, i))) == PAGE_STATE_USED)
			deallocate_frame(frame_add(b, i));
		if (page_info_state(get_page_info(frame_add(c, i))) == PAGE_STATE_USED)
			deallocate_frame(frame_add(c, i));
	}
	ck_assert_uint_eq(free_frames(), before);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* munmap frees the frames it dropped the last reference of, in runs that a frame still
 * mapped by a fork's child splits; frames faulted in scattered order make many short runs. */
START_TEST(test_munmap_runs_split_by_shared_frames)
{
	const uint64_t base = 0x10000000, n = 1100;
	struct addr_space *a = test_spawn(), *b;
	paddr_t pa[1100];

	ck_assert_int_eq(mm_mmap(a, base, n * 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	/* pages 0..699 in order (consecutive frames), 700..1099 in a scattered order */
	for (uint64_t i = 0; i < 700; i++)
		uwrite(base + i * 0x1000, i);
	for (uint64_t j = 0; j < 400; j++)
		uwrite(base + (700 + (j * 7) % 400) * 0x1000, 700 + (j * 7) % 400);
	for (uint64_t i = 0; i < n; i++)
		pa[i] = look(a, base + i * 0x1000).pa;
	/* long runs of consecutive frames first (table frames come between some), then more
	 * runs than a flusher holds */
	unsigned breaks_ordered = 0, breaks_scattered = 0;
	for (uint64_t i = 1; i < n; i++)
		if (pa[i] != pa[i - 1] + 0x1000)
			*(i < 700 ? &breaks_ordered : &breaks_scattered) += 1;
	ck_assert_uint_le(breaks_ordered, 8);
	ck_assert_uint_gt(breaks_scattered, FLUSH_MAX_RUNS);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	/* the child lets go of pages 100..199 and 800..849: the parent's munmap frees those only */
	addr_space_switch(b);
	ck_assert_int_eq(mm_munmap(b, base + 100 * 0x1000, 100 * 0x1000), MM_STATUS_OK);
	ck_assert_int_eq(mm_munmap(b, base + 800 * 0x1000, 50 * 0x1000), MM_STATUS_OK);
	addr_space_switch(a);
	uint64_t before = free_frames(), tables = addr_space_table_frames(a);
	ck_assert_int_eq(mm_munmap(a, base, n * 0x1000), MM_STATUS_OK);
	ck_assert_uint_eq(free_frames(), before + 150 + (tables - addr_space_table_frames(a)));
	for (uint64_t i = 0; i < n; i++) {
		bool gone = (i >= 100 && i < 200) || (i >= 800 && i < 850);
		struct page_info *r = get_page_info(frame_containing(pa[i]));

		if (gone) {
			ck_assert_int_ne(page_info_state(r), PAGE_STATE_USED);
		} else {
			ck_assert_int_eq(page_info_state(r), PAGE_STATE_USED);
			ck_assert_uint_eq(look(b, base + i * 0x1000).refcount, 1);
		}
	}
	mm_audit_ok();
	addr_space_switch(b);
	for (uint64_t i = 0; i < n; i += 97)
		if (!((i >= 100 && i < 200) || (i >= 800 && i < 850)))
			ck_assert_uint_eq(uread(base + i * 0x1000), i);
	addr_space_switch(NULL);
	addr_space_destroy(b);
	addr_space_destroy(a);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_demand_zero)
{
	struct addr_space *a = test_spawn();
	struct addr_space_stats s;
	uint64_t at;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x4000, RW, FIXED, &at), MM_STATUS_OK);
	uint64_t base = free_frames(); /* the PML4 and the kernel objects (heap) are taken */
	ck_assert_uint_eq(at, 0x400000);
	ck_assert_uint_eq(addr_space_rss(a), 0);
	uwrite(0x400010, 0xfeed);
	/* one data frame and PDPT, PD, PT */
	ck_assert_uint_eq(free_frames(), base - 4);
	ck_assert_uint_eq(addr_space_table_frames(a), 4);
	struct page_lookup l = look(a, 0x400010);
	ck_assert_uint_eq(l.refcount, 1);
	ck_assert(l.writable && l.user && !l.executable && !l.zero_frame);
	ck_assert_uint_eq(*(uint64_t *)phys_to_virt(l.pa), 0xfeed);
	ck_assert_uint_eq(*(uint64_t *)phys_to_virt(l.pa - 0x10), 0);
	addr_space_get_stats(a, &s);
	ck_assert_uint_eq(s.faults_demand_zero, 1);
	mm_audit_ok();
	ck_assert_int_eq(mm_munmap(a, 0x400000, 0x4000), MM_STATUS_OK);
	ck_assert_uint_eq(free_frames(), base); /* the emptied tables went back too */
	ck_assert_uint_eq(addr_space_table_frames(a), 1);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* The A and D bits of the leaf at va in as (PG_ACCESSED | PG_DIRTY as present). */
static page_flags_t leaf_ad(struct addr_space *as, uint64_t va)
{
	struct translation t;

	ck_assert_int_eq(mapper_translate(&as->mapper, va, &t), MAP_OK);
	return t.leaf.flags & (PG_ACCESSED | PG_DIRTY);
}

/* The fault an access at va takes, corrected, without the retry (so the processor has set
 * nothing in the new entry yet). */
static void fault_only(uint64_t va, enum x86_access kind)
{
	struct x86_xlate x;

	x86_translate(test_machine_cpu(0), va, kind, true, false, &x, NULL);
	ck_assert_int_eq(x.outcome, X86_PF);
	ck_assert_int_eq(page_fault_handler(x.err, test_machine_cpu(0)->cr2), PF_OK);
}

/* A fault writes the leaf with the A bit, and D for a write, that the retried access sets:
 * the processor then has nothing to write back (its A/D commit is skipped). Fork's making a
 * shared page present in the parent sets neither: nothing accessed it. */
START_TEST(test_fault_presets_accessed_dirty)
{
	struct addr_space *a = test_spawn(), *b;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_mmap(a, 0x600000, 0x1000, RW, FIXED | MM_MAP_SHARED, NULL), MM_STATUS_OK);
	fault_only(0x400000, X86_WRITE); /* demand-zero */
	ck_assert_uint_eq(leaf_ad(a, 0x400000), PG_ACCESSED | PG_DIRTY);
	fault_only(0x401000, X86_READ); /* the zero frame, read-only */
	ck_assert(look(a, 0x401000).zero_frame);
	ck_assert_uint_eq(leaf_ad(a, 0x401000), PG_ACCESSED);
	uwrite(0x400000, 1);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	ck_assert_uint_eq(leaf_ad(a, 0x600000), 0);
	paddr_t before = look(a, 0x400000).pa;
	fault_only(0x400000, X86_WRITE); /* copy-on-write copy: a new leaf */
	ck_assert_uint_ne(look(a, 0x400000).pa, before);
	ck_assert_uint_eq(leaf_ad(a, 0x400000), PG_ACCESSED | PG_DIRTY);
	fault_only(0x401000, X86_WRITE); /* the zero frame's copy */
	ck_assert(!look(a, 0x401000).zero_frame);
	ck_assert_uint_eq(leaf_ad(a, 0x401000), PG_ACCESSED | PG_DIRTY);
	ck_assert_uint_eq(uread(0x400000), 1); /* the copy holds what the frame held */
	end_two(a, b);
}
END_TEST

START_TEST(test_zero_frame_then_write)
{
	struct addr_space *a = test_spawn();
	struct refcount zr0 = page_info_refcount(get_page_info(zero_frame()));
	struct addr_space_stats s;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uint64_t base = free_frames();
	ck_assert_uint_eq(uread(0x400000), 0);
	ck_assert_uint_eq(uread(0x401000), 0);
	struct page_lookup l = look(a, 0x400000);
	ck_assert(l.zero_frame && !l.writable);
	ck_assert_uint_eq(l.pa, zero_frame().base);
	ck_assert_uint_eq(l.refcount, zr0.count + 2);
	ck_assert_uint_eq(free_frames(), base - 3); /* 3 tables, no data frame */
	mm_audit_ok();
	uwrite(0x400000, 7);
	l = look(a, 0x400000);
	ck_assert(!l.zero_frame && l.writable);
	ck_assert_uint_eq(l.refcount, 1);
	ck_assert_uint_eq(page_info_refcount(get_page_info(zero_frame())).count, zr0.count + 1);
	ck_assert_uint_eq(*(uint64_t *)phys_to_virt(zero_frame().base), 0);
	addr_space_get_stats(a, &s);
	ck_assert_uint_eq(s.faults_zero_mapped, 2);
	ck_assert_uint_eq(s.faults_cow_copy, 1);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(page_info_refcount(get_page_info(zero_frame())).count, zr0.count);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_fork_cow_copy_and_reuse)
{
	struct addr_space *a = test_spawn(), *b;
	uint64_t before;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1);
	paddr_t orig = look(a, 0x400000).pa;
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	/* F2: read-only in both, Cow(2), same frame */
	ck_assert(!look(a, 0x400000).writable && !look(b, 0x400000).writable);
	ck_assert_uint_eq(look(b, 0x400000).pa, orig);
	ck_assert_uint_eq(look(a, 0x400000).refcount, 2);
	ck_assert_int_eq(page_info_refcount(get_page_info(frame_containing(orig))).kind, REFCOUNT_COW);
	mm_audit_ok();
	/* the parent writes: exactly one frame allocated, the old count drops by one */
	before = free_frames();
	uwrite(0x400000, 2);
	ck_assert_uint_eq(free_frames(), before - 1);
	ck_assert_uint_ne(look(a, 0x400000).pa, orig);
	ck_assert_uint_eq(look(b, 0x400000).refcount, 1);
	/* the child writes in place: F3, no allocation */
	addr_space_switch(b);
	before = free_frames();
	uwrite(0x400000, 3);
	ck_assert_uint_eq(free_frames(), before);
	ck_assert_uint_eq(look(b, 0x400000).pa, orig);
	ck_assert_uint_eq(uread(0x400000), 3);
	addr_space_switch(a);
	ck_assert_uint_eq(uread(0x400000), 2);
	struct addr_space_stats s;
	addr_space_get_stats(b, &s);
	ck_assert_uint_eq(s.faults_cow_reuse, 1);
	end_two(a, b);
}
END_TEST

START_TEST(test_spurious_and_refused)
{
	struct addr_space *a = test_spawn();
	struct addr_space_stats s;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_mmap(a, 0x500000, 0x1000, MM_PROT_READ, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 5);
	uint64_t rc = look(a, 0x400000).refcount, ff = free_frames();
	/* P3: the PTE already allows the write */
	ck_assert_int_eq(page_fault_handler(0x7, 0x400000), PF_OK);
	ck_assert_uint_eq(look(a, 0x400000).refcount, rc);
	ck_assert_uint_eq(free_frames(), ff);
	/* P1 */
	uint64_t v = 1;
	ck_assert_int_eq(uaccess(0x600000, X86_READ, &v), PF_SEGV);
	ck_assert_int_eq(uaccess(0x500000, X86_WRITE, &v), PF_SEGV);
	ck_assert_int_eq(uaccess(0x400000, X86_FETCH, &v), PF_SEGV);
	ck_assert_int_eq(page_fault_handler(0x4 | 0x8 | 0x1, 0x400000), PF_SEGV);
	ck_assert_int_eq(page_fault_handler(0x6, 0xffff800000001000ull), PF_SEGV);
	addr_space_get_stats(a, &s);
	ck_assert_uint_eq(s.faults_spurious, 1);
	ck_assert_uint_eq(s.faults_segv, 5);
	ck_assert_uint_eq(free_frames(), ff);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* The #PF exception: vector 14 runs the fault handler with the CR2 of this CPU (read through
 * the seam), and an access's fault goes through it. */
START_TEST(test_page_fault_is_vector_14)
{
	struct addr_space *a = test_spawn();
	uint64_t v = 0;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	test_machine_cpu(0)->cr2 = 0x401000;
	ck_assert_int_eq(exception_entry(VECTOR_PAGE_FAULT, 0x6), PF_OK);
	ck_assert_int_eq(look(a, 0x401000).refcount, 1);
	ck_assert(!addr_space_lookup(a, 0x400000, &(struct page_lookup){0}));
	test_machine_cpu(0)->cr2 = 0x600000;
	ck_assert_int_eq(exception_entry(VECTOR_PAGE_FAULT, 0x6), PF_SEGV);
	/* only one #PF handler, and only exceptions take an error code */
	ck_assert(!exception_register(VECTOR_PAGE_FAULT, NULL));
	ck_assert(!exception_register(32, NULL));
	uwrite(0x400000, 7);
	ck_assert_int_eq(uaccess(0x400000, X86_READ, &v), PF_OK);
	ck_assert_uint_eq(v, 7);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* Take every free frame but `keep`; returns them in a host list. */
static frame_t *hog(uint64_t keep, size_t *n)
{
	size_t cap = free_frames(), k = 0;
	frame_t *v = malloc(cap * sizeof(*v));

	ck_assert_ptr_nonnull(v);
	while (free_frames() > keep) {
		frame_t f = allocate_frame();

		ck_assert(!frame_is_none(f));
		v[k++] = f;
	}
	*n = k;
	return v;
}

static void unhog(frame_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		deallocate_frame(v[i]);
	free(v);
}

START_TEST(test_fault_oom)
{
	struct addr_space *a = test_spawn();
	size_t n;
	uint64_t v = 9;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1); /* tables exist now */
	frame_t *h = hog(0, &n);
	ck_assert_int_eq(uaccess(0x401000, X86_WRITE, &v), PF_OOM);
	ck_assert(!addr_space_lookup(a, 0x401000, &(struct page_lookup){ 0 }));
	/* a read still works: the zero frame needs no allocation */
	ck_assert_int_eq(uaccess(0x401000, X86_READ, &v), PF_OK);
	ck_assert_uint_eq(v, 0);
	struct addr_space_stats s;
	addr_space_get_stats(a, &s);
	ck_assert_uint_eq(s.faults_oom, 1);
	mm_audit_ok();
	unhog(h, n);
	uwrite(0x401000, 2);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_fork_enomem_unwinds)
{
	struct addr_space *a = test_spawn(), *b = NULL;
	bool forked = false;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x10000, RW, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_mmap(a, 0x40000000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	for (uint64_t va = 0x400000; va < 0x410000; va += 0x1000)
		uwrite(va, va);
	uwrite(0x40000000, 1);
	for (uint64_t keep = 0; keep < 64 && !forked; keep++) {
		size_t n;
		uint64_t before = free_frames();
		frame_t *h = hog(keep, &n);
		enum mm_status r = mm_fork(a, &b);

		unhog(h, n);
		if (r == MM_STATUS_OK) {
			forked = true;
			break;
		}
		ck_assert_int_eq(r, MM_STATUS_ENOMEM);
		ck_assert_ptr_null(b);
		ck_assert_uint_eq(free_frames(), before);
		mm_audit_ok();
		/* the parent's pages are intact and reusable in place */
		ck_assert_uint_eq(uread(0x403000), 0x403000);
	}
	ck_assert(forked);
	ck_assert_uint_eq(look(b, 0x40f000).pa, look(a, 0x40f000).pa);
	end_two(a, b);
}
END_TEST

START_TEST(test_syscall_enomem_heap_cap)
{
	struct addr_space *a = test_spawn();
	uint64_t at;
	size_t i;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	kheap_shrink();
	kheap_set_frame_cap(heap_frames_held_total());
	/* grants every other page until the grant array must grow and cannot */
	for (i = 0; i < 4096; i++) {
		enum mm_status r = mm_mmap(a, 0x1000000 + i * 0x2000, 0x1000,
					   i % 2 ? MM_PROT_READ : RW, FIXED, &at);
		if (r != MM_STATUS_OK) {
			ck_assert_int_eq(r, MM_STATUS_ENOMEM);
			break;
		}
	}
	ck_assert_uint_lt(i, 4096);
	ck_assert(!addr_space_lookup(a, 0x1000000 + i * 0x2000, &(struct page_lookup){ 0 }));
	mm_audit_ok();
	/* splitting needs a slot too: munmap of a middle page fails cleanly, nothing changed */
	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED, NULL), MM_STATUS_ENOMEM);
	kheap_set_frame_cap(KHEAP_CAP_UNLIMITED);
	ck_assert_int_eq(mm_munmap(a, 0x1000000, i * 0x2000), MM_STATUS_OK);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_grants_find_free_split_merge)
{
	struct addr_space *a = test_spawn();
	uint64_t at;

	/* best fit without a hint, from mmap_min */
	ck_assert_int_eq(mm_mmap(a, 0, 0x2000, RW, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, MMAP_MIN_DEFAULT);
	ck_assert_int_eq(mm_mmap(a, 0x10000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	/* holes now: [0,0x1000) below min, [0x3000,0x10000), [0x11000, end); best fit 0x3000 */
	ck_assert_int_eq(mm_mmap(a, 0, 0xd000, RW, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, 0x3000);
	/* the hint is honoured: nearest free range, the lower one on a tie */
	ck_assert_int_eq(mm_mmap(a, 0x7000000, 0x1000, RW, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, 0x7000000);
	ck_assert_int_eq(mm_mmap(a, 0x7000000, 0x1000, RW, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, 0x6fff000);
	ck_assert_int_eq(mm_mmap(a, 0x7000800, 0x1000, RW, 0, &at), MM_STATUS_OK);
	ck_assert_uint_eq(at, 0x7001000);
	/* G7: [0x1000, 0x11000) merged into one grant, [0x6fff000, +3 pages) into another */
	ck_assert_uint_eq(a->grants.n, 2);
	/* G5: an external grant split keeps its source offsets */
	struct addr_space *b = addr_space_create();
	ck_assert_int_eq(mm_mmap(b, 0x900000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_borrow(b, 0x900000, a, 0x500000, 0x4000, RW), MM_STATUS_OK);
	ck_assert_int_eq(mm_munmap(a, 0x501000, 0x1000), MM_STATUS_OK);
	struct grant *g = ug_find(&a->grants, 0x502000);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->start, 0x502000);
	ck_assert_uint_eq(g->offset, 0x902000);
	uwrite(0x503000, 0x77);
	addr_space_switch(b);
	ck_assert_uint_eq(uread(0x903000), 0x77);
	ck_assert_uint_eq(look(b, 0x903000).refcount, 2);
	mm_audit_ok();
	/* mprotect over a hole: ENOMEM, nothing changed */
	ck_assert_int_eq(mm_mprotect(a, 0x500000, 0x4000, MM_PROT_READ), MM_STATUS_ENOMEM);
	ck_assert_uint_eq(ug_find(&a->grants, 0x500000)->prot, RW);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(look(b, 0x903000).refcount, 1);
	addr_space_destroy(b);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_usercopy)
{
	struct addr_space *a = test_spawn(), *b;
	uint8_t buf[0x3000], back[0x3000];

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_mmap(a, 0x500000, 0x1000, MM_PROT_READ, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	/* into a Cow page: copied first (CR0.WP=1), the child keeps its value */
	ck_assert_int_eq(copy_to_user(0x400800, buf, sizeof(buf)), MM_STATUS_OK);
	ck_assert_int_eq(copy_from_user(back, 0x400800, sizeof(back)), MM_STATUS_OK);
	ck_assert_mem_eq(back, buf, sizeof(buf));
	ck_assert_uint_eq(look(b, 0x400000).refcount, 1);
	ck_assert_uint_ne(look(a, 0x400000).pa, look(b, 0x400000).pa);
	addr_space_switch(b);
	ck_assert_uint_eq(uread(0x400000), 1);
	addr_space_switch(a);
	/* refused: read-only, unmapped, beyond the user half */
	ck_assert_int_eq(copy_to_user(0x500000, buf, 8), MM_STATUS_EFAULT);
	ck_assert_int_eq(copy_from_user(back, 0x600000, 8), MM_STATUS_EFAULT);
	ck_assert_int_eq(copy_to_user(0x7ffffffff000ull, buf, 0x2000), MM_STATUS_EFAULT);
	ck_assert_int_eq(copy_from_user(back, 0xffff800000000000ull, 8), MM_STATUS_EFAULT);
	ck_assert_int_eq(copy_from_user(back, 0x500000, 8), MM_STATUS_OK);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	addr_space_destroy(b);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_transfer_keeps_cow_readonly)
{
	struct addr_space *a = test_spawn(), *b, *c = addr_space_create();

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 5);
	ck_assert_uint_eq(uread(0x401000), 0); /* the zero frame */
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	ck_assert_int_eq(mm_transfer(a, 0x400000, c, 0x800000, 0x2000), MM_STATUS_OK);
	ck_assert(!addr_space_lookup(a, 0x400000, &(struct page_lookup){ 0 }));
	ck_assert(!look(c, 0x800000).writable);
	ck_assert(look(c, 0x801000).zero_frame && !look(c, 0x801000).writable);
	ck_assert_uint_eq(look(c, 0x800000).pa, look(b, 0x400000).pa);
	ck_assert_uint_eq(look(c, 0x800000).refcount, 2);
	mm_audit_ok();
	addr_space_switch(c);
	uwrite(0x800000, 6);
	addr_space_switch(b);
	ck_assert_uint_eq(uread(0x400000), 5);
	ck_assert_int_eq(mm_transfer(a, 0x400000, c, 0x900000, 0x1000), MM_STATUS_EINVAL);
	ck_assert_int_eq(mm_transfer(b, 0x400000, c, 0x800000, 0x1000), MM_STATUS_EEXIST);
	addr_space_switch(NULL);
	addr_space_destroy(a);
	addr_space_destroy(b);
	addr_space_destroy(c);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_audit_catches_corruption)
{
	struct addr_space *a = test_spawn();
	char buf[256];

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1);
	ck_assert_uint_eq(uread(0x401000), 0);
	struct page_info *info = get_page_info(frame_containing(look(a, 0x400000).pa));
	/* R1: one reference too many */
	ck_assert_int_eq(add_ref(info, REF_SHARED), ADD_REF_OK);
	ck_assert(!mm_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R1") && strstr(buf, "2 references but 1 user PTE"), "%s", buf);
	remove_ref(info);
	mm_audit_ok();
	/* R5: the zero frame made writable */
	ck_assert_int_eq(mapper_remap(&a->mapper, 0x401000, PG_PRESENT | PG_USER | PG_WRITABLE |
							      PG_NO_EXEC, NULL),
			 MAP_OK);
	ck_assert(!mm_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R5") || strstr(buf, "R2"), "%s", buf);
	ck_assert_int_eq(mapper_remap(&a->mapper, 0x401000, PG_PRESENT | PG_USER | PG_NO_EXEC, NULL),
			 MAP_OK);
	mm_audit_ok();
	/* G2: the hole indexes disagree */
	a->grants.by_size[0].size += 0x1000;
	ck_assert(!mm_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "G2"), "%s", buf);
	a->grants.by_size[0].size -= 0x1000;
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

START_TEST(test_fmap_pins_and_notifications)
{
	struct addr_space *srv = test_spawn(), *a = addr_space_create();
	struct fserve_view v;

	ck_assert_int_eq(mm_mmap(srv, 0x400000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x402000, 0xabc);
	ck_assert_int_eq(mm_fmap(a, 0x800000, 0x1000, RW, srv, 0, FIXED, NULL), MM_STATUS_EINVAL);
	ck_assert_int_eq(mm_fserve(srv, 0x400000, 0x4000), MM_STATUS_OK);
	ck_assert_int_eq(mm_fmap(a, 0x800000, 0x3000, RW, srv, 0x1000, FIXED, NULL), MM_STATUS_OK);
	ck_assert_int_eq(mm_munmap(srv, 0x403000, 0x1000), MM_STATUS_EBUSY);
	addr_space_switch(a);
	ck_assert_uint_eq(uread(0x801000), 0xabc);
	ck_assert_uint_eq(look(a, 0x801000).pa, look(srv, 0x402000).pa);
	ck_assert_uint_eq(look(a, 0x801000).refcount, 2);
	ck_assert_int_eq(mm_munmap(a, 0x801000, 0x1000), MM_STATUS_OK);
	addr_space_fserve_info(srv, &v);
	ck_assert_uint_eq(v.pins, 2);     /* the two remaining pieces */
	ck_assert_uint_eq(v.notified, 1);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	addr_space_fserve_info(srv, &v);
	ck_assert_uint_eq(v.pins, 0);
	ck_assert_uint_eq(v.notified, 3);
	ck_assert_int_eq(mm_munmap(srv, 0x400000, 0x4000), MM_STATUS_OK);
	addr_space_destroy(srv);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* The frame a PROT_NONE page keeps (its protnone entry), and its reference count. */
static frame_t kept_frame(struct addr_space *as, uint64_t va, uint64_t *refs)
{
	struct mapped_leaf kept;

	as_lock_write(as);
	ck_assert_int_eq(mapper_protnone_get(&as->mapper, va, &kept), MAP_OK);
	as_unlock_write(as);
	*refs = page_info_refcount(get_page_info(kept.frame)).count;
	return kept.frame;
}

/* mprotect none keeps the frames: the contents come back with the protection (Linux does the
 * same); every access in between is refused, and the processor sees the pages not present. */
START_TEST(test_protnone_keeps_data)
{
	struct addr_space *a = test_spawn();
	struct addr_space_stats s;
	uint64_t v = 0, refs;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x3000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400008, 0x1111);
	uwrite(0x401ff8, 0x2222);
	ck_assert_uint_eq(uread(0x402000), 0); /* the zero frame, read-only */
	paddr_t p0 = look(a, 0x400000).pa, p1 = look(a, 0x401000).pa;
	uint64_t ff = free_frames();
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x3000, NONE), MM_STATUS_OK);
	/* nothing was freed, nothing is present, everything is still resident */
	ck_assert_uint_eq(free_frames(), ff);
	ck_assert(!addr_space_lookup(a, 0x400000, &(struct page_lookup){ 0 }));
	ck_assert(!addr_space_lookup(a, 0x402000, &(struct page_lookup){ 0 }));
	ck_assert_uint_eq(addr_space_rss(a), 3);
	ck_assert_uint_eq(kept_frame(a, 0x400000, &refs).base, p0);
	ck_assert_uint_eq(refs, 1);
	ck_assert(frame_eq(kept_frame(a, 0x402000, &refs), zero_frame()));
	mm_audit_ok();
	/* every access faults with P=0 and is refused; nothing changes */
	struct x86_xlate x;
	x86_translate(test_machine_cpu(0), 0x400008, X86_READ, true, false, &x, NULL);
	ck_assert(x.outcome == X86_PF && !(x.err & X86_PF_P));
	addr_space_get_stats(a, &s);
	uint64_t segv0 = s.faults_segv;
	ck_assert_int_eq(uaccess(0x400008, X86_READ, &v), PF_SEGV);
	ck_assert_int_eq(uaccess(0x401000, X86_WRITE, &v), PF_SEGV);
	ck_assert_int_eq(uaccess(0x402000, X86_READ, &v), PF_SEGV);
	ck_assert_int_eq(uaccess(0x400000, X86_FETCH, &v), PF_SEGV);
	addr_space_get_stats(a, &s);
	ck_assert_uint_eq(s.faults_segv, segv0 + 4);
	ck_assert_uint_eq(free_frames(), ff);
	ck_assert_uint_eq(kept_frame(a, 0x401000, &refs).base, p1);
	/* the kernel's copies are refused too */
	ck_assert_int_eq(copy_from_user(&v, 0x400008, 8), MM_STATUS_EFAULT);
	mm_audit_ok();
	/* back to rw: the same frames, the same data; a page that was writable and is One
	 * comes back writable, the zero frame read-only */
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x3000, RW), MM_STATUS_OK);
	ck_assert_uint_eq(look(a, 0x400000).pa, p0);
	ck_assert(look(a, 0x400000).writable);
	ck_assert(look(a, 0x402000).zero_frame && !look(a, 0x402000).writable);
	ck_assert_uint_eq(uread(0x400008), 0x1111);
	ck_assert_uint_eq(uread(0x401ff8), 0x2222);
	ck_assert_uint_eq(free_frames(), ff);
	/* r -> none -> rw: write is not added to a page that did not have it */
	ck_assert_int_eq(mm_mprotect(a, 0x401000, 0x1000, MM_PROT_READ), MM_STATUS_OK);
	ck_assert_int_eq(mm_mprotect(a, 0x401000, 0x1000, NONE), MM_STATUS_OK);
	ck_assert_int_eq(mm_mprotect(a, 0x401000, 0x1000, RW), MM_STATUS_OK);
	ck_assert(!look(a, 0x401000).writable);
	uwrite(0x401000, 0x3333); /* the lazy upgrade in place */
	ck_assert_uint_eq(look(a, 0x401000).pa, p1);
	ck_assert_uint_eq(uread(0x401ff8), 0x2222);
	uwrite(0x402000, 0x4444); /* a copy of the zero frame */
	ck_assert_uint_eq(free_frames(), ff - 1);
	mm_audit_ok();
	/* exit while PROT_NONE returns every frame */
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x3000, NONE), MM_STATUS_OK);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* munmap of a PROT_NONE page drops the reference its protnone entry held. */
START_TEST(test_protnone_munmap_frees)
{
	struct addr_space *a = test_spawn();
	uint64_t refs;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x4000, RW, FIXED, NULL), MM_STATUS_OK);
	for (uint64_t va = 0x400000; va < 0x404000; va += 0x1000)
		uwrite(va, va);
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x4000, NONE), MM_STATUS_OK);
	frame_t f = kept_frame(a, 0x401000, &refs);
	uint64_t ff = free_frames();
	ck_assert_int_eq(mm_munmap(a, 0x401000, 0x1000), MM_STATUS_OK);
	ck_assert_uint_eq(free_frames(), ff + 1);
	ck_assert(!page_info_is_used(get_page_info(f)));
	ck_assert_uint_eq(addr_space_rss(a), 3);
	mm_audit_ok();
	/* the rest still holds its data */
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, MM_PROT_READ), MM_STATUS_OK);
	ck_assert_uint_eq(uread(0x400000), 0x400000);
	uint64_t v = 0;
	ck_assert_int_eq(uaccess(0x401000, X86_READ, &v), PF_SEGV); /* unmapped: no grant */
	/* munmap of everything: the tables go too */
	ck_assert_int_eq(mm_munmap(a, 0x400000, 0x4000), MM_STATUS_OK);
	ck_assert_uint_eq(addr_space_rss(a), 0);
	ck_assert_uint_eq(addr_space_table_frames(a), 1);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* fork while PROT_NONE: the child gets the same frame copy-on-write; whichever makes it
 * accessible first gets it read-only and copies on write; the data stays isolated. */
START_TEST(test_protnone_fork_isolation)
{
	struct addr_space *a = test_spawn(), *b;
	uint64_t refs, v = 0;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 7);
	paddr_t orig = look(a, 0x400000).pa;
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, NONE), MM_STATUS_OK);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	ck_assert_uint_eq(kept_frame(b, 0x400000, &refs).base, orig);
	ck_assert_uint_eq(refs, 2);
	ck_assert_int_eq(page_info_refcount(get_page_info(frame_containing(orig))).kind, REFCOUNT_COW);
	ck_assert_uint_eq(addr_space_rss(b), 1);
	mm_audit_ok();
	/* the child is refused while PROT_NONE too */
	addr_space_switch(b);
	ck_assert_int_eq(uaccess(0x400000, X86_READ, &v), PF_SEGV);
	/* the parent first: Cow(2) comes back read-only (R2) */
	addr_space_switch(a);
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, RW), MM_STATUS_OK);
	ck_assert(!look(a, 0x400000).writable);
	ck_assert_uint_eq(look(a, 0x400000).pa, orig);
	ck_assert_uint_eq(uread(0x400000), 7);
	mm_audit_ok();
	uint64_t ff = free_frames();
	uwrite(0x400000, 9); /* the copy */
	ck_assert_uint_eq(free_frames(), ff - 1);
	ck_assert_uint_ne(look(a, 0x400000).pa, orig);
	/* the child: its frame is One again, and writable as it was */
	addr_space_switch(b);
	ck_assert_uint_eq(kept_frame(b, 0x400000, &refs).base, orig);
	ck_assert_uint_eq(refs, 1);
	ck_assert_int_eq(mm_mprotect(b, 0x400000, 0x1000, RW), MM_STATUS_OK);
	ck_assert(look(b, 0x400000).writable);
	ck_assert_uint_eq(uread(0x400000), 7);
	uwrite(0x400000, 8);
	ck_assert_uint_eq(free_frames(), ff - 1);
	addr_space_switch(a);
	ck_assert_uint_eq(uread(0x400000), 9);
	addr_space_switch(b);
	ck_assert_uint_eq(uread(0x400000), 8);
	mm_audit_ok();
	/* fork while PROT_NONE, then the parent exits first: the child's frame is One */
	struct addr_space *c;
	ck_assert_int_eq(mm_mprotect(b, 0x400000, 0x1000, NONE), MM_STATUS_OK);
	ck_assert_int_eq(mm_fork(b, &c), MM_STATUS_OK);
	addr_space_switch(NULL);
	addr_space_destroy(b);
	addr_space_switch(c);
	ck_assert_uint_eq(kept_frame(c, 0x400000, &refs).base, orig);
	ck_assert_uint_eq(refs, 1);
	ck_assert_int_eq(mm_mprotect(c, 0x400000, 0x1000, RW), MM_STATUS_OK);
	ck_assert_uint_eq(uread(0x400000), 8);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	addr_space_destroy(c);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* Shared memory stays shared through a PROT_NONE fork; a private page borrowed by another
 * space (Shared) gives the child a private copy; transfer moves protnone entries. */
START_TEST(test_protnone_shared_borrowed_transfer)
{
	struct addr_space *a = test_spawn(), *b, *c = addr_space_create();
	uint64_t refs;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x1000, RW, FIXED | MM_MAP_SHARED, NULL),
			 MM_STATUS_OK);
	ck_assert_int_eq(mm_mmap(a, 0x500000, 0x1000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1);
	uwrite(0x500000, 2);
	paddr_t ps = look(a, 0x400000).pa, pp = look(a, 0x500000).pa;
	/* c borrows the private page: it becomes Shared(2) */
	ck_assert_int_eq(mm_borrow(a, 0x500000, c, 0x700000, 0x1000, RW), MM_STATUS_OK);
	addr_space_switch(c);
	ck_assert_uint_eq(uread(0x700000), 2);
	addr_space_switch(a);
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, NONE), MM_STATUS_OK);
	ck_assert_int_eq(mm_mprotect(a, 0x500000, 0x1000, NONE), MM_STATUS_OK);
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	ck_assert_uint_eq(kept_frame(b, 0x400000, &refs).base, ps);
	ck_assert_uint_eq(refs, 2);
	ck_assert_uint_ne(kept_frame(b, 0x500000, &refs).base, pp); /* a private copy */
	ck_assert_uint_eq(refs, 1);
	mm_audit_ok();
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, RW), MM_STATUS_OK);
	ck_assert_int_eq(mm_mprotect(b, 0x400000, 0x1000, RW), MM_STATUS_OK);
	ck_assert_int_eq(mm_mprotect(b, 0x500000, 0x1000, RW), MM_STATUS_OK);
	ck_assert(look(b, 0x400000).writable); /* Shared: writable again */
	addr_space_switch(b);
	uwrite(0x400000, 3);
	ck_assert_uint_eq(uread(0x500000), 2);
	uwrite(0x500000, 4);
	addr_space_switch(a);
	ck_assert_uint_eq(uread(0x400000), 3);
	/* a's private page is still the one c borrowed; move it while PROT_NONE */
	ck_assert_int_eq(mm_transfer(a, 0x500000, a, 0x600000, 0x1000), MM_STATUS_OK);
	ck_assert_uint_eq(kept_frame(a, 0x600000, &refs).base, pp);
	ck_assert_uint_eq(refs, 2);
	mm_audit_ok();
	ck_assert_int_eq(mm_mprotect(a, 0x600000, 0x1000, MM_PROT_READ), MM_STATUS_OK);
	ck_assert_uint_eq(uread(0x600000), 2);
	addr_space_switch(NULL);
	addr_space_destroy(c);
	addr_space_destroy(b);
	addr_space_destroy(a);
	mm_audit_ok();
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* The audit counts protnone entries as references (R1) and allows them only in PROT_NONE
 * grants (R3). */
START_TEST(test_protnone_audit)
{
	struct addr_space *a = test_spawn();
	char buf[256];
	uint64_t refs;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 1);
	ck_assert_int_eq(mm_mprotect(a, 0x400000, 0x1000, NONE), MM_STATUS_OK);
	mm_audit_ok(); /* one reference, no present PTE: held by the protnone entry */
	struct page_info *info = get_page_info(kept_frame(a, 0x400000, &refs));
	ck_assert_int_eq(add_ref(info, REF_COW), ADD_REF_OK);
	ck_assert(!mm_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R1") && strstr(buf, "2 references but 1 user PTE"), "%s", buf);
	remove_ref(info);
	mm_audit_ok();
	/* a protnone entry in an accessible grant */
	struct raii_frame f;
	ck_assert_int_eq(raii_frame_allocate(&f), MM_OK);
	as_lock_write(a);
	ck_assert_int_eq(mapper_map_protnone(&a->mapper, 0x401000, raii_frame_get(&f),
					     PG_USER | PG_NO_EXEC),
			 MAP_OK);
	as_unlock_write(a);
	ck_assert(!mm_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "R3") && strstr(buf, "protnone"), "%s", buf);
	as_lock_write(a);
	ck_assert_int_eq(mapper_unmap(&a->mapper, 0x401000, NULL, NULL, NULL), MAP_OK);
	as_unlock_write(a);
	raii_frame_release(&f);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

/* Give the allocator back n frames full of 0xaa: the next allocations reuse them. */
static void dirty_free_frames(frame_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		v[i] = allocate_frame();
		ck_assert(!frame_is_none(v[i]));
		memset(phys_to_virt(v[i].base), 0xaa, PAGE_SIZE);
	}
	for (size_t i = n; i-- > 0;)
		deallocate_frame(v[i]);
}

static bool among(const frame_t *v, size_t n, paddr_t pa)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].base == (pa & ~PAGE_MASK))
			return true;
	return false;
}

/* A copy-on-write copy takes a frame without zeroing it: every byte must come from the
 * source. A copy of the zero frame must still read zero. Both are checked on frames the
 * allocator hands out dirty. */
START_TEST(test_cow_copy_on_dirty_frames)
{
	struct addr_space *a = test_spawn(), *b;
	frame_t dirty[16];
	const uint64_t *p;

	ck_assert_int_eq(mm_mmap(a, 0x400000, 0x2000, RW, FIXED, NULL), MM_STATUS_OK);
	uwrite(0x400000, 0x1234);
	uwrite(0x400ff8, 0x5678);
	ck_assert_uint_eq(uread(0x401000), 0); /* the zero frame */
	ck_assert_int_eq(mm_fork(a, &b), MM_STATUS_OK);
	dirty_free_frames(dirty, 16);
	uwrite(0x400008, 0x9abc); /* a copy of a Cow(2) frame */
	ck_assert(among(dirty, 16, look(a, 0x400000).pa));
	p = phys_to_virt(look(a, 0x400000).pa);
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		ck_assert_uint_eq(p[i], i == 0 ? 0x1234 : i == 1 ? 0x9abc : i == 511 ? 0x5678 : 0);
	dirty_free_frames(dirty, 16);
	uwrite(0x401010, 0xdef0); /* a copy of the zero frame */
	ck_assert(among(dirty, 16, look(a, 0x401000).pa));
	p = phys_to_virt(look(a, 0x401000).pa);
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		ck_assert_uint_eq(p[i], i == 2 ? 0xdef0 : 0);
	addr_space_switch(b);
	ck_assert_uint_eq(uread(0x400008), 0);
	ck_assert_uint_eq(uread(0x400000), 0x1234);
	mm_audit_ok();
	addr_space_switch(NULL);
	addr_space_destroy(a);
	addr_space_destroy(b);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

static void setup_two_cpus(void)
{
	test_machine_boot(&(struct test_machine){ .memory = ARENA, .user_mm = true, .cpus = 2 });
	free0 = free_frames();
}

/*
 * Asking whether a space is alive takes none of its locks: a CPU that only asks (the
 * scenario runner asks before every command) never becomes one of the space's readers, so
 * the faults of the CPU that runs it stay alone in it (as_read_alone).
 */
START_TEST(test_alive_check_takes_no_lock)
{
	struct addr_space *a = addr_space_create();

	ck_assert_ptr_nonnull(a);
	addr_space_hold(a);
	host_set_current_cpu(1);
	ck_assert(addr_space_is_alive(a));
	host_set_current_cpu(0);
	ck_assert_uint_eq(atomic_load(&a->lock.cpus) & 2, 0);
	addr_space_destroy(a);
	ck_assert(!addr_space_is_alive(a));
	addr_space_release(a);
	ck_assert_uint_eq(free_frames(), free0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("user_mm");
	TCase *tc = tcase_create("mm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_demand_zero);
	tcase_add_test(tc, test_fault_presets_accessed_dirty);
	tcase_add_test(tc, test_zero_frame_then_write);
	tcase_add_test(tc, test_fork_cow_copy_and_reuse);
	tcase_add_test(tc, test_spurious_and_refused);
	tcase_add_test(tc, test_page_fault_is_vector_14);
	tcase_add_test(tc, test_fault_oom);
	tcase_add_test(tc, test_fork_enomem_unwinds);
	tcase_add_test(tc, test_syscall_enomem_heap_cap);
	tcase_add_test(tc, test_grants_find_free_split_merge);
	tcase_add_test(tc, test_usercopy);
	tcase_add_test(tc, test_transfer_keeps_cow_readonly);
	tcase_add_test(tc, test_audit_catches_corruption);
	tcase_add_test(tc, test_fmap_pins_and_notifications);
	tcase_add_test(tc, test_protnone_keeps_data);
	tcase_add_test(tc, test_protnone_munmap_frees);
	tcase_add_test(tc, test_flusher_runs);
	tcase_add_test(tc, test_munmap_runs_split_by_shared_frames);
	tcase_add_test(tc, test_protnone_fork_isolation);
	tcase_add_test(tc, test_protnone_shared_borrowed_transfer);
	tcase_add_test(tc, test_protnone_audit);
	tcase_add_test(tc, test_cow_copy_on_dirty_frames);
	suite_add_tcase(s, tc);
	tc = tcase_create("two cpus");
	tcase_add_checked_fixture(tc, setup_two_cpus, teardown);
	tcase_add_test(tc, test_alive_check_takes_no_lock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_check_suite(suite());
}
