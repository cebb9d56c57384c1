/*
 * mmsim quiz policy: a reference string, a replacement policy (fifo, lru, clock, opt) and a
 * number of frames; the student predicts, access by access, hit or miss, the page each miss
 * evicts, and what is resident at the end.
 *
 * The answers come from the kernel itself, not from a model of the policy: the problem is a
 * scenario (`machine policy=P swap=...`, `limit a F`, then one write by a per reference) run
 * through the simulator, and after each write the quiz reads the kernel's state: a's fault
 * counts (a hit is an access that did not fault), where each page is (resident or swapped)
 * and the policy's own places, stamps, accessed bits and hand (replace_view).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replace_policy.h"
#include "scenario/sim.h"
#include "swap_area.h"
#include "teach/prng.h"
#include "teach/quiz.h"
#include "user_mm.h"
#include "user_mm_view.h"

#define QP_BASE 0x100000ull
#define QP_MAX_REFS QUIZ_MAX_REFS
#define QP_DEFAULT_REFS 10
#define QP_MAX_PAGES 16
#define QP_MAX_FRAMES 8
#define QP_FIRST_ACCESS 4 /* statements: machine, spawn, mmap, limit, then the writes */

struct qp_problem {
	enum replace_policy policy;
	unsigned frames, npages, nrefs;
	unsigned refs[QP_MAX_REFS];
};

/* The kernel's state after one access. */
struct qp_step {
	bool hit, major;
	int evicted;                  /* the page that left, -1 for none */
	unsigned nres;                /* resident pages, in the policy's order (below) */
	unsigned res[QP_MAX_FRAMES];
	/* clock: the circle place by place (-1 an empty place), its accessed bits, the hand */
	int place[QP_MAX_FRAMES];
	bool bit[QP_MAX_FRAMES];
	unsigned places, hand;
};

struct qp_run {
	const struct qp_problem *q;
	struct qp_step steps[QP_MAX_REFS];
	uint64_t faults, majors;
	bool resident[QP_MAX_PAGES];
	bool broken; /* the kernel's state did not make sense (a page in two places...) */
};

/* The policy's order of the resident pages: fifo oldest arrival first, lru least recent
 * access first, clock by place, opt by page number. */
struct qp_place {
	unsigned page;
	uint64_t key;
};

struct qp_view_ctx {
	const struct qp_problem *q;
	struct qp_step *s;
	struct qp_place sorted[QP_MAX_FRAMES];
	unsigned n;
	bool bad;
};

static int page_of(uint64_t va, unsigned npages)
{
	if (va < QP_BASE || (va - QP_BASE) / 4096 >= npages)
		return -1;
	return (int)((va - QP_BASE) / 4096);
}

static void view_place(void *ctx, unsigned i, const struct replace_view_place *p)
{
	struct qp_view_ctx *c = ctx;
	int page = p->used ? page_of(p->va, c->q->npages) : -1;

	if (i >= QP_MAX_FRAMES) {
		c->bad = true;
		return;
	}
	c->s->place[i] = page;
	c->s->bit[i] = p->used && p->accessed;
	if (!p->used)
		return;
	if (page < 0) {
		c->bad = true;
		return;
	}
	c->sorted[c->n].page = (unsigned)page;
	c->sorted[c->n].key = c->q->policy == REPLACE_FIFO  ? p->arrived
			      : c->q->policy == REPLACE_LRU ? p->used_at
			      : c->q->policy == REPLACE_CLOCK ? i
							      : (uint64_t)page;
	c->n++;
}

static int by_key(const void *a, const void *b)
{
	const struct qp_place *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

static void after_stmt(struct sim *sim, size_t index, void *ctx)
{
	struct qp_run *r = ctx;
	const struct qp_problem *q = r->q;
	struct sim_process *a = process_find(sim, "a");
	struct addr_space_stats st;
	struct qp_view_ctx vc = {q, NULL, {{0, 0}}, 0, false};
	struct replace_view v;
	struct qp_step *s;
	unsigned k, nres = 0;

	if (index < QP_FIRST_ACCESS || index - QP_FIRST_ACCESS >= q->nrefs)
		return;
	k = (unsigned)(index - QP_FIRST_ACCESS);
	s = &r->steps[k];
	if (!a || !a->as) {
		r->broken = true;
		return;
	}
	addr_space_get_stats(a->as, &st);
	s->hit = st.faults_total == r->faults;
	s->major = st.faults_major != r->majors;
	r->faults = st.faults_total;
	r->majors = st.faults_major;
	s->evicted = -1;
	for (unsigned pg = 0; pg < q->npages; pg++) {
		bool now = addr_space_page_residency(a->as, QP_BASE + 4096ull * pg) == PAGE_RESIDENT;

		if (r->resident[pg] && !now) {
			if (s->evicted >= 0)
				r->broken = true; /* one access evicts one page at most */
			s->evicted = (int)pg;
		}
		r->resident[pg] = now;
		nres += now;
	}
	vc.s = s;
	if (!replace_view(a->as, &v, view_place, &vc) || vc.bad || vc.n != nres ||
	    v.places > QP_MAX_FRAMES) {
		r->broken = true;
		return;
	}
	qsort(vc.sorted, vc.n, sizeof(vc.sorted[0]), by_key);
	s->nres = vc.n;
	for (unsigned i = 0; i < vc.n; i++)
		s->res[i] = vc.sorted[i].page;
	s->places = v.places;
	s->hand = v.hand;
}

/* ---- the problem ---- */

static const char *const policy_names[] = {"fifo", "lru", "clock", "opt"};

static unsigned distinct(const struct qp_problem *q)
{
	bool seen[QP_MAX_PAGES] = {false};
	unsigned n = 0;

	for (unsigned i = 0; i < q->nrefs; i++) {
		n += !seen[q->refs[i]];
		seen[q->refs[i]] = true;
	}
	return n;
}

static void make_problem(struct qp_problem *q, const struct quiz_options *o)
{
	struct prng r;

	prng_seed(&r, o->seed);
	memset(q, 0, sizeof(*q));
	q->policy = (enum replace_policy)prng_below(&r, REPLACE_POLICY_COUNT);
	for (unsigned p = 0; o->policy && p < REPLACE_POLICY_COUNT; p++)
		if (strcmp(o->policy, policy_names[p]) == 0)
			q->policy = (enum replace_policy)p;
	q->frames = 3 + (unsigned)prng_below(&r, 2);
	if (o->frames)
		q->frames = o->frames;
	if (o->nrefs) {
		q->nrefs = o->nrefs;
		for (unsigned i = 0; i < q->nrefs; i++) {
			q->refs[i] = o->refs[i];
			if (q->refs[i] + 1 > q->npages)
				q->npages = q->refs[i] + 1;
		}
		return;
	}
	q->npages = q->frames + 1 + (unsigned)prng_below(&r, 3);
	if (q->npages > QP_MAX_PAGES)
		q->npages = QP_MAX_PAGES;
	q->nrefs = o->count ? o->count : QP_DEFAULT_REFS;
	/* some locality (a third of the references reuse one of the last few pages), and more
	 * pages than frames in the string when it is long enough for that */
	for (unsigned attempt = 0; attempt < 64; attempt++) {
		for (unsigned i = 0; i < q->nrefs; i++) {
			if (i >= 2 && prng_below(&r, 3) == 0)
				q->refs[i] = q->refs[i - 2 - prng_below(&r, i < 4 ? i - 1 : 3)];
			else
				q->refs[i] = (unsigned)prng_below(&r, q->npages);
		}
		if (distinct(q) > q->frames || distinct(q) == q->nrefs)
			break;
	}
}

/* The scenario of the problem; NULL if the host is out of memory. */
static char *scenario_text(const struct qp_problem *q)
{
	char *s = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&s, &n);

	if (!m)
		return NULL;
	fprintf(m, "machine memory=16M swap=1M policy=%s\nspawn a\nmmap a 0x%llx %uK rw\nlimit a %u\n",
		policy_names[q->policy], (unsigned long long)QP_BASE, q->npages * 4, q->frames);
	for (unsigned i = 0; i < q->nrefs; i++)
		fprintf(m, "write a 0x%llx %u\n", (unsigned long long)(QP_BASE + 4096ull * q->refs[i]),
			q->refs[i]);
	if (fclose(m) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Runs the problem through the simulated kernel, state read after every access. */
static bool solve(const struct qp_problem *q, struct qp_run *r, FILE *err)
{
	char *text = scenario_text(q), *obuf = NULL;
	size_t olen = 0;
	FILE *o = open_memstream(&obuf, &olen);
	struct scenario sc;
	struct sim sim;
	struct sim_options opts = {0};
	bool ok = false;

	memset(r, 0, sizeof(*r));
	r->q = q;
	if (!text || !o) {
		fprintf(err, "mmsim: out of host memory\n");
		goto out;
	}
	if (!scenario_parse(&sc, "quiz-policy", text, strlen(text), err))
		goto out;
	if (!sim_create(&sim, &sc.machine, &opts, "quiz-policy", o, err)) {
		scenario_free(&sc);
		goto out;
	}
	sim.after_stmt = after_stmt;
	sim.after_stmt_ctx = r;
	ok = sim_run(&sim, &sc) == 0 && !r->broken;
	sim_destroy(&sim);
	scenario_free(&sc);
out:
	free(text);
	if (o)
		fclose(o);
	free(obuf);
	if (!ok)
		fprintf(err, "mmsim: quiz policy: the simulated kernel did not run the problem\n");
	return ok;
}

/* ---- printing ---- */

static const char *policy_rule(enum replace_policy p)
{
	switch (p) {
	case REPLACE_FIFO:
		return "fifo: the victim is the page that became resident the longest ago.";
	case REPLACE_LRU:
		return "lru: the victim is the page whose last access is the oldest.";
	case REPLACE_CLOCK:
		return "clock: the resident pages stand in a circle of places; a new page takes the place of\n"
		       "the page it replaced, or the next free place while the circle is not full. Every\n"
		       "access sets the page's accessed bit. To find a victim the hand looks at its place:\n"
		       "bit set, the kernel clears it and the hand moves on; bit clear, that page is the\n"
		       "victim and the hand moves one past it. The hand starts at place 0.";
	default:
		return "opt: the victim is the page whose next access is the farthest away or never comes;\n"
		       "among pages never used again, the one resident the longest.";
	}
}

static const char *const order_words[] = {
	"oldest arrival first", "least recently used first", "place by place, > the hand, * the accessed bit",
	"by page number",
};

static void print_state(FILE *out, const struct qp_problem *q, const struct qp_step *s)
{
	if (q->policy == REPLACE_CLOCK) {
		for (unsigned i = 0; i < s->places; i++) {
			fprintf(out, " %s", i == s->hand ? ">" : "");
			if (s->place[i] < 0)
				fputs("-", out);
			else
				fprintf(out, "%d%s", s->place[i], s->bit[i] ? "*" : "");
		}
		return;
	}
	fputs(" [", out);
	for (unsigned i = 0; i < s->nres; i++)
		fprintf(out, "%s%u", i ? " " : "", s->res[i]);
	fputc(']', out);
}

static void print_refs(FILE *out, const struct qp_problem *q, const char *sep)
{
	for (unsigned i = 0; i < q->nrefs; i++)
		fprintf(out, "%s%u", i ? sep : "", q->refs[i]);
}

static void print_json(const struct quiz_options *o, const struct qp_problem *q,
		       const struct qp_run *r, FILE *out)
{
	char *text = scenario_text(q);
	unsigned hits = 0;

	fprintf(out, "{\"quiz\": \"policy\", \"seed\": %" PRIu64 ", \"policy\": \"%s\", "
		"\"frames\": %u, \"pages\": %u,\n \"refs\": [", o->seed, policy_names[q->policy],
		q->frames, q->npages);
	print_refs(out, q, ", ");
	fputs("],\n \"scenario\": \"", out);
	for (const char *c = text; c && *c; c++)
		fputs(*c == '\n' ? "\\n" : (char[2]){*c, 0}, out);
	free(text);
	fputs("\",\n \"answer\": {\"accesses\": [", out);
	for (unsigned i = 0; i < q->nrefs; i++) {
		const struct qp_step *s = &r->steps[i];

		hits += s->hit;
		fprintf(out, "%s\n   {\"page\": %u, \"hit\": %s, \"major\": %s, \"evicted\": ", i ? "," : "",
			q->refs[i], s->hit ? "true" : "false", s->major ? "true" : "false");
		if (s->evicted < 0)
			fputs("null", out);
		else
			fprintf(out, "%d", s->evicted);
		fputs(", \"resident\": [", out);
		for (unsigned j = 0; j < s->nres; j++)
			fprintf(out, "%s%u", j ? ", " : "", s->res[j]);
		fputc(']', out);
		if (q->policy == REPLACE_CLOCK) {
			fputs(", \"circle\": [", out);
			for (unsigned j = 0; j < s->places; j++) {
				if (s->place[j] < 0)
					fprintf(out, "%snull", j ? ", " : "");
				else
					fprintf(out, "%s[%d, %d]", j ? ", " : "", s->place[j], s->bit[j]);
			}
			fprintf(out, "], \"hand\": %u", s->hand);
		}
		fputc('}', out);
	}
	fprintf(out, "],\n  \"hits\": %u, \"misses\": %u, \"major_faults\": %" PRIu64 ", \"final\": [",
		hits, q->nrefs - hits, r->majors);
	for (unsigned j = 0; q->nrefs && j < r->steps[q->nrefs - 1].nres; j++)
		fprintf(out, "%s%u", j ? ", " : "", r->steps[q->nrefs - 1].res[j]);
	fputs("]}\n}\n", out);
}

int quiz_policy(const struct quiz_options *o, FILE *out, FILE *err)
{
	struct qp_problem q;
	struct qp_run *r;
	unsigned hits = 0;

	bool known = !o->policy;

	for (unsigned p = 0; p < REPLACE_POLICY_COUNT; p++)
		known |= o->policy && strcmp(o->policy, policy_names[p]) == 0;
	if (!known) {
		fprintf(err, "mmsim: quiz policy: --policy is fifo, lru, clock or opt\n");
		return 2;
	}
	if (o->frames > QP_MAX_FRAMES) {
		fprintf(err, "mmsim: quiz policy: --frames is 1..%u\n", QP_MAX_FRAMES);
		return 2;
	}
	if (o->count > QP_MAX_REFS) {
		fprintf(err, "mmsim: quiz policy: -n is at most %u\n", QP_MAX_REFS);
		return 2;
	}
	make_problem(&q, o);
	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(err, "mmsim: out of host memory\n");
		return 2;
	}
	if (!solve(&q, r, err)) {
		free(r);
		return 2;
	}
	if (o->json) {
		print_json(o, &q, r, out);
		free(r);
		return 0;
	}
	fprintf(out, "ARG quiz policy\nARG seed %" PRIu64 "\nARG policy %s\nARG frames %u\nARG refs ",
		o->seed, policy_names[q.policy], q.frames);
	print_refs(out, &q, ",");
	fprintf(out, "\nARG machine memory=16M swap=1M (one CPU)\n\n");
	fprintf(out,
		"Process a maps %u pages of private memory (page k at 0x%llx + k * 4 KiB) and may\n"
		"keep %u of them resident (`limit a %u`). It writes the pages in the order of the\n"
		"reference string. A write to a resident page is a hit; any other is a miss, a page\n"
		"fault: demand-zero the first time, later a major fault that reads the page back\n"
		"from swap. A miss with %u pages resident first evicts one, chosen by the policy:\n%s\n\n",
		q.npages, (unsigned long long)QP_BASE, q.frames, q.frames, q.frames,
		policy_rule(q.policy));
	fputs("For each access: hit or miss, and which page a miss evicts; then what is resident\n"
	      "after the last access", out);
	fprintf(out, " (%s).\n\n", order_words[q.policy]);
	for (unsigned i = 0; i < q.nrefs; i++) {
		const struct qp_step *s = &r->steps[i];

		fprintf(out, "  %2u. page %u  ", i + 1, q.refs[i]);
		if (!o->solve) {
			fputs("hit/miss? ", out);
			fputs(q.policy == REPLACE_CLOCK ? " circle:" : " resident:", out);
			fputs(" ?\n", out);
			continue;
		}
		hits += s->hit;
		if (s->hit)
			fputs("hit           ", out);
		else if (s->evicted >= 0)
			fprintf(out, "miss, evicts %d", s->evicted);
		else
			fputs("miss          ", out);
		fputs(q.policy == REPLACE_CLOCK ? "   circle:" : "   resident:", out);
		print_state(out, &q, s);
		fputc('\n', out);
	}
	if (!o->solve) {
		fputs("\n  hits ?  misses ?  resident at the end: ?\n", out);
		free(r);
		return 0;
	}
	fprintf(out, "\n  hits %u  misses %u (%u major faults)  hit rate %.1f%%  resident at the end:",
		hits, q.nrefs - hits, (unsigned)r->majors, 100.0 * hits / q.nrefs);
	print_state(out, &q, &r->steps[q.nrefs - 1]);
	fputs("\n\nThe answers are the kernel's: check with `mmsim run --trace` on the scenario\n"
	      "(`show policy a` prints the policy's state):\n\n", out);
	{
		char *text = scenario_text(&q);

		for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
			fprintf(out, "    %s\n", line);
		free(text);
	}
	free(r);
	return 0;
}
