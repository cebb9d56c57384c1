/*
 * One line at a time against a live machine (see session.h). The statements are parsed into
 * one growing scenario, so the parser's cross-line checks see the whole history; each line's
 * new statements are then run as a window of that scenario through sim_run, which boots the
 * kernel before the first statement that needs it and turns results into exit statuses
 * exactly as `mmsim run` does.
 */
#include "scenario/session.h"

#include <stdlib.h>
#include <string.h>

void sim_session_init(struct sim_session *s, const char *name, const struct sim_options *opts,
		      FILE *out, FILE *err)
{
	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->out = out;
	s->err = err;
	s->name = strdup(name);
	if (!s->name) {
		fprintf(stderr, "mmsim: out of host memory\n");
		exit(2);
	}
	scenario_begin(&s->sc, name, err);
}

const struct machine_cfg *sim_session_machine(const struct sim_session *s)
{
	return &s->sc.machine;
}

int sim_session_line(struct sim_session *s, const char *text, size_t len, int line)
{
	struct machine_cfg machine = s->sc.machine;
	bool machine_given = s->sc.machine_given, past_boot = s->sc.past_boot_phase;
	struct scenario window;
	bool ok;

	/* the parser stops printing after 20 errors in one file; a session has no end */
	s->sc.nerrors = 0;
	ok = scenario_parse_more(&s->sc, text, len, line);
	if (!ok) {
		/* a rejected machine line may have set part of the configuration: undo it */
		s->sc.machine = machine;
		s->sc.machine_given = machine_given;
		s->sc.past_boot_phase = past_boot;
		return 2;
	}
	if (s->sc.nstmts == s->ran || s->sc.block.open)
		return 0; /* nothing new, or a parallel block that runs once its `end` comes */
	if (!s->created) {
		if (!sim_create(&s->sim, &s->sc.machine, &s->opts, s->name, s->out, s->err)) {
			/* start over: the next line may be a machine line that fits this host */
			scenario_free(&s->sc);
			scenario_begin(&s->sc, s->name, s->err);
			s->ran = 0;
			return 2;
		}
		s->created = true;
	}
	window = s->sc;
	window.stmts = s->sc.stmts + s->ran;
	window.nstmts = s->sc.nstmts - s->ran;
	s->ran = s->sc.nstmts;
	return sim_run(&s->sim, &window);
}

void sim_session_destroy(struct sim_session *s)
{
	if (s->created)
		sim_destroy(&s->sim);
	scenario_free(&s->sc);
	free(s->name);
	memset(s, 0, sizeof(*s));
}
