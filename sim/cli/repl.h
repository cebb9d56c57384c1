/*
 * `mmsim repl`: the scenario language typed line by line (sim/scenario/session.h runs each line).
 */
#ifndef MMSIM_SIM_REPL_H
#define MMSIM_SIM_REPL_H

#include <stdio.h>

#include "scenario/sim.h"

/*
 * Reads statements from in until `quit` or the end of input, prints results to out and
 * errors to err, and keeps going after an error. `help [COMMAND]` lists commands. When in is
 * a terminal, prompts are shown and, if mmsim was built with libedit, lines can be edited
 * and recalled (history in ~/.mmsim_history). Returns the exit status: 0.
 */
int mmsim_repl(FILE *in, FILE *out, FILE *err, const struct sim_options *opts);

#endif
