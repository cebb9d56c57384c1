/*
 * Lexing and parsing of scenario files.
 *
 * Rules kept here (docs/language.md, "Lexical rules"): one command per line, '#' to the
 * end of the line is a comment, a line ending in '\' continues on the next, words are
 * separated by blanks, key=value words are options wherever they stand after the command's
 * name. Only printable ASCII is accepted outside comments, so binary garbage fails cleanly at
 * the first odd byte. The whole file is checked before anything runs; every error is
 * reported as FILE:LINE:COL (1-based, in bytes).
 */
#include "scenario/scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/numbers.h"

#define MAX_ERRORS 20
#define MAX_FILE_SIZE ((size_t)64 << 20)

struct lexed {
	struct sc_word *words;
	size_t *offs;
	int n, cap;
	int end_line, end_col;
	bool question; /* a comment on it starts with '#?': it marks an answer */
	char *storage; /* one buffer holding every word's text */
	size_t used, size;
};

static void report(struct scenario *sc, int line, int col, const char *fmt, va_list ap)
{
	if (sc->nerrors < MAX_ERRORS) {
		fprintf(sc->err, "%s:%d:%d: error: ", sc->file, line, col);
		vfprintf(sc->err, fmt, ap);
		fputc('\n', sc->err);
	} else if (sc->nerrors == MAX_ERRORS) {
		fprintf(sc->err, "%s: too many errors, stopping\n", sc->file);
	}
	sc->nerrors++;
}

static void sc_error(struct scenario *sc, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sc_error(struct scenario *sc, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(sc, line, col, fmt, ap);
	va_end(ap);
}

bool sp_error(struct sc_parse *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p->sc, line, col, fmt, ap);
	va_end(ap);
	return false;
}

bool sp_error_word(struct sc_parse *p, const struct sc_word *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p->sc, w->line, w->col, fmt, ap);
	va_end(ap);
	return false;
}

void machine_cfg_default(struct machine_cfg *cfg)
{
	cfg->memory = (uint64_t)256 << 20;
	cfg->cpus = 1;
	cfg->kernel = true;
	cfg->maxphyaddr = 46;
	cfg->tlb_entries = 64;
	cfg->vendor = X86_INTEL;
	cfg->page1gb = true;
	cfg->default_map = true;
	cfg->audit = false;
	cfg->swap = 0;
	cfg->swapfile[0] = 0;
	cfg->swapkeep = false;
	cfg->policy = 2; /* REPLACE_CLOCK: the choice a kernel ships */
	cfg->uses_limit = false;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (!q) {
		fprintf(stderr, "mmsim: out of host memory\n");
		exit(2);
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xrealloc(NULL, n), s, n);
}

/* ---- the lexer: one statement (a logical line) at a time ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Words are kept as offsets into storage while it may still grow, and made pointers once the
 * statement is complete (lexed_finish). */
static void lexed_push(struct lexed *lx, const char *start, size_t len, int line, int col)
{
	if (lx->n == lx->cap) {
		lx->cap = lx->cap ? lx->cap * 2 : 16;
		lx->words = xrealloc(lx->words, (size_t)lx->cap * sizeof(*lx->words));
		lx->offs = xrealloc(lx->offs, (size_t)lx->cap * sizeof(*lx->offs));
	}
	if (lx->used + len + 1 > lx->size) {
		lx->size = (lx->size + len + 1) * 2;
		lx->storage = xrealloc(lx->storage, lx->size);
	}
	memcpy(lx->storage + lx->used, start, len);
	lx->storage[lx->used + len] = '\0';
	lx->offs[lx->n] = lx->used;
	lx->words[lx->n].text = NULL;
	lx->words[lx->n].line = line;
	lx->words[lx->n].col = col;
	lx->used += len + 1;
	lx->n++;
}

static void lexed_finish(struct lexed *lx)
{
	for (int i = 0; i < lx->n; i++)
		lx->words[i].text = lx->storage + lx->offs[i];
}

/* A UTF-8 byte-order mark (EF BB BF) at the start of a file: invisible in the editor that
 * wrote it, so the error says which editors do and how to save without one. */
static const char *const bom_hint =
	"the file starts with a UTF-8 byte-order mark (bytes EF BB BF, invisible in most "
	"editors; Windows Notepad and editors set to \"UTF-8 with BOM\" write it): save it as "
	"plain UTF-8 without BOM (Notepad: Save as, Encoding \"UTF-8\"; VS Code: click \"UTF-8 "
	"with BOM\" in the status bar, Save with Encoding, \"UTF-8\"; vim: :set nobomb, :w), or "
	"run: sed -i '1s/^\\xEF\\xBB\\xBF//' FILE";

/*
 * Reads one logical line starting at *pos (following '\' continuations). Returns false at the
 * end of input. Lexical errors are reported; *bad is set so the statement is skipped.
 */
static bool lex_statement(struct scenario *sc, const char *buf, size_t len, size_t *pos,
			  int *line, struct lexed *lx, bool *bad)
{
	bool more = true;

	lx->n = 0;
	lx->used = 0;
	lx->question = false;
	*bad = false;
	if (*pos >= len)
		return false;
	while (more && *pos < len) {
		size_t start = *pos, end = start, content_end;
		int this_line = *line;

		while (end < len && buf[end] != '\n')
			end++;
		*pos = end < len ? end + 1 : end;
		(*line)++;
		content_end = end;
		if (content_end > start && buf[content_end - 1] == '\r')
			content_end--;
		/* comments end the content; a '\' before them still continues */
		for (size_t i = start; i < content_end; i++) {
			if (buf[i] == '#') {
				if (i + 1 < content_end && buf[i + 1] == '?')
					lx->question = true;
				content_end = i;
				break;
			}
		}
		while (content_end > start && is_blank(buf[content_end - 1]))
			content_end--;
		more = content_end > start && buf[content_end - 1] == '\\';
		if (more)
			content_end--;
		for (size_t i = start; i < content_end;) {
			size_t w;
			unsigned char c = (unsigned char)buf[i];

			if (is_blank((char)c)) {
				i++;
				continue;
			}
			for (w = i; w < content_end && !is_blank(buf[w]); w++) {
				unsigned char d = (unsigned char)buf[w];

				if (d < 0x21 || d > 0x7e) {
					if (!*bad && this_line == 1 && w == start && w + 3 <= content_end &&
					    memcmp(buf + w, "\xef\xbb\xbf", 3) == 0)
						sc_error(sc, 1, 1, "%s", bom_hint);
					else if (!*bad)
						sc_error(sc, this_line, (int)(w - start) + 1,
							 d == 0 ? "NUL byte in the file (not a scenario?)"
								: "unexpected byte 0x%02x (only printable ASCII is allowed outside comments)",
							 d);
					*bad = true;
				}
			}
			lexed_push(lx, buf + i, w - i, this_line, (int)(i - start) + 1);
			i = w;
		}
		lx->end_line = this_line;
		lx->end_col = (int)(content_end - start) + 1;
	}
	if (more)
		sc_error(sc, lx->end_line, lx->end_col, "'\\' continues past the end of the file");
	lexed_finish(lx);
	return true;
}

/* ---- options ---- */

static bool is_option_word(const char *w)
{
	const char *eq = strchr(w, '=');

	if (!eq || eq == w || eq[1] == '=' || eq[1] == '\0')
		return false;
	if (!(w[0] >= 'a' && w[0] <= 'z'))
		return false;
	for (const char *c = w; c < eq; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

bool sp_error_opt(struct sc_parse *p, const struct sc_option *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(p->sc, o->line, o->col + (int)strlen(o->key) + 1, fmt, ap);
	va_end(ap);
	return false;
}

struct sc_option *sp_opt_find(struct sc_parse *p, const char *key)
{
	for (int i = 0; i < p->nopt; i++)
		if (strcmp(p->opt[i].key, key) == 0)
			return &p->opt[i];
	return NULL;
}

bool sp_opt_num(struct sc_parse *p, const char *key, uint64_t *out, bool *present)
{
	struct sc_option *o = sp_opt_find(p, key);
	enum num_error e;

	if (present)
		*present = o != NULL;
	if (!o)
		return true;
	o->used = true;
	e = parse_number(o->value, out);
	if (e != NUM_OK)
		return sp_error_opt(p, o, "%s=: %s", key, num_strerror(e));
	return true;
}

bool sp_opt_bool(struct sc_parse *p, const char *key, bool *out, bool *present)
{
	static const char *const choices[] = {"0", "1", NULL};
	int v;
	bool have;

	if (!sp_opt_choice(p, key, choices, &v, &have))
		return false;
	if (present)
		*present = have;
	if (have)
		*out = v == 1;
	return true;
}

static void join_choices(char *buf, size_t n, const char *const *choices, const char *sep)
{
	buf[0] = '\0';
	for (int i = 0; choices[i]; i++) {
		if (i)
			strncat(buf, sep, n - strlen(buf) - 1);
		strncat(buf, choices[i], n - strlen(buf) - 1);
	}
}

bool sp_opt_choice(struct sc_parse *p, const char *key, const char *const *choices, int *out,
		   bool *present)
{
	struct sc_option *o = sp_opt_find(p, key);
	char all[256];

	if (present)
		*present = o != NULL;
	if (!o)
		return true;
	o->used = true;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], o->value) == 0) {
			*out = i;
			return true;
		}
	}
	join_choices(all, sizeof(all), choices, "|");
	return sp_error_opt(p, o, "%s= must be %s, not '%s'", key, all, o->value);
}

bool sp_opt_access_size(struct sc_parse *p, unsigned *size)
{
	uint64_t v = 8;
	bool present;
	struct sc_option *o;

	if (!sp_opt_num(p, "size", &v, &present))
		return false;
	if (present && v != 1 && v != 2 && v != 4 && v != 8) {
		o = sp_opt_find(p, "size");
		return sp_error_opt(p, o, "size= must be 1, 2, 4 or 8 bytes, not %s", o->value);
	}
	*size = (unsigned)v;
	return true;
}

/* ---- positional arguments ---- */

bool sp_argc(struct sc_parse *p, int min, int max)
{
	if (p->npos < min)
		return sp_error(p, p->end_line, p->end_col, "missing argument: %s",
				p->st->cmd->synopsis);
	if (p->npos > max)
		return sp_error_word(p, &p->pos[max], "unexpected '%s': %s", p->pos[max].text,
				     p->st->cmd->synopsis);
	return true;
}

static bool need(struct sc_parse *p, int i)
{
	if (i < p->npos)
		return true;
	return sp_error(p, p->end_line, p->end_col, "missing argument: %s", p->st->cmd->synopsis);
}

bool sp_num(struct sc_parse *p, int i, uint64_t *out)
{
	enum num_error e;

	if (!need(p, i))
		return false;
	e = parse_number(p->pos[i].text, out);
	if (e != NUM_OK)
		return sp_error_word(p, &p->pos[i], "'%s': %s", p->pos[i].text, num_strerror(e));
	return true;
}

bool sp_page_aligned(struct sc_parse *p, int i, uint64_t *out)
{
	if (!sp_num(p, i, out))
		return false;
	if (*out & 0xfff)
		return sp_error_word(p, &p->pos[i], "%s is not page-aligned (4 KiB)", p->pos[i].text);
	return true;
}

bool sp_choice(struct sc_parse *p, int i, const char *const *choices, int *out)
{
	char all[256];

	join_choices(all, sizeof(all), choices, "|");
	if (i >= p->npos)
		return sp_error(p, p->end_line, p->end_col, "missing %s: %s", all,
				p->st->cmd->synopsis);
	for (int k = 0; choices[k]; k++) {
		if (strcmp(choices[k], p->pos[i].text) == 0) {
			*out = k;
			return true;
		}
	}
	return sp_error_word(p, &p->pos[i], "expected %s, not '%s'", all, p->pos[i].text);
}

bool sp_word_is(const struct sc_parse *p, int i, const char *s)
{
	return i < p->npos && strcmp(p->pos[i].text, s) == 0;
}

bool sp_name(struct sc_parse *p, int i, char out[SC_NAME_MAX])
{
	const char *s;
	size_t n;

	if (!need(p, i))
		return false;
	s = p->pos[i].text;
	n = strlen(s);
	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return sp_error_word(p, &p->pos[i], "'%s' is not a name ([a-z][a-z0-9_-]*)", s);
	for (size_t k = 1; k < n; k++)
		if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '_' ||
		      s[k] == '-'))
			return sp_error(p, p->pos[i].line, p->pos[i].col + (int)k,
					"'%s' is not a name ([a-z][a-z0-9_-]*)", s);
	if (n >= SC_NAME_MAX)
		return sp_error_word(p, &p->pos[i], "name '%s' is longer than %d characters", s,
				     SC_NAME_MAX - 1);
	memcpy(out, s, n + 1);
	return true;
}

static const char *const op_texts[] = {"==", "!=", "<", "<=", ">", ">=", NULL};

const char *sc_op_text(enum sc_op op)
{
	return (unsigned)op <= SC_GE ? op_texts[op] : "?";
}

bool sc_op_holds(enum sc_op op, uint64_t got, uint64_t want)
{
	switch (op) {
	case SC_EQ:
		return got == want;
	case SC_NE:
		return got != want;
	case SC_LT:
		return got < want;
	case SC_LE:
		return got <= want;
	case SC_GT:
		return got > want;
	case SC_GE:
		return got >= want;
	}
	return false;
}

bool sp_op(struct sc_parse *p, int i, bool only_equality, enum sc_op *out)
{
	static const char *const eq_ops[] = {"==", "!=", NULL};
	int op;

	if (!sp_choice(p, i, only_equality ? eq_ops : op_texts, &op))
		return false;
	*out = (enum sc_op)op;
	return true;
}

bool sp_op_value(struct sc_parse *p, int i, bool only_equality)
{
	struct sc_expectation *e = &p->st->expect;

	if (!sp_op(p, i, only_equality, &e->op) || !sp_num(p, i + 1, &e->value))
		return false;
	e->has_value = true;
	return true;
}

/* ---- statements ---- */

static struct sc_stmt *new_stmt(struct scenario *sc)
{
	if (sc->nstmts == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->stmts = xrealloc(sc->stmts, sc->cap * sizeof(*sc->stmts));
	}
	memset(&sc->stmts[sc->nstmts], 0, sizeof(sc->stmts[0]));
	sc->stmts[sc->nstmts].cpu = -1;
	return &sc->stmts[sc->nstmts];
}

static char *join_words(const struct lexed *lx)
{
	size_t n = 1;
	char *s;

	for (int i = 0; i < lx->n; i++)
		n += strlen(lx->words[i].text) + 1;
	s = xrealloc(NULL, n);
	s[0] = '\0';
	for (int i = 0; i < lx->n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, lx->words[i].text);
	}
	return s;
}

static void parse_statement(struct scenario *sc, struct lexed *lx)
{
	struct sc_word *w = lx->words;
	const struct sc_command *cmd;
	bool two = false;
	struct sc_stmt *st;
	struct sc_parse p;
	struct sc_word pos[64];
	struct sc_option opt[16];
	char keys[16][24];
	int errors_before = (int)sc->nerrors;
	bool ok;

	cmd = sc_lookup(w[0].text, lx->n > 1 ? w[1].text : NULL, &two);
	if (!cmd) {
		if (sc_is_prefix(w[0].text)) {
			if (lx->n < 2)
				sc_error(sc, lx->end_line, lx->end_col, "'%s' needs a subject (see `mmsim help %s`)",
					 w[0].text, w[0].text);
			else
				sc_error(sc, w[1].line, w[1].col, "unknown %s '%s' (see `mmsim help %s`)",
					 w[0].text, w[1].text, w[0].text);
		} else {
			sc_error(sc, w[0].line, w[0].col, "unknown command '%s' (see `mmsim help`)",
				 w[0].text);
		}
		return;
	}
	if (strcmp(cmd->name, "machine") == 0) {
		if (sc->machine_given || sc->nstmts > 0) {
			sc_error(sc, w[0].line, w[0].col,
				 sc->machine_given ? "a second machine line"
						   : "machine must precede every other command");
			return;
		}
	}
	if (cmd->modes & SC_BOOT_PHASE) {
		if (sc->past_boot_phase && strcmp(cmd->name, "machine") != 0) {
			sc_error(sc, w[0].line, w[0].col,
				 "'%s' describes the machine: it must come right after the machine line",
				 cmd->name);
			return;
		}
	} else {
		sc->past_boot_phase = true;
	}
	if (strcmp(cmd->name, "machine") != 0) {
		unsigned mode = sc->machine.kernel ? SC_KERNEL_ON : SC_KERNEL_OFF;

		if (!(cmd->modes & mode)) {
			sc_error(sc, w[0].line, w[0].col,
				 sc->machine.kernel
					 ? "'%s' drives the bare processor: it needs `machine kernel=off`"
					 : "'%s' needs the kernel, but this machine has kernel=off",
				 cmd->name);
			return;
		}
	}

	memset(&p, 0, sizeof(p));
	p.sc = sc;
	p.cmdword = &w[0];
	p.pos = pos;
	p.opt = opt;
	p.end_line = lx->end_line;
	p.end_col = lx->end_col;
	for (int i = two ? 2 : 1; i < lx->n; i++) {
		if (is_option_word(w[i].text)) {
			const char *eq = strchr(w[i].text, '=');
			size_t klen = (size_t)(eq - w[i].text);

			if (p.nopt == 16 || klen >= sizeof(keys[0])) {
				sc_error(sc, w[i].line, w[i].col, "too many or too long options");
				return;
			}
			memcpy(keys[p.nopt], w[i].text, klen);
			keys[p.nopt][klen] = '\0';
			for (int k = 0; k < p.nopt; k++) {
				if (strcmp(keys[k], keys[p.nopt]) == 0) {
					sc_error(sc, w[i].line, w[i].col, "option %s= given twice",
						 keys[k]);
					return;
				}
			}
			opt[p.nopt] = (struct sc_option){keys[p.nopt], eq + 1, w[i].line, w[i].col,
							 false};
			p.nopt++;
		} else {
			if (p.npos == 64) {
				sc_error(sc, w[i].line, w[i].col, "too many words in one command");
				return;
			}
			pos[p.npos++] = w[i];
		}
	}

	st = new_stmt(sc);
	st->cmd = cmd;
	st->line = w[0].line;
	st->col = w[0].col;
	p.st = st;
	if (sc->block.open && !sc_block_admits(&p)) {
		free(st->path);
		return;
	}
	ok = cmd->parse(&p);
	if (ok) {
		for (int i = 0; i < p.nopt; i++) {
			if (!opt[i].used) {
				sc_error(sc, opt[i].line, opt[i].col, "'%s' takes no option %s= (%s)",
					 cmd->name, opt[i].key, cmd->synopsis);
				ok = false;
				break;
			}
		}
	}
	if (ok && sc->block.open && (int)sc->nerrors == errors_before)
		ok = sc_block_takes(&p);
	if (!ok || (int)sc->nerrors != errors_before) {
		free(st->path);
		return;
	}
	st->text = join_words(lx);
	sc->nstmts++;
}

/* ---- marked answers (`#?`, see sim/scenario/answers.c) ---- */

static bool is_answer_op(const char *w)
{
	for (int i = 0; op_texts[i]; i++)
		if (strcmp(w, op_texts[i]) == 0)
			return true;
	return strcmp(w, "->") == 0;
}

/* Parses the statement with its errors held back; returns them (NULL when it parsed). */
static char *parse_quietly(struct scenario *sc, struct lexed *lx)
{
	unsigned errors_before = sc->nerrors;
	FILE *err = sc->err;
	char *msg = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&msg, &len);

	if (!m) {
		fprintf(stderr, "mmsim: out of host memory\n");
		exit(2);
	}
	sc->err = m;
	parse_statement(sc, lx);
	sc->err = err;
	fclose(m);
	if (sc->nerrors == errors_before) {
		free(msg);
		return NULL;
	}
	sc->nerrors = errors_before;
	return msg;
}

/*
 * An expect line marked with `#?` is a question: the words after its first operator (==,
 * !=, <, <=, >, >=, ->) are the answer, which `mmsim handout` blanks into `?`. A `?` (no
 * answer yet) or an answer the parser rejects does not stop the file: the statement gets a
 * stand-in answer so that it still runs (its effects matter to the lines after it), and the
 * run reports it as unanswered or not understood instead of checking it.
 */
static void parse_question(struct scenario *sc, struct lexed *lx)
{
	static const char *const stand_ins[] = {"ok", "0", "gp", "normal", NULL};
	struct sc_word *w = lx->words, *orig = lx->words;
	int k = -1, last = -1, n = lx->n, kind;
	size_t alen = 1;
	char *answer, *problem = NULL, *text;
	struct sc_stmt *st;

	for (int i = 1; i < n && k < 0; i++)
		if (is_answer_op(w[i].text))
			k = i + 1;
	if (strcmp(w[0].text, "expect") != 0 || k < 0) {
		sc_error(sc, w[0].line, w[0].col,
			 "'#?' marks an answer, but this line has none (an expect line with ==, !=, <, <=, >, >= or -> has one)");
		return;
	}
	for (int i = k; i < n; i++) {
		if (!is_option_word(w[i].text)) {
			last = i;
			alen += strlen(w[i].text) + 1;
		}
	}
	if (last >= k && w[last].line != w[k].line) {
		sc_error(sc, w[k].line, w[k].col, "an answer marked with '#?' must stand on one line");
		return;
	}
	answer = xrealloc(NULL, alen);
	answer[0] = '\0';
	for (int i = k; i <= last; i++) {
		if (is_option_word(w[i].text))
			continue;
		if (answer[0])
			strcat(answer, " ");
		strcat(answer, w[i].text);
	}
	text = join_words(lx);
	kind = SC_Q_ANSWERED;
	if (strcmp(answer, "?") == 0 || answer[0] == '\0') {
		kind = SC_Q_UNANSWERED;
	} else {
		problem = parse_quietly(sc, lx);
		if (problem)
			kind = SC_Q_MALFORMED;
	}
	if (kind != SC_Q_ANSWERED) {
		/* the statement with a stand-in answer and its options */
		struct sc_word *sub = xrealloc(NULL, (size_t)(n + 1) * sizeof(*sub));
		int m = 0, stand_in = -1;
		char *why = NULL;

		for (int i = 0; i < k; i++)
			sub[m++] = w[i];
		sub[m++] = (struct sc_word){NULL, w[k - 1].line, w[k - 1].col};
		for (int i = k; i < n; i++)
			if (is_option_word(w[i].text))
				sub[m++] = w[i];
		lx->words = sub;
		lx->n = m;
		for (int i = 0; stand_ins[i] && stand_in < 0; i++) {
			sub[k].text = stand_ins[i];
			free(why);
			why = parse_quietly(sc, lx);
			if (!why)
				stand_in = i;
		}
		lx->words = orig;
		lx->n = n;
		free(sub);
		if (stand_in < 0) {
			/* nothing stands in: the statement itself is wrong, report it */
			free(why);
			free(problem);
			problem = NULL;
			parse_statement(sc, lx);
			if (kind == SC_Q_UNANSWERED)
				sc_error(sc, w[k - 1].line, w[k - 1].col,
					 "this question cannot run without an answer");
			free(answer);
			free(text);
			return;
		}
		free(why);
	}
	st = &sc->stmts[sc->nstmts - 1];
	free(st->text);
	st->text = text;
	st->question = kind;
	st->answer = answer;
	st->answer_problem = problem;
	st->answer_line = k < n ? w[k].line : w[k - 1].line;
	if (last >= k) {
		st->answer_col = w[k].col;
		st->answer_end_col = w[last].col + (int)strlen(w[last].text);
	} else {
		st->answer_col = w[k - 1].col + (int)strlen(w[k - 1].text);
		st->answer_end_col = st->answer_col;
	}
}

void scenario_begin(struct scenario *sc, const char *file, FILE *err)
{
	memset(sc, 0, sizeof(*sc));
	sc->file = xstrdup(file);
	sc->err = err;
	machine_cfg_default(&sc->machine);
}

bool scenario_parse_more(struct scenario *sc, const char *bytes, size_t len, int first_line)
{
	struct lexed lx = {0};
	size_t pos = 0;
	int line = first_line;
	unsigned errors_before = sc->nerrors;
	bool bad;

	while (lex_statement(sc, bytes, len, &pos, &line, &lx, &bad)) {
		if (bad || lx.n == 0)
			continue;
		if (lx.question)
			parse_question(sc, &lx);
		else
			parse_statement(sc, &lx);
	}
	free(lx.words);
	free(lx.offs);
	free(lx.storage);
	return sc->nerrors == errors_before;
}

bool scenario_parse(struct scenario *sc, const char *file, const char *bytes, size_t len,
		    FILE *err)
{
	scenario_begin(sc, file, err);
	scenario_parse_more(sc, bytes, len, 1);
	if (sc->block.open)
		sc_error(sc, sc->block.line, sc->block.col,
			 "this parallel block has no `end` (its commands would never run)");
	if (sc->nerrors == 0 && sc->nstmts == 0)
		sc_error(sc, 1, 1, "the scenario has no commands");
	return sc->nerrors == 0;
}

char *scenario_read(const char *file, size_t *len_out, FILE *err)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	*len_out = 0;
	if (!f) {
		fprintf(err, "mmsim: cannot open %s: %s\n", file, strerror(errno));
		return NULL;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_FILE_SIZE + 1)
				cap = MAX_FILE_SIZE + 1;
			buf = xrealloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0 && len <= MAX_FILE_SIZE);
	if (ferror(f)) {
		fprintf(err, "mmsim: cannot read %s: %s\n", file, strerror(errno));
		if (f != stdin)
			fclose(f);
		free(buf);
		return NULL;
	}
	if (f != stdin)
		fclose(f);
	if (len > MAX_FILE_SIZE) {
		fprintf(err, "%s:1:1: error: file larger than %zu MiB (not a scenario?)\n", file,
			MAX_FILE_SIZE >> 20);
		free(buf);
		return NULL;
	}
	if (!buf)
		buf = xrealloc(NULL, 1);
	buf[len] = '\0';
	*len_out = len;
	return buf;
}

bool scenario_load(struct scenario *sc, const char *file, FILE *err)
{
	size_t len;
	char *buf = scenario_read(file, &len, err);
	bool ok;

	if (!buf) {
		memset(sc, 0, sizeof(*sc));
		return false;
	}
	ok = scenario_parse(sc, file, buf, len, err);
	free(buf);
	return ok;
}

void scenario_free(struct scenario *sc)
{
	for (size_t i = 0; i < sc->nstmts; i++) {
		free(sc->stmts[i].text);
		free(sc->stmts[i].path);
		free(sc->stmts[i].answer);
		free(sc->stmts[i].answer_problem);
	}
	free(sc->stmts);
	free(sc->checkpoints);
	free(sc->procs);
	free(sc->file);
	memset(sc, 0, sizeof(*sc));
}
