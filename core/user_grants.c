/*
 * UserGrants: the ordered grants of one address space and the free-range index, as sorted
 * arrays from the kernel heap.
 *
 * Invariants kept here (audited by ug_audit):
 * - G1 grants sorted by start, non-overlapping, pages >= 1, inside [0, USER_END);
 * - G2 holes = the complement of the grants in [0, USER_END), maximal and non-empty;
 *   by_addr (sorted by start) and by_size (sorted by size, then start) hold the same set;
 * - capacity: hcap >= cap + 2 and nholes <= n + 1, so once ug_reserve succeeded no insert,
 *   removal, split or merge needs memory (nothing is half-built on ENOMEM);
 * - G5 splitting advances the provider offset of the later piece for every provider
 *   (physical base, source address, file offset: Redox keeps the External source
 *   unchanged); an FMAP piece is one more pin of its server, an
 *   EXTERNAL or FMAP piece one more reference of its source;
 * - G7 exact neighbours with the same provider, protection and a continuous provider offset
 *   are merged (pins and references of the absorbed piece are dropped).
 */
#include "kformat.h"
#include "kheap.h"
#include "mm_internal.h"
#include "platform.h"

static void move_items(void *dst, const void *src, size_t bytes)
{
	__builtin_memmove(dst, src, bytes);
}

bool ug_init(struct user_grants *ug)
{
	ug->g = NULL;
	ug->n = ug->cap = 0;
	ug->by_addr = ug->by_size = NULL;
	ug->nholes = ug->hcap = 0;
	if (!ug_reserve(ug, 4)) {
		/* ug_reserve may have grown some of the arrays before one allocation failed */
		ug_destroy(ug);
		return false;
	}
	ug->by_addr[0] = (struct hole){ 0, USER_END };
	ug->by_size[0] = ug->by_addr[0];
	ug->nholes = 1;
	return true;
}

void ug_destroy(struct user_grants *ug)
{
	kfree(ug->g);
	kfree(ug->by_addr);
	kfree(ug->by_size);
	ug->g = NULL;
	ug->by_addr = ug->by_size = NULL;
	ug->n = ug->cap = ug->nholes = ug->hcap = 0;
}

bool ug_reserve(struct user_grants *ug, size_t extra)
{
	size_t need = ug->n + extra, cap = ug->cap, hneed;
	struct grant *g = NULL;
	struct hole *a = NULL, *s = NULL;

	if (need > cap) {
		cap = cap ? cap : 8;
		while (cap < need)
			cap *= 2;
	}
	hneed = cap + 2;
	/* every array first, then the switch: a failure leaves ug as it was, capacities
	 * included (growing the grants alone would break hcap >= cap + 2) */
	if (cap > ug->cap && !(g = kmalloc(cap * sizeof(*g))))
		return false;
	if (hneed > ug->hcap) {
		a = kmalloc(hneed * sizeof(*a));
		s = kmalloc(hneed * sizeof(*s));
		if (!a || !s) {
			kfree(g);
			kfree(a);
			kfree(s);
			return false;
		}
	}
	if (g) {
		if (ug->n)
			__builtin_memcpy(g, ug->g, ug->n * sizeof(*g));
		kfree(ug->g);
		ug->g = g;
		ug->cap = cap;
	}
	if (a) {
		if (ug->nholes) {
			__builtin_memcpy(a, ug->by_addr, ug->nholes * sizeof(*a));
			__builtin_memcpy(s, ug->by_size, ug->nholes * sizeof(*s));
		}
		kfree(ug->by_addr);
		kfree(ug->by_size);
		ug->by_addr = a;
		ug->by_size = s;
		ug->hcap = hneed;
	}
	return true;
}

size_t ug_lower_bound(const struct user_grants *ug, uint64_t va)
{
	size_t lo = 0, hi = ug->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (grant_end(&ug->g[mid]) <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct grant *ug_find(struct user_grants *ug, uint64_t va)
{
	size_t i = ug_lower_bound(ug, va);

	if (i < ug->n && ug->g[i].start <= va)
		return &ug->g[i];
	return NULL;
}

bool ug_conflicts(const struct user_grants *ug, uint64_t start, uint64_t size)
{
	size_t i = ug_lower_bound(ug, start);

	return i < ug->n && ug->g[i].start < start + size;
}

/* ---- the hole index ---- */

static bool size_less(struct hole a, struct hole b)
{
	return a.size < b.size || (a.size == b.size && a.start < b.start);
}

static size_t addr_pos(const struct user_grants *ug, uint64_t start)
{
	size_t lo = 0, hi = ug->nholes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ug->by_addr[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t size_pos(const struct user_grants *ug, struct hole h)
{
	size_t lo = 0, hi = ug->nholes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (size_less(ug->by_size[mid], h))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void hole_insert(struct user_grants *ug, struct hole h)
{
	size_t a = addr_pos(ug, h.start), s = size_pos(ug, h);

	KASSERT(ug->nholes < ug->hcap, "user_grants: hole index full (%zu)", ug->nholes);
	move_items(&ug->by_addr[a + 1], &ug->by_addr[a], (ug->nholes - a) * sizeof(h));
	ug->by_addr[a] = h;
	move_items(&ug->by_size[s + 1], &ug->by_size[s], (ug->nholes - s) * sizeof(h));
	ug->by_size[s] = h;
	ug->nholes++;
}

static void hole_erase(struct user_grants *ug, struct hole h)
{
	size_t a = addr_pos(ug, h.start), s = size_pos(ug, h);

	KASSERT(a < ug->nholes && ug->by_addr[a].start == h.start && ug->by_addr[a].size == h.size,
		"user_grants: hole %#llx+%#llx missing by address", (unsigned long long)h.start,
		(unsigned long long)h.size);
	KASSERT(s < ug->nholes && ug->by_size[s].start == h.start && ug->by_size[s].size == h.size,
		"user_grants: hole %#llx+%#llx missing by size", (unsigned long long)h.start,
		(unsigned long long)h.size);
	move_items(&ug->by_addr[a], &ug->by_addr[a + 1], (ug->nholes - a - 1) * sizeof(h));
	move_items(&ug->by_size[s], &ug->by_size[s + 1], (ug->nholes - s - 1) * sizeof(h));
	ug->nholes--;
}

/* [start, start + size) becomes free, coalescing with the holes around it. */
static void hole_release(struct user_grants *ug, uint64_t start, uint64_t size)
{
	size_t a = addr_pos(ug, start);
	struct hole h = { start, size };

	if (a > 0 && ug->by_addr[a - 1].start + ug->by_addr[a - 1].size == start) {
		struct hole prev = ug->by_addr[a - 1];
		hole_erase(ug, prev);
		h.start = prev.start;
		h.size += prev.size;
		a--;
	}
	if (a < ug->nholes && ug->by_addr[a].start == start + size) {
		struct hole next = ug->by_addr[a];
		hole_erase(ug, next);
		h.size += next.size;
	}
	hole_insert(ug, h);
}

/* [start, start + size) is taken out of the hole that contains it. */
static void hole_take(struct user_grants *ug, uint64_t start, uint64_t size)
{
	size_t a = addr_pos(ug, start + 1);
	struct hole h;

	KASSERT(a > 0, "user_grants: no hole holds %#llx", (unsigned long long)start);
	h = ug->by_addr[a - 1];
	KASSERT(h.start <= start && start + size <= h.start + h.size,
		"user_grants: [%#llx, +%#llx) is not free", (unsigned long long)start,
		(unsigned long long)size);
	hole_erase(ug, h);
	if (h.start < start)
		hole_insert(ug, (struct hole){ h.start, start - h.start });
	if (start + size < h.start + h.size)
		hole_insert(ug, (struct hole){ start + size, h.start + h.size - start - size });
}

/* ---- grants ---- */

void ug_insert(struct user_grants *ug, const struct grant *g)
{
	size_t i = ug_lower_bound(ug, g->start);

	KASSERT(ug->n < ug->cap, "user_grants: insert without a reserved slot");
	KASSERT(g->pages > 0 && !ug_conflicts(ug, g->start, g->pages * PAGE_SIZE),
		"user_grants: insert of [%#llx, +%llu pages) over a grant",
		(unsigned long long)g->start, (unsigned long long)g->pages);
	hole_take(ug, g->start, g->pages * PAGE_SIZE);
	move_items(&ug->g[i + 1], &ug->g[i], (ug->n - i) * sizeof(*g));
	ug->g[i] = *g;
	ug->n++;
}

void ug_remove_at(struct user_grants *ug, size_t i)
{
	struct grant g = ug->g[i];

	move_items(&ug->g[i], &ug->g[i + 1], (ug->n - i - 1) * sizeof(g));
	ug->n--;
	hole_release(ug, g.start, g.pages * PAGE_SIZE);
}

static void piece_acquire(struct grant *g)
{
	if (g->kind == PROVIDER_EXTERNAL || g->kind == PROVIDER_FMAP_BORROWED)
		as_get(g->src);
	if (g->kind == PROVIDER_FMAP_BORROWED)
		g->src->fserve.pins++;
}

static void piece_release(struct grant *g)
{
	if (g->kind == PROVIDER_FMAP_BORROWED) {
		KASSERT(g->src->fserve.pins > 0, "user_grants: pin count underflow");
		g->src->fserve.pins--;
	}
	if (g->kind == PROVIDER_EXTERNAL || g->kind == PROVIDER_FMAP_BORROWED)
		as_put(g->src);
}

void ug_split_at(struct user_grants *ug, uint64_t va)
{
	size_t i = ug_lower_bound(ug, va);
	struct grant *g, second;
	uint64_t head;

	if (i >= ug->n || ug->g[i].start >= va)
		return;
	KASSERT(ug->n < ug->cap, "user_grants: split without a reserved slot");
	g = &ug->g[i];
	head = (va - g->start) / PAGE_SIZE;
	second = *g;
	second.start = va;
	second.pages = g->pages - head;
	if (g->kind != PROVIDER_ALLOCATED && g->kind != PROVIDER_ALLOCATED_SHARED)
		second.offset = g->offset + head * PAGE_SIZE;
	g->pages = head;
	piece_acquire(&second);
	move_items(&ug->g[i + 2], &ug->g[i + 1], (ug->n - i - 1) * sizeof(second));
	ug->g[i + 1] = second;
	ug->n++;
}

static bool mergeable(const struct grant *a, const struct grant *b)
{
	if (grant_end(a) != b->start || a->kind != b->kind || a->prot != b->prot ||
	    a->max_prot != b->max_prot)
		return false;
	switch (a->kind) {
	case PROVIDER_ALLOCATED:
	case PROVIDER_ALLOCATED_SHARED:
		return true;
	case PROVIDER_PHYS_BORROWED:
		return a->offset + a->pages * PAGE_SIZE == b->offset;
	case PROVIDER_EXTERNAL:
	case PROVIDER_FMAP_BORROWED:
		return a->src == b->src && a->offset + a->pages * PAGE_SIZE == b->offset;
	}
	return false;
}

void ug_merge_near(struct user_grants *ug, uint64_t lo, uint64_t hi)
{
	size_t i = ug_lower_bound(ug, lo >= PAGE_SIZE ? lo - PAGE_SIZE : 0);

	while (i + 1 < ug->n && ug->g[i].start <= hi) {
		struct grant *a = &ug->g[i], *b = &ug->g[i + 1];

		if (!mergeable(a, b)) {
			i++;
			continue;
		}
		a->pages += b->pages;
		piece_release(b);
		move_items(&ug->g[i + 1], &ug->g[i + 2], (ug->n - i - 2) * sizeof(*a));
		ug->n--;
	}
}

bool ug_find_free(const struct user_grants *ug, uint64_t min, uint64_t pages, uint64_t near,
		  uint64_t *out)
{
	uint64_t bytes = pages * PAGE_SIZE, best = 0, best_dist = UINT64_MAX;
	bool found = false;

	if (pages == 0 || pages > USER_END / PAGE_SIZE)
		return false;
	if (near == 0) {
		/* best fit: the by-size index from the first hole that is large enough */
		size_t s = size_pos(ug, (struct hole){ 0, bytes });

		for (; s < ug->nholes; s++) {
			struct hole h = ug->by_size[s];
			uint64_t lo = h.start < min ? min : h.start;

			if (lo < h.start + h.size && h.start + h.size - lo >= bytes) {
				*out = lo;
				return true;
			}
		}
		return false;
	}
	for (size_t a = 0; a < ug->nholes; a++) {
		struct hole h = ug->by_addr[a];
		uint64_t lo = h.start < min ? min : h.start, hi, cand, dist;

		if (lo >= h.start + h.size || h.start + h.size - lo < bytes)
			continue;
		hi = h.start + h.size - bytes; /* the highest start that fits */
		cand = near < lo ? lo : near > hi ? hi : near;
		dist = cand > near ? cand - near : near - cand;
		if (!found || dist < best_dist) {
			found = true;
			best = cand;
			best_dist = dist;
		}
	}
	if (found)
		*out = best;
	return found;
}

bool ug_audit(const struct user_grants *ug, char *buf, size_t len)
{
	uint64_t covered = 0, pos = 0;
	size_t gi = 0, hi = 0;

	if (ug->nholes > ug->n + 1 || ug->hcap < ug->cap + 2 || ug->n > ug->cap) {
		kformat(buf, len, "G2: %zu holes for %zu grants (capacity %zu/%zu)", ug->nholes, ug->n,
			ug->cap, ug->hcap);
		return false;
	}
	/* walk [0, USER_END) alternating grants and holes: they must tile it exactly */
	while (pos < USER_END) {
		if (gi < ug->n && ug->g[gi].start == pos) {
			const struct grant *g = &ug->g[gi];
			if (g->pages == 0 || g->start & PAGE_MASK || grant_end(g) > USER_END ||
			    grant_end(g) <= g->start) {
				kformat(buf, len, "G1: grant %zu at %#llx has %llu pages", gi,
					(unsigned long long)g->start, (unsigned long long)g->pages);
				return false;
			}
			covered += g->pages * PAGE_SIZE;
			pos = grant_end(g);
			gi++;
			if (gi < ug->n && ug->g[gi].start < pos) {
				kformat(buf, len, "G1: grant at %#llx overlaps the one before it",
					(unsigned long long)ug->g[gi].start);
				return false;
			}
			continue;
		}
		if (hi < ug->nholes && ug->by_addr[hi].start == pos) {
			struct hole h = ug->by_addr[hi];
			if (h.size == 0 || (h.size & PAGE_MASK)) {
				kformat(buf, len, "G2: hole at %#llx has size %#llx",
					(unsigned long long)h.start, (unsigned long long)h.size);
				return false;
			}
			if (hi + 1 < ug->nholes && ug->by_addr[hi + 1].start == h.start + h.size) {
				kformat(buf, len, "G2: holes at %#llx and %#llx touch (not maximal)",
					(unsigned long long)h.start,
					(unsigned long long)ug->by_addr[hi + 1].start);
				return false;
			}
			covered += h.size;
			pos = h.start + h.size;
			hi++;
			continue;
		}
		kformat(buf, len, "G2: %#llx is neither in a grant nor in a hole",
			(unsigned long long)pos);
		return false;
	}
	if (gi != ug->n || hi != ug->nholes || covered != USER_END || pos != USER_END) {
		kformat(buf, len, "G2: grants and holes do not tile the user half (%zu/%zu grants, "
			"%zu/%zu holes)", gi, ug->n, hi, ug->nholes);
		return false;
	}
	for (size_t s = 0; s < ug->nholes; s++) {
		struct hole h = ug->by_size[s];
		size_t a = addr_pos(ug, h.start);

		if (s > 0 && !size_less(ug->by_size[s - 1], h)) {
			kformat(buf, len, "G2: the by-size index is not sorted at %zu", s);
			return false;
		}
		if (a >= ug->nholes || ug->by_addr[a].start != h.start || ug->by_addr[a].size != h.size) {
			kformat(buf, len, "G2: hole %#llx+%#llx by size is not in the by-address index",
				(unsigned long long)h.start, (unsigned long long)h.size);
			return false;
		}
	}
	return true;
}
