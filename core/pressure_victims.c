/*
 * Victim choice: the candidates the memory manager lists (a buffer frame's worth at a time),
 * the largest resident set first (ties: the most recently created), a name a person picked,
 * and the kill.
 */
#include "pressure_governor.h"
#include "phys.h"

#define KTRACE_KIND TRACE_PRESSURE

void pressure_set_victim_source(const struct oom_victim_source *src)
{
	G.victims = src;
}

/* ---- victims ---- */

bool for_each_candidate(frame_t page, bool (*fn)(void *ctx, const struct oom_candidate *c),
			       void *ctx)
{
	struct oom_candidate *table = phys_to_virt(frame_base(page));
	size_t skip = 0, n;

	if (!G.victims)
		return true;
	do {
		n = G.victims->list(table, CANDIDATES_PER_FRAME, skip);
		for (size_t i = 0; i < n; i++)
			if (!fn(ctx, &table[i]))
				return false;
		skip += n;
	} while (n == CANDIDATES_PER_FRAME);
	return true;
}

bool better_victim(void *ctx, const struct oom_candidate *c)
{
	struct oom_candidate *best = ctx;

	if (!best->ref || c->rss > best->rss || (c->rss == best->rss && c->seq > best->seq))
		*best = *c;
	return true;
}

bool match_name(void *ctx, const struct oom_candidate *c)
{
	struct find_name *f = ctx;
	size_t i = 0;

	while (i < sizeof(c->name) && c->name[i] && c->name[i] == f->name[i])
		i++;
	if ((i == sizeof(c->name) || c->name[i] == 0) && f->name[i] == 0) {
		f->found = *c;
		return false;
	}
	return true;
}


void kill_victim(const struct oom_candidate *victim)
{
	KTRACE("pressure: killing %s (%llu pages resident)", victim->name,
	       (unsigned long long)victim->rss);
	atomic_fetch_add(&G.kills, 1);
	G.victims->kill(victim->ref);
}
