/*
 * Commands about physical frames and the boot memory map: bootmem (before boot), the global
 * counters (expect free_frames ..., checkpoint), the views (show memmap, show buddy,
 * show frames) and audit.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "boot_memory.h"
#include "commands/commands.h"
#include "scenario/counters.h"
#include "frame_alloc.h"
#include "frame_alloc_view.h"
#include "views/frame_classes.h"
#include "page_info.h"
#include "pressure.h"
#include "scenario/sim.h"

/* ---- bootmem BASE SIZE KIND ---- */

static const char *const kind_words[] = {"free", "reclaim", "reserved", "kernel", "device",
					 "identity-map", NULL};
static const uint64_t kind_values[] = {BOOT_MEMORY_FREE,   BOOT_MEMORY_RECLAIM,
				       BOOT_MEMORY_RESERVED, BOOT_MEMORY_KERNEL,
				       BOOT_MEMORY_DEVICE, BOOT_MEMORY_IDENTITY_MAP};

static bool parse_bootmem(struct sc_parse *p)
{
	struct sc_bootmem_args *b = &p->st->bootmem;
	int k;
	uint64_t mem = p->sc->machine.memory;

	if (!sp_argc(p, 3, 3) || !sp_page_aligned(p, 0, &b->base) ||
	    !sp_page_aligned(p, 1, &b->size) || !sp_choice(p, 2, kind_words, &k))
		return false;
	if (b->size == 0)
		return sp_error_word(p, &p->pos[1], "an empty region");
	if (b->base + b->size < b->base)
		return sp_error_word(p, &p->pos[1], "the region wraps around the address space");
	if (kind_values[k] == BOOT_MEMORY_FREE && b->base + b->size > mem)
		return sp_error_word(p, &p->pos[1],
				     "free memory beyond the machine's %" PRIu64 " MiB of RAM", mem >> 20);
	b->kind = kind_values[k];
	return true;
}

static enum sc_status exec_bootmem(struct sim *sim, const struct sc_stmt *st)
{
	if (sim->nboot_regions == SIM_MAX_BOOT_REGIONS)
		return sim_run_error(sim, st, "more than %d bootmem regions", SIM_MAX_BOOT_REGIONS);
	sim->boot_regions[sim->nboot_regions++] =
		(struct sim_boot_region){st->bootmem.base, st->bootmem.size, st->bootmem.kind};
	return SC_CONTINUE;
}

/* ---- checkpoint NAME ---- */

static bool parse_checkpoint(struct sc_parse *p)
{
	struct scenario *sc = p->sc;
	char *name = p->st->checkpoint.name;

	if (!sp_argc(p, 1, 1) || !sp_name(p, 0, name))
		return false;
	for (size_t i = 0; i < sc->ncheckpoints; i++)
		if (strcmp(sc->checkpoints[i], name) == 0)
			return true;
	sc->checkpoints = realloc(sc->checkpoints, (sc->ncheckpoints + 1) * sizeof(*sc->checkpoints));
	if (!sc->checkpoints)
		return sp_error_word(p, &p->pos[0], "out of host memory");
	memcpy(sc->checkpoints[sc->ncheckpoints++], name, SC_NAME_MAX);
	return true;
}

static struct sim_checkpoint *find_checkpoint(struct sim *sim, const char *name)
{
	for (size_t i = 0; i < sim->ncheckpoints; i++)
		if (strcmp(sim->checkpoints[i].name, name) == 0)
			return &sim->checkpoints[i];
	return NULL;
}

static enum sc_status exec_checkpoint(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_checkpoint *c = find_checkpoint(sim, st->checkpoint.name);

	if (!c) {
		c = realloc(sim->checkpoints, (sim->ncheckpoints + 1) * sizeof(*c));
		if (!c)
			return sim_run_error(sim, st, "out of host memory");
		sim->checkpoints = c;
		c = &sim->checkpoints[sim->ncheckpoints++];
		memset(c, 0, sizeof(*c));
		memcpy(c->name, st->checkpoint.name, SC_NAME_MAX);
	}
	for (unsigned i = 0; i < sim_ncounters; i++)
		c->values[i] = sim_counters[i].get(sim);
	return SC_CONTINUE;
}

/* ---- expect COUNTER OP VALUE | CHECKPOINT [+|- K] ---- */

static bool parse_expect_counter(struct sc_parse *p)
{
	struct sc_counter_args *a = &p->st->counter;
	struct sc_expectation *e = &p->st->expect;
	const char *counter = p->st->cmd->name + strlen("expect ");
	uint64_t k;
	bool known = false;

	for (unsigned i = 0; i < sim_ncounters; i++)
		if (strcmp(sim_counters[i].name, counter) == 0)
			a->counter = i;
	if (!sp_argc(p, 2, 4) || !sp_op(p, 0, false, &e->op))
		return false;
	if (p->pos[1].text[0] >= '0' && p->pos[1].text[0] <= '9') {
		if (!sp_argc(p, 2, 2) || !sp_num(p, 1, &e->value))
			return false;
		e->has_value = true;
		return true;
	}
	if (!sp_name(p, 1, a->checkpoint))
		return false;
	for (size_t i = 0; i < p->sc->ncheckpoints; i++)
		known |= strcmp(p->sc->checkpoints[i], a->checkpoint) == 0;
	if (!known) {
		/* "c1-1" is one name (names may hold '-'): the arithmetic needs blanks */
		const char *dash = strrchr(a->checkpoint, '-');

		if (dash && dash[1] && strspn(dash + 1, "0123456789") == strlen(dash + 1))
			return sp_error_word(p, &p->pos[1],
					     "no checkpoint '%s' before this line (to subtract, put "
					     "blanks around the minus: '%.*s - %s')",
					     a->checkpoint, (int)(dash - a->checkpoint), a->checkpoint,
					     dash + 1);
		return sp_error_word(p, &p->pos[1], "no checkpoint '%s' before this line",
				     a->checkpoint);
	}
	a->from_checkpoint = true;
	if (p->npos == 2)
		return true;
	if (!sp_word_is(p, 2, "+") && !sp_word_is(p, 2, "-"))
		return sp_error_word(p, &p->pos[2], "expected + or -, not '%s'", p->pos[2].text);
	if (!sp_argc(p, 4, 4) || !sp_num(p, 3, &k))
		return false;
	if (k > INT64_MAX)
		return sp_error_word(p, &p->pos[3], "%s is too large", p->pos[3].text);
	a->delta = sp_word_is(p, 2, "-") ? -(int64_t)k : (int64_t)k;
	return true;
}

static enum sc_status exec_expect_counter(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_counter_args *a = &st->counter;
	const struct sc_expectation *e = &st->expect;
	const struct sim_counter *c = &sim_counters[a->counter];
	uint64_t got = c->get(sim), want = e->value;

	if (a->from_checkpoint) {
		struct sim_checkpoint *cp = find_checkpoint(sim, a->checkpoint);

		if (!cp)
			return sim_run_error(sim, st, "checkpoint '%s' was not reached before this line",
					     a->checkpoint);
		want = cp->values[a->counter] + (uint64_t)a->delta;
	}
	if (sc_op_holds(e->op, got, want))
		return SC_CONTINUE;
	if (a->from_checkpoint)
		return sim_expect_failed(sim, st, "expected %s %s %" PRIu64 " (checkpoint %s %s %" PRId64
					 "), got %" PRIu64,
					 c->name, sc_op_text(e->op), want, a->checkpoint,
					 a->delta < 0 ? "-" : "+", a->delta < 0 ? -a->delta : a->delta,
					 got);
	return sim_expect_failed(sim, st, "expected %s %s %" PRIu64 ", got %" PRIu64, c->name,
				 sc_op_text(e->op), want, got);
}

/* ---- show memmap ---- */

static void print_size(FILE *out, uint64_t bytes)
{
	if (bytes >= (1ull << 30) && !(bytes & ((1ull << 30) - 1)))
		fprintf(out, "%" PRIu64 " GiB", bytes >> 30);
	else if (bytes >= (1ull << 20) && !(bytes & ((1ull << 20) - 1)))
		fprintf(out, "%" PRIu64 " MiB", bytes >> 20);
	else
		fprintf(out, "%" PRIu64 " KiB", bytes >> 10);
}

static bool parse_no_args(struct sc_parse *p)
{
	return sp_argc(p, 0, 0);
}

static enum sc_status exec_show_memmap(struct sim *sim, const struct sc_stmt *st)
{
	struct boot_memory_entry e;
	const struct boot_area *areas = boot_memory_areas();

	(void)st;
	fprintf(sim->out, "boot memory map (%zu entries, merged by kind):\n", boot_memory_map_count());
	for (size_t i = 0; boot_memory_map_entry(i, &e); i++) {
		fprintf(sim->out, "  [0x%09" PRIx64 ", 0x%09" PRIx64 ") %-12s ", e.base, e.base + e.size,
			bootloader_memory_kind_name(e.kind));
		print_size(sim->out, e.size);
		fputc('\n', sim->out);
	}
	fprintf(sim->out, "free areas given to the frame allocator (above 1 MiB, minus every other kind):\n");
	for (size_t i = 0; i < boot_memory_area_count(); i++) {
		fprintf(sim->out, "  [0x%09" PRIx64 ", 0x%09" PRIx64 ") ", areas[i].base,
			areas[i].base + areas[i].size);
		print_size(sim->out, areas[i].size);
		fputc('\n', sim->out);
	}
	return SC_CONTINUE;
}

/* ---- show buddy ---- */

static enum sc_status exec_show_buddy(struct sim *sim, const struct sc_stmt *st)
{
	uint64_t counts[FRAME_ORDER_COUNT], free_in_lists = 0;
	paddr_t first[4];

	(void)st;
	frame_alloc_free_counts(counts);
	fprintf(sim->out, "buddy free lists (most recently freed first):\n");
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
		size_t n = frame_alloc_free_list(k, first, 4);

		free_in_lists += counts[k] << k;
		fprintf(sim->out, "  order %2u (%4" PRIu64 " KiB): %6" PRIu64 " block%s", k,
			(PAGE_SIZE << k) >> 10, counts[k], counts[k] == 1 ? " " : "s");
		for (size_t i = 0; i < n; i++)
			fprintf(sim->out, " 0x%" PRIx64, first[i]);
		if (counts[k] > n)
			fprintf(sim->out, " ...");
		fputc('\n', sim->out);
	}
	fprintf(sim->out, "  %" PRIu64 " frames on the lists and %" PRIu64
			  " in per-CPU caches (available), %" PRIu64 " in the sacred reserve\n",
		free_in_lists, cached_frames(), reserve_pool_frames());
	return SC_CONTINUE;
}

/* ---- show frames [PADDR [count=N]] ---- */

static bool parse_show_frames(struct sc_parse *p)
{
	struct sc_show_frames_args *a = &p->st->show_frames;
	bool have;

	a->count = 16;
	if (!sp_argc(p, 0, 1) || !sp_opt_num(p, "count", &a->count, &have))
		return false;
	if (p->npos == 1) {
		if (!sp_page_aligned(p, 0, &a->start))
			return false;
		if (a->start >= p->sc->machine.memory)
			return sp_error_word(p, &p->pos[0], "outside physical memory");
		a->listed = true;
	} else if (have) {
		return sp_error(p, p->end_line, p->end_col, "count= goes with a start address");
	}
	return true;
}

static enum sc_status exec_show_frames(struct sim *sim, const struct sc_stmt *st)
{
	uint64_t nframes = sim->arena.size >> PAGE_SHIFT, per_char = 1, totals[FC_COUNT] = {0};
	struct frame_classes fc;

	if (!frame_classes_build(sim, &fc))
		return sim_run_error(sim, st, "out of host memory");
	if (st->show_frames.listed) {
		uint64_t start = st->show_frames.start;
		uint64_t end = start + (st->show_frames.count << PAGE_SHIFT);

		if (end > sim->arena.size || end < start)
			end = sim->arena.size;
		for (uint64_t pa = start; pa < end; pa += PAGE_SIZE) {
			frame_t f = frame_containing(pa);
			enum frame_class c = frame_class_of(&fc, f);
			struct page_info *info = get_page_info(f);

			fprintf(sim->out, "  0x%09" PRIx64 " %s", pa, frame_class_name(c));
			if (info && ((c >= FC_ONE && c <= FC_COW) || c == FC_ZERO))
				fprintf(sim->out, " (%" PRIu64 " reference%s)", page_info_refcount(info).count,
					page_info_refcount(info).count == 1 ? "" : "s");
			fputc('\n', sim->out);
		}
		frame_classes_free(&fc);
		return SC_CONTINUE;
	}
	while (nframes / per_char > 64 * 32)
		per_char *= 2;
	fprintf(sim->out, "frame map of [0, 0x%" PRIx64 "), one character per %" PRIu64 " frame%s (",
		sim->arena.size, per_char, per_char == 1 ? "" : "s");
	print_size(sim->out, per_char << PAGE_SHIFT);
	fprintf(sim->out, "), the busiest use in each:\n");
	for (uint64_t g = 0; g < nframes; g += per_char) {
		enum frame_class best = FC_NOT_MANAGED;

		if (g % (64 * per_char) == 0)
			fprintf(sim->out, "  0x%09" PRIx64 " ", g << PAGE_SHIFT);
		for (uint64_t f = g; f < g + per_char && f < nframes; f++) {
			enum frame_class c = frame_class_of(&fc, frame_containing(f << PAGE_SHIFT));

			totals[c]++;
			if (frame_class_rank(c) > frame_class_rank(best))
				best = c;
		}
		fputc(frame_class_char(best), sim->out);
		if ((g / per_char) % 64 == 63 || g + per_char >= nframes)
			fputc('\n', sim->out);
	}
	/* the legend names the classes that appear */
	fprintf(sim->out, " ");
	for (int r = 0, first = 1; r < FC_COUNT; r++) {
		enum frame_class c = frame_class_by_rank(r);

		if (!totals[c])
			continue;
		fprintf(sim->out, "%s %c %s %" PRIu64, first ? "" : ",", frame_class_char(c),
			frame_class_name(c), totals[c]);
		first = 0;
	}
	fputc('\n', sim->out);
	frame_classes_free(&fc);
	return SC_CONTINUE;
}

static enum sc_status exec_audit(struct sim *sim, const struct sc_stmt *st)
{
	return sim_audit(sim, st);
}

#define EXPECT_COUNTER(NAME)                                                                   \
	{"expect " NAME, "expect " NAME " OP N | OP CHECKPOINT [+|- K]",                       \
	 "compare the counter (OP is == != < <= > >=), with a number or a checkpoint's value",   \
	 SC_KERNEL_ON, parse_expect_counter, exec_expect_counter}

const struct sc_command frame_commands[] = {
	{"bootmem", "bootmem BASE SIZE free|reclaim|reserved|kernel|device|identity-map",
	 "add a region to the memory map the bootloader reports (right after machine)",
	 SC_KERNEL_ON | SC_BOOT_PHASE, parse_bootmem, exec_bootmem},
	{"checkpoint", "checkpoint NAME", "remember every global counter under NAME",
	 SC_KERNEL_ON, parse_checkpoint, exec_checkpoint},
	EXPECT_COUNTER("free_frames"),
	EXPECT_COUNTER("used_frames"),
	EXPECT_COUNTER("total_frames"),
	EXPECT_COUNTER("available_frames"),
	EXPECT_COUNTER("reserve_frames"),
	EXPECT_COUNTER("swap_writes"),
	EXPECT_COUNTER("swap_reads"),
	{"show memmap", "show memmap", "the boot memory map and the free areas the allocator got",
	 SC_KERNEL_ON, parse_no_args, exec_show_memmap},
	{"show buddy", "show buddy", "the buddy allocator's free lists, order by order",
	 SC_KERNEL_ON, parse_no_args, exec_show_buddy},
	{"show frames", "show frames [PADDR [count=16]]",
	 "a map of what every frame is used for; with PADDR, one line per frame", SC_KERNEL_ON,
	 parse_show_frames, exec_show_frames},
	{"audit", "audit", "check every kernel invariant now (a violation is a kernel bug, exit 3)",
	 SC_KERNEL_ON, parse_no_args, exec_audit},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
