/*
 * The simulator plays the bootloader: it writes the machine's memory map as packed
 * {base, size, kind} records into low physical memory, as a real bootloader hands it over,
 * and calls the kernel's initialisation with their address. The records sit below 1 MiB,
 * memory the kernel never allocates, so they survive until the kernel has read them.
 */
#include <inttypes.h>
#include <string.h>

#include "boot_memory.h"
#include "host/cpu_threads.h"
#include "frame_audit.h"
#include "host/host_platform.h"
#include "scenario/future_access.h"
#include "kernel_init.h"
#include "kheap.h"
#include "scenario/sim.h"
#include "user_mm_view.h"

#define BOOT_RECORDS_PA 0x7000ull
#define DEFAULT_REGIONS 4

static void put_record(struct sim *sim, unsigned i, uint64_t base, uint64_t size, uint64_t kind)
{
	struct bootloader_memory_record r = {base, size, kind};

	memcpy(sim->arena.base + BOOT_RECORDS_PA + (uint64_t)i * sizeof(r), &r, sizeof(r));
}

static void boot_cpu0(void *arg)
{
	struct boot_work *w = arg;

	w->result = kernel_init(w->records_pa, w->count, &w->params);
}

static void boot_ap(void *arg)
{
	(void)arg;
	kernel_cpu_start();
}

enum sc_status sim_boot_kernel(struct sim *sim, const struct sc_stmt *st)
{
	unsigned n = 0;
	enum kernel_init_error e;

	if (sim->cfg.default_map) {
		put_record(sim, n++, 0, 0xA0000, BOOT_MEMORY_RESERVED);
		put_record(sim, n++, 0xA0000, 0x100000 - 0xA0000, BOOT_MEMORY_DEVICE);
		put_record(sim, n++, BOOT_MEMORY_DEFAULT_KERNEL_BASE, BOOT_MEMORY_DEFAULT_KERNEL_SIZE,
			   BOOT_MEMORY_KERNEL);
		put_record(sim, n++, 0x100000, sim->arena.size - 0x100000, BOOT_MEMORY_FREE);
	}
	for (unsigned i = 0; i < sim->nboot_regions; i++)
		put_record(sim, n++, sim->boot_regions[i].base, sim->boot_regions[i].size,
			   sim->boot_regions[i].kind);
	uint64_t swap = sim->cfg.swap;

	/* a limit evicts into swap: without swap= it gets an area the size of memory, as a
	 * swapfile= without swap= does */
	if (!swap && (sim->cfg.uses_limit || sim->cfg.swapfile[0]))
		swap = sim->arena.size;
	if (!sim_swap_open(&sim->swap, swap, sim->cfg.swapfile, sim->cfg.swapkeep, sim->err))
		return sim_run_error(sim, st, "the swap area cannot be made");
	struct kernel_params params = {
		.pressure = {.reserve = sim->cfg.reserve,
			     .warning = sim->cfg.warning,
			     .emergency = sim->cfg.emergency,
			     .policy = sim->cfg.oom_picker ? OOM_PICKER : OOM_AUTO},
		.swap = swap ? &sim->swap.dev : NULL,
		.policy = (enum replace_policy)sim->cfg.policy,
	};

	sim->booted = true;
	/* the kernel runs on the simulated CPUs' threads from now on: the boot CPU initialises
	 * the kernel, then every other CPU comes up on the kernel's tables */
	if (!cpu_threads_start(sim->ncpus))
		return sim_run_error(sim, st, "the host refuses a thread for a simulated cpu");
	sim->boot = (struct boot_work){ BOOT_RECORDS_PA, n, KERNEL_INIT_OK, params };
	/* the boot is narrated, every kind of it, only when boot is asked for */
	unsigned after_boot = plat_trace_mask;
	host_set_trace_kinds(sim->opts.trace & TRACE_BOOT ? TRACE_ALL : 0);
	sim_on_cpu(sim, 0, boot_cpu0, &sim->boot);
	e = sim->boot.result;
	if (e == KERNEL_INIT_OK)
		for (unsigned c = 1; c < sim->ncpus; c++)
			sim_on_cpu(sim, c, boot_ap, NULL);
	host_set_trace_kinds(after_boot);
	if (e != KERNEL_INIT_OK)
		return sim_run_error(sim, st, "the kernel cannot boot on this machine: %s",
				     kernel_init_strerror(e));
	replace_set_oracle(sim_future_next_use, sim); /* policy=opt reads the scenario's future */
	return SC_CONTINUE;
}

enum sc_status sim_audit(struct sim *sim, const struct sc_stmt *st)
{
	char report[512];

	if (!frame_audit(report, sizeof(report)))
		return sim_kernel_bug(sim, st, "frame allocator audit failed after this command: %s",
				      report);
	if (!kheap_audit(report, sizeof(report)))
		return sim_kernel_bug(sim, st, "kernel heap audit failed after this command: %s",
				      report);
	if (!mm_audit(report, sizeof(report)))
		return sim_kernel_bug(sim, st, "memory manager audit failed after this command: %s",
				      report);
	if (!swap_audit(report, sizeof(report)))
		return sim_kernel_bug(sim, st, "swap audit failed after this command: %s", report);
	return SC_CONTINUE;
}

_Static_assert(SIM_MAX_BOOT_REGIONS + DEFAULT_REGIONS <= BOOT_MEMORY_MAP_CAPACITY,
	       "every bootmem region fits the kernel's memory map");
_Static_assert(BOOT_RECORDS_PA + (SIM_MAX_BOOT_REGIONS + DEFAULT_REGIONS) *
			       sizeof(struct bootloader_memory_record) <= 0xA0000,
	       "the records stay in low memory");
