/*
 * Read-only views of user address spaces, for expectations, `show` views and audits.
 * Nothing here changes state; each takes the address space's lock for a consistent view.
 */
#ifndef MMSIM_CORE_USER_MM_VIEW_H
#define MMSIM_CORE_USER_MM_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phys.h"
#include "user_mm.h"

/* Resident 4 KiB pages of the user half: present pages (a zero-frame mapping counts; a 2 MiB
 * page counts 512) and PROT_NONE pages that keep their frame (protnone entries), as Linux
 * counts them. */
uint64_t addr_space_rss(struct addr_space *as);

/* Table frames of the user half, the PML4 included. */
uint64_t addr_space_table_frames(struct addr_space *as);

struct page_lookup {
	paddr_t pa;          /* physical address of va (offset included) */
	uint64_t refcount;   /* references of the frame; 0 if the allocator does not manage it */
	bool writable, user, executable;
	bool zero_frame;     /* the shared zero frame */
};
/* The present translation of va, false if none. */
bool addr_space_lookup(struct addr_space *as, uint64_t va, struct page_lookup *out);

enum grant_provider_kind {
	PROVIDER_ALLOCATED,        /* private anonymous memory, copy-on-write on fork */
	PROVIDER_ALLOCATED_SHARED, /* shared anonymous memory */
	PROVIDER_PHYS_BORROWED,    /* physical memory the allocator does not manage */
	PROVIDER_EXTERNAL,         /* borrowed from another address space */
	PROVIDER_FMAP_BORROWED,    /* served by a file server's address space */
};
const char *grant_provider_name(enum grant_provider_kind k);

struct grant_view {
	uint64_t start, size;
	unsigned prot;              /* MM_PROT_* */
	enum grant_provider_kind provider;
	uint64_t detail;            /* phys base, source address or file offset, per provider */
	bool pinned;
};
/* Calls fn for every grant in address order; stops when fn returns false. */
void addr_space_for_each_grant(struct addr_space *as,
			       bool (*fn)(void *ctx, const struct grant_view *g), void *ctx);

struct addr_space_stats {
	uint64_t faults_demand_zero;   /* a fresh zeroed frame mapped */
	uint64_t faults_zero_mapped;   /* a read fault that mapped the shared zero frame */
	uint64_t faults_cow_copy;      /* copy-on-write: a new frame, the old one copied */
	uint64_t faults_cow_reuse;     /* copy-on-write with one owner: the frame made writable */
	uint64_t faults_shared;        /* a shared or borrowed page mapped */
	uint64_t faults_spurious;      /* the tables were already right (a stale TLB entry) */
	uint64_t faults_segv;          /* refused: no grant or its protection */
	uint64_t faults_oom;           /* no frame could be had */
	uint64_t faults_total;         /* every page fault taken in the space, of any kind */
	uint64_t faults_major;         /* a page read back from swap */
	uint64_t faults_swap_cached;   /* a swapped page found still in a frame (swap cache) */
	uint64_t evictions;            /* pages of the space evicted to swap */
};
void addr_space_get_stats(struct addr_space *as, struct addr_space_stats *out);

/* The file a space serves (mm_fserve) and its pins and notifications. */
struct fserve_view {
	bool active;
	uint64_t base, size;
	uint64_t pins;     /* client FmapBorrowed grants mapping it */
	uint64_t notified; /* unmap notifications received */
};
void addr_space_fserve_info(struct addr_space *as, struct fserve_view *out);

/* Visit the user half of the page tables under the address space's lock (mapper_visit);
 * the callbacks must not call back into the memory manager. */
struct mapper_visitor;
void addr_space_visit_tables(struct addr_space *as, const struct mapper_visitor *v);

/* The kernel's audit: every live address space, its grants and the reference counts (G1,
 * G2, R1-R5, M5, M8 and the shared-grant half of F1), then frame_audit, kheap_audit and
 * pressure_audit (docs/invariants.md says what each checks and what no snapshot can): true
 * if all hold, else the first violation, precisely, in buf. Allocates nothing. */
bool mm_audit(char *buf, size_t len);

#endif
