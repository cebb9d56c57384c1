/*
 * The running machine: the physical arena, the simulated CPUs and what the run loop needs
 * to report results. One struct sim per `mmsim run`.
 */
#ifndef MMSIM_SIM_SIM_H
#define MMSIM_SIM_SIM_H

#include <stdbool.h>
#include <stdio.h>

#include "host/arena.h"
#include "kernel_init.h"
#include "platform.h"
#include "scenario/process.h"
#include "scenario/scenario.h"
#include "host/swap_device.h"
#include "x86_cpu.h"

struct html_steps;

struct sim_options {
	unsigned trace;       /* --trace: the kinds to narrate (enum plat_trace_kind) */
	bool audit;           /* --audit: the invariant audit after every command */
	unsigned arena_flags; /* enum arena_flags */
	bool reveal;          /* --reveal: a wrong answer's report says what the machine found */
	const char *alloc_trace; /* --alloc-trace OUT: record frame allocations (alloc_trace.h) */
};

/* A region the scenario added to the bootloader's memory map (bootmem). */
struct sim_boot_region {
	uint64_t base, size, kind;
};

#define SIM_MAX_BOOT_REGIONS 256
#define SIM_MAX_COUNTERS 16

struct sim_checkpoint {
	char name[SC_NAME_MAX];
	uint64_t values[SIM_MAX_COUNTERS];
};

/* The boot CPU's work: kernel_init over the bootloader's records. */
struct boot_work {
	uint64_t records_pa;
	size_t count;
	int result; /* enum kernel_init_error */
	struct kernel_params params;
};

struct sim {
	struct machine_cfg cfg;
	struct sim_options opts;
	struct arena arena;
	struct x86_cpu *cpus;
	unsigned ncpus;
	unsigned cur_cpu;
	const char *file;
	FILE *out; /* what the scenario prints, and --trace */
	FILE *err; /* failed expectations and run-time errors */

	bool booted;
	struct boot_work boot;
	struct sim_boot_region boot_regions[SIM_MAX_BOOT_REGIONS];
	unsigned nboot_regions;
	struct sim_checkpoint *checkpoints;
	size_t ncheckpoints;

	struct sim_process *procs;
	size_t nprocs, cap_procs;

	/* Marked answers (sim/scenario/answers.c): how they fared, and an expectation's failure held
	 * back while an answer is checked. */
	unsigned answers_right, answers_wrong, answers_unanswered;
	unsigned expectations_held; /* expect lines that ran and held (marked answers aside) */
	bool holding_failure;
	char held_failure[512];

	/* --html: the steps recorded after each statement (html_page.h), or NULL */
	struct html_steps *html;

	struct sim_swap swap; /* the swap area's device */
	const struct scenario *sc; /* the scenario running (its future, for policy=opt) */
	size_t cur_stmt;           /* the statement running */

	/* Called after each statement sim_run executed, or NULL: a quiz reads the kernel's state
	 * between the lines of the scenario it runs (sim/teach/quiz_policy.c). */
	void (*after_stmt)(struct sim *sim, size_t index, void *ctx);
	void *after_stmt_ctx;
};

/*
 * Where a command prints. While a CPU runs a command of a `parallel` block, sim_block points
 * at that command's own streams: its output and its failure report are printed after `end`,
 * in the order of the lines; its trace lines go out as they happen, whole, tagged with the
 * CPU (sim/commands/cmd_parallel.c). Elsewhere they are sim->out and sim->err.
 */
struct sim_block_io {
	FILE *out, *err, *trace;
};
extern _Thread_local struct sim_block_io *sim_block;

static inline FILE *sim_out(const struct sim *sim)
{
	return sim_block ? sim_block->out : sim->out;
}

static inline FILE *sim_err(const struct sim *sim)
{
	return sim_block ? sim_block->err : sim->err;
}

/* --trace narration */
static inline FILE *sim_trace(const struct sim *sim)
{
	return sim_block && sim_block->trace ? sim_block->trace : sim->out;
}

/* Plays the bootloader: writes the memory map into low memory and runs kernel_init. */
enum sc_status sim_boot_kernel(struct sim *sim, const struct sc_stmt *st);
/* Every audit the kernel has; a violation is reported as a kernel bug (exit 3). */
enum sc_status sim_audit(struct sim *sim, const struct sc_stmt *st);

/* Builds the machine the scenario's machine line describes. Prints why on failure. */
bool sim_create(struct sim *sim, const struct machine_cfg *cfg, const struct sim_options *opts,
		const char *file, FILE *out, FILE *err);
void sim_destroy(struct sim *sim);

/* A passing run says so on a terminal: "FILE: 12 expectations held" on sim->err (a file
 * full of expectations otherwise passes in silence, which a student cannot tell from
 * nothing having run). */
void sim_say_passed(const struct sim *sim, int status);

/* Runs every statement; returns the exit status (0, 1, 2 or 3). */
int sim_run(struct sim *sim, const struct scenario *sc);

/* Runs a statement marked `#?` (an answer): reports a wrong or missing answer and goes on. */
enum sc_status sim_exec_answer(struct sim *sim, const struct sc_stmt *st);
/* After the run: the answers' summary on stderr; a wrong or missing answer makes a passing
 * run's status 1. */
int sim_answers_finish(struct sim *sim, int status);

/* Whether the simulator narrates this kind of event now (--trace, `trace on|off`). */
static inline bool sim_traces(unsigned kind)
{
	return (plat_trace_mask & kind) != 0;
}

/* The CPU a statement runs on (its cpu= option, else the current one); it becomes current. */
struct x86_cpu *sim_cpu_for(struct sim *sim, const struct sc_stmt *st);

/* Reporting from exec functions. */
enum sc_status sim_expect_failed(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum sc_status sim_run_error(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The kernel caught a bug in itself (exit 3): FILE:LINE: kernel bug: ... */
enum sc_status sim_kernel_bug(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
