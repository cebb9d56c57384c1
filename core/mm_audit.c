/*
 * The memory manager's audit (mm_audit): every live address space against the invariants
 * below (docs/invariants.md), then the frame allocator, the heap and the pressure governor.
 * Reports the first violation.
 *
 * What it proves, with the registry and every space locked (mm_lock_all: no system call or
 * fault is halfway):
 * - G1/G2 per space (ug_audit): grants sorted and disjoint, holes their exact complement,
 *   both hole indexes the same set;
 * - R4 every present user PTE and every protnone entry (mapper.h M8) lies inside a grant;
 *   R3 a present PTE's rights are within the grant's protection (no present page in a
 *   PROT_NONE grant), and protnone entries exist only in PROT_NONE grants; both are 4 KiB;
 * - R2 no writable PTE maps a Cow frame; R5 the zero frame is never writable and reads zero;
 *   shared grants never map Cow frames or the zero frame (F1 depends on it); phys= grants
 *   map exactly their physical page, which the allocator does not manage; every other PTE
 *   maps a referenced (not free, not U0) frame;
 * - R1 every counted frame's reference count equals the number of present user PTEs plus
 *   protnone entries holding it in all spaces (a PROT_NONE page keeps its frame and its
 *   reference), plus the kernel's holders: the zero frame's base reference, and with raii
 *   holders alive at least that many; no frame holds references nobody maps (leaked
 *   references). Protnone entries map their frame like PTEs otherwise too: never a free or
 *   U0 frame, the exact physical page in a phys= grant, no Cow frame in a shared grant;
 * - M5 each space's table count is what its tables are;
 * - pins of every file server = FmapBorrowed grants of all spaces naming it; the references
 *   of every live space = 1 + the External/FmapBorrowed grants naming it.
 * Nothing is allocated: the per-frame census lives in a static table (frames beyond its
 * capacity are counted by a second walk instead).
 */
#include "boot_memory.h"
#include "frame_alloc.h"
#include "frame_audit.h"
#include "kformat.h"
#include "kheap.h"
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"
#include "pressure.h"

#define CENSUS_SLOTS (1u << 17)

struct census_slot {
	uint64_t frame_plus_one; /* 0: empty */
	uint64_t ptes;
};
static struct census_slot census[CENSUS_SLOTS];
/* Slots in use this time: a power of two of at least twice the managed frames (at most
 * CENSUS_SLOTS), so that a small machine's audit clears and probes a small table. */
static size_t census_slots = CENSUS_SLOTS;
static uint64_t census_used;
static bool census_overflow;

static size_t slot_of(uint64_t key)
{
	key *= 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 47) & (census_slots - 1);
}

/* The slot of frame f, created if asked; NULL if absent (or the table is full). */
static struct census_slot *census_slot(frame_t f, bool create)
{
	uint64_t key = f.base + 1;

	for (size_t i = slot_of(key), n = 0; n < census_slots; i = (i + 1) & (census_slots - 1), n++) {
		if (census[i].frame_plus_one == key)
			return &census[i];
		if (census[i].frame_plus_one == 0) {
			if (!create || census_used >= census_slots / 4 * 3)
				return NULL;
			census[i].frame_plus_one = key;
			census[i].ptes = 0;
			census_used++;
			return &census[i];
		}
	}
	return NULL;
}

struct leaf_check {
	struct addr_space *as;
	char *buf;
	size_t len;
	bool ok;
	uint64_t tables;
};

static bool fail(struct leaf_check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct leaf_check *c, const char *fmt, ...)
{
	va_list ap;
	size_t n = kformat(c->buf, c->len, "%s: ", addr_space_name(c->as));

	va_start(ap, fmt);
	if (n < c->len)
		kvformat(c->buf + n, c->len - n, fmt, ap);
	va_end(ap);
	c->ok = false;
	return false;
}

static bool zero_frame_reads_zero(void)
{
	const uint64_t *p = phys_to_virt(zero_frame().base);

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (p[i])
			return false;
	return true;
}

static bool check_table(void *ctx, frame_t t, unsigned level, uint64_t va)
{
	struct leaf_check *c = ctx;

	(void)t, (void)level, (void)va;
	c->tables++;
	return true;
}

/* A present leaf, or a protnone entry (pte_present false): the frame it holds is counted. */
static bool check_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	struct leaf_check *c = ctx;
	struct grant *g = ug_find(&c->as->grants, va);
	page_flags_t f = pte_flags(e, level);
	frame_t fr = { pte_address(e, level) };
	struct page_info *info = get_page_info(fr);
	bool present = pte_present(e);
	bool writable = present && (f & PG_WRITABLE);

	if (level != PT_LEVEL_PT)
		return fail(c, "a level-%u leaf at %#llx (user pages are 4 KiB)", level,
			    (unsigned long long)va);
	if (!g)
		return fail(c, "R4: %s at %#llx (frame %#llx) outside every grant",
			    present ? "PTE" : "protnone entry", (unsigned long long)va,
			    (unsigned long long)fr.base);
	if (!present && g->prot)
		return fail(c, "R3: protnone entry at %#llx (frame %#llx) in a grant with protection %#x",
			    (unsigned long long)va, (unsigned long long)fr.base, g->prot);
	if (!(f & PG_USER) ||
	    (present && (!g->prot || (writable && !(g->prot & MM_PROT_WRITE)) ||
			 (!(f & PG_NO_EXEC) && !(g->prot & MM_PROT_EXEC)))))
		return fail(c, "R3: PTE at %#llx has rights %#x beyond the grant's protection %#x",
			    (unsigned long long)va, f, g->prot);
	if (g->kind == PROVIDER_PHYS_BORROWED) {
		if (fr.base != g->offset + (va - g->start) || info)
			return fail(c, "phys grant at %#llx maps %#llx, not physical %#llx",
				    (unsigned long long)va, (unsigned long long)fr.base,
				    (unsigned long long)(g->offset + (va - g->start)));
		return true;
	}
	if (!info)
		return true; /* physical memory reached through a borrowed grant */
	{
		struct refcount rc = page_info_refcount(info);
		bool zero = frame_eq(fr, zero_frame());
		struct census_slot *s;

		if (rc.kind == REFCOUNT_FREE || rc.kind == REFCOUNT_U0)
			return fail(c, "PTE at %#llx maps frame %#llx, which is %s",
				    (unsigned long long)va, (unsigned long long)fr.base,
				    rc.kind == REFCOUNT_FREE ? "free" : "unreferenced (U0)");
		if (zero && writable)
			return fail(c, "R5: the zero frame is writable at %#llx", (unsigned long long)va);
		if (rc.kind == REFCOUNT_COW && writable)
			return fail(c, "R2: writable PTE at %#llx to Cow(%llu) frame %#llx",
				    (unsigned long long)va, (unsigned long long)rc.count,
				    (unsigned long long)fr.base);
		if (g->kind == PROVIDER_ALLOCATED_SHARED && (zero || rc.kind == REFCOUNT_COW))
			return fail(c, "F1: shared grant maps %s frame %#llx at %#llx",
				    zero ? "the zero" : "a copy-on-write", (unsigned long long)fr.base,
				    (unsigned long long)va);
		s = census_slot(fr, true);
		if (s)
			s->ptes++;
		else
			census_overflow = true;
	}
	return true;
}

/* PTEs mapping frame f in every live space (the slow path past the census capacity). */
static bool count_leaf(void *ctx, uint64_t va, pte_t e, unsigned level)
{
	uint64_t *n = ctx;

	(void)va;
	if (pte_address(e, level) == n[0])
		n[1]++;
	return true;
}

static uint64_t ptes_mapping(frame_t f)
{
	uint64_t ctx[2] = { f.base, 0 };
	struct mapper_visitor v = { NULL, count_leaf, ctx, count_leaf };

	for (struct addr_space *as = mm_registry_first(); as; as = as->next)
		if (!as->dead)
			mapper_visit(&as->mapper, MAPPER_VISIT_USER, &v);
	return ctx[1];
}

static bool check_counts(char *buf, size_t len)
{
	bool raii = raii_frame_holders() > 0;
	const struct boot_area *areas = boot_memory_areas();

	for (size_t a = 0; a < boot_memory_area_count(); a++) {
		for (paddr_t pa = areas[a].base; pa < areas[a].base + areas[a].size; pa += PAGE_SIZE) {
			frame_t f = { pa };
			struct page_info *info = get_page_info(f);
			struct census_slot *s;
			uint64_t ptes, expect;
			struct refcount rc;

			if (!info || !page_info_is_used(info))
				continue;
			rc = page_info_refcount(info);
			if (rc.count == 0)
				continue;
			s = census_slot(f, false);
			ptes = s ? s->ptes : census_overflow ? ptes_mapping(f) : 0;
			expect = ptes + (frame_eq(f, zero_frame()) ? 1 : 0);
			if (rc.count == expect || (raii && rc.count > expect))
				continue;
			kformat(buf, len,
				"R1: frame %#llx has %llu reference%s but %llu user PTE%s (protnone entries included) map it%s",
				(unsigned long long)pa, (unsigned long long)rc.count,
				rc.count == 1 ? "" : "s", (unsigned long long)ptes, ptes == 1 ? "" : "s",
				frame_eq(f, zero_frame()) ? " (+1 base reference: the zero frame)" : "");
			return false;
		}
	}
	return true;
}

static bool check_links(char *buf, size_t len)
{
	for (struct addr_space *s = mm_registry_first(); s; s = s->next) {
		uint64_t pins = 0, refs = 1 + s->holds;

		for (struct addr_space *c = mm_registry_first(); c; c = c->next) {
			for (size_t i = 0; i < c->grants.n; i++) {
				const struct grant *g = &c->grants.g[i];

				if ((g->kind == PROVIDER_EXTERNAL || g->kind == PROVIDER_FMAP_BORROWED) &&
				    g->src == s)
					refs++;
				if (g->kind == PROVIDER_FMAP_BORROWED && g->src == s)
					pins++;
			}
		}
		if (pins != s->fserve.pins) {
			kformat(buf, len, "%s: the served file has %llu pins, but %llu file mappings name it",
				addr_space_name(s), (unsigned long long)s->fserve.pins,
				(unsigned long long)pins);
			return false;
		}
		if (refs != s->refs) {
			kformat(buf, len, "%s: %llu references to the space, but 1 + %llu holders + %llu grants name it",
				addr_space_name(s), (unsigned long long)s->refs,
				(unsigned long long)s->holds,
				(unsigned long long)(refs - 1 - s->holds));
			return false;
		}
	}
	return true;
}

bool mm_audit(char *buf, size_t len)
{
	bool ok = true;

	mm_lock_all();
	census_slots = 1024;
	while (census_slots < CENSUS_SLOTS && census_slots < 2 * total_frames())
		census_slots *= 2;
	__builtin_memset(census, 0, census_slots * sizeof(census[0]));
	census_used = 0;
	census_overflow = false;
	if (!frame_is_none(zero_frame()) && !zero_frame_reads_zero()) {
		kformat(buf, len, "R5: the zero frame %#llx does not read as zero",
			(unsigned long long)zero_frame().base);
		ok = false;
	}
	for (struct addr_space *as = mm_registry_first(); ok && as; as = as->next) {
		struct leaf_check c = { as, buf, len, true, 0 };
		struct mapper_visitor v = { check_table, check_leaf, &c, check_leaf };
		size_t n = kformat(buf, len, "%s: ", addr_space_name(as));

		if (as->dead)
			continue; /* destroyed, not yet out of the registry (addr_space_destroy) */
		if (n >= len || !ug_audit(&as->grants, buf + n, len - n)) {
			ok = false;
			break;
		}
		mapper_visit(&as->mapper, MAPPER_VISIT_USER, &v);
		if (!c.ok) {
			ok = false;
			break;
		}
		if (c.tables != as->mapper.table_frames) {
			kformat(buf, len, "%s: M5: %llu tables reachable, %llu counted", addr_space_name(as),
				(unsigned long long)c.tables, (unsigned long long)as->mapper.table_frames);
			ok = false;
		}
	}
	if (ok)
		ok = check_links(buf, len) && check_counts(buf, len);
	mm_unlock_all();
	if (ok && !frame_audit(buf, len))
		ok = false;
	if (ok && !kheap_audit(buf, len))
		ok = false;
	if (ok && !pressure_audit(buf, len))
		ok = false;
	return ok;
}
