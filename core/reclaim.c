/*
 * Eviction to swap, swap-in, global direct reclaim and the swap entries' upkeep
 * (reclaim.h).
 *
 * Invariants kept here (swap_audit checks W1-W3; W4 is an ordering, which no snapshot sees):
 * - W1 a swap entry lies in an anonymous grant (private or shared) of its space, is well
 *   formed (swap_entry.h) and names a used slot; as->swapped counts the space's entries;
 * - W2 every slot's count is the swap entries naming it, plus one if the swap cache pairs
 *   it with a frame (swap_area.h);
 * - W3 a frame paired with a slot is mapped nowhere writable (its contents are the slot's);
 * - W4 a value written is never lost: a page's contents go to its slot after every mapping
 *   of the frame was replaced by the swap entry and every CPU was shot down (no stale
 *   writable TLB entry can still write into the frame), and the frame is freed only then.
 *
 * Global reclaim (the default policy without a limit): a second-chance clock over the page
 * tables of every process, the way Linux's multi-generational LRU ages pages by walking
 * page tables, reduced to two generations: a page whose accessed bit is set in any of its
 * mappings has the bit cleared (with an invalidation, so the next access sets it again) and
 * is kept; a page with the bit clear everywhere is evicted. A page that is written is written
 * to swap; one the swap cache pairs with its slot is dropped. See docs/swap.md for why.
 *
 * When it runs: the governor's reclaim step at Warning and Emergency (pressure.h), direct
 * reclaim of a fault that found no frame, and the evacuation of the OOM path; a victim only
 * after reclaim freed nothing. How it gets the frames it needs: it needs none. The swap
 * area's maps are allocated at boot, the device's storage is the host's, and an eviction
 * only rewrites entries and frees frames, so the reserve is never touched for it.
 */
#include "frame_alloc.h"
#include "kformat.h"
#include "page_info.h"
#include "platform.h"
#include "pressure.h"
#include "reclaim.h"
#include "replace_policy.h"
#include "swap_area.h"
#include "arch/x86_64/swap_entry.h"

#define KTRACE_KIND TRACE_FAULT

/* Mappings of one frame eviction handles at most (a family larger than this keeps it). */
#define EVICT_MAX_MAPS 64u
/* The batch of direct reclaim (Linux's SWAP_CLUSTER_MAX). */
#define RECLAIM_BATCH 32u

static pte_t *leaf_slot_of(struct addr_space *as, uint64_t va)
{
	pte_t *pt;

	if (as->dead || mapper_leaf_table(&as->mapper, va, false, &pt, NULL) != MAP_OK)
		return NULL;
	return &pt[pt_index(va, PT_LEVEL_PT)];
}

static bool anon_grant(const struct grant *g)
{
	return g && (g->kind == PROVIDER_ALLOCATED || g->kind == PROVIDER_ALLOCATED_SHARED);
}

/* ---- swap-in ---------------------------------------------------------------------------- */

/* Entry e in *slot of (as, va) becomes the present leaf of f with flags; one holder of the
 * slot goes. */
static void install_from_swap(struct addr_space *as, uint64_t va, pte_t *slot, pte_t e, frame_t f,
			      page_flags_t flags)
{
	pte_t old = mapper_entry_exchange(slot, pte_make_leaf(f.base, flags, PT_LEVEL_PT));

	KASSERT(old == e, "swap-in: the entry of %s %#llx changed", addr_space_name(as),
		(unsigned long long)va);
	as->swapped--;
	swap_slot_put(swp_entry_slot(e));
}

/* Shared memory: the page comes back into every space of the family that holds the same
 * slot at va, so that they keep sharing one frame. */
static enum pf_status swap_in_shared(struct addr_space *as, struct grant *g, uint64_t va,
				     pte_t *slot, pte_t e, enum mm_access acc, bool touch)
{
	uint64_t s = swp_entry_slot(e);
	struct frame_or_error nf = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);
	unsigned others = 0;

	if (nf.error != MM_OK)
		return PF_OOM;
	KASSERT(frame_is_none(swap_cache_lookup(s)), "swap-in: a shared page's slot is paired");
	if (!swap_read_page(s, nf.frame)) {
		mm_free_fresh(nf.frame);
		return PF_NONFATAL_INTERNAL_ERROR;
	}
	AS_STAT_INC(as, faults_major);
	install_from_swap(as, va, slot, e, nf.frame, mm_preset_ad(grant_leaf_flags(g), acc, touch));
	for (struct addr_space *m = mm_registry_first(); m; m = m->next) {
		struct grant *mg;
		pte_t *ms;

		if (m == as || m->dead || m->family != as->family)
			continue;
		ms = leaf_slot_of(m, va);
		if (!ms || mapper_entry_load(ms) != e)
			continue;
		mg = ug_find(&m->grants, va);
		KASSERT(mg && mg->kind == PROVIDER_ALLOCATED_SHARED,
			"swap-in: %s holds a shared slot outside shared memory at %#llx",
			addr_space_name(m), (unsigned long long)va);
		KASSERT(add_ref(get_page_info(nf.frame), REF_SHARED) == ADD_REF_OK,
			"swap-in: shared reference");
		if (!grant_leaf_flags(mg)) {
			/* PROT_NONE there: the frame is kept in a protnone entry (mapper.h M8), so
			 * that the page shows what the others write once it is accessible again */
			pte_t old = mapper_entry_exchange(ms, pte_make_protnone(nf.frame.base,
									       PG_USER | PG_WRITABLE));

			KASSERT(old == e, "swap-in: the entry of %s %#llx changed", addr_space_name(m),
				(unsigned long long)va);
			m->swapped--;
			swap_slot_put(s);
		} else {
			install_from_swap(m, va, ms, e, nf.frame, grant_leaf_flags(mg));
		}
		others++;
	}
	KTRACE("swap-in: %s %#llx %s: shared page read back from slot %llu -> frame %#llx (major fault), mapped again in %u other space%s",
	       addr_space_name(as), (unsigned long long)va,
	       acc == MM_ACCESS_WRITE ? "write" : "read", (unsigned long long)s,
	       (unsigned long long)nf.frame.base, others, others == 1 ? "" : "s");
	return PF_OK;
}

enum pf_status swap_in_page(struct addr_space *as, struct grant *g, uint64_t va, pte_t *slot,
			    enum mm_access acc, bool touch, bool all, bool *need_all,
			    bool *limit_full)
{
	pte_t e = mapper_entry_load(slot), leaf;
	uint64_t s = swp_entry_slot(e);
	page_flags_t want = grant_leaf_flags(g);
	frame_t f;
	struct frame_or_error nf;
	bool paired;

	*need_all = false;
	if (!pte_is_swap(e))
		return PF_OK; /* another CPU of the space brought it back meanwhile: look again */
	/* shared memory comes back into several spaces, a limit evicts, and a frame of the
	 * swap cache is mapped by others (its count is only changed with its holders held):
	 * every space locked. A page read from its slot needs only this space, shared */
	if (!all && (g->kind == PROVIDER_ALLOCATED_SHARED || as->replace ||
		     (__atomic_load_n(&swap_cache_pairs, __ATOMIC_RELAXED) &&
		      swap_cache_has_slot(s)))) {
		*need_all = true;
		return PF_NONFATAL_INTERNAL_ERROR;
	}
	if (g->kind == PROVIDER_ALLOCATED_SHARED)
		return swap_in_shared(as, g, va, slot, e, acc, touch);
	KASSERT(g->kind == PROVIDER_ALLOCATED, "swap-in: a swap entry in a %s grant",
		grant_provider_name(g->kind));
	if (as->replace && !replace_make_room(as, va, va)) {
		*limit_full = true; /* no frame was short: the handler asks no one (page_fault.c) */
		return PF_OOM;
	}
	f = all ? swap_cache_lookup(s) : FRAME_NONE;
	if (!frame_is_none(f) && add_ref(get_page_info(f), REF_COW) == ADD_REF_OK) {
		/* the frame is still here (another space maps it, copy-on-write): a minor fault;
		 * it stays paired, so read-only: a write takes the copy-on-write path next */
		install_from_swap(as, va, slot, e, f,
				  mm_preset_ad(want & ~(page_flags_t)PG_WRITABLE, acc, touch));
		AS_STAT_INC(as, faults_swap_cached);
		KTRACE("swap-in: %s %#llx %s: slot %llu is still in frame %#llx (swap cache): mapped read-only, no read",
		       addr_space_name(as), (unsigned long long)va,
		       acc == MM_ACCESS_WRITE ? "write" : "read", (unsigned long long)s,
		       (unsigned long long)f.base);
		if (as->replace)
			replace_note_resident(as, va);
		return PF_OK;
	}
	/* read from the slot with no lock but the space's (shared: other CPUs of the space may
	 * fault on the same entry; the entry is replaced by compare-and-exchange and the loser
	 * gives its frame back). The slot's contents cannot change meanwhile: this entry holds
	 * a count, and a slot is only written while nothing names it yet */
	nf = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);
	if (nf.error != MM_OK)
		return PF_OOM;
	if (!swap_read_page(s, nf.frame)) {
		mm_free_fresh(nf.frame);
		return PF_NONFATAL_INTERNAL_ERROR;
	}
	/* read back and not written: the slot keeps the contents and the frame stays paired
	 * with it, read-only, so that a clean eviction needs no write. A write makes the page
	 * differ from the slot at once: no pair, and the slot goes with this entry. The pair is
	 * made before the entry (a fault on the slot elsewhere finds the frame, never reads a
	 * second copy to pair). If another CPU's swap-in of the slot (in this space, whose
	 * compare-and-exchange may still lose to this one's, or in another) paired its copy
	 * first, this copy goes back and the fault is taken again with every space held: it
	 * then finds the entry filled or maps the paired frame, so that a slot read by two CPUs
	 * at once ends paired with the frame its entries map, whichever order they ran in */
	paired = false;
	if (acc != MM_ACCESS_WRITE) {
		enum swap_pair p = swap_cache_add(s, nf.frame);

		if (p == SWAP_PAIR_TAKEN && !all) {
			mm_free_fresh(nf.frame);
			*need_all = true;
			return PF_NONFATAL_INTERNAL_ERROR;
		}
		paired = p == SWAP_PAIRED;
	}
	leaf = pte_make_leaf(nf.frame.base,
			     mm_preset_ad(paired ? want & ~(page_flags_t)PG_WRITABLE : want, acc, touch),
			     PT_LEVEL_PT);
	if (!mapper_entry_cas(slot, e, leaf)) {
		if (paired)
			swap_cache_forget(nf.frame);
		mm_free_fresh(nf.frame);
		return PF_OK; /* another CPU of the space won: look again */
	}
	__atomic_fetch_sub(&as->swapped, 1, __ATOMIC_RELAXED);
	swap_slot_put(s);
	AS_STAT_INC(as, faults_major);
	KTRACE("swap-in: %s %#llx %s: read back from slot %llu -> frame %#llx (major fault)%s",
	       addr_space_name(as), (unsigned long long)va,
	       acc == MM_ACCESS_WRITE ? "write" : acc == MM_ACCESS_EXEC ? "exec" : "read",
	       (unsigned long long)s, (unsigned long long)nf.frame.base,
	       paired ? "; the slot keeps the contents (swap cache), mapped read-only"
		      : "; written now, so the slot is let go");
	if (as->replace)
		replace_note_resident(as, va);
	return PF_OK;
}

/* ---- eviction --------------------------------------------------------------------------- */

bool evict_frame(frame_t f, const struct evict_map *m, unsigned n, const struct evict_reason *why)
{
	struct page_info *info = get_page_info(f);
	uint64_t s;
	bool clean = swap_cache_slot_of(f, &s);
	bool dirty_bit = false;

	KASSERT(info && n > 0, "evict: frame %#llx", (unsigned long long)f.base);
	if (!clean) {
		if (!swap_slot_alloc(&s))
			return false;
		/* paired before any entry points at the slot: a fault on the new swap entry
		 * finds the frame, never a slot not written yet */
		if (swap_cache_add(s, f) != SWAP_PAIRED) {
			swap_slot_unused(s);
			return false;
		}
		swap_slot_put(s); /* the allocation's provisional count: the pair holds it now */
	}
	for (unsigned i = 0; i < n; i++) {
		pte_t old = mapper_entry_exchange(m[i].slot, swp_entry_make(0, s));

		KASSERT(pte_present(old) && pte_address(old, PT_LEVEL_PT) == f.base,
			"evict: %s %#llx does not map frame %#llx", addr_space_name(m[i].as),
			(unsigned long long)m[i].va, (unsigned long long)f.base);
		dirty_bit |= pte_has(old, PG_DIRTY);
		swap_slot_dup(s);
		m[i].as->swapped++;
		AS_STAT_INC(m[i].as, evictions);
	}
	/* W4: no CPU may still write into f through a stale TLB entry when it is copied out */
	for (unsigned i = 0; i < n; i++) {
		struct flusher fl;

		flusher_init(&fl, m[i].as);
		flusher_page(&fl, m[i].va);
		flusher_flush(&fl);
	}
	if (!clean)
		KASSERT(swap_write_page(s, f), "swap: the device failed to write slot %llu",
			(unsigned long long)s);
	else
		swap_note_clean_drops(1);
	if (plat_trace_mask & TRACE_FAULT)
		for (unsigned i = 0; i < n; i++)
			plat_trace("evict: %s %#llx (%s: %s): frame %#llx %s slot %llu%s",
				   addr_space_name(m[i].as), (unsigned long long)m[i].va,
				   why ? why->policy : "?", why ? why->why : "",
				   (unsigned long long)f.base,
				   clean ? "clean, its contents already in" : "written to",
				   (unsigned long long)s,
				   clean ? " (dropped, no write)"
					 : dirty_bit ? " (dirty)" : " (never in swap before)");
	for (unsigned i = 0; i < n; i++) {
		if (remove_ref(info).kind == REFCOUNT_U0) {
			swap_cache_frame_freed(f);
			deallocate_frame(f);
			KTRACE("frame: %#llx freed (evicted)", (unsigned long long)f.base);
		}
	}
	return true;
}

/* Every mapping of f at va in the family of as, into m; how many, or max + 1 if more. */
static unsigned family_mappings(struct addr_space *as, uint64_t va, frame_t f, struct evict_map *m,
				unsigned max, bool *accessed)
{
	unsigned n = 0;

	*accessed = false;
	for (struct addr_space *o = mm_registry_first(); o; o = o->next) {
		pte_t *slot, e;

		if (o->dead || o->family != as->family)
			continue;
		slot = leaf_slot_of(o, va);
		if (!slot)
			continue;
		e = mapper_entry_load(slot);
		if (!pte_present(e) || pte_address(e, PT_LEVEL_PT) != f.base)
			continue;
		if (n == max)
			return max + 1;
		*accessed |= pte_has(e, PG_ACCESSED);
		m[n++] = (struct evict_map){ o, va, slot };
	}
	return n;
}

/* Clear the accessed bit of every mapping in m (second chance), with an invalidation. */
static void clear_accessed(const struct evict_map *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct flusher fl;

		if (!mapper_entry_test_and_clear(m[i].slot, PG_ACCESSED))
			continue;
		flusher_init(&fl, m[i].as);
		flusher_page(&fl, m[i].va);
		flusher_flush(&fl);
	}
}

/* The second pass's step for a frame several entries map (shared memory, copy-on-write
 * after fork), every space locked: evicted from all of them at once if none was accessed
 * since the hand passed. true if the frame was freed. */
static bool clock_step_shared(struct addr_space *as, uint64_t va, pte_t *slot)
{
	struct evict_map m[EVICT_MAX_MAPS];
	struct evict_reason why = { "global", "" };
	pte_t e = mapper_entry_load(slot);
	frame_t f = { pte_address(e, PT_LEVEL_PT) };
	struct page_info *info;
	bool accessed;
	unsigned n;

	if (!pte_present(e) || frame_eq(f, zero_frame()))
		return false;
	info = get_page_info(f);
	if (!info || page_info_rc_is_one(page_info_rc(info)) ||
	    !anon_grant(ug_find(&as->grants, va)))
		return false;
	n = family_mappings(as, va, f, m, EVICT_MAX_MAPS, &accessed);
	if (n > EVICT_MAX_MAPS || n != page_info_refcount(info).count)
		return false; /* mapped elsewhere too (borrowed, transferred, PROT_NONE) */
	if (accessed) {
		clear_accessed(m, n);
		return false;
	}
	kformat(why.why, sizeof(why.why), "accessed bit clear in all %u mappings since the hand passed",
		n);
	return evict_frame(f, m, n, &why); /* n == refcount: the frame is freed */
}

/*
 * The first pass, one space locked exclusively: the clock over its entries, a batch of up
 * to RECLAIM_BATCH evictions at a time with one shootdown for the whole batch (and for the
 * accessed bits cleared meanwhile), one hold of the swap lock for its slots, the writes
 * after the shootdown (W4) and the frames freed together.
 *
 * Only frames this one entry maps (count One) are evicted here: with the space held
 * exclusively, nobody else can reach the frame, the entry or the fresh slot until the batch
 * is done, so the batch needs no swap-cache pair while it writes. Frames with several
 * mappings are left to the second pass (reclaim_shared).
 *
 * The accessed bit is cleared in each entry as the hand passes it, as Linux's
 * multi-generational LRU ages pages by walking each process's page tables: a frame mapped
 * by several spaces loses the bit in each when the hand of that space passes.
 */
struct evict_batch {
	struct addr_space *as;
	struct flusher fl;
	unsigned n;
	uint64_t va[RECLAIM_BATCH];
	pte_t *slot[RECLAIM_BATCH];
	struct swap_evict_slot s[RECLAIM_BATCH];
};

/* The batch's evictions: slots, entries, one shootdown, writes, frees. Returns the frames
 * freed; *full when swap could not take them all. */
static unsigned batch_finish(struct evict_batch *b, bool *full)
{
	frame_t freed[RECLAIM_BATCH];
	unsigned got, clean = 0, written = 0;

	got = b->n ? swap_slots_for_eviction(b->s, b->n) : 0;
	if (got < b->n)
		*full = true;
	for (unsigned i = 0; i < got; i++) {
		pte_t old = mapper_entry_load(b->slot[i]);

		KASSERT(pte_present(old) && pte_address(old, PT_LEVEL_PT) == b->s[i].f.base,
			"evict: %s %#llx changed under its space's lock", addr_space_name(b->as),
			(unsigned long long)b->va[i]);
		/* a plain store, no exchange: with the space held exclusively only processors
		 * touch the entry, and they set A and D by compare-and-exchange against the
		 * entry they walked (so never into the swap entry); the dirty bit it may lose
		 * does not matter, as a frame without a slot's copy is written whatever it says,
		 * after the shootdown, and a clean one is mapped read-only nowhere else */
		mapper_entry_overwrite(b->slot[i], swp_entry_make(0, b->s[i].slot));
		flusher_page(&b->fl, b->va[i]);
	}
	/* W4: no CPU may still write into the frames when they are copied out; this is also
	 * the invalidation of the accessed bits cleared since the last batch */
	flusher_flush(&b->fl);
	for (unsigned i = 0; i < got; i++) {
		if (b->s[i].clean) {
			clean++;
			continue;
		}
		KASSERT(swap_write_page(b->s[i].slot, b->s[i].f),
			"swap: the device failed to write slot %llu", (unsigned long long)b->s[i].slot);
		written++;
	}
	if (clean)
		swap_note_clean_drops(clean);
	for (unsigned i = 0; i < got; i++) {
		KASSERT(remove_ref(get_page_info(b->s[i].f)).kind == REFCOUNT_U0,
			"evict: frame %#llx had another reference", (unsigned long long)b->s[i].f.base);
		freed[i] = b->s[i].f;
	}
	if (got)
		deallocate_frames(freed, got);
	b->as->swapped += got;
	if (got) {
		/* this CPU's statistics of the space (mm_internal.h): only it writes them */
		uint64_t *ev = &as_this_cpu(b->as)->stats.evictions;

		__atomic_store_n(ev, __atomic_load_n(ev, __ATOMIC_RELAXED) + got, __ATOMIC_RELAXED);
	}
	if (plat_trace_mask & TRACE_FAULT)
		for (unsigned i = 0; i < got; i++)
			plat_trace("evict: %s %#llx (global: accessed bit clear since the hand passed): frame %#llx %s slot %llu%s; frame freed",
				   addr_space_name(b->as), (unsigned long long)b->va[i],
				   (unsigned long long)b->s[i].f.base,
				   b->s[i].clean ? "clean, its contents already in" : "written to",
				   (unsigned long long)b->s[i].slot,
				   b->s[i].clean ? " (dropped, no write)" : "");
	b->n = 0;
	return got;
}

struct scan_result {
	uint64_t freed;
	uint64_t shared; /* frames with several mappings passed with the bit clear: the second
			    pass's candidates, counted towards the target */
	bool full;       /* swap could not take a batch */
};

static bool scan_done(const struct scan_result *r, uint64_t want)
{
	return r->full || r->freed + r->shared >= want;
}

/* The clock through [from, to) of as (held exclusively), until want frames are freed;
 * the hand stays where it stopped. */
static void scan_range(struct evict_batch *b, uint64_t from, uint64_t to, uint64_t want,
		       struct scan_result *r)
{
	struct addr_space *as = b->as;
	uint64_t next = from, stop, gstart = 0, gend = 0;
	frame_t zero = zero_frame();
	bool anon = false;
	pte_t *pt;

	while (!scan_done(r, want) && mm_next_leaf_table(&as->mapper, &next, to, &pt, &stop)) {
		uint64_t va = next;

		for (; va < stop; va += PAGE_SIZE) {
			pte_t *slot = &pt[pt_index(va, PT_LEVEL_PT)];
			pte_t e = mapper_entry_load(slot);
			struct page_info *info;
			frame_t f;

			if (!pte_present(e))
				continue;
			if (va >= gend || va < gstart) {
				struct grant *g = ug_find(&as->grants, va);

				anon = anon_grant(g);
				gstart = g ? g->start : va;
				gend = g ? grant_end(g) : va + PAGE_SIZE;
			}
			if (!anon)
				continue;
			if (pte_has(e, PG_ACCESSED)) {
				/* second chance: the bit goes, invalidated with the batch's shootdown,
				 * so that the next access sets it again (mapper_entry_clear keeps a
				 * concurrent dirty bit) */
				mapper_entry_clear(slot, e, PG_ACCESSED);
				flusher_page(&b->fl, va);
				if (plat_trace_mask & TRACE_FAULT)
					plat_trace("reclaim: %s %#llx accessed since the hand passed: bit cleared, kept",
						   addr_space_name(as), (unsigned long long)va);
				continue;
			}
			f = (frame_t){ pte_address(e, PT_LEVEL_PT) };
			if (frame_eq(f, zero))
				continue;
			info = get_page_info(f);
			if (!info)
				continue;
			if (!page_info_rc_is_one(page_info_rc(info))) {
				r->shared++;
				if (scan_done(r, want)) {
					va += PAGE_SIZE;
					break;
				}
				continue;
			}
			b->va[b->n] = va;
			b->slot[b->n] = slot;
			b->s[b->n].f = f;
			if (++b->n == RECLAIM_BATCH) {
				r->freed += batch_finish(b, &r->full);
				if (scan_done(r, want)) {
					va += PAGE_SIZE;
					break;
				}
			}
		}
		as->reclaim_hand = va;
		next = va;
	}
	r->freed += batch_finish(b, &r->full);
}

/* One round of the clock through as (held exclusively), from its hand round to it. */
static void scan_space(struct addr_space *as, uint64_t want, struct scan_result *r)
{
	struct evict_batch b;
	uint64_t hand = as->reclaim_hand;

	b.as = as;
	b.n = 0;
	flusher_init(&b.fl, as);
	scan_range(&b, hand, USER_END, want, r);
	if (!scan_done(r, want)) {
		if (hand)
			scan_range(&b, 0, hand, want, r);
		if (!scan_done(r, want))
			as->reclaim_hand = hand; /* a whole round: it stays where it began */
	}
	flusher_flush(&b.fl);
}

uint64_t reclaim_space(struct addr_space *as, uint64_t want)
{
	struct scan_result r = { 0 };

	if (!swap_configured())
		return 0;
	as_lock_write(as);
	if (!as->dead)
		scan_space(as, want, &r);
	as_unlock_write(as);
	if (r.freed)
		swap_note_reclaimed(r.freed);
	return r.freed;
}

/* The second pass, every space locked: frames several entries map. */
static uint64_t reclaim_shared(uint64_t target)
{
	uint64_t freed = 0;

	mm_lock_all();
	for (struct addr_space *as = mm_registry_first(); as && freed < target; as = as->next) {
		uint64_t next = 0, stop;
		pte_t *pt;

		if (as->dead || atomic_load(&as->doomed))
			continue;
		while (freed < target && mm_next_leaf_table(&as->mapper, &next, USER_END, &pt, &stop)) {
			uint64_t va = next;

			for (; va < stop && freed < target; va += PAGE_SIZE)
				if (clock_step_shared(as, va, &pt[pt_index(va, PT_LEVEL_PT)]))
					freed++;
			next = va;
		}
	}
	mm_unlock_all();
	return freed;
}

uint64_t reclaim_direct(uint64_t target)
{
	struct scan_result r = { 0 };

	if (!swap_configured())
		return 0;
	/* L1 then each space (L2) exclusively, one at a time, as the evacuation's table
	 * shrinker does; two rounds: the first may only clear accessed bits */
	mm_registry_lock();
	for (unsigned round = 0; round < 2 && !scan_done(&r, target); round++) {
		for (struct addr_space *as = mm_registry_first(); as && !scan_done(&r, target);
		     as = as->next) {
			if (as->dead || atomic_load(&as->doomed))
				continue;
			as_lock_write(as);
			if (!as->dead)
				scan_space(as, target, &r);
			as_unlock_write(as);
		}
	}
	mm_registry_unlock();
	/* shared and copy-on-write frames: a round of their own, every space locked (the
	 * second may evict what the first cleared) */
	for (unsigned round = 0; round < 2 && r.freed < target && r.shared; round++)
		r.freed += reclaim_shared(target - r.freed);
	if (r.freed) {
		KTRACE_AS(TRACE_PRESSURE, "reclaim: %llu frame%s freed by eviction to swap",
			  (unsigned long long)r.freed, r.freed == 1 ? "" : "s");
		swap_note_reclaimed(r.freed);
		pressure_update();
	}
	return r.freed;
}

/* The governor's evacuation asks too (before it needs a victim). */
uint64_t reclaim_shrinker(void)
{
	return reclaim_direct(RECLAIM_BATCH);
}

/* ---- upkeep of swap entries ----------------------------------------------------------- */

void swap_entry_removed(struct addr_space *as, pte_t old)
{
	KASSERT(pte_is_swap(old), "swap: not a swap entry");
	as->swapped--;
	swap_slot_put(swp_entry_slot(old));
}

void swap_entries_drop(struct addr_space *as, uint64_t start, uint64_t end)
{
	uint64_t next = start, stop;
	pte_t *pt;

	if (!as->swapped)
		return;
	while (mm_next_leaf_table(&as->mapper, &next, end, &pt, &stop)) {
		uint64_t va = next;

		for (; va < stop; va += PAGE_SIZE) {
			pte_t *slot = &pt[pt_index(va, PT_LEVEL_PT)];
			pte_t e = mapper_entry_load(slot);

			if (!pte_is_swap(e))
				continue;
			mapper_entry_store(slot, 0);
			swap_entry_removed(as, e);
		}
		next = va;
	}
}

void swap_release_space(struct addr_space *as)
{
	swap_entries_drop(as, 0, USER_END);
	KASSERT(as->swapped == 0, "swap: %s keeps %llu swap entries after exit", addr_space_name(as),
		(unsigned long long)as->swapped);
}

bool swap_entry_fork(struct addr_space *child, uint64_t va, pte_t e, pte_t **cpt)
{
	if (!*cpt && mapper_leaf_table(&child->mapper, va, true, cpt, NULL) != MAP_OK)
		return false;
	KASSERT(!mapper_entry_load(&(*cpt)[pt_index(va, PT_LEVEL_PT)]),
		"fork: the child already maps %#llx", (unsigned long long)va);
	swap_slot_dup(swp_entry_slot(e));
	mapper_entry_store(&(*cpt)[pt_index(va, PT_LEVEL_PT)], e);
	child->swapped++;
	return true;
}

bool swap_entries_copy(struct addr_space *src, uint64_t start, uint64_t end,
		       struct addr_space *dst, uint64_t dst_start)
{
	uint64_t next = start, stop;
	pte_t *pt;

	if (!src->swapped)
		return true;
	while (mm_next_leaf_table(&src->mapper, &next, end, &pt, &stop)) {
		uint64_t va = next;

		for (; va < stop; va += PAGE_SIZE) {
			pte_t e = mapper_entry_load(&pt[pt_index(va, PT_LEVEL_PT)]);
			pte_t *dpt = NULL;

			if (!pte_is_swap(e))
				continue;
			if (!swap_entry_fork(dst, dst_start + (va - start), e, &dpt)) {
				swap_entries_drop(dst, dst_start, dst_start + (end - start));
				return false;
			}
		}
		next = va;
	}
	return true;
}

bool swap_entry_at(struct addr_space *as, uint64_t va, uint64_t *slot, bool *cached)
{
	pte_t *s;
	pte_t e;
	bool r = false;

	mm_lock_all();
	s = leaf_slot_of(as, va & ~PAGE_MASK);
	e = s ? mapper_entry_load(s) : 0;
	if (pte_is_swap(e)) {
		*slot = swp_entry_slot(e);
		*cached = !frame_is_none(swap_cache_lookup(*slot));
		r = true;
	}
	mm_unlock_all();
	return r;
}

/* ---- the audit ---------------------------------------------------------------------------- */

struct swap_census {
	uint64_t *counts; /* NULL: counting disabled (the slot map is too large for the table) */
	uint64_t nslots;
	char *buf;
	size_t len;
	bool ok;
};

#define AUDIT_MAX_SLOTS 65536u
static uint32_t audit_counts[AUDIT_MAX_SLOTS];

static bool audit_fail(struct swap_census *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool audit_fail(struct swap_census *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvformat(c->buf, c->len, fmt, ap);
	va_end(ap);
	c->ok = false;
	return false;
}

static bool audit_space(struct swap_census *c, struct addr_space *as)
{
	uint64_t next = 0, stop, seen = 0;
	pte_t *pt;

	while (mm_next_leaf_table(&as->mapper, &next, USER_END, &pt, &stop)) {
		uint64_t va = next;

		for (; va < stop; va += PAGE_SIZE) {
			pte_t e = mapper_entry_load(&pt[pt_index(va, PT_LEVEL_PT)]);
			frame_t f = { pte_address(e, PT_LEVEL_PT) };
			uint64_t s;

			if (pte_present(e)) {
				/* W3 */
				if (pte_has(e, PG_WRITABLE) && swap_cache_pairs && swap_cache_slot_of(f, &s))
					return audit_fail(c, "W3: %s maps frame %#llx writable at %#llx, but the swap cache pairs it with slot %llu",
							  addr_space_name(as), (unsigned long long)f.base,
							  (unsigned long long)va, (unsigned long long)s);
				continue;
			}
			if (!pte_is_swap(e))
				continue;
			seen++;
			s = swp_entry_slot(e);
			if (!swp_entry_well_formed(e) || s >= c->nslots)
				return audit_fail(c, "W1: %s has a malformed swap entry %#llx at %#llx",
						  addr_space_name(as), (unsigned long long)e,
						  (unsigned long long)va);
			if (!anon_grant(ug_find(&as->grants, va)))
				return audit_fail(c, "W1: %s has a swap entry at %#llx outside anonymous memory",
						  addr_space_name(as), (unsigned long long)va);
			if (swap_slot_count(s) == 0)
				return audit_fail(c, "W1: %s's swap entry at %#llx names free slot %llu",
						  addr_space_name(as), (unsigned long long)va,
						  (unsigned long long)s);
			if (c->counts)
				audit_counts[s]++;
		}
		next = va;
	}
	if (seen != as->swapped)
		return audit_fail(c, "W1: %s counts %llu swapped pages, its tables hold %llu swap entries",
				  addr_space_name(as), (unsigned long long)as->swapped,
				  (unsigned long long)seen);
	return true;
}

struct slot_check {
	struct swap_census *c;
	uint64_t used, pairs;
};

static void check_slot_count(void *ctx, uint64_t slot, uint64_t count, frame_t cached)
{
	struct slot_check *k = ctx;
	uint64_t want;
	uint64_t back;

	k->used++;
	if (!frame_is_none(cached))
		k->pairs++;
	if (!k->c->ok || !k->c->counts)
		return;
	want = audit_counts[slot] + (frame_is_none(cached) ? 0 : 1);
	if (count != want) {
		audit_fail(k->c, "W2: slot %llu has count %llu, but %u swap entr%s and %s hold it",
			   (unsigned long long)slot, (unsigned long long)count, audit_counts[slot],
			   audit_counts[slot] == 1 ? "y" : "ies",
			   frame_is_none(cached) ? "no swap cache pair" : "the swap cache");
		return;
	}
	if (!frame_is_none(cached) && (!swap_cache_slot_of(cached, &back) || back != slot))
		audit_fail(k->c, "W6: slot %llu is paired with frame %#llx, which does not name it back",
			   (unsigned long long)slot, (unsigned long long)cached.base);
	audit_counts[slot] = 0;
}

bool swap_audit(char *buf, size_t len)
{
	struct swap_stats st;
	struct swap_census c = { NULL, 0, buf, len, true };
	struct slot_check k = { &c, 0, 0 };

	if (!swap_configured())
		return true;
	swap_get_stats(&st);
	c.nslots = st.slots;
	if (st.slots <= AUDIT_MAX_SLOTS) {
		c.counts = (uint64_t *)audit_counts; /* a marker: counting on */
		for (uint64_t i = 0; i < st.slots; i++)
			audit_counts[i] = 0;
	}
	mm_lock_all();
	for (struct addr_space *as = mm_registry_first(); as && c.ok; as = as->next)
		if (!as->dead)
			audit_space(&c, as);
	if (c.ok)
		swap_for_each_used(check_slot_count, &k);
	if (c.ok && c.counts)
		for (uint64_t i = 0; i < st.slots; i++)
			if (audit_counts[i]) {
				audit_fail(&c, "W1: %u swap entr%s name free slot %llu", audit_counts[i],
					   audit_counts[i] == 1 ? "y" : "ies", (unsigned long long)i);
				break;
			}
	mm_unlock_all();
	if (c.ok && k.used != st.used)
		audit_fail(&c, "W5: %llu slots are in use, the area counts %llu",
			   (unsigned long long)k.used, (unsigned long long)st.used);
	if (c.ok && k.pairs != st.cached)
		audit_fail(&c, "W6: %llu slots are paired with a frame, the swap cache counts %llu",
			   (unsigned long long)k.pairs, (unsigned long long)st.cached);
	return c.ok;
}

/* ---- views ------------------------------------------------------------------------------- */

enum page_residency addr_space_page_residency(struct addr_space *as, uint64_t va)
{
	enum page_residency r = PAGE_UNTOUCHED;
	pte_t *s;
	pte_t e;

	mm_lock_all();
	s = leaf_slot_of(as, va & ~PAGE_MASK);
	e = s ? mapper_entry_load(s) : 0;
	if (pte_present(e))
		r = PAGE_RESIDENT;
	else if (pte_is_protnone(e, PT_LEVEL_PT))
		r = PAGE_RESIDENT_PROTNONE;
	else if (pte_is_swap(e))
		r = PAGE_SWAPPED;
	if (!s && !as->dead) {
		/* a huge page, or no table: mapper_translate knows */
		struct translation t;

		if (mapper_translate(&as->mapper, va, &t) == MAP_OK)
			r = PAGE_RESIDENT;
	}
	mm_unlock_all();
	return r;
}

uint64_t addr_space_swapped(struct addr_space *as)
{
	uint64_t n;

	mm_lock_all();
	n = as->swapped;
	mm_unlock_all();
	return n;
}

void swap_for_each_entry(void (*fn)(void *ctx, const char *space, uint64_t va, uint64_t slot),
			 void *ctx)
{
	mm_lock_all();
	for (struct addr_space *as = mm_registry_first(); as; as = as->next) {
		uint64_t next = 0, stop;
		pte_t *pt;

		if (as->dead || !as->swapped)
			continue;
		while (mm_next_leaf_table(&as->mapper, &next, USER_END, &pt, &stop)) {
			uint64_t va = next;

			for (; va < stop; va += PAGE_SIZE) {
				pte_t e = mapper_entry_load(&pt[pt_index(va, PT_LEVEL_PT)]);

				if (pte_is_swap(e))
					fn(ctx, addr_space_name(as), va, swp_entry_slot(e));
			}
			next = va;
		}
	}
	mm_unlock_all();
}
