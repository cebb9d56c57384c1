/*
 * `mmsim handout FILE`: the student's copy of a lesson. Every answer the lesson marks is
 * hidden: the answer of an expect line marked `#?` becomes `?` (the rest of the line, its
 * options and its comment stay), and each block of comment lines starting with `#>` (a
 * worked answer in prose) becomes one `#> your answer:` line. The result is itself a
 * scenario: filled in, `mmsim run` checks it (sim/scenario/answers.c).
 */
#include "teach/handout.h"

#include <stdlib.h>
#include <string.h>

#include "scenario/scenario.h"

struct blank {
	int line, col, end_col;
};

/* A comment line of a worked answer: blanks, then "#>". */
static bool is_answer_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i + 1 < n && s[i] == '#' && s[i + 1] == '>';
}

int handout_write(const char *file, FILE *out, FILE *err)
{
	struct scenario sc;
	struct blank *blanks;
	size_t len, nblanks = 0, nprose = 0, b = 0;
	char *buf = scenario_read(file, &len, err);
	int line = 1;
	bool in_prose = false;

	if (!buf)
		return 2;
	if (!scenario_parse(&sc, file, buf, len, err)) {
		scenario_free(&sc);
		free(buf);
		return 2;
	}
	blanks = calloc(sc.nstmts + 1, sizeof(*blanks));
	if (!blanks) {
		fprintf(err, "mmsim: out of host memory\n");
		scenario_free(&sc);
		free(buf);
		return 2;
	}
	for (size_t i = 0; i < sc.nstmts; i++)
		if (sc.stmts[i].question)
			blanks[nblanks++] = (struct blank){sc.stmts[i].answer_line,
							   sc.stmts[i].answer_col,
							   sc.stmts[i].answer_end_col};
	scenario_free(&sc);
	for (size_t pos = 0; pos < len; line++) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		pos += n + (nl != NULL);
		if (is_answer_comment(s, n)) {
			if (!in_prose)
				fputs("#> your answer:\n", out);
			in_prose = true;
			nprose++;
			continue;
		}
		in_prose = false;
		if (b < nblanks && blanks[b].line == line) {
			size_t at = (size_t)blanks[b].col - 1, end = (size_t)blanks[b].end_col - 1;

			fprintf(out, "%.*s%s?%.*s\n", (int)at, s, at == end ? " " : "",
				(int)(n - end), s + end);
			b++;
			continue;
		}
		fprintf(out, "%.*s\n", (int)n, s);
	}
	free(blanks);
	free(buf);
	if (nblanks == 0 && nprose == 0) {
		fprintf(err, "%s: no marked answers: nothing to hide (see `mmsim help handout`)\n",
			file);
		return 2;
	}
	return 0;
}
