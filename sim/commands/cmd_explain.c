/*
 * `explain A ADDR [read|write|fetch]`: what would happen if process A made this access now,
 * told step by step, without doing it.
 *
 *   1. the canonical check and the four indexes cut from the address;
 *   2. the walk as the processor of A's last CPU (or cpu=N) would make it through A's tables:
 *      each level's entry address, raw value and decoded flags (x86_probe: no A/D update, no
 *      TLB fill, no CR2);
 *   3. the physical address, or where and why the walk faults, with the #PF error code;
 *   4. on a fault, what the kernel's handler would do, found from A's grant covering ADDR
 *      (addr_space_for_each_grant) and the page's present translation (addr_space_lookup):
 *      demand-zero, the zero frame, a copy-on-write copy or reuse (with the frame's
 *      references), a shared or borrowed page, a rights upgrade, or segv and why; and how
 *      many frames that takes against what is available; for a page in swap, the major or
 *      minor fault (slot, swap cache, a slot shared after fork) and, under `limit`, the page
 *      the policy would evict first.
 *
 * Nothing changes: not the tables, not the TLBs, not the counters.
 */
#include <inttypes.h>
#include <string.h>

#include "arch/x86_64/mapper.h"
#include "arch/x86_64/page_flags.h"
#include "commands/commands.h"
#include "page_info.h"
#include "pressure.h"
#include "commands/process_commands.h"
#include "replace_policy.h"
#include "scenario/future_access.h"
#include "scenario/sim.h"
#include "swap_area.h"
#include "user_mm.h"
#include "user_mm_view.h"

static const char *const kind_words[] = {"read", "write", "fetch", "exec", NULL};

/* explain A ADDR [read|write|fetch|exec] [cpu=N] */
static bool parse_explain(struct sc_parse *p)
{
	struct sc_stmt *st = p->st;
	int k = 0;

	if (!sp_argc(p, 2, 3) || !sp_process(p, 0, st->proc) || !sp_num(p, 1, &st->explain.va))
		return false;
	if (p->npos == 3 && !sp_choice(p, 2, kind_words, &k))
		return false;
	st->explain.kind = k == 0 ? X86_READ : k == 1 ? X86_WRITE : X86_FETCH;
	return sp_opt_cpu(p);
}

static const char *kind_name(int kind)
{
	return kind == X86_WRITE ? "write" : kind == X86_FETCH ? "fetch" : "read";
}

/* ---- the grant covering an address ---- */

struct grant_find {
	uint64_t va;
	bool found;
	struct grant_view g;
};

static bool find_grant(void *ctx, const struct grant_view *g)
{
	struct grant_find *f = ctx;

	if (f->va >= g->start && f->va - g->start < g->size) {
		f->g = *g;
		f->found = true;
		return false;
	}
	return f->va >= g->start; /* grants come in address order */
}

static void prot_text(char out[4], unsigned prot)
{
	out[0] = prot & MM_PROT_READ ? 'r' : '-';
	out[1] = prot & MM_PROT_WRITE ? 'w' : '-';
	out[2] = prot & MM_PROT_EXEC ? 'x' : '-';
	out[3] = '\0';
}

/* ---- who else maps a frame ---- */

struct sharer_find {
	uint64_t frame;
	uint64_t va;
	bool found;
};

static bool find_frame_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct sharer_find *s = ctx;
	uint64_t base = pte_address(e, level), size = pt_level_size(level);

	if (s->frame >= base && s->frame - base < size) {
		s->va = va + (s->frame - base);
		s->found = true;
		return false;
	}
	return true;
}

static void print_sharers(struct sim *sim, const struct sim_process *self, uint64_t frame)
{
	bool any = false;

	for (size_t i = 0; i < sim->nprocs; i++) {
		struct sim_process *q = &sim->procs[i];
		struct sharer_find s = {frame, 0, false};
		struct mapper_visitor v = {.leaf = find_frame_leaf, .ctx = &s};

		if (q == self || !q->as)
			continue;
		addr_space_visit_tables(q->as, &v);
		if (!s.found)
			continue;
		fprintf(sim->out, "%s %s at 0x%" PRIx64, any ? "," : "         also mapped by", q->name,
			s.va);
		any = true;
	}
	if (any)
		fputc('\n', sim->out);
}

/* "cow, 2 references", "one reference", "the zero frame, 5 references", "not managed" */
static void frame_text(char *buf, size_t n, uint64_t frame, struct refcount *rc_out)
{
	frame_t f = frame_containing(frame);
	struct page_info *info = get_page_info(f);
	struct refcount rc = {REFCOUNT_FREE, 0};

	if (info)
		rc = page_info_refcount(info);
	if (rc_out)
		*rc_out = rc;
	if (!info)
		snprintf(buf, n, "not managed by the allocator (device memory)");
	else if (frame_eq(f, zero_frame()))
		snprintf(buf, n, "the zero frame, %" PRIu64 " reference%s", rc.count,
			 rc.count == 1 ? "" : "s");
	else
		snprintf(buf, n, "%s, %" PRIu64 " reference%s",
			 rc.kind == REFCOUNT_COW      ? "copy-on-write"
			 : rc.kind == REFCOUNT_SHARED ? "shared"
						      : "private",
			 rc.count, rc.count == 1 ? "" : "s");
}

/* ---- the kernel's intent ---- */

struct intent {
	const char *result;  /* what the access ends as: ok, segv */
	uint64_t frames;     /* frames the correction allocates (page and tables) */
};

static void need_frames(struct sim *sim, struct intent *in, uint64_t page, unsigned tables)
{
	uint64_t avail = available_frames();

	in->frames = page + tables;
	if (!in->frames)
		return;
	fprintf(sim->out, "         needs %" PRIu64 " frame%s", in->frames, in->frames == 1 ? "" : "s");
	if (tables)
		fprintf(sim->out, " (%s%u table%s: %s)", page ? "the page and " : "", tables,
			tables == 1 ? "" : "s",
			tables == 1 ? "a PT" : tables == 2 ? "a PD and a PT" : "a PDPT, a PD and a PT");
	fprintf(sim->out, "; %" PRIu64 " available\n", avail);
	if (avail < in->frames)
		fprintf(sim->out, "         not enough: the pressure governor takes over (evacuate, then "
				  "oom=auto kills the largest process and retries; oom=picker freezes "
				  "and the access ends as oom)\n");
}

/* ---- swap ---- */

struct limit_find {
	struct sim *sim;
	struct addr_space *as;
	uint64_t now_va;
	unsigned used, n;
	struct replace_view_place place[64];
};

static void limit_place(void *ctx, unsigned i, const struct replace_view_place *pl)
{
	struct limit_find *f = ctx;

	(void)i;
	if (f->n < 64)
		f->place[f->n++] = *pl;
	f->used += pl->used;
}

/* Under `limit`, a fault that makes one more page resident while the limit is reached first
 * evicts one of the space's pages: which one, as the policy would choose it now. */
static void explain_limit(struct sim *sim, struct sim_process *p, uint64_t va)
{
	struct limit_find f = {sim, p->as, va, 0, 0, {{0}}};
	struct replace_view v;
	int victim = -1;
	unsigned cleared = 0;
	uint64_t best = 0;

	if (!replace_view(p->as, &v, limit_place, &f) || f.used < v.limit || f.n < v.places)
		return;
	for (unsigned i = 0; i < f.n; i++) {
		const struct replace_view_place *pl = &f.place[i];
		uint64_t key;

		if (!pl->used)
			continue;
		key = v.policy == REPLACE_FIFO ? UINT64_MAX - pl->arrived
		      : v.policy == REPLACE_LRU ? UINT64_MAX - pl->used_at
		      : v.policy == REPLACE_OPT ? sim_future_next_use(sim, p->as, pl->va, va)
						: 0;
		if (v.policy != REPLACE_CLOCK &&
		    (victim < 0 || key > best ||
		     (key == best && pl->arrived < f.place[victim].arrived))) {
			victim = (int)i;
			best = key;
		}
	}
	if (v.policy == REPLACE_CLOCK) {
		/* the hand clears set bits until it meets a clear one; all set: a full round */
		for (unsigned k = 0; k < f.n && victim < 0; k++) {
			unsigned i = (v.hand + k) % f.n;

			if (!f.place[i].used)
				continue;
			if (!f.place[i].accessed)
				victim = (int)i;
			else
				cleared++;
		}
		if (victim < 0)
			victim = (int)(v.hand % f.n);
	}
	if (victim < 0)
		return;
	fprintf(sim->out, "  limit: %s already has %" PRIu64 " resident pages, its limit: first the "
			  "%s policy evicts 0x%" PRIx64 " (",
		p->name, v.limit, replace_policy_name(v.policy), f.place[victim].va);
	switch (v.policy) {
	case REPLACE_FIFO:
		fputs("resident the longest", sim->out);
		break;
	case REPLACE_LRU:
		fputs("its last access is the oldest", sim->out);
		break;
	case REPLACE_OPT:
		fputs(best == UINT64_MAX ? "never accessed again" : "its next access is the farthest",
		      sim->out);
		break;
	default:
		if (cleared)
			fprintf(sim->out, "the hand clears %u accessed bit%s first, ", cleared,
				cleared == 1 ? "" : "s");
		fprintf(sim->out, "its bit %s", cleared == f.used ? "cleared on the way round" : "clear");
		break;
	}
	fputs("), rss -1: written to a swap slot if dirty, dropped if its slot still holds it\n",
	      sim->out);
}

/* A fault on a swap entry (core/reclaim.c, swap_in_page): what comes back from where. */
static void explain_swapped(struct sim *sim, struct sim_process *p, const struct grant_view *g,
			    uint64_t va, int kind, uint64_t slot, bool cached, struct intent *in)
{
	FILE *out = sim->out;
	uint64_t count = swap_slot_count(slot);
	char prot[4];

	prot_text(prot, g->prot);
	fprintf(out, "  page: swapped out: the PT entry is a swap entry (P=0, bit 10 set, bit 11 "
		     "clear), slot %" PRIu64 " stored inverted in bits 51:12; the slot's count is %" PRIu64
		     " (%s)\n",
		slot, count,
		cached ? "its holders and the swap cache, which pairs it with a frame"
		       : count > 1 ? "the swap entries that hold it: shared after fork"
				   : "this entry alone");
	if (g->provider == PROVIDER_ALLOCATED_SHARED) {
		fprintf(out, "  kernel: major fault: reads slot %" PRIu64 " into a fresh frame and maps it "
			     "%s here and in every space of the family whose entry holds the same slot "
			     "(shared memory keeps one frame); those entries let the slot go, rss +1\n",
			slot, prot);
		need_frames(sim, in, 1, 0);
		return;
	}
	if (mm_limit_of(p->as))
		explain_limit(sim, p, va);
	if (cached) {
		fprintf(out, "  kernel: minor fault: slot %" PRIu64 " is still in a frame (the swap cache: "
			     "another space maps it copy-on-write); mapped read-only, nothing read, rss +1\n",
			slot);
		if (kind == X86_WRITE) {
			fprintf(out, "         the retried write faults again: copy-on-write copy into a new "
				     "frame, mapped %s\n", prot);
			need_frames(sim, in, 1, 0);
		}
		return;
	}
	if (kind == X86_WRITE)
		fprintf(out, "  kernel: major fault: reads slot %" PRIu64 " back into a fresh frame, "
			     "mapped %s: the write makes it differ from the slot, so this entry lets the "
			     "slot go (%s), rss +1\n",
			slot, prot,
			count > 1 ? "the other holders keep it: after fork the slot is copy-on-write, and "
				    "this space now has its own copy"
				  : "the slot is free again");
	else
		fprintf(out, "  kernel: major fault: reads slot %" PRIu64 " back into a fresh frame, "
			     "mapped read-only and paired with the slot (swap cache): evicting it again "
			     "needs no write; a later write faults once more to map it %s and lets the "
			     "slot go, rss +1\n",
			slot, prot);
	need_frames(sim, in, 1, 0);
}

/* What page_fault_handler would do for this fault (core/page_fault.c, correct_in). */
static void explain_kernel(struct sim *sim, struct sim_process *p, uint64_t va, int kind,
			   const struct x86_xlate *x, const struct x86_walk_trace *t,
			   struct intent *in)
{
	FILE *out = sim->out;
	struct grant_find gf = {va & ~(uint64_t)0xfff, false, {0}};
	struct page_lookup l;
	bool present;
	char prot[4], ftext[96];
	unsigned tables = 0;
	bool grant_ok;

	in->result = "segv";
	in->frames = 0;
	if (x->outcome == X86_GP) {
		fprintf(out, "  kernel: #GP is not a page fault: the process gets SIGSEGV -> segv\n");
		return;
	}
	if ((x->err & 0x8) || !va_is_user(va)) {
		fprintf(out, "  kernel: refuses: %s -> segv\n",
			(x->err & 0x8) ? "a reserved bit means corrupt tables" : "a kernel-half address");
		return;
	}
	addr_space_for_each_grant(p->as, find_grant, &gf);
	if (!gf.found) {
		fprintf(out, "  grant: none covers 0x%" PRIx64 "\n", va);
		fprintf(out, "  kernel: segv: no grant (the address was never mapped, or was unmapped)\n");
		return;
	}
	prot_text(prot, gf.g.prot);
	fprintf(out, "  grant: [0x%" PRIx64 ", 0x%" PRIx64 ") %s %s", gf.g.start,
		gf.g.start + gf.g.size, prot, grant_provider_name(gf.g.provider));
	if (gf.g.provider == PROVIDER_PHYS_BORROWED)
		fprintf(out, " phys 0x%" PRIx64, gf.g.detail);
	else if (gf.g.provider == PROVIDER_EXTERNAL)
		fprintf(out, " from 0x%" PRIx64, gf.g.detail);
	else if (gf.g.provider == PROVIDER_FMAP_BORROWED)
		fprintf(out, " file offset 0x%" PRIx64, gf.g.detail);
	fputc('\n', out);
	grant_ok = kind == X86_WRITE   ? (gf.g.prot & MM_PROT_WRITE) != 0
		   : kind == X86_FETCH ? (gf.g.prot & MM_PROT_EXEC) != 0
				       : gf.g.prot != 0;
	if (!grant_ok) {
		fprintf(out, "  kernel: segv: protection: the grant is %s, the access a %s\n", prot,
			kind_name(kind));
		return;
	}
	present = addr_space_lookup(p->as, va, &l);
	in->result = "ok";
	if (!present) {
		uint64_t slot;
		bool cached;

		if (t->stop == X86_STOP_NOT_PRESENT && t->stop_level > 1)
			tables = (unsigned)t->stop_level - 1;
		if ((gf.g.provider == PROVIDER_ALLOCATED || gf.g.provider == PROVIDER_ALLOCATED_SHARED) &&
		    t->stop_level == 1 && swap_entry_at(p->as, va, &slot, &cached)) {
			explain_swapped(sim, p, &gf.g, va, kind, slot, cached, in);
			return;
		}
		if (gf.g.provider == PROVIDER_ALLOCATED && kind == X86_WRITE && mm_limit_of(p->as))
			explain_limit(sim, p, va);
		switch (gf.g.provider) {
		case PROVIDER_ALLOCATED:
			if (kind != X86_WRITE) {
				frame_text(ftext, sizeof(ftext), zero_frame().base, NULL);
				fprintf(out, "  kernel: zero frame: a %s of untouched private memory maps the "
					     "shared zero frame 0x%" PRIx64 " read-only (now %s; this adds one), "
					     "rss +1\n",
					kind_name(kind), zero_frame().base, ftext + strlen("the zero frame, "));
				need_frames(sim, in, 0, tables);
				return;
			}
			fprintf(out, "  kernel: demand-zero: a fresh zeroed frame (1 reference) mapped "
				     "%s, rss +1\n", prot);
			need_frames(sim, in, 1, tables);
			return;
		case PROVIDER_ALLOCATED_SHARED:
			fprintf(out, "  kernel: demand-zero, shared: a fresh zeroed frame (shared memory "
				     "never uses the zero frame) mapped %s, rss +1\n", prot);
			need_frames(sim, in, 1, tables);
			return;
		case PROVIDER_PHYS_BORROWED:
			fprintf(out, "  kernel: maps physical 0x%" PRIx64 " (device memory, no frame "
				     "allocated, cache-disabled), rss +1\n",
				gf.g.detail + ((va & ~(uint64_t)0xfff) - gf.g.start));
			need_frames(sim, in, 0, tables);
			return;
		case PROVIDER_EXTERNAL:
			fprintf(out, "  kernel: shared mapping: maps the lender's page at 0x%" PRIx64
				     " (the same frame, one more shared reference; the lender faults "
				     "it in first if it is absent; a copy-on-write page there is made "
				     "private to the lender before it is shared), rss +1\n",
				gf.g.detail + ((va & ~(uint64_t)0xfff) - gf.g.start));
			need_frames(sim, in, 0, tables);
			return;
		case PROVIDER_FMAP_BORROWED:
			fprintf(out, "  kernel: shared mapping: maps the file server's page at file "
				     "offset 0x%" PRIx64 " (the same frame, shared; segv if the server "
				     "stopped serving), rss +1\n",
				gf.g.detail + ((va & ~(uint64_t)0xfff) - gf.g.start));
			need_frames(sim, in, 0, tables);
			return;
		}
		return;
	}
	{
		uint64_t frame = l.pa & ~(uint64_t)0xfff;
		struct refcount rc;
		bool may_write;

		frame_text(ftext, sizeof(ftext), frame, &rc);
		fprintf(out, "  page: present, frame 0x%" PRIx64 " (%s), mapped %s%s\n", frame, ftext,
			l.writable ? "writable" : "read-only", l.executable ? "" : ", no-execute");
		print_sharers(sim, p, frame);
		may_write = !l.zero_frame && rc.kind != REFCOUNT_COW;
		if (kind == X86_WRITE && !may_write) {
			if (l.zero_frame)
				fprintf(out, "  kernel: copy-on-write of the zero frame: a fresh zeroed frame "
					     "replaces it, mapped %s (the zero frame drops to %" PRIu64
					     " reference%s)\n",
					prot, rc.count - 1, rc.count - 1 == 1 ? "" : "s");
			else
				fprintf(out, "  kernel: copy-on-write copy: frame 0x%" PRIx64 " has %" PRIu64
					     " references, so the page is copied into a new frame "
					     "mapped %s; 0x%" PRIx64 " drops to %" PRIu64 " reference%s\n",
					frame, rc.count, prot, frame, rc.count - 1,
					rc.count - 1 == 1 ? "" : "s");
			need_frames(sim, in, 1, 0);
			return;
		}
		if (kind == X86_WRITE && gf.g.provider == PROVIDER_ALLOCATED &&
		    rc.kind == REFCOUNT_ONE)
			fprintf(out, "  kernel: copy-on-write reuse: frame 0x%" PRIx64 " has one "
				     "reference left (the other owners copied or exited), so it is made "
				     "writable in place; nothing is allocated or copied\n",
				frame);
		else
			fprintf(out, "  kernel: rights upgrade: the entry gets the grant's rights (%s) "
				     "in place; nothing is allocated\n",
				prot);
	}
}

static enum sc_status exec_explain(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->proc);
	uint64_t va = st->explain.va;
	struct x86_cpu probe;
	struct x86_walk_trace t;
	struct x86_xlate x;
	struct intent in = {"ok", 0};
	unsigned cpu;
	char buf[160];
	bool upper;

	fprintf(sim->out, "%s: explain %s 0x%" PRIx64, p->name, kind_name(st->explain.kind), va);
	if (!process_check_alive(p)) {
		if (p->state == PROC_KILLED)
			fprintf(sim->out, ": %s has been killed: every access ends as killed\n", p->name);
		else
			fprintf(sim->out, ": %s has exited: every access ends as exited (which "
				"`-> killed` matches too)\n", p->name);
		return SC_CONTINUE;
	}
	cpu = st->cpu >= 0 ? (unsigned)st->cpu : p->last_cpu;
	probe = sim->cpus[cpu]; /* a copy: the probe reads it only, with A's tables */
	probe.cr3 = addr_space_cr3(p->as);
	fprintf(sim->out, " by user on cpu%u, cr3 0x%" PRIx64 "\n", cpu, probe.cr3);

	upper = (va >> 47) & 1;
	if (!va_canonical(va)) {
		fprintf(sim->out, "  canonical: no: bits 63:47 are not all equal (0x%04" PRIx64
				  " then bit 47 = %d)\n",
			va >> 48, (int)upper);
	} else {
		fprintf(sim->out, "  canonical: yes, bits 63:47 all %d (%s half)\n", (int)upper,
			upper ? "kernel" : "user");
		fprintf(sim->out, "  indexes: PML4 %u | PDPT %u | PD %u | PT %u | offset 0x%03" PRIx64 "\n",
			pt_index(va, 4), pt_index(va, 3), pt_index(va, 2), pt_index(va, 1), va & 0xfff);
	}
	memset(&t, 0, sizeof(t));
	x86_probe(&probe, va, st->explain.kind, true, false, &x, &t);
	for (int i = 0; i < t.nsteps; i++) {
		const struct x86_walk_step *s = &t.steps[i];

		x86_format_entry(buf, sizeof(buf), s->entry, s->level, &probe);
		fprintf(sim->out, "  %-4s[%3u] @0x%-10" PRIx64 " = 0x%016" PRIx64 "  %s\n",
			x86_level_name(s->level), s->index, s->entry_pa, s->entry, buf);
	}
	switch (x.outcome) {
	case X86_OK: {
		uint64_t size = (uint64_t)1 << (t.page_shift ? t.page_shift : 12);
		uint64_t frame = x.pa & ~(size - 1);

		frame_text(buf, sizeof(buf), x.pa & ~(uint64_t)0xfff, NULL);
		fprintf(sim->out, "  hardware: translates to pa 0x%" PRIx64 " (%s page at 0x%" PRIx64
				  "; %s)\n",
			x.pa, size == 4096 ? "4 KiB" : size == (1u << 21) ? "2 MiB" : "1 GiB", frame, buf);
		print_sharers(sim, p, x.pa & ~(uint64_t)0xfff);
		fprintf(sim->out, system_frozen() ? "  kernel: no fault, but the system is frozen: the "
						    "access is not run\n"
						  : "  kernel: not involved: no fault\n");
		break;
	}
	case X86_GP:
		fprintf(sim->out, "  hardware: #GP (no walk, CR2 unchanged)\n");
		explain_kernel(sim, p, va, st->explain.kind, &x, &t, &in);
		break;
	case X86_PF: {
		char err[96];

		x86_format_pf_error(err, sizeof(err), x.err);
		fprintf(sim->out, "  hardware: #PF at %s%s entry%s: %s%s%s\n",
			t.stop == X86_STOP_PROTECTION ? "the end of the walk (the " : "the ",
			t.stop_level > 0 ? x86_level_name(t.stop_level) : "?",
			t.stop == X86_STOP_PROTECTION ? ")" : "",
			t.stop == X86_STOP_NOT_PRESENT ? "not present"
			: t.stop == X86_STOP_RESERVED  ? "reserved bit set"
						       : "protection",
			t.reason ? ": " : "", t.reason ? t.reason : "");
		fprintf(sim->out, "            error code 0x%x = %s, CR2 = 0x%" PRIx64 "\n", x.err, err,
			va);
		explain_kernel(sim, p, va, st->explain.kind, &x, &t, &in);
		break;
	}
	case X86_BUS:
		fprintf(sim->out, "  hardware: the walk needs physical 0x%" PRIx64
				  ", beyond the end of physical memory\n",
			x.bad_pa);
		in.result = "a kernel bug";
		break;
	}
	if (system_frozen())
		fprintf(sim->out, "  -> oom: the system is frozen at the emergency picker; no user code "
				  "runs until `pick NAME`\n");
	else if (x.outcome == X86_OK || in.frames == 0 || in.frames <= available_frames())
		fprintf(sim->out, "  -> %s%s\n", in.result,
			x.outcome == X86_PF && strcmp(in.result, "ok") == 0 ? " after the fault is corrected and the access retried" : "");
	else
		fprintf(sim->out, "  -> oom or killed, as the pressure governor decides\n");
	return SC_CONTINUE;
}

const struct sc_command explain_commands[] = {
	{"explain", "explain A ADDR [read|write|fetch] [cpu=N]",
	 "what A's access would do now: canonical check, each level's entry, the fault and the kernel's correction (changes nothing)",
	 SC_KERNEL_ON, parse_explain, exec_explain},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
