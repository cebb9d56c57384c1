/*
 * Filling a frame for the access that faulted on it: zeroing (demand-zero) and copying
 * (copy-on-write).
 *
 * A cold page costs most of such a fault: ordinary stores read every line of the old
 * contents into the cache before overwriting it (read for ownership), which is half the
 * memory traffic and all of its latency. Streaming stores (MOVNTI) write whole lines without
 * reading them. The one line the faulting access is about to touch is written last with
 * ordinary stores, so the access finds it in the cache (Linux clears the faulting subpage of
 * a huge page last for the same reason; FreeBSD's amd64 pagezero used MOVNTI for years).
 * The rest of the page is not cached afterwards: a process that then reads all of it fetches
 * the lines from memory, as it would have for a page filled long before. The bet is that a
 * frame handed out by a fault is cold, which holds once the memory in use exceeds the last
 * level cache: bench_faults with 64 or 256 MiB mapped (8 MiB of L3) zeroes a frame in about
 * 305 ns this way against 435-460 with memset, and copies one in 560-585 against 605-615;
 * with 16 MiB mapped on a 64 MiB machine (--quick), where freed frames are often still
 * cached, ordinary stores win by 5-25%.
 *
 * Zeroing uses CLZERO where the processor has it (AMD since Zen: CPUID 0x80000008, EBX bit
 * 0, looked up on first use): one instruction writes a whole line of zeros without reading
 * it, 63 instructions a page instead of 504 MOVNTI. bench_faults on this project's AMD EPYC
 * VM: about 230 ns to zero a cold frame against 305-345 with MOVNTI, measured in alternated
 * runs. Valgrind does not decode CLZERO and hides its CPUID bit, so the MOVNTI way runs
 * there.
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
