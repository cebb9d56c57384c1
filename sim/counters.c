#include "counters.h"

#include "frame_alloc.h"
#include "sim.h"

static uint64_t get_free(struct sim *sim)
{
	(void)sim;
	return free_frames();
}

static uint64_t get_used(struct sim *sim)
{
	(void)sim;
	return used_frames();
}

static uint64_t get_total(struct sim *sim)
{
	(void)sim;
	return total_frames();
}

/* Free frames minus the emergency reserve; with no pressure governor yet the reserve is 0. */
static uint64_t get_available(struct sim *sim)
{
	(void)sim;
	return free_frames();
}

const struct sim_counter sim_counters[] = {
	{"free_frames", "frames on the free lists and in per-CPU caches", get_free},
	{"used_frames", "allocated frames, the allocator's own metadata included", get_used},
	{"total_frames", "every frame the allocator manages", get_total},
	{"available_frames", "what user faults and page tables can still get (free minus the reserve)",
	 get_available},
};

const unsigned sim_ncounters = sizeof(sim_counters) / sizeof(sim_counters[0]);

_Static_assert(sizeof(sim_counters) / sizeof(sim_counters[0]) <= SIM_MAX_COUNTERS,
	       "a checkpoint holds every counter");
