/*
 * The kernel's global counters as scenarios name them (`expect free_frames == N`,
 * `checkpoint NAME` remembers all of them). Adding a counter is adding a row to the table.
 */
#ifndef MMSIM_SIM_COUNTERS_H
#define MMSIM_SIM_COUNTERS_H

#include <stdint.h>

struct sim;

struct sim_counter {
	const char *name;
	const char *help;
	uint64_t (*get)(struct sim *sim);
};

extern const struct sim_counter sim_counters[];
extern const unsigned sim_ncounters;

#endif
