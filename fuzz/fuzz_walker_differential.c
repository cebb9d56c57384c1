/*
 * Differential fuzzing of the simulated processor's page walk.
 *
 * The input builds page tables in a 64 KiB physical memory (entries biased towards present,
 * valid-looking ones that point inside it, with reserved, XD, PS, PAT, G, key and ignored bits
 * mixed in), a processor state (CR3, CR0.WP, CR4.SMEP/SMAP/PKE/PGE, EFLAGS.AC, PKRU, EFER.NXE,
 * MAXPHYADDR 36..52, vendor, Page1GB) and a list of accesses. Every access is answered twice:
 *
 *  - by hw-x86 (x86_probe, then x86_translate, then x86_translate again), and
 *  - by ref_translate below, a second model written straight from the pseudo-code and tables
 *    of the Intel SDM vol. 3A ch. 4 (4-level paging, rights, A/D, reserved bits, #PF error
 *    codes): no TLB, no shortcuts, and no code,
 *    macro or constant shared with hw-x86 (only the API types are used, to call it).
 *
 * They must agree exactly on the outcome (pa, #PF, #GP, or a walk leaving physical memory),
 * the physical address, the #PF error code, CR2, and on every byte of physical memory
 * afterwards (A on every entry used and D on the leaf of a write, only on success; nothing
 * written by a fault or by x86_probe). The second x86_translate must repeat the first's answer
 * and write nothing: with no table edited in between, a TLB may not change a verdict.
 *
 * hw-x86 also answers a TLB miss with no trace by a quick walk (x86_walk_quick) that gives
 * up on reserved bits and entries outside physical memory, and tells the story of a walk
 * (x86_walk_tables) only when asked. Every access is therefore also put to both walks
 * directly, through hw-x86's internal header: the quick one must give up exactly when the
 * full one stops at a reserved bit or outside physical memory, and otherwise agree with it on
 * every field it fills (entries read, outcome, error code, address, rights, key, page size).
 *
 * The hw TLB is flushed before an access whenever the tables were edited (or CR3 reloaded,
 * which may legally keep global entries) since the last flush; otherwise it is left warm, so
 * TLB hits are compared against full walks too, across control-register changes and INVLPGs.
 * Any disagreement prints both answers and traps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "x86_cpu.h"
#include "arch/x86_64/swap_entry.h" /* swap entries: not present to both models */
#include "x86_internal.h" /* x86_walk_quick and x86_walk_tables, for the quick-versus-full check */

#define MEM_SIZE 0x10000u
#define MEM_PAGES (MEM_SIZE / 4096u)
#define MAX_OPS 96

/* ------------------------------------------------------------------------------------------
 * The reference model. Numbers are spelled out from the manual's tables on purpose.
 */

struct ref_cpu {
	unsigned maxphyaddr;
	bool amd;
	bool page1gb;
	bool wp, smep, smap, ac, pke, nxe;
	uint32_t pkru;
	uint64_t cr3;
};

enum ref_outcome { REF_PA, REF_PF, REF_GP, REF_BUS };

struct ref_result {
	enum ref_outcome outcome;
	uint64_t pa;     /* REF_PA */
	uint32_t err;    /* REF_PF */
	uint64_t bad_pa; /* REF_BUS */
	uint64_t stop;   /* REF_PF at a non-present entry: that entry */
};

/* bits(hi..lo), inclusive, hi >= lo */
static uint64_t bits(unsigned hi, unsigned lo)
{
	uint64_t upto_hi = hi == 63 ? ~0ull : (1ull << (hi + 1)) - 1;

	return upto_hi & ~((1ull << lo) - 1);
}

static uint64_t bit(unsigned n)
{
	return 1ull << n;
}

static uint64_t load_entry(const uint8_t *mem, uint64_t pa)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | mem[pa + (uint64_t)i];
	return v;
}

static void or_entry_bit(uint8_t *mem, uint64_t pa, unsigned n)
{
	mem[pa + n / 8] |= (uint8_t)(1u << (n % 8));
}

/* The reserved bits of a present entry read at `level` (4 = PML4 .. 1 = PT). */
static uint64_t ref_reserved(const struct ref_cpu *c, int level, uint64_t e)
{
	uint64_t r = 0;
	bool ps = (e >> 7) & 1;

	if (c->maxphyaddr < 52)
		r |= bits(51, c->maxphyaddr);
	if (!c->nxe)
		r |= bit(63);
	if (level == 4) {
		r |= bit(7);
		if (c->amd)
			r |= bit(8);
	} else if (level == 3 && ps) {
		if (c->page1gb)
			r |= bits(29, 13);
		else
			r |= bit(7);
	} else if (level == 2 && ps) {
		r |= bits(20, 13);
	}
	return e & r;
}

/* The access rights: user/supervisor, R/W, XD with CR0.WP, SMEP, SMAP and EFLAGS.AC. */
static bool ref_allowed(const struct ref_cpu *c, int kind, bool user, bool implicit, bool R,
			bool U, bool X)
{
	bool smap_blocks = U && c->smap && (implicit || !c->ac);

	if (kind == 0) /* read */
		return user ? U : !smap_blocks;
	if (kind == 1) /* write */
		return user ? (U && R) : (!smap_blocks && (R || !c->wp));
	/* fetch */
	return user ? (U && !X) : (!X && !(U && c->smep));
}

/*
 * The 4-level walk, with protection keys, the A/D updates and the #PF error code.
 * kind: 0 read, 1 write, 2 fetch. cpl3: the access is made at CPL 3. commit: write
 * A/D into mem on success (false for a side-effect-free probe).
 */
static struct ref_result ref_translate(const struct ref_cpu *c, uint8_t *mem, uint64_t memsize,
				       uint64_t va, int kind, bool cpl3, bool implicit,
				       bool commit)
{
	struct ref_result res = {REF_PF, 0, 0, 0, 0};
	uint64_t top = va >> 47;
	bool user = cpl3 && !implicit;
	uint32_t ec = 0;
	uint64_t table, leaf = 0, used[4];
	int nused = 0, leaf_level = 0;
	bool R = true, U = true, X = false;

	if (top != 0 && top != 0x1ffff) {
		res.outcome = REF_GP;
		return res;
	}
	if (kind == 1)
		ec |= 0x2;
	if (user)
		ec |= 0x4;
	if (kind == 2 && (c->nxe || c->smep))
		ec |= 0x10;

	table = c->cr3 & bits(51, 12);
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t index = (va >> shift) & 0x1ff;
		uint64_t addr = table + 8 * index;
		uint64_t e;

		if (addr + 8 > memsize) {
			res.outcome = REF_BUS;
			res.bad_pa = addr;
			return res;
		}
		e = load_entry(mem, addr);
		used[nused++] = addr;
		if (!(e & 1)) {
			res.err = ec;
			res.stop = e;
			return res;
		}
		if (ref_reserved(c, level, e)) {
			res.err = ec | 0x1 | 0x8;
			return res;
		}
		R = R && ((e >> 1) & 1);
		U = U && ((e >> 2) & 1);
		X = X || ((e >> 63) & 1);
		if (level == 1 || ((level == 2 || level == 3) && ((e >> 7) & 1))) {
			leaf = e;
			leaf_level = level;
			break;
		}
		table = e & bits(51, 12);
	}
	if (!c->nxe)
		X = false;

	bool pk = false;

	if (c->pke && kind != 2 && U) {
		unsigned key = (unsigned)((leaf >> 59) & 15);
		bool ad = (c->pkru >> (2 * key)) & 1;
		bool wd = (c->pkru >> (2 * key + 1)) & 1;

		if (ad)
			pk = true;
		else if (kind == 1 && wd && (user || c->wp))
			pk = true;
	}
	if (!ref_allowed(c, kind, user, implicit, R, U, X) || pk) {
		res.err = ec | 0x1 | (pk ? 0x20 : 0);
		return res;
	}

	if (commit) {
		for (int i = 0; i < nused; i++)
			or_entry_bit(mem, used[i], 5);
		if (kind == 1)
			or_entry_bit(mem, used[nused - 1], 6);
	}
	res.outcome = REF_PA;
	if (leaf_level == 1)
		res.pa = (leaf & bits(51, 12)) | (va & bits(11, 0));
	else if (leaf_level == 2)
		res.pa = (leaf & bits(51, 21)) | (va & bits(20, 0));
	else
		res.pa = (leaf & bits(51, 30)) | (va & bits(29, 0));
	return res;
}

/* ------------------------------------------------------------------------------------------
 * The harness.
 */

static _Alignas(4096) uint8_t hw_mem[MEM_SIZE];
static _Alignas(4096) uint8_t ref_mem[MEM_SIZE];

static const char *const kind_names[] = {"read", "write", "fetch"};

static void describe_state(const struct ref_cpu *c)
{
	fprintf(stderr,
		"state: cr3=%#" PRIx64 " wp=%d smep=%d smap=%d ac=%d pke=%d nxe=%d pkru=%#x maxphyaddr=%u vendor=%s page1gb=%d\n",
		c->cr3, c->wp, c->smep, c->smap, c->ac, c->pke, c->nxe, c->pkru, c->maxphyaddr,
		c->amd ? "amd" : "intel", c->page1gb);
}

static void print_ref(const char *who, const struct ref_result *r)
{
	static const char *const names[] = {"pa", "pf", "gp", "bus"};

	fprintf(stderr, "  %-10s %s pa=%#" PRIx64 " err=%#x bad_pa=%#" PRIx64 "\n", who,
		names[r->outcome], r->pa, r->err, r->bad_pa);
}

static void print_hw(const char *who, const struct x86_xlate *x)
{
	static const char *const names[] = {"pa", "pf", "gp", "bus"};

	fprintf(stderr, "  %-10s %s pa=%#" PRIx64 " err=%#x bad_pa=%#" PRIx64 "\n", who,
		names[x->outcome], x->pa, x->err, x->bad_pa);
}

/* Prints the walk of va through the reference memory, entry by entry. */
static void dump_path(const struct ref_cpu *c, uint64_t va)
{
	uint64_t table = c->cr3 & bits(51, 12);

	for (int level = 4; level >= 1; level--) {
		uint64_t addr = table + 8 * ((va >> (12 + 9 * (level - 1))) & 0x1ff);
		uint64_t e;

		if (addr + 8 > MEM_SIZE) {
			fprintf(stderr, "  level %d entry at %#" PRIx64 ": outside memory\n", level, addr);
			return;
		}
		e = load_entry(ref_mem, addr);
		fprintf(stderr, "  level %d entry at %#" PRIx64 " = %#018" PRIx64 " (hw memory %#018" PRIx64 ")\n",
			level, addr, e, load_entry(hw_mem, addr));
		if (!(e & 1) || level == 1 || (level < 4 && (e & 0x80)))
			return;
		table = e & bits(51, 12);
	}
}

static _Noreturn void divergence(const char *what, const struct ref_cpu *c, uint64_t va,
				 int kind, bool cpl3, bool implicit)
{
	fprintf(stderr, "walker divergence: %s\n  access %#" PRIx64 " %s %s%s\n", what, va,
		kind_names[kind], cpl3 ? "user" : "supervisor", implicit ? " implicit" : "");
	describe_state(c);
	dump_path(c, va);
	for (uint64_t off = 0; off < MEM_SIZE; off += 8)
		if (load_entry(hw_mem, off) != load_entry(ref_mem, off))
			fprintf(stderr, "  memory differs at %#" PRIx64 ": hw %#018" PRIx64 " ref %#018" PRIx64 "\n",
				off, load_entry(hw_mem, off), load_entry(ref_mem, off));
	__builtin_trap();
}

static bool same(const struct x86_xlate *x, const struct ref_result *r)
{
	switch (r->outcome) {
	case REF_PA:
		return x->outcome == X86_OK && x->pa == r->pa;
	case REF_PF:
		return x->outcome == X86_PF && x->err == r->err;
	case REF_GP:
		return x->outcome == X86_GP;
	case REF_BUS:
		return x->outcome == X86_BUS && x->bad_pa == r->bad_pa;
	}
	return false;
}

static bool same_xlate(const struct x86_xlate *a, const struct x86_xlate *b)
{
	return a->outcome == b->outcome && a->pa == b->pa && a->err == b->err &&
	       a->bad_pa == b->bad_pa;
}

/* A table index: mostly a few low or high slots, so that walks meet the entries poked. */
static unsigned pick_index(uint8_t b)
{
	switch (b >> 6) {
	case 0:
		return b & 7;
	case 1:
		return 511 - (b & 7);
	case 2:
		return 256 + (b & 7);
	default:
		return (unsigned)(b & 0x3f) << 3;
	}
}

/* An entry: present and pointing inside memory more often than not, with odd bits mixed in. */
static uint64_t make_entry(struct fuzz_input *in)
{
	uint8_t f1 = fuzz_u8(in), f2 = fuzz_u8(in), tgt = fuzz_u8(in), x = fuzz_u8(in);
	uint64_t e = f1;

	if (!(f2 & 0x20))
		e |= 1;
	if (e & 0x80) {
		/* a large leaf: a 2 MiB or 1 GiB frame number */
		e |= (uint64_t)(tgt & 0x3f) << ((tgt & 0x40) ? 30 : 21);
	} else {
		uint64_t page = (tgt & 0x80) ? tgt : (uint64_t)(tgt % MEM_PAGES);

		e |= page << 12;
	}
	if (f2 & 0x01)
		e |= bit(8);
	if (f2 & 0x02)
		e |= bit(63);
	if (f2 & 0x04)
		e |= (uint64_t)(x & 15) << 59;
	if (f2 & 0x08) {
		unsigned hb = x >> 4;

		e |= hb < 8 ? bit(13 + 2 * hb) : hb == 15 ? bit(51) : bit(36 + 2 * (hb - 8));
	}
	if (f2 & 0x10)
		e |= bit(12);
	if (f2 & 0x40)
		e |= (uint64_t)(x & 7) << 9;
	if (f2 & 0x80)
		e |= (uint64_t)(x & 0x7f) << 52;
	/* non-present, and G asked for (meaningless there): a swap entry as the kernel writes
	 * it (core/arch/x86_64/swap_entry.h), for a slot spread over the 40 bits */
	if ((f2 & 0x21) == 0x21)
		e = swp_entry_make(f2 & 0x04 ? x & 15 : 0,
				   ((uint64_t)tgt << 32 | (uint64_t)x << 16 | f1) & SWP_SLOT_MAX);
	return e;
}

static void store_both(uint64_t pa, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		hw_mem[pa + (uint64_t)i] = (uint8_t)(v >> (8 * i));
		ref_mem[pa + (uint64_t)i] = (uint8_t)(v >> (8 * i));
	}
}

static uint64_t make_va(struct fuzz_input *in)
{
	uint8_t sel = fuzz_u8(in);
	uint64_t va;

	if (sel < 0x18)
		return fuzz_u64(in); /* anything, non-canonical included */
	va = (uint64_t)pick_index(fuzz_u8(in)) << 39;
	va |= (uint64_t)pick_index(fuzz_u8(in)) << 30;
	va |= (uint64_t)pick_index(fuzz_u8(in)) << 21;
	va |= (uint64_t)pick_index(fuzz_u8(in)) << 12;
	va |= fuzz_u16(in) & 0xfff;
	if (va & bit(47))
		va |= bits(63, 48);
	return va;
}

/* MOV to CR3 on both sides: hw refuses bits 63:M (#GP), and so must the model's rule. */
static void write_cr3(struct x86_cpu *cpu, struct ref_cpu *c, uint64_t v)
{
	bool ref_ok = c->maxphyaddr >= 64 || (v >> c->maxphyaddr) == 0;
	bool hw_ok = x86_write_cr3(cpu, v);

	if (hw_ok != ref_ok) {
		fprintf(stderr, "walker divergence: MOV to CR3 of %#" PRIx64 ": hw %s, reference %s\n",
			v, hw_ok ? "accepts" : "#GP", ref_ok ? "accepts" : "#GP");
		describe_state(c);
		__builtin_trap();
	}
	if (ref_ok)
		c->cr3 = v;
}

static uint64_t make_cr3(struct fuzz_input *in)
{
	uint16_t v = fuzz_u16(in);
	uint64_t cr3 = (uint64_t)(v & 0x1f) << 12; /* pages 16..31 lie outside memory */

	cr3 |= (uint64_t)((v >> 5) & 3) << 3;     /* PWT, PCD */
	if (v & 0x8000)
		cr3 |= bit(36 + ((v >> 8) & 0x1f) % 28); /* an address bit, or a reserved one */
	return cr3;
}

static void print_walk(const char *who, const struct x86_walk *w)
{
	fprintf(stderr, "  %-10s outcome %d err %#x pa %#" PRIx64 " entries %d", who, (int)w->outcome,
		w->err, w->pa, w->n);
	for (int i = 0; i < w->n; i++)
		fprintf(stderr, " [%#" PRIx64 "]=%#" PRIx64, w->entry_pa[i], w->entry[i]);
	fprintf(stderr, " rw %d us %d xd %d pkey %u shift %u leaf %#" PRIx64 " all %#" PRIx64 "\n",
		w->rw, w->us, w->xd, w->pkey, w->page_shift, w->leaf, w->all);
}

/* The quick walk against the full one, on the same state; neither writes anything. */
static void check_quick_walk(const struct x86_cpu *cpu, const struct ref_cpu *c, uint64_t va,
			     enum x86_access k, int kind, bool cpl3, bool implicit)
{
	struct x86_walk full, quick;
	bool answered, same_walk, leaf;

	if ((va >> 47) != 0 && (va >> 47) != 0x1ffff)
		return; /* both assume a canonical address */
	memset(&full, 0, sizeof(full));
	memset(&quick, 0, sizeof(quick));
	x86_walk_tables(cpu, va, k, cpl3, implicit, &full);
	answered = x86_walk_quick(cpu, va, k, cpl3, implicit, &quick);
	if (memcmp(hw_mem, ref_mem, MEM_SIZE) != 0)
		divergence("a walk wrote to memory", c, va, kind, cpl3, implicit);
	if (!answered) {
		if (full.outcome == X86_BUS || full.stop == X86_STOP_RESERVED)
			return;
		print_walk("full", &full);
		divergence("the quick walk gave up on a walk it should answer", c, va, kind, cpl3,
			   implicit);
	}
	same_walk = quick.n == full.n && quick.outcome == full.outcome &&
		    full.outcome != X86_BUS && full.stop != X86_STOP_RESERVED;
	for (int i = 0; same_walk && i < full.n; i++)
		same_walk = quick.entry_pa[i] == full.entry_pa[i] && quick.entry[i] == full.entry[i];
	if (same_walk && full.outcome == X86_PF)
		same_walk = quick.err == full.err;
	if (same_walk && full.outcome == X86_OK)
		same_walk = quick.pa == full.pa;
	/* the rights, key and size are those of a leaf: a success or a denial */
	leaf = full.stop == X86_STOP_LEAF || full.stop == X86_STOP_PROTECTION ||
	       full.stop == X86_STOP_PKEY;
	if (same_walk && leaf)
		same_walk = quick.rw == full.rw && quick.us == full.us && quick.xd == full.xd &&
			    quick.pkey == full.pkey && quick.page_shift == full.page_shift &&
			    quick.leaf == full.leaf && quick.all == full.all;
	if (!same_walk) {
		print_walk("quick", &quick);
		print_walk("full", &full);
		divergence("the quick walk disagrees with the full walk", c, va, kind, cpl3,
			   implicit);
	}
}

static void check_access(struct x86_cpu *cpu, const struct ref_cpu *c, uint64_t va, int kind,
			 bool cpl3, bool implicit, bool flush)
{
	enum x86_access k = kind == 0 ? X86_READ : kind == 1 ? X86_WRITE : X86_FETCH;
	struct ref_result probe_ref, ref;
	struct x86_xlate probe, first, second;
	uint64_t cr2_before;

	check_quick_walk(cpu, c, va, k, kind, cpl3, implicit);

	/* x86_probe: the same verdict, and no side effect at all */
	probe_ref = ref_translate(c, ref_mem, MEM_SIZE, va, kind, cpl3, implicit, false);
	x86_probe(cpu, va, k, cpl3, implicit, &probe, NULL);
	if (!same(&probe, &probe_ref)) {
		print_hw("x86_probe", &probe);
		print_ref("reference", &probe_ref);
		divergence("x86_probe disagrees with the reference", c, va, kind, cpl3, implicit);
	}
	if (memcmp(hw_mem, ref_mem, MEM_SIZE) != 0)
		divergence("x86_probe wrote to memory", c, va, kind, cpl3, implicit);

	/* x86_translate: verdict, A/D in memory, CR2 */
	if (flush)
		x86_flush_all(cpu);
	cr2_before = cpu->cr2;
	ref = ref_translate(c, ref_mem, MEM_SIZE, va, kind, cpl3, implicit, true);
	x86_translate(cpu, va, k, cpl3, implicit, &first, NULL);
	if (!same(&first, &ref)) {
		print_hw("translate", &first);
		print_ref("reference", &ref);
		divergence(flush ? "x86_translate (flushed TLB) disagrees with the reference"
				 : "x86_translate (warm TLB) disagrees with the reference",
			   c, va, kind, cpl3, implicit);
	}
	if (memcmp(hw_mem, ref_mem, MEM_SIZE) != 0)
		divergence("accessed/dirty bits in memory differ", c, va, kind, cpl3, implicit);
	/* a swap entry is not present to the processor: a #PF with P=0 in the error code */
	if (ref.outcome == REF_PF && pte_is_swap(ref.stop) &&
	    (first.outcome != X86_PF || (first.err & 1)))
		divergence("a swap entry did not fault as not present", c, va, kind, cpl3, implicit);
	if (cpu->cr2 != (ref.outcome == REF_PF ? va : cr2_before)) {
		fprintf(stderr, "  cr2 = %#" PRIx64 "\n", cpu->cr2);
		divergence("CR2 is wrong after the access", c, va, kind, cpl3, implicit);
	}

	/* the same access again: the TLB may not change the answer, and nothing is written */
	x86_translate(cpu, va, k, cpl3, implicit, &second, NULL);
	if (!same_xlate(&first, &second)) {
		print_hw("first", &first);
		print_hw("second", &second);
		divergence("a repeated x86_translate changed its answer", c, va, kind, cpl3,
			   implicit);
	}
	if (memcmp(hw_mem, ref_mem, MEM_SIZE) != 0)
		divergence("a repeated x86_translate wrote to memory", c, va, kind, cpl3, implicit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size, 0};
	struct x86_cpu cpu;
	struct ref_cpu c;
	uint8_t flags, tlb_shift;
	bool stale = true;

	memset(hw_mem, 0, MEM_SIZE);
	memset(ref_mem, 0, MEM_SIZE);
	memset(&c, 0, sizeof(c));

	flags = fuzz_u8(&in);
	c.maxphyaddr = 36 + fuzz_u8(&in) % 17;
	tlb_shift = fuzz_u8(&in) % 7;
	if (!x86_cpu_init(&cpu, (struct x86_phys){hw_mem, MEM_SIZE}, 1u << tlb_shift,
			  c.maxphyaddr))
		__builtin_trap();
	c.amd = flags & 0x40;
	c.page1gb = !(flags & 0x80);
	cpu.vendor = c.amd ? X86_AMD : X86_INTEL;
	cpu.page1gb = c.page1gb;

	/* the reset state, as x86_cpu_init documents it: WP=1, NXE=1, everything else clear */
	c.wp = true;
	c.nxe = true;
	x86_set_wp(&cpu, c.wp = flags & 0x01);
	x86_set_smep(&cpu, c.smep = flags & 0x02);
	x86_set_smap(&cpu, c.smap = flags & 0x04);
	x86_set_ac(&cpu, c.ac = flags & 0x08);
	x86_set_pke(&cpu, c.pke = flags & 0x10);
	x86_set_nxe(&cpu, c.nxe = !(flags & 0x20));
	c.pkru = fuzz_u32(&in);
	x86_set_pkru(&cpu, c.pkru);
	write_cr3(&cpu, &c, make_cr3(&in));

	for (int op = 0; op < MAX_OPS && fuzz_more(&in); op++) {
		uint8_t o = fuzz_u8(&in);

		switch (o % 8) {
		case 0:
		case 1: { /* one entry */
			uint64_t table = (uint64_t)(fuzz_u8(&in) % MEM_PAGES) << 12;
			unsigned idx = pick_index(fuzz_u8(&in));

			store_both(table + 8 * idx, make_entry(&in));
			stale = true;
			break;
		}
		case 2: { /* a whole table: one entry repeated, or a run of consecutive frames */
			static const uint64_t strides[] = {0, 1ull << 12, 1ull << 21, 1ull << 30};
			uint64_t table = (uint64_t)(fuzz_u8(&in) % MEM_PAGES) << 12;
			uint64_t stride = strides[fuzz_u8(&in) & 3];
			uint64_t e = make_entry(&in);

			for (uint64_t i = 0; i < 512; i++)
				store_both(table + 8 * i, e + i * stride);
			stale = true;
			break;
		}
		case 3: { /* raw bytes */
			uint64_t off = (uint64_t)(fuzz_u16(&in) % (MEM_SIZE / 8)) * 8;

			store_both(off, fuzz_u64(&in));
			stale = true;
			break;
		}
		case 4: { /* a control register write, with its architectural TLB effect */
			uint8_t w = fuzz_u8(&in);
			bool on = w & 0x80;

			switch (w % 10) {
			case 0:
				x86_set_wp(&cpu, c.wp = on);
				break;
			case 1:
				x86_set_smep(&cpu, c.smep = on);
				break;
			case 2:
				x86_set_smap(&cpu, c.smap = on);
				break;
			case 3:
				x86_set_ac(&cpu, c.ac = on);
				break;
			case 4:
				x86_set_pke(&cpu, c.pke = on);
				break;
			case 5:
				x86_set_nxe(&cpu, c.nxe = on);
				break;
			case 6:
				x86_set_pkru(&cpu, c.pkru = fuzz_u32(&in));
				break;
			case 7:
				/* global entries may legally survive: not comparable until flushed */
				write_cr3(&cpu, &c, make_cr3(&in));
				stale = true;
				break;
			case 8:
				x86_set_pge(&cpu, on);
				break;
			default:
				/* INVLPG of any address: dropping entries is always allowed */
				x86_invlpg(&cpu, make_va(&in));
				break;
			}
			break;
		}
		default: { /* an access */
			uint8_t a = fuzz_u8(&in);
			uint64_t va = make_va(&in);

			check_access(&cpu, &c, va, a % 3, (a >> 2) & 1, (a >> 3) & 1, stale);
			stale = false;
			break;
		}
		}
	}
	x86_cpu_destroy(&cpu);
	return 0;
}
