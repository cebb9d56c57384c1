/*
 * Swap entries: what a page-table entry holds while its page lives in a swap slot.
 *
 * The layout (a 4 KiB user-half leaf, level 1 only), bit 63 down to 0:
 *
 *   63     XD       0
 *   62:59  type     the swap area (0: mmsim has one)
 *   58:52           0
 *   51:12  slot     the slot number, bit-inverted within the 40 bits (so that, as Linux does
 *                   against L1TF, the address field of a non-present entry points far above
 *                   any memory a processor could speculate into)
 *   11     PROTNONE 0: never a protnone entry (page_flags.h, mapper.h M8)
 *   10     SWAP     1: the marker (a software bit, ignored by the processor when P=0)
 *   9:1             0 (A, D and the rights are not kept: a page comes back with its grant's)
 *   0      P        0: every access faults; the fault handler reads the page back
 *
 * So the three kinds of non-present entry never meet: empty (all zero), protnone (bit 11),
 * swap (bit 10 without bit 11). A swap entry holds one count of its slot (swap_area.h), as
 * a present entry holds one reference of its frame.
 *
 * The layout is x86_64's entry format, so it lives with page_flags.h; generic code uses only
 * the functions below.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_SWAP_ENTRY_H
#define MMSIM_CORE_ARCH_X86_64_SWAP_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/page_flags.h"

#define SWP_MARK PTE_AVL10
#define SWP_SLOT_SHIFT 12
#define SWP_SLOT_BITS 40
#define SWP_SLOT_MASK ((1ull << SWP_SLOT_BITS) - 1)
#define SWP_TYPE_SHIFT 59
#define SWP_TYPE_MASK 0xfull
/* The largest slot number an entry can hold. */
#define SWP_SLOT_MAX SWP_SLOT_MASK

static inline bool pte_is_swap(pte_t e)
{
	return (e & (PTE_P | PTE_AVL10 | PTE_AVL11)) == PTE_AVL10;
}

static inline pte_t swp_entry_make(unsigned type, uint64_t slot)
{
	return ((pte_t)(type & SWP_TYPE_MASK) << SWP_TYPE_SHIFT) |
	       ((~slot & SWP_SLOT_MASK) << SWP_SLOT_SHIFT) | SWP_MARK;
}

static inline uint64_t swp_entry_slot(pte_t e)
{
	return ~(e >> SWP_SLOT_SHIFT) & SWP_SLOT_MASK;
}

static inline unsigned swp_entry_type(pte_t e)
{
	return (unsigned)((e >> SWP_TYPE_SHIFT) & SWP_TYPE_MASK);
}

/* Nothing but the fields above: what the audit checks of every swap entry. */
static inline bool swp_entry_well_formed(pte_t e)
{
	return pte_is_swap(e) &&
	       swp_entry_make(swp_entry_type(e), swp_entry_slot(e)) == e;
}

#endif
