/*
 * The kernel's memory initialisation, in boot order: read the bootloader's memory map, compute
 * the free areas, hand them to the frame allocator, allocate the zero frame. What a real
 * kernel's start-up code does before the first process exists.
 */
#ifndef MMSIM_CORE_KERNEL_INIT_H
#define MMSIM_CORE_KERNEL_INIT_H

#include <stddef.h>

#include "phys.h"
#include "pressure.h"
#include "replace_policy.h"
#include "swap_area.h"

/* What the bootloader passes on the kernel's command line. */
struct kernel_params {
	struct pressure_config pressure; /* zero fields: the governor's defaults */
	const struct swap_device *swap;  /* the swap area's device; NULL: no swap */
	enum replace_policy policy;      /* what `limit` evicts by (REPLACE_FIFO is 0) */
};

/* The low end of memory the allocator may use: the first 1 MiB belongs to firmware and
 * devices on a PC (and keeps physical frame 0, which cannot be represented, out). */
#define KERNEL_LOW_LIMIT 0x100000ull

enum kernel_init_error {
	KERNEL_INIT_OK = 0,
	KERNEL_INIT_BAD_MEMORY_MAP, /* the bootloader's records could not be registered, or the
				       kernel half cannot cover them */
	KERNEL_INIT_NO_FREE_MEMORY, /* no free area above KERNEL_LOW_LIMIT */
	KERNEL_INIT_FRAME_ALLOCATOR,/* the frame allocator refused the areas */
	KERNEL_INIT_OUT_OF_MEMORY,  /* not even a frame for the kernel's own structures */
	KERNEL_INIT_BAD_PARAMS,     /* the pressure settings do not fit this machine */
	KERNEL_INIT_SWAP,           /* no kernel memory for the swap area's slot map */
};

/*
 * On the boot CPU: boot_records_pa holds `count` packed bootloader_memory_record entries.
 * Builds the boot memory map, the frame allocator, the zero frame, the kernel half of the
 * address space, the kernel heap, sets the memory-pressure reserve aside, and switches the
 * boot CPU to the kernel's tables.
 */
enum kernel_init_error kernel_init(paddr_t boot_records_pa, size_t count,
				   const struct kernel_params *params);
/* On every other CPU as it comes up: switch it to the kernel's tables. */
void kernel_cpu_start(void);
const char *kernel_init_strerror(enum kernel_init_error e);

#endif
