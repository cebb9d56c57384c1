/*
 * The bare processor's commands: cpu (control registers), access, flush, invlpg, their
 * expectations, and the views of a CPU and its TLB. Each runs on the CPU named by cpu=N
 * (which then stays current) or on the current one (cpu 0 at the start).
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "commands/commands.h"
#include "scenario/sim.h"
#include "views/walk_narration.h"

/* The boolean keys of `cpu`, in the order they are parsed and written. */
static const struct cpu_bit_key {
	const char *key;
	size_t at; /* where its struct sc_cpu_bit is in struct sc_cpu_args */
	void (*set)(struct x86_cpu *cpu, bool on);
} bit_keys[] = {
	{"wp", offsetof(struct sc_cpu_args, wp), x86_set_wp},
	{"nxe", offsetof(struct sc_cpu_args, nxe), x86_set_nxe},
	{"smep", offsetof(struct sc_cpu_args, smep), x86_set_smep},
	{"smap", offsetof(struct sc_cpu_args, smap), x86_set_smap},
	{"pke", offsetof(struct sc_cpu_args, pke), x86_set_pke},
	{"pge", offsetof(struct sc_cpu_args, pge), x86_set_pge},
	{"ac", offsetof(struct sc_cpu_args, ac), x86_set_ac},
};
#define NBIT_KEYS (sizeof(bit_keys) / sizeof(bit_keys[0]))

static struct sc_cpu_bit *bit_of(struct sc_cpu_args *a, const struct cpu_bit_key *k)
{
	return (struct sc_cpu_bit *)((char *)a + k->at);
}

static const struct sc_cpu_bit *bit_in(const struct sc_cpu_args *a, const struct cpu_bit_key *k)
{
	return (const struct sc_cpu_bit *)((const char *)a + k->at);
}

/* cpu [cr3=..] [wp=0|1] ...: no key at all prints the registers */
static bool parse_cpu(struct sc_parse *p)
{
	struct sc_cpu_args *a = &p->st->cpu_regs;
	uint64_t pkru;

	if (!sp_argc(p, 0, 0) || !sp_opt_cpu(p))
		return false;
	for (size_t k = 0; k < NBIT_KEYS; k++) {
		struct sc_cpu_bit *b = bit_of(a, &bit_keys[k]);

		if (!sp_opt_bool(p, bit_keys[k].key, &b->on, &b->given))
			return false;
	}
	if (!sp_opt_num(p, "pkru", &pkru, &a->pkru_given))
		return false;
	if (a->pkru_given) {
		if (pkru > 0xffffffffull) {
			struct sc_option *o = sp_opt_find(p, "pkru");

			return sp_error_opt(p, o, "pkru= is a 32-bit register");
		}
		a->pkru = (uint32_t)pkru;
	}
	if (!sp_opt_num(p, "cr3", &a->cr3, &a->cr3_given))
		return false;
	if (a->cr3_given) {
		unsigned m = p->sc->machine.maxphyaddr;

		if (m < 64 && (a->cr3 >> m) != 0) {
			struct sc_option *o = sp_opt_find(p, "cr3");

			return sp_error_opt(p, o,
					"cr3=%s sets bits 63:%u, reserved with maxphyaddr=%u (MOV to CR3 would #GP)",
					o->value, m, m);
		}
	}
	return true;
}

static bool sets_any(const struct sc_cpu_args *a)
{
	for (size_t k = 0; k < NBIT_KEYS; k++)
		if (bit_in(a, &bit_keys[k])->given)
			return true;
	return a->pkru_given || a->cr3_given;
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
	const struct sc_cpu_args *a = &st->cpu_regs;
	struct x86_cpu *c = sim_cpu_for(sim, st);

	if (!sets_any(a)) {
		print_regs(sim, c);
		return SC_CONTINUE;
	}
	for (size_t k = 0; k < NBIT_KEYS; k++) {
		const struct sc_cpu_bit *b = bit_in(a, &bit_keys[k]);

		if (b->given)
			bit_keys[k].set(c, b->on);
	}
	if (a->pkru_given)
		x86_set_pkru(c, a->pkru);
	if (a->cr3_given && !x86_write_cr3(c, a->cr3))
		return sim_run_error(sim, st, "MOV to CR3 raised #GP");
	if (sim_traces(TRACE_CPU))
		print_regs(sim, c);
	return SC_CONTINUE;
}

/*
 * The access description shared by `access` and `expect access`:
 * VADDR read|write|fetch user|supervisor [implicit]. Returns the index after it.
 */
static int parse_access_words(struct sc_parse *p)
{
	static const char *const kinds[] = {"read", "write", "fetch", NULL}; /* enum x86_access */
	static const char *const modes[] = {"supervisor", "user", NULL};
	struct sc_translate_args *a = &p->st->translate;
	int kind, mode;

	if (!sp_num(p, 0, &a->va) || !sp_choice(p, 1, kinds, &kind) ||
	    !sp_choice(p, 2, modes, &mode))
		return -1;
	a->kind = (enum x86_access)kind;
	a->user = mode == 1;
	if (sp_word_is(p, 3, "implicit")) {
		a->implicit = true;
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
	const struct sc_translate_args *a = &st->translate;
	struct x86_cpu *c = sim_cpu_for(sim, st);
	struct x86_walk_trace t;

	memset(&t, 0, sizeof(t));
	x86_translate(c, a->va, a->kind, a->user, a->implicit, x,
		      sim_traces(TRACE_WALK) ? &t : NULL);
	if (sim_traces(TRACE_WALK))
		narrate_walk(sim->out, c, sim->cur_cpu, a->va, a->kind, a->user, a->implicit, &t, x);
	if (x->outcome == X86_BUS)
		return sim_run_error(sim, st,
				     "the walk of 0x%" PRIx64 " needs an entry at physical 0x%" PRIx64
				     ", outside physical memory [0, 0x%" PRIx64 ")",
				     a->va, x->bad_pa, sim->arena.size);
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
	fprintf(sim->out, "access 0x%" PRIx64 " -> %s\n", st->translate.va, res);
	return SC_CONTINUE;
}

/* expect access ... -> pa PADDR | pf ERR | gp */
static const enum x86_outcome result_outcomes[] = {X86_OK, X86_PF, X86_GP};

static bool parse_expect_access(struct sc_parse *p)
{
	static const char *const results[] = {"pa", "pf", "gp", NULL}; /* result_outcomes */
	struct sc_expectation *e = &p->st->expect;
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
	e->has_result = true;
	e->result = r;
	if (result_outcomes[r] == X86_GP)
		return sp_argc(p, n + 2, n + 2) && sp_opt_cpu(p);
	if (!sp_argc(p, n + 3, n + 3) || !sp_num(p, n + 2, &e->value) || !sp_opt_cpu(p))
		return false;
	if (result_outcomes[r] == X86_PF && e->value > 0xffffffffull)
		return sp_error_word(p, &p->pos[n + 2], "a #PF error code has 32 bits");
	return true;
}

static enum sc_status exec_expect_access(struct sim *sim, const struct sc_stmt *st)
{
	struct x86_xlate x, want;
	enum sc_status s = do_access(sim, st, &x);
	char got[64], exp[64];

	if (s != SC_CONTINUE)
		return s;
	memset(&want, 0, sizeof(want));
	want.outcome = result_outcomes[st->expect.result];
	want.pa = st->expect.value;
	want.err = (uint32_t)st->expect.value;
	if (x.outcome == want.outcome &&
	    (x.outcome == X86_GP || (x.outcome == X86_OK && x.pa == want.pa) ||
	     (x.outcome == X86_PF && x.err == want.err)))
		return SC_CONTINUE;
	format_xlate(got, sizeof(got), &x);
	format_xlate(exp, sizeof(exp), &want);
	return sim_expect_failed(sim, st, "expected %s, got %s", exp, got);
}

/* expect cr2 ==|!= VADDR */
static bool parse_expect_cr2(struct sc_parse *p)
{
	return sp_argc(p, 2, 2) && sp_op_value(p, 0, true) && sp_opt_cpu(p);
}

static enum sc_status exec_expect_cr2(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct x86_cpu *c = sim_cpu_for(sim, st);

	if (sc_op_holds(e->op, c->cr2, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s0x%" PRIx64 ", got 0x%" PRIx64,
				 e->op == SC_NE ? "not " : "", e->value, c->cr2);
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

/* invlpg VADDR */
static bool parse_invlpg(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_num(p, 0, &p->st->invlpg.va) && sp_opt_cpu(p);
}

static enum sc_status exec_invlpg(struct sim *sim, const struct sc_stmt *st)
{
	x86_invlpg(sim_cpu_for(sim, st), st->invlpg.va);
	if (sim_traces(TRACE_TLB))
		fprintf(sim->out, "  cpu%u: INVLPG 0x%" PRIx64 ": TLB entries of that page dropped\n",
			sim->cur_cpu, st->invlpg.va);
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
