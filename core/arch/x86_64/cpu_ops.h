/*
 * The privileged x86_64 instructions the kernel needs, one function each. On real hardware
 * each is a single instruction (or two); in mmsim the host implements them on the simulated
 * processor of the calling CPU (sim/host/host_cpu_ops.c).
 */
#ifndef MMSIM_CORE_ARCH_X86_64_CPU_OPS_H
#define MMSIM_CORE_ARCH_X86_64_CPU_OPS_H

#include <stdbool.h>
#include <stddef.h>
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

/* CPUID 0x80000008 EAX[7:0] (MAXPHYADDR) and 0x80000001 EDX[26] (1 GiB pages). */
void arch_cpuid_paging(unsigned *maxphyaddr, bool *page1gb);
/* CPUID of this CPU for leaf and subleaf: out = EAX, EBX, ECX, EDX. */
void arch_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/*
 * One supervisor data access to a user address inside a STAC/CLAC window (EFLAGS.AC=1), as a
 * copy loop's `rep movsb` would make it: len bytes (1..4096, not crossing a page boundary) at
 * linear address va are read into buf or written from it, through the TLB and page walk with
 * the current CR0.WP. Returns true when done; on a #PF returns false with *pf_error = the
 * error code (CR2 = va), nothing copied: the kernel's exception table turns that into a fault
 * it handles, then retries or fails the copy with EFAULT. va must lie in the user half (the
 * caller checks the range first, as access_ok does): a non-canonical address would #GP.
 */
bool arch_user_access(uint64_t va, void *buf, size_t len, bool write, uint32_t *pf_error);

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

/* PAUSE without an interrupt window: for a spin that waits for a CPU which cannot be waiting
 * for the spinning one (a hint to the processor, no call). */
static inline void arch_pause(void)
{
	__builtin_ia32_pause();
}

/* PREFETCHT0: ask for the cache line of p (a hint: it never faults, and changes nothing).
 * An asm statement: GCC 12 was seen to drop __builtin_prefetch calls guarded by a bounds
 * check. */
static inline void arch_prefetch(const void *p)
{
	__asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
}

#endif
