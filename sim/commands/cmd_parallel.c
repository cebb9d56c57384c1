/*
 * `parallel ... end`: the commands of a block run at the same time, each from start to end
 * on the CPU its cpu= names (its CPU's host thread), released together by a barrier. When
 * the host has a core for each command, each CPU thread is pinned to a core of its own for
 * the block: the host scheduler would otherwise often keep two of them on one core, taking
 * turns (docs/performance.md).
 *
 * Parsing: the block is the `parallel` statement, its commands, and `end`; the `parallel`
 * statement's `nested` counts the commands, which the run loop then skips. Inside a block
 * only commands marked SC_IN_PARALLEL stand, each with a cpu= of its own, at most one per
 * CPU of the machine, none using a process created in the same block.
 *
 * Running: every command gets its own output and error streams (memory), printed after
 * `end` in the order of the lines; the first command (in that order) that did not succeed
 * decides the run's status, as a lone command would. With --trace each CPU's narration goes
 * out as it happens, a whole line at a time, tagged `[cpuN]`.
 */
#include <stdio.h> /* fopencookie, open_memstream (gnu11) */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "host/cpu_threads.h"
#include "host/host_platform.h"
#include "scenario/sim.h"

/* ---- parsing ---- */

static bool no_options(struct sc_parse *p)
{
	if (p->nopt)
		return sp_error_opt(p, &p->opt[0], "'%s' takes no option", p->st->cmd->name);
	return sp_argc(p, 0, 0);
}

static bool parse_parallel(struct sc_parse *p)
{
	struct scenario *sc = p->sc;

	if (!no_options(p))
		return false;
	sc->block = (struct sc_block){
		.open = true,
		.at = sc->nstmts,
		.line = p->cmdword->line,
		.col = p->cmdword->col,
		.procs = sc->nprocs,
	};
	return true;
}

static bool parse_end(struct sc_parse *p)
{
	struct scenario *sc = p->sc;

	if (!sc->block.open)
		return sp_error_word(p, p->cmdword, "`end` without `parallel`");
	if (!no_options(p))
		return false;
	sc->stmts[sc->block.at].nested = sc->block.count;
	sc->block.open = false;
	return true;
}

bool sc_block_admits(struct sc_parse *p)
{
	struct scenario *sc = p->sc;
	const struct sc_command *cmd = p->st->cmd;

	if (cmd->parse == parse_end)
		return true;
	if (cmd->parse == parse_parallel)
		return sp_error_word(p, p->cmdword,
				     "parallel blocks do not nest: close the one of line %d with `end` first",
				     sc->block.line);
	if (!(cmd->modes & SC_IN_PARALLEL))
		return sp_error_word(p, p->cmdword,
				     "'%s' cannot stand inside a parallel block (allowed: accesses, kernel "
				     "copies, spawn, fork, exit, mmap, munmap, mprotect, borrow, transfer, "
				     "and their `expect ... -> RESULT` forms)",
				     cmd->name);
	if (sc->block.count == sc->machine.cpus)
		return sp_error_word(p, p->cmdword,
				     "a parallel block holds at most as many commands as the machine has CPUs (%u)",
				     sc->machine.cpus);
	return true;
}

bool sc_block_takes(struct sc_parse *p)
{
	struct scenario *sc = p->sc;
	int cpu = p->st->cpu;

	if (sc->nstmts == sc->block.at) /* the `parallel` line itself */
		return true;
	if (cpu < 0)
		return sp_error_word(p, p->cmdword,
				     "inside a parallel block every command names its CPU: add cpu=N");
	if (sc->block.cpus & (1ull << cpu))
		return sp_error_opt(p, sp_opt_find(p, "cpu"),
				    "cpu=%d already runs a command of this block: one command per CPU",
				    cpu);
	sc->block.cpus |= 1ull << cpu;
	sc->block.count++;
	return true;
}

/* ---- the trace of one CPU: whole lines, tagged, as they happen ---- */

struct trace_lines {
	FILE *out;
	unsigned cpu;
	char *line;
	size_t len, cap;
};

static void trace_emit(struct trace_lines *t)
{
	flockfile(t->out);
	fprintf(t->out, "[cpu%u] ", t->cpu);
	fwrite(t->line, 1, t->len, t->out);
	funlockfile(t->out);
	t->len = 0;
}

static ssize_t trace_write(void *cookie, const char *buf, size_t size)
{
	struct trace_lines *t = cookie;

	for (size_t i = 0; i < size; i++) {
		if (t->len == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			char *grown = realloc(t->line, cap);

			if (!grown)
				return -1;
			t->line = grown;
			t->cap = cap;
		}
		t->line[t->len++] = buf[i];
		if (buf[i] == '\n')
			trace_emit(t);
	}
	return (ssize_t)size;
}

static int trace_close(void *cookie)
{
	struct trace_lines *t = cookie;

	if (t->len) {
		trace_write(t, "\n", 1);
	}
	free(t->line);
	free(t);
	return 0;
}

static FILE *trace_open(FILE *out, unsigned cpu)
{
	struct trace_lines *t = calloc(1, sizeof(*t));
	FILE *f;

	if (!t)
		return NULL;
	t->out = out;
	t->cpu = cpu;
	f = fopencookie(t, "w", (cookie_io_functions_t){.write = trace_write, .close = trace_close});
	if (!f) {
		free(t);
		return NULL;
	}
	setvbuf(f, NULL, _IONBF, 0);
	return f;
}

/* ---- running a block ---- */

struct block_cmd {
	struct sim *sim;
	const struct sc_stmt *st;
	pthread_barrier_t *start;
	int host_slot; /* the host core (of the process's) to pin the CPU thread to, or -1 */
	struct sim_block_io io;
	char *out_text, *err_text;
	size_t out_len, err_len;
	enum sc_status status;
};

/* On the command's CPU: wait for the others, then the whole command. */
static void run_on_cpu(void *arg)
{
	struct block_cmd *c = arg;
	bool pinned = c->host_slot >= 0 && cpu_threads_pin_self((unsigned)c->host_slot);

	sim_block = &c->io;
	host_set_thread_trace(c->io.trace);
	pthread_barrier_wait(c->start);
	c->status = c->st->cmd->exec(c->sim, c->st);
	fflush(c->io.out);
	fflush(c->io.err);
	host_set_thread_trace(NULL);
	sim_block = NULL;
	if (pinned)
		cpu_threads_unpin_self();
}

static void close_streams(struct block_cmd *c)
{
	if (c->io.out)
		fclose(c->io.out);
	if (c->io.err)
		fclose(c->io.err);
	if (c->io.trace)
		fclose(c->io.trace);
	c->io = (struct sim_block_io){0};
}

static bool open_streams(struct sim *sim, struct block_cmd *c)
{
	c->io.out = open_memstream(&c->out_text, &c->out_len);
	c->io.err = open_memstream(&c->err_text, &c->err_len);
	/* always: `trace on` may have turned narration on without --trace */
	c->io.trace = trace_open(sim->out, (unsigned)c->st->cpu);
	return c->io.out && c->io.err && c->io.trace;
}

static enum sc_status exec_parallel(struct sim *sim, const struct sc_stmt *st)
{
	size_t n = st->nested;
	struct block_cmd *cmds;
	pthread_barrier_t start;
	enum sc_status s = SC_CONTINUE;
	bool ok = true;

	if (n == 0)
		return SC_CONTINUE;
	cmds = calloc(n, sizeof(*cmds));
	if (!cmds || !process_reserve(sim, n)) {
		free(cmds);
		return sim_run_error(sim, st, "out of host memory");
	}
	for (size_t k = 0; k < n; k++) {
		cmds[k].sim = sim;
		cmds[k].st = &st[1 + k];
		cmds[k].start = &start;
		cmds[k].host_slot = n <= cpu_threads_host_cores() ? (int)k : -1;
		ok = ok && open_streams(sim, &cmds[k]);
	}
	if (!ok) {
		for (size_t k = 0; k < n; k++) {
			close_streams(&cmds[k]);
			free(cmds[k].out_text);
			free(cmds[k].err_text);
		}
		free(cmds);
		return sim_run_error(sim, st, "out of host memory");
	}
	fflush(sim->out);
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (size_t k = 0; k < n; k++)
		cpu_threads_post((unsigned)cmds[k].st->cpu, run_on_cpu, &cmds[k]);
	for (size_t k = 0; k < n; k++)
		cpu_threads_wait((unsigned)cmds[k].st->cpu);
	pthread_barrier_destroy(&start);
	process_block_end(sim);

	for (size_t k = 0; k < n; k++) {
		close_streams(&cmds[k]);
		if (s == SC_CONTINUE) {
			fwrite(cmds[k].out_text, 1, cmds[k].out_len, sim->out);
			if (cmds[k].status != SC_CONTINUE) {
				fflush(sim->out);
				fwrite(cmds[k].err_text, 1, cmds[k].err_len, sim->err);
				s = cmds[k].status;
			}
		}
		free(cmds[k].out_text);
		free(cmds[k].err_text);
	}
	free(cmds);
	return s;
}

const struct sc_command parallel_commands[] = {
	{"parallel", "parallel ... end",
	 "the commands up to `end` run at the same time, each on the CPU its cpu= names (one per "
	 "CPU); their output follows `end`, in the order of the lines",
	 SC_KERNEL_ON, parse_parallel, exec_parallel},
	{"end", "end", "closes a parallel block", SC_KERNEL_ON, parse_end, NULL},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
