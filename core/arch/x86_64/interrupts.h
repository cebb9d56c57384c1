/*
 * The kernel's interrupt vectors: the part of the IDT that memory management needs. The
 * host delivers an interrupt by calling interrupt_entry(vector) on the target CPU.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_INTERRUPTS_H
#define MMSIM_CORE_ARCH_X86_64_INTERRUPTS_H

#include <stdbool.h>
#include <stdint.h>

/* Vectors used by the kernel (high vectors, as real kernels place IPIs). */
#define VECTOR_TLB_SHOOTDOWN 0xfd
/* Leave an address space that is being killed (switch to the kernel's tables). */
#define VECTOR_LEAVE_ADDRESS_SPACE 0xfc
/* The page-fault exception (#PF): the processor pushes an error code and writes CR2. */
#define VECTOR_PAGE_FAULT 14

typedef void (*interrupt_handler_t)(unsigned vector);

/* Install a handler; false if the vector already has one or is out of range. Boot time only. */
bool interrupt_register(unsigned vector, interrupt_handler_t handler);
/* Remove every handler (a fresh boot). */
void interrupt_reset(void);
/* The entry stub: runs the vector's handler; a vector without one is a kernel bug. */
void interrupt_entry(unsigned vector);

/*
 * Exceptions that push an error code (vectors 0..31, e.g. #PF). The handler runs on the CPU
 * that raised the exception and returns what becomes of the faulting instruction: 0 means it
 * is restarted (the processor retries the access), any other value is the handler's verdict
 * (for #PF an enum pf_status: the signal the process would get), which the host acts upon.
 */
typedef int (*exception_handler_t)(unsigned vector, uint32_t error_code);

/* Install an exception handler; false if the vector has one or is not an exception. Boot time. */
bool exception_register(unsigned vector, exception_handler_t handler);
/* The processor raises exception `vector` with its error code; a vector without a handler
 * is a kernel bug. */
int exception_entry(unsigned vector, uint32_t error_code);

#endif
