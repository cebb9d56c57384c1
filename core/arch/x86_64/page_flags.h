/*
 * The kernel's view of an x86_64 paging-structure entry: a bitset of logical page flags and
 * pure functions that encode a leaf or table entry from (physical address, flags, level) and
 * decode it back.
 *
 * This is the operating system's side of the encoding, written from the architecture manual
 * (Intel SDM vol. 3A ch. 4: entry formats and rights), independently of the simulated processor.
 * The logical flag values deliberately differ from the architectural bit positions, so every
 * flag goes through one explicit translation in page_flags.c.
 *
 * Invariants (kept by the encoders, which panic on a violation: writing such an entry would be
 * a kernel bug):
 * - the kernel never writes an entry the processor would reject with a reserved-bit fault:
 *   the address fits in the CPU's physical-address width (paging_caps), a 2 MiB leaf has
 *   bits 20:13 clear and a 1 GiB leaf bits 29:13 clear (the address is aligned to the page
 *   size), PS is never set in a PML4E nor in a PDPTE when the CPU lacks 1 GiB pages, and XD
 *   is set only because the caller asked for PG_NO_EXEC (this kernel runs with EFER.NXE=1);
 * - PAT (bit 7 of a PTE, bit 12 of a huge leaf) is never set: memory types come from PWT/PCD;
 * - table (non-leaf) entries carry only P, R/W, U/S (and A when decoded): never G (bit 8 is
 *   reserved in a PML4E on AMD), never PS, never XD (the leaf decides about execution);
 * - a not-present entry is written as 0, with one exception: a protnone entry (a 4 KiB
 *   user page whose protection is PROT_NONE but which keeps its frame, like Linux's
 *   _PAGE_PROTNONE). It has P=0, so the processor interprets none of its other bits
 *   (the processor ignores bits 63:1 of a not-present entry) and every access faults;
 *   the kernel keeps in it the frame address (bits 51:12, as in a present PTE), the rights
 *   the page had (R/W, U/S, PWT, PCD, A, D, XD at their usual positions) and software bit 11
 *   (PROTNONE) that tells it from an empty entry. Software bit 11 is written in no other
 *   entry. The one other non-zero not-present entry is a swap entry (swap_entry.h):
 *   bit 11 clear, software bit 10 set, the slot number in the address field.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_PAGE_FLAGS_H
#define MMSIM_CORE_ARCH_X86_64_PAGE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "phys.h"

/* A raw 64-bit paging-structure entry as stored in a table. */
typedef uint64_t pte_t;

/* Logical page flags. */
typedef uint32_t page_flags_t;

enum page_flag {
	PG_PRESENT = 1u << 0,
	PG_WRITABLE = 1u << 1,
	PG_USER = 1u << 2,
	PG_NO_EXEC = 1u << 3,
	PG_GLOBAL = 1u << 4,
	PG_WRITE_THROUGH = 1u << 5,
	PG_CACHE_DISABLE = 1u << 6,
	PG_HUGE = 1u << 7,     /* a 2 MiB or 1 GiB leaf (PS); never given for a 4 KiB leaf */
	PG_ACCESSED = 1u << 8, /* set by the processor; may be given to pre-set it */
	PG_DIRTY = 1u << 9,    /* leaves only; set by the processor on a write */
	PG_SOFT0 = 1u << 10,   /* bits available to software (architectural bits 9 and 10) */
	PG_SOFT1 = 1u << 11,
	PG_PROTNONE = 1u << 12, /* not-present 4 KiB leaf keeping its frame (architectural bit
				   11, never set in a present entry): see pte_make_protnone */
};

/* What a protnone entry keeps of the present leaf it replaced (PG_PROTNONE itself aside). */
#define PG_PROTNONE_KEPT_FLAGS                                                                 \
	(PG_WRITABLE | PG_USER | PG_NO_EXEC | PG_WRITE_THROUGH | PG_CACHE_DISABLE | PG_ACCESSED | \
	 PG_DIRTY)

#define PG_ALL_LEAF_FLAGS                                                                      \
	(PG_PRESENT | PG_WRITABLE | PG_USER | PG_NO_EXEC | PG_GLOBAL | PG_WRITE_THROUGH |      \
	 PG_CACHE_DISABLE | PG_HUGE | PG_ACCESSED | PG_DIRTY | PG_SOFT0 | PG_SOFT1)
#define PG_ALL_TABLE_FLAGS (PG_PRESENT | PG_WRITABLE | PG_USER | PG_ACCESSED)

/* Paging levels: the level of the table an entry lives in. */
enum pt_level {
	PT_LEVEL_PT = 1,   /* entries map 4 KiB pages */
	PT_LEVEL_PD = 2,   /* entries point to PTs or map 2 MiB pages */
	PT_LEVEL_PDPT = 3, /* entries point to PDs or map 1 GiB pages */
	PT_LEVEL_PML4 = 4, /* entries point to PDPTs */
};

#define PT_ENTRIES 512u

/* Bytes one entry at `level` covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
static inline uint64_t pt_level_size(unsigned level)
{
	return (uint64_t)1 << (PAGE_SHIFT + 9 * (level - 1));
}

/* Index of va in the table at `level` (bits 47:39, 38:30, 29:21 or 20:12). */
static inline unsigned pt_index(uint64_t va, unsigned level)
{
	return (unsigned)((va >> (PAGE_SHIFT + 9 * (level - 1))) & (PT_ENTRIES - 1));
}

/*
 * What the processor supports, as the kernel learned it at boot (CPUID 80000008H:EAX[7:0]
 * and 80000001H:EDX[26] on real hardware; the host tells mmsim's kernel). Defaults: 52 bits,
 * 1 GiB pages available. Set before the first mapping.
 */
struct paging_caps {
	unsigned phys_addr_bits; /* MAXPHYADDR, 36..52 */
	bool page_1g;
};
void paging_caps_set(struct paging_caps caps);
struct paging_caps paging_caps_get(void);

/* True if (pa, flags) can be encoded as a leaf at level (1..3) without any reserved bit:
 * pa aligned to the page size and within MAXPHYADDR, flags within PG_ALL_LEAF_FLAGS with
 * PG_PRESENT, PG_HUGE exactly when level > 1, and level 3 only with 1 GiB pages. */
bool pte_leaf_encodable(paddr_t pa, page_flags_t flags, unsigned level);

/* Encode a present leaf. Panics unless pte_leaf_encodable(pa, flags, level). */
pte_t pte_make_leaf(paddr_t pa, page_flags_t flags, unsigned level);
/* pte_make_leaf for a (pa, flags, level) that pte_leaf_encodable has just accepted: the
 * mapper validates its arguments first (returning MAP_EINVAL) and does not check twice. */
pte_t pte_make_checked_leaf(paddr_t pa, page_flags_t flags);

/*
 * Encode a protnone entry (4 KiB level only): P=0, the PROTNONE software bit, the frame pa
 * and the kept rights `flags` (within PG_PROTNONE_KEPT_FLAGS; PG_PROTNONE may be given and
 * is implied). Panics unless pte_protnone_encodable(pa, flags).
 */
bool pte_protnone_encodable(paddr_t pa, page_flags_t flags);
pte_t pte_make_protnone(paddr_t pa, page_flags_t flags);

/* Encode a present table entry at level (2..4) pointing to the table at table_pa. flags must
 * be within PG_ALL_TABLE_FLAGS and include PG_PRESENT; panics otherwise. */
pte_t pte_make_table(paddr_t table_pa, page_flags_t flags, unsigned level);

/*
 * Architectural bits of an entry (Intel SDM vol. 3A, tables 4-15 .. 4-20), for the code in
 * core/arch/x86_64/ alone. Generic code that reads or edits entries in place (the fault
 * path, fork, reclaim) names the logical flags: pte_has, pte_keep and pte_bits below, and
 * mapper_entry_clear and mapper_entry_test_and_clear (mapper.h). A test keeps it so
 * (tests/core/check_flag_vocabulary.py).
 */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_AVL9 (1ull << 9)
#define PTE_AVL10 (1ull << 10)
#define PTE_AVL11 (1ull << 11) /* PROTNONE in a not-present 4 KiB leaf, never in a present one */
#define PTE_XD (1ull << 63)
/* Address field of a table entry or 4 KiB leaf: bits 51:12. */
#define PTE_ADDR_4K 0x000ffffffffff000ull

static inline bool pte_present(pte_t e)
{
	return (e & PTE_P) != 0;
}

/* True if e is a protnone entry at level (only level 1 entries can be). pte_address gives its
 * frame, pte_flags its kept rights with PG_PROTNONE (and no PG_PRESENT). */
static inline bool pte_is_protnone(pte_t e, unsigned level)
{
	return level == PT_LEVEL_PT && !(e & PTE_P) && (e & PTE_AVL11);
}

/* True if the present entry e at level is a leaf (level 1, or PS at level 2/3). */
static inline bool pte_is_leaf(pte_t e, unsigned level)
{
	if (level == PT_LEVEL_PT)
		return true;
	if (level == PT_LEVEL_PD || level == PT_LEVEL_PDPT)
		return (e & PTE_PS) != 0;
	return false;
}

/* The physical address an entry holds: the next table, or the page base of a leaf (with the
 * mask of its size: bit 12 of a huge leaf is PAT, not address). */
static inline paddr_t pte_address(pte_t e, unsigned level)
{
	if (level > PT_LEVEL_PT && pte_is_leaf(e, level))
		return e & PTE_ADDR_4K & ~(pt_level_size(level) - 1);
	return e & PTE_ADDR_4K;
}

/* The logical flags of an entry at level (PG_HUGE for a huge leaf, PG_DIRTY only on leaves). */
page_flags_t pte_flags(pte_t e, unsigned level);

/*
 * The entry bits of logical flags (any of PG_ALL_LEAF_FLAGS and PG_PROTNONE): one shift per
 * group of bits that keep their distance (the _Static_asserts in page_flags.c), so for
 * constant flags it is a constant and a test of an entry costs what a raw bit test does.
 */
static inline pte_t pte_bits(page_flags_t flags)
{
	pte_t f = flags;

	return (f & (PTE_P | PTE_RW | PTE_US | PTE_PS)) | ((f >> 2) & (PTE_PWT | PTE_PCD)) |
	       ((f >> 3) & (PTE_A | PTE_D)) | ((f << 4) & PTE_G) |
	       ((f >> 1) & (PTE_AVL9 | PTE_AVL10 | PTE_AVL11)) | ((f & PG_NO_EXEC) << 60);
}

/* True if entry e has every flag in flags (PG_DIRTY means dirty on a leaf only). */
static inline bool pte_has(pte_t e, page_flags_t flags)
{
	return (e & pte_bits(flags)) == pte_bits(flags);
}

/* The 4 KiB leaf or protnone entry e with its frame and, of its flags, only those in flags. */
static inline pte_t pte_keep(pte_t e, page_flags_t flags)
{
	return e & (PTE_ADDR_4K | pte_bits(flags));
}

/* User-space protections, as mmap/mprotect give them. */
enum prot_bits {
	PROT_BIT_READ = 1u << 0,
	PROT_BIT_WRITE = 1u << 1,
	PROT_BIT_EXEC = 1u << 2,
};

/*
 * Leaf flags of a user page with protection `prot`: present, user, writable iff
 * PROT_BIT_WRITE, PG_NO_EXEC unless PROT_BIT_EXEC. x86 cannot express write-only or
 * execute-only: write implies read, exec implies read. PROT_NONE (prot == 0) has no present
 * encoding at all: the result is 0 (not present). A page that already has a frame keeps it
 * in a protnone entry (pte_make_protnone), so every access faults and the fault handler
 * refuses it, and the contents come back when the protection does.
 */
page_flags_t page_flags_from_prot(unsigned prot);

/* The protection a user leaf grants (read always for a present user leaf). */
unsigned page_flags_to_prot(page_flags_t flags);

#endif
