/*
 * File servers and file mappings (the kernel's FmapBorrowed provider), mmsim's addition to
 * the scenario language:
 *
 *   fserve SRV ADDR SIZE                 SRV serves [ADDR, +SIZE) of its own memory as a file
 *   fmap A ADDR|any SIZE PROT SRV OFFSET A maps SIZE bytes of SRV's file from OFFSET, lazily:
 *                                        a fault maps the server's page (same frame, shared);
 *                                        while mapped, SRV cannot munmap/mprotect/transfer
 *                                        the served range (ebusy)
 *   expect notified SRV OP N             unmap notifications SRV received (one per client
 *                                        mapping piece unmapped, by munmap or exit)
 *   expect pins SRV OP N                 client mappings currently pinning SRV's file
 *
 * with `expect fserve ... -> STATUS` and `expect fmap ... -> STATUS`. Each runs on a CPU
 * like the other system calls.
 */
#include <inttypes.h>
#include <string.h>

#include "commands/commands.h"
#include "commands/process_commands.h"
#include "scenario/sim.h"
#include "user_mm.h"
#include "user_mm_view.h"



struct fmap_work {
	struct sim *sim;
	const struct sc_stmt *st;
	struct sim_process *a, *srv;
	enum mm_status status;
	uint64_t mapped_at;
};

static unsigned cpu_of(const struct sc_stmt *st, const struct sim_process *p)
{
	return st->cpu >= 0 ? (unsigned)st->cpu : p->last_cpu;
}

/* ---- fserve SRV ADDR SIZE: u[0] addr, u[1] size ---- */

static bool parse_fserve(struct sc_parse *p)
{
	struct sc_stmt *st = p->st;

	if ((st->flags & SCF_EXPECT) && !sp_expected_result_of(p, status_words))
		return false;
	return sp_argc(p, 3, 3) && sp_process(p, 0, st->name[0]) && sp_page_aligned(p, 1, &st->u[0]) &&
	       sp_page_aligned(p, 2, &st->u[1]) && sp_opt_cpu(p);
}

static bool parse_expect_fserve(struct sc_parse *p)
{
	p->st->flags |= SCF_EXPECT;
	return parse_fserve(p);
}

static void do_fserve(void *arg)
{
	struct fmap_work *w = arg;

	process_switch_to(w->sim, w->a);
	w->status = mm_fserve(w->a->as, w->st->u[0], w->st->u[1]);
}

static enum sc_status exec_fserve(struct sim *sim, const struct sc_stmt *st)
{
	struct fmap_work w = {.sim = sim, .st = st};
	enum sc_status s;

	w.a = process_find(sim, st->name[0]);
	if (!alive_or_report(sim, st, w.a, &s))
		return s;
	w.a->last_cpu = cpu_of(st, w.a);
	sim_on_cpu(sim, w.a->last_cpu, do_fserve, &w);
	return syscall_conclude(sim, st, "fserve", w.status);
}

/* ---- fmap A ADDR|any SIZE PROT SRV OFFSET: u[0] addr, u[1] size, u[2] prot, name[1] srv,
 * u[3] offset; SCF_ANY ---- */

static bool parse_fmap(struct sc_parse *p)
{
	struct sc_stmt *st = p->st;

	if ((st->flags & SCF_EXPECT) && !sp_expected_result_of(p, status_words))
		return false;
	if (!sp_argc(p, 6, 6) || !sp_process(p, 0, st->name[0]))
		return false;
	if (sp_word_is(p, 1, "any"))
		st->flags |= SCF_ANY;
	else if (!sp_page_aligned(p, 1, &st->u[0]))
		return false;
	return sp_page_aligned(p, 2, &st->u[1]) && sp_prot(p, 3, &st->u[2]) &&
	       sp_process(p, 4, st->name[1]) && sp_page_aligned(p, 5, &st->u[3]) && sp_opt_cpu(p);
}

static bool parse_expect_fmap(struct sc_parse *p)
{
	p->st->flags |= SCF_EXPECT;
	return parse_fmap(p);
}

static void do_fmap(void *arg)
{
	struct fmap_work *w = arg;
	const struct sc_stmt *st = w->st;

	process_switch_to(w->sim, w->a);
	w->status = mm_fmap(w->a->as, st->u[0], st->u[1], (unsigned)st->u[2], w->srv->as, st->u[3],
			    (st->flags & SCF_ANY) ? 0 : MM_MAP_FIXED, &w->mapped_at);
}

static enum sc_status exec_fmap(struct sim *sim, const struct sc_stmt *st)
{
	struct fmap_work w = {.sim = sim, .st = st};
	enum sc_status s;

	w.a = process_find(sim, st->name[0]);
	w.srv = process_find(sim, st->name[1]);
	if (!alive_or_report(sim, st, w.a, &s) || !alive_or_report(sim, st, w.srv, &s))
		return s;
	w.a->last_cpu = cpu_of(st, w.a);
	sim_on_cpu(sim, w.a->last_cpu, do_fmap, &w);
	if (w.status == MM_STATUS_OK && (st->flags & SCF_ANY) && !(st->flags & SCF_EXPECT))
		fprintf(sim->out, "%s: fmap 0x%" PRIx64 "\n", st->name[0], w.mapped_at);
	return syscall_conclude(sim, st, "fmap", w.status);
}

/* ---- expect notified|pins SRV OP N: u[0] = N, kind 0 notified, 1 pins ---- */

static bool parse_counter(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->name[0]) && sp_op(p, 1, false, &p->st->op) &&
	       sp_num(p, 2, &p->st->u[0]);
}

static bool parse_expect_notified(struct sc_parse *p)
{
	p->st->kind = 0;
	return parse_counter(p);
}

static bool parse_expect_pins(struct sc_parse *p)
{
	p->st->kind = 1;
	return parse_counter(p);
}

static enum sc_status exec_expect_counter(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->name[0]);
	struct fserve_view v;
	uint64_t got;

	if (!p->as)
		return sim_run_error(sim, st, "process '%s' has no address space any more", p->name);
	addr_space_fserve_info(p->as, &v);
	got = st->kind == 0 ? v.notified : v.pins;
	if (sc_op_holds(st->op, got, st->u[0]))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s %s %" PRIu64 ", got %" PRIu64,
				 st->kind == 0 ? "notified" : "pins", sc_op_text(st->op), st->u[0], got);
}

#define STATUS_RESULT "-> ok|einval|enomem|efault|ebusy|eperm|eexist"

const struct sc_command fmap_commands[] = {
	{"fserve", "fserve SRV ADDR SIZE [cpu=N]",
	 "SRV serves [ADDR, ADDR+SIZE) of its own memory as a file (for fmap)", SC_KERNEL_ON,
	 parse_fserve, exec_fserve},
	{"fmap", "fmap A ADDR|any SIZE PROT SRV OFFSET [cpu=N]",
	 "A maps SIZE bytes of SRV's file from OFFSET, lazily (the server's frames, shared); "
	 "the file is pinned while mapped",
	 SC_KERNEL_ON, parse_fmap, exec_fmap},
	{"expect fserve", "expect fserve SRV ADDR SIZE " STATUS_RESULT,
	 "fserve and check the kernel's answer", SC_KERNEL_ON, parse_expect_fserve, exec_fserve},
	{"expect fmap", "expect fmap A ADDR|any SIZE PROT SRV OFFSET " STATUS_RESULT,
	 "fmap and check the kernel's answer", SC_KERNEL_ON, parse_expect_fmap, exec_fmap},
	{"expect notified", "expect notified SRV OP N",
	 "unmap notifications the file server SRV received", SC_KERNEL_ON, parse_expect_notified,
	 exec_expect_counter},
	{"expect pins", "expect pins SRV OP N", "client file mappings pinning SRV's served file",
	 SC_KERNEL_ON, parse_expect_pins, exec_expect_counter},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
