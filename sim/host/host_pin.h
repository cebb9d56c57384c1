/*
 * Placing a host thread on one host core: the scenario runner's `parallel` blocks and the
 * benchmarks keep each simulated CPU (or timed thread) on a core of its own, because the
 * host scheduler may otherwise run two busy threads on one core in turns.
 */
#ifndef MMSIM_SIM_HOST_PIN_H
#define MMSIM_SIM_HOST_PIN_H

#include <sched.h>
#include <stdbool.h>

/* The n-th core (counting from 0, modulo their number) of `cores`; -1 if `cores` is empty. */
int host_core_nth(const cpu_set_t *cores, unsigned n);

/* Keep the calling thread (any host thread) on host_core_nth(cores, n); false, nothing
 * changed, if `cores` is empty or the host refuses. */
bool host_pin_thread(const cpu_set_t *cores, unsigned n);

#endif
