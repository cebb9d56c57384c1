/*
 * Recording the steps of a run for the --html page (see html_page.h): per statement, what
 * it printed, what happened (faults by kind, kills, CPU faults) and a snapshot through the
 * existing views, each view's text stored once while it does not change.
 */
#include "views/html_page.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_platform.h"
#include "views/report_json.h"
#include "replace_policy.h"
#include "scenario/sim.h"
#include "swap_area.h"
#include "user_mm.h"
#include "user_mm_view.h"

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "mmsim: out of host memory\n");
		exit(2);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "mmsim: out of host memory\n");
		exit(2);
	}
	return q;
}

static ssize_t tee_write(void *cookie, const char *data, size_t n)
{
	struct html_tee *t = cookie;
	size_t keep = t->len < HTML_MAX_TEXT ? HTML_MAX_TEXT - t->len : 0;

	fwrite(data, 1, n, t->real);
	fflush(t->real);
	if (keep > n)
		keep = n;
	if (keep) {
		if (t->len + keep + 1 > t->cap) {
			t->cap = 2 * (t->len + keep + 1);
			t->buf = xrealloc(t->buf, t->cap);
		}
		memcpy(t->buf + t->len, data, keep);
		t->len += keep;
	}
	return (ssize_t)n;
}

static FILE *tee_open(struct html_tee *t, FILE *real)
{
	static const cookie_io_functions_t io = {.write = tee_write};

	t->real = real;
	return fopencookie(t, "w", io);
}

struct html_steps *html_steps_begin(FILE *real_out, FILE *real_err, FILE **out, FILE **err)
{
	struct html_steps *h = xcalloc(1, sizeof(*h));

	h->out = tee_open(&h->tout, real_out);
	h->err = tee_open(&h->terr, real_err);
	if (!h->out || !h->err) {
		html_steps_free(h);
		return NULL;
	}
	setvbuf(h->err, NULL, _IONBF, 0);
	h->prev_frames = -1;
	h->prev_swap = -1;
	*out = h->out;
	*err = h->err;
	return h;
}

/* What a stream got since the last call. */
static char *take(FILE *f, struct html_tee *t)
{
	char *s;

	fflush(f);
	s = xrealloc(NULL, t->len + 1);
	memcpy(s, t->buf ? t->buf : "", t->len);
	s[t->len] = '\0';
	t->len = 0;
	return s;
}

void html_steps_flush(struct html_steps *h)
{
	free(take(h->out, &h->tout));
	free(take(h->err, &h->terr));
}

/* Runs `show WHAT [PROC] [cpu=N]` into memory: the view's own code, its text returned. */
static char *capture(struct sim *sim, const char *what, const char *proc, int cpu)
{
	static char no_text[] = "";
	bool two;
	const struct sc_command *c = sc_lookup("show", what, &two);
	struct sc_stmt st;
	FILE *saved = sim->out, *m;
	unsigned cur = sim->cur_cpu;
	char *buf = NULL;
	size_t len = 0;

	if (!c)
		return NULL;
	memset(&st, 0, sizeof(st));
	st.cmd = c;
	st.cpu = cpu;
	st.text = no_text;
	if (proc)
		snprintf(st.proc, SC_NAME_MAX, "%s", proc);
	m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	fflush(sim->out);
	sim->out = m;
	c->exec(sim, &st);
	sim->out = saved;
	fclose(m);
	sim->cur_cpu = cur;
	host_set_current_cpu(cur);
	if (len > HTML_MAX_TEXT)
		strcpy(buf + HTML_MAX_TEXT - 64, "\n... (cut here: the view is longer)\n");
	return buf;
}

/* Stores a view's text unless it is the previous step's; returns its index, -1 for none. */
static int keep(struct html_steps *h, char *text, int prev)
{
	if (!text)
		return -1;
	if (prev >= 0 && strcmp(h->texts[prev], text) == 0) {
		free(text);
		return prev;
	}
	if (h->ntexts == h->cap_texts) {
		h->cap_texts = h->cap_texts ? 2 * h->cap_texts : 64;
		h->texts = xrealloc(h->texts, h->cap_texts * sizeof(*h->texts));
	}
	h->texts[h->ntexts] = text;
	return (int)h->ntexts++;
}

static void grow_procs(struct html_steps *h, size_t n)
{
	if (n <= h->nprev_procs)
		return;
	h->prev_pt = xrealloc(h->prev_pt, n * sizeof(*h->prev_pt));
	h->prev_stats = xrealloc(h->prev_stats, n * sizeof(*h->prev_stats));
	h->prev_state = xrealloc(h->prev_state, n * sizeof(*h->prev_state));
	for (size_t i = h->nprev_procs; i < n; i++) {
		h->prev_pt[i] = -1;
		memset(&h->prev_stats[i], 0, sizeof(h->prev_stats[i]));
		h->prev_state[i] = -1;
	}
	h->nprev_procs = n;
}

static void event(FILE *m, bool *first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void event(FILE *m, bool *first, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fputs(*first ? "" : ", ", m);
	json_string(m, buf);
	*first = false;
}

/* The faults a process took in this step, by kind, with what the kernel did about them. */
static void fault_events(FILE *m, bool *first, const char *name,
			 const struct addr_space_stats *a, const struct addr_space_stats *b)
{
	static const struct {
		size_t off;
		const char *what;
	} kinds[] = {
		{offsetof(struct addr_space_stats, faults_demand_zero), "demand-zero: a fresh zeroed frame mapped"},
		{offsetof(struct addr_space_stats, faults_zero_mapped), "read of untouched memory: the shared zero frame mapped read-only"},
		{offsetof(struct addr_space_stats, faults_cow_copy), "copy-on-write: a new frame, the old one copied"},
		{offsetof(struct addr_space_stats, faults_cow_reuse), "copy-on-write, last owner: the frame made writable again"},
		{offsetof(struct addr_space_stats, faults_shared), "a shared or borrowed page mapped"},
		{offsetof(struct addr_space_stats, faults_spurious), "spurious: the tables were already right (a stale TLB entry)"},
		{offsetof(struct addr_space_stats, faults_segv), "segv: refused (no grant, or its protection)"},
		{offsetof(struct addr_space_stats, faults_oom), "oom: no frame could be had"},
		{offsetof(struct addr_space_stats, faults_major), "major: a page read back from swap"},
		{offsetof(struct addr_space_stats, faults_swap_cached), "a swapped page found still in a frame (swap cache)"},
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint64_t was = *(const uint64_t *)((const char *)a + kinds[k].off);
		uint64_t now = *(const uint64_t *)((const char *)b + kinds[k].off);

		if (now > was)
			event(m, first, "%s: %" PRIu64 " fault%s, %s", name, now - was,
			      now - was == 1 ? "" : "s", kinds[k].what);
	}
	if (b->evictions > a->evictions)
		event(m, first, "%s: %" PRIu64 " page%s evicted to swap", name,
		      b->evictions - a->evictions, b->evictions - a->evictions == 1 ? "" : "s");
}

/* The swap area and the policy of every process under a limit, one text; -1 without swap. */
static int swap_text(struct html_steps *h, struct sim *sim)
{
	char *all, *grown;
	size_t len;

	if (!sim->booted || !swap_configured())
		return -1;
	all = capture(sim, "swap", NULL, -1);
	for (size_t i = 0; all && i < sim->nprocs; i++) {
		struct sim_process *p = &sim->procs[i];
		char *pol;

		if (!process_check_alive(p) || !mm_limit_of(p->as))
			continue;
		pol = capture(sim, "policy", p->name, -1);
		len = strlen(all);
		grown = pol ? realloc(all, len + strlen(pol) + 1) : NULL;
		if (grown) {
			strcpy(grown + len, pol);
			all = grown;
		}
		free(pol);
	}
	h->prev_swap = keep(h, all, h->prev_swap);
	return h->prev_swap;
}

static char *snapshot(struct html_steps *h, struct sim *sim)
{
	static const char *const state_words[] = {"runs", "exited", "was killed"};
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	bool first = true;

	if (!m)
		return NULL;
	if (!h->prev_regs) {
		h->prev_regs = xcalloc(sim->ncpus, sizeof(int));
		h->prev_tlb = xcalloc(sim->ncpus, sizeof(int));
		h->prev_pf = xcalloc(sim->ncpus, sizeof(uint64_t));
		h->prev_gp = xcalloc(sim->ncpus, sizeof(uint64_t));
		for (unsigned c = 0; c < sim->ncpus; c++)
			h->prev_regs[c] = h->prev_tlb[c] = -1;
	}
	grow_procs(h, sim->nprocs);

	fputs("{\"events\": [", m);
	for (size_t i = 0; i < sim->nprocs; i++) {
		struct sim_process *p = &sim->procs[i];
		bool alive = process_check_alive(p);
		struct addr_space_stats now;

		if (alive) {
			addr_space_get_stats(p->as, &now);
			fault_events(m, &first, p->name, &h->prev_stats[i], &now);
			h->prev_stats[i] = now;
		}
		if (h->prev_state[i] != (int)p->state && (h->prev_state[i] >= 0 || !alive))
			event(m, &first, "%s %s", p->name, state_words[p->state]);
		h->prev_state[i] = (int)p->state;
	}
	for (unsigned c = 0; c < sim->ncpus; c++) {
		const struct x86_cpu *cpu = &sim->cpus[c];

		if (cpu->stats.page_faults > h->prev_pf[c])
			event(m, &first, "cpu%u: %" PRIu64 " page fault%s (#PF), the last at CR2 0x%" PRIx64,
			      c, cpu->stats.page_faults - h->prev_pf[c],
			      cpu->stats.page_faults - h->prev_pf[c] == 1 ? "" : "s", cpu->cr2);
		if (cpu->stats.gp_faults > h->prev_gp[c])
			event(m, &first, "cpu%u: a general protection fault (#GP)", c);
		h->prev_pf[c] = cpu->stats.page_faults;
		h->prev_gp[c] = cpu->stats.gp_faults;
	}
	fputs("], \"processes\": ", m);
	json_sim_processes(m, sim);
	fputs(", \"pagetables\": [", m);
	for (size_t i = 0; i < sim->nprocs; i++) {
		struct sim_process *p = &sim->procs[i];

		h->prev_pt[i] = p->as ? keep(h, capture(sim, "pagetables", p->name, -1), h->prev_pt[i])
				      : -1;
		fprintf(m, "%s%d", i ? ", " : "", h->prev_pt[i]);
	}
	fputs("], \"pressure\": ", m);
	json_sim_pressure(m, sim);
	fputs(", \"cpus\": ", m);
	json_sim_cpus(m, sim);
	fputs(", \"regs\": [", m);
	for (unsigned c = 0; c < sim->ncpus; c++) {
		h->prev_regs[c] = keep(h, capture(sim, "cpu", NULL, (int)c), h->prev_regs[c]);
		fprintf(m, "%s%d", c ? ", " : "", h->prev_regs[c]);
	}
	fputs("], \"tlb\": [", m);
	for (unsigned c = 0; c < sim->ncpus; c++) {
		h->prev_tlb[c] = keep(h, capture(sim, "tlb", NULL, (int)c), h->prev_tlb[c]);
		fprintf(m, "%s%d", c ? ", " : "", h->prev_tlb[c]);
	}
	if (sim->booted)
		h->prev_frames = keep(h, capture(sim, "frames", NULL, -1), h->prev_frames);
	fprintf(m, "], \"frames\": %d, \"swap\": %d}", sim->booted ? h->prev_frames : -1,
		swap_text(h, sim));
	fclose(m);
	return buf;
}

void html_steps_record(struct html_steps *h, struct sim *sim, const struct sc_stmt *st,
		       enum sc_status status)
{
	struct html_step *s;

	if (h->nsteps == h->cap_steps) {
		h->cap_steps = h->cap_steps ? 2 * h->cap_steps : 64;
		h->steps = xrealloc(h->steps, h->cap_steps * sizeof(*h->steps));
	}
	s = &h->steps[h->nsteps];
	memset(s, 0, sizeof(*s));
	s->line = st->line;
	s->status = (int)status;
	s->text = strdup(st->text ? st->text : "");
	s->output = take(h->out, &h->tout);
	s->messages = take(h->err, &h->terr);
	if (h->nsteps < HTML_MAX_STEPS && status != SC_KERNEL_BUG)
		s->state = snapshot(h, sim);
	h->nsteps++;
}

void html_steps_free(struct html_steps *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nsteps; i++) {
		free(h->steps[i].text);
		free(h->steps[i].output);
		free(h->steps[i].messages);
		free(h->steps[i].state);
	}
	for (size_t i = 0; i < h->ntexts; i++)
		free(h->texts[i]);
	free(h->steps);
	free(h->texts);
	free(h->prev_pt);
	free(h->prev_stats);
	free(h->prev_state);
	free(h->prev_regs);
	free(h->prev_tlb);
	free(h->prev_pf);
	free(h->prev_gp);
	if (h->out)
		fclose(h->out);
	if (h->err)
		fclose(h->err);
	free(h->tout.buf);
	free(h->terr.buf);
	free(h);
}
