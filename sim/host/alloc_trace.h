/*
 * `mmsim run FILE --alloc-trace OUT`: every frame allocation, free and split the simulated
 * kernel makes, written to OUT in the format of docs/alloc-trace.md for allocbench --replay.
 */
#ifndef MMSIM_SIM_ALLOC_TRACE_H
#define MMSIM_SIM_ALLOC_TRACE_H

#include <stdbool.h>
#include <stdio.h>

struct sim;

/* Open path and start receiving frame events; false (message on err) if it cannot. */
bool alloc_trace_start(struct sim *sim, const char *path, FILE *err);
/* After a command: decide what the blocks allocated since the last call are for, and write
 * the events out. A no-op when not recording. */
void alloc_trace_settle(struct sim *sim);
/* Settle, stop receiving events, close the file; false if writing it failed. */
bool alloc_trace_finish(struct sim *sim);

#endif
