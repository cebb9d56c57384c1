/*
 * The per-CPU TLB: direct-mapped, one slot per 4 KiB slice, indexed by (va >> 12) & mask.
 *
 * Rules (SDM 4.10.2 to 4.10.4):
 *  - Only valid translations are cached: a fill happens after a walk that succeeded and
 *    whose A/D updates were committed. Faults are never cached.
 *  - A slot keeps the page bits, not the verdict: AND(R/W), AND(U/S), OR(XD), the leaf's D,
 *    G and protection key. Rights are judged on every hit against the current control state.
 *  - 2 MiB and 1 GiB pages are cached slice by slice with their page_shift. large_slices
 *    counts such slices so that INVLPG scans the table for the other slices of a large page
 *    only while there are any.
 *  - G counts only if CR4.PGE=1 when the slot is filled; such slots survive a MOV to CR3.
 *  - Nothing here reads the page tables: a slot stays as it was filled until an
 *    invalidation drops it, which is what makes stale translations observable.
 *
 * The fill itself is inline in x86_internal.h (x86_tlb_fill); the rules above are its too.
 */
#include "x86_internal.h"

#include <string.h>

static void slot_clear(struct x86_tlb *tlb, struct x86_tlb_entry *s)
{
	if (s->vpn_tag && s->page_shift > 12)
		tlb->large_slices--;
	memset(s, 0, sizeof(*s));
}

void x86_tlb_drop_va(struct x86_tlb *tlb, uint64_t va)
{
	struct x86_tlb_entry *s = x86_tlb_slot(tlb, va);
	uint32_t i;

	if (s->vpn_tag == x86_tlb_tag(va))
		slot_clear(tlb, s);
	if (!tlb->large_slices)
		return;
	for (i = 0; i <= tlb->mask; i++) {
		s = &tlb->entries[i];
		if (s->vpn_tag && s->page_shift > 12) {
			uint64_t slice_va = (s->vpn_tag & ~X86_TLB_VALID) << 12;

			if (((slice_va ^ va) >> s->page_shift) == 0)
				slot_clear(tlb, s);
		}
	}
}

void x86_tlb_drop_all(struct x86_tlb *tlb)
{
	memset(tlb->entries, 0, ((size_t)tlb->mask + 1) * sizeof(tlb->entries[0]));
	tlb->large_slices = 0;
}

void x86_tlb_drop_nonglobal(struct x86_tlb *tlb)
{
	uint32_t i;

	for (i = 0; i <= tlb->mask; i++) {
		struct x86_tlb_entry *s = &tlb->entries[i];

		if (s->vpn_tag && !s->global)
			slot_clear(tlb, s);
	}
}
