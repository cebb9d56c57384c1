/*
 * The memory-pressure governor in scenarios: its state (expect pressure, show pressure), the
 * emergency picker's screen (show picker) and the person at the screen (pick).
 */
#include <string.h>

#include "commands/commands.h"
#include "pressure.h"
#include "scenario/sim.h"

/* expect pressure ==|!= STATE */
static bool parse_expect_pressure(struct sc_parse *p)
{
	static const char *const states[] = {"normal",	   "warning", "emergency", "evacuating",
					     "picker", "restoring", NULL};

	return sp_argc(p, 2, 2) && sp_op(p, 0, true, &p->st->expect.op) &&
	       sp_choice(p, 1, states, &p->st->pressure.state);
}

static enum sc_status exec_expect_pressure(struct sim *sim, const struct sc_stmt *st)
{
	enum pressure_state got = pressure_state();
	bool eq = (int)got == st->pressure.state;

	if (eq == (st->expect.op == SC_EQ))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s%s, got %s",
				 st->expect.op == SC_NE ? "not " : "",
				 pressure_state_name((enum pressure_state)st->pressure.state),
				 pressure_state_name(got));
}

static bool parse_none(struct sc_parse *p)
{
	return sp_argc(p, 0, 0);
}

static enum sc_status exec_show_pressure(struct sim *sim, const struct sc_stmt *st)
{
	char line[320];

	(void)st;
	stats_string(line, sizeof(line));
	fprintf(sim->out, "%s\n", line);
	return SC_CONTINUE;
}

static enum sc_status exec_show_picker(struct sim *sim, const struct sc_stmt *st)
{
	char screen[4096];

	(void)st;
	if (pressure_picker_text(screen, sizeof(screen)) == 0)
		fprintf(sim->out, "(no picker: the system is %s)\n", pressure_state_name(pressure_state()));
	else
		fputs(screen, sim->out);
	return SC_CONTINUE;
}

/* pick NAME */
static bool parse_pick(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_name(p, 0, p->st->proc);
}

static enum sc_status exec_pick(struct sim *sim, const struct sc_stmt *st)
{
	switch (pressure_pick(st->proc)) {
	case PICK_OK:
		return SC_CONTINUE;
	case PICK_NOT_IN_PICKER:
		return sim_expect_failed(sim, st, "expected the emergency picker, got state %s",
					 pressure_state_name(pressure_state()));
	case PICK_NO_SUCH_PROCESS:
		break;
	}
	return sim_expect_failed(sim, st, "the picker lists no running process '%s'", st->proc);
}

/* failalloc nth=N | after=N | off */
static bool parse_failalloc(struct sc_parse *p)
{
	struct sc_failalloc_args *f = &p->st->failalloc;
	bool nth, after;

	if (!sp_argc(p, 0, 1) || !sp_opt_num(p, "nth", &f->n, &nth) ||
	    !sp_opt_num(p, "after", &f->n, &after))
		return false;
	if (p->npos == 1) {
		if (!sp_word_is(p, 0, "off"))
			return sp_error_word(p, &p->pos[0], "expected off, nth=N or after=N, not '%s'",
					     p->pos[0].text);
		if (nth || after)
			return sp_error_word(p, &p->pos[0], "off takes no nth= or after=");
		f->mode = ALLOC_FAIL_OFF;
		return true;
	}
	if (nth == after)
		return sp_error(p, p->end_line, p->end_col, "give one of nth=N, after=N or off");
	if (nth && f->n == 0)
		return sp_error_opt(p, sp_opt_find(p, "nth"), "nth= counts from 1");
	f->mode = nth ? ALLOC_FAIL_NTH : ALLOC_FAIL_AFTER;
	return true;
}

static enum sc_status exec_failalloc(struct sim *sim, const struct sc_stmt *st)
{
	(void)sim;
	pressure_inject_failure((enum alloc_fail_mode)st->failalloc.mode, st->failalloc.n);
	return SC_CONTINUE;
}

const struct sc_command pressure_commands[] = {
	{"failalloc", "failalloc nth=N | after=N | off",
	 "refuse the Nth normal frame allocation from now (user faults, page tables, heap growth), or every one after the Nth",
	 SC_KERNEL_ON, parse_failalloc, exec_failalloc},
	{"expect pressure",
	 "expect pressure ==|!= normal|warning|emergency|evacuating|picker|restoring",
	 "the memory-pressure governor's state", SC_KERNEL_ON, parse_expect_pressure,
	 exec_expect_pressure},
	{"show pressure", "show pressure",
	 "the governor's one-line summary: state, free, available, reserve, watermarks",
	 SC_KERNEL_ON, parse_none, exec_show_pressure},
	{"show picker", "show picker", "the emergency picker's screen, as drawn in reserve frames",
	 SC_KERNEL_ON, parse_none, exec_show_picker},
	{"pick", "pick NAME",
	 "at the emergency picker: end process NAME (elsewhere the run fails, exit 1)",
	 SC_KERNEL_ON, parse_pick, exec_pick},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
