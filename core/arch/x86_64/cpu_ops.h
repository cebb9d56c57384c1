/*
 * The privileged x86_64 instructions the kernel needs, one function each. On real hardware
 * each is a single instruction (or two); in mmsim the host implements them on the simulated
 * processor of the calling CPU (sim/host_cpu_ops.c).
 */
#ifndef MMSIM_CORE_ARCH_X86_64_CPU_OPS_H
#define MMSIM_CORE_ARCH_X86_64_CPU_OPS_H

#include <stdint.h>

/* MOV to CR3: switch address spaces; drops the non-global TLB entries of this CPU. */
void arch_write_cr3(uint64_t value);
/* MOV from CR3. */
uint64_t arch_read_cr3(void);
/* MOV from CR2: the address of the last page fault on this CPU. */
uint64_t arch_read_cr2(void);
/* INVLPG: drop this CPU's TLB entries (global too) for the page holding va. */
void arch_invlpg(uint64_t va);
/* Toggle CR4.PGE off and on: drop every TLB entry of this CPU, global ones too. */
void arch_flush_tlb_all(void);

/*
 * Send an inter-processor interrupt through the local APIC: the target CPU runs
 * interrupt_entry(vector) (arch/x86_64/interrupts.h) at its next interrupt window. Returns at
 * once; the sender learns of completion only through memory the handler writes.
 */
void arch_send_ipi(unsigned cpu, unsigned vector);

/*
 * PAUSE inside a spin loop, with interrupts enabled: on the simulator this is also where the
 * CPU takes its pending IPIs, so two CPUs waiting for each other's acknowledgement both make
 * progress (as they do on hardware when a shootdown waits with interrupts on).
 */
void arch_cpu_relax(void);

#endif
