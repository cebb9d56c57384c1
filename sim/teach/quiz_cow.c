/*
 * mmsim quiz cow: a process maps a few pages of private memory, touches some, forks (maybe
 * twice), and the processes write and read pages. The student predicts, after the last step,
 * which frame each process maps at each page (which are shared) and each frame's references,
 * each process's resident set, and the free frame count.
 *
 * The answers come from the real kernel: the steps are a scenario run through the simulator
 * (fork, the page-fault handler's demand-zero, zero-frame and copy-on-write paths), and the
 * answers are read back through the kernel's views (addr_space_lookup, addr_space_rss).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/counters.h"
#include "page_info.h"
#include "teach/prng.h"
#include "teach/quiz.h"
#include "scenario/sim.h"
#include "user_mm.h"
#include "user_mm_view.h"

#define QC_BASE 0x400000ull
#define QC_MAX_STEPS 24
#define QC_MAX_PAGES 6
#define QC_MAX_PROCS 3

static const char *const qc_names[QC_MAX_PROCS] = {"p", "c", "g"};

enum qc_op { QC_WRITE, QC_READ, QC_FORK };

struct qc_step {
	enum qc_op op;
	unsigned proc;  /* who acts (the parent for a fork) */
	unsigned page;  /* write/read */
	unsigned child; /* fork */
};

struct qc_problem {
	unsigned npages, nsteps, nprocs;
	struct qc_step steps[QC_MAX_STEPS];
	unsigned last_fork; /* index of the last fork step */
};

static void add(struct qc_problem *q, struct qc_step s)
{
	if (q->nsteps < QC_MAX_STEPS)
		q->steps[q->nsteps++] = s;
}

/* A few accesses by the live processes, mostly writes. */
static void accesses(struct qc_problem *q, struct prng *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct qc_step s = {prng_below(r, 4) == 0 ? QC_READ : QC_WRITE,
				    (unsigned)prng_below(r, q->nprocs), (unsigned)prng_below(r, q->npages), 0};

		add(q, s);
	}
}

static void make_problem(struct qc_problem *q, uint64_t seed)
{
	struct prng r;
	unsigned touched = 0;

	prng_seed(&r, seed);
	memset(q, 0, sizeof(*q));
	q->npages = 4 + (unsigned)prng_below(&r, 3);
	q->nprocs = 1;
	/* the parent touches at least two pages, in order, and maybe reads one more */
	for (unsigned pg = 0; pg < q->npages; pg++) {
		if (prng_below(&r, 3) != 0 || (pg + 2 >= q->npages && touched < 2)) {
			add(q, (struct qc_step){QC_WRITE, 0, pg, 0});
			touched++;
		} else if (prng_below(&r, 2) == 0) {
			add(q, (struct qc_step){QC_READ, 0, pg, 0});
		}
	}
	q->last_fork = q->nsteps;
	add(q, (struct qc_step){QC_FORK, 0, 0, 1});
	q->nprocs = 2;
	accesses(q, &r, 2 + (unsigned)prng_below(&r, 2));
	if (prng_below(&r, 2) == 0) {
		q->last_fork = q->nsteps;
		add(q, (struct qc_step){QC_FORK, (unsigned)prng_below(&r, 2), 0, 2});
		q->nprocs = 3;
		accesses(q, &r, 2 + (unsigned)prng_below(&r, 3));
	}
}

static int append(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int append(char **buf, size_t *len, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;
	char *grown;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	grown = realloc(*buf, *len + (size_t)n + 1);
	if (!grown)
		return -1;
	memcpy(grown + *len, line, (size_t)n + 1);
	*buf = grown;
	*len += (size_t)n;
	return n;
}

/* The scenario of the problem. */
static char *scenario_text(const struct qc_problem *q)
{
	char *s = NULL;
	size_t n = 0;
	bool ok = true;

	ok &= append(&s, &n, "machine memory=32M\nspawn p\nmmap p 0x%llx %uK rw\n",
		     (unsigned long long)QC_BASE, q->npages * 4) > 0;
	for (unsigned i = 0; i < q->nsteps && ok; i++) {
		const struct qc_step *t = &q->steps[i];
		unsigned long long va = QC_BASE + 4096ull * t->page;

		if (t->op == QC_FORK)
			ok &= append(&s, &n, "fork %s %s\n", qc_names[t->proc], qc_names[t->child]) > 0;
		else if (t->op == QC_WRITE)
			ok &= append(&s, &n, "write %s 0x%llx %u\n", qc_names[t->proc], va, i + 1) > 0;
		else
			ok &= append(&s, &n, "read %s 0x%llx\n", qc_names[t->proc], va) > 0;
	}
	if (!ok) {
		free(s);
		return NULL;
	}
	return s;
}

struct qc_answers {
	uint64_t free_after_fork, free_end;
	uint64_t rss[QC_MAX_PROCS];
	bool present[QC_MAX_PROCS][QC_MAX_PAGES];
	uint64_t frame[QC_MAX_PROCS][QC_MAX_PAGES];
	uint64_t refs[QC_MAX_PROCS][QC_MAX_PAGES];
	int kind[QC_MAX_PROCS][QC_MAX_PAGES]; /* enum refcount_kind, -1 the zero frame */
};

/* Runs the problem through the simulator and reads the answers from the kernel. */
static bool solve(const struct qc_problem *q, struct qc_answers *a, FILE *err)
{
	char *text = scenario_text(q), *obuf = NULL;
	size_t olen = 0;
	FILE *o;
	struct scenario sc;
	struct sim sim;
	struct sim_options opts = {0};
	bool ok = false;

	memset(a, 0, sizeof(*a));
	o = open_memstream(&obuf, &olen);
	if (!text || !o) {
		fprintf(err, "mmsim: out of host memory\n");
		free(text);
		if (o)
			fclose(o);
		free(obuf);
		return false;
	}
	if (!scenario_parse(&sc, "quiz-cow", text, strlen(text), err) ||
	    !sim_create(&sim, &sc.machine, &opts, "quiz-cow", o, err)) {
		scenario_free(&sc);
		goto out;
	}
	{
		/* statements: machine, spawn, mmap, then one per step */
		struct scenario first = sc, rest = sc;
		size_t cut = 3 + q->last_fork + 1;

		first.nstmts = cut;
		rest.stmts = sc.stmts + cut;
		rest.nstmts = sc.nstmts - cut;
		if (sim_run(&sim, &first) != 0)
			goto done;
		a->free_after_fork = sim_counters[0].get(&sim);
		if (sim_run(&sim, &rest) != 0)
			goto done;
		a->free_end = sim_counters[0].get(&sim);
	}
	for (unsigned p = 0; p < q->nprocs; p++) {
		struct sim_process *sp = process_find(&sim, qc_names[p]);

		if (!sp || !sp->as)
			goto done;
		a->rss[p] = addr_space_rss(sp->as);
		for (unsigned pg = 0; pg < q->npages; pg++) {
			struct page_lookup l;

			a->present[p][pg] = addr_space_lookup(sp->as, QC_BASE + 4096ull * pg, &l);
			if (!a->present[p][pg])
				continue;
			a->frame[p][pg] = l.pa & ~(uint64_t)0xfff;
			a->refs[p][pg] = l.refcount;
			a->kind[p][pg] = l.zero_frame ? -1
				: (int)page_info_refcount(get_page_info(frame_containing(l.pa))).kind;
		}
	}
	ok = true;
done:
	sim_destroy(&sim);
	scenario_free(&sc);
out:
	free(text);
	fclose(o);
	free(obuf);
	if (!ok)
		fprintf(err, "mmsim: quiz cow: the simulated kernel did not run the problem\n");
	return ok;
}

/* Frame letters in order of first appearance, page by page; the zero frame is Z. */
static char letter_of(const struct qc_problem *q, const struct qc_answers *a, unsigned p,
		      unsigned pg)
{
	uint64_t seen[QC_MAX_PROCS * QC_MAX_PAGES];
	unsigned n = 0;

	if (a->kind[p][pg] == -1)
		return 'Z';
	for (unsigned i = 0; i < q->npages; i++)
		for (unsigned j = 0; j < q->nprocs; j++) {
			unsigned k;

			if (!a->present[j][i] || a->kind[j][i] == -1)
				continue;
			for (k = 0; k < n && seen[k] != a->frame[j][i]; k++)
				;
			if (k == n)
				seen[n++] = a->frame[j][i];
			if (j == p && i == pg)
				return (char)('A' + k);
		}
	return '?';
}

static const char *kind_word(int kind)
{
	return kind == -1		? "zero frame"
	       : kind == REFCOUNT_COW	? "cow"
	       : kind == REFCOUNT_SHARED ? "shared"
					 : "private";
}

/* JSON string contents: the scenario text has only newlines to escape. */
static void json_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\n')
			fputs("\\n", out);
		else if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else
			fputc(*s, out);
	}
}

/*
 * The problem and its key as one JSON object: the steps (and the same steps as a scenario),
 * and after the last step, per page and process the frame (letter and physical address),
 * its kind and references, each process's rss and the free frames.
 */
static void print_json(const struct quiz_options *o, const struct qc_problem *q,
		       const struct qc_answers *a, FILE *out)
{
	char *text = scenario_text(q);

	fprintf(out, "{\"quiz\": \"cow\", \"seed\": %" PRIu64 ",\n \"machine\": {\"memory\": %u, "
		"\"cpus\": 1},\n \"mapping\": {\"base\": \"0x%llx\", \"pages\": %u, \"prot\": \"rw\", "
		"\"private\": true},\n \"steps\": [", o->seed, 32u << 20,
		(unsigned long long)QC_BASE, q->npages);
	for (unsigned i = 0; i < q->nsteps; i++) {
		const struct qc_step *t = &q->steps[i];

		fprintf(out, "%s\n  {\"n\": %u, ", i ? "," : "", i + 1);
		if (t->op == QC_FORK)
			fprintf(out, "\"op\": \"fork\", \"parent\": \"%s\", \"child\": \"%s\"}",
				qc_names[t->proc], qc_names[t->child]);
		else
			fprintf(out, "\"op\": \"%s\", \"proc\": \"%s\", \"page\": %u%s",
				t->op == QC_WRITE ? "write" : "read", qc_names[t->proc], t->page,
				t->op == QC_WRITE ? "" : "}");
		if (t->op == QC_WRITE)
			fprintf(out, ", \"value\": %u}", i + 1);
	}
	fputs("\n ],\n \"scenario\": \"", out);
	json_text(out, text);
	free(text);
	fprintf(out, "\",\n \"answer\": {\"last_fork_step\": %u, \"free_after_last_fork\": %" PRIu64
		",\n  \"pages\": [", q->last_fork + 1, a->free_after_fork);
	for (unsigned pg = 0; pg < q->npages; pg++) {
		fprintf(out, "%s\n   {\"page\": %u, \"va\": \"0x%llx\"", pg ? "," : "", pg,
			(unsigned long long)(QC_BASE + 4096ull * pg));
		for (unsigned p = 0; p < q->nprocs; p++) {
			if (!a->present[p][pg]) {
				fprintf(out, ", \"%s\": null", qc_names[p]);
				continue;
			}
			fprintf(out, ", \"%s\": {\"frame\": \"%c\", \"pa\": \"0x%" PRIx64
				"\", \"kind\": \"%s\", \"refs\": %" PRIu64 "}",
				qc_names[p], letter_of(q, a, p, pg), a->frame[p][pg],
				kind_word(a->kind[p][pg]), a->refs[p][pg]);
		}
		fputc('}', out);
	}
	fputs("],\n  \"rss\": {", out);
	for (unsigned p = 0; p < q->nprocs; p++)
		fprintf(out, "%s\"%s\": %" PRIu64, p ? ", " : "", qc_names[p], a->rss[p]);
	fprintf(out, "}, \"free_end\": %" PRIu64 "}\n}\n", a->free_end);
}

int quiz_cow(const struct quiz_options *o, FILE *out, FILE *err)
{
	struct qc_problem q;
	struct qc_answers a;

	make_problem(&q, o->seed);
	if (!solve(&q, &a, err))
		return 2;
	if (o->json) {
		print_json(o, &q, &a, out);
		return 0;
	}
	fprintf(out, "ARG quiz cow\nARG seed %" PRIu64 "\nARG machine memory=32M (one CPU)\n"
		     "ARG pages %u at 0x%llx, private rw\n\n",
		o->seed, q.npages, (unsigned long long)QC_BASE);
	fputs("Process p maps private memory (demand-zero: no frame until a page is touched).\n"
	      "The rules of mmsim's kernel:\n"
	      "  - the first write to an untouched page allocates a zeroed frame (1 reference);\n"
	      "  - the first read of an untouched page maps the shared zero frame read-only;\n"
	      "  - fork gives the child the parent's present pages: the same frames, read-only in\n"
	      "    both, copy-on-write, one more reference each; untouched pages stay untouched;\n"
	      "  - a write to a copy-on-write frame with 2 or more references copies it into a new\n"
	      "    frame (the old one loses a reference); with 1 reference left the frame is\n"
	      "    made writable in place; a write to the zero frame allocates a fresh frame;\n"
	      "  - a process's rss counts its present pages (zero-frame pages included).\n\n"
	      "Steps (page k is at 0x400000 + k * 4 KiB; a write stores the step number):\n",
	      out);
	for (unsigned i = 0; i < q.nsteps; i++) {
		const struct qc_step *t = &q.steps[i];

		if (t->op == QC_FORK)
			fprintf(out, "  %2u. fork %s %s\n", i + 1, qc_names[t->proc], qc_names[t->child]);
		else
			fprintf(out, "  %2u. %s %s page %u\n", i + 1, qc_names[t->proc],
				t->op == QC_WRITE ? "writes" : "reads ", t->page);
	}
	fprintf(out,
		"\nRight after step %u (the last fork) the machine had %" PRIu64 " free frames.\n"
		"After the last step: which frame does each process map at each page? Name the\n"
		"frames with letters in order of first appearance (page by page, p before c\n"
		"before g), Z for the zero frame, - for a page that is not present, and give each\n"
		"frame's references. Then each process's rss, and the free frames at the end.\n\n",
		q.last_fork + 1, a.free_after_fork);
	for (unsigned pg = 0; pg < q.npages; pg++) {
		fprintf(out, "  page %u (0x%llx):", pg, (unsigned long long)(QC_BASE + 4096ull * pg));
		for (unsigned p = 0; p < q.nprocs; p++) {
			fprintf(out, "  %s -> ", qc_names[p]);
			if (!o->solve)
				fputs("?", out);
			else if (!a.present[p][pg])
				fputs("-", out);
			else
				fprintf(out, "%c (%s, %" PRIu64 " ref%s)", letter_of(&q, &a, p, pg),
					kind_word(a.kind[p][pg]), a.refs[p][pg], a.refs[p][pg] == 1 ? "" : "s");
		}
		fputc('\n', out);
	}
	fputs("  rss:", out);
	for (unsigned p = 0; p < q.nprocs; p++) {
		if (o->solve)
			fprintf(out, "  %s -> %" PRIu64, qc_names[p], a.rss[p]);
		else
			fprintf(out, "  %s -> ?", qc_names[p]);
	}
	fputc('\n', out);
	if (o->solve)
		fprintf(out, "  free frames at the end -> %" PRIu64 " (%" PRIu64
			     " allocated since the last fork)\n",
			a.free_end, a.free_after_fork - a.free_end);
	else
		fputs("  free frames at the end -> ?\n", out);
	if (o->solve) {
		char *text = scenario_text(&q);

		fputs("\nThe zero frame's references count every mapping of it plus the kernel's own.\n"
		      "Check with `mmsim run --trace` on the same steps as a scenario:\n\n",
		      out);
		for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
			fprintf(out, "    %s\n", line);
		free(text);
	}
	return 0;
}
