/*
 * `mmsim run --json`: one JSON object on standard output at the end of a run (or at its
 * failure) with what a grader needs: the file, the exit status, the failing line, every
 * global counter, each CPU's counters, the checkpoints, and what the scenario printed.
 * every process (name, alive, rss, table frames, fault counters) and the pressure
 * governor's state. The object is built from sections, one function each (report_json.c).
 */
#ifndef MMSIM_SIM_REPORT_JSON_H
#define MMSIM_SIM_REPORT_JSON_H

#include <stdio.h>

#include "scenario/sim.h"

/* Runs FILE like `mmsim run` and prints the JSON object to out; what the scenario printed goes
 * into the object, its error messages to err as usual. Returns the run's exit status. */
int sim_run_json(const char *file, const struct sim_options *opts, FILE *out, FILE *err);

/* Pieces of the object, also used by the --html page (html_page.c). */
void json_string(FILE *out, const char *s);
/* Each process (name, alive, state, rss, table frames, faults by kind); null before boot. */
void json_sim_processes(FILE *out, const struct sim *sim);
/* The governor: state, frozen, available, reserve, watermarks, oom policy; null before boot. */
void json_sim_pressure(FILE *out, const struct sim *sim);
/* Each CPU's CR3, CR2 and counters; null without a machine. */
void json_sim_cpus(FILE *out, const struct sim *sim);

#endif
