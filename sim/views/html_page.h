/*
 * `mmsim run FILE --html OUT.html`: one self-contained page with a snapshot of the machine
 * after every scenario line, to step through forward and back in any browser (no server,
 * no network: the data is embedded as JSON, the script and the style are inline).
 *
 * Recording (html_steps.c): while the run goes, what the scenario prints is captured per
 * statement (and passed on to the real stdout and stderr), and after each statement the
 * existing views are run into memory: `show pagetables` of each live process, `show cpu`
 * and `show tlb` of each CPU, `show frames`, with the processes, CPUs and pressure governor
 * as the --json report writes them. A view's text that did not change since the previous
 * step is stored once. Writing (html_page.c): the page around that data.
 */
#ifndef MMSIM_SIM_HTML_PAGE_H
#define MMSIM_SIM_HTML_PAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "user_mm_view.h"

#include "scenario/sim.h"

/* Snapshots stop after this many statements (the page says so); a view's text is cut at
 * HTML_MAX_TEXT bytes. With both, a page stays within a few tens of MiB. */
#define HTML_MAX_STEPS 2000
#define HTML_MAX_TEXT (256u << 10)

struct html_step {
	int line;
	int status;     /* enum sc_status */
	char *text;     /* the statement */
	char *output;   /* what it printed */
	char *messages; /* what it reported on stderr */
	char *state;    /* the snapshot as JSON; NULL past HTML_MAX_STEPS */
};

/* A stream that writes through to a real one and keeps a copy of what it got since the
 * last step (at most HTML_MAX_TEXT bytes of it). Writing through at once means that
 * nothing is lost when the run ends by exit() (a kernel panic, exit 3). */
struct html_tee {
	FILE *real;
	char *buf;
	size_t len, cap;
};

struct html_steps {
	struct html_tee tout, terr;
	FILE *out, *err; /* the run's streams */

	char **texts; /* every distinct view text, in order */
	size_t ntexts, cap_texts;
	struct html_step *steps;
	size_t nsteps, cap_steps;

	/* the previous step: its texts (to store unchanged ones once) and counters */
	int *prev_pt;              /* per process */
	int *prev_regs, *prev_tlb; /* per CPU */
	int prev_frames;
	int prev_swap; /* show swap and every limited process's show policy */
	struct addr_space_stats *prev_stats; /* per process */
	int *prev_state;                     /* per process: enum process_state, -1 new */
	size_t nprev_procs;
	uint64_t *prev_pf, *prev_gp; /* per CPU */
};

/* Runs FILE like `mmsim run` (output and messages as usual) and writes the page to
 * out_path; returns the run's exit status (2 as well when the page cannot be written). */
int sim_run_html(const char *file, const char *out_path, const struct sim_options *opts,
		 FILE *out, FILE *err);

/* Starts recording: *out and *err become in-memory streams that sim_create must be given;
 * what goes there reaches real_out and real_err after each statement. NULL if out of memory. */
struct html_steps *html_steps_begin(FILE *real_out, FILE *real_err, FILE **out, FILE **err);
/* After a statement ran (sim_run calls it when sim->html is set). */
void html_steps_record(struct html_steps *h, struct sim *sim, const struct sc_stmt *st,
		       enum sc_status status);
/* Passes on what is still held (messages printed after the last statement). */
void html_steps_flush(struct html_steps *h);
/* Writes the page for the scenario's source to path; false after reporting why on err. */
bool html_page_write(const struct html_steps *h, const char *path, const char *file,
		     const char *source, size_t len, int status, bool kernel, FILE *err);
void html_steps_free(struct html_steps *h);

#endif
