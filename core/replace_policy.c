/*
 * Local page replacement under `limit` (replace_policy.h): a space's resident private pages
 * stand in a ring of `limit` places, each with its page, the time it became resident and
 * the time of its last access (a counter of events, not a clock). One ring serves the four
 * policies: fifo and lru take the oldest stamp, clock moves its hand over the places, opt
 * asks the oracle.
 *
 * Invariant kept here: a used place names a page of the space that was resident when it was
 * put there; before choosing a victim every used place is checked against the page tables
 * and emptied if its page left (munmap, global reclaim, PROT_NONE), so a victim is always a
 * present private page of the space.
 */
#include "kheap.h"
#include "kformat.h"
#include "page_info.h"
#include "platform.h"
#include "reclaim.h"
#include "replace_policy.h"

#define KTRACE_KIND TRACE_FAULT

struct replace_place {
	uint64_t va;
	uint64_t arrived;
	_Atomic uint64_t used_at;
	bool used;
};

struct replace_state {
	uint64_t limit;
	unsigned hand;
	struct replace_place place[];
};

static enum replace_policy policy = REPLACE_CLOCK;
static replace_oracle_t oracle;
static void *oracle_ctx;
static _Atomic uint64_t events;
/* Spaces with a limit under lru: the processor reports accesses only then. */
_Atomic unsigned replace_lru_spaces;

const char *replace_policy_name(enum replace_policy p)
{
	static const char *const names[REPLACE_POLICY_COUNT] = { "fifo", "lru", "clock", "opt" };

	return p < REPLACE_POLICY_COUNT ? names[p] : "?";
}

void replace_configure(enum replace_policy p)
{
	policy = p;
	oracle = NULL;
	oracle_ctx = NULL;
	atomic_store(&events, 0);
	atomic_store(&replace_lru_spaces, 0);
}

enum replace_policy replace_policy_now(void)
{
	return policy;
}

void replace_set_oracle(replace_oracle_t fn, void *ctx)
{
	oracle = fn;
	oracle_ctx = ctx;
}

static uint64_t tick(void)
{
	return atomic_fetch_add_explicit(&events, 1, memory_order_relaxed) + 1;
}

static pte_t *slot_of(struct addr_space *as, uint64_t va)
{
	pte_t *pt;

	if (mapper_leaf_table(&as->mapper, va, false, &pt, NULL) != MAP_OK)
		return NULL;
	return &pt[pt_index(va, PT_LEVEL_PT)];
}

/* A page the limit counts: present, a real frame, in private anonymous memory. */
static bool counted_page(struct addr_space *as, uint64_t va, pte_t **slot_out)
{
	pte_t *slot = slot_of(as, va);
	pte_t e = slot ? mapper_entry_load(slot) : 0;
	frame_t f = { pte_address(e, PT_LEVEL_PT) };
	struct grant *g;
	struct page_info *info = get_page_info(f);

	/* a frame shared writable (another space borrowed it) is not private any more */
	if (!pte_present(e) || frame_eq(f, zero_frame()) || !info ||
	    page_info_refcount(info).kind == REFCOUNT_SHARED)
		return false;
	g = ug_find(&as->grants, va);
	if (!g || g->kind != PROVIDER_ALLOCATED)
		return false;
	if (slot_out)
		*slot_out = slot;
	return true;
}

static void purge(struct addr_space *as)
{
	struct replace_state *rs = as->replace;

	for (unsigned i = 0; i < rs->limit; i++)
		if (rs->place[i].used && !counted_page(as, rs->place[i].va, NULL))
			rs->place[i].used = false;
}

static unsigned used_places(const struct replace_state *rs)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rs->limit; i++)
		n += rs->place[i].used;
	return n;
}

static bool tracked(const struct replace_state *rs, uint64_t va)
{
	for (unsigned i = 0; i < rs->limit; i++)
		if (rs->place[i].used && rs->place[i].va == va)
			return true;
	return false;
}

/* The place with the smallest stamp (arrival for fifo, last access for lru). */
static unsigned oldest(const struct replace_state *rs, bool by_access)
{
	unsigned best = rs->limit;
	uint64_t bt = UINT64_MAX;

	for (unsigned i = 0; i < rs->limit; i++) {
		uint64_t t;

		if (!rs->place[i].used)
			continue;
		t = by_access ? atomic_load_explicit(&rs->place[i].used_at, memory_order_relaxed)
			      : rs->place[i].arrived;
		if (t < bt) {
			bt = t;
			best = i;
		}
	}
	return best;
}

static unsigned pick_opt(struct addr_space *as, uint64_t now_va, uint64_t *next_use)
{
	struct replace_state *rs = as->replace;
	unsigned best = rs->limit;
	uint64_t bn = 0, ba = UINT64_MAX;

	for (unsigned i = 0; i < rs->limit; i++) {
		uint64_t n;

		if (!rs->place[i].used)
			continue;
		n = oracle ? oracle(oracle_ctx, as, rs->place[i].va, now_va) : UINT64_MAX;
		if (best == rs->limit || n > bn || (n == bn && rs->place[i].arrived < ba)) {
			best = i;
			bn = n;
			ba = rs->place[i].arrived;
		}
	}
	*next_use = bn;
	return best;
}

/* The clock's victim: clear and pass pages whose accessed bit is set. */
static unsigned pick_clock(struct addr_space *as, unsigned *cleared)
{
	struct replace_state *rs = as->replace;

	*cleared = 0;
	/* at most two turns: after one every bit the hand passed is clear */
	for (unsigned steps = 0; steps < 2 * rs->limit + 1; steps++) {
		unsigned i = rs->hand;
		pte_t *slot;

		rs->hand = (rs->hand + 1) % (unsigned)rs->limit;
		if (!rs->place[i].used || !counted_page(as, rs->place[i].va, &slot))
			continue;
		if (mapper_entry_test_and_clear(slot, PG_ACCESSED)) {
			struct flusher fl;

			/* the next access must walk again to set the bit: every TLB drops it */
			flusher_init(&fl, as);
			flusher_page(&fl, rs->place[i].va);
			flusher_flush(&fl);
			(*cleared)++;
			KTRACE("clock: %s %#llx (place %u): accessed bit set, cleared (invalidated in every TLB); the hand moves on",
			       addr_space_name(as), (unsigned long long)rs->place[i].va, i);
			continue;
		}
		return i;
	}
	return rs->limit;
}

static bool evict_place(struct addr_space *as, unsigned i, const struct evict_reason *why)
{
	struct replace_state *rs = as->replace;
	pte_t *slot;
	struct evict_map m;
	frame_t f;

	if (!counted_page(as, rs->place[i].va, &slot))
		return false;
	f = (frame_t){ pte_address(mapper_entry_load(slot), PT_LEVEL_PT) };
	m = (struct evict_map){ as, rs->place[i].va, slot };
	if (!evict_frame(f, &m, 1, why))
		return false;
	rs->place[i].used = false;
	return true;
}

/* Evict one page of as by the policy. */
static bool evict_one(struct addr_space *as, uint64_t now_va)
{
	struct replace_state *rs = as->replace;
	struct evict_reason why = { replace_policy_name(policy), "" };
	unsigned i = rs->limit, cleared;
	uint64_t n;

	switch (policy) {
	case REPLACE_FIFO:
		i = oldest(rs, false);
		if (i < rs->limit)
			kformat(why.why, sizeof(why.why), "resident the longest, since event %llu",
				(unsigned long long)rs->place[i].arrived);
		break;
	case REPLACE_LRU:
		i = oldest(rs, true);
		if (i < rs->limit)
			kformat(why.why, sizeof(why.why), "least recently used, last at event %llu",
				(unsigned long long)atomic_load(&rs->place[i].used_at));
		break;
	case REPLACE_CLOCK:
		i = pick_clock(as, &cleared);
		if (i < rs->limit)
			kformat(why.why, sizeof(why.why),
				"the hand found its accessed bit clear at place %u after clearing %u", i,
				cleared);
		break;
	case REPLACE_OPT:
		i = pick_opt(as, now_va, &n);
		if (i < rs->limit) {
			if (n == UINT64_MAX)
				kformat(why.why, sizeof(why.why), "never accessed again");
			else
				kformat(why.why, sizeof(why.why), "next accessed the farthest away");
		}
		break;
	case REPLACE_POLICY_COUNT:
		break;
	}
	return i < rs->limit && evict_place(as, i, &why);
}

bool replace_make_room(struct addr_space *as, uint64_t va, uint64_t now_va)
{
	struct replace_state *rs = as->replace;

	if (!rs || tracked(rs, va))
		return true;
	purge(as);
	if (used_places(rs) < rs->limit)
		return true;
	return evict_one(as, now_va);
}

void replace_note_resident(struct addr_space *as, uint64_t va)
{
	struct replace_state *rs = as->replace;
	uint64_t t;

	if (!rs || tracked(rs, va))
		return;
	t = tick();
	/* the place the victim left, or the first free one: the clock's circle fills in order */
	for (unsigned i = 0; i < rs->limit; i++) {
		if (rs->place[i].used)
			continue;
		rs->place[i] = (struct replace_place){ .va = va, .arrived = t, .used = true };
		atomic_store_explicit(&rs->place[i].used_at, t, memory_order_relaxed);
		return;
	}
	/* no room (swap was full): the page stays untracked, over the limit */
}

void mm_access_seen_slow(uint64_t va)
{
	struct addr_space *as;
	struct replace_state *rs;

	as = as_current_on(plat_cpu_id());
	rs = as ? as->replace : NULL;
	if (!rs)
		return;
	va &= ~PAGE_MASK;
	for (unsigned i = 0; i < rs->limit; i++)
		if (rs->place[i].used && rs->place[i].va == va) {
			atomic_store_explicit(&rs->place[i].used_at, tick(), memory_order_relaxed);
			return;
		}
}

void replace_forget(struct addr_space *as)
{
	if (!as->replace)
		return;
	if (policy == REPLACE_LRU)
		atomic_fetch_sub(&replace_lru_spaces, 1);
	kfree(as->replace);
	as->replace = NULL;
}

uint64_t mm_limit_of(struct addr_space *as)
{
	uint64_t n;

	mm_lock_all();
	n = as->replace ? as->replace->limit : 0;
	mm_unlock_all();
	return n;
}

enum mm_status mm_set_limit(struct addr_space *as, uint64_t n)
{
	struct replace_state *rs = NULL;
	enum mm_status r = MM_STATUS_OK;
	uint64_t next = 0, stop;
	pte_t *pt;

	if (n > (1u << 20))
		return MM_STATUS_EINVAL;
	if (n) {
		rs = kzalloc(sizeof(*rs) + n * sizeof(rs->place[0]));
		if (!rs)
			return MM_STATUS_ENOMEM;
		rs->limit = n;
	}
	mm_lock_all();
	if (as->dead) {
		mm_unlock_all();
		kfree(rs);
		return MM_STATUS_EINVAL;
	}
	replace_forget(as);
	as->replace = rs;
	if (!rs) {
		mm_unlock_all();
		return MM_STATUS_OK;
	}
	if (policy == REPLACE_LRU)
		atomic_fetch_add(&replace_lru_spaces, 1);
	/* the pages resident now, in address order; the excess goes to swap */
	while (mm_next_leaf_table(&as->mapper, &next, USER_END, &pt, &stop)) {
		uint64_t va = next;

		for (; va < stop; va += PAGE_SIZE) {
			if (!counted_page(as, va, NULL))
				continue;
			if (!replace_make_room(as, va, va)) {
				r = MM_STATUS_ENOMEM;
				break;
			}
			replace_note_resident(as, va);
		}
		next = va;
		if (r != MM_STATUS_OK)
			break;
	}
	mm_unlock_all();
	return r;
}

bool replace_view(struct addr_space *as, struct replace_view *v,
		  void (*fn)(void *ctx, unsigned i, const struct replace_view_place *p), void *ctx)
{
	struct replace_state *rs;

	mm_lock_all();
	rs = as->replace;
	if (!rs || as->dead) {
		mm_unlock_all();
		return false;
	}
	purge(as);
	*v = (struct replace_view){ policy, rs->limit, (unsigned)rs->limit, rs->hand };
	for (unsigned i = 0; i < rs->limit; i++) {
		struct replace_view_place p = { rs->place[i].used, rs->place[i].va,
						rs->place[i].arrived,
						atomic_load(&rs->place[i].used_at), false };
		pte_t *slot;

		if (p.used && counted_page(as, p.va, &slot))
			p.accessed = pte_has(mapper_entry_load(slot), PG_ACCESSED);
		if (fn)
			fn(ctx, i, &p);
	}
	mm_unlock_all();
	return true;
}
