#include "scenario/counters.h"

#include "frame_alloc.h"
#include "pressure.h"
#include "swap_area.h"
#include "scenario/sim.h"

/* The reserve's frames hold nothing: free, but not available. The allocator counts them as
 * allocated (the governor took them), so they move from used to free here. */
static uint64_t get_free(struct sim *sim)
{
	(void)sim;
	return free_frames() + reserve_pool_frames();
}

static uint64_t get_used(struct sim *sim)
{
	(void)sim;
	return used_frames() - reserve_pool_frames();
}

static uint64_t get_total(struct sim *sim)
{
	(void)sim;
	return total_frames();
}

static uint64_t get_available(struct sim *sim)
{
	(void)sim;
	return available_frames();
}

static uint64_t get_reserve(struct sim *sim)
{
	(void)sim;
	return reserve_pool_frames();
}

static uint64_t get_swap_writes(struct sim *sim)
{
	struct swap_stats st;

	(void)sim;
	swap_get_stats(&st);
	return st.writes;
}

static uint64_t get_swap_reads(struct sim *sim)
{
	struct swap_stats st;

	(void)sim;
	swap_get_stats(&st);
	return st.reads;
}

const struct sim_counter sim_counters[] = {
	{"free_frames", "frames on the free lists and in per-CPU caches", get_free},
	{"used_frames", "allocated frames, the allocator's own metadata included", get_used},
	{"total_frames", "every frame the allocator manages", get_total},
	{"available_frames", "what user faults and page tables can still get (free minus the reserve)",
	 get_available},
	{"reserve_frames", "frames in the sacred reserve now (UI frames in use are not in it)",
	 get_reserve},
	{"swap_writes", "pages written to the swap device since boot (dirty evictions)",
	 get_swap_writes},
	{"swap_reads", "pages read back from the swap device since boot (major faults)",
	 get_swap_reads},
};

const unsigned sim_ncounters = sizeof(sim_counters) / sizeof(sim_counters[0]);

_Static_assert(sizeof(sim_counters) / sizeof(sim_counters[0]) <= SIM_MAX_COUNTERS,
	       "a checkpoint holds every counter");
