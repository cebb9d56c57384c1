/*
 * The REPL. Lines are read with libedit when mmsim was built with it (meson option
 * readline) and the input is a terminal; otherwise with getline, without prompts, so that
 * `mmsim repl < file` prints exactly what the statements print.
 *
 * A line ending in '\' continues on the next (as in files). Besides the scenario language,
 * the REPL knows `help [COMMAND]` and `quit` (`exit` is not one of them: it is the kernel's
 * command that ends a process).
 */
#include "cli/repl.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario/scenario.h"
#include "scenario/session.h"

#ifdef MMSIM_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

#define PROMPT "mmsim> "
#define PROMPT_MORE "   ...> "

struct reader {
	FILE *in;
	bool tty;
	bool edit; /* libedit in use */
	char *buf;
	size_t cap;
};

#ifdef MMSIM_HAVE_LIBEDIT
/* Whether word n of command c (0 or 1) was already offered by an earlier command. */
static bool offered_before(size_t i, const char *word, size_t n, int which)
{
	for (size_t k = 0; k < i; k++) {
		const char *name = sc_command_at(k)->name, *sp = strchr(name, ' ');

		if (which == 1) {
			if (!sp)
				continue;
			name = sp + 1;
		}
		if (strncmp(name, word, n) == 0 && (name[n] == ' ' || name[n] == '\0'))
			return true;
	}
	return false;
}

/*
 * Completes command names: the first word of the line among every command's first word;
 * the second word among the subjects of the two-word commands that start with the first
 * ("show " -> cpu tlb memmap ...).
 */
static char *complete_command(const char *text, int state)
{
	static size_t next, len;
	static char first[32];
	static int which;
	const struct sc_command *c;

	if (state == 0) {
		const char *b = rl_line_buffer;
		size_t n;

		next = 0;
		len = strlen(text);
		while (*b == ' ' || *b == '\t')
			b++;
		n = strcspn(b, " \t");
		which = b[n] != '\0' && b + n < rl_line_buffer + rl_point;
		if (n >= sizeof(first))
			n = sizeof(first) - 1;
		memcpy(first, b, n);
		first[n] = '\0';
	}
	while ((c = sc_command_at(next++)) != NULL) {
		const char *sp = strchr(c->name, ' '), *word = c->name;
		size_t n;
		char *w;

		if (which == 1) {
			if (!sp || (size_t)(sp - c->name) != strlen(first) ||
			    strncmp(c->name, first, strlen(first)) != 0)
				continue;
			word = sp + 1;
		}
		n = which == 0 && sp ? (size_t)(sp - c->name) : strlen(word);
		if (strncmp(word, text, len) != 0 || offered_before(next - 1, word, n, which))
			continue;
		w = malloc(n + 1);
		if (!w)
			return NULL;
		memcpy(w, word, n);
		w[n] = '\0';
		return w;
	}
	return NULL;
}

static char history_path[4096];
#endif

/* One physical line without its newline, or NULL at the end of input. */
static char *read_line(struct reader *r, const char *prompt)
{
	ssize_t n;

#ifdef MMSIM_HAVE_LIBEDIT
	if (r->edit) {
		char *line;

		free(r->buf);
		r->buf = NULL;
		line = readline(prompt);
		if (!line)
			return NULL;
		if (line[0])
			add_history(line);
		r->buf = line;
		return line;
	}
#endif
	if (r->tty) {
		fputs(prompt, stdout);
		fflush(stdout);
	}
	n = getline(&r->buf, &r->cap, r->in);
	if (n < 0)
		return NULL;
	while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
		r->buf[--n] = '\0';
	return r->buf;
}

/* Whether a line continues on the next: its content before any '#' ends in '\'. */
static bool continues(const char *line)
{
	size_t n = strcspn(line, "#");

	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return n > 0 && line[n - 1] == '\\';
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* `help`, `help WORDS`, `quit`: handled here. Returns true if the line was one of them. */
static bool builtin(const char *line, FILE *out, bool *quit)
{
	const char *s = skip_blanks(line);
	char topic[256];
	size_t n;

	if (strncmp(s, "quit", 4) == 0 && *skip_blanks(s + 4) == '\0') {
		*quit = true;
		return true;
	}
	if (strncmp(s, "help", 4) != 0 || (s[4] != '\0' && s[4] != ' ' && s[4] != '\t'))
		return false;
	s = skip_blanks(s + 4);
	/* the topic, its words joined by one blank, comments dropped */
	n = 0;
	while (*s && *s != '#' && n + 2 < sizeof(topic)) {
		if (*s == ' ' || *s == '\t') {
			s = skip_blanks(s);
			if (*s && *s != '#')
				topic[n++] = ' ';
			continue;
		}
		topic[n++] = *s++;
	}
	topic[n] = '\0';
	if (n == 0)
		fputs("Commands of the scenario language (`help COMMAND` for one; `quit` or end of\n"
		      "input leaves). The first line may be a machine line; without one the first\n"
		      "command builds the default machine: memory=256M cpus=1 with the kernel.\n",
		      out);
	sc_print_help(out, n ? topic : NULL);
	if (n == 0) {
		fputs("  help [COMMAND]\n      this list, or the commands starting with COMMAND\n"
		      "  quit\n      leave the REPL (so does end of input, Ctrl-D)\n",
		      out);
	}
	return true;
}

int mmsim_repl(FILE *in, FILE *out, FILE *err, const struct sim_options *opts)
{
	struct reader r = {.in = in, .tty = isatty(fileno(in)) == 1};
	struct sim_session s;
	char *stmt = NULL;
	size_t stmt_len = 0;
	int line_no = 0, first_line = 1;
	bool quit = false;

#ifdef MMSIM_HAVE_LIBEDIT
	if (r.tty && in == stdin) {
		const char *home = getenv("HOME");

		r.edit = true;
		rl_completion_entry_function = complete_command;
		using_history();
		stifle_history(1000);
		if (home && snprintf(history_path, sizeof(history_path), "%s/.mmsim_history", home) <
				    (int)sizeof(history_path))
			read_history(history_path);
		else
			history_path[0] = '\0';
	}
#endif
	if (r.tty)
		fprintf(out, "mmsim REPL: one scenario command per line; `help` lists them, `quit` leaves.\n"
			     "Start with a machine line (e.g. `machine kernel=off memory=1M`) or the\n"
			     "first command builds the default machine (256M, 1 CPU, kernel on).\n");
	sim_session_init(&s, "repl", opts, out, err);
	while (!quit) {
		/* inside a parallel block too: nothing runs before its `end` */
		const char *line = read_line(&r, stmt_len || s.sc.block.open ? PROMPT_MORE : PROMPT);
		size_t n;
		char *grown;

		if (!line)
			break;
		line_no++;
		if (stmt_len == 0) {
			first_line = line_no;
			if (builtin(line, out, &quit)) {
				fflush(out);
				continue;
			}
		}
		n = strlen(line);
		grown = realloc(stmt, stmt_len + n + 2);
		if (!grown) {
			fprintf(err, "mmsim: out of host memory\n");
			break;
		}
		stmt = grown;
		memcpy(stmt + stmt_len, line, n);
		stmt_len += n;
		stmt[stmt_len++] = '\n';
		stmt[stmt_len] = '\0';
		if (continues(line))
			continue;
		sim_session_line(&s, stmt, stmt_len, first_line);
		fflush(out);
		fflush(err);
		stmt_len = 0;
	}
	if (stmt_len) /* input ended inside a continued line: run what there is */
		sim_session_line(&s, stmt, stmt_len, first_line);
	if (s.sc.block.open)
		fprintf(err, "repl:%d:%d: error: this parallel block has no `end`: its commands did not run\n",
			s.sc.block.line, s.sc.block.col);
	if (r.tty && !quit)
		fputc('\n', out);
#ifdef MMSIM_HAVE_LIBEDIT
	if (r.edit && history_path[0])
		write_history(history_path);
#endif
	free(stmt);
	free(r.buf);
	sim_session_destroy(&s);
	return 0;
}
