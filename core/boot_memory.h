/*
 * The boot memory map: what the bootloader (and the kernel about itself) says about physical
 * memory, and the free areas the frame allocator takes over (docs/redox-mm-notes.md section 8).
 *
 * Invariants of the map (B2):
 * - every entry is page aligned and non-empty: Free ranges are shrunk inward when registered,
 *   every other kind grown outward;
 * - no two entries of the same kind overlap or touch (they are merged on registration);
 *   entries of different kinds are kept separate even when they overlap.
 * Invariants of the free areas (B1), computed by boot_memory_init:
 * - sorted by base, pairwise disjoint and not adjacent (merged), page aligned, non-empty;
 * - inside [low_limit, high_limit) and outside every non-Free entry. Reclaim is treated as
 *   reserved (never handed to the allocator), as in Redox.
 *
 * The map is boot-time state: one instance, filled by one CPU before the allocator exists.
 */
#ifndef MMSIM_CORE_BOOT_MEMORY_H
#define MMSIM_CORE_BOOT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "phys.h"

enum bootloader_memory_kind {
	BOOT_MEMORY_NULL = 0,
	BOOT_MEMORY_FREE = 1,
	BOOT_MEMORY_RECLAIM = 2,
	BOOT_MEMORY_RESERVED = 3,
	BOOT_MEMORY_KERNEL = 0x100,
	BOOT_MEMORY_DEVICE = 0x101,
	BOOT_MEMORY_IDENTITY_MAP = 0x102,
};

#define BOOT_MEMORY_MAP_CAPACITY 512
#define BOOT_MEMORY_AREA_CAPACITY 512

/* The kernel image of the default machine map. */
#define BOOT_MEMORY_DEFAULT_KERNEL_BASE 0x100000ULL
#define BOOT_MEMORY_DEFAULT_KERNEL_SIZE 0x200000ULL

struct boot_memory_entry {
	paddr_t base;
	uint64_t size;
	enum bootloader_memory_kind kind;
};

/* A free area handed to the frame allocator. */
struct boot_area {
	paddr_t base;
	uint64_t size;
};

/* The bootloader's record format in physical memory: packed, 24 bytes. */
struct bootloader_memory_record {
	uint64_t base;
	uint64_t size;
	uint64_t kind;
};
_Static_assert(sizeof(struct bootloader_memory_record) == 24, "bootloader record is 24 bytes");

enum boot_memory_error {
	BOOT_MEMORY_OK = 0,
	BOOT_MEMORY_MAP_FULL,     /* more than BOOT_MEMORY_MAP_CAPACITY entries */
	BOOT_MEMORY_AREAS_FULL,   /* more than BOOT_MEMORY_AREA_CAPACITY free areas */
	BOOT_MEMORY_BAD_KIND,     /* a kind not in enum bootloader_memory_kind */
	BOOT_MEMORY_BAD_RANGE,    /* base + size wraps around */
	BOOT_MEMORY_BAD_LIMITS,   /* low_limit >= high_limit */
	BOOT_MEMORY_TOO_SMALL,    /* default map: machine smaller than low memory + kernel */
};

/* Forget every entry and area. */
void boot_memory_reset(void);

/*
 * Add a range. Null kind and empty ranges (also after inward alignment) are ignored and
 * return BOOT_MEMORY_OK.
 */
enum boot_memory_error register_memory_region(paddr_t base, uint64_t size,
					      enum bootloader_memory_kind kind);

/* Register `count` packed bootloader records read from physical memory at table_pa. Stops at
 * the first error and returns it. */
enum boot_memory_error register_bootloader_areas(paddr_t table_pa, size_t count);

/*
 * Compute the free areas: Free entries clipped to [low_limit, high_limit) (high_limit 0 means
 * no limit), minus every non-Free entry, sorted and merged.
 */
enum boot_memory_error boot_memory_init(paddr_t low_limit, paddr_t high_limit);

/*
 * Register the map of a simple PC with machine_bytes of RAM: [0, 0xA0000) Reserved,
 * [0xA0000, 0x100000) Device, the kernel image [1 MiB, 3 MiB) Kernel, and Free RAM from
 * 1 MiB to machine_bytes (the kernel image is subtracted by boot_memory_init).
 */
enum boot_memory_error boot_memory_default_map(uint64_t machine_bytes);

size_t boot_memory_map_count(void);
/* Entry i of the map (unordered: merging removes entries by swapping in the last); false if
 * i is out of range. */
bool boot_memory_map_entry(size_t i, struct boot_memory_entry *out);

size_t boot_memory_area_count(void);
const struct boot_area *boot_memory_areas(void);

const char *bootloader_memory_kind_name(enum bootloader_memory_kind kind);

#endif
