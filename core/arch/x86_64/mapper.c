/*
 * The page-table mapper (invariants M1..M7 in mapper.h).
 */
#include "arch/x86_64/mapper.h"

#include "frame_alloc.h"
#include "pressure.h"
#include "lockdep.h"
#include "platform.h"

static pte_t *table_of(paddr_t table_pa)
{
	return (pte_t *)phys_to_virt(table_pa);
}

static bool entry_cas(pte_t *slot, pte_t *expected, pte_t desired)
{
	return __atomic_compare_exchange_n(slot, expected, desired, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* The canonical form of a 48-bit address (bit 47 copied into 63:48). */
static uint64_t sign_extend(uint64_t va)
{
	return (va & (1ull << 47)) ? (va | 0xffff000000000000ull) : va;
}

const char *map_result_name(enum map_result r)
{
	switch (r) {
	case MAP_OK:
		return "ok";
	case MAP_ENOMEM:
		return "out of memory";
	case MAP_EXISTS:
		return "already mapped";
	case MAP_NOT_MAPPED:
		return "not mapped";
	case MAP_HUGE_CONFLICT:
		return "huge page conflict";
	case MAP_EINVAL:
		return "invalid argument";
	}
	return "?";
}

/* A normal allocation: the pressure governor may refuse it (frozen system, no available
 * frame), which the mapper reports as MAP_ENOMEM like any exhaustion. */
static frame_t alloc_table(void)
{
	lockdep_might_sleep("a page-table allocation");
	if (!check_before_alloc(1))
		return FRAME_NONE;
	return allocate_p2frame_complex(0, FRAME_ZERO, FRAME_STRATEGY_FAST, 0, NULL);
}

enum map_result mapper_new(struct mapper *m, enum mapper_space space)
{
	frame_t root = alloc_table();

	if (frame_is_none(root))
		return MAP_ENOMEM;
	m->root = root;
	m->space = space;
	m->table_frames = 1;
	return MAP_OK;
}

/* Does the mapper edit the half va lives in? */
static bool half_matches(const struct mapper *m, uint64_t va)
{
	if (!va_canonical(va))
		return false;
	return va_is_user(va) ? m->space == MAPPER_USER : m->space == MAPPER_KERNEL;
}

/* Flag rules of a leaf at va (beyond encodability). */
static bool leaf_flags_fit_half(uint64_t va, page_flags_t flags)
{
	if (va_is_user(va))
		return (flags & PG_USER) && !(flags & PG_GLOBAL);
	return !(flags & PG_USER);
}

static page_flags_t table_flags_for(uint64_t va)
{
	return PG_PRESENT | PG_WRITABLE | (va_is_user(va) ? PG_USER : 0);
}

/*
 * The table holding the entries of `level` for va (level 1: the PT; 2: the PD; 3: the PDPT)
 * in *out. Missing tables are allocated when `create` (M4: every one before any is linked,
 * linked bottom-up, published with one store; on MAP_ENOMEM nothing changed), otherwise
 * MAP_NOT_MAPPED with *next (may be NULL) the first address past the hole (0 at the top of
 * the address space). MAP_HUGE_CONFLICT if a huge leaf is on the way (M3).
 */
static enum map_result table_for(struct mapper *m, uint64_t va, unsigned level, bool create,
				 paddr_t *out, uint64_t *next)
{
	frame_t fresh[3];
	unsigned missing, i, lvl;
	paddr_t table;
	pte_t seen = 0;

again:
	table = m->root.base;
	for (lvl = PT_LEVEL_PML4; lvl > level; lvl--) {
		seen = mapper_entry_load(&table_of(table)[pt_index(va, lvl)]);

		if (!pte_present(seen))
			break;
		if (pte_is_leaf(seen, lvl))
			return MAP_HUGE_CONFLICT;
		table = pte_address(seen, lvl);
	}
	if (lvl == level) {
		*out = table;
		return MAP_OK;
	}
	if (!create) {
		if (next)
			*next = sign_extend((va & ~(pt_level_size(lvl) - 1)) + pt_level_size(lvl));
		return MAP_NOT_MAPPED;
	}
	missing = lvl - level;
	for (i = 0; i < missing; i++) {
		fresh[i] = alloc_table();
		if (frame_is_none(fresh[i])) {
			while (i--)
				deallocate_frame(fresh[i]);
			return MAP_ENOMEM;
		}
	}
	for (i = missing - 1; i > 0; i--)
		table_of(fresh[i - 1].base)[pt_index(va, lvl - i)] =
			pte_make_table(fresh[i].base, table_flags_for(va), lvl - i);
	if (!entry_cas(&table_of(table)[pt_index(va, lvl)], &seen,
		       pte_make_table(fresh[0].base, table_flags_for(va), lvl))) {
		/* another CPU linked a table there first: use its */
		for (i = 0; i < missing; i++)
			deallocate_frame(fresh[i]);
		goto again;
	}
	__atomic_fetch_add(&m->table_frames, missing, __ATOMIC_RELAXED);
	*out = fresh[missing - 1].base;
	return MAP_OK;
}

/*
 * Install the encoded entry `leaf` (a present leaf, or a protnone entry at level 1) at
 * `level` for va (M1, M3, M4). The caller validated va and encoded the entry.
 */
static enum map_result map_leaf(struct mapper *m, uint64_t va, pte_t leaf, unsigned level)
{
	paddr_t table;
	enum map_result r = table_for(m, va, level, true, &table, NULL);
	pte_t *slot;

	if (r != MAP_OK)
		return r;
	slot = &table_of(table)[pt_index(va, level)];
	if (mapper_entry_load(slot) != 0)
		return MAP_EXISTS; /* a present leaf or a protnone entry (M1, M8) */
	mapper_entry_store(slot, leaf);
	return MAP_OK;
}

enum map_result mapper_leaf_table(struct mapper *m, uint64_t va, bool create, pte_t **entries,
				  uint64_t *next)
{
	paddr_t table;
	enum map_result r;

	if (m->space != MAPPER_USER || !va_is_user(va))
		return MAP_EINVAL;
	r = table_for(m, va, PT_LEVEL_PT, create, &table, next);
	if (r == MAP_OK)
		*entries = table_of(table);
	return r;
}

static enum map_result check_leaf_args(const struct mapper *m, uint64_t va, paddr_t pa,
				       page_flags_t flags, unsigned level)
{
	if (!half_matches(m, va))
		return MAP_EINVAL;
	if (va & (pt_level_size(level) - 1))
		return MAP_EINVAL;
	if (!leaf_flags_fit_half(va, flags))
		return MAP_EINVAL;
	if (!pte_leaf_encodable(pa, flags, level))
		return MAP_EINVAL;
	return MAP_OK;
}

enum map_result mapper_map(struct mapper *m, uint64_t va, frame_t frame, page_flags_t flags)
{
	enum map_result r = check_leaf_args(m, va, frame.base, flags, PT_LEVEL_PT);

	if (r != MAP_OK)
		return r;
	return map_leaf(m, va, pte_make_checked_leaf(frame.base, flags), PT_LEVEL_PT);
}

enum map_result mapper_map_huge(struct mapper *m, uint64_t va, frame_t frame, page_flags_t flags,
				unsigned level)
{
	enum map_result r;

	if (level != PT_LEVEL_PD && level != PT_LEVEL_PDPT)
		return MAP_EINVAL;
	flags |= PG_HUGE;
	r = check_leaf_args(m, va, frame.base, flags, level);
	if (r != MAP_OK)
		return r;
	return map_leaf(m, va, pte_make_checked_leaf(frame.base, flags), level);
}

/* The path of a walk to the leaf mapping va: tables[lvl] is the table holding the entry at
 * lvl. Returns the leaf level, or 0 if no present leaf maps va. */
struct walk_path {
	paddr_t tables[PT_LEVEL_PML4 + 1];
};

static unsigned walk_to_leaf(const struct mapper *m, uint64_t va, struct walk_path *p)
{
	paddr_t table = m->root.base;

	for (unsigned lvl = PT_LEVEL_PML4; lvl >= PT_LEVEL_PT; lvl--) {
		pte_t e = mapper_entry_load(&table_of(table)[pt_index(va, lvl)]);

		p->tables[lvl] = table;
		if (!pte_present(e))
			return 0;
		if (pte_is_leaf(e, lvl))
			return lvl;
		table = pte_address(e, lvl);
	}
	return 0; /* not reached: level 1 entries are always leaves */
}

/* The level-1 slot of va holding a protnone entry (p filled as by walk_to_leaf), or NULL. */
static pte_t *protnone_slot(const struct mapper *m, uint64_t va, struct walk_path *p)
{
	pte_t *slot;

	if (m->space != MAPPER_USER || !va_is_user(va) || walk_to_leaf(m, va, p) != 0)
		return NULL;
	/* the walk stopped at the first non-present entry; tables[1] is set only if it got there */
	for (unsigned lvl = PT_LEVEL_PML4; lvl > PT_LEVEL_PT; lvl--)
		if (!pte_present(mapper_entry_load(&table_of(p->tables[lvl])[pt_index(va, lvl)])))
			return NULL;
	slot = &table_of(p->tables[PT_LEVEL_PT])[pt_index(va, PT_LEVEL_PT)];
	return pte_is_protnone(mapper_entry_load(slot), PT_LEVEL_PT) ? slot : NULL;
}

static void leaf_of(pte_t e, unsigned level, struct mapped_leaf *out)
{
	out->frame = (frame_t){ pte_address(e, level) };
	out->flags = pte_flags(e, level);
	out->level = level;
}

void table_release_init(struct table_release *rel)
{
	rel->count = 0;
}

bool table_release_needs_flush(const struct table_release *rel)
{
	return TABLE_RELEASE_CAPACITY - rel->count < MAPPER_UNMAP_MAX_RELEASE;
}

void table_release_free(struct table_release *rel)
{
	for (unsigned i = 0; i < rel->count; i++)
		deallocate_frame(rel->frames[i]);
	rel->count = 0;
}

static bool table_empty(paddr_t table)
{
	const pte_t *t = table_of(table);

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (mapper_entry_load(&t[i]) != 0)
			return false;
	return true;
}

/* M6: unlink the tables of p from `level` up while they are empty; the root is never
 * released. Returns how many went to rel. */
static unsigned prune_path(struct mapper *m, uint64_t va, const struct walk_path *p, unsigned level,
			   struct table_release *rel)
{
	unsigned lvl, n = 0;

	for (lvl = level; lvl < PT_LEVEL_PML4; lvl++) {
		if (!table_empty(p->tables[lvl]))
			break;
		mapper_entry_store(&table_of(p->tables[lvl + 1])[pt_index(va, lvl + 1)], 0);
		rel->frames[rel->count++] = (frame_t){ p->tables[lvl] };
		m->table_frames--;
		n++;
	}
	return n;
}

enum map_result mapper_unmap(struct mapper *m, uint64_t va, struct mapped_leaf *out,
			     struct table_release *rel, unsigned *released)
{
	struct walk_path p;
	unsigned level, n = 0;
	pte_t old;

	if (released)
		*released = 0;
	if (!half_matches(m, va) || (va & PAGE_MASK))
		return MAP_EINVAL;
	KASSERT(!rel || !table_release_needs_flush(rel),
		"mapper_unmap: table_release full (%u of %u): flush it first", rel->count,
		TABLE_RELEASE_CAPACITY);
	level = walk_to_leaf(m, va, &p);
	if (level == 0) {
		if (!protnone_slot(m, va, &p))
			return MAP_NOT_MAPPED;
		level = PT_LEVEL_PT; /* a protnone entry goes like a leaf (M8) */
	}
	if (va & (pt_level_size(level) - 1))
		return MAP_HUGE_CONFLICT;

	old = mapper_entry_exchange(&table_of(p.tables[level])[pt_index(va, level)], 0);
	if (out)
		leaf_of(old, level, out);
	if (va_is_user(va) && rel)
		n = prune_path(m, va, &p, level, rel);
	if (released)
		*released = n;
	return MAP_OK;
}

unsigned mapper_prune_tables(struct mapper *m, uint64_t va, struct table_release *rel)
{
	struct walk_path p;
	paddr_t table = m->root.base;
	unsigned lvl;

	KASSERT(m->space == MAPPER_USER && va_is_user(va), "mapper_prune_tables: not user memory");
	KASSERT(!table_release_needs_flush(rel),
		"mapper_prune_tables: table_release full (%u of %u): flush it first", rel->count,
		TABLE_RELEASE_CAPACITY);
	for (lvl = PT_LEVEL_PML4; lvl > PT_LEVEL_PT; lvl--) {
		pte_t e = mapper_entry_load(&table_of(table)[pt_index(va, lvl)]);

		p.tables[lvl] = table;
		if (!pte_present(e) || pte_is_leaf(e, lvl))
			return 0;
		table = pte_address(e, lvl);
	}
	p.tables[PT_LEVEL_PT] = table;
	return prune_path(m, va, &p, PT_LEVEL_PT, rel);
}

/* Replace the flags of the present leaf in slot at level (M7); the caller validated them
 * for the half. */
static enum map_result remap_entry(pte_t *slot, unsigned level, page_flags_t flags,
				   page_flags_t *old_flags)
{
	pte_t old = mapper_entry_load(slot), base;

	flags &= ~(page_flags_t)(PG_HUGE | PG_ACCESSED | PG_DIRTY);
	if (level > PT_LEVEL_PT)
		flags |= PG_HUGE;
	if (!pte_leaf_encodable(pte_address(old, level), flags, level))
		return MAP_EINVAL;
	/* the frame stays (only the processor writes the entry meanwhile, and only A/D) */
	base = pte_make_checked_leaf(pte_address(old, level), flags);
	/* M7: keep whatever A/D the processor set, even while we swap the entry; A and D are
	 * bits 5 and 6 of a leaf at every level. A processor sets A, and D only through a
	 * writable entry: with A set, and D set or the entry read-only, it can change nothing
	 * any more, and a plain store is exact (no locked instruction) */
	if ((old & PTE_A) && (old & (PTE_D | PTE_RW)) != PTE_RW)
		mapper_entry_overwrite(slot, base | (old & (PTE_A | PTE_D)));
	else
		while (!entry_cas(slot, &old, base | (old & (PTE_A | PTE_D))))
			;
	if (old_flags)
		*old_flags = pte_flags(old, level);
	return MAP_OK;
}

enum map_result mapper_remap(struct mapper *m, uint64_t va, page_flags_t flags,
			     page_flags_t *old_flags)
{
	struct walk_path p;
	unsigned level;

	if (!half_matches(m, va) || (va & PAGE_MASK))
		return MAP_EINVAL;
	if (!leaf_flags_fit_half(va, flags))
		return MAP_EINVAL;
	level = walk_to_leaf(m, va, &p);
	if (level == 0)
		return MAP_NOT_MAPPED;
	if (va & (pt_level_size(level) - 1))
		return MAP_HUGE_CONFLICT;
	return remap_entry(&table_of(p.tables[level])[pt_index(va, level)], level, flags, old_flags);
}

enum map_result mapper_remap_slot(pte_t *slot, page_flags_t flags, page_flags_t *old_flags)
{
	if (!pte_present(mapper_entry_load(slot)))
		return MAP_NOT_MAPPED;
	if (!leaf_flags_fit_half(0 /* any user-half address */, flags))
		return MAP_EINVAL;
	return remap_entry(slot, PT_LEVEL_PT, flags, old_flags);
}

enum map_result mapper_map_slot(struct mapper *m, pte_t *slot, uint64_t va, frame_t frame,
				page_flags_t flags)
{
	enum map_result r;

	if (!slot)
		return mapper_map(m, va, frame, flags);
	r = check_leaf_args(m, va, frame.base, flags, PT_LEVEL_PT);
	if (r != MAP_OK)
		return r;
	if (mapper_entry_load(slot) != 0)
		return MAP_EXISTS; /* M1, M8 */
	mapper_entry_store(slot, pte_make_checked_leaf(frame.base, flags));
	return MAP_OK;
}

/* va is a 4 KiB-aligned user-half address of a user mapper. */
static bool protnone_va_ok(const struct mapper *m, uint64_t va)
{
	return m->space == MAPPER_USER && va_is_user(va) && !(va & PAGE_MASK);
}

enum map_result mapper_protnone(struct mapper *m, uint64_t va, struct mapped_leaf *out)
{
	struct walk_path p;
	unsigned level;
	pte_t *slot, old, new_entry;

	if (!protnone_va_ok(m, va))
		return MAP_EINVAL;
	level = walk_to_leaf(m, va, &p);
	if (level == 0)
		return MAP_NOT_MAPPED;
	if (level != PT_LEVEL_PT)
		return MAP_HUGE_CONFLICT;
	slot = &table_of(p.tables[level])[pt_index(va, level)];
	old = mapper_entry_load(slot);
	/* M7: the A/D bits the processor sets meanwhile are kept in the entry */
	do {
		new_entry = pte_make_protnone(pte_address(old, level),
					      pte_flags(old, level) & PG_PROTNONE_KEPT_FLAGS);
	} while (!entry_cas(slot, &old, new_entry));
	if (out)
		leaf_of(old, level, out);
	return MAP_OK;
}

enum map_result mapper_protnone_restore(struct mapper *m, uint64_t va, page_flags_t flags,
					struct mapped_leaf *kept)
{
	struct walk_path p;
	pte_t *slot, e;

	if (!protnone_va_ok(m, va) || !leaf_flags_fit_half(va, flags))
		return MAP_EINVAL;
	slot = protnone_slot(m, va, &p);
	if (!slot)
		return walk_to_leaf(m, va, &p) ? MAP_EXISTS : MAP_NOT_MAPPED;
	e = mapper_entry_load(slot);
	flags &= ~(page_flags_t)(PG_ACCESSED | PG_DIRTY);
	flags |= pte_flags(e, PT_LEVEL_PT) & (PG_ACCESSED | PG_DIRTY);
	if (!pte_leaf_encodable(pte_address(e, PT_LEVEL_PT), flags, PT_LEVEL_PT))
		return MAP_EINVAL;
	/* the processor never writes a not-present entry: a plain store publishes the leaf */
	mapper_entry_store(slot, pte_make_leaf(pte_address(e, PT_LEVEL_PT), flags, PT_LEVEL_PT));
	if (kept)
		leaf_of(e, PT_LEVEL_PT, kept);
	return MAP_OK;
}

enum map_result mapper_map_protnone(struct mapper *m, uint64_t va, frame_t frame,
				    page_flags_t flags)
{
	if (!protnone_va_ok(m, va) || !(flags & PG_USER) ||
	    !pte_protnone_encodable(frame.base, flags))
		return MAP_EINVAL;
	return map_leaf(m, va, pte_make_protnone(frame.base, flags), PT_LEVEL_PT);
}

enum map_result mapper_protnone_get(const struct mapper *m, uint64_t va, struct mapped_leaf *out)
{
	struct walk_path p;
	pte_t *slot;

	if (!protnone_va_ok(m, va))
		return MAP_EINVAL;
	slot = protnone_slot(m, va, &p);
	if (!slot)
		return walk_to_leaf(m, va, &p) ? MAP_EXISTS : MAP_NOT_MAPPED;
	leaf_of(mapper_entry_load(slot), PT_LEVEL_PT, out);
	return MAP_OK;
}

enum map_result mapper_translate(const struct mapper *m, uint64_t va, struct translation *out)
{
	struct walk_path p;
	unsigned level;
	pte_t e;

	if (!va_canonical(va))
		return MAP_EINVAL;
	level = walk_to_leaf(m, va, &p);
	if (level == 0)
		return MAP_NOT_MAPPED;
	e = mapper_entry_load(&table_of(p.tables[level])[pt_index(va, level)]);
	out->entry = e;
	out->leaf.frame = (frame_t){ pte_address(e, level) };
	out->leaf.flags = pte_flags(e, level);
	out->leaf.level = level;
	out->pa = pte_address(e, level) + (va & (pt_level_size(level) - 1));
	return MAP_OK;
}

static bool visit_table(paddr_t table, unsigned level, uint64_t va_base, unsigned first,
			unsigned end, const struct mapper_visitor *v)
{
	const pte_t *t = table_of(table);

	for (unsigned i = first; i < end; i++) {
		pte_t e = mapper_entry_load(&t[i]);
		uint64_t va = sign_extend(va_base + (uint64_t)i * pt_level_size(level));

		if (!pte_present(e)) {
			if (v->protnone && pte_is_protnone(e, level) &&
			    !v->protnone(v->ctx, va, e, level))
				return false;
			continue;
		}
		if (pte_is_leaf(e, level)) {
			if (v->leaf && !v->leaf(v->ctx, va, e, level))
				return false;
			continue;
		}
		if (v->table && !v->table(v->ctx, (frame_t){ pte_address(e, level) }, level - 1, va))
			return false;
		if (!visit_table(pte_address(e, level), level - 1, va, 0, PT_ENTRIES, v))
			return false;
	}
	return true;
}

bool mapper_visit(const struct mapper *m, enum mapper_visit_scope scope,
		  const struct mapper_visitor *v)
{
	unsigned first = scope == MAPPER_VISIT_KERNEL ? PML4_KERNEL_FIRST_SLOT : 0;
	unsigned end = scope == MAPPER_VISIT_USER ? PML4_USER_SLOTS : PT_ENTRIES;

	if (v->table && !v->table(v->ctx, m->root, PT_LEVEL_PML4, sign_extend(
		(uint64_t)first * pt_level_size(PT_LEVEL_PML4))))
		return false;
	return visit_table(m->root.base, PT_LEVEL_PML4, 0, first, end, v);
}

static void destroy_table(struct mapper *m, paddr_t table, unsigned level, uint64_t va_base,
			  unsigned end,
			  void (*leaf)(void *ctx, uint64_t va, pte_t entry, unsigned level),
			  void *ctx)
{
	pte_t *t = table_of(table);

	for (unsigned i = 0; i < end; i++) {
		pte_t e = t[i];
		uint64_t va = va_base + (uint64_t)i * pt_level_size(level);

		if (!pte_present(e)) {
			if (pte_is_protnone(e, level) && leaf)
				leaf(ctx, va, e, level); /* it holds its frame like a leaf (M8) */
			t[i] = 0;
			continue;
		}
		if (pte_is_leaf(e, level)) {
			if (leaf)
				leaf(ctx, va, e, level);
		} else {
			destroy_table(m, pte_address(e, level), level - 1, va, PT_ENTRIES, leaf, ctx);
			deallocate_frame((frame_t){ pte_address(e, level) });
			m->table_frames--;
		}
		t[i] = 0;
	}
}

/* Unlinks the empty tables below `table` bottom-up while rel has room; returns how many. */
static unsigned reclaim_below(struct mapper *m, paddr_t table, unsigned level, unsigned end,
			      struct table_release *rel)
{
	pte_t *t = table_of(table);
	unsigned n = 0;

	for (unsigned i = 0; i < end && rel->count < TABLE_RELEASE_CAPACITY; i++) {
		pte_t e = mapper_entry_load(&t[i]);
		paddr_t child;

		if (!pte_present(e) || pte_is_leaf(e, level))
			continue;
		child = pte_address(e, level);
		if (level > PT_LEVEL_PD)
			n += reclaim_below(m, child, level - 1, PT_ENTRIES, rel);
		if (rel->count < TABLE_RELEASE_CAPACITY && table_empty(child)) {
			mapper_entry_store(&t[i], 0);
			rel->frames[rel->count++] = (frame_t){ child };
			m->table_frames--;
			n++;
		}
	}
	return n;
}

unsigned mapper_reclaim_empty_tables(struct mapper *m, struct table_release *rel)
{
	KASSERT(m->space == MAPPER_USER, "mapper_reclaim_empty_tables on a kernel mapper");
	return reclaim_below(m, m->root.base, PT_LEVEL_PML4, PML4_USER_SLOTS, rel);
}

void mapper_destroy_user(struct mapper *m,
			 void (*leaf)(void *ctx, uint64_t va, pte_t entry, unsigned level),
			 void *ctx)
{
	KASSERT(m->space == MAPPER_USER, "mapper_destroy_user on a kernel mapper");
	KASSERT(!frame_is_none(m->root), "mapper_destroy_user: no root");
	destroy_table(m, m->root.base, PT_LEVEL_PML4, 0, PML4_USER_SLOTS, leaf, ctx);
	deallocate_frame(m->root);
	m->table_frames--;
	KASSERT(m->table_frames == 0, "mapper_destroy_user: %llu table frames unaccounted for",
		(unsigned long long)m->table_frames);
	m->root = FRAME_NONE;
}
