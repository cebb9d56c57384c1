/*
 * Shrinkers: the evacuation step of the OOM path, which takes back what can be had without
 * killing (per-CPU caches, then every registered shrinker).
 */
#include "pressure_governor.h"

#define KTRACE_KIND TRACE_PRESSURE

/* ---- evacuation ---- */

bool pressure_register_shrinker(const char *name, pressure_shrinker_t fn)
{
	if (G.nshrinkers == MAX_SHRINKERS || !fn)
		return false;
	G.shrinkers[G.nshrinkers++] = (struct shrinker){name, fn};
	return true;
}


uint64_t evacuate(void)
{
	uint64_t before = available_frames(), released = 0;

	frame_alloc_drain_cpu_caches();
	for (unsigned i = 0; i < G.nshrinkers; i++) {
		uint64_t n = G.shrinkers[i].fn();

		KTRACE("pressure: evacuation: %s released %llu frames", G.shrinkers[i].name,
		       (unsigned long long)n);
		released += n;
	}
	atomic_fetch_add(&G.evacuated, released);
	KTRACE("pressure: evacuation done: available %llu -> %llu", (unsigned long long)before,
	       (unsigned long long)available_frames());
	return released;
}

