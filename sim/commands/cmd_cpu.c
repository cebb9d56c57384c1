/*
 * The bare processor's commands: cpu (control registers), access, flush, invlpg, their
 * expectations, and the views of a CPU and its TLB. Each runs on the CPU named by cpu=N
 * (which then stays current) or on the current one (cpu 0 at the start).
 */
#include <inttypes.h>
#include <string.h>

#include "commands/commands.h"
#include "scenario/sim.h"
#include "views/walk_narration.h"

enum cpu_key { K_WP, K_NXE, K_SMEP, K_SMAP, K_PKE, K_PGE, K_AC, K_PKRU, K_CR3, K_COUNT };
static const char *const cpu_keys[K_COUNT] = {"wp", "nxe", "smep", "smap", "pke",
					       "pge", "ac", "pkru", "cr3"};

/* cpu [cr3=..] [wp=0|1] ...: u[0] = keys given (bit per enum cpu_key), u[1] = their boolean
 * values, u[2] = cr3, u[3] = pkru. No key at all: print the registers. */
static bool parse_cpu(struct sc_parse *p)
{
	struct sc_stmt *st = p->st;
	bool have, on;

	if (!sp_argc(p, 0, 0) || !sp_opt_cpu(p))
		return false;
	for (int k = K_WP; k <= K_AC; k++) {
		if (!sp_opt_bool(p, cpu_keys[k], &on, &have))
			return false;
		if (have) {
			st->u[0] |= 1u << k;
			st->u[1] |= (uint64_t)on << k;
		}
	}
	if (!sp_opt_num(p, "pkru", &st->u[3], &have))
		return false;
	if (have) {
		if (st->u[3] > 0xffffffffull) {
			struct sc_option *o = sp_opt_find(p, "pkru");

			return sp_error_opt(p, o, "pkru= is a 32-bit register");
		}
		st->u[0] |= 1u << K_PKRU;
	}
	if (!sp_opt_num(p, "cr3", &st->u[2], &have))
		return false;
	if (have) {
		unsigned m = p->sc->machine.maxphyaddr;

		if (m < 64 && (st->u[2] >> m) != 0) {
			struct sc_option *o = sp_opt_find(p, "cr3");

			return sp_error_opt(p, o,
					"cr3=%s sets bits 63:%u, reserved with maxphyaddr=%u (MOV to CR3 would #GP)",
					o->value, m, m);
		}
		st->u[0] |= 1u << K_CR3;
	}
	return true;
}

static void print_regs(struct sim *sim, const struct x86_cpu *c)
{
	fprintf(sim->out,
		"cpu%u: cr3=0x%" PRIx64 " wp=%d pge=%d smep=%d smap=%d pke=%d nxe=%d ac=%d pkru=0x%x cr2=0x%" PRIx64
		"\n",
		sim->cur_cpu, c->cr3, c->cr0_wp, c->cr4_pge, c->cr4_smep, c->cr4_smap, c->cr4_pke,
		c->efer_nxe, c->rflags_ac, c->pkru, c->cr2);
}

static enum sc_status exec_cpu(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_cpu *c = sim_cpu_for(sim, st);
	uint64_t given = st->u[0];
	bool v;

	if (!given) {
		print_regs(sim, c);
		return SC_CONTINUE;
	}
	for (int k = K_WP; k < K_COUNT; k++) {
		if (!(given & (1u << k)))
			continue;
		v = (st->u[1] >> k) & 1;
		switch (k) {
		case K_WP:
			x86_set_wp(c, v);
			break;
		case K_NXE:
			x86_set_nxe(c, v);
			break;
		case K_SMEP:
			x86_set_smep(c, v);
			break;
		case K_SMAP:
			x86_set_smap(c, v);
			break;
		case K_PKE:
			x86_set_pke(c, v);
			break;
		case K_PGE:
			x86_set_pge(c, v);
			break;
		case K_AC:
			x86_set_ac(c, v);
			break;
		case K_PKRU:
			x86_set_pkru(c, (uint32_t)st->u[3]);
			break;
		case K_CR3:
			if (!x86_write_cr3(c, st->u[2]))
				return sim_run_error(sim, st, "MOV to CR3 raised #GP");
			break;
		}
	}
	if (sim_traces(TRACE_CPU))
		print_regs(sim, c);
	return SC_CONTINUE;
}

/*
 * The access description shared by `access` and `expect access`:
 * VADDR read|write|fetch user|supervisor [implicit]. Returns the index after it.
 * u[0] = va, kind = enum x86_access, flags bit 0 = user, bit 1 = implicit.
 */
static int parse_access_words(struct sc_parse *p)
{
	static const char *const kinds[] = {"read", "write", "fetch", NULL};
	static const char *const modes[] = {"supervisor", "user", NULL};
	int mode;

	if (!sp_num(p, 0, &p->st->u[0]) || !sp_choice(p, 1, kinds, &p->st->kind) ||
	    !sp_choice(p, 2, modes, &mode))
		return -1;
	p->st->flags = mode == 1 ? 1u : 0u;
	if (sp_word_is(p, 3, "implicit")) {
		p->st->flags |= 2u;
		return 4;
	}
	return 3;
}

static bool parse_access(struct sc_parse *p)
{
	int n = parse_access_words(p);

	return n >= 0 && sp_argc(p, n, n) && sp_opt_cpu(p);
}

/* Runs the access on its CPU; narrates with --trace. */
static enum sc_status do_access(struct sim *sim, const struct sc_stmt *st, struct x86_xlate *x)
{
	struct x86_cpu *c = sim_cpu_for(sim, st);
	struct x86_walk_trace t;
	bool user = st->flags & 1u, implicit = st->flags & 2u;

	memset(&t, 0, sizeof(t));
	x86_translate(c, st->u[0], (enum x86_access)st->kind, user, implicit, x,
		      sim_traces(TRACE_WALK) ? &t : NULL);
	if (sim_traces(TRACE_WALK))
		narrate_walk(sim->out, c, sim->cur_cpu, st->u[0], (enum x86_access)st->kind, user,
			     implicit, &t, x);
	if (x->outcome == X86_BUS)
		return sim_run_error(sim, st,
				     "the walk of 0x%" PRIx64 " needs an entry at physical 0x%" PRIx64
				     ", outside physical memory [0, 0x%" PRIx64 ")",
				     st->u[0], x->bad_pa, sim->arena.size);
	return SC_CONTINUE;
}

static enum sc_status exec_access(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_xlate x;
	enum sc_status s = do_access(sim, st, &x);
	char res[64];

	if (s != SC_CONTINUE)
		return s;
	format_xlate(res, sizeof(res), &x);
	fprintf(sim->out, "access 0x%" PRIx64 " -> %s\n", st->u[0], res);
	return SC_CONTINUE;
}

/* expect access ... -> pa PADDR | pf ERR | gp: u[1] = expected outcome, u[2] = its value */
static bool parse_expect_access(struct sc_parse *p)
{
	static const char *const results[] = {"pa", "pf", "gp", NULL};
	int n = parse_access_words(p), r;

	if (n < 0)
		return false;
	if (!sp_word_is(p, n, "->")) {
		if (n < p->npos)
			return sp_error_word(p, &p->pos[n], "expected '->', not '%s'", p->pos[n].text);
		return sp_error(p, p->end_line, p->end_col, "missing '-> RESULT': %s",
				p->st->cmd->synopsis);
	}
	if (!sp_choice(p, n + 1, results, &r))
		return false;
	p->st->u[1] = (uint64_t)r;
	if (r == 2)
		return sp_argc(p, n + 2, n + 2) && sp_opt_cpu(p);
	if (!sp_argc(p, n + 3, n + 3) || !sp_num(p, n + 2, &p->st->u[2]) || !sp_opt_cpu(p))
		return false;
	if (r == 1 && p->st->u[2] > 0xffffffffull)
		return sp_error_word(p, &p->pos[n + 2], "a #PF error code has 32 bits");
	return true;
}

static enum sc_status exec_expect_access(struct sim *sim, const struct sc_stmt *st)
{
	static const enum x86_outcome want_outcome[] = {X86_OK, X86_PF, X86_GP};
	struct x86_xlate x, want;
	enum sc_status s = do_access(sim, st, &x);
	char got[64], exp[64];

	if (s != SC_CONTINUE)
		return s;
	memset(&want, 0, sizeof(want));
	want.outcome = want_outcome[st->u[1]];
	want.pa = st->u[2];
	want.err = (uint32_t)st->u[2];
	if (x.outcome == want.outcome &&
	    (x.outcome == X86_GP || (x.outcome == X86_OK && x.pa == want.pa) ||
	     (x.outcome == X86_PF && x.err == want.err)))
		return SC_CONTINUE;
	format_xlate(got, sizeof(got), &x);
	format_xlate(exp, sizeof(exp), &want);
	return sim_expect_failed(sim, st, "expected %s, got %s", exp, got);
}

/* expect cr2 ==|!= VADDR: u[0] = value */
static bool parse_expect_cr2(struct sc_parse *p)
{
	return sp_argc(p, 2, 2) && sp_op(p, 0, true, &p->st->op) && sp_num(p, 1, &p->st->u[0]) &&
	       sp_opt_cpu(p);
}

static enum sc_status exec_expect_cr2(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_cpu *c = sim_cpu_for(sim, st);

	if (sc_op_holds(st->op, c->cr2, st->u[0]))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s0x%" PRIx64 ", got 0x%" PRIx64,
				 st->op == SC_NE ? "not " : "", st->u[0], c->cr2);
}

static bool parse_cpu_only(struct sc_parse *p)
{
	return sp_argc(p, 0, 0) && sp_opt_cpu(p);
}

static enum sc_status exec_flush(struct sim *sim, const struct sc_stmt *st)
{
	x86_flush_all(sim_cpu_for(sim, st));
	if (sim_traces(TRACE_TLB))
		fprintf(sim->out, "  cpu%u: whole TLB dropped, global entries too\n", sim->cur_cpu);
	return SC_CONTINUE;
}

/* invlpg VADDR: u[0] = va */
static bool parse_invlpg(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_num(p, 0, &p->st->u[0]) && sp_opt_cpu(p);
}

static enum sc_status exec_invlpg(struct sim *sim, const struct sc_stmt *st)
{
	x86_invlpg(sim_cpu_for(sim, st), st->u[0]);
	if (sim_traces(TRACE_TLB))
		fprintf(sim->out, "  cpu%u: INVLPG 0x%" PRIx64 ": TLB entries of that page dropped\n",
			sim->cur_cpu, st->u[0]);
	return SC_CONTINUE;
}

static enum sc_status exec_show_cpu(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_cpu *c = sim_cpu_for(sim, st);
	const struct x86_counters *k = &c->stats;

	print_regs(sim, c);
	fprintf(sim->out,
		"cpu%u: maxphyaddr=%u vendor=%s page1gb=%d tlb=%u entries\n"
		"cpu%u: tlb_hits=%" PRIu64 " tlb_misses=%" PRIu64 " walks=%" PRIu64
		" flushes=%" PRIu64 " invlpgs=%" PRIu64 " page_faults=%" PRIu64 " gp_faults=%" PRIu64
		" ad_updates=%" PRIu64 "\n",
		sim->cur_cpu, c->maxphyaddr, c->vendor == X86_AMD ? "amd" : "intel", c->page1gb,
		c->tlb.mask + 1, sim->cur_cpu, k->tlb_hits, k->tlb_misses, k->walks, k->flushes,
		k->invlpgs, k->page_faults, k->gp_faults, k->ad_updates);
	return SC_CONTINUE;
}

static enum sc_status exec_show_tlb(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_cpu *c = sim_cpu_for(sim, st);
	unsigned valid = 0;

	for (uint32_t i = 0; i <= c->tlb.mask; i++)
		valid += (c->tlb.entries[i].vpn_tag & X86_TLB_VALID) != 0;
	fprintf(sim->out, "cpu%u tlb: %u of %u entries valid\n", sim->cur_cpu, valid,
		c->tlb.mask + 1);
	for (uint32_t i = 0; i <= c->tlb.mask; i++) {
		const struct x86_tlb_entry *e = &c->tlb.entries[i];
		uint64_t va = (e->vpn_tag & ~X86_TLB_VALID) << 12;

		if (!(e->vpn_tag & X86_TLB_VALID))
			continue;
		if (va & (1ull << 47))
			va |= 0xffff000000000000ull;
		fprintf(sim->out,
			"  [%3u] va 0x%" PRIx64 " -> pa 0x%" PRIx64 " %s rw=%u us=%u xd=%u d=%u g=%u pkey=%u\n",
			i, va, e->pa_page,
			e->page_shift == 30   ? "1G"
			: e->page_shift == 21 ? "2M"
					      : "4K",
			e->rw, e->us, e->xd, e->dirty, e->global, e->pkey);
	}
	return SC_CONTINUE;
}

const struct sc_command cpu_commands[] = {
	{"cpu",
	 "cpu [cr3=PADDR] [wp=0|1] [pge=0|1] [smep=0|1] [smap=0|1] [pke=0|1] [nxe=0|1] [ac=0|1] [pkru=V] [cpu=N]",
	 "set control registers with the side effects of MOV to CR0/CR3/CR4, WRMSR EFER, STAC/CLAC, WRPKRU; alone, print them",
	 SC_KERNEL_OFF, parse_cpu, exec_cpu},
	{"access", "access VADDR read|write|fetch user|supervisor [implicit] [cpu=N]",
	 "translate one access through the TLB and page walk; prints pa, pf ERR or gp",
	 SC_KERNEL_OFF, parse_access, exec_access},
	{"expect access",
	 "expect access VADDR read|write|fetch user|supervisor [implicit] -> pa PADDR | pf ERR | gp [cpu=N]",
	 "perform the access and check its result", SC_KERNEL_OFF, parse_expect_access,
	 exec_expect_access},
	{"expect cr2", "expect cr2 ==|!= VADDR [cpu=N]", "check CR2, the last #PF address",
	 SC_KERNEL_OFF, parse_expect_cr2, exec_expect_cr2},
	{"flush", "flush [cpu=N]", "drop the whole TLB of the CPU, global entries too",
	 SC_KERNEL_OFF, parse_cpu_only, exec_flush},
	{"invlpg", "invlpg VADDR [cpu=N]", "drop the TLB entries of the page holding VADDR",
	 SC_KERNEL_OFF, parse_invlpg, exec_invlpg},
	{"show cpu", "show cpu [cpu=N]", "print the control registers and the TLB and walk counters",
	 SC_ANY, parse_cpu_only, exec_show_cpu},
	{"show tlb", "show tlb [cpu=N]", "list the valid TLB entries of the CPU", SC_ANY,
	 parse_cpu_only, exec_show_tlb},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
