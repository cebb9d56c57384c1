/*
 * A live session: statements parsed and run one at a time against one machine, as the REPL
 * (`mmsim repl`) needs. The whole-file rules still hold across lines (machine first, bootmem
 * right after it, a checkpoint defined before use), because every line is parsed into the
 * same scenario. Unlike `mmsim run`, an error does not end the session: the line is dropped
 * (a parse error leaves no trace) and the next one is read.
 */
#ifndef MMSIM_SIM_SESSION_H
#define MMSIM_SIM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "scenario/scenario.h"
#include "scenario/sim.h"

struct sim_session {
	struct scenario sc;   /* every statement accepted so far */
	struct sim sim;       /* valid once created */
	bool created;         /* the machine exists (after the first accepted statement) */
	size_t ran;           /* statements of sc already executed */
	struct sim_options opts;
	char *name;           /* for messages: NAME:LINE:COL: error: ... */
	FILE *out, *err;
};

void sim_session_init(struct sim_session *s, const char *name, const struct sim_options *opts,
		      FILE *out, FILE *err);

/*
 * Parses `text` (one logical line; continuations already joined or kept with their '\' and
 * newline) whose first line is number `line`, and runs what it holds. The machine is built at
 * the first statement that is accepted: from it when it is a `machine` line, with the
 * defaults of the language (256M, 1 CPU, the kernel on) otherwise. Returns the status the
 * statement would give `mmsim run`: 0 ran (or nothing to run), 1 an expectation failed,
 * 2 a parse or run-time error, 3 a kernel bug. The messages went to err.
 */
int sim_session_line(struct sim_session *s, const char *text, size_t len, int line);

/* Whether the machine has been built, and its configuration (the defaults until then). */
const struct machine_cfg *sim_session_machine(const struct sim_session *s);

void sim_session_destroy(struct sim_session *s);

#endif
