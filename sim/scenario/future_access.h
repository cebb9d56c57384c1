/*
 * The scenario's own future, for policy=opt (Belady): the kernel asks when a process will
 * next access a page, counting from the access under way. The scenario is known before it
 * runs, so the answer is read off the statements still to come: a process's reads, writes,
 * fetches, touches and kernel copies, in the order of the lines, and within a touch or a
 * copy in address order.
 */
#ifndef MMSIM_SIM_FUTURE_ACCESS_H
#define MMSIM_SIM_FUTURE_ACCESS_H

#include <stdint.h>

struct addr_space;

/* The oracle (core/replace_policy.h replace_oracle_t); ctx is the struct sim. */
uint64_t sim_future_next_use(void *ctx, struct addr_space *as, uint64_t va, uint64_t now_va);

#endif
