/*
 * trace on|off [KINDS]: narrate just the part of a scenario that matters, as --trace
 * would, from this line on.
 */
#include <string.h>

#include "commands/commands.h"
#include "host/host_platform.h"
#include "platform.h"
#include "scenario/sim.h"
#include "views/trace_kinds.h"

/* trace on|off [KINDS...]: no KINDS is every kind but boot for on, every kind for off */
static bool parse_trace(struct sc_parse *p)
{
	static const char *const onoff[] = {"off", "on", NULL};
	struct sc_trace_args *t = &p->st->trace;
	unsigned all = 0;
	int on;

	if (!sp_argc(p, 1, 8) || !sp_choice(p, 0, onoff, &on))
		return false;
	t->on = on == 1;
	for (int i = 1; i < p->npos; i++) {
		const char *bad;
		size_t len;
		unsigned k;

		if (!trace_kinds_parse(p->pos[i].text, &k, &bad, &len))
			return sp_error(p, p->pos[i].line, p->pos[i].col + (int)(bad - p->pos[i].text),
					"unknown trace kind '%.*s' (kinds: %s)", (int)len, bad,
					trace_kind_names());
		all |= k;
	}
	t->kinds = p->npos > 1 ? all : t->on ? TRACE_DEFAULT_KINDS : TRACE_ALL;
	return true;
}

static enum sc_status exec_trace(struct sim *sim, const struct sc_stmt *st)
{
	fflush(sim->out);
	if (st->trace.on)
		host_set_trace_kinds(plat_trace_mask | st->trace.kinds);
	else
		host_set_trace_kinds(plat_trace_mask & ~st->trace.kinds);
	return SC_CONTINUE;
}

const struct sc_command trace_commands[] = {
	{"trace", "trace on|off [KINDS]",
	 "narrate from here on (or stop): KINDS is a comma list of boot, walk, fault, frame, tlb, "
	 "pressure, mm, heap, cpu, all; none means every kind but boot",
	 SC_ANY, parse_trace, exec_trace},
	{0},
};
