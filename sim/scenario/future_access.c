/*
 * The oracle of policy=opt (future_access.h).
 */
#include "scenario/future_access.h"

#include <string.h>

#include "scenario/sim.h"

/* The commands that are accesses by st->proc: [addr, addr + len) is what they touch
 * (bytes of a load or store, the range of a touch, the length of a copy). */
static bool is_access(const struct sc_stmt *st)
{
	static const char *const names[] = {
		"read", "write", "exec", "touch", "kwrite", "kread", "kcopyout", "kcopyin",
		"expect read", "expect write", "expect exec", "expect touch", "expect kwrite",
		"expect kread", "expect kcopyout", "expect kcopyin", NULL,
	};

	for (int i = 0; names[i]; i++)
		if (strcmp(st->cmd->name, names[i]) == 0)
			return true;
	return false;
}

uint64_t sim_future_next_use(void *ctx, struct addr_space *as, uint64_t va, uint64_t now_va)
{
	struct sim *sim = ctx;
	const struct scenario *sc = sim->sc;
	const char *name = NULL;

	if (!sc)
		return UINT64_MAX;
	for (size_t i = 0; i < sim->nprocs; i++)
		if (sim->procs[i].as == as)
			name = sim->procs[i].name;
	if (!name)
		return UINT64_MAX;
	va &= ~(uint64_t)0xfff;
	now_va &= ~(uint64_t)0xfff;
	for (size_t i = sim->cur_stmt; i < sc->nstmts; i++) {
		const struct sc_stmt *st = &sc->stmts[i];
		uint64_t first, last;

		if (!is_access(st) || strcmp(st->proc, name) != 0)
			continue;
		first = st->access.addr & ~(uint64_t)0xfff;
		last = (st->access.addr + (st->access.len ? st->access.len : 1) - 1) & ~(uint64_t)0xfff;
		/* the statement under way: only what it touches after the access now */
		if (i == sim->cur_stmt && first < now_va + 0x1000)
			first = now_va + 0x1000;
		if (va >= first && va <= last)
			return ((uint64_t)i << 32) | ((va - first) >> 12);
	}
	return UINT64_MAX;
}
