/*
 * `show framemap FILE [cols=64]`: physical memory as an SVG picture, coloured by what each
 * frame holds now (frame_classes.c: the same names as `show frames`), with a legend that
 * counts the kinds that appear.
 *
 * Up to FM_MAX_CELLS frames (16 MiB) every frame is one square. A larger machine is drawn as
 * regions, one row each: a run of frames of one kind at least FM_REGION_PARTS-th of memory
 * long is a region of its own (a long stretch of free memory is one row, not thousands of
 * white squares); the shorter runs between two such regions make one mixed region, drawn
 * as a bar split by kind in proportion.
 *
 * Nothing changes; no external program is needed (the SVG is written directly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "views/frame_classes.h"
#include "pressure.h"
#include "scenario/sim.h"

#define FM_MAX_CELLS 4096u
#define FM_REGION_PARTS 128u
#define FM_CELL 10
#define FM_LEFT 96
#define FM_TOP 56
#define FM_BAR 640
#define FM_ROW 22

struct fm_region {
	uint64_t first, n;       /* frames */
	uint64_t count[FC_COUNT]; /* frames of each kind */
};

/* The regions of the frames' kinds (see the top of the file); *nregions set. */
static struct fm_region *regions_of(const uint8_t *kind, uint64_t nframes, size_t *nregions)
{
	uint64_t min_run = nframes / FM_REGION_PARTS;
	/* at most FM_REGION_PARTS + 1 long runs, and a mixed region before, between and after */
	struct fm_region *r = calloc(2 * FM_REGION_PARTS + 4, sizeof(*r));
	bool mixed_open = false;
	size_t n = 0;

	if (!r)
		return NULL;
	for (uint64_t i = 0; i < nframes;) {
		uint64_t j = i;

		while (j < nframes && kind[j] == kind[i])
			j++;
		if (j - i >= min_run) {
			r[n] = (struct fm_region){.first = i, .n = j - i};
			r[n++].count[kind[i]] = j - i;
			mixed_open = false;
		} else {
			if (!mixed_open)
				r[n++] = (struct fm_region){.first = i, .n = 0};
			mixed_open = true;
			r[n - 1].n += j - i;
			r[n - 1].count[kind[i]] += j - i;
		}
		i = j;
	}
	*nregions = n;
	return r;
}

static void fm_size(char *buf, size_t len, uint64_t frames)
{
	uint64_t kib = frames * 4;

	if (kib >= 1024 * 1024 && kib % (1024 * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", kib >> 20);
	else if (kib >= 1024)
		snprintf(buf, len, "%.1f MiB", (double)kib / 1024);
	else
		snprintf(buf, len, "%" PRIu64 " KiB", kib);
}

/* One square per frame, cols per row. Returns the y below the grid. */
static int draw_squares(FILE *f, const uint8_t *kind, uint64_t nframes, uint64_t cols)
{
	uint64_t rows = (nframes + cols - 1) / cols;

	for (uint64_t r = 0; r < rows; r++)
		fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"9\">0x%08" PRIx64 "</text>\n",
			FM_TOP + (int)r * FM_CELL + FM_CELL - 1, r * cols * 4096);
	for (uint64_t i = 0; i < nframes; i++)
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#c8c8c8\" "
			"stroke-width=\"0.5\"><title>0x%" PRIx64 ": %s</title></rect>\n",
			FM_LEFT + (int)(i % cols) * FM_CELL, FM_TOP + (int)(i / cols) * FM_CELL, FM_CELL,
			FM_CELL, frame_class_color(kind[i]), i * 4096,
			frame_class_name(kind[i]));
	return FM_TOP + (int)rows * FM_CELL + 24;
}

/* What a region holds: "free 64064", or "mixed: private 2, kernel 3, ..." (most telling
 * first). Returns the length. */
static size_t region_label(const struct fm_region *r, char *what, size_t size)
{
	size_t len = 0;
	unsigned kinds = 0;

	for (int k = 0; k < FC_COUNT; k++)
		kinds += r->count[k] != 0;
	len = (size_t)snprintf(what, size, "%s", kinds > 1 ? "mixed:" : "");
	for (int k = FC_COUNT - 1; k >= 0 && len < size; k--) {
		enum frame_class c = frame_class_by_rank(k);

		if (r->count[c])
			len += (size_t)snprintf(what + len, size - len, "%s%s %" PRIu64,
						len > 6 || kinds == 1 ? (len ? ", " : "") : " ",
						frame_class_name(c), r->count[c]);
	}
	return len < size ? len : size - 1;
}

/* One row per region: its range, a bar split by kind, what it holds. */
static int draw_regions(FILE *f, const struct fm_region *r, size_t n)
{
	int y = FM_TOP;

	for (size_t i = 0; i < n; i++, y += FM_ROW) {
		char size[32], what[512];
		int x = FM_LEFT + 96;
		uint64_t cum = 0;

		fm_size(size, sizeof(size), r[i].n);
		region_label(&r[i], what, sizeof(what));
		fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"9\">0x%09" PRIx64 "</text>"
			   "<text x=\"%d\" y=\"%d\" font-size=\"9\">%s</text>\n",
			y + 12, r[i].first * 4096, FM_LEFT + 8, y + 12, size);
		/* each kind's share of the bar; a kind present gets at least one pixel */
		for (int k = FC_COUNT - 1; k >= 0; k--) {
			enum frame_class c = frame_class_by_rank(k);
			int end;

			if (!r[i].count[c])
				continue;
			cum += r[i].count[c];
			end = FM_LEFT + 96 + (int)(cum * FM_BAR / r[i].n);
			if (end <= x)
				end = x + 1;
			fprintf(f,
				"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"%s\" "
				"stroke=\"#808080\" stroke-width=\"0.5\"><title>%s: %" PRIu64
				" frames</title></rect>\n",
				x, y, end - x, frame_class_color(c), frame_class_name(c), r[i].count[c]);
			x = end;
		}
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", FM_LEFT + 104 + FM_BAR, y + 12,
			what);
	}
	return y + 24;
}

/* show framemap FILE [cols=N] */
static bool parse_show_framemap(struct sc_parse *p)
{
	bool have;

	p->st->framemap.cols = 64;
	if (!sp_argc(p, 1, 1) || !sp_opt_num(p, "cols", &p->st->framemap.cols, &have))
		return false;
	if (p->st->framemap.cols < 8 || p->st->framemap.cols > 256)
		return sp_error_opt(p, sp_opt_find(p, "cols"), "cols= is 8..256");
	p->st->path = strdup(p->pos[0].text);
	return p->st->path != NULL;
}

static enum sc_status exec_show_framemap(struct sim *sim, const struct sc_stmt *st)
{
	uint64_t nframes = sim->arena.size >> 12, counts[FC_COUNT] = {0}, cols = st->framemap.cols;
	struct frame_classes fc;
	struct fm_region *regions = NULL;
	size_t nregions = 0, nkinds = 0;
	uint8_t *kind;
	FILE *f;
	int width, height, y;

	if (!frame_classes_build(sim, &fc))
		return sim_run_error(sim, st, "out of host memory");
	kind = malloc(nframes);
	if (!kind) {
		frame_classes_free(&fc);
		return sim_run_error(sim, st, "out of host memory");
	}
	for (uint64_t i = 0; i < nframes; i++) {
		kind[i] = (uint8_t)frame_class_of(&fc, (frame_t){i << 12});
		counts[kind[i]]++;
	}
	frame_classes_free(&fc);
	for (unsigned k = 0; k < FC_COUNT; k++)
		nkinds += counts[k] != 0;
	if (nframes > FM_MAX_CELLS) {
		regions = regions_of(kind, nframes, &nregions);
		if (!regions) {
			free(kind);
			return sim_run_error(sim, st, "out of host memory");
		}
		width = FM_LEFT + 104 + FM_BAR + 80;
		for (size_t i = 0; i < nregions; i++) {
			char what[512];
			int w = FM_LEFT + 112 + FM_BAR + 7 * (int)region_label(&regions[i], what,
									     sizeof(what));

			if (w > width)
				width = w;
		}
		height = FM_TOP + (int)nregions * FM_ROW + 24 + 18 * ((int)nkinds + 2);
	} else {
		width = FM_LEFT + (int)cols * FM_CELL + 16;
		if (width < 560)
			width = 560;
		height = FM_TOP + (int)((nframes + cols - 1) / cols) * FM_CELL + 24 +
			 18 * ((int)nkinds + 2);
	}
	f = fopen(st->path, "w");
	if (!f) {
		free(kind);
		free(regions);
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	}
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!-- the frames of physical memory, written by mmsim `show framemap` (%s:%d) -->\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"monospace\" font-size=\"11\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
		"<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">physical memory: %" PRIu64
		" frames of 4 KiB (%s:%d)</text>\n",
		sim->file, st->line, width, height, nframes, sim->file, st->line);
	if (regions) {
		fprintf(f, "<text x=\"8\" y=\"36\">one row per region: a run of one kind of at least "
			   "%" PRIu64 " frames, or the mixed frames between two such runs; left: where "
			   "it starts and its size</text>\n",
			nframes / FM_REGION_PARTS);
		y = draw_regions(f, regions, nregions);
	} else {
		fprintf(f, "<text x=\"8\" y=\"36\">one square = one frame, %" PRIu64
			   " per row; left: the physical address a row starts at</text>\n",
			cols);
		y = draw_squares(f, kind, nframes, cols);
	}
	/* the legend: the kinds that appear, most telling first */
	for (int r = FC_COUNT - 1; r >= 0; r--) {
		enum frame_class c = frame_class_by_rank(r);

		if (!counts[c])
			continue;
		fprintf(f,
			"<rect x=\"8\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\" "
			"stroke=\"#808080\"/><text x=\"28\" y=\"%d\">%s</text>"
			"<text x=\"470\" y=\"%d\" text-anchor=\"end\">%" PRIu64 " frames</text>\n",
			y - 10, frame_class_color(c), y, frame_class_name(c), y, counts[c]);
		y += 18;
	}
	fprintf(f, "<text x=\"8\" y=\"%d\">pressure: %s</text>\n", y,
		sim->booted ? pressure_state_name(pressure_state()) : "no kernel");
	fputs("</svg>\n", f);
	free(kind);
	free(regions);
	if (fclose(f) != 0)
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	fprintf(sim_out(sim), "show framemap: %" PRIu64 " frames drawn to %s", nframes, st->path);
	if (nregions)
		fprintf(sim_out(sim), " in %zu regions", nregions);
	for (int r = FC_COUNT - 1, first = 1; r >= 0; r--) {
		enum frame_class c = frame_class_by_rank(r);

		if (!counts[c])
			continue;
		fprintf(sim_out(sim), "%s %s %" PRIu64, first ? ":" : ",", frame_class_name(c),
			counts[c]);
		first = 0;
	}
	fputc('\n', sim_out(sim));
	return SC_CONTINUE;
}

const struct sc_command framemap_commands[] = {
	{"show framemap", "show framemap FILE [cols=64]",
	 "draw physical memory as an SVG picture, each frame coloured by its use (the names of show frames): one square per frame up to 4096 frames, regions of one use above that",
	 SC_KERNEL_ON, parse_show_framemap, exec_show_framemap},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
