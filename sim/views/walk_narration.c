#include "views/walk_narration.h"

#include <inttypes.h>

const char *access_kind_name(enum x86_access kind)
{
	switch (kind) {
	case X86_READ:
		return "read";
	case X86_WRITE:
		return "write";
	case X86_FETCH:
		return "fetch";
	}
	return "?";
}

void format_xlate(char *buf, size_t n, const struct x86_xlate *x)
{
	switch (x->outcome) {
	case X86_OK:
		snprintf(buf, n, "pa 0x%" PRIx64, x->pa);
		break;
	case X86_PF:
		snprintf(buf, n, "pf 0x%x", x->err);
		break;
	case X86_GP:
		snprintf(buf, n, "gp");
		break;
	case X86_BUS:
		snprintf(buf, n, "bus 0x%" PRIx64, x->bad_pa);
		break;
	}
}

static const char *page_size_name(unsigned shift)
{
	switch (shift) {
	case 30:
		return "1 GiB page";
	case 21:
		return "2 MiB page";
	default:
		return "4 KiB page";
	}
}

static const char *stop_name(enum x86_stop stop)
{
	switch (stop) {
	case X86_STOP_LEAF:
		return "translated";
	case X86_STOP_NOT_PRESENT:
		return "not present";
	case X86_STOP_RESERVED:
		return "reserved bit set";
	case X86_STOP_PROTECTION:
		return "protection";
	case X86_STOP_PKEY:
		return "protection key";
	case X86_STOP_NONCANONICAL:
		return "non-canonical address";
	case X86_STOP_BUS:
		return "table outside physical memory";
	}
	return "?";
}

/* Which A and D bits the walk wrote, found by comparing the entries as read with memory now. */
static void narrate_ad(FILE *out, const struct x86_cpu *cpu, const struct x86_walk_trace *t)
{
	bool any = false;

	for (int i = 0; i < t->nsteps; i++) {
		const struct x86_walk_step *s = &t->steps[i];
		uint64_t now, set;

		if (s->entry_pa + 8 > cpu->phys.size)
			continue;
		now = __atomic_load_n((const uint64_t *)(const void *)(cpu->phys.base + s->entry_pa),
				      __ATOMIC_RELAXED);
		set = now & ~s->entry & (X86_PTE_A | X86_PTE_D);
		if (!set)
			continue;
		fprintf(out, "%s %s.%s", any ? "," : "    sets", x86_level_name(s->level),
			set == (X86_PTE_A | X86_PTE_D) ? "A+D"
			: set == X86_PTE_A	      ? "A"
						      : "D");
		any = true;
	}
	if (any)
		fputc('\n', out);
}

void narrate_walk(FILE *out, const struct x86_cpu *cpu, unsigned cpu_index, uint64_t va,
		  enum x86_access kind, bool user, bool implicit, const struct x86_walk_trace *t,
		  const struct x86_xlate *x)
{
	char flags[160], err[96];

	fprintf(out, "  walk 0x%016" PRIx64 " %s by %s%s on cpu%u, CR3=0x%" PRIx64 ": %s\n", va,
		access_kind_name(kind), implicit ? "the processor (implicit supervisor)"
		: user				 ? "user (CPL 3)"
						 : "supervisor (CPL 0)",
		implicit && user ? " at CPL 3" : "", cpu_index, cpu->cr3,
		x->outcome == X86_GP ? "no walk" : t->tlb_hit ? "TLB hit" : "TLB miss");
	if (x->outcome == X86_GP) {
		fprintf(out, "    bits 63:47 are not all equal: non-canonical, #GP(0), CR2 unchanged\n");
		return;
	}
	if (!t->tlb_hit && t->nsteps > 0)
		fprintf(out, "    indexes: PML4 %u | PDPT %u | PD %u | PT %u | offset 0x%03" PRIx64 "\n",
			(unsigned)(va >> 39) & 511, (unsigned)(va >> 30) & 511,
			(unsigned)(va >> 21) & 511, (unsigned)(va >> 12) & 511, va & 0xfff);
	for (int i = 0; i < t->nsteps; i++) {
		const struct x86_walk_step *s = &t->steps[i];

		x86_format_entry(flags, sizeof(flags), s->entry, s->level, cpu);
		fprintf(out, "    %-4s[%3u] @0x%-10" PRIx64 " = 0x%016" PRIx64 "  %s\n",
			x86_level_name(s->level), s->index, s->entry_pa, s->entry, flags);
	}
	switch (x->outcome) {
	case X86_OK:
		fprintf(out, "    -> pa 0x%" PRIx64 " (%s%s)\n", x->pa, page_size_name(t->page_shift),
			t->tlb_hit ? ", from the TLB" : "");
		narrate_ad(out, cpu, t);
		break;
	case X86_PF:
		x86_format_pf_error(err, sizeof(err), x->err);
		if (t->stop_level > 0 &&
		    (t->stop == X86_STOP_PROTECTION || t->stop == X86_STOP_PKEY))
			/* the rights of every level combine: the leaf is not to blame by itself */
			fprintf(out, "    -> #PF at the end of the walk (the %s entry): %s",
				x86_level_name(t->stop_level), stop_name(t->stop));
		else if (t->stop_level > 0)
			fprintf(out, "    -> #PF at the %s entry: %s", x86_level_name(t->stop_level),
				stop_name(t->stop));
		else
			fprintf(out, "    -> #PF from the TLB entry: %s", stop_name(t->stop));
		if (t->stop == X86_STOP_RESERVED)
			fprintf(out, " (bits 0x%" PRIx64 ")", t->rsvd_bits);
		fprintf(out, "%s%s\n", t->reason ? ": " : "", t->reason ? t->reason : "");
		fprintf(out, "       error code 0x%x = %s, CR2 = 0x%" PRIx64 "\n", x->err, err, va);
		break;
	case X86_BUS:
		fprintf(out, "    -> the walk needs physical 0x%" PRIx64
			     ", beyond the end of physical memory\n",
			x->bad_pa);
		break;
	case X86_GP:
		break;
	}
}
