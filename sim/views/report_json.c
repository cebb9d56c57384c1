/*
 * The --json report. Sections are listed in one table; each writes `"key": value` for its
 * part of the state, or null when the run never got there (counters before the kernel
 * booted, CPUs before the machine was built).
 */
#include "views/report_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/counters.h"
#include "pressure.h"
#include "scenario/scenario.h"
#include "user_mm_view.h"

struct json_run {
	const char *file;
	int status;
	const struct scenario *sc;   /* NULL if the file could not be read */
	const struct sc_stmt *failed;
	const struct sim *sim;       /* NULL if the machine was not built */
	char *output;                /* what the scenario printed */
	char *errors;                /* what went to stderr */
};

void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* A text as an array of its lines. */
static void json_lines(FILE *out, const char *text)
{
	const char *p = text;
	bool first = true;

	fputc('[', out);
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);

		fputs(first ? "" : ", ", out);
		json_string(out, line ? line : "");
		free(line);
		first = false;
		p += n + (nl != NULL);
	}
	fputc(']', out);
}

static const char *const status_words[] = {"ok", "expectation failed", "error", "kernel bug"};

static void sec_result(FILE *out, const struct json_run *r)
{
	fputs("\"file\": ", out);
	json_string(out, r->file);
	fprintf(out, ", \"status\": %d, \"result\": ", r->status);
	json_string(out, status_words[r->status & 3]);
}

static void sec_failed(FILE *out, const struct json_run *r)
{
	fputs("\"failed\": ", out);
	if (!r->failed) {
		/* a parse error: its line is in the first message, FILE:LINE:COL: error: ... */
		size_t n = strlen(r->file);
		int line;

		if (r->status == 2 && r->errors && strncmp(r->errors, r->file, n) == 0 &&
		    sscanf(r->errors + n, ":%d:", &line) == 1)
			fprintf(out, "{\"line\": %d, \"statement\": null}", line);
		else
			fputs("null", out);
		return;
	}
	fprintf(out, "{\"line\": %d, \"statement\": ", r->failed->line);
	json_string(out, r->failed->text);
	fputc('}', out);
}

static void sec_messages(FILE *out, const struct json_run *r)
{
	fputs("\"messages\": ", out);
	json_lines(out, r->errors);
	fputs(", \"output\": ", out);
	json_lines(out, r->output);
}

static void sec_machine(FILE *out, const struct json_run *r)
{
	const struct machine_cfg *m = r->sc ? &r->sc->machine : NULL;

	fputs("\"machine\": ", out);
	if (!m) {
		fputs("null", out);
		return;
	}
	fprintf(out,
		"{\"memory\": %" PRIu64 ", \"cpus\": %u, \"kernel\": %s, \"maxphyaddr\": %u, "
		"\"tlb_entries\": %u, \"vendor\": \"%s\", \"page1gb\": %s}",
		m->memory, m->cpus, m->kernel ? "true" : "false", m->maxphyaddr, m->tlb_entries,
		m->vendor == X86_AMD ? "amd" : "intel", m->page1gb ? "true" : "false");
}

/* The kernel's global counters: only once it booted. */
static void sec_counters(FILE *out, const struct json_run *r)
{
	fputs("\"counters\": ", out);
	if (!r->sim || !r->sim->booted) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	for (unsigned i = 0; i < sim_ncounters; i++)
		fprintf(out, "%s\"%s\": %" PRIu64, i ? ", " : "", sim_counters[i].name,
			sim_counters[i].get((struct sim *)r->sim));
	fputc('}', out);
}

void json_sim_cpus(FILE *out, const struct sim *sim)
{
	if (!sim) {
		fputs("null", out);
		return;
	}
	fputc('[', out);
	for (unsigned i = 0; i < sim->ncpus; i++) {
		const struct x86_cpu *c = &sim->cpus[i];
		const struct x86_counters *k = &c->stats;

		fprintf(out,
			"%s{\"cpu\": %u, \"cr3\": %" PRIu64 ", \"cr2\": %" PRIu64 ", \"tlb_hits\": %" PRIu64
			", \"tlb_misses\": %" PRIu64 ", \"walks\": %" PRIu64 ", \"flushes\": %" PRIu64
			", \"invlpgs\": %" PRIu64 ", \"page_faults\": %" PRIu64 ", \"gp_faults\": %" PRIu64
			", \"ad_updates\": %" PRIu64 "}",
			i ? ", " : "", i, c->cr3, c->cr2, k->tlb_hits, k->tlb_misses, k->walks,
			k->flushes, k->invlpgs, k->page_faults, k->gp_faults, k->ad_updates);
	}
	fputc(']', out);
}

static void sec_cpus(FILE *out, const struct json_run *r)
{
	fputs("\"cpus\": ", out);
	json_sim_cpus(out, r->sim);
}

static void sec_checkpoints(FILE *out, const struct json_run *r)
{
	fputs("\"checkpoints\": {", out);
	for (size_t i = 0; r->sim && i < r->sim->ncheckpoints; i++) {
		const struct sim_checkpoint *c = &r->sim->checkpoints[i];

		fputs(i ? ", " : "", out);
		json_string(out, c->name);
		fputs(": {", out);
		for (unsigned k = 0; k < sim_ncounters; k++)
			fprintf(out, "%s\"%s\": %" PRIu64, k ? ", " : "", sim_counters[k].name,
				c->values[k]);
		fputc('}', out);
	}
	fputc('}', out);
}

/* Every process the scenario created, in creation order: alive ones with their memory. */
void json_sim_processes(FILE *out, const struct sim *sim)
{
	static const char *const states[] = {"running", "exited", "killed"};

	if (!sim || !sim->booted) {
		fputs("null", out);
		return;
	}
	fputc('[', out);
	for (size_t i = 0; i < sim->nprocs; i++) {
		struct sim_process *p = &sim->procs[i];
		bool alive = process_check_alive(p);

		fputs(i ? ", {\"name\": " : "{\"name\": ", out);
		json_string(out, p->name);
		fprintf(out, ", \"alive\": %s, \"state\": \"%s\"", alive ? "true" : "false",
			states[p->state]);
		if (alive) {
			struct addr_space_stats a;

			addr_space_get_stats(p->as, &a);
			fprintf(out,
				", \"rss\": %" PRIu64 ", \"table_frames\": %" PRIu64 ", \"last_cpu\": %u"
				", \"faults\": {\"demand_zero\": %" PRIu64 ", \"zero_frame\": %" PRIu64
				", \"cow_copy\": %" PRIu64 ", \"cow_reuse\": %" PRIu64 ", \"shared\": %" PRIu64
				", \"spurious\": %" PRIu64 ", \"segv\": %" PRIu64 ", \"oom\": %" PRIu64 "}",
				addr_space_rss(p->as), addr_space_table_frames(p->as), p->last_cpu,
				a.faults_demand_zero, a.faults_zero_mapped, a.faults_cow_copy,
				a.faults_cow_reuse, a.faults_shared, a.faults_spurious, a.faults_segv,
				a.faults_oom);
		}
		fputc('}', out);
	}
	fputc(']', out);
}

static void sec_processes(FILE *out, const struct json_run *r)
{
	fputs("\"processes\": ", out);
	json_sim_processes(out, r->sim);
}

/* The pressure governor: state, watermarks, the reserve. */
void json_sim_pressure(FILE *out, const struct sim *sim)
{
	if (!sim || !sim->booted) {
		fputs("null", out);
		return;
	}
	fprintf(out,
		"{\"state\": \"%s\", \"frozen\": %s, \"available_frames\": %" PRIu64
		", \"reserve_frames\": %" PRIu64 ", \"reserve_pool\": %" PRIu64
		", \"warning_below\": %" PRIu64 ", \"emergency_below\": %" PRIu64
		", \"oom\": \"%s\"}",
		pressure_state_name(pressure_state()), system_frozen() ? "true" : "false",
		available_frames(), reserve_frames(), reserve_pool_frames(), warning_watermark(),
		emergency_watermark(), sim->cfg.oom_picker ? "picker" : "auto");
}

static void sec_pressure(FILE *out, const struct json_run *r)
{
	fputs("\"pressure\": ", out);
	json_sim_pressure(out, r->sim);
}

static void (*const sections[])(FILE *, const struct json_run *) = {
	sec_result, sec_failed, sec_machine, sec_counters, sec_processes, sec_pressure, sec_cpus,
	sec_checkpoints, sec_messages,
};

static void print_report(FILE *out, const struct json_run *r)
{
	fputc('{', out);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		fputs(i ? ", " : "", out);
		sections[i](out, r);
	}
	fputs("}\n", out);
}

int sim_run_json(const char *file, const struct sim_options *opts, FILE *out, FILE *err)
{
	struct json_run r = {.file = file};
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *o = open_memstream(&obuf, &olen), *e = open_memstream(&ebuf, &elen);
	struct scenario sc;
	struct sim sim;
	bool created = false;

	if (!o || !e) {
		fprintf(err, "mmsim: out of host memory\n");
		return 2;
	}
	if (!scenario_load(&sc, file, e)) {
		r.status = 2;
		r.sc = sc.file ? &sc : NULL;
	} else if (!sim_create(&sim, &sc.machine, opts, sc.file, o, e)) {
		r.status = 2;
		r.sc = &sc;
	} else {
		created = true;
		r.sc = &sc;
		r.sim = &sim;
		/* statement by statement, to know which one failed */
		for (size_t i = 0; i < sc.nstmts && r.status == 0; i++) {
			struct scenario one = sc;

			one.stmts = &sc.stmts[i];
			one.nstmts = 1;
			r.status = sim_run(&sim, &one);
			if (r.status)
				r.failed = &sc.stmts[i];
		}
		r.status = sim_answers_finish(&sim, r.status);
	}
	fflush(o);
	fflush(e);
	fwrite(ebuf, 1, elen, err);
	r.output = obuf;
	r.errors = ebuf;
	print_report(out, &r);
	fflush(out);
	if (created)
		sim_destroy(&sim);
	scenario_free(&sc);
	fclose(o);
	fclose(e);
	free(obuf);
	free(ebuf);
	return r.status;
}
