/*
 * Pieces of the simulated processor shared between its files: the rights verdict (used both
 * by the walk and by a TLB hit, because a cached translation keeps only the page bits, never
 * the verdict), the inline TLB probe of the access fast path, and physical-memory accessors.
 *
 * Rules kept here:
 *  - a user-mode access is CPL 3 and not implicit; implicit accesses are supervisor accesses
 *    at any CPL and are always SMAP-checked (EFLAGS.AC never overrides SMAP for them);
 *  - the verdict is made against the CURRENT CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE,
 *    EFLAGS.AC and PKRU, so a TLB hit judged after one of those changed is judged as the
 *    hardware judges it;
 *  - XD only counts when EFER.NXE=1 (with NXE=0 the bit is reserved and the walk never
 *    gets this far);
 *  - the protection-key check applies to data accesses to user-mode addresses only, uses
 *    the leaf's key, and, when it denies, the error code carries PK even if an ordinary
 *    protection violation is also present.
 */
#ifndef MMSIM_HW_X86_INTERNAL_H
#define MMSIM_HW_X86_INTERNAL_H

#include "x86_cpu.h"

/* Which rule denied an access; X86_DENY_NONE allows it. PK denials sort last. */
enum x86_deny {
	X86_DENY_NONE,
	X86_DENY_USER_US,	/* user access, U/S=0 somewhere on the path */
	X86_DENY_USER_RW,	/* user write, R/W=0 somewhere on the path */
	X86_DENY_USER_XD,	/* user fetch, XD=1 somewhere on the path */
	X86_DENY_SUP_XD,	/* supervisor fetch, XD=1 */
	X86_DENY_SMEP,		/* supervisor fetch from a user-mode address */
	X86_DENY_SMAP_AC,	/* explicit supervisor data access, user page, AC=0 */
	X86_DENY_SMAP_IMPLICIT,	/* implicit supervisor data access, user page */
	X86_DENY_SUP_WP,	/* supervisor write, R/W=0, CR0.WP=1 */
	X86_DENY_PK_AD,		/* PKRU.AD=1 for the page's key */
	X86_DENY_PK_WD,		/* PKRU.WD=1 for the page's key, write */
};

static inline bool x86_deny_is_pk(enum x86_deny d)
{
	return d >= X86_DENY_PK_AD;
}

const char *x86_deny_reason(enum x86_deny d);

static inline bool x86_canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

/* The error-code bits that describe the access itself (W, U, I/D). */
static inline uint32_t x86_access_ec(const struct x86_cpu *cpu, enum x86_access kind,
				     bool usermode)
{
	uint32_t ec = 0;

	if (kind == X86_WRITE)
		ec |= X86_PF_W;
	if (usermode)
		ec |= X86_PF_U;
	if (kind == X86_FETCH && (cpu->efer_nxe || cpu->cr4_smep))
		ec |= X86_PF_ID;
	return ec;
}

/*
 * rw/us are the AND over the walk, xd the OR, pkey the leaf's bits 62:59. The ordinary
 * rules are judged first; a PK denial then replaces the ordinary one, because the error code
 * must carry PK whenever the key check fails.
 */
static inline enum x86_deny x86_judge(const struct x86_cpu *cpu, enum x86_access kind,
				      bool usermode, bool implicit, bool rw, bool us, bool xd,
				      unsigned pkey)
{
	enum x86_deny d = X86_DENY_NONE;
	bool xd_on = xd && cpu->efer_nxe;

	if (usermode) {
		if (!us)
			d = X86_DENY_USER_US;
		else if (kind == X86_WRITE && !rw)
			d = X86_DENY_USER_RW;
		else if (kind == X86_FETCH && xd_on)
			d = X86_DENY_USER_XD;
	} else if (kind == X86_FETCH) {
		if (xd_on)
			d = X86_DENY_SUP_XD;
		else if (us && cpu->cr4_smep)
			d = X86_DENY_SMEP;
	} else {
		if (us && cpu->cr4_smap && (implicit || !cpu->rflags_ac))
			d = implicit ? X86_DENY_SMAP_IMPLICIT : X86_DENY_SMAP_AC;
		else if (kind == X86_WRITE && !rw && cpu->cr0_wp)
			d = X86_DENY_SUP_WP;
	}

	if (cpu->cr4_pke && kind != X86_FETCH && us) {
		uint32_t bits = cpu->pkru >> (2 * (pkey & 15));

		if (bits & 1)
			d = X86_DENY_PK_AD;
		else if (kind == X86_WRITE && (bits & 2) && (usermode || cpu->cr0_wp))
			d = X86_DENY_PK_WD;
	}
	return d;
}

/* Entries are little-endian quadwords; these keep the walk right on a big-endian host too. */
static inline uint64_t x86_le64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

/*
 * Other simulated CPUs are threads that edit the same tables, so every entry read is an
 * atomic load. Acquire, as the processor's walk is ordered (x86 loads are): the kernel fills
 * a fresh table with plain stores and publishes it with one release store of the entry
 * above it, and a walk that reads that entry must then see the fresh table's contents. On
 * an x86 host an acquire load is the same instruction as a plain one.
 */
static inline uint64_t x86_phys_load(const struct x86_phys *phys, uint64_t pa)
{
	return x86_le64(__atomic_load_n((const uint64_t *)(const void *)(phys->base + pa),
					__ATOMIC_ACQUIRE));
}

/* Compare-exchange of one entry: false if it no longer holds expect. */
static inline bool x86_phys_cas(const struct x86_phys *phys, uint64_t pa, uint64_t expect,
				uint64_t desired)
{
	uint64_t e = x86_le64(expect);

	return __atomic_compare_exchange_n((uint64_t *)(void *)(phys->base + pa), &e,
					   x86_le64(desired), false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/* ---- the walk (x86_walk.c) ---- */

/* Everything one walk learned; the trace and the TLB fill are made from it. */
struct x86_walk {
	int n;				/* entries read */
	uint64_t entry_pa[4];
	uint64_t entry[4];		/* as read; step i is level 4 - i */

	enum x86_outcome outcome;
	uint32_t err;
	uint64_t pa;			/* X86_OK */
	uint64_t bad_pa;		/* X86_BUS */
	enum x86_stop stop;
	int stop_level;
	uint64_t rsvd_bits;
	const char *reason;

	/* valid when the walk reached a leaf */
	bool rw, us, xd;
	unsigned pkey;
	uint8_t page_shift;
	uint64_t leaf;
	uint64_t all;			/* AND of the entries used (whether all have A) */
};

/* The read-only walk and verdict (canonical address already checked). */
void x86_walk_tables(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
		     bool implicit, struct x86_walk *w);
/*
 * The same walk for a caller that wants no narration: it fills only n, entry_pa, entry,
 * outcome, err (#PF) and pa (X86_OK), and at a leaf the rights, key, page_shift, leaf and all.
 * Returns false, having touched nothing but w, when the walk meets a reserved bit or an entry
 * outside physical memory: x86_walk_tables then tells the whole story.
 */
bool x86_walk_quick(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
		    bool implicit, struct x86_walk *w);
/* True when every entry used already has A (and the leaf D, for a write): nothing to commit. */
static inline bool x86_walk_ad_done(const struct x86_walk *w, enum x86_access kind)
{
	uint64_t leaf_want = kind == X86_WRITE ? X86_PTE_A | X86_PTE_D : X86_PTE_A;

	return (w->all & X86_PTE_A) && (w->leaf & leaf_want) == leaf_want;
}
/* Sets A (and D) after a successful walk; false if an entry changed and the walk must restart. */
bool x86_walk_commit_ad(struct x86_cpu *cpu, struct x86_walk *w, enum x86_access kind);
void x86_walk_to_trace(const struct x86_walk *w, struct x86_walk_trace *trace);
/* The reserved bits of entry e read at level, for this CPU's MAXPHYADDR/NXE/vendor/Page1GB. */
uint64_t x86_reserved_bits(const struct x86_cpu *cpu, int level, uint64_t e);

/* ---- the TLB (x86_tlb.c) ---- */

static inline struct x86_tlb_entry *x86_tlb_slot(const struct x86_tlb *tlb, uint64_t va)
{
	return &tlb->entries[(va >> 12) & tlb->mask];
}

static inline uint64_t x86_tlb_tag(uint64_t va)
{
	return (va >> 12) | X86_TLB_VALID;
}

/*
 * Caches a successful walk in va's slot, with allow as the slot's first verdicts. Inline (the
 * last step of every miss, where a call cost a fifth of the fill); x86_tlb.c states its rules.
 */
static inline void x86_tlb_fill(struct x86_cpu *cpu, uint64_t va, const struct x86_walk *w,
				uint32_t allow)
{
	struct x86_tlb *tlb = &cpu->tlb;
	struct x86_tlb_entry *s = x86_tlb_slot(tlb, va);
	unsigned shift = w->page_shift;
	uint64_t page_mask = (1ull << shift) - 1;
	uint64_t leaf = w->leaf;

	tlb->large_slices += (uint32_t)(shift > 12) - (uint32_t)(s->vpn_tag && s->page_shift > 12);
	s->vpn_tag = x86_tlb_tag(va);
	s->pa_page = (leaf & X86_ADDR_MASK & ~page_mask) | (va & page_mask & ~0xfffull);
	s->allow = allow;
	s->allow_gen = cpu->rights_gen;
	s->leaf_pa = w->entry_pa[w->n - 1];
	s->page_shift = (uint8_t)shift;
	s->rw = w->rw;
	s->us = w->us;
	s->xd = w->xd;
	s->dirty = (leaf & X86_PTE_D) != 0;
	s->global = (leaf & X86_PTE_G) && cpu->cr4_pge;
	s->pkey = (uint8_t)w->pkey;
}

/* Drops every slice of any page containing va (what INVLPG and a #PF do). */
void x86_tlb_drop_va(struct x86_tlb *tlb, uint64_t va);
void x86_tlb_drop_all(struct x86_tlb *tlb);
void x86_tlb_drop_nonglobal(struct x86_tlb *tlb);

#endif
