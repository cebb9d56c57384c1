/*
 * Physical memory commands: poke, peek, expect peek, dump phys. They address the arena
 * directly, as a debugger with a physical-memory window would: no TLB, no walk, no fault.
 * Every address is checked against the machine's memory size while parsing.
 */
#include <errno.h>
#include <string.h>

#include "commands/commands.h"
#include "scenario/sim.h"

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void store_le(uint8_t *p, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static bool check_range(struct sc_parse *p, int i, uint64_t pa, unsigned size)
{
	uint64_t mem = p->sc->machine.memory;

	if (pa > mem || size > mem - pa)
		return sp_error_word(p, &p->pos[i],
				     "physical address %s (+%u bytes) is outside physical memory [0, 0x%llx)",
				     p->pos[i].text, size, (unsigned long long)mem);
	return true;
}

/* peek PADDR [size=8] */
static bool parse_peek(struct sc_parse *p)
{
	struct sc_phys_args *a = &p->st->phys;

	if (!sp_argc(p, 1, 1) || !sp_num(p, 0, &a->paddr) || !sp_opt_access_size(p, &a->size))
		return false;
	return check_range(p, 0, a->paddr, a->size);
}

static enum sc_status exec_peek(struct sim *sim, const struct sc_stmt *st)
{
	uint64_t v = load_le(sim->arena.base + st->phys.paddr, st->phys.size);

	fprintf(sim->out, "peek 0x%llx = 0x%llx\n", (unsigned long long)st->phys.paddr,
		(unsigned long long)v);
	return SC_CONTINUE;
}

/* poke PADDR VALUE [size=8] */
static bool parse_poke(struct sc_parse *p)
{
	struct sc_phys_args *a = &p->st->phys;

	if (!sp_argc(p, 2, 2) || !sp_num(p, 0, &a->paddr) || !sp_num(p, 1, &a->value) ||
	    !sp_opt_access_size(p, &a->size))
		return false;
	if (a->value & ~size_mask(a->size))
		return sp_error_word(p, &p->pos[1], "%s does not fit in %u byte%s", p->pos[1].text,
				     a->size, a->size == 1 ? "" : "s");
	return check_range(p, 0, a->paddr, a->size);
}

static enum sc_status exec_poke(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_phys_args *a = &st->phys;
	uint8_t *where = sim->arena.base + a->paddr;

	if (sim_traces(TRACE_CPU))
		fprintf(sim->out, "  poke [0x%llx] 0x%llx -> 0x%llx (%u bytes; no TLB is told)\n",
			(unsigned long long)a->paddr, (unsigned long long)load_le(where, a->size),
			(unsigned long long)a->value, a->size);
	store_le(where, a->value, a->size);
	return SC_CONTINUE;
}

/* expect peek PADDR ==|!= VALUE [size=8] [mask=M] */
static bool parse_expect_peek(struct sc_parse *p)
{
	struct sc_phys_args *a = &p->st->phys;
	const struct sc_expectation *e = &p->st->expect;
	bool have;

	a->mask = ~0ull;
	if (!sp_argc(p, 3, 3) || !sp_num(p, 0, &a->paddr) || !sp_op_value(p, 1, true) ||
	    !sp_opt_access_size(p, &a->size) || !sp_opt_num(p, "mask", &a->mask, &have))
		return false;
	if (e->value & ~size_mask(a->size))
		return sp_error_word(p, &p->pos[2], "%s does not fit in %u byte%s", p->pos[2].text,
				     a->size, a->size == 1 ? "" : "s");
	return check_range(p, 0, a->paddr, a->size);
}

static enum sc_status exec_expect_peek(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	uint64_t mask = st->phys.mask;
	uint64_t got = load_le(sim->arena.base + st->phys.paddr, st->phys.size);

	if (sc_op_holds(e->op, got & mask, e->value & mask))
		return SC_CONTINUE;
	if (mask != ~0ull)
		return sim_expect_failed(sim, st, "expected %s0x%llx under mask 0x%llx, got 0x%llx",
					 e->op == SC_NE ? "not " : "",
					 (unsigned long long)(e->value & mask),
					 (unsigned long long)mask, (unsigned long long)got);
	return sim_expect_failed(sim, st, "expected %s0x%llx, got 0x%llx",
				 e->op == SC_NE ? "not " : "", (unsigned long long)e->value,
				 (unsigned long long)got);
}

/* dump phys FILE */
static bool parse_dump_phys(struct sc_parse *p)
{
	if (!sp_argc(p, 1, 1))
		return false;
	p->st->path = strdup(p->pos[0].text);
	return p->st->path != NULL;
}

static enum sc_status exec_dump_phys(struct sim *sim, const struct sc_stmt *st)
{
	FILE *f = fopen(st->path, "wb");
	size_t done = 0;

	if (!f)
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	while (done < sim->arena.size) {
		size_t chunk = sim->arena.size - done > (1u << 20) ? (1u << 20)
								  : sim->arena.size - done;

		if (fwrite(sim->arena.base + done, 1, chunk, f) != chunk) {
			fclose(f);
			return sim_run_error(sim, st, "cannot write %s: %s", st->path,
					     strerror(errno));
		}
		done += chunk;
	}
	if (fclose(f) != 0)
		return sim_run_error(sim, st, "cannot write %s: %s", st->path, strerror(errno));
	return SC_CONTINUE;
}

const struct sc_command phys_commands[] = {
	{"poke", "poke PADDR VALUE [size=8]",
	 "store VALUE little-endian into physical memory (no TLB is invalidated)", SC_KERNEL_OFF,
	 parse_poke, exec_poke},
	{"peek", "peek PADDR [size=8]", "print `peek 0xPADDR = 0xVALUE` from physical memory",
	 SC_ANY, parse_peek, exec_peek},
	{"expect peek", "expect peek PADDR ==|!= VALUE [size=8] [mask=MASK]",
	 "compare physical memory; with mask only the bits set in MASK count", SC_ANY,
	 parse_expect_peek, exec_expect_peek},
	{"dump phys", "dump phys FILE",
	 "write the whole physical memory, byte for byte, to FILE", SC_ANY, parse_dump_phys,
	 exec_dump_phys},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
