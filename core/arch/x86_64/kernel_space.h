/*
 * The kernel half of every address space (the upper 128 TiB), built at boot in genuine page
 * tables, and the KernelMapper: the one lock under which it is edited afterwards.
 *
 * Layout of the kernel half:
 *   PHYS_OFFSET .. +64 TiB   the direct map: physical address pa at PHYS_OFFSET + pa
 *                            (PML4 slots 256..383). Supervisor, writable, NX, global.
 *   KERNEL_OFFSET .. +2 GiB  the kernel image (the Kernel regions of the boot map, the lowest
 *                            one's base at KERNEL_OFFSET): supervisor, global, executable and
 *                            read-only (W^X: the image's data is written through the direct
 *                            map, which is NX).
 * The kernel heap has no window of its own: it lives in the direct map (heap_frames.h).
 *
 * Invariants kept here:
 * - K1 every one of the 256 upper PML4 slots points to a PDPT allocated at boot and never
 *   freed, so the upper PML4 entries never change after kernel_space_init and a copy of them
 *   (kernel_space_clone_upper) in a user PML4 stays valid forever;
 * - K2 the direct map covers every Free, Reclaim, Reserved, Kernel, Device and IdentityMap
 *   range of the boot memory map (only those) with the largest page that fits: 1 GiB where a
 *   1 GiB aligned range lies inside one run of equal attributes, else 2 MiB, else 4 KiB;
 *   Device ranges (and any page overlapping one) are cache-disabled (PCD, i.e. UC-);
 * - K3 after boot the kernel half is edited only by the CPU holding the KernelMapper lock,
 *   and every change of a present kernel entry is flushed on that CPU (arch_invlpg). There
 *   is no cross-CPU shootdown of kernel mappings: new mappings need none (a not-present
 *   translation is never cached), and this kernel never unmaps or restricts a kernel page
 *   another CPU may be using.
 * - K4 the lock is not re-entrant: taking it twice on one CPU is a kernel bug (panic), and
 *   kernel_mapper_held_by_this_cpu() lets other subsystems assert they do not hold it.
 */
#ifndef MMSIM_CORE_ARCH_X86_64_KERNEL_SPACE_H
#define MMSIM_CORE_ARCH_X86_64_KERNEL_SPACE_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/mapper.h"

#define PHYS_OFFSET 0xffff800000000000ull
#define DIRECT_MAP_SIZE (1ull << 46) /* 64 TiB */
#define KERNEL_OFFSET 0xffffffff80000000ull
#define KERNEL_IMAGE_MAX (2ull << 30)

static inline uint64_t direct_map_va(paddr_t pa)
{
	return PHYS_OFFSET + pa;
}

/*
 * Build the kernel half from the boot memory map (boot_memory_init done) with tables from the
 * frame allocator (frame_alloc_init done). Called once at boot by one CPU (tests may call it
 * again after re-initialising the frame allocator). MAP_ENOMEM if tables cannot be allocated,
 * MAP_EINVAL if the map has memory beyond the 64 TiB direct map or a kernel image larger than
 * 2 GiB. On error the kernel cannot boot; the tables allocated so far are not returned.
 */
enum map_result kernel_space_init(void);

/* The kernel's PML4: what CR3 holds while no user address space is loaded. */
frame_t kernel_space_pml4(void);

/* Copy the 256 upper PML4 entries of the kernel into the PML4 at pml4 (K1). */
void kernel_space_clone_upper(frame_t pml4);

/* A new user mapper: a zeroed PML4 whose upper half is the kernel's. */
enum map_result kernel_space_new_user(struct mapper *m);

/* KernelMapper (K3, K4). */
void kernel_mapper_lock(void);
void kernel_mapper_unlock(void);
bool kernel_mapper_held_by_this_cpu(void);
/* The kernel's mapper; the caller must hold the lock (panics otherwise). */
struct mapper *kernel_mapper(void);

/*
 * Edit one kernel-half page outside the direct map, holding the lock (panics otherwise).
 * Unmap and remap flush the page on this CPU. Kernel-half tables are never released.
 */
enum map_result kernel_map_page(uint64_t va, frame_t frame, page_flags_t flags);
enum map_result kernel_unmap_page(uint64_t va, struct mapped_leaf *out);
enum map_result kernel_remap_page(uint64_t va, page_flags_t flags);

/*
 * Make [pa, pa + len) reachable as device memory in the direct-map window (page-aligned
 * outward) and set *va to PHYS_OFFSET + pa. Takes the KernelMapper lock itself. Pages already
 * mapped cache-disabled (a Device region of the boot map, an earlier call) are kept;
 * MAP_EXISTS without any change if any page of the range is already mapped cacheable (RAM:
 * an uncached alias of a cached page is a memory-type conflict). MAP_EINVAL for len 0, a
 * wrap-around or a range beyond the direct map. On MAP_ENOMEM the pages mapped so far stay
 * mapped (they are exactly what a retry would map) and nothing else changed.
 */
enum map_result map_device_memory(paddr_t pa, uint64_t len, uint64_t *va);

#endif
