/*
 * `show framemap FILE [cols=64]`: every frame of physical memory as one square of an SVG
 * picture, coloured by what the frame holds now, with a legend that counts each kind.
 *
 * A frame's kind comes from the allocator (free, per-CPU cache, its own metadata, kernel,
 * one / shared / copy-on-write references) refined by the processes' page tables: a kernel
 * frame that is a table of a process's user half is a "page table", a frame with one
 * reference that a process maps is "private"; the frames of the governor's sacred reserve
 * (pressure_for_each_reserve_frame) are drawn as such. On machines with more than 16384 frames one square stands for
 * several frames and takes the colour of the most telling of them (user kinds first).
 *
 * Nothing changes; no external program is needed (the SVG is written directly).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/mapper.h"
#include "commands.h"
#include "frame_alloc_view.h"
#include "page_info.h"
#include "pressure.h"
#include "sim.h"
#include "user_mm.h"
#include "user_mm_view.h"

#define FM_MAX_CELLS 16384u
#define FM_CELL 10
#define FM_LEFT 96
#define FM_TOP 56

/* In increasing order of how telling a kind is, for squares standing for several frames. */
enum fm_kind {
	FM_NONE,     /* not RAM the allocator manages */
	FM_FREE,
	FM_CACHE,    /* free, parked in a per-CPU cache */
	FM_META,     /* the allocator's metadata */
	FM_RESERVE,  /* the pressure governor's sacred reserve */
	FM_KERNEL,   /* kernel memory: heap, the kernel half's tables */
	FM_TABLE,    /* a table of a process's user half */
	FM_PRIVATE,
	FM_SHARED,
	FM_COW,
	FM_ZERO,     /* the zero frame */
	FM_COUNT,
};

static const struct {
	const char *name, *color;
} fm_kinds[FM_COUNT] = {
	{"not managed (firmware, devices, kernel image)", "#b0b0b0"},
	{"free", "#ffffff"},
	{"free, in a per-CPU cache", "#e4f4e4"},
	{"allocator metadata", "#5c6bc0"},
	{"the sacred reserve (emergency UI and OOM buffer)", "#ffb74d"},
	{"kernel (heap, kernel tables)", "#8e6cc8"},
	{"page table of a process", "#26a69a"},
	{"private (one reference)", "#ffd54f"},
	{"shared", "#42a5f5"},
	{"copy-on-write", "#ef5350"},
	{"the zero frame", "#202020"},
};

struct fm_ctx {
	uint8_t *kind;   /* per frame */
	uint64_t nframes;
};

static bool fm_table(void *ctx, frame_t t, unsigned level, uint64_t va)
{
	struct fm_ctx *c = ctx;

	(void)level;
	(void)va;
	if (t.base >> 12 < c->nframes)
		c->kind[t.base >> 12] = FM_TABLE;
	return true;
}

static bool fm_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct fm_ctx *c = ctx;
	uint64_t pa = pte_address(e, level), n = pt_level_size(level) >> 12;

	(void)va;
	for (uint64_t i = 0; i < n && (pa >> 12) + i < c->nframes; i++)
		if (c->kind[(pa >> 12) + i] == FM_KERNEL)
			c->kind[(pa >> 12) + i] = FM_PRIVATE; /* one reference, mapped by a process */
	return true;
}

static void fm_reserve(void *ctx, frame_t f)
{
	struct fm_ctx *c = ctx;

	if (f.base >> 12 < c->nframes)
		c->kind[f.base >> 12] = FM_RESERVE;
}

static void classify(struct sim *sim, struct fm_ctx *c)
{
	frame_t zero = zero_frame();

	for (uint64_t i = 0; i < c->nframes; i++) {
		frame_t f = {i << 12};

		switch (i ? frame_alloc_use_of(f) : FRAME_USE_NONE) {
		case FRAME_USE_NONE:
			c->kind[i] = FM_NONE;
			break;
		case FRAME_USE_FREE:
			c->kind[i] = FM_FREE;
			break;
		case FRAME_USE_CACHED:
			c->kind[i] = FM_CACHE;
			break;
		case FRAME_USE_METADATA:
			c->kind[i] = FM_META;
			break;
		case FRAME_USE_SHARED:
			c->kind[i] = FM_SHARED;
			break;
		case FRAME_USE_COW:
			c->kind[i] = FM_COW;
			break;
		case FRAME_USE_KERNEL:
		case FRAME_USE_ONE:
		case FRAME_USE_COUNT:
			c->kind[i] = FM_KERNEL; /* until a process's tables say otherwise */
			break;
		}
		if (frame_eq(f, zero))
			c->kind[i] = FM_ZERO;
	}
	for (size_t i = 0; i < sim->nprocs; i++) {
		struct mapper_visitor v = {.table = fm_table, .leaf = fm_leaf, .ctx = c,
					  .protnone = fm_leaf /* still referenced */};

		if (sim->procs[i].as && addr_space_is_alive(sim->procs[i].as))
			addr_space_visit_tables(sim->procs[i].as, &v);
	}
	if (sim->booted)
		pressure_for_each_reserve_frame(fm_reserve, c);
}

/* show framemap FILE [cols=N]: path, u[0] = columns */
static bool parse_show_framemap(struct sc_parse *p)
{
	bool have;

	p->st->u[0] = 64;
	if (!sp_argc(p, 1, 1) || !sp_opt_num(p, "cols", &p->st->u[0], &have))
		return false;
	if (p->st->u[0] < 8 || p->st->u[0] > 256)
		return sp_error_opt(p, sp_opt_find(p, "cols"), "cols= is 8..256");
	p->st->path = strdup(p->pos[0].text);
	return p->st->path != NULL;
}

static enum sc_status exec_show_framemap(struct sim *sim, const struct sc_stmt *st)
{
	struct fm_ctx c;
	uint64_t counts[FM_COUNT] = {0}, per = 1, cells, cols = st->u[0], rows;
	FILE *f;
	int width, height;

	c.nframes = sim->arena.size >> 12;
	c.kind = malloc(c.nframes);
	if (!c.kind)
		return sim_run_error(sim, st, "out of host memory");
	classify(sim, &c);
	for (uint64_t i = 0; i < c.nframes; i++)
		counts[c.kind[i]]++;
	while (c.nframes / per > FM_MAX_CELLS)
		per *= 2;
	cells = (c.nframes + per - 1) / per;
	rows = (cells + cols - 1) / cols;
	width = FM_LEFT + (int)cols * FM_CELL + 16;
	if (width < 560)
		width = 560;
	height = FM_TOP + (int)rows * FM_CELL + 24 + 18 * (FM_COUNT + 2);
	f = fopen(st->path, "w");
	if (!f) {
		free(c.kind);
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	}
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!-- the frames of physical memory, written by mmsim `show framemap` (%s:%d) -->\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"monospace\" font-size=\"11\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
		"<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">physical memory: %" PRIu64
		" frames of 4 KiB (%s:%d)</text>\n"
		"<text x=\"8\" y=\"36\">one square = %" PRIu64 " frame%s (%" PRIu64
		" KiB), %" PRIu64 " per row; left: the physical address a row starts at</text>\n",
		sim->file, st->line, width, height, c.nframes, sim->file, st->line, per,
		per == 1 ? "" : "s", per * 4, cols);
	for (uint64_t r = 0; r < rows; r++)
		fprintf(f, "<text x=\"8\" y=\"%d\" font-size=\"9\">0x%08" PRIx64 "</text>\n",
			FM_TOP + (int)r * FM_CELL + FM_CELL - 1, r * cols * per * 4096);
	for (uint64_t i = 0; i < cells; i++) {
		unsigned k = FM_NONE;

		for (uint64_t j = i * per; j < (i + 1) * per && j < c.nframes; j++)
			if (c.kind[j] > k)
				k = c.kind[j];
		fprintf(f,
			"<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#c8c8c8\" "
			"stroke-width=\"0.5\"><title>0x%" PRIx64 ": %s</title></rect>\n",
			FM_LEFT + (int)(i % cols) * FM_CELL, FM_TOP + (int)(i / cols) * FM_CELL, FM_CELL,
			FM_CELL, fm_kinds[k].color, i * per * 4096, fm_kinds[k].name);
	}
	{
		int y = FM_TOP + (int)rows * FM_CELL + 24;

		for (unsigned k = 0; k < FM_COUNT; k++, y += 18)
			fprintf(f,
				"<rect x=\"8\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\" "
				"stroke=\"#808080\"/><text x=\"28\" y=\"%d\">%s</text>"
				"<text x=\"470\" y=\"%d\" text-anchor=\"end\">%" PRIu64
				" frames</text>\n",
				y - 10, fm_kinds[k].color, y, fm_kinds[k].name, y, counts[k]);
		fprintf(f, "<text x=\"8\" y=\"%d\">pressure: %s</text>\n", y,
			pressure_state_name(pressure_state()));
	}
	fputs("</svg>\n", f);
	if (fclose(f) != 0) {
		free(c.kind);
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	}
	fprintf(sim->out, "show framemap: %" PRIu64 " frames drawn to %s:", c.nframes, st->path);
	{
		static const char *const words[FM_COUNT] = {
			[FM_FREE] = "free",	    [FM_CACHE] = "cached", [FM_META] = "metadata",
			[FM_RESERVE] = "reserve", [FM_KERNEL] = "kernel", [FM_TABLE] = "tables",
			[FM_PRIVATE] = "private", [FM_SHARED] = "shared", [FM_COW] = "cow",
			[FM_ZERO] = "zero",
		};
		const char *sep = " ";

		for (unsigned k = FM_FREE; k < FM_COUNT; k++) {
			if (!counts[k])
				continue;
			fprintf(sim->out, "%s%s %" PRIu64, sep, words[k], counts[k]);
			sep = ", ";
		}
	}
	fputc('\n', sim->out);
	free(c.kind);
	return SC_CONTINUE;
}

const struct sc_command framemap_commands[] = {
	{"show framemap", "show framemap FILE [cols=64]",
	 "draw every frame as a square of an SVG picture: free, kernel, page tables, private, shared, copy-on-write, the zero frame",
	 SC_KERNEL_ON, parse_show_framemap, exec_show_framemap},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
