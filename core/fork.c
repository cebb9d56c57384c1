/*
 * fork: the child's address space, grant by grant (try_clone of redox-mm.md 4.6), with the
 * weaknesses of section 11 fixed.
 *
 * Invariants kept here:
 * - F2 every present private page becomes read-only in both spaces with one more Cow
 *   reference (Cow(n+1)); a private page that is Shared because another space borrowed it
 *   gives the child a private copy instead (the parent's sharing is unchanged);
 * - F1 shared anonymous memory stays shared, also for pages nobody touched before the fork:
 *   every page of a shared grant is made present in the parent first (real frames, never the
 *   zero frame), then both map it writable with a Shared reference (PROT_NONE shared grants
 *   have no present encoding and are not populated);
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

/* Private pages of g: share read-only (Cow) or copy for the child. */
static bool clone_private(struct addr_space *parent, struct addr_space *child, const struct grant *g,
			  struct flusher *pfl)
{
	uint64_t va = g->start;

	while (mm_next_leaf(&parent->mapper, va, grant_end(g), &va)) {
		struct translation t;
		struct page_info *info;
		enum add_ref_error e;
		page_flags_t flags;

		KASSERT(mapper_translate(&parent->mapper, va, &t) == MAP_OK, "fork: lost page");
		info = get_page_info(t.leaf.frame);
		KASSERT(info, "fork: private page %#llx without page info", (unsigned long long)va);
		flags = t.leaf.flags & (PG_PRESENT | PG_WRITABLE | PG_USER | PG_NO_EXEC);
		e = add_ref(info, REF_COW);
		if (e == ADD_REF_OK) {
			if (flags & PG_WRITABLE) {
				flags &= ~(page_flags_t)PG_WRITABLE;
				KASSERT(mapper_remap(&parent->mapper, va, flags, NULL) == MAP_OK,
					"fork: remap");
				flusher_page(pfl, va);
			}
			if (mapper_map(&child->mapper, va, t.leaf.frame, flags) != MAP_OK) {
				remove_ref(info);
				return false;
			}
		} else if (e == ADD_REF_SHARED_TO_COW) {
			struct frame_or_error nf = init_frame(REFCOUNT_ONE_INIT);

			if (nf.error != MM_OK)
				return false;
			kmemcpy(phys_to_virt(nf.frame.base), phys_to_virt(t.leaf.frame.base), PAGE_SIZE);
			if (mapper_map(&child->mapper, va, nf.frame, flags) != MAP_OK) {
				remove_ref(get_page_info(nf.frame));
				deallocate_frame(nf.frame);
				return false;
			}
		} else {
			return false;
		}
		va += PAGE_SIZE;
	}
	return true;
}

/* Shared pages of g: present in the parent, then mapped in the child with a Shared ref. */
static bool clone_shared(struct addr_space *parent, struct addr_space *child, const struct grant *g,
			 struct flusher *pfl)
{
	page_flags_t want = grant_leaf_flags(g);

	if (!want)
		return true;
	for (uint64_t va = g->start; va < grant_end(g); va += PAGE_SIZE) {
		struct translation t;
		struct page_info *info;

		if (mapper_translate(&parent->mapper, va, &t) != MAP_OK) {
			if (mm_correct_page(parent, va, MM_ACCESS_READ, 0, pfl) != PF_OK)
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
	mm_lock_acquire();
	if (!ug_reserve(&child->grants, pg->n)) {
		mm_lock_release();
		addr_space_destroy(child);
		return MM_STATUS_ENOMEM;
	}
	child->mmap_min = parent->mmap_min;
	flusher_init(&pfl, parent);
	for (size_t i = 0; i < pg->n && ok; i++) {
		struct grant cg = pg->g[i];

		if (cg.kind == PROVIDER_EXTERNAL || cg.kind == PROVIDER_FMAP_BORROWED)
			as_get(cg.src);
		if (cg.kind == PROVIDER_FMAP_BORROWED)
			cg.src->fserve.pins++;
		/* inserted first: a failure below is undone by destroying the child */
		ug_insert(&child->grants, &cg);
		if (cg.kind == PROVIDER_ALLOCATED)
			ok = clone_private(parent, child, &cg, &pfl);
		else if (cg.kind == PROVIDER_ALLOCATED_SHARED)
			ok = clone_shared(parent, child, &cg, &pfl);
	}
	flusher_flush(&pfl);
	mm_lock_release();
	if (!ok) {
		KTRACE("fork: %s: out of memory, the child is taken down", addr_space_name(parent));
		addr_space_destroy(child);
		return MM_STATUS_ENOMEM;
	}
	KTRACE("fork: %s: %zu grants cloned", addr_space_name(parent), pg->n);
	*child_out = child;
	return MM_STATUS_OK;
}
