/*
 * fork: the child's address space, grant by grant (try_clone of docs/redox-mm-notes.md 4.6;
 * the races of its section 11 cannot happen here).
 *
 * Invariants kept here:
 * - F2 every present private page becomes read-only in both spaces with one more Cow
 *   reference (Cow(n+1)); a private page that is Shared because another space borrowed it
 *   gives the child a private copy instead (the parent's sharing is unchanged); a PROT_NONE
 *   private page that keeps its frame (a protnone entry, mapper.h M8) is handled the same
 *   way: the child gets a protnone entry for the same frame with one more Cow reference (or
 *   for a private copy), so when either makes it accessible again it comes back read-only
 *   and the first write copies (mm_mprotect checks the frame's count);
 * - F1 shared anonymous memory stays shared, also for pages nobody touched before the fork:
 *   every page of a shared grant is made present in the parent first (real frames, never the
 *   zero frame), then both map it writable with a Shared reference. A PROT_NONE shared grant
 *   is shared the same way through protnone entries (M8): a page without a frame gets a
 *   zeroed one in a protnone entry in the parent first, and the child a protnone entry for
 *   the same frame with a Shared reference, so whichever makes the page accessible later
 *   sees what the other writes;
 * - phys= grants are inherited (the same physical memory), borrowed grants (External) borrow
 *   again from the same source, lazily; file mappings (FmapBorrowed) are inherited with one
 *   more pin of the server;
 * - nothing half-built: on exhaustion the child (with every reference it took) is destroyed
 *   and no frame leaks; the parent keeps the read-only PTEs (its pages fault back to
 *   writable with no copy once the child's references are gone) and the shared pages it was
 *   given, which it owns and frees as any of its pages;
 * - the parent's write revocations are shot down before mm_fork returns (its other CPUs stop
 *   writing into the now shared frames).
 */
#include "frame_alloc.h"
#include "kstring.h"
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"
#include "reclaim.h"
#include "arch/x86_64/swap_entry.h"

#define KTRACE_KIND TRACE_MM

#if defined(__SANITIZE_THREAD__)
#define FORK_COPY_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_COPY_UNDER_TSAN 1
#endif
#endif

/* A fresh One frame with a copy of frame src (allocated without zeroing: the copy writes
 * every byte); FRAME_NONE if none can be had. src is Shared (borrowed): the spaces that map
 * it may write it while it is copied, a race of their programs as on hardware (the child
 * gets what the copy read); under ThreadSanitizer the copy reads with relaxed atomic loads,
 * as the simulated processor's stores are, so that the race is not reported as the
 * kernel's. */
static frame_t copy_frame(frame_t src)
{
	struct frame_or_error nf = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);

	if (nf.error != MM_OK)
		return FRAME_NONE;
#ifdef FORK_COPY_UNDER_TSAN
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		((uint64_t *)phys_to_virt(nf.frame.base))[i] =
			__atomic_load_n((const uint64_t *)phys_to_virt(src.base) + i, __ATOMIC_RELAXED);
#else
	kmemcpy(phys_to_virt(nf.frame.base), phys_to_virt(src.base), PAGE_SIZE);
#endif
	return nf.frame;
}

/* A private protnone entry of the parent at va: the child gets the same frame with one more
 * Cow reference, or a private copy if the frame is Shared (borrowed), as for present pages. */
static bool clone_private_protnone(struct addr_space *parent, struct addr_space *child,
				   uint64_t va)
{
	struct mapped_leaf kept;
	struct page_info *info;
	page_flags_t flags;
	enum add_ref_error e;
	frame_t copy;

	KASSERT(mapper_protnone_get(&parent->mapper, va, &kept) == MAP_OK, "fork: lost entry");
	info = get_page_info(kept.frame);
	KASSERT(info, "fork: private page %#llx without page info", (unsigned long long)va);
	flags = kept.flags & (PG_WRITABLE | PG_USER | PG_NO_EXEC);
	e = add_ref(info, REF_COW);
	if (e == ADD_REF_OK) {
		if (mapper_map_protnone(&child->mapper, va, kept.frame, flags) != MAP_OK) {
			remove_ref(info);
			return false;
		}
		return true;
	}
	if (e != ADD_REF_SHARED_TO_COW)
		return false;
	copy = copy_frame(kept.frame);
	if (frame_is_none(copy))
		return false;
	if (mapper_map_protnone(&child->mapper, va, copy, flags) != MAP_OK) {
		mm_free_fresh(copy);
		return false;
	}
	return true;
}

/* The present private page at va (entry e of the parent) for the child: the same frame
 * read-only with one more Cow reference (the parent's entry loses write, at *slot), or a
 * private copy if the frame is Shared. The child's entry goes to *child_slot. */
static bool clone_private_page(pte_t *slot, pte_t e, pte_t *child_slot, uint64_t va,
			       struct flusher *pfl)
{
	frame_t f = { pte_address(e, PT_LEVEL_PT) };
	struct page_info *info = get_page_info(f);
	enum add_ref_error r;

	KASSERT(info, "fork: private page %#llx without page info", (unsigned long long)va);
	r = add_ref(info, REF_COW);
	if (r == ADD_REF_OK) {
		if (pte_has(e, PG_WRITABLE)) {
			/* a D bit the processor sets meanwhile stays (M7) */
			mapper_entry_clear(slot, e, PG_WRITABLE);
			flusher_page(pfl, va);
		}
		/* the child's leaf: the frame, present, user, the parent's NX; no write, no A/D
		 * (what pte_make_leaf makes of those flags) */
		mapper_entry_store(child_slot, pte_keep(e, PG_PRESENT | PG_USER | PG_NO_EXEC));
		return true;
	}
	if (r == ADD_REF_SHARED_TO_COW) {
		frame_t copy = copy_frame(f);

		if (frame_is_none(copy))
			return false;
		mapper_entry_store(child_slot,
				   pte_make_leaf(copy.base,
						 pte_flags(e, PT_LEVEL_PT) & (PG_PRESENT | PG_WRITABLE |
									      PG_USER | PG_NO_EXEC),
						 PT_LEVEL_PT));
		return true;
	}
	return false;
}

/*
 * Private pages of g: share read-only (Cow) or copy for the child, a level-1 table at a time
 * (the child's table is made when the parent's has an entry to give it).
 */
static bool clone_private(struct addr_space *parent, struct addr_space *child, const struct grant *g,
			  struct flusher *pfl)
{
	uint64_t next = g->start, stop;
	pte_t *pt;

	while (mm_next_leaf_table(&parent->mapper, &next, grant_end(g), &pt, &stop)) {
		pte_t *cpt = NULL;
		uint64_t va = next; /* a register, not the slot whose address the walk took */

		for (; va < stop; va += PAGE_SIZE) {
			unsigned i = pt_index(va, PT_LEVEL_PT);
			pte_t e = mapper_entry_load(&pt[i]);

			if (!e)
				continue;
			if (pte_is_swap(e)) {
				/* the child shares the slot, as it would share the frame */
				if (!swap_entry_fork(child, va, e, &cpt))
					return false;
				continue;
			}
			if (!pte_present(e)) {
				/* a protnone entry (rare): the mapper makes the child's tables */
				if (!clone_private_protnone(parent, child, va))
					return false;
				continue;
			}
			if (!cpt && mapper_leaf_table(&child->mapper, va, true, &cpt, NULL) != MAP_OK)
				return false;
			KASSERT(!mapper_entry_load(&cpt[i]), "fork: the child already maps %#llx",
				(unsigned long long)va);
			if (!clone_private_page(&pt[i], e, &cpt[i], va, pfl))
				return false;
		}
		next = va;
	}
	return true;
}

/* A PROT_NONE shared grant g: every page is a protnone entry in the parent (a page that
 * never had a frame gets a zeroed one first), and the child gets one for the same frame
 * with a Shared reference; a page in swap gives the child the same swap entry. */
static bool clone_shared_protnone(struct addr_space *parent, struct addr_space *child,
				  const struct grant *g)
{
	for (uint64_t va = g->start; va < grant_end(g); va += PAGE_SIZE) {
		struct mapped_leaf kept;
		struct page_info *info;
		enum map_result r = mapper_protnone_get(&parent->mapper, va, &kept);
		pte_t *ppt, *cpt = NULL;

		KASSERT(r != MAP_EXISTS, "fork: a present page in a PROT_NONE grant at %#llx",
			(unsigned long long)va);
		if (r != MAP_OK && parent->swapped &&
		    mapper_leaf_table(&parent->mapper, va, false, &ppt, NULL) == MAP_OK &&
		    pte_is_swap(mapper_entry_load(&ppt[pt_index(va, PT_LEVEL_PT)]))) {
			/* in swap (a swap entry keeps no rights): the child holds the slot too */
			if (!swap_entry_fork(child, va, mapper_entry_load(&ppt[pt_index(va, PT_LEVEL_PT)]),
					     &cpt))
				return false;
			continue;
		}
		if (r != MAP_OK) {
			/* write kept: a Shared frame may be written once the page is accessible */
			struct frame_or_error nf = init_frame(REFCOUNT_ONE_INIT);

			if (nf.error != MM_OK)
				return false;
			kept = (struct mapped_leaf){ nf.frame, PG_USER | PG_WRITABLE, PT_LEVEL_PT };
			if (mapper_map_protnone(&parent->mapper, va, nf.frame, kept.flags) != MAP_OK) {
				mm_free_fresh(nf.frame);
				return false;
			}
		}
		info = get_page_info(kept.frame);
		KASSERT(info && !frame_eq(kept.frame, zero_frame()),
			"fork: shared page %#llx is not a counted frame", (unsigned long long)va);
		if (add_ref(info, REF_SHARED) != ADD_REF_OK)
			return false;
		if (mapper_map_protnone(&child->mapper, va, kept.frame,
					kept.flags & (PG_WRITABLE | PG_USER | PG_NO_EXEC)) != MAP_OK) {
			remove_ref(info);
			return false;
		}
	}
	return true;
}

/* Shared pages of g: present in the parent, then mapped in the child with a Shared ref. */
static bool clone_shared(struct addr_space *parent, struct addr_space *child, const struct grant *g,
			 struct flusher *pfl)
{
	page_flags_t want = grant_leaf_flags(g);

	if (!want)
		return clone_shared_protnone(parent, child, g);
	for (uint64_t va = g->start; va < grant_end(g); va += PAGE_SIZE) {
		struct translation t;
		struct page_info *info;

		if (mapper_translate(&parent->mapper, va, &t) != MAP_OK) {
			pte_t *ppt, *cpt = NULL;

			if (parent->swapped &&
			    mapper_leaf_table(&parent->mapper, va, false, &ppt, NULL) == MAP_OK &&
			    pte_is_swap(mapper_entry_load(&ppt[pt_index(va, PT_LEVEL_PT)]))) {
				/* in swap: the child holds the slot too; the first to touch it brings
				 * it back into both (reclaim.c) */
				if (!swap_entry_fork(child, va,
						     mapper_entry_load(&ppt[pt_index(va, PT_LEVEL_PT)]),
						     &cpt))
					return false;
				continue;
			}
			if (mm_correct_page(parent, va, MM_ACCESS_READ, false, false, pfl) != PF_OK)
				return false;
			KASSERT(mapper_translate(&parent->mapper, va, &t) == MAP_OK, "fork: lost page");
		}
		info = get_page_info(t.leaf.frame);
		KASSERT(info && !frame_eq(t.leaf.frame, zero_frame()),
			"fork: shared page %#llx is not a counted frame", (unsigned long long)va);
		if (add_ref(info, REF_SHARED) != ADD_REF_OK)
			return false; /* overflow: Cow never happens in a shared grant */
		if (mapper_map(&child->mapper, va, t.leaf.frame, want) != MAP_OK) {
			remove_ref(info);
			return false;
		}
	}
	return true;
}

enum mm_status mm_fork(struct addr_space *parent, struct addr_space **child_out)
{
	struct addr_space *child = addr_space_create();
	struct user_grants *pg = &parent->grants;
	struct flusher pfl;
	bool ok = true;

	*child_out = NULL;
	if (!child)
		return MM_STATUS_ENOMEM;
	/* L2: the parent, then its child (created after it) */
	as_lock_write(parent);
	as_lock_write(child);
	if (!ug_reserve(&child->grants, pg->n)) {
		as_unlock_write(child);
		as_unlock_write(parent);
		addr_space_destroy(child);
		return MM_STATUS_ENOMEM;
	}
	child->mmap_min = parent->mmap_min;
	child->family = parent->family; /* the reverse map finds shared frames at the same va */
	flusher_init(&pfl, parent);
	for (size_t i = 0; i < pg->n && ok; i++) {
		struct grant cg = pg->g[i];

		if (cg.kind == PROVIDER_EXTERNAL || cg.kind == PROVIDER_FMAP_BORROWED)
			as_get(cg.src);
		if (cg.kind == PROVIDER_FMAP_BORROWED)
			atomic_fetch_add(&cg.src->fserve.pins, 1);
		/* inserted first: a failure below is undone by destroying the child */
		ug_insert(&child->grants, &cg);
		if (cg.kind == PROVIDER_ALLOCATED)
			ok = clone_private(parent, child, &cg, &pfl);
		else if (cg.kind == PROVIDER_ALLOCATED_SHARED)
			ok = clone_shared(parent, child, &cg, &pfl);
	}
	flusher_flush(&pfl);
	as_unlock_write(child);
	as_unlock_write(parent);
	if (!ok) {
		KTRACE("fork: %s: out of memory, the child is taken down", addr_space_name(parent));
		addr_space_destroy(child);
		return MM_STATUS_ENOMEM;
	}
	KTRACE("fork: %s: %zu grants cloned", addr_space_name(parent), pg->n);
	*child_out = child;
	return MM_STATUS_OK;
}
