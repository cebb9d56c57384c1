/*
 * `show dot FILE`: the page-table tree reachable from the current CPU's CR3 as a Graphviz
 * graph, and, when Graphviz's `dot` is installed, an SVG drawn from it next to FILE.
 * `show dot FILE A [B]` (kernel on): the user half of the page tables of process A (and B),
 * each process's tables in a box of its own, the frames they map outside the boxes: a frame
 * two processes share after fork is one node with an arrow from each, coloured by its kind
 * of reference (private, copy-on-write, shared, the zero frame, device memory).
 *
 * One node per table (a column of its present entries, and of the non-zero entries with P=0,
 * greyed, because a student who wrote them wonders where they went); one node per page
 * reached. Every entry row says its index, the virtual address it starts to cover, its
 * decoded flags and where it points; pages say their size. Tables are read from physical
 * memory as the processor would read them, without A/D updates or TLB effects.
 */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "commands/commands.h"
#include "page_info.h"
#include "commands/process_commands.h"
#include "scenario/sim.h"
#include "user_mm.h"

#define DOT_MAX_TABLES 256
#define DOT_MAX_ROWS 48 /* entries drawn per table; the rest are counted */
#define DOT_MAX_PAGES 4096

extern char **environ;

struct dot_ctx {
	struct sim *sim;
	const struct x86_cpu *cpu;
	FILE *f;
	uint64_t seen_pa[DOT_MAX_TABLES];
	int seen_level[DOT_MAX_TABLES];
	int nseen;
	unsigned skipped_tables;
	bool kernel;         /* processes: pages are frames the kernel manages */
	unsigned root_slots; /* PML4 entries drawn: 512, or 256 for a process's user half */
	const char *prefix;  /* table node names: t<prefix><level>_<pa> */
	FILE *pages;         /* process mode: page nodes and edges to them, written at the top level */
	uint64_t page_pa[DOT_MAX_PAGES];
	int page_level[DOT_MAX_PAGES];
	int npages;
};

static unsigned dot_shift(int level)
{
	return 12 + 9 * (unsigned)(level - 1);
}

static uint64_t sign_extend(uint64_t va)
{
	return (va & (1ull << 47)) ? va | 0xffff000000000000ull : va;
}

static void html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

static bool seen(struct dot_ctx *d, uint64_t pa, int level)
{
	for (int i = 0; i < d->nseen; i++)
		if (d->seen_pa[i] == pa && d->seen_level[i] == level)
			return true;
	return false;
}

static const char *level_color(int level)
{
	static const char *const colors[] = {"", "#e8f4e8", "#e8eef8", "#f4ecf8", "#fbf0e0"};

	return colors[level];
}

static void draw_table(struct dot_ctx *d, uint64_t pa, int level, uint64_t va_base);

/* One node per physical page: two entries mapping the same page (an alias, or two processes
 * sharing a frame) meet in it. */
static void draw_page(struct dot_ctx *d, uint64_t pa, int level)
{
	static const char *const size_names[] = {"", "4 KiB page", "2 MiB page", "1 GiB page"};
	FILE *f = d->pages ? d->pages : d->f;

	if (d->kernel) {
		frame_t fr = {pa};
		struct page_info *info = get_page_info(fr);
		struct refcount rc = {REFCOUNT_FREE, 0};
		const char *what, *color;

		for (int i = 0; i < d->npages; i++)
			if (d->page_pa[i] == pa && d->page_level[i] == level)
				return;
		if (d->npages < DOT_MAX_PAGES) {
			d->page_pa[d->npages] = pa;
			d->page_level[d->npages++] = level;
		}
		if (info)
			rc = page_info_refcount(info);
		if (!info)
			what = "device memory", color = "#f0c8f0";
		else if (frame_eq(fr, zero_frame()))
			what = "the zero frame", color = "#d8d8d8";
		else if (rc.kind == REFCOUNT_COW)
			what = "copy-on-write", color = "#ffb080";
		else if (rc.kind == REFCOUNT_SHARED)
			what = "shared", color = "#a8d0ff";
		else
			what = "private", color = "#fff8d0";
		fprintf(f, "  p%d_%" PRIx64 " [shape=box, style=\"filled%s\", fillcolor=\"%s\", "
			   "label=\"frame 0x%" PRIx64 "\\n%s",
			level, pa, level > 1 ? ",bold" : "", color, pa, what);
		if (info)
			fprintf(f, ", %" PRIu64 " ref%s", rc.count, rc.count == 1 ? "" : "s");
		fprintf(f, "%s%s\"];\n", level > 1 ? "\\n" : "", level > 1 ? size_names[level] : "");
		return;
	}
	fprintf(f,
		"  p%d_%" PRIx64 " [shape=box, style=\"filled%s\", fillcolor=\"%s\", label=\"%s\\n"
		"at 0x%" PRIx64 "\"];\n",
		level, pa, level > 1 ? ",bold" : "", level > 1 ? "#ffe0a0" : "#fff8d0",
		size_names[level], pa);
}

static void draw_table(struct dot_ctx *d, uint64_t pa, int level, uint64_t va_base)
{
	const struct x86_phys *ph = &d->cpu->phys;
	unsigned rows = 0, more = 0;
	char flags[160];

	if (seen(d, pa, level))
		return;
	if (d->nseen == DOT_MAX_TABLES) {
		d->skipped_tables++;
		return;
	}
	d->seen_pa[d->nseen] = pa;
	d->seen_level[d->nseen++] = level;
	if (pa + 4096 > ph->size) {
		fprintf(d->f,
			"  t%s%d_%" PRIx64 " [shape=box, style=filled, fillcolor=\"#ffb0b0\", label=\"%s at 0x%" PRIx64
			"\\noutside physical memory\\n(a walk here stops the run)\"];\n",
			d->prefix, level, pa, x86_level_name(level), pa);
		return;
	}
	fprintf(d->f,
		"  t%s%d_%" PRIx64 " [shape=plaintext, label=<<table border=\"0\" cellborder=\"1\" "
		"cellspacing=\"0\" cellpadding=\"3\" bgcolor=\"%s\">\n"
		"    <tr><td colspan=\"3\"><b>%s table at 0x%" PRIx64 "</b>%s</td></tr>\n"
		"    <tr><td>index</td><td>covers va from</td><td>entry: flags -&gt; address</td></tr>\n",
		d->prefix, level, pa, level_color(level), x86_level_name(level), pa,
		level == 4 && d->root_slots < 512 ? " (user half: entries 0..255)" : "");
	for (unsigned i = 0; i < (level == 4 ? d->root_slots : 512); i++) {
		uint64_t e, va = va_base | (uint64_t)i << dot_shift(level);

		memcpy(&e, ph->base + pa + 8 * i, 8);
		if (!e)
			continue;
		if (rows == DOT_MAX_ROWS) {
			more++;
			continue;
		}
		rows++;
		x86_format_entry(flags, sizeof(flags), e, level, d->cpu);
		fprintf(d->f, "    <tr><td>%u</td><td>0x%" PRIx64 "</td><td port=\"e%u\" align=\"left\"%s>",
			i, sign_extend(va), i, (e & X86_PTE_P) ? "" : " bgcolor=\"#dddddd\"");
		html_escape(d->f, flags);
		fputs("</td></tr>\n", d->f);
	}
	if (more)
		fprintf(d->f, "    <tr><td colspan=\"3\">%u more non-zero entries not drawn</td></tr>\n",
			more);
	if (rows == 0)
		fputs("    <tr><td colspan=\"3\">(every entry is 0)</td></tr>\n", d->f);
	fputs("  </table>>];\n", d->f);
	rows = 0;
	for (unsigned i = 0; i < (level == 4 ? d->root_slots : 512) && rows < DOT_MAX_ROWS; i++) {
		uint64_t e, va = va_base | (uint64_t)i << dot_shift(level), next;
		bool leaf;

		memcpy(&e, ph->base + pa + 8 * i, 8);
		if (!e)
			continue;
		rows++;
		if (!(e & X86_PTE_P))
			continue;
		leaf = level == 1 || ((e & X86_PTE_PS) && level <= 3);
		if (leaf) {
			next = e & X86_ADDR_MASK & ~((1ull << dot_shift(level)) - 1);
			draw_page(d, next, level);
			fprintf(d->pages ? d->pages : d->f, "  t%s%d_%" PRIx64 ":e%u:e -> p%d_%" PRIx64 ";\n",
				d->prefix, level, pa, i, level, next);
		} else {
			next = e & X86_ADDR_MASK;
			draw_table(d, next, level - 1, va);
			fprintf(d->f, "  t%s%d_%" PRIx64 ":e%u:e -> t%s%d_%" PRIx64 ";\n", d->prefix,
				level, pa, i, d->prefix, level - 1, next);
		}
	}
}

/* dot -Tsvg FILE -o SVG; false if dot is missing or fails */
static bool make_svg(const char *dot_file, const char *svg)
{
	char *argv[] = {"dot", "-Tsvg", (char *)dot_file, "-o", (char *)svg, NULL};
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "dot", NULL, NULL, argv, environ) != 0)
		return false;
	if (waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* show dot FILE [A [B]] [svg=0|1] [cpu=N] */
static bool parse_show_dot(struct sc_parse *p)
{
	bool svg = true;

	if (!sp_argc(p, 1, 3) || !sp_opt_bool(p, "svg", &svg, NULL) || !sp_opt_cpu(p))
		return false;
	if (!p->sc->machine.kernel && p->npos > 1)
		return sp_error_word(p, &p->pos[1],
				     "processes exist only with the kernel: on the bare processor "
				     "`show dot FILE` draws the tables from CR3");
	if (p->sc->machine.kernel && p->npos == 1)
		return sp_error(p, p->end_line, p->end_col,
				"name the process whose tables to draw: show dot FILE A [B]");
	for (int i = 1; i < p->npos; i++)
		if (!sp_process(p, i, i == 1 ? p->st->proc : p->st->dot.second))
			return false;
	if (p->npos == 3 && strcmp(p->st->proc, p->st->dot.second) == 0)
		return sp_error_word(p, &p->pos[2], "the same process twice");
	p->st->dot.nprocs = (unsigned)p->npos - 1;
	p->st->dot.svg = svg;
	p->st->path = strdup(p->pos[0].text);
	return p->st->path != NULL;
}

/* The user half of each named process, each in a cluster; pages at the top level. */
static enum sc_status draw_processes(struct sim *sim, const struct sc_stmt *st, struct dot_ctx *d)
{
	char *pbuf = NULL, prefix[24];
	size_t plen = 0;

	d->pages = open_memstream(&pbuf, &plen);
	if (!d->pages)
		return sim_run_error(sim, st, "out of host memory");
	d->kernel = true;
	d->root_slots = 256;
	for (unsigned i = 0; i < st->dot.nprocs; i++) {
		struct sim_process *p = process_find(sim, i == 0 ? st->proc : st->dot.second);
		uint64_t root;

		if (!process_check_alive(p)) {
			fclose(d->pages);
			free(pbuf);
			return sim_run_error(sim, st, "process '%s' has %s", p->name,
					     p->state == PROC_KILLED ? "been killed" : "exited");
		}
		root = addr_space_cr3(p->as) & X86_ADDR_MASK;
		/* node names must be identifiers, and process names may hold '-' */
		snprintf(prefix, sizeof(prefix), "P%u", i);
		d->prefix = prefix;
		fprintf(d->f, "  subgraph cluster_%u {\n    label=\"process %s\";\n"
			      "    style=rounded; color=\"#808080\";\n",
			i, p->name);
		fprintf(d->f, "  cr3_%s [shape=box, style=filled, fillcolor=\"#d0d0d0\", "
			      "label=\"%s: CR3\\n0x%" PRIx64 "\"];\n",
			prefix, p->name, addr_space_cr3(p->as));
		draw_table(d, root, 4, 0);
		fprintf(d->f, "  cr3_%s -> t%s4_%" PRIx64 ";\n  }\n", prefix, prefix, root);
	}
	fclose(d->pages);
	d->pages = NULL;
	fputs("  // the frames, outside the processes' boxes: a frame both map is one node\n", d->f);
	fwrite(pbuf, 1, plen, d->f);
	free(pbuf);
	return SC_CONTINUE;
}

static enum sc_status exec_show_dot(struct sim *sim, const struct sc_stmt *st)
{
	struct dot_ctx *d = calloc(1, sizeof(*d));
	const struct x86_cpu *cpu = sim_cpu_for(sim, st);
	uint64_t root = cpu->cr3 & X86_ADDR_MASK;
	char *svg;
	size_t n;

	if (!d)
		return sim_run_error(sim, st, "out of host memory");
	d->sim = sim;
	d->cpu = cpu;
	d->f = fopen(st->path, "w");
	if (!d->f) {
		free(d);
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	}
	d->root_slots = 512;
	d->prefix = "";
	if (st->dot.nprocs) {
		enum sc_status s;

		fprintf(d->f,
			"// the user half of the page tables of the processes named, written by mmsim `show dot`\n"
			"digraph page_tables {\n"
			"  rankdir=LR;\n"
			"  node [fontname=\"monospace\", fontsize=10];\n"
			"  edge [arrowsize=0.6];\n");
		s = draw_processes(sim, st, d);
		if (s != SC_CONTINUE) {
			fclose(d->f);
			free(d);
			return s;
		}
	} else {
		fprintf(d->f,
			"// the page tables reachable from CR3 of cpu%u, written by mmsim `show dot`\n"
			"digraph page_tables {\n"
			"  rankdir=LR;\n"
			"  node [fontname=\"monospace\", fontsize=10];\n"
			"  edge [arrowsize=0.6];\n"
			"  cr3 [shape=box, style=filled, fillcolor=\"#d0d0d0\", label=\"cpu%u CR3\\n0x%" PRIx64
			"\"];\n",
			sim->cur_cpu, sim->cur_cpu, cpu->cr3);
		draw_table(d, root, 4, 0);
		fprintf(d->f, "  cr3 -> t4_%" PRIx64 ";\n", root);
	}
	if (d->skipped_tables)
		fprintf(d->f, "  more [shape=note, label=\"%u more tables not drawn\"];\n",
			d->skipped_tables);
	fputs("}\n", d->f);
	if (fclose(d->f) != 0) {
		free(d);
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	}
	fprintf(sim->out, "show dot: %d table%s written to %s\n", d->nseen, d->nseen == 1 ? "" : "s",
		st->path);
	free(d);
	if (!st->dot.svg)
		return SC_CONTINUE;
	/* FILE.dot -> FILE.svg, anything else -> FILE.svg appended */
	n = strlen(st->path);
	svg = malloc(n + 5);
	if (!svg)
		return sim_run_error(sim, st, "out of host memory");
	memcpy(svg, st->path, n + 1);
	if (n > 4 && strcmp(svg + n - 4, ".dot") == 0)
		svg[n - 4] = '\0';
	strcat(svg, ".svg");
	fflush(sim->out);
	if (make_svg(st->path, svg))
		fprintf(sim->out, "show dot: drawn as %s\n", svg);
	else
		fprintf(sim->out, "show dot: no SVG (Graphviz's dot is not installed or failed)\n");
	free(svg);
	return SC_CONTINUE;
}

const struct sc_command dot_commands[] = {
	{"show dot", "show dot FILE [A [B]] [svg=0|1] [cpu=N]",
	 "write page tables as a Graphviz graph to FILE (and, if dot is installed, an SVG beside it: f.dot gives f.svg, another name gets .svg appended): from CR3 on the bare processor, the user half of A (and B, shared frames drawn once) with the kernel",
	 SC_ANY, parse_show_dot, exec_show_dot},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
