/*
 * Marked answers: an expect line with a `#?` comment is a question whose answer is the
 * words after its operator (the parser's side is parse_question in scenario_parse.c, the
 * student's copy is made by `mmsim handout`, sim/teach/handout.c). Running a file checks every
 * answer and goes on after a wrong one, so that a student learns about all of them at once;
 * the statement itself always runs, because the lines after it depend on what it did.
 * A wrong answer is named with what the student wrote, not with the right one, unless
 * --reveal asks for it.
 */
#include <string.h>
#include <unistd.h>

#include "scenario/sim.h"

/* "FILE:3:7: error: 'x': not a number\n" -> "'x': not a number" */
static void print_problem(FILE *out, const char *msg)
{
	const char *p = msg ? strstr(msg, "error: ") : NULL;
	size_t n;

	p = p ? p + 7 : (msg ? msg : "");
	n = strcspn(p, "\n");
	fprintf(out, "%.*s", (int)n, p);
}

enum sc_status sim_exec_answer(struct sim *sim, const struct sc_stmt *st)
{
	enum sc_status s;

	sim->holding_failure = true;
	sim->held_failure[0] = '\0';
	s = st->cmd->exec(sim, st);
	sim->holding_failure = false;
	if (s != SC_CONTINUE && s != SC_EXPECT_FAILED)
		return s; /* a run-time error or a kernel bug: reported already, the run stops */
	fflush(sim->out);
	switch (st->question) {
	case SC_Q_ANSWERED:
		if (s == SC_CONTINUE) {
			sim->answers_right++;
			break;
		}
		sim->answers_wrong++;
		fprintf(sim->err, "%s:%d: wrong answer: you wrote '%s'", sim->file, st->line,
			st->answer);
		if (sim->opts.reveal)
			fprintf(sim->err, " (%s)", sim->held_failure);
		fputc('\n', sim->err);
		break;
	case SC_Q_MALFORMED:
		sim->answers_wrong++;
		fprintf(sim->err, "%s:%d:%d: answer not understood: ", sim->file, st->line,
			st->answer_col);
		print_problem(sim->err, st->answer_problem);
		fputc('\n', sim->err);
		break;
	default:
		sim->answers_unanswered++;
		fprintf(sim->err, "%s:%d:%d: unanswered: %s\n", sim->file, st->line, st->answer_col,
			st->text);
		break;
	}
	return SC_CONTINUE;
}

int sim_answers_finish(struct sim *sim, int status)
{
	unsigned total = sim->answers_right + sim->answers_wrong + sim->answers_unanswered;
	bool missed = sim->answers_wrong || sim->answers_unanswered;

	if (total == 0)
		return status;
	/* a lesson run as a test says nothing when every answer is right */
	if (missed || isatty(fileno(sim->err)))
		fprintf(sim->err, "%s: %u answer%s: %u right, %u wrong, %u unanswered\n", sim->file,
			total, total == 1 ? "" : "s", sim->answers_right, sim->answers_wrong,
			sim->answers_unanswered);
	return status == 0 && missed ? 1 : status;
}
