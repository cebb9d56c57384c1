/*
 * User memory management as the rest of the kernel (system calls, the scheduler, the
 * page-fault entry) sees it: address spaces, the memory system calls, faults and user copies.
 *
 * The model (docs/redox-mm-notes.md sections 3-6): an address space is a page-table tree
 * plus an ordered set of grants; each grant has one provider (private
 * allocated memory, shared allocated memory, physically borrowed memory, memory borrowed from
 * another address space, memory served by a file server). Pages are mapped lazily and
 * completed by the page-fault handler (demand-zero, copy-on-write).
 *
 * Every function returns a value of enum mm_status; none panics on bad input or on exhaustion.
 * All run on the calling CPU (plat_cpu_id()).
 */
#ifndef MMSIM_CORE_USER_MM_H
#define MMSIM_CORE_USER_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phys.h"

enum mm_status {
	MM_STATUS_OK = 0,
	MM_STATUS_EINVAL, /* bad address, size, protection or flags */
	MM_STATUS_ENOMEM, /* no memory (nothing was changed) */
	MM_STATUS_EFAULT, /* a user address that cannot be accessed (user copies) */
	MM_STATUS_EBUSY,  /* the range is pinned (a file-server page in use) */
	MM_STATUS_EPERM,  /* the request is not allowed (e.g. upgrading a borrowed mapping) */
	MM_STATUS_EEXIST, /* the destination range is occupied and replacing was not asked */
	MM_STATUS_COUNT,
};
/* "ok", "einval", ...: the words scenarios use. */
const char *mm_status_name(enum mm_status s);

/* Protection bits of a mapping (a subset; no bit = no access). */
#define MM_PROT_READ 0x1u
#define MM_PROT_WRITE 0x2u
#define MM_PROT_EXEC 0x4u

/* mmap flags. */
#define MM_MAP_SHARED 0x1u    /* stays shared with a fork's child instead of copy-on-write */
#define MM_MAP_POPULATE 0x2u  /* allocate and map every page now */
#define MM_MAP_FIXED 0x4u     /* exactly at addr; an existing mapping there is replaced:
				 discarded first, so even a failed MM_MAP_FIXED | MM_MAP_POPULATE
				 (ENOMEM) leaves the range unmapped, as Linux's MAP_FIXED does; the
				 one exception to "an error changes nothing" */
/* Without MM_MAP_FIXED, addr is a hint: the nearest free range, else the lowest. */

/* The lowest address mmap hands out without MM_MAP_FIXED (page 0 stays unmapped). */
#define MMAP_MIN_DEFAULT 0x1000ull

struct addr_space;

/* Boot: reset the memory manager's global state and register the TLB shootdown vector
 * (after interrupt_reset, before any address space exists). false if the vector is taken. */
bool user_mm_init(void);
/* At boot, after user_mm_init and the pressure governor: hand the governor the live address
 * spaces as OOM victims and the empty-page-table shrinker. */
bool mm_oom_init(void);

/* A new, empty user address space whose upper half is the kernel's. NULL on ENOMEM. */
struct addr_space *addr_space_create(void);
/* The reference the creator holds is dropped: every grant is unmapped (after the TLB
 * shootdown), every frame only this space held is freed, then the tables and the object.
 * No CPU may still run in it (addr_space_exit sees to that). */
void addr_space_destroy(struct addr_space *as);
/* A process ends (exit, or killed for memory): every CPU still running in the space is made
 * to leave it (an IPI to the others), then addr_space_destroy. Idempotent on a dead space. */
void addr_space_exit(struct addr_space *as);
/* A name for traces and audit reports (truncated to 15 characters). */
void addr_space_set_name(struct addr_space *as, const char *name);
const char *addr_space_name(const struct addr_space *as);
/*
 * References held outside the kernel's memory manager (the scheduler's process table): the
 * object stays valid until released, even after addr_space_destroy or an OOM kill, so the
 * holder can learn with addr_space_is_alive that the process is gone.
 */
void addr_space_hold(struct addr_space *as);
void addr_space_release(struct addr_space *as);
bool addr_space_is_alive(struct addr_space *as);

/* The value CR3 takes to run in this address space. */
uint64_t addr_space_cr3(const struct addr_space *as);

/* Make as the current address space of this CPU (loads CR3, records the CPU in its used-by
 * set for shootdowns). as may be NULL: the kernel's own tables. */
void addr_space_switch(struct addr_space *as);

/* fork: *child gets a copy-on-write clone (shared grants stay shared, borrowed ones are
 * borrowed again). On ENOMEM nothing is left behind. */
enum mm_status mm_fork(struct addr_space *parent, struct addr_space **child);

enum mm_status mm_mmap(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
		       unsigned flags, uint64_t *mapped_at);
/* Map physical memory the frame allocator does not manage (device memory). */
enum mm_status mm_mmap_phys(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
			    paddr_t paddr, unsigned flags, uint64_t *mapped_at);
enum mm_status mm_munmap(struct addr_space *as, uint64_t addr, uint64_t size);
enum mm_status mm_mprotect(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot);
/* dst maps the pages of src at [src_addr, +size) at dst_addr: the same frames, shared. */
enum mm_status mm_borrow(struct addr_space *src, uint64_t src_addr, struct addr_space *dst,
			 uint64_t dst_addr, uint64_t size, unsigned prot);
/* The mapping moves from src to dst; src no longer has it. */
enum mm_status mm_transfer(struct addr_space *src, uint64_t src_addr, struct addr_space *dst,
			   uint64_t dst_addr, uint64_t size);

/*
 * File servers (the FmapBorrowed provider). srv serves [addr, +size) of its own anonymous
 * memory as one file (EINVAL unless that range is covered by anonymous grants; EBUSY while
 * an earlier served range is still mapped by clients). mm_fmap maps size bytes of the file
 * from byte `offset` at addr in as (MM_MAP_FIXED: exactly there, replacing what is there;
 * else addr is a hint), lazily: a fault maps the server's page, the same frame, shared.
 * While any client maps the file, the server may not munmap, mprotect or transfer the
 * served range (EBUSY). Every client unmap (munmap, exit) sends the server a notification.
 */
enum mm_status mm_fserve(struct addr_space *srv, uint64_t addr, uint64_t size);
enum mm_status mm_fmap(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
		       struct addr_space *srv, uint64_t offset, unsigned flags, uint64_t *mapped_at);

/*
 * The #PF entry: error code and CR2 as the processor reported them, for a fault taken while
 * running in the current address space of this CPU. PF_OK: the page tables were corrected
 * (or were already right: a spurious fault), retry the access. When no frame can be had the
 * handler hands the failure to the memory-pressure governor (on_oom): memory may be found
 * by evacuation or by killing a process (PF_OK, retry; PF_KILLED if the victim was the
 * faulting process), or the system is frozen at the emergency picker (PF_OOM).
 */
enum pf_status {
	PF_OK = 0,
	PF_SEGV,                     /* the access is not allowed: no grant, or its protection */
	PF_OOM,                      /* a frame was needed and none could be had */
	PF_NONFATAL_INTERNAL_ERROR,  /* a provider could not resolve it (e.g. a dead file server) */
	PF_RECURSION_LIMIT,          /* borrowing chains too deep */
	PF_KILLED,                   /* out of memory, and the governor chose this very process:
					it no longer exists; the access ends as killed */
};
enum pf_status page_fault_handler(uint32_t error_code, uint64_t cr2);
const char *pf_status_name(enum pf_status s);

/* Copies between kernel memory and the current address space, through the processor with
 * CR0.WP=1 (so copy-on-write and demand-zero pages behave as for the process), recovering
 * from faults: EFAULT for an address the process could not access either. */
enum mm_status copy_to_user(uint64_t uaddr, const void *src, size_t len);
enum mm_status copy_from_user(void *dst, uint64_t uaddr, size_t len);

#endif
