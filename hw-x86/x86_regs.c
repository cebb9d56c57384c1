/*
 * Reset state, control-register writes and the TLB invalidation instructions.
 *
 * Flush rules (SDM 4.10.4.1, PCIDE=0):
 *  - MOV to CR3 drops every non-global slot; slots filled from a G=1 leaf while CR4.PGE=1
 *    survive. A value with bits 63:MAXPHYADDR set is refused (#GP) and changes nothing.
 *  - Changing CR4.PGE drops everything, global slots included.
 *  - CR4.SMEP 0->1 drops everything (a slot must not outlive the rule that SMEP adds);
 *    1->0 needs nothing, since rights are judged at access time anyway.
 *  - A change of CR0.WP drops everything, as QEMU does (MOV to CR0 may flush).
 *  - A change of EFER.NXE drops everything: bit 63 changes meaning (XD versus reserved),
 *    and no slot may keep a translation that the new meaning would reject.
 *  - CR4.SMAP, CR4.PKE, EFLAGS.AC and PKRU need no flush: slots keep page bits, and the
 *    verdict is recomputed from the current values on every hit.
 *  - INVLPG drops every slice of the page containing va, global or not.
 *  - Every write of CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE or PKRU bumps rights_gen, which
 *    retires the verdicts the TLB slots cached for the inline hit path (x86_cpu.h).
 */
#include "x86_internal.h"

#include <stdlib.h>
#include <string.h>

bool x86_cpu_init(struct x86_cpu *cpu, struct x86_phys phys, unsigned tlb_entries,
		  unsigned maxphyaddr)
{
	struct x86_tlb_entry *entries;

	if (tlb_entries == 0 || tlb_entries > (1u << 20) || (tlb_entries & (tlb_entries - 1)))
		return false;
	if (maxphyaddr < 36 || maxphyaddr > 52)
		return false;
	entries = calloc(tlb_entries, sizeof(*entries));
	if (!entries)
		return false;

	memset(cpu, 0, sizeof(*cpu));
	cpu->phys = phys;
	cpu->maxphyaddr = maxphyaddr;
	cpu->vendor = X86_INTEL;
	cpu->page1gb = true;
	cpu->cr0_wp = true;
	cpu->efer_nxe = true;
	cpu->rights_gen = 1; /* calloc'ed slots hold generation 0 */
	cpu->tlb.entries = entries;
	cpu->tlb.mask = tlb_entries - 1;
	cpu->tlb.large_slices = 0;
	return true;
}

void x86_cpu_destroy(struct x86_cpu *cpu)
{
	free(cpu->tlb.entries);
	cpu->tlb.entries = NULL;
	cpu->tlb.mask = 0;
	cpu->tlb.large_slices = 0;
}

static void flush_all(struct x86_cpu *cpu)
{
	x86_tlb_drop_all(&cpu->tlb);
	cpu->stats.flushes++;
}

bool x86_write_cr3(struct x86_cpu *cpu, uint64_t value)
{
	if (value >> cpu->maxphyaddr)
		return false;
	cpu->cr3 = value;
	x86_tlb_drop_nonglobal(&cpu->tlb);
	cpu->stats.flushes++;
	return true;
}

void x86_set_wp(struct x86_cpu *cpu, bool on)
{
	if (cpu->cr0_wp != on)
		flush_all(cpu);
	cpu->cr0_wp = on;
	cpu->rights_gen++;
}

void x86_set_pge(struct x86_cpu *cpu, bool on)
{
	if (cpu->cr4_pge != on)
		flush_all(cpu);
	cpu->cr4_pge = on;
}

void x86_set_smep(struct x86_cpu *cpu, bool on)
{
	if (!cpu->cr4_smep && on)
		flush_all(cpu);
	cpu->cr4_smep = on;
	cpu->rights_gen++;
}

void x86_set_smap(struct x86_cpu *cpu, bool on)
{
	cpu->cr4_smap = on;
	cpu->rights_gen++;
}

void x86_set_pke(struct x86_cpu *cpu, bool on)
{
	cpu->cr4_pke = on;
	cpu->rights_gen++;
}

void x86_set_nxe(struct x86_cpu *cpu, bool on)
{
	if (cpu->efer_nxe != on)
		flush_all(cpu);
	cpu->efer_nxe = on;
	cpu->rights_gen++;
}

void x86_set_ac(struct x86_cpu *cpu, bool on)
{
	cpu->rflags_ac = on;
}

void x86_set_pkru(struct x86_cpu *cpu, uint32_t value)
{
	cpu->pkru = value;
	cpu->rights_gen++;
}

void x86_invlpg(struct x86_cpu *cpu, uint64_t va)
{
	cpu->stats.invlpgs++;
	x86_tlb_drop_va(&cpu->tlb, va);
}

void x86_flush_all(struct x86_cpu *cpu)
{
	flush_all(cpu);
}
