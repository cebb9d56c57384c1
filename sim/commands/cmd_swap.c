/*
 * Reclaim and swap: `limit`, the expectations on swap (swapped, majfaults, swap_used,
 * faults, present) and the views of the swap area and of a space's replacement policy.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "commands/process_commands.h"
#include "replace_policy.h"
#include "scenario/sim.h"
#include "swap_area.h"
#include "user_mm.h"
#include "user_mm_view.h"

/* limit A N|off */
static bool parse_limit(struct sc_parse *p)
{
	uint64_t *pages = &p->st->limit.pages;

	if (!sp_argc(p, 2, 2) || !sp_process(p, 0, p->st->proc))
		return false;
	if (sp_word_is(p, 1, "off")) {
		*pages = 0;
	} else {
		if (!sp_num(p, 1, pages))
			return false;
		if (*pages == 0 || *pages > (1u << 20))
			return sp_error_word(p, &p->pos[1], "a limit is 1..1048576 pages, or off");
	}
	p->sc->machine.uses_limit = true;
	return true;
}

static enum sc_status exec_limit(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->proc);
	enum sc_status s;
	enum mm_status r;

	if (!alive_or_report(sim, st, p, &s))
		return s;
	process_switch_to(sim, p);
	r = mm_set_limit(p->as, st->limit.pages);
	if (r != MM_STATUS_OK)
		fprintf(sim->out, "%s: limit -> %s\n", p->name, mm_status_name(r));
	return SC_CONTINUE;
}

/* expect swapped|majfaults|faults A OP N */
enum per_process_count { COUNT_SWAPPED, COUNT_MAJFAULTS, COUNT_FAULTS };
static const char *const count_names[] = {"swapped", "majfaults", "faults"};

static bool parse_count(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->proc) && sp_op_value(p, 1, false);
}

static enum sc_status expect_count(struct sim *sim, const struct sc_stmt *st,
				   enum per_process_count k)
{
	const struct sc_expectation *e = &st->expect;
	struct sim_process *p = process_find(sim, st->proc);
	struct addr_space_stats stats = {0};
	uint64_t got = 0;

	if (p->as) {
		addr_space_get_stats(p->as, &stats);
		got = k == COUNT_SWAPPED     ? addr_space_swapped(p->as)
		      : k == COUNT_MAJFAULTS ? stats.faults_major
					     : stats.faults_total;
	}
	if (sc_op_holds(e->op, got, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s %s %" PRIu64 ", got %" PRIu64,
				 count_names[k], sc_op_text(e->op), e->value, got);
}

static enum sc_status exec_swapped(struct sim *sim, const struct sc_stmt *st)
{
	return expect_count(sim, st, COUNT_SWAPPED);
}

static enum sc_status exec_majfaults(struct sim *sim, const struct sc_stmt *st)
{
	return expect_count(sim, st, COUNT_MAJFAULTS);
}

static enum sc_status exec_faults(struct sim *sim, const struct sc_stmt *st)
{
	return expect_count(sim, st, COUNT_FAULTS);
}

/* expect swap_used OP N */
static bool parse_swap_used(struct sc_parse *p)
{
	return sp_argc(p, 2, 2) && sp_op_value(p, 0, false);
}

static enum sc_status exec_swap_used(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct swap_stats s;

	swap_get_stats(&s);
	if (sc_op_holds(e->op, s.used, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected swap_used %s %" PRIu64 ", got %" PRIu64,
				 sc_op_text(e->op), e->value, s.used);
}

/* expect present A ADDR ==|!= 0|1 */
static bool parse_present(struct sc_parse *p)
{
	if (!sp_argc(p, 4, 4) || !sp_process(p, 0, p->st->proc) ||
	    !sp_num(p, 1, &p->st->page.addr) || !sp_op_value(p, 2, true))
		return false;
	if (p->st->expect.value > 1)
		return sp_error_word(p, &p->pos[3], "present is 0 or 1");
	return true;
}

static const char *const residency_names[] = {"untouched", "present", "PROT_NONE keeping its frame",
					      "swapped out"};

static enum sc_status exec_present(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct sim_process *p = process_find(sim, st->proc);
	enum page_residency r = p->as ? addr_space_page_residency(p->as, st->page.addr)
				      : PAGE_UNTOUCHED;
	uint64_t got = r == PAGE_RESIDENT || r == PAGE_RESIDENT_PROTNONE;

	if (sc_op_holds(e->op, got, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s%" PRIu64 ", got %" PRIu64 " (%s)",
				 e->op == SC_NE ? "not " : "", e->value, got,
				 p->as ? residency_names[r] : "the process is gone");
}

/* show swap */
static bool parse_show_swap(struct sc_parse *p)
{
	return sp_argc(p, 0, 0);
}

struct owners {
	struct sim *sim;
	uint64_t slot;
	unsigned n;
};

static void print_owner(void *ctx, const char *space, uint64_t va, uint64_t slot)
{
	struct owners *o = ctx;

	if (slot != o->slot)
		return;
	fprintf(o->sim->out, "%s %s 0x%" PRIx64, o->n++ ? "," : "", space, va);
}

static void print_slot(void *ctx, uint64_t slot, uint64_t count, frame_t cached)
{
	struct owners o = { ctx, slot, 0 };

	fprintf(o.sim->out, "  slot %" PRIu64 ": count %" PRIu64 ":", slot, count);
	swap_for_each_entry(print_owner, &o);
	if (!frame_is_none(cached))
		fprintf(o.sim->out, "%s swap cache: frame 0x%" PRIx64, o.n ? ";" : "",
			(uint64_t)cached.base);
	fputc('\n', o.sim->out);
}

static enum sc_status exec_show_swap(struct sim *sim, const struct sc_stmt *st)
{
	struct swap_stats s;

	(void)st;
	swap_get_stats(&s);
	if (!s.slots) {
		fprintf(sim->out, "swap: none (machine swap=SIZE adds an area)\n");
		return SC_CONTINUE;
	}
	fprintf(sim->out,
		"swap: %" PRIu64 " of %" PRIu64 " slots used, %" PRIu64 " in the swap cache; %" PRIu64
		" page%s written, %" PRIu64 " read, %" PRIu64 " eviction%s without a write\n",
		s.used, s.slots, s.cached, s.writes, s.writes == 1 ? "" : "s", s.reads,
		s.dropped_clean, s.dropped_clean == 1 ? "" : "s");
	swap_for_each_used(print_slot, sim);
	return SC_CONTINUE;
}

/* show policy A */
static bool parse_show_policy(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_process(p, 0, p->st->proc);
}

struct policy_order {
	uint64_t va, key;
};

struct policy_print {
	struct sim *sim;
	struct replace_view v;
	struct policy_order order[64]; /* fifo and lru: the resident pages and their stamps */
	unsigned n;
};

static int by_stamp(const void *a, const void *b)
{
	const struct policy_order *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static void print_place(void *ctx, unsigned i, const struct replace_view_place *pl)
{
	struct policy_print *c = ctx;
	FILE *out = c->sim->out;

	fprintf(out, "  %s%2u: ", c->v.policy == REPLACE_CLOCK && i == c->v.hand ? "->" : "  ", i);
	if (!pl->used) {
		fprintf(out, "(free)\n");
		return;
	}
	fprintf(out, "0x%" PRIx64 "  resident since %" PRIu64 ", last access %" PRIu64 ", A=%d\n",
		pl->va, pl->arrived, pl->used_at, pl->accessed);
	if (c->n < sizeof(c->order) / sizeof(c->order[0]))
		c->order[c->n++] = (struct policy_order){
			pl->va, c->v.policy == REPLACE_LRU ? pl->used_at : pl->arrived};
}

static enum sc_status exec_show_policy(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->proc);
	struct policy_print c = { sim, {0}, {{0, 0}}, 0 };
	enum sc_status s;

	if (!alive_or_report(sim, st, p, &s))
		return s;
	fprintf(sim->out, "%s: policy %s", p->name, replace_policy_name(replace_policy_now()));
	if (!p->as || !replace_view(p->as, &c.v, NULL, NULL)) {
		fprintf(sim->out, ", no limit (only global reclaim evicts its pages)\n");
		return SC_CONTINUE;
	}
	fprintf(sim->out, ", limit %" PRIu64 " pages%s\n", c.v.limit,
		c.v.policy == REPLACE_CLOCK ? " (-> the hand)"
		: c.v.policy == REPLACE_FIFO ? " (the victim: the oldest resident)"
		: c.v.policy == REPLACE_LRU  ? " (the victim: the oldest last access)"
					     : " (the victim: the farthest next access)");
	replace_view(p->as, &c.v, print_place, &c);
	/* the order the victim is taken in, which the places (fixed slots) do not show */
	if ((c.v.policy == REPLACE_FIFO || c.v.policy == REPLACE_LRU) && c.n) {
		qsort(c.order, c.n, sizeof(c.order[0]), by_stamp);
		fputs(c.v.policy == REPLACE_FIFO ? "  queue, oldest first:" : "  least recently used first:",
		      sim->out);
		for (unsigned i = 0; i < c.n; i++)
			fprintf(sim->out, " 0x%" PRIx64, c.order[i].va);
		fputc('\n', sim->out);
	}
	return SC_CONTINUE;
}

const struct sc_command swap_commands[] = {
	{"limit", "limit A N|off",
	 "A keeps at most N resident private pages; a fault beyond evicts one by the machine's policy",
	 SC_KERNEL_ON, parse_limit, exec_limit},
	{"expect swapped", "expect swapped A OP N", "A's pages now in swap", SC_KERNEL_ON,
	 parse_count, exec_swapped},
	{"expect majfaults", "expect majfaults A OP N",
	 "A's faults that read a page back from swap", SC_KERNEL_ON, parse_count, exec_majfaults},
	{"expect faults", "expect faults A OP N",
	 "page faults A's accesses (and kernel copies for A) took, of any kind", SC_KERNEL_ON,
	 parse_count, exec_faults},
	{"expect swap_used", "expect swap_used OP N", "swap slots in use, all processes together",
	 SC_KERNEL_ON, parse_swap_used, exec_swap_used},
	{"expect present", "expect present A ADDR ==|!= 0|1",
	 "1 while A's page at ADDR has a frame (present, or PROT_NONE keeping one), 0 when "
	 "untouched or swapped out", SC_KERNEL_ON, parse_present, exec_present},
	{"show swap", "show swap", "the swap area: slots in use, their counts, owners and swap cache",
	 SC_KERNEL_ON, parse_show_swap, exec_show_swap},
	{"show policy", "show policy A",
	 "A's limit and the policy's state: FIFO order, LRU stamps, the clock's circle, hand and A bits",
	 SC_KERNEL_ON, parse_show_policy, exec_show_policy},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
