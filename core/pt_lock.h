/*
 * Page-table locks: the lock of the level-1 table that holds a user entry, for the page
 * faults that edit one table at the same time (they hold the space's lock shared). Tables
 * share a fixed set of locks by hash, as a kernel that keeps no lock inside each table's
 * page descriptor would.
 *
 * What one protects: in a space locked shared, a present user leaf (or the entry that
 * replaces it) is changed, and a reference is taken on its frame, only under the lock of
 * its table; so a CPU holding that lock and seeing the entry still in place knows the
 * entry's frame reference is alive. Empty entries are filled with a compare-and-exchange
 * instead (nothing to keep alive). A space locked exclusively needs no table lock, nor does
 * a space read by one CPU only (krw_read_alone: no other CPU's kernel can touch its entries).
 *
 * Lock order: a page-table lock is a spin lock, taken last: after the address-space locks,
 * with no other page-table lock held, and nothing is allocated, freed or waited for under it.
 */
#ifndef MMSIM_CORE_PT_LOCK_H
#define MMSIM_CORE_PT_LOCK_H

#include "arch/x86_64/page_flags.h"
#include "klock.h"

/* The lock of the table holding entry slot. */
struct kspin *pt_lock_of(const pte_t *slot);
/* Every lock free again (a new boot). */
void pt_locks_reset(void);

#endif
