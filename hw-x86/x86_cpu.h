/*
 * The simulated x86_64 processor: control registers, the four-level page walk with every
 * permission rule, accessed/dirty updates, the #PF error code and CR2, and a per-CPU TLB.
 *
 * This is the silicon's side of paging. It reads entries out of physical memory as the
 * hardware does and shares no code with the kernel's page-table writer (core/arch/x86_64):
 * when both agree, the encoding is right. Semantics follow the Intel SDM vol. 3A ch. 4
 * ("Paging") and the AMD APM vol. 2 ch. 5 where the vendors differ.
 *
 * Scope: IA-32e 4-level paging (CR0.PG=PE=1, CR4.PAE=1, EFER.LME=LMA=1, LA57=0), PCIDE=0.
 */
#ifndef MMSIM_HW_X86_CPU_H
#define MMSIM_HW_X86_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Physical memory as the processor sees it: [0, size) backed by host memory at base. */
struct x86_phys {
	uint8_t *base;
	uint64_t size;
};

enum x86_access { X86_READ, X86_WRITE, X86_FETCH };

enum x86_vendor { X86_INTEL, X86_AMD };

/* Architectural #PF error-code bits. */
#define X86_PF_P 0x1u
#define X86_PF_W 0x2u
#define X86_PF_U 0x4u
#define X86_PF_RSVD 0x8u
#define X86_PF_ID 0x10u
#define X86_PF_PK 0x20u

/* Entry bits. */
#define X86_PTE_P (1ull << 0)
#define X86_PTE_RW (1ull << 1)
#define X86_PTE_US (1ull << 2)
#define X86_PTE_PWT (1ull << 3)
#define X86_PTE_PCD (1ull << 4)
#define X86_PTE_A (1ull << 5)
#define X86_PTE_D (1ull << 6)
#define X86_PTE_PS (1ull << 7)
#define X86_PTE_G (1ull << 8)
#define X86_PTE_XD (1ull << 63)
#define X86_ADDR_MASK 0x000ffffffffff000ull

/*
 * One TLB entry caches one 4 KiB slice of a translation (2 MiB and 1 GiB pages are cached
 * slice by slice, remembering their size so INVLPG anywhere in the page drops every slice).
 * It holds the combined rights of the walk (AND of R/W and U/S, OR of XD), the leaf's D, G and
 * protection key: the permission verdict is made at access time against the current
 * control state, as the hardware does.
 */
struct x86_tlb_entry {
	uint64_t vpn_tag;   /* (va >> 12) | X86_TLB_VALID, 0 when empty */
	uint64_t pa_page;   /* physical address of the 4 KiB slice */
	/*
	 * The verdict cache (a simulator device, not architectural state): bit
	 * x86_tlb_allow_bit(kind, user, implicit, AC) is set once an access of that kind was
	 * judged allowed from this slot's bits (a write only with D=1) while the CPU's
	 * rights_gen was allow_gen. A control-state change bumps rights_gen, so old verdicts
	 * are never used; unset bits just take the out-of-line path, which judges afresh.
	 */
	uint32_t allow;
	uint32_t unused;
	uint64_t allow_gen;
	uint64_t leaf_pa;   /* physical address of the leaf entry (for the D update re-walk) */
	uint8_t page_shift; /* 12, 21 or 30 */
	uint8_t rw, us, xd, dirty, global, pkey;
};
#define X86_TLB_VALID (1ull << 63)

struct x86_tlb {
	struct x86_tlb_entry *entries;
	uint32_t mask;             /* number of entries - 1 (a power of two) */
	uint32_t large_slices;     /* valid slices of 2 MiB / 1 GiB pages */
};

struct x86_counters {
	uint64_t tlb_hits;
	uint64_t tlb_misses;
	uint64_t walks;        /* complete or faulting page walks */
	uint64_t flushes;      /* full or non-global flushes (CR3, CR4, flush) */
	uint64_t invlpgs;
	uint64_t page_faults;
	uint64_t gp_faults;
	uint64_t ad_updates;   /* entries whose A or D the walk set */
};

/*
 * One processor's state. Its thread writes the counters on every access and CR2 on every
 * fault, and reads phys and CR3 on every access: each CPU's state starts a cache line of its
 * own and fills whole lines, so that CPUs side by side in an array (allocated with the
 * struct's alignment: aligned_alloc, not calloc) never write a line another one reads.
 */
struct x86_cpu {
	_Alignas(64) struct x86_phys phys;
	unsigned maxphyaddr;   /* 36..52 */
	enum x86_vendor vendor;
	bool page1gb;          /* CPUID.80000001H:EDX[26] */

	uint64_t cr3;
	uint64_t cr2;
	bool cr0_wp;
	bool cr4_pge, cr4_smep, cr4_smap, cr4_pke;
	bool efer_nxe;
	bool rflags_ac;
	uint32_t pkru;
	/* Bumped by every write of CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE or PKRU (EFLAGS.AC is
	 * part of the verdict index instead): invalidates the TLB's cached verdicts. */
	uint64_t rights_gen;

	struct x86_tlb tlb;
	struct x86_counters stats;
};

/* How a translation ended. */
enum x86_outcome {
	X86_OK,  /* pa is valid */
	X86_PF,  /* page fault: err is the error code, CR2 was written */
	X86_GP,  /* non-canonical address: no walk, no CR2 */
	X86_BUS, /* the walk had to read an entry outside physical memory: bad_pa says where */
};

/* Why a walk stopped, for the narrated trace. */
enum x86_stop {
	X86_STOP_LEAF,        /* reached a leaf and the access is allowed */
	X86_STOP_NOT_PRESENT, /* P=0 at stop_level */
	X86_STOP_RESERVED,    /* a reserved bit at stop_level (rsvd_bits says which) */
	X86_STOP_PROTECTION,  /* the walk completed but the rights deny the access */
	X86_STOP_PKEY,        /* the protection key denies the access */
	X86_STOP_NONCANONICAL,
	X86_STOP_BUS,
};

struct x86_walk_step {
	int level;          /* 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT */
	unsigned index;     /* 0..511 */
	uint64_t entry_pa;  /* physical address of the entry */
	uint64_t entry;     /* raw value as read (before any A/D update) */
};

/* Filled by x86_translate when the caller passes one: the whole story of one translation. */
struct x86_walk_trace {
	bool tlb_hit;          /* answered from the TLB (steps is then empty) */
	int nsteps;
	struct x86_walk_step steps[4];
	enum x86_stop stop;
	int stop_level;        /* level of the entry that ended the walk (0 for a TLB hit) */
	uint64_t rsvd_bits;    /* the reserved bits found set, for X86_STOP_RESERVED */
	const char *reason;    /* one line: which rule denied the access, or NULL */
	uint8_t page_shift;    /* of the translation, on success */
};

struct x86_xlate {
	enum x86_outcome outcome;
	uint64_t pa;       /* X86_OK */
	uint32_t err;      /* X86_PF */
	uint64_t bad_pa;   /* X86_BUS */
};

/* Reset state (all control bits 0 but CR0.WP=1 and EFER.NXE=1, PKRU 0, CR3 0), empty TLB,
 * vendor X86_INTEL and page1gb=true (both may be changed directly before the first access).
 * tlb_entries must be a power of two, 1..1<<20. Returns false if the TLB cannot be allocated
 * or an argument is out of range. */
bool x86_cpu_init(struct x86_cpu *cpu, struct x86_phys phys, unsigned tlb_entries,
		  unsigned maxphyaddr);
void x86_cpu_destroy(struct x86_cpu *cpu);

/*
 * CPUID for leaf and subleaf: out = EAX, EBX, ECX, EDX as this processor answers them. The
 * leaves the model knows: 0 (vendor string), 0x80000000 (highest extended leaf),
 * 0x80000001 (EDX: NX, Page1GB, long mode), 0x80000008 (EAX: MAXPHYADDR and 48 linear bits;
 * EBX bit 0: CLZERO, which the model's AMD processors have and its Intel ones do not). Any
 * other leaf answers zeros.
 */
void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/*
 * Architectural register writes, each with the TLB side effects of the instruction
 * (MOV to CR3 drops non-global entries; toggling CR4.PGE drops everything; SMEP 0->1 flushes;
 * CR0.WP changes flush; EFER.NXE changes flush, since bit 63 changes meaning). x86_write_cr3 returns false (#GP, nothing changed) when bits 63:M of
 * the value are set.
 */
bool x86_write_cr3(struct x86_cpu *cpu, uint64_t value);
void x86_set_wp(struct x86_cpu *cpu, bool on);
void x86_set_pge(struct x86_cpu *cpu, bool on);
void x86_set_smep(struct x86_cpu *cpu, bool on);
void x86_set_smap(struct x86_cpu *cpu, bool on);
void x86_set_pke(struct x86_cpu *cpu, bool on);
void x86_set_nxe(struct x86_cpu *cpu, bool on);
void x86_set_ac(struct x86_cpu *cpu, bool on);  /* STAC / CLAC */
void x86_set_pkru(struct x86_cpu *cpu, uint32_t value);  /* WRPKRU */

/* INVLPG: drops every slice of the page containing va, global or not. */
void x86_invlpg(struct x86_cpu *cpu, uint64_t va);
/* Drops the whole TLB, global entries too. */
void x86_flush_all(struct x86_cpu *cpu);

/*
 * Translate one access. user = CPL 3; implicit = a supervisor access the processor makes on
 * its own behalf (always treated as supervisor, always SMAP-checked). On X86_PF, CR2 = va and
 * the TLB entries for va are dropped. On X86_OK, A (and D for a write) were set in memory.
 * trace may be NULL. (x86_translate is defined inline below.)
 */

/* Everything x86_translate does not do inline (a miss, a denial, a trace, a first use). */
void x86_translate_slow(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
			bool implicit, struct x86_xlate *out, struct x86_walk_trace *trace);

/* Index of an access in x86_tlb_entry.allow: 3 kinds x user x implicit x EFLAGS.AC. */
static inline unsigned x86_tlb_allow_bit(enum x86_access kind, bool user, bool implicit, bool ac)
{
	return (unsigned)kind * 8u + (unsigned)user * 4u + (unsigned)implicit * 2u + (unsigned)ac;
}

/*
 * The hit path, inline like QEMU's softmmu fast path (QEMU's cputlb): tag compare,
 * verdict-cache check, address. A tag match implies a canonical va (only canonical addresses
 * are filled and the tag keeps bits 63:12). Anything else goes to x86_translate_slow, which
 * keeps every rule of the description above.
 */
static inline void x86_translate(struct x86_cpu *cpu, uint64_t va, enum x86_access kind,
				 bool user, bool implicit, struct x86_xlate *out,
				 struct x86_walk_trace *trace)
{
	const struct x86_tlb_entry *s = &cpu->tlb.entries[(va >> 12) & cpu->tlb.mask];
	unsigned bit = x86_tlb_allow_bit(kind, user, implicit, cpu->rflags_ac);

	if (__builtin_expect(s->vpn_tag == ((va >> 12) | X86_TLB_VALID) && !trace &&
				     s->allow_gen == cpu->rights_gen && ((s->allow >> bit) & 1),
			     1)) {
		cpu->stats.tlb_hits++;
		out->outcome = X86_OK;
		out->pa = s->pa_page | (va & 0xfff);
		out->err = 0;
		out->bad_pa = 0;
		return;
	}
	x86_translate_slow(cpu, va, kind, user, implicit, out, trace);
}

/* Same walk and verdict without touching TLB, A/D, CR2 or counters: for inspection views. */
void x86_probe(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
	       bool implicit, struct x86_xlate *out, struct x86_walk_trace *trace);

/* Names and decoding for people. */
const char *x86_level_name(int level);  /* "PML4", "PDPT", "PD", "PT" */
/* Decoded flags of an entry at a level, e.g. "P RW US A D PS G XD pkey=3 -> 0x200000"; a
 * non-leaf adds the next table's name, "not present (raw 0x...)" for P=0, and with a cpu any
 * reserved bits as " RESERVED=0x...". cpu may be NULL.
 * Writes at most n bytes including the NUL; returns buf. */
char *x86_format_entry(char *buf, size_t n, uint64_t entry, int level, const struct x86_cpu *cpu);
/* The #PF error code as words, e.g. "P|W|U (protection violation, write, user)" or
 * "0 (not present, read, supervisor)". Same buffer contract as x86_format_entry. */
char *x86_format_pf_error(char *buf, size_t n, uint32_t err);

#endif
