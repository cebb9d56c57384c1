/*
 * The kernel's interrupt vectors: the part of the IDT that memory management needs. The
 * host delivers an interrupt by calling interrupt_entry(vector) on the target CPU.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_INTERRUPTS_H
#define MMSIM_CORE_ARCH_X86_64_INTERRUPTS_H

#include <stdbool.h>

/* Vectors used by the kernel (high vectors, as real kernels place IPIs). */
#define VECTOR_TLB_SHOOTDOWN 0xfd
/* Leave an address space that is being killed (switch to the kernel's tables). */
#define VECTOR_LEAVE_ADDRESS_SPACE 0xfc

typedef void (*interrupt_handler_t)(unsigned vector);

/* Install a handler; false if the vector already has one or is out of range. Boot time only. */
bool interrupt_register(unsigned vector, interrupt_handler_t handler);
/* Remove every handler (a fresh boot). */
void interrupt_reset(void);
/* The entry stub: runs the vector's handler; a vector without one is a kernel bug. */
void interrupt_entry(unsigned vector);

#endif
