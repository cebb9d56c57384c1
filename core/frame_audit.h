/*
 * The frame allocator audit: checks the live state against the invariants of
 * docs/redox-mm-notes.md section 10 that concern frames (A1-A3, A5, A6, A9, R5, R6) and reports the FIRST
 * violation, precisely, into the caller's buffer. It allocates nothing.
 *
 * It takes every per-CPU cache lock and the global lock, so it may run while other CPUs
 * allocate, but is meant for quiescent points (after a scenario step, at the end of a test).
 * Cost: O(managed frames + free blocks).
 *
 * What it proves:
 * - A1: every buddy list is a well-formed doubly linked list (head.prev == 0, x.next.prev ==
 *   x), its elements are FREE heads of that order, aligned to it, with no cycle, and each
 *   list holds exactly the FREE heads of its order; the nonempty mask matches the heads.
 * - A2: a linear scan of every section tiles it exactly with FREE blocks, USED blocks, CACHED
 *   blocks, METADATA frames and ABSENT holes; every frame inside a block has an all-zero
 *   INTERIOR record (no stale interior records), so blocks are disjoint and cover everything.
 * - A3: no free block's buddy is a free block of the same order (maximal merging).
 * - A5: buddy_free, cached, metadata and total counters equal what the scan finds, and
 *   free + used == total.
 * - A6: frame_section_lookup/get_page_info give record i for frame first + i of each section,
 *   NULL for holes and just outside sections; sections lie in the metadata frames.
 * - Per-CPU caches: every cached entry is a distinct CACHED block of its stack's order (at
 *   most cache_cap(k) of order k), the CACHED blocks are exactly the cache contents, and
 *   every stack lies above its sentinel.
 * - R5/R6: USED records carry RC_USED and a count <= RC_MAX, CACHED records exactly RC_USED;
 *   no other record has the bit; the zero frame is USED, referenced, and reads as zero; live
 *   raii_frame holders do not exceed the references.
 */
#ifndef MMSIM_CORE_FRAME_AUDIT_H
#define MMSIM_CORE_FRAME_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

/* True if every invariant holds; otherwise false and a one-line report in buf. */
bool frame_audit(char *buf, size_t len);

#endif
