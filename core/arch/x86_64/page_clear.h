/*
 * Zeroing a frame for the access that faulted on it (demand-zero).
 *
 * A cold page costs most of a demand-zero fault: ordinary stores read every line of the old
 * contents into the cache before overwriting it (read for ownership), which is half the
 * memory traffic and all of its latency. Streaming stores (MOVNTI) write whole lines without
 * reading them. The one line the faulting access is about to touch is written last with
 * ordinary stores, so the access finds it in the cache (Linux clears the faulting subpage of
 * a huge page last for the same reason; FreeBSD's amd64 pagezero used MOVNTI for years).
 * The rest of the page is not cached afterwards: a process that then reads all of it fetches
 * the lines from memory, as it would have for a page zeroed long before.
 *
 * Ordering: streaming stores are weakly ordered, so an SFENCE ends the zeroing; a PTE store
 * that publishes the page after this call cannot become visible before the zeros.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_PAGE_CLEAR_H
#define MMSIM_CORE_ARCH_X86_64_PAGE_CLEAR_H

#include <stddef.h>

/* Zero the 4 KiB page at page (direct-map address); hot is the page offset the access
 * touches (any value: only its line within the page matters). */
void page_zero_for_access(void *page, size_t hot);

#endif
