/*
 * Read-only views of address spaces (user_mm_view.h). Each takes the space's lock
 * exclusively for a consistent view (no fault halfway: they are rare, and a shared holder's
 * faults would change what they count) and changes nothing.
 */
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"

struct rss_count {
	uint64_t pages;
};

static bool rss_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct rss_count *c = ctx;

	(void)va, (void)e;
	c->pages += pt_level_size(level) / PAGE_SIZE;
	return true;
}

/* Resident pages: present leaves and protnone entries, whose frames stay allocated (Linux
 * counts PROT_NONE pages in RSS too). */
uint64_t as_rss_locked(struct addr_space *as)
{
	struct rss_count c = { 0 };
	struct mapper_visitor v = { NULL, rss_leaf, &c, rss_leaf };

	if (!as->dead)
		mapper_visit(&as->mapper, MAPPER_VISIT_USER, &v);
	return c.pages;
}

uint64_t addr_space_rss(struct addr_space *as)
{
	uint64_t pages;

	as_lock_write(as);
	pages = as_rss_locked(as);
	as_unlock_write(as);
	return pages;
}

uint64_t addr_space_table_frames(struct addr_space *as)
{
	uint64_t n;

	as_lock_write(as);
	n = as->mapper.table_frames;
	as_unlock_write(as);
	return n;
}

bool addr_space_lookup(struct addr_space *as, uint64_t va, struct page_lookup *out)
{
	struct translation t;
	bool ok = false;

	if (!va_is_user(va))
		return false;
	as_lock_write(as);
	if (!as->dead && mapper_translate(&as->mapper, va, &t) == MAP_OK) {
		struct page_info *info = get_page_info(t.leaf.frame);

		out->pa = t.pa;
		out->refcount = info ? page_info_refcount(info).count : 0;
		out->writable = t.leaf.flags & PG_WRITABLE;
		out->user = t.leaf.flags & PG_USER;
		out->executable = !(t.leaf.flags & PG_NO_EXEC);
		out->zero_frame = frame_eq(t.leaf.frame, zero_frame());
		ok = true;
	}
	as_unlock_write(as);
	return ok;
}

void addr_space_for_each_grant(struct addr_space *as,
			       bool (*fn)(void *ctx, const struct grant_view *g), void *ctx)
{
	as_lock_write(as);
	for (size_t i = 0; i < as->grants.n; i++) {
		const struct grant *g = &as->grants.g[i];
		struct grant_view v = {
			.start = g->start,
			.size = g->pages * PAGE_SIZE,
			.prot = g->prot,
			.provider = g->kind,
			.detail = g->kind == PROVIDER_FMAP_BORROWED || g->kind == PROVIDER_EXTERNAL ||
						  g->kind == PROVIDER_PHYS_BORROWED
					  ? g->offset
					  : 0,
			.pinned = as_range_pinned(as, g->start, grant_end(g)),
		};

		if (!fn(ctx, &v))
			break;
	}
	as_unlock_write(as);
}

void addr_space_get_stats(struct addr_space *as, struct addr_space_stats *out)
{
	uint64_t *sum = (uint64_t *)out;
	const size_t n = sizeof(*out) / sizeof(uint64_t);

	as_lock_write(as);
	for (size_t i = 0; i < n; i++)
		sum[i] = 0;
	for (unsigned c = 0; c < as->ncpus; c++) {
		const uint64_t *mine = (const uint64_t *)&as->percpu[c].stats;

		for (size_t i = 0; i < n; i++)
			sum[i] += __atomic_load_n(&mine[i], __ATOMIC_RELAXED);
	}
	as_unlock_write(as);
}

void addr_space_fserve_info(struct addr_space *as, struct fserve_view *out)
{
	as_lock_write(as);
	out->active = as->fserve.active;
	out->base = as->fserve.base;
	out->size = as->fserve.size;
	out->pins = as->fserve.pins;
	out->notified = as->fserve.notified;
	as_unlock_write(as);
}

void addr_space_visit_tables(struct addr_space *as, const struct mapper_visitor *v)
{
	as_lock_write(as);
	if (!as->dead)
		mapper_visit(&as->mapper, MAPPER_VISIT_USER, v);
	as_unlock_write(as);
}
