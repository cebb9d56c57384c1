/*
 * Processes and their memory: spawn, fork, exit, the memory system calls (mmap, munmap,
 * mprotect, borrow, transfer), and their `expect ... -> STATUS` forms.
 *
 * Every system call runs on a simulated CPU (the process's last CPU, or cpu=N), as the
 * process itself would make it. Names are checked while parsing: a process must be created
 * (spawn, fork) before any line uses it, and a name is created once.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "commands/process_commands.h"
#include "scenario/sim.h"
#include "user_mm.h"

/* ---- names ---- */

static bool known_process(struct sc_parse *p, const char *name)
{
	for (size_t i = 0; i < p->sc->nprocs; i++)
		if (strcmp(p->sc->procs[i], name) == 0)
			return true;
	return false;
}

bool sp_process(struct sc_parse *p, int i, char out[SC_NAME_MAX])
{
	if (!sp_name(p, i, out))
		return false;
	if (!known_process(p, out))
		return sp_error_word(p, &p->pos[i], "no process '%s' (spawn or fork it first)", out);
	if (p->sc->block.open) {
		/* a process created inside a parallel block exists only once the block has ended */
		for (size_t k = p->sc->block.procs; k < p->sc->nprocs; k++)
			if (strcmp(p->sc->procs[k], out) == 0)
				return sp_error_word(p, &p->pos[i],
						     "process '%s' is created in this parallel block: use it after `end`",
						     out);
	}
	return true;
}

static bool new_process(struct sc_parse *p, int i, char out[SC_NAME_MAX])
{
	struct scenario *sc = p->sc;
	char (*grown)[SC_NAME_MAX];

	if (!sp_name(p, i, out))
		return false;
	if (known_process(p, out))
		return sp_error_word(p, &p->pos[i], "process '%s' already exists (names are used once)",
				     out);
	grown = realloc(sc->procs, (sc->nprocs + 1) * sizeof(*sc->procs));
	if (!grown)
		return sp_error_word(p, &p->pos[i], "out of host memory");
	sc->procs = grown;
	memcpy(sc->procs[sc->nprocs++], out, SC_NAME_MAX);
	return true;
}

bool sp_prot(struct sc_parse *p, int i, unsigned *prot)
{
	const char *s;

	if (i >= p->npos)
		return sp_error(p, p->end_line, p->end_col, "missing PROT: %s", p->st->cmd->synopsis);
	s = p->pos[i].text;
	*prot = 0;
	if (strcmp(s, "none") == 0 || strcmp(s, "-") == 0)
		return true;
	for (const char *c = s; *c; c++) {
		unsigned bit = *c == 'r' ? MM_PROT_READ : *c == 'w' ? MM_PROT_WRITE
						: *c == 'x'	? MM_PROT_EXEC
								: 0;

		if (!bit || (*prot & bit))
			return sp_error_word(p, &p->pos[i],
					     "PROT is a subset of rwx (e.g. rw, r, rx) or none, not '%s'", s);
		*prot |= bit;
	}
	return true;
}

/* ---- the `-> STATUS` suffix of expect lines ---- */

/* Finds "->" among the positional words: the words before it are the command's, the one
 * after it the expected result. Returns its index or -1 after an error. */
int sp_arrow(struct sc_parse *p)
{
	for (int i = 0; i < p->npos; i++)
		if (strcmp(p->pos[i].text, "->") == 0)
			return i;
	sp_error(p, p->end_line, p->end_col, "missing '-> RESULT': %s", p->st->cmd->synopsis);
	return -1;
}

/* Parses "-> WORD" at index arrow, WORD one of choices; sets *out. The command's own
 * words are then pos[0..arrow). */
bool sp_expected_result(struct sc_parse *p, int arrow, const char *const *choices, int *out)
{
	if (!sp_choice(p, arrow + 1, choices, out))
		return false;
	if (p->npos > arrow + 2)
		return sp_error_word(p, &p->pos[arrow + 2], "unexpected '%s' after the result",
				     p->pos[arrow + 2].text);
	p->npos = arrow;
	return true;
}

const char *const status_words[] = {"ok", "einval", "enomem", "efault", "ebusy",
					   "eperm", "eexist", NULL};

/* ---- running a system call on a CPU ---- */

struct syscall_work {
	struct sim *sim;
	const struct sc_stmt *st;
	struct sim_process *a, *b;
	enum mm_status status;
	uint64_t mapped_at;
	struct addr_space *child;
};

static unsigned cpu_of(const struct sc_stmt *st, const struct sim_process *p)
{
	return st->cpu >= 0 ? (unsigned)st->cpu : p ? p->last_cpu : 0;
}

/* Reports the outcome of a system call: prints an error (or the address of `mmap any`), or
 * compares with the expected status of an expect line. */
enum sc_status syscall_conclude(struct sim *sim, const struct sc_stmt *st, const char *what,
				enum mm_status status)
{
	if (st->expect.has_result) {
		if ((int)status == st->expect.result)
			return SC_CONTINUE;
		return sim_expect_failed(sim, st, "expected %s, got %s", status_words[st->expect.result],
					 mm_status_name(status));
	}
	if (status != MM_STATUS_OK)
		fprintf(sim_out(sim), "%s: %s -> %s\n", st->proc, what, mm_status_name(status));
	return SC_CONTINUE;
}

bool alive_or_report(struct sim *sim, const struct sc_stmt *st, struct sim_process *p,
		     enum sc_status *s)
{
	if (p->as)
		return true;
	*s = sim_run_error(sim, st, "process '%s' has %s", p->name,
			   p->state == PROC_KILLED ? "been killed" : "exited");
	return false;
}

/* ---- spawn a ---- */

static bool parse_spawn(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && new_process(p, 0, p->st->proc) && sp_opt_cpu(p);
}

static void do_spawn(void *arg)
{
	struct syscall_work *w = arg;

	w->child = addr_space_create();
	w->status = w->child ? MM_STATUS_OK : MM_STATUS_ENOMEM;
}

static enum sc_status exec_spawn(struct sim *sim, const struct sc_stmt *st)
{
	struct syscall_work w = {.sim = sim, .st = st};
	struct sim_process *p;

	sim_on_cpu(sim, cpu_of(st, NULL), do_spawn, &w);
	if (!w.child)
		return sim_run_error(sim, st, "no memory for a new address space");
	p = process_add(sim, st->proc, w.child);
	if (!p)
		return sim_run_error(sim, st, "out of host memory");
	p->last_cpu = cpu_of(st, NULL);
	return SC_CONTINUE;
}

/* ---- fork A B ---- */

static bool parse_fork(struct sc_parse *p)
{
	return sp_argc(p, 2, 2) && sp_process(p, 0, p->st->proc) &&
	       new_process(p, 1, p->st->fork.child) && sp_opt_cpu(p);
}

static void do_fork(void *arg)
{
	struct syscall_work *w = arg;

	w->status = mm_fork(w->a->as, &w->child);
}

static enum sc_status exec_fork(struct sim *sim, const struct sc_stmt *st)
{
	struct syscall_work w = {.sim = sim, .st = st};
	enum sc_status s;
	struct sim_process *child;
	unsigned cpu;

	w.a = process_find(sim, st->proc);
	if (!alive_or_report(sim, st, w.a, &s))
		return s;
	cpu = cpu_of(st, w.a);
	w.a->last_cpu = cpu;
	sim_on_cpu(sim, cpu, do_fork, &w);
	if (w.status == MM_STATUS_OK) {
		child = process_add(sim, st->fork.child, w.child);
		if (!child)
			return sim_run_error(sim, st, "out of host memory");
		child->last_cpu = cpu;
	} else {
		/* the name stays taken by a process that never ran */
		child = process_add(sim, st->fork.child, NULL);
		if (!child)
			return sim_run_error(sim, st, "out of host memory");
		child->state = PROC_EXITED;
	}
	return syscall_conclude(sim, st, "fork", w.status);
}

/* ---- exit a ---- */

static bool parse_exit(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_process(p, 0, p->st->proc) && sp_opt_cpu(p);
}

static enum sc_status exec_exit(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->proc);

	if (p->as)
		process_exit_on(sim, p, cpu_of(st, p));
	return SC_CONTINUE;
}

/* ---- mmap A ADDR|any SIZE PROT [shared] [populate] [phys=PADDR] [hint=ADDR] ---- */

static bool parse_mmap(struct sc_parse *p)
{
	struct sc_mmap_args *m = &p->st->mmap;
	bool have;

	if (!sp_argc(p, 4, 6) || !sp_process(p, 0, p->st->proc))
		return false;
	if (sp_word_is(p, 1, "any"))
		m->any = true;
	else if (!sp_page_aligned(p, 1, &m->addr))
		return false;
	if (!sp_page_aligned(p, 2, &m->size) || !sp_prot(p, 3, &m->prot))
		return false;
	for (int i = 4; i < p->npos; i++) {
		bool *word = sp_word_is(p, i, "shared") ? &m->shared
			     : sp_word_is(p, i, "populate") ? &m->populate
							     : NULL;

		if (!word)
			return sp_error_word(p, &p->pos[i], "expected shared or populate, not '%s'",
					     p->pos[i].text);
		if (*word)
			return sp_error_word(p, &p->pos[i], "'%s' given twice", p->pos[i].text);
		*word = true;
	}
	if (!sp_opt_num(p, "phys", &m->phys, &have))
		return false;
	if (have) {
		struct sc_option *o = sp_opt_find(p, "phys");

		if (m->phys & 0xfff)
			return sp_error_opt(p, o, "phys=%s is not page-aligned (4 KiB)", o->value);
		if (m->shared)
			return sp_error_opt(p, o, "phys= memory is always shared: drop 'shared'");
		m->phys_given = true;
	}
	/* hint=ADDR (with `any`): the kernel takes the free range nearest to ADDR */
	if (!sp_opt_num(p, "hint", &m->hint, &have))
		return false;
	if (have) {
		struct sc_option *o = sp_opt_find(p, "hint");

		if (!m->any)
			return sp_error_opt(p, o, "hint= goes with 'any' (a fixed address needs none)");
		if (m->hint & 0xfff)
			return sp_error_opt(p, o, "hint=%s is not page-aligned (4 KiB)", o->value);
	}
	return sp_opt_cpu(p);
}

static void do_mmap(void *arg)
{
	struct syscall_work *w = arg;
	const struct sc_mmap_args *m = &w->st->mmap;
	unsigned flags = (m->any ? 0 : MM_MAP_FIXED) | (m->shared ? MM_MAP_SHARED : 0) |
			 (m->populate ? MM_MAP_POPULATE : 0);
	uint64_t addr = m->any ? m->hint : m->addr;

	process_switch_to(w->sim, w->a);
	if (m->phys_given)
		w->status = mm_mmap_phys(w->a->as, addr, m->size, m->prot, m->phys, flags,
					 &w->mapped_at);
	else
		w->status = mm_mmap(w->a->as, addr, m->size, m->prot, flags, &w->mapped_at);
}

static enum sc_status exec_mmap(struct sim *sim, const struct sc_stmt *st)
{
	struct syscall_work w = {.sim = sim, .st = st};
	enum sc_status s;
	unsigned cpu;

	w.a = process_find(sim, st->proc);
	if (!alive_or_report(sim, st, w.a, &s))
		return s;
	cpu = cpu_of(st, w.a);
	w.a->last_cpu = cpu;
	sim_on_cpu(sim, cpu, do_mmap, &w);
	if (w.status == MM_STATUS_OK && st->mmap.any && !st->expect.has_result)
		fprintf(sim_out(sim), "%s: mmap 0x%" PRIx64 "\n", st->proc, w.mapped_at);
	return syscall_conclude(sim, st, "mmap", w.status);
}

/* ---- munmap A ADDR SIZE, mprotect A ADDR SIZE PROT ---- */

static bool parse_range(struct sc_parse *p, bool with_prot)
{
	struct sc_range_args *r = &p->st->range;
	int n = with_prot ? 4 : 3;

	return sp_argc(p, n, n) && sp_process(p, 0, p->st->proc) &&
	       sp_page_aligned(p, 1, &r->addr) && sp_page_aligned(p, 2, &r->size) &&
	       (!with_prot || sp_prot(p, 3, &r->prot)) && sp_opt_cpu(p);
}

static bool parse_munmap(struct sc_parse *p)
{
	return parse_range(p, false);
}

static bool parse_mprotect(struct sc_parse *p)
{
	return parse_range(p, true);
}

static void do_munmap(void *arg)
{
	struct syscall_work *w = arg;

	process_switch_to(w->sim, w->a);
	w->status = mm_munmap(w->a->as, w->st->range.addr, w->st->range.size);
}

static void do_mprotect(void *arg)
{
	struct syscall_work *w = arg;

	process_switch_to(w->sim, w->a);
	w->status = mm_mprotect(w->a->as, w->st->range.addr, w->st->range.size, w->st->range.prot);
}

static enum sc_status exec_range(struct sim *sim, const struct sc_stmt *st, const char *what,
				 void (*fn)(void *))
{
	struct syscall_work w = {.sim = sim, .st = st};
	enum sc_status s;
	unsigned cpu;

	w.a = process_find(sim, st->proc);
	if (!alive_or_report(sim, st, w.a, &s))
		return s;
	cpu = cpu_of(st, w.a);
	w.a->last_cpu = cpu;
	sim_on_cpu(sim, cpu, fn, &w);
	return syscall_conclude(sim, st, what, w.status);
}

static enum sc_status exec_munmap(struct sim *sim, const struct sc_stmt *st)
{
	return exec_range(sim, st, "munmap", do_munmap);
}

static enum sc_status exec_mprotect(struct sim *sim, const struct sc_stmt *st)
{
	return exec_range(sim, st, "mprotect", do_mprotect);
}

/* ---- borrow A ADDR B ADDR2 SIZE PROT, transfer A ADDR B ADDR2 SIZE ---- */

static bool parse_two_spaces(struct sc_parse *p, bool with_prot)
{
	struct sc_share_args *sh = &p->st->share;
	int n = with_prot ? 6 : 5;

	return sp_argc(p, n, n) && sp_process(p, 0, p->st->proc) &&
	       sp_page_aligned(p, 1, &sh->addr) && sp_process(p, 2, sh->to) &&
	       sp_page_aligned(p, 3, &sh->to_addr) && sp_page_aligned(p, 4, &sh->size) &&
	       (!with_prot || sp_prot(p, 5, &sh->prot)) && sp_opt_cpu(p);
}

static bool parse_borrow(struct sc_parse *p)
{
	return parse_two_spaces(p, true);
}

static bool parse_transfer(struct sc_parse *p)
{
	return parse_two_spaces(p, false);
}

static void do_borrow(void *arg)
{
	struct syscall_work *w = arg;
	const struct sc_share_args *sh = &w->st->share;

	w->status = mm_borrow(w->a->as, sh->addr, w->b->as, sh->to_addr, sh->size, sh->prot);
}

static void do_transfer(void *arg)
{
	struct syscall_work *w = arg;
	const struct sc_share_args *sh = &w->st->share;

	w->status = mm_transfer(w->a->as, sh->addr, w->b->as, sh->to_addr, sh->size);
}

static enum sc_status exec_two_spaces(struct sim *sim, const struct sc_stmt *st, const char *what,
				      void (*fn)(void *))
{
	struct syscall_work w = {.sim = sim, .st = st};
	enum sc_status s;
	unsigned cpu;

	w.a = process_find(sim, st->proc);
	w.b = process_find(sim, st->share.to);
	if (!alive_or_report(sim, st, w.a, &s) || !alive_or_report(sim, st, w.b, &s))
		return s;
	cpu = cpu_of(st, w.b);
	w.b->last_cpu = cpu;
	sim_on_cpu(sim, cpu, fn, &w);
	return syscall_conclude(sim, st, what, w.status);
}

static enum sc_status exec_borrow(struct sim *sim, const struct sc_stmt *st)
{
	return exec_two_spaces(sim, st, "borrow", do_borrow);
}

static enum sc_status exec_transfer(struct sim *sim, const struct sc_stmt *st)
{
	return exec_two_spaces(sim, st, "transfer", do_transfer);
}

/* ---- expect forms: `-> STATUS`, then the base command's words ---- */

#define EXPECTING(fn)                                                                          \
	static bool parse_expect_##fn(struct sc_parse *p)                                      \
	{                                                                                      \
		return sp_expected_result_of(p, status_words) && parse_##fn(p);                \
	}
EXPECTING(fork)
EXPECTING(mmap)
EXPECTING(munmap)
EXPECTING(mprotect)
EXPECTING(borrow)
EXPECTING(transfer)

bool sp_expected_result_of(struct sc_parse *p, const char *const *choices)
{
	int arrow = sp_arrow(p), r;

	if (arrow < 0 || !sp_expected_result(p, arrow, choices, &r))
		return false;
	p->st->expect.has_result = true;
	p->st->expect.result = r;
	return true;
}

#define STATUS_RESULT "-> ok|einval|enomem|efault|ebusy|eperm|eexist"

const struct sc_command process_commands[] = {
	{"spawn", "spawn NAME [cpu=N]", "a new process with an empty user address space",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_spawn, exec_spawn},
	{"fork", "fork A B [cpu=N]", "B gets a copy-on-write clone of A's address space",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_fork, exec_fork},
	{"exit", "exit A [cpu=N]", "tear A down; every frame it alone held is freed", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_exit, exec_exit},
	{"mmap", "mmap A ADDR|any SIZE PROT [shared] [populate] [phys=PADDR] [hint=ADDR] [cpu=N]",
	 "map anonymous (or physical) memory; PROT is a subset of rwx; `any` prints the address (the free range nearest to hint=, else the best fit)",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_mmap, exec_mmap},
	{"munmap", "munmap A ADDR SIZE [cpu=N]", "unmap a range", SC_KERNEL_ON | SC_IN_PARALLEL, parse_munmap,
	 exec_munmap},
	{"mprotect", "mprotect A ADDR SIZE PROT [cpu=N]", "change the protection of a range",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_mprotect, exec_mprotect},
	{"borrow", "borrow A ADDR B ADDR2 SIZE PROT [cpu=N]",
	 "B maps A's pages of [ADDR, ADDR+SIZE) at ADDR2: the same frames, shared", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_borrow, exec_borrow},
	{"transfer", "transfer A ADDR B ADDR2 SIZE [cpu=N]",
	 "the mapping moves from A to B at ADDR2; A no longer has it", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_transfer, exec_transfer},
	{"expect fork", "expect fork A B -> ok|enomem", "fork and check the kernel's answer",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_fork, exec_fork},
	{"expect mmap", "expect mmap A ADDR|any SIZE PROT [shared] [populate] [phys=P] " STATUS_RESULT,
	 "mmap and check the kernel's answer", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_mmap, exec_mmap},
	{"expect munmap", "expect munmap A ADDR SIZE " STATUS_RESULT,
	 "munmap and check the kernel's answer", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_munmap, exec_munmap},
	{"expect mprotect", "expect mprotect A ADDR SIZE PROT " STATUS_RESULT,
	 "mprotect and check the kernel's answer", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_mprotect,
	 exec_mprotect},
	{"expect borrow", "expect borrow A ADDR B ADDR2 SIZE PROT " STATUS_RESULT,
	 "borrow and check the kernel's answer", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_borrow, exec_borrow},
	{"expect transfer", "expect transfer A ADDR B ADDR2 SIZE " STATUS_RESULT,
	 "transfer and check the kernel's answer", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_transfer,
	 exec_transfer},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
