/*
 * The hardware page walk: four levels read out of physical memory, the reserved-bit checks,
 * the rights verdict and the accessed/dirty updates.
 *
 * Rules (Intel SDM vol. 3A ch. 4, "Paging"):
 *  - Entries are read top-down. The first entry with P=0 ends the walk with #PF and P=0 in
 *    the error code; none of its other bits is looked at. The first present entry with a
 *    reserved bit ends it with #PF(P|RSVD); nothing below it is read. Both beat any rights
 *    problem elsewhere on the path, since rights are judged only after a complete walk.
 *  - Reserved when P=1: bits 51:MAXPHYADDR everywhere; bit 63 everywhere when EFER.NXE=0;
 *    PML4E bit 7 (and bit 8 on AMD); PDPTE bit 7 when the CPU lacks 1 GiB pages; bits 29:13
 *    of a 1 GiB PDPTE and bits 20:13 of a 2 MiB PDE (bit 12 there is PAT, not address).
 *  - The frame of a large page comes from its own mask (bits M-1:21 or M-1:30): the 4 KiB
 *    mask would fold the PAT bit into the physical address.
 *  - A table read whose 8 bytes are not wholly inside physical memory ends the translation
 *    with X86_BUS: the host memory beyond the arena is never touched.
 *  - A/D are written only after the verdict allowed the access: A on every entry used, D on
 *    the leaf only and only for a write. A fault writes nothing, so the 4 KiB PTE (and every
 *    other entry) stays exactly as it was; bit 6 of a non-leaf entry is never written.
 *    Each update is a compare-exchange on the whole entry; if another CPU changed the entry
 *    since it was read, the walk is redone from CR3, so a verdict is never committed on
 *    stale bits.
 */
#include "x86_internal.h"

#include <string.h>

#define PS_1G_RSVD 0x3fffe000ull	/* bits 29:13 of a 1 GiB PDPTE */
#define PS_2M_RSVD 0x001fe000ull	/* bits 20:13 of a 2 MiB PDE */

static uint64_t maxphy_hi_bits(unsigned m)
{
	if (m >= 52)
		return 0;
	return ((1ull << 52) - 1) & ~((1ull << m) - 1);
}

/* Reserved in every present entry: bits 51:M, and bit 63 while EFER.NXE=0. */
static inline uint64_t common_reserved(const struct x86_cpu *cpu)
{
	return maxphy_hi_bits(cpu->maxphyaddr) | (cpu->efer_nxe ? 0 : X86_PTE_XD);
}

static inline uint64_t level_reserved(const struct x86_cpu *cpu, int level, uint64_t e,
				      uint64_t common)
{
	uint64_t r = common;

	switch (level) {
	case 4:
		r |= X86_PTE_PS;
		if (cpu->vendor == X86_AMD)
			r |= X86_PTE_G;
		break;
	case 3:
		if (e & X86_PTE_PS)
			r |= cpu->page1gb ? PS_1G_RSVD : X86_PTE_PS;
		break;
	case 2:
		if (e & X86_PTE_PS)
			r |= PS_2M_RSVD;
		break;
	default:
		break;
	}
	return e & r;
}

uint64_t x86_reserved_bits(const struct x86_cpu *cpu, int level, uint64_t e)
{
	return level_reserved(cpu, level, e, common_reserved(cpu));
}

static const char *const not_present_reason[5] = {
	NULL,
	"P=0 in the PT entry: no page mapped here",
	"P=0 in the PD entry: no page table for this 2 MiB region",
	"P=0 in the PDPT entry: no page directory for this 1 GiB region",
	"P=0 in the PML4 entry: no PDPT for this 512 GiB region",
};

/* The most telling reserved bit wins the one-line explanation. */
static const char *reserved_reason(const struct x86_cpu *cpu, int level, uint64_t rsvd)
{
	if (level == 4 && (rsvd & X86_PTE_PS))
		return "PS=1 in a PML4 entry: bit 7 is reserved there";
	if (level == 4 && (rsvd & X86_PTE_G))
		return "bit 8 of a PML4 entry is reserved on AMD processors";
	if (level == 3 && (rsvd & X86_PTE_PS))
		return "PS=1 in a PDPT entry, but this processor has no 1 GiB pages";
	if (rsvd & X86_PTE_XD)
		return "XD (bit 63) set while EFER.NXE=0: bit 63 is reserved";
	if (rsvd & maxphy_hi_bits(cpu->maxphyaddr))
		return "address bits at or above MAXPHYADDR are set (reserved)";
	if (level == 3)
		return "bits 29:13 of a 1 GiB PDPT entry are reserved (bit 12 is PAT)";
	return "bits 20:13 of a 2 MiB PD entry are reserved (bit 12 is PAT)";
}

const char *x86_deny_reason(enum x86_deny d)
{
	switch (d) {
	case X86_DENY_NONE:
		return NULL;
	case X86_DENY_USER_US:
		return "U/S=0 on the path: supervisor-only page, user access";
	case X86_DENY_USER_RW:
		return "R/W=0 on the path: read-only page, user write";
	case X86_DENY_USER_XD:
		return "XD=1 on the path: no-execute page, user instruction fetch";
	case X86_DENY_SUP_XD:
		return "XD=1 on the path: no-execute page, supervisor instruction fetch";
	case X86_DENY_SMEP:
		return "SMEP: supervisor instruction fetch from a user page";
	case X86_DENY_SMAP_AC:
		return "SMAP: supervisor data access to a user page with EFLAGS.AC=0";
	case X86_DENY_SMAP_IMPLICIT:
		return "SMAP: implicit supervisor access to a user page (EFLAGS.AC does not apply)";
	case X86_DENY_SUP_WP:
		return "R/W=0 on the path and CR0.WP=1: supervisor write to a read-only page";
	case X86_DENY_PK_AD:
		return "protection key: PKRU access-disable bit set for the page's key";
	case X86_DENY_PK_WD:
		return "protection key: PKRU write-disable bit set for the page's key, write denied";
	}
	return NULL;
}

static void walk_stop(struct x86_walk *w, enum x86_stop stop, int level, const char *reason)
{
	w->stop = stop;
	w->stop_level = level;
	w->reason = reason;
}

/*
 * The walk, instantiated twice. With narrate (x86_walk_tables) every case is walked to its end
 * and told: stop, level, reason, the reserved bits found, the entry outside physical memory.
 * Without it (x86_walk_quick) only what a TLB miss with no trace needs is written, and the
 * walk gives up (false, nothing written but w) at the first reserved bit or entry outside
 * physical memory, leaving those rare cases to the narrated walk.
 */
static inline __attribute__((always_inline)) bool
walk(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user, bool implicit,
     struct x86_walk *w, const bool narrate)
{
	bool usermode = user && !implicit;
	/* Copied out once: each entry load is an acquire, after which cpu would be read again. */
	const struct x86_phys phys = cpu->phys;
	/* An entry at pa lies wholly inside physical memory iff pa < end. */
	uint64_t end = phys.size < 8 ? 0 : phys.size - 7;
	uint64_t table = cpu->cr3 & X86_ADDR_MASK & ~maxphy_hi_bits(cpu->maxphyaddr);
	uint64_t common = common_reserved(cpu);
	/* AND and OR of the entries used: R/W and U/S are ANDed over the walk, XD ORed, and
	 * the A/D commit needs to know whether every entry already has A. */
	uint64_t all = ~0ull, any = 0, e = 0;
	enum x86_deny deny;
	int level, n = 0;

	if (narrate) {
		w->pa = 0;
		w->bad_pa = 0;
		w->err = 0;
		w->rsvd_bits = 0;
		w->reason = NULL;
	}

#pragma GCC unroll 4
	for (level = 4; level >= 1; level--) {
		/* 8 * the level's 9-bit index */
		uint64_t pa = table + ((va >> (9 * level)) & 0xff8);
		uint64_t rsvd;

		if (pa >= end) {
			if (!narrate)
				return false;
			w->n = n;
			w->outcome = X86_BUS;
			w->bad_pa = pa;
			walk_stop(w, X86_STOP_BUS, level,
				  "the page-table entry lies outside physical memory");
			return true;
		}
		e = x86_phys_load(&phys, pa);
		w->entry_pa[n] = pa;
		w->entry[n] = e;
		n++;

		if (!(e & X86_PTE_P)) {
			w->n = n;
			w->outcome = X86_PF;
			w->err = x86_access_ec(cpu, kind, usermode);
			if (narrate)
				walk_stop(w, X86_STOP_NOT_PRESENT, level, not_present_reason[level]);
			return true;
		}
		rsvd = level_reserved(cpu, level, e, common);
		if (rsvd) {
			if (!narrate)
				return false;
			w->n = n;
			w->outcome = X86_PF;
			w->err = x86_access_ec(cpu, kind, usermode) | X86_PF_P | X86_PF_RSVD;
			w->rsvd_bits = rsvd;
			walk_stop(w, X86_STOP_RESERVED, level, reserved_reason(cpu, level, rsvd));
			return true;
		}
		all &= e;
		any |= e;
		/* PS in a PML4E, or in a PDPTE without Page1GB, was rejected as reserved above. */
		if (level == 1 || (level < 4 && (e & X86_PTE_PS)))
			break;
		table = e & X86_ADDR_MASK;
	}

	w->n = n;
	w->all = all;
	w->rw = (all & X86_PTE_RW) != 0;
	w->us = (all & X86_PTE_US) != 0;
	w->xd = (any & X86_PTE_XD) != 0;
	w->leaf = e;
	w->pkey = (unsigned)(e >> 59) & 15;
	w->page_shift = (uint8_t)(12 + 9 * (level - 1));

	deny = x86_judge(cpu, kind, usermode, implicit, w->rw, w->us, w->xd, w->pkey);
	if (deny != X86_DENY_NONE) {
		bool pk = x86_deny_is_pk(deny);

		w->outcome = X86_PF;
		w->err = x86_access_ec(cpu, kind, usermode) | X86_PF_P | (pk ? X86_PF_PK : 0);
		if (narrate)
			walk_stop(w, pk ? X86_STOP_PKEY : X86_STOP_PROTECTION, level,
				  x86_deny_reason(deny));
		return true;
	}

	{
		uint64_t size = 1ull << w->page_shift;
		uint64_t frame = e & X86_ADDR_MASK & ~(size - 1);

		w->outcome = X86_OK;
		w->pa = frame | (va & (size - 1));
		if (narrate)
			walk_stop(w, X86_STOP_LEAF, level, NULL);
	}
	return true;
}

void x86_walk_tables(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
		     bool implicit, struct x86_walk *w)
{
	(void)walk(cpu, va, kind, user, implicit, w, true);
}

bool x86_walk_quick(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
		    bool implicit, struct x86_walk *w)
{
	return walk(cpu, va, kind, user, implicit, w, false);
}

bool x86_walk_commit_ad(struct x86_cpu *cpu, struct x86_walk *w, enum x86_access kind)
{
	uint64_t now[4];
	int i, j;

	for (i = 0; i < w->n; i++) {
		uint64_t want = X86_PTE_A;
		uint64_t expect = w->entry[i];

		if (i == w->n - 1 && kind == X86_WRITE)
			want |= X86_PTE_D;
		now[i] = expect;
		if ((expect & want) == want)
			continue;
		/* A recursive mapping meets the same entry twice: it already holds our update. */
		for (j = 0; j < i; j++)
			if (w->entry_pa[j] == w->entry_pa[i])
				expect = now[j];
		now[i] = expect | want;
		if ((expect & want) == want)
			continue;
		if (!x86_phys_cas(&cpu->phys, w->entry_pa[i], expect, now[i]))
			return false;
		cpu->stats.ad_updates++;
	}
	w->leaf = now[w->n - 1];
	return true;
}

void x86_walk_to_trace(const struct x86_walk *w, struct x86_walk_trace *trace)
{
	int i;

	memset(trace, 0, sizeof(*trace));
	trace->tlb_hit = false;
	trace->nsteps = w->n;
	for (i = 0; i < w->n; i++) {
		trace->steps[i].level = 4 - i;
		trace->steps[i].index = (unsigned)(w->entry_pa[i] & 0xfff) / 8;
		trace->steps[i].entry_pa = w->entry_pa[i];
		trace->steps[i].entry = w->entry[i];
	}
	trace->stop = w->stop;
	trace->stop_level = w->stop_level;
	trace->rsvd_bits = w->rsvd_bits;
	trace->reason = w->reason;
	trace->page_shift = w->outcome == X86_OK ? w->page_shift : 0;
}
