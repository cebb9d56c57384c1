#include "kernel_init.h"

#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/kernel_space.h"
#include "arch/x86_64/page_fill.h"
#include "arch/x86_64/page_flags.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "heap_frames.h"
#include "kheap.h"
#include "page_info.h"
#include "platform.h"
#include "reclaim.h"
#include "user_mm.h"

#define KTRACE_KIND TRACE_BOOT

/* The heap may hold at most this share of memory (1/KHEAP_SHARE): a runaway kernel object
 * leak then shows as failed allocations, not as a machine with no memory for processes. */
#define KHEAP_SHARE 4

enum kernel_init_error kernel_init(paddr_t boot_records_pa, size_t count,
				   const struct kernel_params *params)
{
	unsigned phys_bits;
	bool page1gb;

	/* the kernel must never write an entry this processor would find reserved */
	arch_cpuid_paging(&phys_bits, &page1gb);
	paging_caps_set((struct paging_caps){.phys_addr_bits = phys_bits, .page_1g = page1gb});
	page_fill_probe();
	interrupt_reset();
	boot_memory_reset();
	if (register_bootloader_areas(boot_records_pa, count) != BOOT_MEMORY_OK)
		return KERNEL_INIT_BAD_MEMORY_MAP;
	if (boot_memory_init(KERNEL_LOW_LIMIT, 0) != BOOT_MEMORY_OK)
		return KERNEL_INIT_BAD_MEMORY_MAP;
	if (boot_memory_area_count() == 0)
		return KERNEL_INIT_NO_FREE_MEMORY;
	if (frame_alloc_init(boot_memory_areas(), boot_memory_area_count()) != FRAME_INIT_OK)
		return KERNEL_INIT_FRAME_ALLOCATOR;
	if (zero_frame_init() != MM_OK)
		return KERNEL_INIT_OUT_OF_MEMORY;
	switch (kernel_space_init()) {
	case MAP_OK:
		break;
	case MAP_ENOMEM:
		return KERNEL_INIT_OUT_OF_MEMORY;
	default:
		return KERNEL_INIT_BAD_MEMORY_MAP;
	}
	KASSERT(user_mm_init(), "the TLB shootdown vector %#x is taken", VECTOR_TLB_SHOOTDOWN);
	kheap_init(total_frames() / KHEAP_SHARE);
	kheap_set_forbidden_check(kernel_mapper_held_by_this_cpu);
	pressure_reset();
	if (!pressure_configure(&params->pressure))
		return KERNEL_INIT_BAD_PARAMS;
	if (!init_reserve())
		return KERNEL_INIT_OUT_OF_MEMORY;
	pressure_register_shrinker("kernel heap", kheap_shrink);
	KASSERT(mm_oom_init(), "the OOM path cannot register its vector or shrinker");
	replace_configure(params->policy);
	if (!swap_area_attach(params->swap))
		return KERNEL_INIT_SWAP;
	if (swap_configured()) {
		pressure_register_reclaimer(reclaim_direct);
		pressure_register_shrinker("eviction to swap", reclaim_shrinker);
	}
	kernel_cpu_start();
	KTRACE("kernel: memory ready: %llu frames, %llu free, zero frame %#llx",
	       (unsigned long long)total_frames(), (unsigned long long)free_frames(),
	       (unsigned long long)frame_base(zero_frame()));
	return KERNEL_INIT_OK;
}

void kernel_cpu_start(void)
{
	arch_write_cr3(frame_base(kernel_space_pml4()));
}

const char *kernel_init_strerror(enum kernel_init_error e)
{
	switch (e) {
	case KERNEL_INIT_OK:
		return "ok";
	case KERNEL_INIT_BAD_MEMORY_MAP:
		return "the boot memory map is invalid (bad kind, wrapping range, or too many entries)";
	case KERNEL_INIT_NO_FREE_MEMORY:
		return "the boot memory map has no free memory above 1 MiB";
	case KERNEL_INIT_FRAME_ALLOCATOR:
		return "the frame allocator cannot manage the free areas (no room for its metadata?)";
	case KERNEL_INIT_OUT_OF_MEMORY:
		return "out of memory while the kernel initialised itself";
	case KERNEL_INIT_BAD_PARAMS:
		return "the reserve or watermarks do not fit this machine (reserve above the UI's frames and at most half of memory, emergency <= warning)";
	case KERNEL_INIT_SWAP:
		return "no kernel memory for the swap area's slot map (a smaller swap=, or more memory=)";
	}
	return "unknown error";
}
