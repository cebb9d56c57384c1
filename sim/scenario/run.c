/*
 * The run loop: builds the machine, executes the statements in order, and turns the first
 * failure into the exit status of the contract (1 expectation, 2 scenario error found at run
 * time, 3 kernel bug).
 */
#include "scenario/sim.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/alloc_trace.h"
#include "host/cpu_threads.h"
#include "host/host_cpu_ops.h"
#include "host/host_platform.h"
#include "views/html_page.h"
#include "phys.h"

_Thread_local struct sim_block_io *sim_block;

/* The statement being executed, for reports of kernel panics. */
static const struct sim *panic_sim;
static const struct sc_stmt *panic_stmt;

static void report_panic(const char *msg)
{
	fflush(stdout);
	if (panic_sim && panic_stmt)
		fprintf(panic_sim->err, "%s:%d: kernel bug: %s\n", panic_sim->file, panic_stmt->line,
			msg);
	else
		fprintf(stderr, "mmsim: kernel bug: %s\n", msg);
	exit(3);
}

bool sim_create(struct sim *sim, const struct machine_cfg *cfg, const struct sim_options *opts,
		const char *file, FILE *out, FILE *err)
{
	enum arena_error ae;
	struct x86_phys phys;

	memset(sim, 0, sizeof(*sim));
	sim->swap.fd = -1; /* no swap file until boot opens one: sim_destroy must not close fd 0 */
	sim->cfg = *cfg;
	sim->opts = *opts;
	sim->file = file;
	sim->out = out;
	sim->err = err;
	ae = arena_create(&sim->arena, cfg->memory, opts->arena_flags);
	if (ae != ARENA_OK) {
		fprintf(err, "%s: error: cannot create %llu bytes of physical memory: %s\n", file,
			(unsigned long long)cfg->memory, arena_strerror(ae));
		return false;
	}
	/* each CPU's state on cache lines of its own (x86_cpu.h): calloc does not align them */
	sim->cpus = aligned_alloc(_Alignof(struct x86_cpu), cfg->cpus * sizeof(*sim->cpus));
	if (!sim->cpus) {
		fprintf(err, "%s: error: out of host memory\n", file);
		arena_destroy(&sim->arena);
		return false;
	}
	memset(sim->cpus, 0, cfg->cpus * sizeof(*sim->cpus));
	phys.base = sim->arena.base;
	phys.size = sim->arena.size;
	for (unsigned i = 0; i < cfg->cpus; i++) {
		if (!x86_cpu_init(&sim->cpus[i], phys, cfg->tlb_entries, cfg->maxphyaddr)) {
			fprintf(err, "%s: error: cannot create cpu %u\n", file, i);
			sim->ncpus = i;
			sim_destroy(sim);
			return false;
		}
		sim->cpus[i].vendor = cfg->vendor;
		sim->cpus[i].page1gb = cfg->page1gb;
		sim->ncpus = i + 1;
	}
	host_set_cpu_count(cfg->cpus);
	/* boot narration is sim_boot_kernel's to switch on */
	host_set_trace(out, false);
	host_set_trace_kinds(opts->trace & ~TRACE_BOOT);
	host_cpu_ops_attach(sim->cpus, sim->ncpus);
	host_set_panic_handler(report_panic);
	phys_direct_map_base = (uintptr_t)sim->arena.base;
	if (opts->alloc_trace && !alloc_trace_start(sim, opts->alloc_trace, err)) {
		sim_destroy(sim);
		return false;
	}
	return true;
}

void sim_destroy(struct sim *sim)
{
	if (cpu_threads_running()) {
		/* every process ends on its CPU (frames back to the allocator), then the CPUs stop */
		process_end_all(sim);
		cpu_threads_stop();
	}
	if (!alloc_trace_finish(sim))
		fprintf(sim->err, "mmsim: --alloc-trace: could not write the whole trace\n");
	swap_area_reset(); /* the kernel lets go of the device before it goes */
	sim_swap_close(&sim->swap);
	free(sim->procs);
	free(sim->checkpoints);
	host_cpu_ops_attach(NULL, 0);
	panic_sim = NULL;
	panic_stmt = NULL;
	for (unsigned i = 0; i < sim->ncpus; i++)
		x86_cpu_destroy(&sim->cpus[i]);
	free(sim->cpus);
	arena_destroy(&sim->arena);
	memset(sim, 0, sizeof(*sim));
}

struct x86_cpu *sim_cpu_for(struct sim *sim, const struct sc_stmt *st)
{
	if (st->cpu >= 0)
		sim->cur_cpu = (unsigned)st->cpu;
	host_set_current_cpu(sim->cur_cpu);
	return &sim->cpus[sim->cur_cpu];
}

/* "expect peek 0x1000 == 5" is reported as "peek 0x1000 == 5". */
static const char *what_of(const struct sc_stmt *st)
{
	const char *t = st->text;

	if (strncmp(t, "expect ", 7) == 0)
		t += 7;
	return t;
}

enum sc_status sim_expect_failed(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
{
	va_list ap;

	if (sim->holding_failure) {
		va_start(ap, fmt);
		vsnprintf(sim->held_failure, sizeof(sim->held_failure), fmt, ap);
		va_end(ap);
		return SC_EXPECT_FAILED;
	}
	fflush(sim_out(sim));
	fprintf(sim_err(sim), "%s:%d: expectation failed: %s: ", sim->file, st->line, what_of(st));
	va_start(ap, fmt);
	vfprintf(sim_err(sim), fmt, ap);
	va_end(ap);
	fputc('\n', sim_err(sim));
	return SC_EXPECT_FAILED;
}

enum sc_status sim_run_error(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
{
	va_list ap;

	fflush(sim_out(sim));
	fprintf(sim_err(sim), "%s:%d:%d: error: ", sim->file, st->line, st->col);
	va_start(ap, fmt);
	vfprintf(sim_err(sim), fmt, ap);
	va_end(ap);
	fputc('\n', sim_err(sim));
	return SC_RUN_ERROR;
}

enum sc_status sim_kernel_bug(struct sim *sim, const struct sc_stmt *st, const char *fmt, ...)
{
	va_list ap;

	fflush(sim_out(sim));
	fprintf(sim_err(sim), "%s:%d: kernel bug: ", sim->file, st->line);
	va_start(ap, fmt);
	vfprintf(sim_err(sim), fmt, ap);
	va_end(ap);
	fputc('\n', sim_err(sim));
	return SC_KERNEL_BUG;
}

static int status_code(enum sc_status s)
{
	switch (s) {
	case SC_CONTINUE:
		return 0;
	case SC_EXPECT_FAILED:
		return 1;
	case SC_RUN_ERROR:
		return 2;
	case SC_KERNEL_BUG:
		return 3;
	}
	return 3;
}

void sim_say_passed(const struct sim *sim, int status)
{
	unsigned answers = sim->answers_right + sim->answers_wrong + sim->answers_unanswered;

	/* marked answers have their own summary line (sim_answers_finish) */
	if (status != 0 || !isatty(fileno(sim->err)) || (answers && !sim->expectations_held))
		return;
	fflush(sim->out);
	fprintf(sim->err, "%s: %u expectation%s held\n", sim->file, sim->expectations_held,
		sim->expectations_held == 1 ? "" : "s");
}

int sim_run(struct sim *sim, const struct scenario *sc)
{
	bool audit = sim->opts.audit || sim->cfg.audit;

	panic_sim = sim;
	sim->sc = sc;
	for (size_t i = 0; i < sc->nstmts; i++) {
		const struct sc_stmt *st = &sc->stmts[i];
		enum sc_status s;

		sim->cur_stmt = i;
		panic_stmt = st;
		if (sim->cfg.kernel && !sim->booted && !(st->cmd->modes & SC_BOOT_PHASE)) {
			s = sim_boot_kernel(sim, st);
			if (s != SC_CONTINUE)
				return status_code(s);
		}
		if (!st->cmd->exec)
			continue;
		s = st->question ? sim_exec_answer(sim, st) : st->cmd->exec(sim, st);
		i += st->nested; /* a parallel block ran its commands itself */
		if (sim->booted)
			process_check_all(sim); /* the kernel may have killed some for memory */
		alloc_trace_settle(sim);
		if (s == SC_CONTINUE && audit && sim->booted)
			s = sim_audit(sim, st);
		if (sim->html)
			html_steps_record(sim->html, sim, st, s);
		if (sim->after_stmt)
			sim->after_stmt(sim, i, sim->after_stmt_ctx);
		if (s != SC_CONTINUE)
			return status_code(s);
		if (!st->question && strncmp(st->cmd->name, "expect", 6) == 0)
			sim->expectations_held++;
	}
	fflush(sim->out);
	return 0;
}
