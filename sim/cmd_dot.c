/*
 * `show dot FILE`: the page-table tree reachable from the current CPU's CR3 as a Graphviz
 * graph, and, when Graphviz's `dot` is installed, an SVG drawn from it next to FILE.
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

#include "commands.h"
#include "sim.h"

#define DOT_MAX_TABLES 256
#define DOT_MAX_ROWS 48 /* entries drawn per table; the rest are counted */

extern char **environ;

struct dot_ctx {
	struct sim *sim;
	const struct x86_cpu *cpu;
	FILE *f;
	uint64_t seen_pa[DOT_MAX_TABLES];
	int seen_level[DOT_MAX_TABLES];
	int nseen;
	unsigned skipped_tables;
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

/* One node per physical page: two entries mapping the same page (an alias) meet in it. */
static void draw_page(struct dot_ctx *d, uint64_t pa, int level)
{
	static const char *const size_names[] = {"", "4 KiB page", "2 MiB page", "1 GiB page"};

	fprintf(d->f,
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
			"  t%d_%" PRIx64 " [shape=box, style=filled, fillcolor=\"#ffb0b0\", label=\"%s at 0x%" PRIx64
			"\\noutside physical memory\\n(a walk here stops the run)\"];\n",
			level, pa, x86_level_name(level), pa);
		return;
	}
	fprintf(d->f,
		"  t%d_%" PRIx64 " [shape=plaintext, label=<<table border=\"0\" cellborder=\"1\" "
		"cellspacing=\"0\" cellpadding=\"3\" bgcolor=\"%s\">\n"
		"    <tr><td colspan=\"3\"><b>%s table</b> at 0x%" PRIx64 "</td></tr>\n"
		"    <tr><td>index</td><td>covers va from</td><td>entry: flags -&gt; address</td></tr>\n",
		level, pa, level_color(level), x86_level_name(level), pa);
	for (unsigned i = 0; i < 512; i++) {
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
	for (unsigned i = 0; i < 512 && rows < DOT_MAX_ROWS; i++) {
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
			fprintf(d->f, "  t%d_%" PRIx64 ":e%u:e -> p%d_%" PRIx64 ";\n", level, pa, i, level,
				next);
		} else {
			next = e & X86_ADDR_MASK;
			draw_table(d, next, level - 1, va);
			fprintf(d->f, "  t%d_%" PRIx64 ":e%u:e -> t%d_%" PRIx64 ";\n", level, pa, i,
				level - 1, next);
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

/* show dot FILE [svg=0|1] [cpu=N]: path = FILE, flags bit 0 = no svg */
static bool parse_show_dot(struct sc_parse *p)
{
	bool svg = true;

	if (!sp_argc(p, 1, 1) || !sp_opt_bool(p, "svg", &svg, NULL) || !sp_opt_cpu(p))
		return false;
	p->st->flags = svg ? 0 : 1;
	p->st->path = strdup(p->pos[0].text);
	return p->st->path != NULL;
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
	if (st->flags & 1)
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
	{"show dot", "show dot FILE [svg=0|1] [cpu=N]",
	 "write the page tables reachable from CR3 as a Graphviz graph to FILE, and FILE.svg if dot is installed",
	 SC_KERNEL_OFF, parse_show_dot, exec_show_dot},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
