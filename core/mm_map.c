/*
 * The memory system calls: mmap (anonymous, physical, file), munmap, mprotect, borrow,
 * transfer, fserve.
 *
 * Rules kept here:
 * - every call validates its arguments and every condition it can fail on (EINVAL, EBUSY,
 *   EPERM, EEXIST, ENOMEM for holes in mprotect) and reserves the grant slots it needs
 *   (ENOMEM) before it changes anything: a call that fails changed nothing, with one
 *   documented exception: MM_MAP_FIXED replaces the old mapping first (as POSIX MAP_FIXED
 *   does), so a populate that then runs out of memory leaves the range unmapped;
 * - munmap of any sub-range splits the grants at its ends; a range without mappings is ok;
 * - mprotect follows Linux: ENOMEM if part of the range is not mapped; upgrades beyond the
 *   grant's max_prot (borrowed memory: the protection it was borrowed with) are EPERM;
 *   write permission is never added to present PTEs (it is granted lazily by the fault
 *   handler, which keeps copy-on-write and the zero frame read-only); PROT_NONE has no present
 *   encoding on x86, so a present page becomes a protnone entry that keeps its frame and its
 *   reference (mapper.h M8, as Linux's _PAGE_PROTNONE): every access faults and is refused,
 *   and a later mprotect to an accessible protection makes the same frame present again, so
 *   the contents survive. Write comes back only if the page had it and the frame may still
 *   be written (a frame that became copy-on-write meanwhile, after a fork, or the zero frame
 *   comes back read-only); munmap, exit, fork and transfer treat protnone entries like
 *   present pages;
 * - a served file range with pins may not be unmapped, protected or moved by its server
 *   (EBUSY);
 * - transfer moves the PTEs (and protnone entries) with their exact rights: copy-on-write
 *   pages and the zero frame stay read-only in the destination (F4), refcounts unchanged;
 * - borrow and transfer never replace: an occupied destination is EEXIST.
 */
#include "boot_memory.h"
#include "mm_internal.h"
#include "reclaim.h"
#include "pressure.h"
#include "page_info.h"
#include "platform.h"

#define KTRACE_KIND TRACE_MM

#define PROT_ALL (MM_PROT_READ | MM_PROT_WRITE | MM_PROT_EXEC)

const char *mm_status_name(enum mm_status s)
{
	static const char *const names[MM_STATUS_COUNT] = {
		"ok", "einval", "enomem", "efault", "ebusy", "eperm", "eexist",
	};

	return (unsigned)s < MM_STATUS_COUNT ? names[s] : "?";
}

const char *grant_provider_name(enum grant_provider_kind k)
{
	switch (k) {
	case PROVIDER_ALLOCATED:
		return "allocated";
	case PROVIDER_ALLOCATED_SHARED:
		return "allocated-shared";
	case PROVIDER_PHYS_BORROWED:
		return "phys-borrowed";
	case PROVIDER_EXTERNAL:
		return "external";
	case PROVIDER_FMAP_BORROWED:
		return "fmap-borrowed";
	}
	return "?";
}

/* A page-aligned, non-empty range inside the user half. */
static bool user_range_ok(uint64_t addr, uint64_t size)
{
	return size > 0 && !(addr & PAGE_MASK) && !(size & PAGE_MASK) && addr < USER_END &&
	       size <= USER_END - addr;
}

/*
 * Place grant *g (start is the request) and insert it: fixed replaces, otherwise the hint
 * picks the nearest free range. Then populate if asked. With as locked exclusively (and a
 * file's server at least shared), or every space (all), which a populate under a limit
 * needs (it may evict).
 */
static enum mm_status place_grant(struct addr_space *as, struct grant *g, bool fixed,
				  bool populate, bool all, uint64_t *mapped_at)
{
	uint64_t size = g->pages * PAGE_SIZE;
	struct flusher fl;

	/* another CPU ended the process (exit, or the OOM killer) before this call took the
	 * lock: its grants and tables are gone, there is nothing left to map into */
	if (as->dead)
		return MM_STATUS_EFAULT;
	if (fixed) {
		if (as_range_pinned(as, g->start, g->start + size))
			return MM_STATUS_EBUSY;
		if (!ug_reserve(&as->grants, 3))
			return MM_STATUS_ENOMEM;
		flusher_init(&fl, as);
		mm_unmap_range(as, g->start, g->start + size, &fl);
		flusher_flush(&fl);
	} else {
		uint64_t hint = g->start & ~PAGE_MASK, at;

		if (hint && (hint < as->mmap_min || hint >= USER_END))
			hint = 0;
		if (!ug_find_free(&as->grants, as->mmap_min, g->pages, hint, &at))
			return MM_STATUS_ENOMEM;
		if (!ug_reserve(&as->grants, 1))
			return MM_STATUS_ENOMEM;
		g->start = at;
	}
	if (g->kind == PROVIDER_FMAP_BORROWED) {
		/* the pin and the reference belong to the grant from its insertion on */
		as_get(g->src);
		atomic_fetch_add(&g->src->fserve.pins, 1);
	}
	ug_insert(&as->grants, g);
	ug_merge_near(&as->grants, g->start, g->start + size);
	if (mapped_at)
		*mapped_at = g->start;
	if (populate && g->prot) {
		enum mm_access acc = (g->prot & MM_PROT_WRITE) ? MM_ACCESS_WRITE : MM_ACCESS_READ;

		flusher_init(&fl, as);
		for (uint64_t va = g->start; va < g->start + size; va += PAGE_SIZE) {
			enum pf_status r = mm_correct_page(as, va, acc, true, all, &fl);

			if (r != PF_OK) {
				KTRACE("mmap: populate of %#llx failed (%s): the mapping is undone",
				       (unsigned long long)va, pf_status_name(r));
				mm_unmap_range(as, g->start, g->start + size, &fl);
				flusher_flush(&fl);
				return MM_STATUS_ENOMEM;
			}
		}
		flusher_flush(&fl);
	}
	return MM_STATUS_OK;
}

static bool flags_ok(unsigned flags)
{
	return !(flags & ~(MM_MAP_SHARED | MM_MAP_POPULATE | MM_MAP_FIXED));
}

enum mm_status mm_mmap(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
		       unsigned flags, uint64_t *mapped_at)
{
	struct grant g = { 0 };
	enum mm_status r;
	bool fixed = flags & MM_MAP_FIXED, all = false;

	if ((prot & ~PROT_ALL) || !flags_ok(flags) || size == 0 || (size & PAGE_MASK) ||
	    size > USER_END)
		return MM_STATUS_EINVAL;
	if (fixed && !user_range_ok(addr, size))
		return MM_STATUS_EINVAL;
	g.start = addr;
	g.pages = size / PAGE_SIZE;
	g.prot = prot;
	g.max_prot = PROT_ALL;
	g.kind = (flags & MM_MAP_SHARED) ? PROVIDER_ALLOCATED_SHARED : PROVIDER_ALLOCATED;
	as_lock_write(as);
	if ((flags & MM_MAP_POPULATE) && as->replace) {
		/* under a limit a populated page may evict one, which takes every space, as a
		 * fault does (reclaim.h): the space is let go and taken again with the others.
		 * Without a limit now, none comes before the unlock (mm_set_limit takes every
		 * space); an exit in between leaves the space dead, which place_grant checks */
		as_unlock_write(as);
		mm_lock_all();
		all = true;
	}
	r = place_grant(as, &g, fixed, flags & MM_MAP_POPULATE, all, mapped_at);
	if (all)
		mm_unlock_all();
	else
		as_unlock_write(as);
	if (r == MM_STATUS_OK)
		KTRACE("mmap: %s [%#llx, +%#llx) %s", addr_space_name(as), (unsigned long long)g.start,
		       (unsigned long long)size, grant_provider_name(g.kind));
	return r;
}

/* Every page of [pa, pa + size) is memory the allocator does not manage, of a kind a
 * process may map: device or reserved memory of the boot map. */
static bool phys_range_borrowable(paddr_t pa, uint64_t size)
{
	for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
		struct boot_memory_entry e;
		bool inside = false;

		if (get_page_info(frame_containing(pa + off)))
			return false;
		for (size_t i = 0; boot_memory_map_entry(i, &e); i++) {
			if (pa + off >= e.base && pa + off - e.base < e.size &&
			    (e.kind == BOOT_MEMORY_DEVICE || e.kind == BOOT_MEMORY_RESERVED)) {
				inside = true;
				break;
			}
		}
		if (!inside)
			return false;
	}
	return true;
}

enum mm_status mm_mmap_phys(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
			    paddr_t paddr, unsigned flags, uint64_t *mapped_at)
{
	struct grant g = { 0 };
	enum mm_status r;
	bool fixed = flags & MM_MAP_FIXED;

	if ((prot & ~PROT_ALL) || !flags_ok(flags) || size == 0 || (size & PAGE_MASK) ||
	    (paddr & PAGE_MASK) || size > USER_END || paddr + size < paddr)
		return MM_STATUS_EINVAL;
	if (fixed && !user_range_ok(addr, size))
		return MM_STATUS_EINVAL;
	if (!phys_range_borrowable(paddr, size))
		return MM_STATUS_EPERM;
	g.start = addr;
	g.pages = size / PAGE_SIZE;
	g.prot = prot;
	g.max_prot = prot;
	g.kind = PROVIDER_PHYS_BORROWED;
	g.offset = paddr;
	as_lock_write(as);
	r = place_grant(as, &g, fixed, flags & MM_MAP_POPULATE, false, mapped_at);
	as_unlock_write(as);
	return r;
}

/* Grants that [start, end) cuts in two places (a boundary strictly inside a grant). */
static size_t splits_needed(struct addr_space *as, uint64_t start, uint64_t end)
{
	struct grant *a = ug_find(&as->grants, start), *b = ug_find(&as->grants, end);

	return (a && a->start < start) + (b && b->start < end);
}

enum mm_status mm_munmap(struct addr_space *as, uint64_t addr, uint64_t size)
{
	struct flusher fl;

	if (!user_range_ok(addr, size))
		return MM_STATUS_EINVAL;
	as_lock_write(as);
	if (as->dead) {
		/* another CPU ended the process first: nothing is mapped any more */
		as_unlock_write(as);
		return MM_STATUS_OK;
	}
	if (as_range_pinned(as, addr, addr + size)) {
		as_unlock_write(as);
		return MM_STATUS_EBUSY;
	}
	/* only a boundary inside a grant splits it (one more slot each): unmapping whole grants
	 * needs no memory and never fails */
	if (!ug_reserve(&as->grants, splits_needed(as, addr, addr + size))) {
		as_unlock_write(as);
		return MM_STATUS_ENOMEM;
	}
	flusher_init(&fl, as);
	mm_unmap_range(as, addr, addr + size, &fl);
	flusher_flush(&fl);
	as_unlock_write(as);
	pressure_update(); /* memory came back: the state may ease */
	return MM_STATUS_OK;
}

/* [start, end) is covered by grants without a gap. */
static bool range_covered(struct addr_space *as, uint64_t start, uint64_t end)
{
	struct user_grants *ug = &as->grants;
	size_t i = ug_lower_bound(ug, start);
	uint64_t pos = start;

	for (; i < ug->n && ug->g[i].start < end; i++) {
		if (ug->g[i].start > pos)
			return false;
		pos = grant_end(&ug->g[i]);
	}
	return pos >= end;
}

/* The protnone entry at va becomes present again with the rights want allows. */
static void restore_page(struct addr_space *as, uint64_t va, page_flags_t want)
{
	struct mapped_leaf kept;
	page_flags_t nf = want;

	KASSERT(mapper_protnone_get(&as->mapper, va, &kept) == MAP_OK, "mprotect: lost entry");
	/* as for present pages, write is never added; and a frame that became copy-on-write
	 * while the page was inaccessible (a fork) comes back read-only (R2) */
	if (!(kept.flags & PG_WRITABLE) || !mm_frame_may_write(kept.frame))
		nf &= ~(page_flags_t)PG_WRITABLE;
	KASSERT(mapper_protnone_restore(&as->mapper, va, nf, NULL) == MAP_OK,
		"mprotect: restore failed");
	/* nothing to invalidate: a not-present entry is never cached */
}

static void protect_pages(struct addr_space *as, const struct grant *g, struct flusher *fl)
{
	page_flags_t want = grant_leaf_flags(g);
	uint64_t va = g->start;

	while (mm_next_entry(&as->mapper, va, grant_end(g), &va)) {
		struct translation t;
		page_flags_t nf = want, old;

		if (mapper_translate(&as->mapper, va, &t) != MAP_OK) {
			/* a protnone entry: it stays one for PROT_NONE */
			if (want)
				restore_page(as, va, want);
			va += PAGE_SIZE;
			continue;
		}
		if (!want) {
			/* the frame and its reference stay, the translation goes (M8) */
			KASSERT(mapper_protnone(&as->mapper, va, NULL) == MAP_OK,
				"mprotect: protnone failed");
			flusher_page(fl, va);
			va += PAGE_SIZE;
			continue;
		}
		if (!(t.leaf.flags & PG_WRITABLE))
			nf &= ~(page_flags_t)PG_WRITABLE; /* write is granted lazily by the fault path */
		KASSERT(mapper_remap(&as->mapper, va, nf, &old) == MAP_OK, "mprotect: remap failed");
		if (((old & PG_WRITABLE) && !(nf & PG_WRITABLE)) ||
		    (!(old & PG_NO_EXEC) && (nf & PG_NO_EXEC)))
			flusher_page(fl, va);
		else
			mm_local_invlpg(as, va);
		va += PAGE_SIZE;
	}
}

enum mm_status mm_mprotect(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot)
{
	struct user_grants *ug = &as->grants;
	uint64_t end = addr + size;
	struct flusher fl;
	size_t i;

	if (!user_range_ok(addr, size) || (prot & ~PROT_ALL))
		return MM_STATUS_EINVAL;
	as_lock_write(as);
	if (!range_covered(as, addr, end)) {
		as_unlock_write(as);
		return MM_STATUS_ENOMEM;
	}
	if (as_range_pinned(as, addr, end)) {
		as_unlock_write(as);
		return MM_STATUS_EBUSY;
	}
	for (i = ug_lower_bound(ug, addr); i < ug->n && ug->g[i].start < end; i++) {
		if (prot & ~ug->g[i].max_prot) {
			as_unlock_write(as);
			return MM_STATUS_EPERM;
		}
	}
	if (!ug_reserve(ug, 2)) {
		as_unlock_write(as);
		return MM_STATUS_ENOMEM;
	}
	ug_split_at(ug, addr);
	ug_split_at(ug, end);
	flusher_init(&fl, as);
	for (i = ug_lower_bound(ug, addr); i < ug->n && ug->g[i].start < end; i++) {
		ug->g[i].prot = prot;
		protect_pages(as, &ug->g[i], &fl);
	}
	flusher_flush(&fl);
	ug_merge_near(ug, addr, end);
	as_unlock_write(as);
	return MM_STATUS_OK;
}

enum mm_status mm_borrow(struct addr_space *src, uint64_t src_addr, struct addr_space *dst,
			 uint64_t dst_addr, uint64_t size, unsigned prot)
{
	struct user_grants *sg = &src->grants;
	struct grant g = { 0 };
	enum mm_status r = MM_STATUS_OK;

	if (!user_range_ok(src_addr, size) || !user_range_ok(dst_addr, size) || (prot & ~PROT_ALL))
		return MM_STATUS_EINVAL;
	if (src == dst && src_addr < dst_addr + size && dst_addr < src_addr + size)
		return MM_STATUS_EINVAL;
	as_lock_two(dst, true, src, false);
	if (src->dead || dst->dead) {
		r = MM_STATUS_EFAULT; /* one of them was ended by another CPU meanwhile */
		goto out;
	}
	if (!range_covered(src, src_addr, src_addr + size)) {
		r = MM_STATUS_EINVAL;
		goto out;
	}
	for (size_t i = ug_lower_bound(sg, src_addr); i < sg->n && sg->g[i].start < src_addr + size;
	     i++) {
		if (prot & ~sg->g[i].prot) {
			r = MM_STATUS_EPERM;
			goto out;
		}
	}
	if (ug_conflicts(&dst->grants, dst_addr, size)) {
		r = MM_STATUS_EEXIST;
		goto out;
	}
	if (!ug_reserve(&dst->grants, 1)) {
		r = MM_STATUS_ENOMEM;
		goto out;
	}
	g.start = dst_addr;
	g.pages = size / PAGE_SIZE;
	g.prot = prot;
	g.max_prot = prot;
	g.kind = PROVIDER_EXTERNAL;
	g.src = src;
	g.offset = src_addr;
	as_get(src);
	ug_insert(&dst->grants, &g);
	ug_merge_near(&dst->grants, dst_addr, dst_addr + size);
	KTRACE("borrow: %s [%#llx, +%#llx) maps %s's pages from %#llx", addr_space_name(dst),
	       (unsigned long long)dst_addr, (unsigned long long)size, addr_space_name(src),
	       (unsigned long long)src_addr);
out:
	as_unlock_two(dst, true, src, false);
	return r;
}

/* Leaf flags kept when a PTE moves: the rights exactly as they are. */
#define MOVE_FLAGS (PG_PRESENT | PG_WRITABLE | PG_USER | PG_NO_EXEC | PG_WRITE_THROUGH | \
		    PG_CACHE_DISABLE)

/* Copy the present leaf or protnone entry of src at va to dst at dva (no reference taken). */
static enum map_result move_copy(struct addr_space *src, uint64_t va, struct addr_space *dst,
				 uint64_t dva)
{
	struct translation t;
	struct mapped_leaf kept;

	if (mapper_translate(&src->mapper, va, &t) == MAP_OK)
		return mapper_map(&dst->mapper, dva, t.leaf.frame, t.leaf.flags & MOVE_FLAGS);
	KASSERT(mapper_protnone_get(&src->mapper, va, &kept) == MAP_OK, "transfer: lost page");
	return mapper_map_protnone(&dst->mapper, dva, kept.frame,
				   kept.flags & MOVE_FLAGS & PG_PROTNONE_KEPT_FLAGS);
}

enum mm_status mm_transfer(struct addr_space *src, uint64_t src_addr, struct addr_space *dst,
			   uint64_t dst_addr, uint64_t size)
{
	struct user_grants *sg = &src->grants, *dg = &dst->grants;
	uint64_t send = src_addr + size, va, moved_end;
	struct flusher sfl, dfl;
	enum mm_status r = MM_STATUS_OK;
	size_t pieces = 0, i;

	if (!user_range_ok(src_addr, size) || !user_range_ok(dst_addr, size))
		return MM_STATUS_EINVAL;
	if (src == dst && src_addr < dst_addr + size && dst_addr < send)
		return MM_STATUS_EINVAL;
	as_lock_two(src, true, dst, true);
	if (src->dead || dst->dead) {
		r = MM_STATUS_EFAULT; /* one of them was ended by another CPU meanwhile */
		goto out;
	}
	if (!range_covered(src, src_addr, send)) {
		r = MM_STATUS_EINVAL;
		goto out;
	}
	if (as_range_pinned(src, src_addr, send)) {
		r = MM_STATUS_EBUSY;
		goto out;
	}
	if (ug_conflicts(dg, dst_addr, size)) {
		r = MM_STATUS_EEXIST;
		goto out;
	}
	for (i = ug_lower_bound(sg, src_addr); i < sg->n && sg->g[i].start < send; i++)
		pieces++;
	if (!ug_reserve(sg, 2) || !ug_reserve(dg, pieces + 2)) {
		r = MM_STATUS_ENOMEM;
		goto out;
	}
	/* phase 1: the same frames (and swap slots) appear at the destination (tables
	 * allocated here) */
	if (!swap_entries_copy(src, src_addr, send, dst, dst_addr)) {
		r = MM_STATUS_ENOMEM;
		goto out;
	}
	flusher_init(&dfl, dst);
	va = src_addr;
	moved_end = src_addr;
	while (mm_next_entry(&src->mapper, va, send, &va)) {
		enum map_result m = move_copy(src, va, dst, dst_addr + (va - src_addr));

		if (m != MAP_OK) {
			KASSERT(m == MAP_ENOMEM, "transfer: map: %s", map_result_name(m));
			/* undo: the copies go away, no reference was taken for them */
			uint64_t back = src_addr;
			while (mm_next_entry(&src->mapper, back, va, &back)) {
				KASSERT(mapper_unmap(&dst->mapper, dst_addr + (back - src_addr), NULL,
						     flusher_rel(&dfl), NULL) == MAP_OK,
					"transfer: undo");
				flusher_page(&dfl, dst_addr + (back - src_addr));
				back += PAGE_SIZE;
			}
			flusher_flush(&dfl);
			swap_entries_drop(dst, dst_addr, dst_addr + size);
			r = MM_STATUS_ENOMEM;
			goto out;
		}
		va += PAGE_SIZE;
		moved_end = va;
	}
	(void)moved_end;
	/* phase 2: the source loses them (no reference changes hands) */
	swap_entries_drop(src, src_addr, send);
	flusher_init(&sfl, src);
	va = src_addr;
	while (mm_next_entry(&src->mapper, va, send, &va)) {
		KASSERT(mapper_unmap(&src->mapper, va, NULL, flusher_rel(&sfl), NULL) == MAP_OK,
			"transfer: unmap");
		flusher_page(&sfl, va);
		va += PAGE_SIZE;
	}
	/* the grants move with their providers, offsets, pins and references. Within one space
	 * the moved grants land in the same array: count the pieces first, then always take
	 * the first piece of the source range, which a moved grant (entirely below src_addr or
	 * at or above send: the ranges do not overlap) can never be */
	ug_split_at(sg, src_addr);
	ug_split_at(sg, send);
	pieces = 0;
	for (i = ug_lower_bound(sg, src_addr); i < sg->n && sg->g[i].start < send; i++)
		pieces++;
	while (pieces--) {
		struct grant g;

		i = ug_lower_bound(sg, src_addr);
		KASSERT(i < sg->n && sg->g[i].start >= src_addr && sg->g[i].start < send,
			"transfer: lost a piece of [%#llx, %#llx)", (unsigned long long)src_addr,
			(unsigned long long)send);
		g = sg->g[i];
		ug_remove_at(sg, i);
		g.start = dst_addr + (g.start - src_addr);
		ug_insert(dg, &g);
	}
	ug_merge_near(dg, dst_addr, dst_addr + size);
	if (src->fserve.active && src_addr < src->fserve.base + src->fserve.size &&
	    src->fserve.base < send)
		src->fserve.active = false; /* the served memory left: the file ends */
	flusher_flush(&sfl);
	KTRACE("transfer: %s [%#llx, +%#llx) moved to %s at %#llx", addr_space_name(src),
	       (unsigned long long)src_addr, (unsigned long long)size, addr_space_name(dst),
	       (unsigned long long)dst_addr);
out:
	as_unlock_two(src, true, dst, true);
	return r;
}

enum mm_status mm_fserve(struct addr_space *srv, uint64_t addr, uint64_t size)
{
	struct user_grants *ug = &srv->grants;
	enum mm_status r = MM_STATUS_OK;

	if (!user_range_ok(addr, size))
		return MM_STATUS_EINVAL;
	as_lock_write(srv);
	if (!range_covered(srv, addr, addr + size)) {
		r = MM_STATUS_EINVAL;
		goto out;
	}
	for (size_t i = ug_lower_bound(ug, addr); i < ug->n && ug->g[i].start < addr + size; i++) {
		if (ug->g[i].kind != PROVIDER_ALLOCATED && ug->g[i].kind != PROVIDER_ALLOCATED_SHARED) {
			r = MM_STATUS_EINVAL;
			goto out;
		}
	}
	if (srv->fserve.active && srv->fserve.pins > 0) {
		r = MM_STATUS_EBUSY;
		goto out;
	}
	srv->fserve.active = true;
	srv->fserve.base = addr;
	srv->fserve.size = size;
out:
	as_unlock_write(srv);
	return r;
}

enum mm_status mm_fmap(struct addr_space *as, uint64_t addr, uint64_t size, unsigned prot,
		       struct addr_space *srv, uint64_t offset, unsigned flags, uint64_t *mapped_at)
{
	struct user_grants *sg = &srv->grants;
	struct grant g = { 0 };
	enum mm_status r;
	bool fixed = flags & MM_MAP_FIXED;

	if ((prot & ~PROT_ALL) || (flags & ~MM_MAP_FIXED) || size == 0 || (size & PAGE_MASK) ||
	    (offset & PAGE_MASK) || size > USER_END)
		return MM_STATUS_EINVAL;
	if (fixed && !user_range_ok(addr, size))
		return MM_STATUS_EINVAL;
	as_lock_two(as, true, srv, false);
	if (!srv->fserve.active || offset > srv->fserve.size || size > srv->fserve.size - offset) {
		as_unlock_two(as, true, srv, false);
		return MM_STATUS_EINVAL;
	}
	for (size_t i = ug_lower_bound(sg, srv->fserve.base + offset);
	     i < sg->n && sg->g[i].start < srv->fserve.base + offset + size; i++) {
		if (prot & ~sg->g[i].prot) {
			as_unlock_two(as, true, srv, false);
			return MM_STATUS_EPERM;
		}
	}
	g.start = addr;
	g.pages = size / PAGE_SIZE;
	g.prot = prot;
	g.max_prot = prot;
	g.kind = PROVIDER_FMAP_BORROWED;
	g.src = srv;
	g.offset = offset;
	r = place_grant(as, &g, fixed, false, false, mapped_at);
	as_unlock_two(as, true, srv, false);
	return r;
}
