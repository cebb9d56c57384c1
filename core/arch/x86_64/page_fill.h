/*
 * Filling a frame for the access that faulted on it: zeroing (demand-zero) and copying
 * (copy-on-write).
 *
 * A frame handed out by a fault is usually cold, and ordinary stores would first read every
 * line of its old contents (read for ownership). Streaming stores (MOVNTI) write whole lines
 * without reading them; CLZERO, where the processor has it (CPUID 0x80000008 EBX bit 0,
 * asked through arch_cpuid after each kernel_init), zeroes a line in one instruction. The
 * line the faulting access is about to touch is written last with ordinary stores, so the
 * access finds it in the cache. The bet loses when the frame was still cached (small
 * working sets); docs/performance.md has the measurements. Valgrind does not decode CLZERO
 * and hides its CPUID bit, so the MOVNTI way runs there.
 *
 * Ordering: streaming stores and CLZERO are weakly ordered, so an SFENCE ends the fill; a PTE
 * store that publishes the page after these calls cannot become visible before the contents.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_PAGE_FILL_H
#define MMSIM_CORE_ARCH_X86_64_PAGE_FILL_H

#include <stdbool.h>
#include <stddef.h>

/* Zero the 4 KiB page at page (a direct-map address); hot is the page offset the access
 * touches (any value: only its line within the page counts). */
void page_zero_for_access(void *page, size_t hot);

/* Whether page_zero_for_access uses CLZERO from now on: false turns it off (tests and
 * benchmarks compare both ways), true turns it back on where the processor has it. */
bool page_fill_allow_clzero(bool allow);

/* Ask the processor again at the next fill (kernel_init: a new machine, maybe another
 * vendor). */
void page_fill_probe(void);

/* Copy the 4 KiB page src to dst (direct-map addresses of two distinct frames), the same way. */
void page_copy_for_access(void *dst, const void *src, size_t hot);

#endif
