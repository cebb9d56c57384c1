/*
 * The figures, for people (a table grouped by arena, threads and workload, allocators in
 * the registry's order) and for scripts (CSV with the columns of CSV_HEADER, JSON, and an
 * SVG bar chart written by hand: one panel per workload, each scaled to its slowest bar).
 */
#include <math.h>
#include <string.h>

#include "report.h"

static const char *const status_names[] = { "ok", "failed-verification", "skipped", "error" };

static void human_bytes(char *buf, size_t n, uint64_t b)
{
	if (b >= (1ULL << 30) && !(b & ((1ULL << 30) - 1)))
		snprintf(buf, n, "%llu GiB", (unsigned long long)(b >> 30));
	else
		snprintf(buf, n, "%llu MiB", (unsigned long long)(b >> 20));
}

static bool same_group(const struct row *a, const struct row *b)
{
	return a->arena_bytes == b->arena_bytes && a->threads == b->threads;
}

static void fig(FILE *out, const char *fmt, double v, int width)
{
	if (isnan(v))
		fprintf(out, "%*s", width, "-");
	else
		fprintf(out, fmt, width, v);
}

void report_table(FILE *out, const struct row *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!i || !same_group(&r[i - 1], &r[i])) {
			char b[32];
			human_bytes(b, sizeof(b), r[i].arena_bytes);
			fprintf(out, "%s%s arena (%llu frames), %u thread%s, medians of %u runs\n", i ? "\n" : "", b,
				(unsigned long long)(r[i].arena_bytes / 4096), r[i].threads,
				r[i].threads == 1 ? "" : "s", r[i].runs);
			fprintf(out, "%-22s %-10s %9s %8s %9s %9s  %s\n", "workload", "allocator", "ns/op",
				"x floor", "Mop/s", "instr/op", "note");
		}
		const char *wl = (i && same_group(&r[i - 1], &r[i]) && !strcmp(r[i - 1].workload, r[i].workload))
					 ? ""
					 : r[i].workload;
		fprintf(out, "%-22s %-10s ", wl, r[i].allocator);
		if (r[i].status != ROW_OK) {
			fprintf(out, "%9s %8s %9s %9s  %s%s%s\n", "-", "-", "-", "-", status_names[r[i].status],
				r[i].note[0] ? ": " : "", r[i].note);
			continue;
		}
		fig(out, "%*.2f", r[i].ns, 9);
		fputc(' ', out);
		fig(out, "%*.2f", r[i].ratio, 8);
		fputc(' ', out);
		fig(out, "%*.1f", r[i].mops, 9);
		fputc(' ', out);
		fig(out, "%*.1f", r[i].instructions, 9);
		fprintf(out, "  %s", r[i].note);
		if (r[i].failed_allocs)
			fprintf(out, "%s%llu allocations failed", r[i].note[0] ? "; " : "",
				(unsigned long long)r[i].failed_allocs);
		fputc('\n', out);
	}
}

/* CSV field: quoted when it holds a comma, a quote or a newline. */
static void csv_str(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void csv_num(FILE *out, double v, const char *fmt)
{
	if (!isnan(v))
		fprintf(out, fmt, v);
}

void report_csv(FILE *out, const struct row *r, size_t n)
{
	fprintf(out, "%s\n", CSV_HEADER);
	for (size_t i = 0; i < n; i++) {
		bool ok = r[i].status == ROW_OK;
		fprintf(out, "%llu,%u,", (unsigned long long)r[i].arena_bytes, r[i].threads);
		csv_str(out, r[i].workload);
		fputc(',', out);
		csv_str(out, r[i].allocator);
		fprintf(out, ",%s,", status_names[r[i].status]);
		csv_num(out, ok ? r[i].ns : NAN, "%.3f");
		fputc(',', out);
		csv_num(out, ok ? r[i].ratio : NAN, "%.3f");
		fprintf(out, ",%s,", r[i].floor ? r[i].floor : "");
		csv_num(out, ok ? r[i].mops : NAN, "%.3f");
		fputc(',', out);
		csv_num(out, ok ? r[i].instructions : NAN, "%.1f");
		if (ok)
			fprintf(out, ",%llu,%llu,", (unsigned long long)r[i].ops,
				(unsigned long long)r[i].failed_allocs);
		else
			fputs(",,,", out);
		fprintf(out, "%u,", r[i].runs);
		csv_str(out, r[i].note);
		fputc('\n', out);
	}
}

static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void json_num(FILE *out, const char *key, double v, bool ok)
{
	fprintf(out, ", \"%s\": ", key);
	if (!ok || isnan(v))
		fputs("null", out);
	else
		fprintf(out, "%.3f", v);
}

void report_json(FILE *out, const struct row *r, size_t n)
{
	fputs("{\"results\": [", out);
	for (size_t i = 0; i < n; i++) {
		bool ok = r[i].status == ROW_OK;
		fprintf(out, "%s\n  {\"arena_bytes\": %llu, \"threads\": %u, \"workload\": ", i ? "," : "",
			(unsigned long long)r[i].arena_bytes, r[i].threads);
		json_str(out, r[i].workload);
		fputs(", \"allocator\": ", out);
		json_str(out, r[i].allocator);
		fprintf(out, ", \"status\": \"%s\"", status_names[r[i].status]);
		json_num(out, "ns_per_op", r[i].ns, ok);
		json_num(out, "ratio_to_floor", r[i].ratio, ok);
		fputs(", \"floor\": ", out);
		if (r[i].floor)
			json_str(out, r[i].floor);
		else
			fputs("null", out);
		json_num(out, "mops_per_s", r[i].mops, ok);
		json_num(out, "instructions_per_op", r[i].instructions, ok);
		fprintf(out, ", \"ops\": %llu, \"failed_allocs\": %llu, \"runs\": %u, \"note\": ",
			(unsigned long long)(ok ? r[i].ops : 0), (unsigned long long)(ok ? r[i].failed_allocs : 0),
			r[i].runs);
		json_str(out, r[i].note);
		fputc('}', out);
	}
	fputs("\n]}\n", out);
}

/* ---- SVG -------------------------------------------------------------------------------- */

static void xml_str(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out);
		}
	}
}

static const char *const palette[] = { "#d62728", "#1f77b4", "#2ca02c", "#7f7f7f",
				       "#9467bd", "#ff7f0e", "#8c564b", "#17becf" };

bool report_svg(const char *path, const struct row *r, size_t n)
{
	FILE *out = fopen(path, "w");
	if (!out)
		return false;

	/* allocators in first-seen order give the colours */
	const char *names[64];
	size_t nnames = 0, groups = 0, max_bars = 1;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < nnames && strcmp(names[k], r[i].allocator))
			k++;
		if (k == nnames && nnames < 64)
			names[nnames++] = r[i].allocator;
		if (!i || !same_group(&r[i - 1], &r[i]) || strcmp(r[i - 1].workload, r[i].workload))
			groups++;
	}
	max_bars = nnames ? nnames : 1;
	const int bar = 22, gap = 30, plot_h = 220, top = 60, left = 20;
	int width = left * 2 + (int)groups * ((int)max_bars * bar + gap);
	int height = top + plot_h + 90 + (int)nnames * 18;
	if (width < 420)
		width = 420;

	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		     "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
		width, height, width, height);
	fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height);
	fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"15\">allocbench: ns per operation "
		     "(lower is better; each workload scaled to its slowest bar)</text>\n", left);

	size_t i = 0;
	int x = left;
	while (i < n) {
		size_t j = i;
		double max = 0;
		while (j < n && same_group(&r[i], &r[j]) && !strcmp(r[i].workload, r[j].workload)) {
			if (r[j].status == ROW_OK && !isnan(r[j].ns) && r[j].ns > max)
				max = r[j].ns;
			j++;
		}
		for (size_t k = i; k < j; k++) {
			size_t c = 0;
			while (c < nnames && strcmp(names[c], r[k].allocator))
				c++;
			int bx = x + (int)c * bar;
			if (r[k].status == ROW_OK && max > 0 && !isnan(r[k].ns)) {
				int h = (int)(r[k].ns / max * plot_h);
				fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
					     "<title>",
					bx, top + plot_h - h, bar - 3, h, palette[c % 8]);
				xml_str(out, r[k].allocator);
				fprintf(out, " %.2f ns</title></rect>\n", r[k].ns);
				fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%.3g</text>\n",
					bx + (bar - 3) / 2, top + plot_h - h - 3, r[k].ns);
			} else {
				fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"9\" text-anchor=\"middle\">%s</text>\n",
					bx + (bar - 3) / 2, top + plot_h - 3, r[k].status == ROW_FAILED ? "FAIL" : "-");
			}
		}
		char label[96];
		snprintf(label, sizeof(label), "%s", r[i].workload);
		fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"start\">", x, top + plot_h + 16);
		xml_str(out, label);
		fputs("</text>\n", out);
		char b[32];
		human_bytes(b, sizeof(b), r[i].arena_bytes);
		fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"9\" fill=\"#555\">%s, %u thr</text>\n", x,
			top + plot_h + 30, b, r[i].threads);
		x += (int)max_bars * bar + gap;
		i = j;
	}
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top + plot_h,
		width - left, top + plot_h);
	for (size_t c = 0; c < nnames; c++) {
		int y = top + plot_h + 50 + (int)c * 18;
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", left, y - 10,
			palette[c % 8]);
		fprintf(out, "<text x=\"%d\" y=\"%d\">", left + 18, y);
		xml_str(out, names[c]);
		fputs("</text>\n", out);
	}
	fputs("</svg>\n", out);
	return fclose(out) == 0;
}
