/*
 * fork: the child's address space, grant by grant (try_clone of redox-mm.md 4.6), with the
 * weaknesses of section 11 fixed.
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
 *   zero frame), then both map it writable with a Shared reference. In a PROT_NONE shared
 *   grant, the pages that keep a frame (protnone entries) are shared the same way (the child
 *   gets a protnone entry with a Shared reference); pages that never had one have no encoding
 *   and are not populated, so they are not shared;
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

/* A fresh One frame with a copy of frame src (allocated without zeroing: the copy writes
 * every byte); FRAME_NONE if none can be had. */
static frame_t copy_frame(frame_t src)
{
	struct frame_or_error nf = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);

	if (nf.error != MM_OK)
		return FRAME_NONE;
	kmemcpy(phys_to_virt(nf.frame.base), phys_to_virt(src.base), PAGE_SIZE);
	return nf.frame;
}

static void drop_fresh(frame_t f)
{
	remove_ref(get_page_info(f));
	deallocate_frame(f);
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
		drop_fresh(copy);
		return false;
	}
	return true;
}

/* Private pages of g: share read-only (Cow) or copy for the child. */
static bool clone_private(struct addr_space *parent, struct addr_space *child, const struct grant *g,
			  struct flusher *pfl)
{
	uint64_t va = g->start;

	while (mm_next_entry(&parent->mapper, va, grant_end(g), &va)) {
		struct translation t;
		struct page_info *info;
		enum add_ref_error e;
		page_flags_t flags;

		if (mapper_translate(&parent->mapper, va, &t) != MAP_OK) {
			if (!clone_private_protnone(parent, child, va))
				return false;
			va += PAGE_SIZE;
			continue;
		}
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
			frame_t copy = copy_frame(t.leaf.frame);

			if (frame_is_none(copy))
				return false;
			if (mapper_map(&child->mapper, va, copy, flags) != MAP_OK) {
				drop_fresh(copy);
				return false;
			}
		} else {
			return false;
		}
		va += PAGE_SIZE;
	}
	return true;
}

/* The protnone entries of a PROT_NONE shared grant g: the child gets them with a Shared
 * reference each. */
static bool clone_shared_protnone(struct addr_space *parent, struct addr_space *child,
				  const struct grant *g)
{
	uint64_t va = g->start;

	while (mm_next_entry(&parent->mapper, va, grant_end(g), &va)) {
		struct mapped_leaf kept;
		struct page_info *info;

		KASSERT(mapper_protnone_get(&parent->mapper, va, &kept) == MAP_OK,
			"fork: a present page in a PROT_NONE grant at %#llx", (unsigned long long)va);
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
		return clone_shared_protnone(parent, child, g);
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
