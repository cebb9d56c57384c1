/*
 * Physical memory as the kernel reaches it: through a direct map, one base plus the address,
 * exactly as a higher-half kernel maps all of RAM at a fixed offset.
 *
 * In mmsim the base is the host address of the physical arena; in a real kernel it would be
 * the virtual address of the direct-map window. Pointers returned by phys_to_virt are not kept
 * across anything that could change the mapping (in mmsim nothing does: the arena never moves).
 */
#ifndef MMSIM_CORE_PHYS_H
#define MMSIM_CORE_PHYS_H

#include <stdint.h>

typedef uint64_t paddr_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE ((uint64_t)1 << PAGE_SHIFT)
#define PAGE_MASK (PAGE_SIZE - 1)

/* Set once at boot, before the first phys_to_virt. */
extern uintptr_t phys_direct_map_base;

static inline void *phys_to_virt(paddr_t pa)
{
	return (void *)(phys_direct_map_base + (uintptr_t)pa);
}

static inline paddr_t virt_to_phys(const void *p)
{
	return (paddr_t)((uintptr_t)p - phys_direct_map_base);
}

#endif
