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

/* ---- fserve SRV ADDR SIZE ---- */

static bool parse_fserve(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->proc) &&
	       sp_page_aligned(p, 1, &p->st->range.addr) &&
	       sp_page_aligned(p, 2, &p->st->range.size) && sp_opt_cpu(p);
}

static bool parse_expect_fserve(struct sc_parse *p)
{
	return sp_expected_result_of(p, status_words) && parse_fserve(p);
}

static void do_fserve(void *arg)
{
	struct fmap_work *w = arg;

	process_switch_to(w->sim, w->a);
	w->status = mm_fserve(w->a->as, w->st->range.addr, w->st->range.size);
}

static enum sc_status exec_fserve(struct sim *sim, const struct sc_stmt *st)
{
	struct fmap_work w = {.sim = sim, .st = st};
	enum sc_status s;

	w.a = process_find(sim, st->proc);
	if (!alive_or_report(sim, st, w.a, &s))
		return s;
	w.a->last_cpu = cpu_of(st, w.a);
	sim_on_cpu(sim, w.a->last_cpu, do_fserve, &w);
	return syscall_conclude(sim, st, "fserve", w.status);
}

/* ---- fmap A ADDR|any SIZE PROT SRV OFFSET ---- */

static bool parse_fmap(struct sc_parse *p)
{
	struct sc_fmap_args *f = &p->st->fmap;

	if (!sp_argc(p, 6, 6) || !sp_process(p, 0, p->st->proc))
		return false;
	if (sp_word_is(p, 1, "any"))
		f->any = true;
	else if (!sp_page_aligned(p, 1, &f->addr))
		return false;
	return sp_page_aligned(p, 2, &f->size) && sp_prot(p, 3, &f->prot) &&
	       sp_process(p, 4, f->server) && sp_page_aligned(p, 5, &f->offset) && sp_opt_cpu(p);
}

static bool parse_expect_fmap(struct sc_parse *p)
{
	return sp_expected_result_of(p, status_words) && parse_fmap(p);
}

static void do_fmap(void *arg)
{
	struct fmap_work *w = arg;
	const struct sc_fmap_args *f = &w->st->fmap;

	process_switch_to(w->sim, w->a);
	w->status = mm_fmap(w->a->as, f->addr, f->size, f->prot, w->srv->as, f->offset,
			    f->any ? 0 : MM_MAP_FIXED, &w->mapped_at);
}

static enum sc_status exec_fmap(struct sim *sim, const struct sc_stmt *st)
{
	struct fmap_work w = {.sim = sim, .st = st};
	enum sc_status s;

	w.a = process_find(sim, st->proc);
	w.srv = process_find(sim, st->fmap.server);
	if (!alive_or_report(sim, st, w.a, &s) || !alive_or_report(sim, st, w.srv, &s))
		return s;
	w.a->last_cpu = cpu_of(st, w.a);
	sim_on_cpu(sim, w.a->last_cpu, do_fmap, &w);
	if (w.status == MM_STATUS_OK && st->fmap.any && !st->expect.has_result)
		fprintf(sim->out, "%s: fmap 0x%" PRIx64 "\n", st->proc, w.mapped_at);
	return syscall_conclude(sim, st, "fmap", w.status);
}

/* ---- expect notified|pins SRV OP N ---- */

static bool parse_server_count(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->proc) && sp_op_value(p, 1, false);
}

static enum sc_status expect_server_count(struct sim *sim, const struct sc_stmt *st, bool pins)
{
	struct sim_process *p = process_find(sim, st->proc);
	struct fserve_view v;
	uint64_t got;

	if (!p->as)
		return sim_run_error(sim, st, "process '%s' has no address space any more", p->name);
	addr_space_fserve_info(p->as, &v);
	got = pins ? v.pins : v.notified;
	if (sc_op_holds(st->expect.op, got, st->expect.value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s %s %" PRIu64 ", got %" PRIu64,
				 pins ? "pins" : "notified", sc_op_text(st->expect.op),
				 st->expect.value, got);
}

static enum sc_status exec_expect_notified(struct sim *sim, const struct sc_stmt *st)
{
	return expect_server_count(sim, st, false);
}

static enum sc_status exec_expect_pins(struct sim *sim, const struct sc_stmt *st)
{
	return expect_server_count(sim, st, true);
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
	 "unmap notifications the file server SRV received", SC_KERNEL_ON, parse_server_count,
	 exec_expect_notified},
	{"expect pins", "expect pins SRV OP N", "client file mappings pinning SRV's served file",
	 SC_KERNEL_ON, parse_server_count, exec_expect_pins},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
