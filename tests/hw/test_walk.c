/*
 * Unit tests of the simulated processor: every rule of the walk, the #PF error code, A/D
 * exactness, the TLB and its invalidations, and the formatting helpers.
 *
 * Each test builds one four-level path in a calloc'd physical memory of 1 MiB for the address
 * VA (PML4 index 255, PDPT 1, PD 1, PT 1, offset 0xabc) and edits the entries it needs.
 * Where a verdict is checked, chk() runs x86_probe and then x86_translate on an empty TLB and
 * requires both to agree, so probe parity is checked everywhere too.
 */
#include "x86_cpu.h"
#include "x86_internal.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "../check_main.h"

#define MEM_SIZE (1ull << 20)
#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD 0x3000ull
#define PT 0x4000ull
#define FRAME 0x10000ull
#define FRAME2 0x20000ull

#define VA 0x00007f8040201abcull	/* idx 255 / 1 / 1 / 1, offset 0xabc */
#define LVA 0x00007f8040234abcull	/* inside the 2 MiB page of VA; VA bit 12 = 0 */
#define L4E (PML4 + 8 * 255)
#define L3E (PDPT + 8 * 1)
#define L2E (PD + 8 * 1)
#define L1E (PT + 8 * 1)

#define P X86_PTE_P
#define RW X86_PTE_RW
#define US X86_PTE_US
#define URW (P | RW | US)
#define A X86_PTE_A
#define D X86_PTE_D
#define PS X86_PTE_PS
#define G X86_PTE_G
#define XD X86_PTE_XD
#define PAT4K (1ull << 7)
#define PATL (1ull << 12)
#define KEY(k) ((uint64_t)(k) << 59)

static struct x86_cpu cpu;
static uint8_t *mem;

static uint64_t rd(uint64_t pa)
{
	uint64_t v;

	memcpy(&v, mem + pa, 8);
	return v;
}

static void wr(uint64_t pa, uint64_t v)
{
	__atomic_store_n((uint64_t *)(void *)(mem + pa), v, __ATOMIC_RELAXED);
}

/* Flag words (everything but the address) of the four entries on VA's path. */
static void path(uint64_t f4, uint64_t f3, uint64_t f2, uint64_t f1)
{
	wr(L4E, PDPT | f4);
	wr(L3E, PD | f3);
	wr(L2E, PT | f2);
	wr(L1E, FRAME | f1);
}

static void setup(void)
{
	struct x86_phys phys;

	mem = calloc(1, MEM_SIZE);
	ck_assert_ptr_nonnull(mem);
	phys.base = mem;
	phys.size = MEM_SIZE;
	ck_assert(x86_cpu_init(&cpu, phys, 16, 46));
	ck_assert(x86_write_cr3(&cpu, PML4));
	path(URW, URW, URW, URW);
}

static void teardown(void)
{
	x86_cpu_destroy(&cpu);
	free(mem);
}

static struct x86_xlate go(uint64_t va, enum x86_access k, bool user, bool implicit)
{
	struct x86_xlate x;

	x86_translate(&cpu, va, k, user, implicit, &x, NULL);
	return x;
}

/* Probe, then translate on an empty TLB; both must give the same verdict. */
static struct x86_xlate chk(uint64_t va, enum x86_access k, bool user, bool implicit)
{
	struct x86_xlate p, t;

	x86_probe(&cpu, va, k, user, implicit, &p, NULL);
	x86_flush_all(&cpu);
	x86_translate(&cpu, va, k, user, implicit, &t, NULL);
	ck_assert_int_eq(p.outcome, t.outcome);
	ck_assert_uint_eq(p.err, t.err);
	ck_assert_uint_eq(p.pa, t.pa);
	ck_assert_uint_eq(p.bad_pa, t.bad_pa);
	return t;
}

#define ck_pf(x, e) do { \
	struct x86_xlate x_ = (x); \
	ck_assert_int_eq(x_.outcome, X86_PF); \
	ck_assert_uint_eq(x_.err, (e)); \
} while (0)
#define ck_pa(x, want) do { \
	struct x86_xlate x_ = (x); \
	ck_assert_int_eq(x_.outcome, X86_OK); \
	ck_assert_uint_eq(x_.pa, (want)); \
} while (0)

#define R X86_READ
#define W X86_WRITE
#define F X86_FETCH
#define SUP false
#define USR true
#define EXPL false
#define IMPL true

/* ---------------- not present ---------------- */

START_TEST(np_codes)
{
	path(URW, URW, URW, RW | US);		/* PTE P=0 */
	ck_pf(chk(VA, R, SUP, EXPL), 0x0);
	ck_pf(chk(VA, W, SUP, EXPL), 0x2);
	ck_pf(chk(VA, F, SUP, EXPL), 0x10);
	ck_pf(chk(VA, F, USR, EXPL), 0x14);
	path(URW, URW, 0, URW);			/* PDE P=0 */
	ck_pf(chk(VA, R, USR, EXPL), 0x4);
	path(0, URW, URW, URW);			/* PML4E P=0 */
	ck_pf(chk(VA, W, USR, EXPL), 0x6);
	path(URW, RW, URW, URW);		/* PDPTE P=0 */
	ck_pf(chk(VA, F, USR, EXPL), 0x14);
	ck_assert_uint_eq(cpu.cr2, VA);
}
END_TEST

START_TEST(np_fetch_id_rule)
{
	wr(L1E, 0);
	x86_set_nxe(&cpu, false);
	ck_pf(chk(VA, F, SUP, EXPL), 0x0);	/* NXE=0, SMEP=0: I/D stays 0 */
	ck_pf(chk(VA, F, USR, EXPL), 0x4);
	x86_set_smep(&cpu, true);
	ck_pf(chk(VA, F, SUP, EXPL), 0x10);	/* SMEP=1 alone sets I/D */
}
END_TEST

START_TEST(np_beats_reserved_and_stops_walk)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	/* P=0 with "reserved" bits set: nothing else is interpreted. */
	wr(L2E, PT | RW | US | PS | (1ull << 51) | (1ull << 13));
	x86_translate(&cpu, VA, R, SUP, EXPL, &x, &t);
	ck_pf(x, 0x0);
	ck_assert_int_eq(t.nsteps, 3);
	ck_assert_int_eq(t.stop, X86_STOP_NOT_PRESENT);
	ck_assert_int_eq(t.stop_level, 2);
	ck_assert_uint_eq(t.steps[2].entry_pa, L2E);
	ck_assert_str_eq(t.reason, "P=0 in the PD entry: no page table for this 2 MiB region");
	ck_assert_uint_eq(rd(L2E), PT | RW | US | PS | (1ull << 51) | (1ull << 13));
}
END_TEST

/* ---------------- reserved bits ---------------- */

START_TEST(rsvd_codes)
{
	uint64_t b51 = 1ull << 51;

	path(URW, URW, URW, URW | b51);
	ck_pf(chk(VA, R, SUP, EXPL), 0x9);
	ck_pf(chk(VA, W, SUP, EXPL), 0xB);
	ck_pf(chk(VA, R, USR, EXPL), 0xD);
	ck_pf(chk(VA, W, USR, EXPL), 0xF);
	ck_pf(chk(VA, F, SUP, EXPL), 0x19);
	ck_pf(chk(VA, F, USR, EXPL), 0x1D);
	path(URW | PS, URW, URW, URW);		/* PS in a PML4E */
	ck_pf(chk(VA, R, USR, EXPL), 0xD);
	path(URW, URW | b51, URW, URW);
	ck_pf(chk(VA, F, USR, EXPL), 0x1D);
}
END_TEST

START_TEST(rsvd_beats_protection)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	/* U/S=0 high up, a reserved bit in the PTE: RSVD wins over the U/S violation. */
	path(P | RW, URW, URW, URW | (1ull << 47));
	x86_translate(&cpu, VA, R, USR, EXPL, &x, &t);
	ck_pf(x, 0xD);
	ck_assert_int_eq(t.stop, X86_STOP_RESERVED);
	ck_assert_int_eq(t.stop_level, 1);
	ck_assert_uint_eq(t.rsvd_bits, 1ull << 47);
	ck_assert_int_eq(t.nsteps, 4);
	ck_assert_str_eq(t.reason, "address bits at or above MAXPHYADDR are set (reserved)");
}
END_TEST

START_TEST(rsvd_stops_walk_before_lower_levels)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	path(URW, URW | (1ull << 50), URW, 0);	/* PTE P=0 is never reached */
	x86_translate(&cpu, VA, W, SUP, EXPL, &x, &t);
	ck_pf(x, 0xB);
	ck_assert_int_eq(t.nsteps, 2);
	ck_assert_int_eq(t.stop_level, 3);
}
END_TEST

START_TEST(maxphyaddr_widths)
{
	static const unsigned widths[] = { 36, 40, 46, 52 };
	static const unsigned bits[] = { 36, 40, 46, 51 };
	size_t i, j;

	for (i = 0; i < 4; i++) {
		cpu.maxphyaddr = widths[i];
		for (j = 0; j < 4; j++) {
			uint64_t b = 1ull << bits[j];

			wr(L1E, FRAME | URW | b);
			if (bits[j] >= widths[i])
				ck_pf(chk(VA, R, SUP, EXPL), 0x9);
			else
				ck_pa(chk(VA, R, SUP, EXPL), b | FRAME | 0xabc);
		}
	}
}
END_TEST

START_TEST(nxe0_bit63_reserved)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	x86_set_nxe(&cpu, false);
	path(URW | XD, URW, URW, URW);		/* XD on the PML4E */
	x86_translate(&cpu, VA, R, SUP, EXPL, &x, &t);
	ck_pf(x, 0x9);
	ck_assert_int_eq(t.stop_level, 4);
	ck_assert_uint_eq(t.rsvd_bits, XD);
	ck_assert_str_eq(t.reason, "XD (bit 63) set while EFER.NXE=0: bit 63 is reserved");
	path(URW, URW, URW, URW | XD);
	ck_pf(chk(VA, W, USR, EXPL), 0xF);
	ck_pf(chk(VA, F, USR, EXPL), 0xD);	/* no I/D: NXE=0 and SMEP=0 */
	x86_set_nxe(&cpu, true);
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(large_2m_pat_and_reserved)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	wr(L2E, 0x600000 | PATL | PS | URW);
	x86_flush_all(&cpu);
	x86_translate(&cpu, LVA, R, USR, EXPL, &x, &t);
	ck_pa(x, 0x634abc);
	ck_assert_int_eq(t.page_shift, 21);
	ck_assert_int_eq(t.nsteps, 3);
	ck_assert_uint_eq(rd(L2E), 0x600000 | PATL | PS | URW | A);
	ck_assert_uint_eq(rd(L1E), FRAME | URW);	/* the old PT is not a table any more */

	wr(L2E, 0x600000 | (1ull << 13) | PS | URW);
	ck_pf(chk(LVA, R, SUP, EXPL), 0x9);
	wr(L2E, 0x600000 | (1ull << 20) | PS | URW);
	ck_pf(chk(LVA, R, SUP, EXPL), 0x9);
	wr(L2E, 0xe00000 | PS | URW);			/* bit 23: an address bit */
	ck_pa(chk(LVA, R, SUP, EXPL), 0xe34abc);
}
END_TEST

START_TEST(large_1g_pat_and_reserved)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	wr(L3E, 0x40000000 | PATL | PS | URW);
	x86_translate(&cpu, LVA, W, USR, EXPL, &x, &t);
	ck_pa(x, 0x40234abc);
	ck_assert_int_eq(t.page_shift, 30);
	ck_assert_int_eq(t.nsteps, 2);
	ck_assert_uint_eq(rd(L3E), 0x40000000 | PATL | PS | URW | A | D);
	ck_assert_uint_eq(rd(L4E), PDPT | URW | A);

	wr(L3E, 0x40000000 | (1ull << 13) | PS | URW);
	ck_pf(chk(LVA, R, SUP, EXPL), 0x9);
	wr(L3E, 0x40000000 | (1ull << 29) | PS | URW);
	ck_pf(chk(LVA, R, SUP, EXPL), 0x9);
	ck_assert_uint_eq(rd(L3E), 0x40000000 | (1ull << 29) | PS | URW);
}
END_TEST

START_TEST(no_page1gb)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	cpu.page1gb = false;
	wr(L3E, 0x40000000 | PS | URW);
	x86_translate(&cpu, LVA, R, USR, EXPL, &x, &t);
	ck_pf(x, 0xD);
	ck_assert_uint_eq(t.rsvd_bits, PS);
	ck_assert_int_eq(t.stop_level, 3);
	/* 2 MiB pages are always available. */
	path(URW, URW, URW, URW);
	wr(L2E, 0x600000 | PS | URW);
	ck_pa(chk(LVA, R, USR, EXPL), 0x634abc);
}
END_TEST

START_TEST(amd_pml4e_bit8)
{
	path(URW | G, URW | G, URW | G, URW);
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);	/* Intel ignores bit 8 in non-leaves */
	cpu.vendor = X86_AMD;
	ck_pf(chk(VA, R, SUP, EXPL), 0x9);
	path(URW, URW | G, URW | G, URW);		/* AMD: only the PML4E reserves it */
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);
}
END_TEST

/* ---------------- protection ---------------- */

START_TEST(prot_user)
{
	path(URW, URW, URW, P | RW);
	ck_pf(chk(VA, R, USR, EXPL), 0x5);
	path(P | RW, URW, URW, URW);		/* U/S=0 high up is enough */
	ck_pf(chk(VA, W, USR, EXPL), 0x7);
	path(URW, URW, URW, P | US);
	ck_pf(chk(VA, W, USR, EXPL), 0x7);
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
	path(URW, P | US, URW, URW);		/* R/W=0 high up */
	ck_pf(chk(VA, W, USR, EXPL), 0x7);
	path(URW, URW, URW, URW | XD);
	ck_pf(chk(VA, F, USR, EXPL), 0x15);
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);	/* XD does not stop data accesses */
	ck_pa(chk(VA, W, USR, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(prot_wp)
{
	path(P | RW, P | RW, P | RW, P);	/* read-only supervisor page */
	ck_pf(chk(VA, W, SUP, EXPL), 0x3);
	x86_set_wp(&cpu, false);
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);
	path(URW, URW, URW, P | US);		/* read-only user page */
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);
	ck_pf(chk(VA, W, USR, EXPL), 0x7);	/* WP never helps user writes */
	x86_set_wp(&cpu, true);
	ck_pf(chk(VA, W, SUP, EXPL), 0x3);
}
END_TEST

START_TEST(prot_xd_nonleaf)
{
	path(URW | XD, URW, URW, URW);
	ck_pf(chk(VA, F, SUP, EXPL), 0x11);
	ck_pf(chk(VA, F, USR, EXPL), 0x15);
	path(URW, URW, URW | XD, URW);
	ck_pf(chk(VA, F, USR, EXPL), 0x15);
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
	path(URW, URW, URW, URW);
	ck_pa(chk(VA, F, USR, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(smep_rules)
{
	ck_pa(chk(VA, F, SUP, EXPL), FRAME | 0xabc);
	x86_set_smep(&cpu, true);
	ck_pf(chk(VA, F, SUP, EXPL), 0x11);
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);	/* SMEP ignores data accesses */
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);
	ck_pa(chk(VA, F, USR, EXPL), FRAME | 0xabc);
	x86_set_wp(&cpu, false);			/* SMEP regardless of WP and R/W */
	path(URW, URW, URW, P | US);
	ck_pf(chk(VA, F, SUP, EXPL), 0x11);
	path(URW, URW | XD, URW, URW);			/* XD and SMEP: still P|I/D */
	ck_pf(chk(VA, F, SUP, EXPL), 0x11);
	/* One U/S=0 on the path makes it a supervisor-mode address: SMEP lets it run. */
	path(URW, P | RW, URW, URW);
	ck_pa(chk(VA, F, SUP, EXPL), FRAME | 0xabc);
	ck_pf(chk(VA, F, USR, EXPL), 0x15);
}
END_TEST

START_TEST(smap_rules)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	x86_set_smap(&cpu, true);
	x86_translate(&cpu, VA, R, SUP, EXPL, &x, &t);
	ck_pf(x, 0x1);
	ck_assert_str_eq(t.reason, "SMAP: supervisor data access to a user page with EFLAGS.AC=0");
	ck_pf(chk(VA, W, SUP, EXPL), 0x3);
	ck_pa(chk(VA, F, SUP, EXPL), FRAME | 0xabc);	/* SMAP never affects fetches */
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
	x86_set_wp(&cpu, false);			/* SMAP still applies with WP=0 */
	ck_pf(chk(VA, W, SUP, EXPL), 0x3);
	ck_pf(chk(VA, R, SUP, EXPL), 0x1);
	x86_set_ac(&cpu, true);
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);
	/* A supervisor-mode address is not subject to SMAP. */
	x86_set_ac(&cpu, false);
	path(URW, URW, P | RW, URW);
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(implicit_accesses)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	/* Without SMAP an implicit access at CPL 3 is a supervisor access: U/S=0 is fine. */
	path(URW, URW, URW, P | RW);
	ck_pa(chk(VA, R, USR, IMPL), FRAME | 0xabc);
	ck_pf(chk(VA, R, USR, EXPL), 0x5);
	path(URW, URW, URW, P);
	ck_pf(chk(VA, W, USR, IMPL), 0x3);		/* U stays 0 in the error code */
	x86_set_wp(&cpu, false);
	ck_pa(chk(VA, W, USR, IMPL), FRAME | 0xabc);
	x86_set_wp(&cpu, true);

	path(URW, URW, URW, URW);
	x86_set_smap(&cpu, true);
	ck_pf(chk(VA, R, USR, IMPL), 0x1);		/* CPL 3, AC=0 */
	x86_set_ac(&cpu, true);
	ck_pf(chk(VA, R, USR, IMPL), 0x1);		/* CPL 3, AC=1 */
	x86_translate(&cpu, VA, R, SUP, IMPL, &x, &t);	/* CPL 0, AC=1: still checked */
	ck_pf(x, 0x1);
	ck_assert_str_eq(t.reason,
			 "SMAP: implicit supervisor access to a user page (EFLAGS.AC does not apply)");
	ck_pf(chk(VA, W, SUP, IMPL), 0x3);
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);	/* the explicit one is overridden */
}
END_TEST

START_TEST(pkey_codes)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	x86_set_pke(&cpu, true);
	path(URW, URW, URW, URW | KEY(3));
	x86_set_pkru(&cpu, 1u << 6);			/* AD for key 3 */
	ck_pf(chk(VA, R, SUP, EXPL), 0x21);
	ck_pf(chk(VA, W, SUP, EXPL), 0x23);
	ck_pf(chk(VA, R, USR, EXPL), 0x25);
	x86_translate(&cpu, VA, W, USR, EXPL, &x, &t);
	ck_pf(x, 0x27);
	ck_assert_int_eq(t.stop, X86_STOP_PKEY);
	ck_pa(chk(VA, F, USR, EXPL), FRAME | 0xabc);	/* never for fetches */
	ck_pa(chk(VA, F, SUP, EXPL), FRAME | 0xabc);

	x86_set_pkru(&cpu, 2u << 6);			/* WD for key 3 */
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
	ck_pf(chk(VA, W, USR, EXPL), 0x27);
	ck_pf(chk(VA, W, SUP, EXPL), 0x23);		/* WP=1: WD binds the supervisor */
	x86_set_wp(&cpu, false);
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);	/* WP=0: it does not */
	ck_pf(chk(VA, W, USR, EXPL), 0x27);
	x86_set_wp(&cpu, true);

	/* PK is reported even with an ordinary violation present. */
	x86_set_pkru(&cpu, 3u << 6);
	path(URW, URW, URW, P | US | KEY(3));
	ck_pf(chk(VA, W, USR, EXPL), 0x27);
	x86_set_smap(&cpu, true);
	ck_pf(chk(VA, R, SUP, EXPL), 0x21);

	/* Not for supervisor-mode addresses. */
	path(URW, URW, URW, P | RW | KEY(3));
	ck_pf(chk(VA, R, USR, EXPL), 0x5);
	x86_set_smap(&cpu, false);
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);

	/* CR4.PKE=0: the bits are ignored. */
	x86_set_pke(&cpu, false);
	path(URW, URW, URW, URW | KEY(3));
	ck_pa(chk(VA, W, USR, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(pkey_leaf_only)
{
	x86_set_pke(&cpu, true);
	x86_set_pkru(&cpu, 3u << 4);			/* AD|WD for key 2 */
	path(URW | KEY(2), URW | KEY(2), URW | KEY(2), URW);
	ck_pa(chk(VA, W, USR, EXPL), FRAME | 0xabc);
	wr(L2E, 0x600000 | PS | URW | KEY(2));		/* the key of a 2 MiB leaf counts */
	ck_pf(chk(LVA, R, USR, EXPL), 0x25);
}
END_TEST

/* ---------------- accessed / dirty ---------------- */

START_TEST(ad_read_write)
{
	ck_pa(chk(VA, R, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L4E), PDPT | URW | A);
	ck_assert_uint_eq(rd(L3E), PD | URW | A);
	ck_assert_uint_eq(rd(L2E), PT | URW | A);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A);
	ck_assert_uint_eq(cpu.stats.ad_updates, 4);
	ck_pa(chk(VA, F, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A);	/* fetches never set D */
	ck_pa(chk(VA, W, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L4E), PDPT | URW | A);	/* bit 6 of non-leaves never written */
	ck_assert_uint_eq(rd(L3E), PD | URW | A);
	ck_assert_uint_eq(rd(L2E), PT | URW | A);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A | D);
	ck_assert_uint_eq(cpu.stats.ad_updates, 5);
}
END_TEST

START_TEST(ad_write_sets_a_and_d_at_once)
{
	path(URW | D, URW | D, URW, URW);		/* preset bit 6 in non-leaves stays */
	ck_pa(chk(VA, W, SUP, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L4E), PDPT | URW | D | A);
	ck_assert_uint_eq(rd(L3E), PD | URW | D | A);
	ck_assert_uint_eq(rd(L2E), PT | URW | A);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A | D);
	wr(L2E, 0x600000 | PS | URW);			/* 2 MiB leaf gets D */
	ck_pa(chk(LVA, W, SUP, EXPL), 0x634abc);
	ck_assert_uint_eq(rd(L2E), 0x600000 | PS | URW | A | D);
}
END_TEST

START_TEST(ad_untouched_on_faults)
{
	static const uint64_t pte[] = {
		FRAME | P | US,			/* protection: user write, read-only */
		FRAME | URW | (1ull << 50),	/* reserved */
		FRAME | RW | US,		/* not present */
		FRAME | URW | XD,		/* fetch of an XD page */
	};
	static const enum x86_access kind[] = { W, W, R, F };
	size_t i;

	for (i = 0; i < 4; i++) {
		path(URW, URW, URW, pte[i]);
		ck_assert_int_eq(chk(VA, kind[i], USR, EXPL).outcome, X86_PF);
		ck_assert_uint_eq(rd(L1E), pte[i]);
		ck_assert_uint_eq(rd(L2E), PT | URW);
		ck_assert_uint_eq(rd(L3E), PD | URW);
		ck_assert_uint_eq(rd(L4E), PDPT | URW);
	}
	ck_assert_uint_eq(cpu.stats.ad_updates, 0);
	/* PK fault on a 4 KiB page. */
	x86_set_pke(&cpu, true);
	x86_set_pkru(&cpu, 1u << 2);
	path(URW, URW, URW, URW | KEY(1));
	ck_pf(chk(VA, R, USR, EXPL), 0x25);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | KEY(1));
}
END_TEST

START_TEST(ad_recursive_entry_once)
{
	/* PML4[256] points at the PML4 itself; va = 256/256/256/255 reads PML4[256] three times. */
	uint64_t self = PML4 + 8 * 256;
	uint64_t va = 0xffff000000000000ull | (256ull << 39) | (256ull << 30) | (256ull << 21) |
		      (255ull << 12) | 0x10;

	wr(self, PML4 | URW);
	ck_pa(chk(va, R, SUP, EXPL), PDPT | 0x10);	/* PML4[255] holds PDPT's address */
	ck_assert_uint_eq(rd(self), PML4 | URW | A);
	ck_assert_uint_eq(rd(L4E), PDPT | URW | A);
	ck_assert_uint_eq(cpu.stats.ad_updates, 2);
	ck_assert_uint_eq(cpu.stats.walks, 1);
}
END_TEST

START_TEST(ad_commit_detects_change)
{
	struct x86_walk w;

	/* Another CPU clears U/S in the PDE between the walk and its A/D update. */
	x86_walk_tables(&cpu, VA, W, USR, EXPL, &w);
	ck_assert_int_eq(w.outcome, X86_OK);
	wr(L2E, PT | P | RW);
	ck_assert(!x86_walk_commit_ad(&cpu, &w, W));
	ck_assert_uint_eq(rd(L2E), PT | P | RW);
	ck_assert_uint_eq(rd(L1E), FRAME | URW);	/* the leaf is never reached */
	ck_pf(go(VA, W, USR, EXPL), 0x7);		/* the redone walk sees the change */
	ck_assert_uint_eq(rd(L1E), FRAME | URW);
}
END_TEST

struct flipper {
	volatile bool stop;
	unsigned long flips;
};

static void *flip_ignored_bit(void *arg)
{
	struct flipper *f = arg;
	uint64_t *pte = (uint64_t *)(void *)(mem + L1E);

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		__atomic_fetch_xor(pte, 1ull << 52, __ATOMIC_RELAXED);	/* ignored bit */
		f->flips++;
		sched_yield();	/* keeps valgrind's one-thread-at-a-time scheduler moving */
	}
	return NULL;
}

START_TEST(ad_concurrent_edits)
{
	struct flipper f = { false, 0 };
	pthread_t th;
	int i;

	ck_assert_int_eq(pthread_create(&th, NULL, flip_ignored_bit, &f), 0);
	for (i = 0; i < 5000; i++) {
		struct x86_xlate x;

		x86_flush_all(&cpu);
		if (i % 64 == 0)	/* clear A/D again so the compare-exchange has work */
			__atomic_fetch_and((uint64_t *)(void *)(mem + L1E), ~(A | D),
					   __ATOMIC_RELAXED);
		x86_translate(&cpu, VA, i & 1 ? W : R, USR, EXPL, &x, NULL);
		ck_pa(x, FRAME | 0xabc);
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(rd(L1E) & ~(1ull << 52), FRAME | URW | A | D);
	ck_assert_uint_eq(cpu.stats.walks, 5000);
}
END_TEST

/* ---------------- canonical, CR2, bus, CR3 ---------------- */

START_TEST(noncanonical_gp)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	cpu.cr2 = 0x1234;
	x86_translate(&cpu, 0x0000800000000000ull, R, SUP, EXPL, &x, &t);
	ck_assert_int_eq(x.outcome, X86_GP);
	ck_assert_int_eq(t.stop, X86_STOP_NONCANONICAL);
	ck_assert_int_eq(t.nsteps, 0);
	x86_translate(&cpu, VA | (1ull << 60), W, USR, EXPL, &x, NULL);
	ck_assert_int_eq(x.outcome, X86_GP);
	x86_probe(&cpu, 0xffff7fffffffffffull, F, SUP, EXPL, &x, NULL);
	ck_assert_int_eq(x.outcome, X86_GP);
	ck_assert_uint_eq(cpu.cr2, 0x1234);
	ck_assert_uint_eq(cpu.stats.gp_faults, 2);
	ck_assert_uint_eq(cpu.stats.walks, 0);
	ck_assert_uint_eq(rd(L4E), PDPT | URW);
	/* The lowest upper-half address is canonical and walks (PML4[256] is empty). */
	x86_translate(&cpu, 0xffff800000000000ull, R, SUP, EXPL, &x, NULL);
	ck_pf(x, 0x0);
	ck_assert_uint_eq(cpu.cr2, 0xffff800000000000ull);
}
END_TEST

START_TEST(cr2_full_address)
{
	wr(L1E, 0);
	cpu.cr2 = 0;
	ck_pf(go(VA + 0x3, W, USR, EXPL), 0x6);
	ck_assert_uint_eq(cpu.cr2, VA + 0x3);
	ck_assert_uint_eq(cpu.stats.page_faults, 1);
	ck_pf(go(0x00007f8040202000ull, R, USR, EXPL), 0x4);	/* PT[2] is empty */
	ck_assert_uint_eq(cpu.cr2, 0x00007f8040202000ull);
	ck_assert_uint_eq(cpu.stats.page_faults, 2);
}
END_TEST

START_TEST(bus_outside_memory)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	wr(L2E, 0x8000000 | URW);
	cpu.cr2 = 0x55;
	x86_translate(&cpu, VA, R, SUP, EXPL, &x, &t);
	ck_assert_int_eq(x.outcome, X86_BUS);
	ck_assert_uint_eq(x.bad_pa, 0x8000008);
	ck_assert_int_eq(t.stop, X86_STOP_BUS);
	ck_assert_int_eq(t.stop_level, 1);
	ck_assert_uint_eq(cpu.cr2, 0x55);
	ck_assert_uint_eq(rd(L2E), 0x8000000 | URW);	/* nothing committed */
	ck_assert_uint_eq(cpu.stats.page_faults, 0);

	/* The last 8 bytes of memory are a valid entry; one byte further is not. */
	ck_assert(x86_write_cr3(&cpu, MEM_SIZE - 0x1000));
	wr(MEM_SIZE - 8, 0);
	ck_pf(chk(0xffffff8000000000ull, R, SUP, EXPL), 0x0);	/* PML4 index 511 */
	ck_assert(x86_write_cr3(&cpu, MEM_SIZE));
	x86_probe(&cpu, 0, R, SUP, EXPL, &x, NULL);
	ck_assert_int_eq(x.outcome, X86_BUS);
	ck_assert_uint_eq(x.bad_pa, MEM_SIZE);
}
END_TEST

START_TEST(cr3_reserved_bits)
{
	ck_assert(!x86_write_cr3(&cpu, 1ull << 46));
	ck_assert_uint_eq(cpu.cr3, PML4);
	ck_assert(!x86_write_cr3(&cpu, (1ull << 63) | PML4));
	ck_assert_uint_eq(cpu.cr3, PML4);
	ck_assert(x86_write_cr3(&cpu, (1ull << 45) | 0x18));	/* PWT/PCD are fine */
	ck_assert_uint_eq(cpu.cr3, (1ull << 45) | 0x18);
	cpu.maxphyaddr = 36;
	ck_assert(!x86_write_cr3(&cpu, 1ull << 36));
	ck_assert(x86_write_cr3(&cpu, PML4 | 0x8));
	ck_pa(chk(VA, R, SUP, EXPL), FRAME | 0xabc);	/* low bits ignored by the walk */
	cpu.maxphyaddr = 52;
	ck_assert(!x86_write_cr3(&cpu, 1ull << 52));
	ck_assert(x86_write_cr3(&cpu, 1ull << 51));
}
END_TEST

START_TEST(init_arguments)
{
	struct x86_cpu c;
	struct x86_phys phys = { mem, MEM_SIZE };

	ck_assert(!x86_cpu_init(&c, phys, 0, 46));
	ck_assert(!x86_cpu_init(&c, phys, 3, 46));
	ck_assert(!x86_cpu_init(&c, phys, (1u << 20) * 2, 46));
	ck_assert(!x86_cpu_init(&c, phys, 16, 35));
	ck_assert(!x86_cpu_init(&c, phys, 16, 53));
	ck_assert(x86_cpu_init(&c, phys, 1, 52));
	ck_assert(c.cr0_wp && c.efer_nxe);
	ck_assert(!c.cr4_pge && !c.cr4_smep && !c.cr4_smap && !c.cr4_pke && !c.rflags_ac);
	ck_assert_uint_eq(c.cr3, 0);
	ck_assert_uint_eq(c.pkru, 0);
	ck_assert_uint_eq(c.tlb.mask, 0);
	x86_cpu_destroy(&c);
}
END_TEST

/* ---------------- TLB ---------------- */


START_TEST(tlb_stale_until_invlpg)
{
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME2 | URW);				/* new frame, no INVLPG */
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 1);
	ck_assert_uint_eq(cpu.stats.walks, 1);
	x86_invlpg(&cpu, VA + 0x10);			/* any address in the page */
	ck_pa(go(VA, R, USR, EXPL), FRAME2 | 0xabc);
	wr(L1E, 0);					/* P 1->0 without INVLPG */
	ck_pa(go(VA, R, USR, EXPL), FRAME2 | 0xabc);
	x86_invlpg(&cpu, VA);
	ck_pf(go(VA, R, USR, EXPL), 0x4);
	wr(L1E, FRAME | URW);				/* P 0->1: faults are not cached */
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(cpu.stats.invlpgs, 2);
}
END_TEST

START_TEST(tlb_stale_downgrade)
{
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);	/* cached with D=1 */
	wr(L1E, FRAME | P | US | A | D);		/* R/W 1->0, no INVLPG */
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 1);
	x86_invlpg(&cpu, VA);
	ck_pf(go(VA, W, USR, EXPL), 0x7);
	ck_assert_uint_eq(rd(L1E), FRAME | P | US | A | D);
}
END_TEST

START_TEST(tlb_write_hit_on_clean_entry)
{
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A);
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);	/* hit with D=0: re-walk */
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A | D);
	ck_assert_uint_eq(cpu.stats.walks, 2);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 0);
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);	/* now D=1 is cached */
	ck_assert_uint_eq(cpu.stats.tlb_hits, 1);
	/* Software clears D without INVLPG: the stale entry may skip the update. */
	wr(L1E, FRAME | URW | A);
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A);
	x86_invlpg(&cpu, VA);
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A | D);
}
END_TEST

START_TEST(tlb_spurious_fault_after_upgrade)
{
	struct x86_walk_trace t;
	struct x86_xlate x;

	path(URW, URW, URW, P | US);
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME | URW | A);			/* R/W 0->1 without INVLPG */
	cpu.cr2 = 0;
	x86_translate(&cpu, VA, W, USR, EXPL, &x, &t);
	ck_pf(x, 0x7);					/* spurious, from the TLB */
	ck_assert(t.tlb_hit);
	ck_assert_int_eq(t.nsteps, 0);
	ck_assert_int_eq(t.stop, X86_STOP_PROTECTION);
	ck_assert_uint_eq(cpu.cr2, VA);
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A);
	ck_assert_uint_eq(cpu.stats.walks, 1);
	ck_pa(go(VA, W, USR, EXPL), FRAME | 0xabc);	/* the fault dropped it: retry walks */
	ck_assert_uint_eq(rd(L1E), FRAME | URW | A | D);
	ck_assert_uint_eq(cpu.stats.walks, 2);

	/* U/S 0->1 the same way. */
	path(URW, URW, URW, P | RW);
	x86_invlpg(&cpu, VA);
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME | URW | A);
	ck_pf(go(VA, R, USR, EXPL), 0x5);
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(tlb_hit_judged_with_current_state)
{
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	x86_set_smap(&cpu, true);			/* no flush for SMAP */
	ck_pf(go(VA, R, SUP, EXPL), 0x1);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 1);
	ck_assert_uint_eq(cpu.stats.walks, 1);
	x86_set_ac(&cpu, true);
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);	/* walks again (dropped by the #PF) */
	x86_set_ac(&cpu, false);
	ck_pf(go(VA, R, SUP, EXPL), 0x1);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 2);

	x86_set_smap(&cpu, false);
	x86_set_pke(&cpu, true);
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	x86_set_pkru(&cpu, 1);				/* AD for key 0 */
	ck_pf(go(VA, R, USR, EXPL), 0x25);
	ck_assert_uint_eq(cpu.stats.tlb_hits, 3);
}
END_TEST

START_TEST(tlb_cr3_and_global)
{
	const uint64_t va2 = VA + 0x1000, pte2 = PT + 16;

	x86_set_pge(&cpu, true);
	wr(L1E, FRAME | URW | G);
	wr(pte2, FRAME2 | URW);
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	ck_pa(go(va2, R, SUP, EXPL), FRAME2 | 0xabc);
	wr(L1E, FRAME2 | URW | G);
	wr(pte2, FRAME | URW);
	ck_assert(x86_write_cr3(&cpu, PML4));
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);	/* global: survived */
	ck_pa(go(va2, R, SUP, EXPL), FRAME | 0xabc);	/* not global: re-walked */
	x86_set_pge(&cpu, true);			/* no change, no flush */
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	x86_set_pge(&cpu, false);			/* toggling PGE drops everything */
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);

	/* G=1 filled while PGE=0 is not global. */
	wr(L1E, FRAME | URW | G);
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);	/* stale hit */
	ck_assert(x86_write_cr3(&cpu, PML4));
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	/* INVLPG drops a global entry too. */
	x86_set_pge(&cpu, true);
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME2 | URW | G);
	x86_invlpg(&cpu, VA);
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);
	/* flush drops global entries. */
	wr(L1E, FRAME | URW | G);
	x86_flush_all(&cpu);
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
}
END_TEST

START_TEST(tlb_invlpg_large_page)
{
	wr(L2E, 0x600000 | PS | URW);
	ck_pa(go(LVA, R, SUP, EXPL), 0x634abc);
	ck_pa(go(LVA + 0x1000, R, SUP, EXPL), 0x635abc);
	ck_pa(go(VA, R, SUP, EXPL), 0x601abc);
	ck_assert_uint_eq(cpu.tlb.large_slices, 3);
	wr(L2E, 0xa00000 | PS | URW);
	ck_pa(go(LVA, R, SUP, EXPL), 0x634abc);		/* stale */
	x86_invlpg(&cpu, LVA + 0x200000);		/* the next 2 MiB page: no effect */
	ck_pa(go(VA, R, SUP, EXPL), 0x601abc);
	ck_assert_uint_eq(cpu.tlb.large_slices, 3);
	x86_invlpg(&cpu, LVA + 0x7000);			/* a slice that is not cached */
	ck_assert_uint_eq(cpu.tlb.large_slices, 0);
	ck_pa(go(VA, R, SUP, EXPL), 0xa01abc);
	ck_pa(go(LVA + 0x1000, R, SUP, EXPL), 0xa35abc);
	ck_assert_uint_eq(cpu.tlb.large_slices, 2);
	x86_flush_all(&cpu);
	ck_assert_uint_eq(cpu.tlb.large_slices, 0);
	wr(L3E, 0x40000000 | PS | URW);
	ck_pa(go(LVA, R, SUP, EXPL), 0x40234abc);
	ck_assert_uint_eq(cpu.tlb.large_slices, 1);
	x86_invlpg(&cpu, 0x00007f807fff0000ull);	/* last slice of that 1 GiB page */
	ck_assert_uint_eq(cpu.tlb.large_slices, 0);
}
END_TEST

START_TEST(tlb_eviction_counts_large)
{
	wr(L2E, 0x600000 | PS | URW);
	ck_pa(go(VA, R, SUP, EXPL), 0x601abc);		/* slot 1, large */
	ck_assert_uint_eq(cpu.tlb.large_slices, 1);
	path(URW, URW, URW, URW);
	x86_invlpg(&cpu, VA + 0x100000);		/* drops the cached 2 MiB slice */
	wr(PT + 8 * 17, FRAME2 | URW);
	ck_pa(go(VA + 0x10000, R, SUP, EXPL), FRAME2 | 0xabc);
	ck_assert_uint_eq(cpu.tlb.large_slices, 0);
	wr(L2E, 0x600000 | PS | URW);
	x86_invlpg(&cpu, VA);
	ck_pa(go(VA, R, SUP, EXPL), 0x601abc);		/* slot 1 again: evicts the 4 KiB one */
	ck_assert_uint_eq(cpu.tlb.large_slices, 1);
	ck_pa(go(VA + 0x10000, R, SUP, EXPL), 0x611abc);	/* and back: evicts the large one */
	ck_assert_uint_eq(cpu.tlb.large_slices, 1);
	ck_assert(x86_write_cr3(&cpu, PML4));
	ck_assert_uint_eq(cpu.tlb.large_slices, 0);
}
END_TEST

START_TEST(tlb_flushing_control_writes)
{
	uint64_t f0;

	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME2 | URW);
	f0 = cpu.stats.flushes;
	x86_set_smap(&cpu, true);
	x86_set_smap(&cpu, false);
	x86_set_pke(&cpu, true);
	x86_set_ac(&cpu, true);
	x86_set_pkru(&cpu, 0);
	x86_set_smep(&cpu, false);			/* 0->0 */
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);	/* none of these flushed */
	ck_assert_uint_eq(cpu.stats.flushes, f0);
	x86_set_smep(&cpu, true);			/* SMEP 0->1 flushes */
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);
	wr(L1E, FRAME | URW);
	x86_set_smep(&cpu, false);			/* 1->0 does not */
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);
	x86_set_wp(&cpu, false);			/* WP change flushes */
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME2 | URW);
	x86_set_wp(&cpu, false);			/* no change */
	ck_pa(go(VA, R, SUP, EXPL), FRAME | 0xabc);
	x86_set_nxe(&cpu, false);			/* NXE change flushes */
	ck_pa(go(VA, R, SUP, EXPL), FRAME2 | 0xabc);
	ck_assert_uint_eq(cpu.stats.flushes, f0 + 3);
}
END_TEST

START_TEST(probe_has_no_side_effects)
{
	struct x86_cpu before;
	struct x86_tlb_entry tlb_before[16];
	struct x86_walk_trace t;
	struct x86_xlate x;
	uint8_t *mem_before = malloc(MEM_SIZE);

	ck_assert_ptr_nonnull(mem_before);
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);
	wr(L1E, FRAME2 | URW);				/* the TLB is now stale */
	memcpy(&before, &cpu, sizeof(cpu));
	memcpy(tlb_before, cpu.tlb.entries, sizeof(tlb_before));
	memcpy(mem_before, mem, MEM_SIZE);

	x86_probe(&cpu, VA, W, USR, EXPL, &x, &t);	/* walks memory, not the TLB */
	ck_pa(x, FRAME2 | 0xabc);
	ck_assert(!t.tlb_hit);
	ck_assert_int_eq(t.nsteps, 4);
	x86_probe(&cpu, VA, F, USR, EXPL, &x, NULL);
	ck_pa(x, FRAME2 | 0xabc);
	x86_probe(&cpu, VA + 0x1000, R, USR, EXPL, &x, NULL);
	ck_pf(x, 0x4);

	ck_assert(memcmp(&before, &cpu, sizeof(cpu)) == 0);
	ck_assert(memcmp(tlb_before, cpu.tlb.entries, sizeof(tlb_before)) == 0);
	ck_assert(memcmp(mem_before, mem, MEM_SIZE) == 0);
	ck_pa(go(VA, R, USR, EXPL), FRAME | 0xabc);	/* the stale slot is still there */
	free(mem_before);
}
END_TEST

START_TEST(trace_of_walk_and_hit)
{
	struct x86_walk_trace t;
	struct x86_xlate x;
	static const uint64_t pas[4] = { L4E, L3E, L2E, L1E };
	static const uint64_t raw[4] = { PDPT | URW, PD | URW, PT | URW, FRAME | URW };
	static const unsigned idx[4] = { 255, 1, 1, 1 };
	int i;

	x86_translate(&cpu, VA, R, USR, EXPL, &x, &t);
	ck_pa(x, FRAME | 0xabc);
	ck_assert(!t.tlb_hit);
	ck_assert_int_eq(t.nsteps, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(t.steps[i].level, 4 - i);
		ck_assert_uint_eq(t.steps[i].index, idx[i]);
		ck_assert_uint_eq(t.steps[i].entry_pa, pas[i]);
		ck_assert_uint_eq(t.steps[i].entry, raw[i]);	/* as read, before A */
	}
	ck_assert_int_eq(t.stop, X86_STOP_LEAF);
	ck_assert_int_eq(t.stop_level, 1);
	ck_assert_int_eq(t.page_shift, 12);
	ck_assert_ptr_null(t.reason);

	x86_translate(&cpu, VA, R, USR, EXPL, &x, &t);
	ck_pa(x, FRAME | 0xabc);
	ck_assert(t.tlb_hit);
	ck_assert_int_eq(t.nsteps, 0);
	ck_assert_int_eq(t.stop_level, 0);
	ck_assert_int_eq(t.page_shift, 12);

	path(URW, P | RW, URW, URW);
	x86_flush_all(&cpu);
	x86_translate(&cpu, VA, R, USR, EXPL, &x, &t);
	ck_pf(x, 0x5);
	ck_assert_int_eq(t.stop, X86_STOP_PROTECTION);
	ck_assert_str_eq(t.reason, "U/S=0 on the path: supervisor-only page, user access");
	x86_set_pke(&cpu, true);
	x86_set_pkru(&cpu, 2);
	path(URW, URW, URW, URW);
	x86_flush_all(&cpu);
	x86_translate(&cpu, VA, W, USR, EXPL, &x, &t);
	ck_pf(x, 0x27);
	ck_assert_str_eq(t.reason,
			 "protection key: PKRU write-disable bit set for the page's key, write denied");
}
END_TEST

/* ---------------- formatting ---------------- */

START_TEST(format_entries)
{
	char b[160];

	ck_assert_str_eq(x86_format_entry(b, sizeof(b), FRAME | URW | A | D, 1, &cpu),
			 "P RW US A D -> 0x10000");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), PT | URW | 0x18, 2, &cpu),
			 "P RW US PWT PCD -> 0x4000 (PT)");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b),
					  0x600000 | PATL | PS | P | RW | G | XD, 2, &cpu),
			 "P RW PS PAT G XD -> 0x600000");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), 0x40000000 | PS | P, 3, NULL),
			 "P PS -> 0x40000000");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), FRAME | P | PAT4K | KEY(3), 1, &cpu),
			 "P PAT pkey=3 -> 0x10000");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), 0x1234, 1, &cpu),
			 "not present (raw 0x1234)");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), PDPT | P | PS | D, 4, &cpu),
			 "P bit6 PS(reserved) -> 0x2000 (PDPT) RESERVED=0x80");
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), FRAME | P | (1ull << 50), 1, &cpu),
			 "P -> 0x4000000010000 RESERVED=0x4000000000000");
	x86_set_nxe(&cpu, false);
	x86_set_pke(&cpu, true);
	ck_assert_str_eq(x86_format_entry(b, sizeof(b), FRAME | P | XD, 1, &cpu),
			 "P XD(reserved: NXE=0) pkey=0 -> 0x10000 RESERVED=0x8000000000000000");
	ck_assert_str_eq(x86_format_entry(b, 6, FRAME | URW, 1, &cpu), "P RW ");
	ck_assert_str_eq(x86_level_name(4), "PML4");
	ck_assert_str_eq(x86_level_name(3), "PDPT");
	ck_assert_str_eq(x86_level_name(2), "PD");
	ck_assert_str_eq(x86_level_name(1), "PT");
	ck_assert_str_eq(x86_level_name(7), "?");
}
END_TEST

START_TEST(format_pf_errors)
{
	char b[96];

	ck_assert_str_eq(x86_format_pf_error(b, sizeof(b), 0),
			 "0 (not present, read, supervisor)");
	ck_assert_str_eq(x86_format_pf_error(b, sizeof(b), 0x7),
			 "P|W|U (protection violation, write, user)");
	ck_assert_str_eq(x86_format_pf_error(b, sizeof(b), 0x1d),
			 "P|U|RSVD|I/D (reserved bit set, instruction fetch, user)");
	ck_assert_str_eq(x86_format_pf_error(b, sizeof(b), 0x23),
			 "P|W|PK (protection key, write, supervisor)");
	ck_assert_str_eq(x86_format_pf_error(b, sizeof(b), 0x3f),
			 "P|W|U|RSVD|I/D|PK (reserved bit set, instruction fetch, user)");
	ck_assert_str_eq(x86_format_pf_error(b, 5, 0x7), "P|W|");
	b[0] = 'x';
	x86_format_pf_error(b, 0, 0x7);
	ck_assert_int_eq(b[0], 'x');
}
END_TEST

/*
 * One access translated twice from the same memory and an empty TLB, once without a trace
 * (the quick walk answers when it can) and once with one (always the full walk): the answer,
 * CR2, the counters, the memory after (A/D) and the TLB slot filled must all be the same.
 */
/* The tables (everything below FRAME) and the last page: where these walks may write. */
#define TABLES_LOW FRAME
#define LAST_PAGE (MEM_SIZE - 0x1000)

static void save_tables(uint8_t *to)
{
	memcpy(to, mem, TABLES_LOW);
	memcpy(to + TABLES_LOW, mem + LAST_PAGE, 0x1000);
}

static void restore_tables(const uint8_t *from)
{
	memcpy(mem, from, TABLES_LOW);
	memcpy(mem + LAST_PAGE, from + TABLES_LOW, 0x1000);
}

static void untraced_equals_traced(uint64_t va, enum x86_access k, bool user, bool implicit)
{
	static uint8_t before[TABLES_LOW + 0x1000], after[TABLES_LOW + 0x1000],
		now[TABLES_LOW + 0x1000];
	struct x86_tlb_entry slot;
	struct x86_counters stats;
	struct x86_walk_trace t;
	struct x86_xlate a, b;
	uint64_t cr2;

	save_tables(before);
	x86_flush_all(&cpu);
	memset(&cpu.stats, 0, sizeof(cpu.stats));
	cpu.cr2 = 0x55;
	x86_translate(&cpu, va, k, user, implicit, &a, NULL);
	save_tables(after);
	slot = *x86_tlb_slot(&cpu.tlb, va);
	stats = cpu.stats;
	cr2 = cpu.cr2;

	restore_tables(before);
	x86_flush_all(&cpu);
	memset(&cpu.stats, 0, sizeof(cpu.stats));
	cpu.cr2 = 0x55;
	x86_translate(&cpu, va, k, user, implicit, &b, &t);
	ck_assert_int_eq(a.outcome, b.outcome);
	ck_assert_uint_eq(a.pa, b.pa);
	ck_assert_uint_eq(a.err, b.err);
	ck_assert_uint_eq(a.bad_pa, b.bad_pa);
	ck_assert_uint_eq(cr2, cpu.cr2);
	ck_assert(memcmp(&stats, &cpu.stats, sizeof(stats)) == 0);
	save_tables(now);
	ck_assert(memcmp(after, now, sizeof(now)) == 0);
	ck_assert(memcmp(&slot, x86_tlb_slot(&cpu.tlb, va), sizeof(slot)) == 0);
	restore_tables(before);
}

START_TEST(quick_walk_matches_full_walk)
{
	/* flag words per level, for VA's path; each row one shape of walk */
	static const uint64_t shapes[][4] = {
		{ URW, URW, URW, URW },
		{ URW | A, URW | A, URW | A, URW | A | D },
		{ URW | A, URW | A, URW | A, URW | A },		/* D still to set */
		{ URW, URW, URW, P | RW },			/* supervisor page */
		{ URW, P | US, URW, URW },			/* read-only above */
		{ URW, URW, URW, URW | XD | KEY(11) | G },
		{ URW, URW, URW, URW | PAT4K | (1ull << 52) },	/* ignored bits */
		{ 0, URW, URW, URW },				/* not present, each level */
		{ URW, 0x7fe, URW, URW },
		{ URW, URW, URW & ~P, URW },
		{ URW, URW, URW, RW | US },
		{ URW | PS, URW, URW, URW },			/* reserved, each level */
		{ URW, URW | (1ull << 50), URW, URW },
		{ URW, URW, URW | (1ull << 47), URW },
		{ URW, URW, URW, URW | (1ull << 51) },
		{ URW, URW, URW | PS, URW },			/* 2 MiB, PT's bit 14 reserved */
		{ URW, URW, URW | PS | A, URW },		/* A: frame 0 instead of PT */
		{ URW, URW, URW | PS | A | PATL | KEY(5) | G, URW },
		{ URW, URW | PS, URW, URW },			/* 1 GiB, PD's bit 13 reserved */
		{ URW, URW | PS | A | D | G, URW, URW },	/* A: frame 0 instead of PD */
	};
	static const bool kinds_user[2] = { false, true };
	size_t i;
	int k, u, impl, nxe;

	x86_set_pge(&cpu, true);
	for (nxe = 1; nxe >= 0; nxe--) {
		x86_set_nxe(&cpu, nxe);
		for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
			path(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
			if ((shapes[i][1] & (PS | A)) == (PS | A))
				wr(L3E, shapes[i][1]);
			if ((shapes[i][2] & (PS | A)) == (PS | A))
				wr(L2E, shapes[i][2]);
			for (k = 0; k < 3; k++)
				for (u = 0; u < 2; u++)
					for (impl = 0; impl < 2; impl++)
						untraced_equals_traced(VA, (enum x86_access)k,
								       kinds_user[u], impl);
		}
	}

	/* the same entry read at every level (recursive mapping), with A to set */
	x86_set_nxe(&cpu, true);
	wr(PML4 + 8 * 256, PML4 | URW);
	untraced_equals_traced(0xffff000000000000ull | (256ull << 39) | (256ull << 30) |
				       (256ull << 21) | (255ull << 12), R, SUP, EXPL);
	untraced_equals_traced(0xffff000000000000ull | (256ull << 39) | (256ull << 30) |
				       (256ull << 21) | (256ull << 12), W, SUP, EXPL);

	/* a table outside physical memory, and one whose last entry is the last 8 bytes */
	path(URW, URW, URW, URW);
	wr(L2E, 0x8000000 | URW);
	untraced_equals_traced(VA, R, SUP, EXPL);
	wr(L2E, (MEM_SIZE - 0x1000) | URW);
	wr(MEM_SIZE - 8, FRAME | URW);
	untraced_equals_traced(VA | (511ull << 12), W, USR, EXPL);
}
END_TEST

static Suite *hw_suite(void)
{
	Suite *s = suite_create("hw-x86");
	TCase *tc;

	tc = tcase_create("not-present");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, np_codes);
	tcase_add_test(tc, np_fetch_id_rule);
	tcase_add_test(tc, np_beats_reserved_and_stops_walk);
	suite_add_tcase(s, tc);

	tc = tcase_create("reserved");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rsvd_codes);
	tcase_add_test(tc, rsvd_beats_protection);
	tcase_add_test(tc, rsvd_stops_walk_before_lower_levels);
	tcase_add_test(tc, maxphyaddr_widths);
	tcase_add_test(tc, nxe0_bit63_reserved);
	tcase_add_test(tc, large_2m_pat_and_reserved);
	tcase_add_test(tc, large_1g_pat_and_reserved);
	tcase_add_test(tc, no_page1gb);
	tcase_add_test(tc, amd_pml4e_bit8);
	suite_add_tcase(s, tc);

	tc = tcase_create("rights");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, prot_user);
	tcase_add_test(tc, prot_wp);
	tcase_add_test(tc, prot_xd_nonleaf);
	tcase_add_test(tc, smep_rules);
	tcase_add_test(tc, smap_rules);
	tcase_add_test(tc, implicit_accesses);
	tcase_add_test(tc, pkey_codes);
	tcase_add_test(tc, pkey_leaf_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("accessed-dirty");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ad_read_write);
	tcase_add_test(tc, ad_write_sets_a_and_d_at_once);
	tcase_add_test(tc, ad_untouched_on_faults);
	tcase_add_test(tc, ad_recursive_entry_once);
	tcase_add_test(tc, ad_commit_detects_change);
	tcase_add_test(tc, ad_concurrent_edits);
	suite_add_tcase(s, tc);

	tc = tcase_create("machine");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, noncanonical_gp);
	tcase_add_test(tc, cr2_full_address);
	tcase_add_test(tc, bus_outside_memory);
	tcase_add_test(tc, cr3_reserved_bits);
	tcase_add_test(tc, init_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("tlb");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tlb_stale_until_invlpg);
	tcase_add_test(tc, tlb_stale_downgrade);
	tcase_add_test(tc, tlb_write_hit_on_clean_entry);
	tcase_add_test(tc, tlb_spurious_fault_after_upgrade);
	tcase_add_test(tc, tlb_hit_judged_with_current_state);
	tcase_add_test(tc, tlb_cr3_and_global);
	tcase_add_test(tc, tlb_invlpg_large_page);
	tcase_add_test(tc, tlb_eviction_counts_large);
	tcase_add_test(tc, tlb_flushing_control_writes);
	tcase_add_test(tc, probe_has_no_side_effects);
	tcase_add_test(tc, trace_of_walk_and_hit);
	tcase_add_test(tc, quick_walk_matches_full_walk);
	suite_add_tcase(s, tc);

	tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, format_entries);
	tcase_add_test(tc, format_pf_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_check_suite(hw_suite());
}
