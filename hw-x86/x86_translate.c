/*
 * One access as the processor performs it: canonical check, TLB, page walk, #PF.
 *
 * Rules:
 *  - The canonical check comes first: a non-canonical address raises #GP with no walk, no
 *    A/D update, no CR2 write and no TLB change.
 *  - A TLB hit is used as the hardware uses it: the cached page bits are judged against the
 *    current control state. If they deny the access, the #PF comes from the TLB slot itself
 *    (a legal "spurious" fault after an un-flushed upgrade); the fault drops the slot, so
 *    the retry walks. An allowed write that hits a slot with D=0 re-walks, so D reaches
 *    memory.
 *  - A walk that succeeds commits A/D and then fills the TLB; one that faults leaves memory
 *    and the TLB's other slots alone.
 *  - Every #PF writes CR2 = va (full address) and drops the TLB slots for va's page.
 *  - x86_probe gives the same verdict as a walk would, with no side effect at all.
 *  - The inline hit path (x86_cpu.h) answers only from a verdict this file recorded for the
 *    same slot contents, access kind, user/implicit, EFLAGS.AC and rights generation, so it
 *    answers exactly as the judged path would.
 */
#include "x86_internal.h"

#include <string.h>

static const char noncanonical_reason[] =
	"non-canonical address: bits 63:47 are not all equal (#GP, no walk)";

static void trace_short(struct x86_walk_trace *trace, bool hit, enum x86_stop stop,
			const char *reason, uint8_t page_shift)
{
	memset(trace, 0, sizeof(*trace));
	trace->tlb_hit = hit;
	trace->stop = stop;
	trace->reason = reason;
	trace->page_shift = page_shift;
}

static void raise_gp(struct x86_xlate *out, struct x86_walk_trace *trace)
{
	out->outcome = X86_GP;
	out->pa = 0;
	out->err = 0;
	out->bad_pa = 0;
	if (trace)
		trace_short(trace, false, X86_STOP_NONCANONICAL, noncanonical_reason, 0);
}

static void raise_pf(struct x86_cpu *cpu, uint64_t va, uint32_t err, struct x86_xlate *out)
{
	cpu->cr2 = va;
	cpu->stats.page_faults++;
	x86_tlb_drop_va(&cpu->tlb, va);
	out->outcome = X86_PF;
	out->pa = 0;
	out->err = err;
	out->bad_pa = 0;
}

static void xlate_from_walk(const struct x86_walk *w, struct x86_xlate *out)
{
	out->outcome = w->outcome;
	out->pa = w->outcome == X86_OK ? w->pa : 0;
	out->err = w->outcome == X86_PF ? w->err : 0;
	out->bad_pa = w->outcome == X86_BUS ? w->bad_pa : 0;
}

/* Remember that the slot allows this access under the current control state. */
static void learn_verdict(const struct x86_cpu *cpu, struct x86_tlb_entry *s, enum x86_access kind,
			  bool user, bool implicit)
{
	if (s->allow_gen != cpu->rights_gen) {
		s->allow = 0;
		s->allow_gen = cpu->rights_gen;
	}
	s->allow |= 1u << x86_tlb_allow_bit(kind, user, implicit, cpu->rflags_ac);
}

/* Caches the walk that just allowed this access (and set D for a write), with that verdict. */
static inline void fill_from_walk(struct x86_cpu *cpu, uint64_t va, enum x86_access kind,
				  bool user, bool implicit, const struct x86_walk *w,
				  struct x86_xlate *out)
{
	x86_tlb_fill(cpu, va, w, 1u << x86_tlb_allow_bit(kind, user, implicit, cpu->rflags_ac));
	out->outcome = X86_OK;
	out->pa = w->pa;
	out->err = 0;
	out->bad_pa = 0;
}

/*
 * A TLB miss (or a write through a slot with D=0) when nobody wants the trace, answered by
 * the quick walk. False when that walk gave up or an entry changed before its A/D update
 * landed: nothing has been counted then, and translate_miss starts over from CR3.
 */
static inline __attribute__((always_inline)) bool
translate_quick(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
		bool implicit, struct x86_xlate *out)
{
	struct x86_walk w;

	if (!x86_walk_quick(cpu, va, kind, user, implicit, &w))
		return false;
	if (w.outcome == X86_OK && !x86_walk_ad_done(&w, kind) &&
	    !x86_walk_commit_ad(cpu, &w, kind))
		return false;
	cpu->stats.tlb_misses++;
	cpu->stats.walks++;
	if (w.outcome == X86_PF)
		raise_pf(cpu, va, w.err, out);
	else
		fill_from_walk(cpu, va, kind, user, implicit, &w, out);
	return true;
}

/* Any TLB miss, told in full when trace is set. */
static __attribute__((noinline)) void
translate_miss(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
	       bool implicit, struct x86_xlate *out, struct x86_walk_trace *trace)
{
	struct x86_walk w;

	cpu->stats.tlb_misses++;
	cpu->stats.walks++;
	/* Redo the walk until its A/D updates land on the entries it judged. */
	do
		x86_walk_tables(cpu, va, kind, user, implicit, &w);
	while (w.outcome == X86_OK && !x86_walk_ad_done(&w, kind) &&
	       !x86_walk_commit_ad(cpu, &w, kind));

	if (w.outcome == X86_OK)
		fill_from_walk(cpu, va, kind, user, implicit, &w, out);
	else if (w.outcome == X86_PF)
		raise_pf(cpu, va, w.err, out);
	else
		xlate_from_walk(&w, out);
	if (trace)
		x86_walk_to_trace(&w, trace);
}

/* Everything but an untraced TLB hit whose verdict is cached: out of line (x86_cpu.h). */
void x86_translate_slow(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
			bool implicit, struct x86_xlate *out, struct x86_walk_trace *trace)
{
	struct x86_tlb_entry *s;

	if (!x86_canonical(va)) {
		cpu->stats.gp_faults++;
		raise_gp(out, trace);
		return;
	}

	s = x86_tlb_slot(&cpu->tlb, va);
	if (s->vpn_tag == x86_tlb_tag(va)) {
		bool usermode = user && !implicit;
		enum x86_deny d = x86_judge(cpu, kind, usermode, implicit, s->rw, s->us, s->xd,
					    s->pkey);

		if (d == X86_DENY_NONE) {
			/* D=0 cached: only a walk can set D in memory, so this write misses. */
			if (kind == X86_WRITE && !s->dirty)
				goto miss;
			cpu->stats.tlb_hits++;
			learn_verdict(cpu, s, kind, user, implicit);
			out->outcome = X86_OK;
			out->pa = s->pa_page | (va & 0xfff);
			out->err = 0;
			out->bad_pa = 0;
			if (trace)
				trace_short(trace, true, X86_STOP_LEAF, NULL, s->page_shift);
			return;
		}
		/* Judged from the cached bits: possibly a spurious fault, dropped for the retry. */
		cpu->stats.tlb_hits++;
		raise_pf(cpu, va,
			 x86_access_ec(cpu, kind, usermode) | X86_PF_P |
				 (x86_deny_is_pk(d) ? X86_PF_PK : 0),
			 out);
		if (trace)
			trace_short(trace, true, x86_deny_is_pk(d) ? X86_STOP_PKEY :
				    X86_STOP_PROTECTION, x86_deny_reason(d), 0);
		return;
	}
miss:
	if (!trace && translate_quick(cpu, va, kind, user, implicit, out))
		return;
	translate_miss(cpu, va, kind, user, implicit, out, trace);
}

void x86_probe(const struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
	       bool implicit, struct x86_xlate *out, struct x86_walk_trace *trace)
{
	struct x86_walk w;

	if (!x86_canonical(va)) {
		raise_gp(out, trace);
		return;
	}
	x86_walk_tables(cpu, va, kind, user, implicit, &w);
	xlate_from_walk(&w, out);
	if (trace)
		x86_walk_to_trace(&w, trace);
}
