/*
 * allocbench: frame allocators side by side, through one out-of-line interface
 * (frame_allocator_api.h), on synthetic workloads and on kernel traces. Every allocator is
 * verified before it is timed (verify.c); one that fails gets no figures. bench/README.md
 * explains the workloads, the options and how to add an allocator.
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocbench.h"
#include "report.h"

extern char **environ;

static const char usage[] =
	"usage: allocbench [OPTION]...\n"
	"Frame allocators through one out-of-line interface, verified, then timed.\n"
	"\n"
	"  --arena SIZE[,SIZE]...   arena sizes, 1M to 64G (K, M, G suffixes; default 4G);\n"
	"                           sparse: only what an allocator writes costs memory\n"
	"  --alloc NAME[,NAME]...   allocators to run (default all; see --list)\n"
	"  --workload NAME[,NAME]...  workloads to run (default all; see --list)\n"
	"  --threads N              run every workload on 1, 2, ... N threads (default 1)\n"
	"  --runs N                 runs per figure, the median is shown (default 5)\n"
	"  --ops N                  order-0 pairs per thread and run; the mixed workloads do\n"
	"                           N/4 operations (default 8000000)\n"
	"  --quick                  --runs 3 --ops 1000000\n"
	"  --replay FILE            also replay a trace of `mmsim run --alloc-trace` (repeatable)\n"
	"  --instructions           instructions per operation, each workload once more under\n"
	"                           valgrind's callgrind (needs valgrind; slow)\n"
	"  --csv | --json           the figures for scripts instead of the table\n"
	"  --svg FILE               also draw the figures as an SVG bar chart\n"
	"  --verify-only            verify the allocators, time nothing\n"
	"  --list                   the allocators and workloads, then exit\n"
	"  --help                   this text\n"
	"\n"
	"Exit status: 0 all good; 1 an allocator failed verification (no figures for it) or\n"
	"could not run; 2 bad arguments or an invalid trace.\n";

#define MAX_LIST 64

struct options {
	uint64_t arenas[MAX_LIST];
	size_t narenas;
	const struct frame_allocator *fa[MAX_LIST];
	size_t nfa;
	const struct workload *wl[MAX_LIST];
	size_t nwl;
	struct trace traces[MAX_LIST];
	size_t ntraces;
	unsigned threads, runs;
	uint64_t ops;
	bool instructions, csv, json, verify_only;
	const char *svg;
	/* the callgrind child: one measurement of one allocator and workload */
	bool child;
};

static _Noreturn void bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "allocbench: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	exit(2);
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return false;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 0: break;
	default: return false;
	}
	if (*end || v > (1ULL << 40) >> shift)
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static bool parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Split a comma list in place; calls each(item) for every item. */
static void each_item(char *list, void (*each)(struct options *, const char *), struct options *o)
{
	for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
		each(o, s);
}

static void add_arena(struct options *o, const char *s)
{
	uint64_t b;
	if (!parse_size(s, &b) || b < (1ULL << 20) || b > (64ULL << 30) || b % FA_PAGE_SIZE)
		bad("bad arena size `%s` (1M to 64G, a multiple of 4K)", s);
	if (o->narenas == MAX_LIST)
		bad("too many arenas%s", "");
	o->arenas[o->narenas++] = b;
}

static void add_alloc(struct options *o, const char *s)
{
	const struct frame_allocator *fa = fa_find(s);
	if (!fa)
		bad("unknown allocator `%s` (see --list)", s);
	if (o->nfa < MAX_LIST)
		o->fa[o->nfa++] = fa;
}

static void add_workload(struct options *o, const char *s)
{
	const struct workload *w = workload_find(s);
	if (!w)
		bad("unknown workload `%s` (see --list)", s);
	if (o->nwl < MAX_LIST)
		o->wl[o->nwl++] = w;
}

static void parse(struct options *o, int argc, char **argv)
{
	*o = (struct options){ .threads = 1, .runs = 5, .ops = 8000000 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		bool has_value = i + 1 < argc;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "--list")) {
			printf("allocators:\n");
			for (size_t k = 0; k < fa_count(); k++)
				printf("  %-10s %s\n", fa_at(k)->name, fa_at(k)->about);
			printf("workloads:\n");
			for (size_t k = 0; k < workload_count(); k++)
				printf("  %-12s %s\n", workload_at(k)->name, workload_at(k)->about);
			printf("  %-12s %s\n", "replay:NAME", replay_workload.about);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			o->runs = 3;
			o->ops = 1000000;
		} else if (!strcmp(a, "--instructions")) {
			o->instructions = true;
		} else if (!strcmp(a, "--csv")) {
			o->csv = true;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--verify-only")) {
			o->verify_only = true;
		} else if (!strcmp(a, "--callgrind-child")) {
			o->child = true;
		} else if (!has_value) {
			bad("unknown option or missing value: `%s`", a);
		} else if (!strcmp(a, "--arena")) {
			each_item(argv[++i], add_arena, o);
		} else if (!strcmp(a, "--alloc")) {
			each_item(argv[++i], add_alloc, o);
		} else if (!strcmp(a, "--workload")) {
			each_item(argv[++i], add_workload, o);
		} else if (!strcmp(a, "--threads")) {
			if (!parse_count(argv[++i], 1, 64, &v))
				bad("bad thread count `%s` (1 to 64)", argv[i]);
			o->threads = (unsigned)v;
		} else if (!strcmp(a, "--runs")) {
			if (!parse_count(argv[++i], 1, 101, &v))
				bad("bad run count `%s` (1 to 101)", argv[i]);
			o->runs = (unsigned)v;
		} else if (!strcmp(a, "--ops")) {
			if (!parse_count(argv[++i], 4, 1ULL << 40, &v))
				bad("bad operation count `%s`", argv[i]);
			o->ops = v;
		} else if (!strcmp(a, "--svg")) {
			o->svg = argv[++i];
		} else if (!strcmp(a, "--replay")) {
			if (o->ntraces == MAX_LIST)
				bad("too many traces%s", "");
			if (!trace_load(&o->traces[o->ntraces], argv[++i]))
				exit(2);
			o->ntraces++;
		} else {
			bad("unknown option `%s`", a);
		}
	}
	if (o->csv && o->json)
		bad("--csv and --json: choose one%s", "");
	if (!o->narenas)
		o->arenas[o->narenas++] = 4ULL << 30;
	if (!o->nfa)
		for (size_t k = 0; k < fa_count() && k < MAX_LIST; k++)
			o->fa[o->nfa++] = fa_at(k);
	/* a --replay without --workload runs only the replays */
	if (!o->nwl && !o->ntraces)
		for (size_t k = 0; k < workload_count(); k++)
			o->wl[o->nwl++] = workload_at(k);
}

/* ---- instructions per operation (callgrind) ------------------------------------------- */

static bool have_valgrind(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	for (const char *p = path; p && *p;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/valgrind", (int)len, p);
		if (!access(buf, X_OK))
			return true;
		p = e ? e + 1 : p + len;
	}
	return false;
}

/* Run this program under callgrind for one measurement; NaN if that did not work. */
static double callgrind_instructions(const char *self, uint64_t arena, const char *fa, const char *wl,
				     const char *trace_path, uint64_t ops)
{
	char out[64], arena_s[32], ops_s[32], outopt[96];
	snprintf(out, sizeof(out), "/tmp/allocbench-callgrind.%ld", (long)getpid());
	snprintf(outopt, sizeof(outopt), "--callgrind-out-file=%s", out);
	snprintf(arena_s, sizeof(arena_s), "%llu", (unsigned long long)arena);
	snprintf(ops_s, sizeof(ops_s), "%llu", (unsigned long long)ops);
	char *argv[20];
	int n = 0;
	argv[n++] = "valgrind";
	argv[n++] = "--tool=callgrind";
	argv[n++] = "--quiet";
	argv[n++] = outopt;
	argv[n++] = "--toggle-collect=allocbench_timed";
	argv[n++] = (char *)self;
	argv[n++] = "--callgrind-child";
	argv[n++] = "--arena";
	argv[n++] = arena_s;
	argv[n++] = "--alloc";
	argv[n++] = (char *)fa;
	argv[n++] = "--ops";
	argv[n++] = ops_s;
	if (trace_path) {
		argv[n++] = "--replay";
		argv[n++] = (char *)trace_path;
	} else {
		argv[n++] = "--workload";
		argv[n++] = (char *)wl;
	}
	argv[n] = NULL;

	int pipefd[2];
	if (pipe(pipefd))
		return NAN;
	posix_spawn_file_actions_t fa_act;
	posix_spawn_file_actions_init(&fa_act);
	posix_spawn_file_actions_adddup2(&fa_act, pipefd[1], 1);
	posix_spawn_file_actions_addclose(&fa_act, pipefd[0]);
	pid_t pid;
	int err = posix_spawnp(&pid, "valgrind", &fa_act, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa_act);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		return NAN;
	}
	char buf[128] = { 0 };
	FILE *p = fdopen(pipefd[0], "r");
	unsigned long long done = 0;
	while (p && fgets(buf, sizeof(buf), p))
		sscanf(buf, "ops %llu", &done);
	if (p)
		fclose(p);
	int status;
	waitpid(pid, &status, 0);
	double ir = NAN;
	FILE *f = fopen(out, "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		unsigned long long v;
		if (sscanf(buf, "totals: %llu", &v) == 1 || sscanf(buf, "summary: %llu", &v) == 1)
			ir = (double)v;
	}
	if (f)
		fclose(f);
	unlink(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !done)
		return NAN;
	return ir / (double)done;
}

/* ---- the run ---------------------------------------------------------------------------- */

struct job {
	const struct workload *w;
	const struct trace *trace;
	const char *trace_path;
	char name[64];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool fa_runs(const struct frame_allocator *fa, const struct job *j, unsigned threads)
{
	unsigned need = j->trace ? j->trace->max_order : j->w->max_order;
	return fa->max_order >= need && fa->max_threads >= threads && !(j->w->one_thread && threads > 1);
}

static uint64_t job_ops(const struct job *j, uint64_t ops)
{
	return j->w->max_order ? ops / 4 : ops;
}

static int child_main(struct options *o)
{
	struct ab_arena arena;
	struct wl_result r;
	const struct workload *w = o->ntraces ? &replay_workload : o->nwl ? o->wl[0] : NULL;
	if (!w || o->nfa != 1 || !ab_arena_map(&arena, o->narenas ? o->arenas[0] : 4ULL << 30))
		return 2;
	if (!workload_measure(w, o->fa[0], &arena, 1, job_ops(&(struct job){ w, NULL, NULL, "" }, o->ops),
			      o->ntraces ? &o->traces[0] : NULL, &r))
		return 1;
	printf("ops %llu\n", (unsigned long long)r.ops);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int status = 0;
	char *trace_paths[MAX_LIST];
	size_t ntp = 0;

	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--replay") && ntp < MAX_LIST)
			trace_paths[ntp++] = argv[i + 1];
	parse(&o, argc, argv);
	if (o.child)
		return child_main(&o);

	struct job jobs[2 * MAX_LIST];
	size_t njobs = 0;
	for (size_t k = 0; k < o.nwl; k++) {
		jobs[njobs] = (struct job){ o.wl[k], NULL, NULL, "" };
		snprintf(jobs[njobs].name, sizeof(jobs[njobs].name), "%s", o.wl[k]->name);
		njobs++;
	}
	for (size_t k = 0; k < o.ntraces; k++) {
		jobs[njobs] = (struct job){ &replay_workload, &o.traces[k], trace_paths[k], "" };
		snprintf(jobs[njobs].name, sizeof(jobs[njobs].name), "replay:%s", o.traces[k].name);
		njobs++;
	}
	bool valgrind = o.instructions && have_valgrind();
	if (o.instructions && !valgrind)
		fprintf(stderr, "allocbench: valgrind not found: no instruction counts\n");

	size_t nrows_max = o.narenas * o.threads * njobs * o.nfa;
	struct row *rows = calloc(nrows_max ? nrows_max : 1, sizeof(*rows));
	double *samples = calloc(nrows_max * o.runs * 2 + 1, sizeof(double));
	size_t nrows = 0;
	if (!rows || !samples) {
		fprintf(stderr, "allocbench: out of memory\n");
		return 1;
	}
	if (!o.csv && !o.json)
		setvbuf(stdout, NULL, _IOLBF, 0);

	for (size_t ai = 0; ai < o.narenas; ai++) {
		struct ab_arena arena;
		if (!ab_arena_map(&arena, o.arenas[ai])) {
			fprintf(stderr, "allocbench: cannot map an arena of %llu bytes\n",
				(unsigned long long)o.arenas[ai]);
			return 1;
		}
		for (unsigned th = 1; th <= o.threads; th++) {
			/* verify every allocator (on th threads, and every trace) before timing any */
			bool ok[MAX_LIST];
			char why[MAX_LIST][256];
			for (size_t f = 0; f < o.nfa; f++) {
				ok[f] = verify_allocator(o.fa[f], &arena, th, why[f], sizeof(why[f]));
				for (size_t t = 0; ok[f] && t < o.ntraces; t++) {
					struct verifier v;
					if (o.fa[f]->max_order < o.traces[t].max_order)
						continue;
					arena.fa.threads = 1;
					if (!verifier_init(&v, o.fa[f], arena.fa.frames) || o.fa[f]->init(&arena.fa)) {
						ok[f] = false;
						snprintf(why[f], sizeof(why[f]), "init failed");
						break;
					}
					ok[f] = trace_replay_checked(&o.traces[t], &v, why[f], sizeof(why[f]));
					if (o.fa[f]->fini)
						o.fa[f]->fini();
					verifier_fini(&v);
					if (!ok[f]) {
						char tmp[256];
						snprintf(tmp, sizeof(tmp), "replay of %s: %s", o.traces[t].name, why[f]);
						snprintf(why[f], sizeof(why[f]), "%s", tmp);
					}
				}
				if (!ok[f]) {
					fprintf(stderr, "allocbench: %s FAILED verification: %s\n", o.fa[f]->name, why[f]);
					status = 1;
				}
			}
			size_t first = nrows;
			for (size_t j = 0; j < njobs; j++)
				for (size_t f = 0; f < o.nfa; f++) {
					struct row *r = &rows[nrows++];
					*r = (struct row){ .arena_bytes = o.arenas[ai], .threads = th,
							   .allocator = o.fa[f]->name, .runs = o.runs,
							   .ns = NAN, .mops = NAN, .ratio = NAN, .instructions = NAN };
					snprintf(r->workload, sizeof(r->workload), "%s", jobs[j].name);
					unsigned need = jobs[j].trace ? jobs[j].trace->max_order : jobs[j].w->max_order;
					r->floor = need ? "stacks" : "lifo";
					if (!ok[f]) {
						r->status = ROW_FAILED;
						snprintf(r->note, sizeof(r->note), "%s", why[f]);
					} else if (!fa_runs(o.fa[f], &jobs[j], th)) {
						r->status = ROW_SKIPPED;
						snprintf(r->note, sizeof(r->note), "%s",
							 o.fa[f]->max_order < need ? "orders above its max_order"
										   : "not for this many threads");
					} else if (o.verify_only) {
						r->status = ROW_SKIPPED;
						snprintf(r->note, sizeof(r->note), "verified; --verify-only");
					}
				}
			if (o.verify_only)
				continue;
			char self[4096] = "";
			if (valgrind) {
				ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
				self[len > 0 ? len : 0] = 0;
			}
			/* run after run, every allocator in turn, so that drift hits all alike */
			for (unsigned run = 0; run < o.runs; run++)
				for (size_t j = 0; j < njobs; j++)
					for (size_t f = 0; f < o.nfa; f++) {
						size_t ri = first + j * o.nfa + f;
						struct row *r = &rows[ri];
						struct wl_result res;
						if (r->status != ROW_OK)
							continue;
						if (!workload_measure(jobs[j].w, o.fa[f], &arena, th,
								      job_ops(&jobs[j], o.ops), jobs[j].trace, &res)) {
							r->status = ROW_ERROR;
							snprintf(r->note, sizeof(r->note), "init failed");
							status = 1;
							continue;
						}
						samples[ri * o.runs * 2 + run] = res.ns_per_op;
						samples[ri * o.runs * 2 + o.runs + run] = res.mops;
						r->ops = res.ops;
						r->failed_allocs = res.failed_allocs;
					}
			for (size_t ri = first; ri < nrows; ri++)
				if (rows[ri].status == ROW_OK) {
					rows[ri].ns = median(&samples[ri * o.runs * 2], o.runs);
					rows[ri].mops = median(&samples[ri * o.runs * 2 + o.runs], o.runs);
					if (valgrind && th == 1) {
						size_t j = (ri - first) / o.nfa;
						uint64_t cops = job_ops(&jobs[j], o.ops < 1000000 ? o.ops : 1000000);
						rows[ri].instructions = callgrind_instructions(
							self, o.arenas[ai], rows[ri].allocator, jobs[j].w->name,
							jobs[j].trace_path, jobs[j].w->max_order ? cops * 4 : cops);
					}
				}
			for (size_t ri = first; ri < nrows; ri++) {
				size_t j0 = first + (ri - first) / o.nfa * o.nfa;
				for (size_t f = 0; f < o.nfa; f++)
					if (rows[j0 + f].status == ROW_OK && !strcmp(rows[j0 + f].allocator, rows[ri].floor))
						rows[ri].ratio = rows[ri].ns / rows[j0 + f].ns;
			}
		}
		ab_arena_unmap(&arena);
	}

	if (o.csv)
		report_csv(stdout, rows, nrows);
	else if (o.json)
		report_json(stdout, rows, nrows);
	else
		report_table(stdout, rows, nrows);
	if (o.svg && !report_svg(o.svg, rows, nrows)) {
		fprintf(stderr, "allocbench: cannot write %s: %s\n", o.svg, strerror(errno));
		status = 1;
	}
	for (size_t k = 0; k < o.ntraces; k++)
		trace_free(&o.traces[k]);
	free(rows);
	free(samples);
	return status;
}
