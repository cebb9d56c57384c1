/*
 * Views of a process's memory: its page tables as a tree, its grants, its counters.
 *
 *   show pagetables A   every present entry of the user half, table by table: level, index,
 *                       the virtual range it covers, the raw entry, its flags and the
 *                       physical address it holds (for a leaf: the frame and its references),
 *                       and the not-present entries of PROT_NONE pages that keep a frame
 *   show pagetables A style=xv6
 *                       the same tree in the dotted form of xv6's page-table printer: one
 *                       " .." per level, the index, the range covered, the raw entry and the
 *                       physical address it holds
 *   show mappings A     one line per run of leaves: contiguous virtual pages mapped to
 *                       contiguous frames (the zero frame: the same frame) with the same
 *                       rights and the same kind of reference are printed as one range
 *   show grants A       the grants in address order: range, size, protection, provider and
 *                       the provider's position (physical base, source address, file offset)
 *   show process A      faults by kind, resident pages, table frames, file-server state
 */
#include <inttypes.h>
#include <string.h>

#include "arch/x86_64/page_flags.h"
#include "commands/commands.h"
#include "page_info.h"
#include "commands/process_commands.h"
#include "scenario/sim.h"
#include "swap_area.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "arch/x86_64/mapper.h"

static bool parse_one_process(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_process(p, 0, p->st->proc);
}

/* show pagetables A [style=tree|xv6] */
static bool parse_show_pagetables(struct sc_parse *p)
{
	static const char *const styles[] = {"tree", "xv6", NULL};
	int style = 0;

	if (!parse_one_process(p) || !sp_opt_choice(p, "style", styles, &style, NULL))
		return false;
	p->st->pagetables.xv6 = style == 1;
	return true;
}

static struct sim_process *live(struct sim *sim, const struct sc_stmt *st, enum sc_status *s)
{
	struct sim_process *p = process_find(sim, st->proc);

	if (p->as)
		return p;
	*s = sim_run_error(sim, st, "process '%s' has no address space any more", p->name);
	return NULL;
}

static const char *const level_names[] = {"", "PT", "PD", "PDPT", "PML4"};

/* The flags set, spelled as every other view spells them (x86_format_entry's names). */
static void flag_text(char *buf, size_t n, page_flags_t f)
{
	snprintf(buf, n, "%s%s%s%s%s%s%s%s", f & PG_PRESENT ? "P" : "", f & PG_WRITABLE ? " RW" : "",
		 f & PG_USER ? " US" : "", f & PG_WRITE_THROUGH ? " PWT" : "",
		 f & PG_CACHE_DISABLE ? " PCD" : "", f & PG_ACCESSED ? " A" : "",
		 f & PG_DIRTY ? " D" : "", f & PG_NO_EXEC ? " XD" : "");
}

struct pt_print {
	struct sim *sim;
	bool xv6;
	uint64_t tables[5]; /* the table frame at each level, as the walk goes */
	uint64_t leaves, ntables, protnone;
};

static uint64_t entry_at(struct sim *sim, uint64_t table, unsigned idx)
{
	uint64_t e;

	memcpy(&e, sim->arena.base + table + 8ull * idx, sizeof(e));
	return e;
}

static void print_entry(struct pt_print *c, unsigned level, uint64_t va, uint64_t e)
{
	unsigned idx = pt_index(va, level);
	uint64_t end = va + pt_level_size(level) - 1;
	char fl[64];

	if (c->xv6) {
		for (unsigned d = level; d < 5; d++)
			fputs(" ..", c->sim->out);
		fprintf(c->sim->out, "%u: va 0x%012" PRIx64 "-0x%012" PRIx64 " pte 0x%016" PRIx64
				     " pa 0x%" PRIx64,
			idx, va, end, e, pte_address(e, level));
		return;
	}
	flag_text(fl, sizeof(fl), pte_flags(e, level));
	fprintf(c->sim->out, "%*s%-4s[%3u] 0x%012" PRIx64 "-0x%012" PRIx64 " 0x%016" PRIx64 " %-16s",
		2 + 2 * (4 - (int)level), "", level_names[level], idx, va, end, e, fl);
}

static bool pt_table(void *ctx, frame_t t, unsigned level, uint64_t va)
{
	struct pt_print *c = ctx;

	c->tables[level] = t.base;
	c->ntables++;
	if (level == PT_LEVEL_PML4) {
		fprintf(c->sim->out, c->xv6 ? "page table 0x%" PRIx64 "\n" : "  PML4 table at 0x%" PRIx64 "\n",
			t.base);
		return true;
	}
	print_entry(c, level + 1, va, entry_at(c->sim, c->tables[level + 1], pt_index(va, level + 1)));
	if (c->xv6)
		fputc('\n', c->sim->out);
	else
		fprintf(c->sim->out, " -> %s table 0x%" PRIx64 "\n", level_names[level], t.base);
	return true;
}

static bool pt_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct pt_print *c = ctx;
	frame_t f = { pte_address(e, level) };
	struct page_info *info = get_page_info(f);

	c->leaves++;
	print_entry(c, level, va, e);
	if (c->xv6) {
		fputc('\n', c->sim->out);
		return true;
	}
	fprintf(c->sim->out, " -> frame 0x%" PRIx64, f.base);
	if (info && frame_eq(f, zero_frame())) /* the zero frame is a managed frame */
		fprintf(c->sim->out, " (zero frame, %" PRIu64 " refs)", page_info_refcount(info).count);
	else if (info) {
		struct refcount rc = page_info_refcount(info);

		fprintf(c->sim->out, " (%s, %" PRIu64 " ref%s)",
			rc.kind == REFCOUNT_COW ? "cow" : rc.kind == REFCOUNT_SHARED ? "shared" : "private",
			rc.count, rc.count == 1 ? "" : "s");
	} else {
		fprintf(c->sim->out, " (not managed: device memory)");
	}
	fputc('\n', c->sim->out);
	return true;
}

/* A PROT_NONE page keeping its frame: not present to the processor (P=0). */
static bool pt_protnone(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct pt_print *c = ctx;
	frame_t f = { pte_address(e, level) };
	struct page_info *info = get_page_info(f);

	c->protnone++;
	print_entry(c, level, va, e);
	fprintf(c->sim->out, " -> not present (PROT_NONE), keeps frame 0x%" PRIx64, f.base);
	if (info)
		fprintf(c->sim->out, " (%" PRIu64 " ref%s)", page_info_refcount(info).count,
			page_info_refcount(info).count == 1 ? "" : "s");
	fputc('\n', c->sim->out);
	return true;
}

static enum sc_status exec_show_pagetables(struct sim *sim, const struct sc_stmt *st)
{
	enum sc_status s;
	struct sim_process *p = live(sim, st, &s);
	struct pt_print c;
	struct mapper_visitor v = { pt_table, pt_leaf, &c, pt_protnone };

	if (!p)
		return s;
	memset(&c, 0, sizeof(c));
	c.sim = sim;
	c.xv6 = st->pagetables.xv6;
	if (c.xv6) {
		fprintf(sim->out, "%s: ", p->name);
		addr_space_visit_tables(p->as, &v);
		return SC_CONTINUE;
	}
	fprintf(sim->out, "%s: page tables of the user half (cr3 0x%" PRIx64 "):\n", p->name,
		addr_space_cr3(p->as));
	addr_space_visit_tables(p->as, &v);
	fprintf(sim->out, "  %" PRIu64 " table%s, %" PRIu64 " present page%s", c.ntables,
		c.ntables == 1 ? "" : "s", c.leaves, c.leaves == 1 ? "" : "s");
	if (c.protnone)
		fprintf(sim->out, ", %" PRIu64 " PROT_NONE page%s keeping a frame", c.protnone,
			c.protnone == 1 ? "" : "s");
	fputc('\n', sim->out);
	return SC_CONTINUE;
}

/* ---- show mappings A ---- */

enum run_kind { RUN_ONE, RUN_SHARED, RUN_COW, RUN_ZERO, RUN_DEVICE };

struct map_run {
	bool open;
	uint64_t va, end, pa, pa_next; /* [va, end) mapped from pa; pa_next continues it */
	page_flags_t rights;
	enum run_kind kind;
	uint64_t refs;
};

struct map_print {
	struct sim *sim;
	struct map_run r;
	uint64_t runs, pages;
};

static void print_run(struct map_print *c)
{
	static const char *const kinds[] = {"private", "shared", "copy-on-write", "zero frame",
					    "device memory"};
	const struct map_run *r = &c->r;
	uint64_t size = r->end - r->va;
	char pr[64];

	if (!r->open)
		return;
	c->runs++;
	fprintf(c->sim->out, "  0x%012" PRIx64 "-0x%012" PRIx64 " %6" PRIu64 " KiB -> ", r->va,
		r->end - 1, size >> 10);
	if (r->kind == RUN_ZERO)
		snprintf(pr, sizeof(pr), "0x%" PRIx64 " (every page)", r->pa);
	else
		snprintf(pr, sizeof(pr), "0x%" PRIx64 "-0x%" PRIx64, r->pa, r->pa_next - 1);
	fprintf(c->sim->out, "%-27s", pr);
	fprintf(c->sim->out, " %c%c%c %s", 'r', r->rights & PG_WRITABLE ? 'w' : '-',
		r->rights & PG_NO_EXEC ? '-' : 'x', kinds[r->kind]);
	if (r->kind != RUN_DEVICE)
		fprintf(c->sim->out, ", %" PRIu64 " ref%s", r->refs, r->refs == 1 ? "" : "s");
	fputc('\n', c->sim->out);
}

static bool map_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct map_print *c = ctx;
	uint64_t size = pt_level_size(level), pa = pte_address(e, level);
	page_flags_t rights = pte_flags(e, level) & (PG_WRITABLE | PG_NO_EXEC | PG_CACHE_DISABLE);
	frame_t f = {pa};
	struct page_info *info = get_page_info(f);
	struct refcount rc = {REFCOUNT_FREE, 0};
	enum run_kind kind;
	struct map_run *r = &c->r;

	if (info)
		rc = page_info_refcount(info);
	kind = !info			     ? RUN_DEVICE
	       : frame_eq(f, zero_frame())   ? RUN_ZERO
	       : rc.kind == REFCOUNT_COW     ? RUN_COW
	       : rc.kind == REFCOUNT_SHARED ? RUN_SHARED
					     : RUN_ONE;
	c->pages += size >> 12;
	if (r->open && r->end == va && r->rights == rights && r->kind == kind &&
	    r->refs == rc.count && (kind == RUN_ZERO ? r->pa == pa : r->pa_next == pa)) {
		r->end += size;
		r->pa_next += size;
		return true;
	}
	print_run(c);
	*r = (struct map_run){true, va, va + size, pa, pa + size, rights, kind, rc.count};
	return true;
}

static enum sc_status exec_show_mappings(struct sim *sim, const struct sc_stmt *st)
{
	enum sc_status s;
	struct sim_process *p = live(sim, st, &s);
	struct map_print c;
	struct mapper_visitor v = {.leaf = map_leaf, .ctx = &c}; /* present pages only */

	if (!p)
		return s;
	memset(&c, 0, sizeof(c));
	c.sim = sim;
	fprintf(sim->out, "%s: mappings (virtual range, size -> physical range, rights, frames):\n",
		p->name);
	addr_space_visit_tables(p->as, &v);
	print_run(&c);
	fprintf(sim->out, "  %" PRIu64 " range%s, %" PRIu64 " page%s present\n", c.runs,
		c.runs == 1 ? "" : "s", c.pages, c.pages == 1 ? "" : "s");
	return SC_CONTINUE;
}

struct grant_print {
	struct sim *sim;
	unsigned n;
};

static bool print_grant(void *ctx, const struct grant_view *g)
{
	struct grant_print *c = ctx;
	FILE *out = c->sim->out;

	c->n++;
	fprintf(out, "  [0x%012" PRIx64 ", 0x%012" PRIx64 ") %8" PRIu64 " KiB %c%c%c %-16s",
		g->start, g->start + g->size, g->size >> 10, g->prot & MM_PROT_READ ? 'r' : '-',
		g->prot & MM_PROT_WRITE ? 'w' : '-', g->prot & MM_PROT_EXEC ? 'x' : '-',
		grant_provider_name(g->provider));
	switch (g->provider) {
	case PROVIDER_PHYS_BORROWED:
		fprintf(out, " phys 0x%" PRIx64, g->detail);
		break;
	case PROVIDER_EXTERNAL:
		fprintf(out, " from 0x%" PRIx64, g->detail);
		break;
	case PROVIDER_FMAP_BORROWED:
		fprintf(out, " file offset 0x%" PRIx64, g->detail);
		break;
	case PROVIDER_ALLOCATED:
	case PROVIDER_ALLOCATED_SHARED:
		break;
	}
	if (g->pinned)
		fprintf(out, " pinned");
	fputc('\n', out);
	return true;
}

static enum sc_status exec_show_grants(struct sim *sim, const struct sc_stmt *st)
{
	enum sc_status s;
	struct sim_process *p = live(sim, st, &s);
	struct grant_print c = { sim, 0 };

	if (!p)
		return s;
	fprintf(sim->out, "%s: grants:\n", p->name);
	addr_space_for_each_grant(p->as, print_grant, &c);
	fprintf(sim->out, "  %u grant%s\n", c.n, c.n == 1 ? "" : "s");
	return SC_CONTINUE;
}

static enum sc_status exec_show_process(struct sim *sim, const struct sc_stmt *st)
{
	enum sc_status s;
	struct sim_process *p = live(sim, st, &s);
	struct addr_space_stats a;
	struct fserve_view f;

	if (!p)
		return s;
	addr_space_get_stats(p->as, &a);
	addr_space_fserve_info(p->as, &f);
	fprintf(sim->out,
		"%s: rss %" PRIu64 " pages, %" PRIu64 " table frames, last cpu %u\n"
		"  faults: demand-zero %" PRIu64 ", zero-frame %" PRIu64 ", cow-copy %" PRIu64
		", cow-reuse %" PRIu64 ", shared %" PRIu64 ", spurious %" PRIu64 ", segv %" PRIu64
		", oom %" PRIu64 "\n",
		p->name, addr_space_rss(p->as), addr_space_table_frames(p->as), p->last_cpu,
		a.faults_demand_zero, a.faults_zero_mapped, a.faults_cow_copy, a.faults_cow_reuse,
		a.faults_shared, a.faults_spurious, a.faults_segv, a.faults_oom);
	/* reclaim and swap: every fault, the major ones (read back from swap), the minor ones */
	fprintf(sim->out,
		"  swap: %" PRIu64 " pages swapped out, %" PRIu64 " evicted so far; faults %" PRIu64
		" (major %" PRIu64 ", minor %" PRIu64 ", %" PRIu64 " of them from the swap cache)\n",
		addr_space_swapped(p->as), a.evictions, a.faults_total, a.faults_major,
		a.faults_total - a.faults_major, a.faults_swap_cached);
	if (f.active)
		fprintf(sim->out, "  serves [0x%" PRIx64 ", 0x%" PRIx64 "): %" PRIu64 " pins, %" PRIu64
				  " unmap notifications\n",
			f.base, f.base + f.size, f.pins, f.notified);
	return SC_CONTINUE;
}

const struct sc_command mm_view_commands[] = {
	{"show pagetables", "show pagetables A [style=tree|xv6]",
	 "A's user page tables as a tree: level, index, range, raw entry, flags, physical address; style=xv6 in dotted depth markers",
	 SC_KERNEL_ON, parse_show_pagetables, exec_show_pagetables},
	{"show mappings", "show mappings A",
	 "A's present pages as coalesced ranges: virtual range -> physical range, rights, kind of frame and references",
	 SC_KERNEL_ON, parse_one_process, exec_show_mappings},
	{"show grants", "show grants A", "A's grants: range, protection, provider", SC_KERNEL_ON,
	 parse_one_process, exec_show_grants},
	{"show process", "show process A", "A's counters: faults by kind, resident pages, tables",
	 SC_KERNEL_ON, parse_one_process, exec_show_process},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
