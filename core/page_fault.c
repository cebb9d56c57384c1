/*
 * The page-fault handler: per-provider correction of one page (docs/redox-mm-notes.md 5.2;
 * the races of its section 11 cannot happen here, as the numbered references below say).
 *
 * Invariants kept here:
 * - P1 a fault with no grant, against the grant's protection, on a non-user address or with
 *   the reserved-bit flag is PF_SEGV, and changes nothing; this covers PROT_NONE pages that
 *   keep their frame in a protnone entry (mapper.h M8): the processor sees P=0 and faults,
 *   the grant (prot 0) refuses every access, and the entry stays as it is;
 * - P3 a fault on a PTE that already allows the access (a stale TLB entry) succeeds with no
 *   allocation and no refcount change (it only invalidates the page on this CPU);
 * - P4 no exhaustion panics: a frame or table that cannot be had is PF_OOM, with the state
 *   unchanged (a frame taken for the fault is given back);
 * - R2/R5 a Cow frame (count >= 2, or the zero frame) is never mapped writable: a read fault
 *   on private memory maps the zero frame read-only (add_ref Cow), a write on it or on a
 *   Cow(n) frame copies into a fresh frame (a zeroed one for the zero frame, nothing is
 *   copied; otherwise a frame allocated without zeroing, entirely overwritten by the copy
 *   before it is mapped), a write on a One frame makes it writable in place with no
 *   allocation (F3);
 * - shared memory (AllocatedShared) maps real frames only, so the pages a fork shares stay
 *   shared; borrowed pages (External, FmapBorrowed) are taken from the source space with a
 *   Shared reference, the source locked and the entry's table locked, so the frame cannot
 *   vanish between the lookup and the add_ref (11.2-8); a Cow source page is first replaced
 *   in the source by a private copy,
 *   with a shootdown of the source's CPUs before the old frame's reference is dropped
 *   (11.2-7); chains deeper than MM_BORROW_DEPTH_MAX are PF_RECURSION_LIMIT;
 * - the old frame of a copy is released through the flusher, after the shootdown (R8);
 * - P5 faults of one space run at the same time (its lock shared): every new frame is
 *   allocated and filled (zeroed or copied) before any table lock, then installed only if
 *   the entry is still what the fault saw (an empty entry by compare-and-exchange, a present
 *   one under its table's lock); the loser gives its frame back and looks again, so each
 *   page gets exactly one frame and each fault is counted once, in exactly one statistic.
 *   A fault alone in its space (no other CPU ever read it: krw_read_alone) has no one to
 *   race: it stores the entry and takes no table lock.
 */
#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/page_fill.h"
#include "frame_alloc.h"
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"
#include "pressure.h"
#include "pt_lock.h"
#include "reclaim.h"
#include "swap_area.h"
#include "arch/x86_64/swap_entry.h"

#define KTRACE_KIND TRACE_FAULT

#define PF_ERR_P 0x1u
#define PF_ERR_W 0x2u
#define PF_ERR_U 0x4u
#define PF_ERR_RSVD 0x8u
#define PF_ERR_ID 0x10u

const char *pf_status_name(enum pf_status s)
{
	switch (s) {
	case PF_OK:
		return "ok";
	case PF_SEGV:
		return "segv";
	case PF_OOM:
		return "oom";
	case PF_NONFATAL_INTERNAL_ERROR:
		return "internal error";
	case PF_RECURSION_LIMIT:
		return "recursion limit";
	case PF_KILLED:
		return "killed";
	}
	return "?";
}

static const char *access_name(enum mm_access acc)
{
	return acc == MM_ACCESS_WRITE ? "write" : acc == MM_ACCESS_EXEC ? "exec" : "read";
}

static bool grant_allows(const struct grant *g, enum mm_access acc)
{
	switch (acc) {
	case MM_ACCESS_READ:
		return g->prot != 0;
	case MM_ACCESS_WRITE:
		return g->prot & MM_PROT_WRITE;
	case MM_ACCESS_EXEC:
		return g->prot & MM_PROT_EXEC;
	}
	return false;
}

static bool pte_permits(pte_t e, enum mm_access acc)
{
	if (!pte_has(e, PG_PRESENT | PG_USER))
		return false;
	if (acc == MM_ACCESS_WRITE)
		return pte_has(e, PG_WRITABLE);
	if (acc == MM_ACCESS_EXEC)
		return !pte_has(e, PG_NO_EXEC);
	return true;
}

/*
 * A fault holds its own space's lock shared (or exclusively: populate, fork) and, on
 * borrowed memory, the source spaces it walked into, each tried, never waited for (L3 in
 * addr_space.c). A failed try sets `retry`: every level returns at once and the handler
 * releases everything and starts again.
 */
struct fault_ctx {
	struct addr_space *held[MM_BORROW_DEPTH_MAX + 1];
	unsigned nheld;
	bool retry;
	/* no other CPU holds held[0] (it is held exclusively, or shared by this CPU alone:
	 * krw_read_alone), so nothing but the processors writes its entries: an empty entry is
	 * filled by a plain store, a present one changed without its table's lock */
	bool alone;
	/* reclaim and swap (reclaim.h): a page read back from its slot needs only the space,
	 * shared; a swap-in of shared memory or of a page the swap cache holds, and an eviction
	 * under a limit, run with every space locked exclusively (mm_lock_all): a fault that
	 * meets one in shared mode sets need_all and is taken again that way */
	bool all, need_all;
	/* PF_OOM because the limit's victim could not go to swap (swap full), not for want of
	 * a frame: neither direct reclaim nor the governor can help (limit_room) */
	bool limit_full;
};

/* The fault needs every space locked: ask for it (the handler takes the fault again). */
static enum pf_status want_all(struct fault_ctx *ctx)
{
	ctx->need_all = true;
	ctx->retry = true;
	return PF_NONFATAL_INTERNAL_ERROR;
}

/*
 * Page va of as, under a limit, is about to become resident: the policy's victim goes to
 * swap first, with every space held (reclaim.h). When swap cannot take it the fault fails
 * with PF_OOM marked as the limit's: memory is not short, so the handler asks neither direct
 * reclaim (which only fills swap further) nor the governor (which finds frames and answers
 * retry: the access would fault again forever); the access ends oom, the process lives.
 */
static enum pf_status limit_room(struct addr_space *as, uint64_t va, struct fault_ctx *ctx)
{
	if (!ctx->all)
		return want_all(ctx);
	if (replace_make_room(as, va, va))
		return PF_OK;
	ctx->limit_full = true;
	return PF_OOM;
}

/* Direct reclaim on a fault short of frames: a batch, and so many attempts (others may
 * take the frames between the reclaim and the retry). */
#define FAULT_RECLAIM_FRAMES 32u
#define FAULT_RECLAIM_TRIES 8u

/* The entry changed under us (another CPU of the space won the race): look again. Internal
 * to this file, never returned by it. */
#define PF_AGAIN ((enum pf_status)0x100)

/* No other CPU's kernel writes the entries of as (fault_ctx.alone; every space is held under
 * mm_lock_all). */
static bool ctx_alone(const struct fault_ctx *ctx, const struct addr_space *as)
{
	return ctx->all || (ctx->alone && as == ctx->held[0]);
}

static bool ctx_holds(const struct fault_ctx *ctx, const struct addr_space *as)
{
	for (unsigned i = 0; i < ctx->nheld; i++)
		if (ctx->held[i] == as)
			return true;
	return false;
}

/* The level-1 slot of user page va in as, or NULL when its table does not exist (the
 * fault path finds it once and does every edit there). Valid while the space's lock is held
 * (shared is enough): only exclusive holders unlink tables, and no allocation reclaims them
 * (the governor's evacuation runs after the handler released the lock). */
static pte_t *leaf_slot(struct addr_space *as, uint64_t va)
{
	pte_t *pt;

	if (mapper_leaf_table(&as->mapper, va, false, &pt, NULL) != MAP_OK)
		return NULL;
	return &pt[pt_index(va, PT_LEVEL_PT)];
}

static bool frame_is_zero(frame_t f)
{
	return frame_eq(f, zero_frame());
}

/* Frame f, whose record is info (get_page_info), may be writable: unmanaged (physical)
 * memory, One or Shared, and not paired with a swap slot (reclaim.c W3). */
static bool may_write(frame_t f, const struct page_info *info)
{
	return !info || (!frame_is_zero(f) && allows_writable(info) && !swap_cache_holds(f));
}

bool mm_frame_may_write(frame_t f)
{
	return may_write(f, get_page_info(f));
}

/* flags for the entry a fault makes for an access acc that touches the page now (touch: the
 * processor retries the access, or a populate stands for it), with the accessed bit, and the
 * dirty bit for a write to a writable page, set already (as Linux does): the retried access
 * finds them, and the processor has nothing to write back to the entry. A page made present
 * for someone else (a borrower's source, fork sharing a page) gets neither: nothing touched
 * it in this space. */
static page_flags_t preset_ad(page_flags_t flags, enum mm_access acc, bool touch)
{
	if (!touch)
		return flags;
	flags |= PG_ACCESSED;
	if (acc == MM_ACCESS_WRITE && (flags & PG_WRITABLE))
		flags |= PG_DIRTY;
	return flags;
}

/* A fresh One frame of zeros for an access at page offset hot (page_fill.h): allocated
 * without zeroing, then zeroed with the line the access touches last. */
static struct frame_or_error zeroed_frame(size_t hot)
{
	struct frame_or_error r = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);

	if (r.error == MM_OK)
		page_zero_for_access(phys_to_virt(r.frame.base), hot);
	return r;
}

/* A fresh One frame with the contents of old for an access at page offset hot: zeroed for
 * the zero frame, else allocated without zeroing and copied over (every byte is written
 * before it is mapped; page_fill.h). The caller keeps old alive meanwhile. */
static frame_t copy_of(frame_t old, size_t hot)
{
	struct frame_or_error r;

	if (frame_is_zero(old))
		r = zeroed_frame(hot);
	else
		r = init_frame_fill(REFCOUNT_ONE_INIT, FRAME_FILL_NONE);
	if (r.error != MM_OK)
		return FRAME_NONE;
	if (!frame_is_zero(old))
		page_copy_for_access(phys_to_virt(r.frame.base), phys_to_virt(old.base), hot);
	return r.frame;
}

/* Drop a reference this fault took (a pin, or a borrowed frame it could not map): the
 * entry it came from may have gone meanwhile, so it may be the last one. */
static void drop_ref(frame_t f, struct page_info *info)
{
	if (remove_ref(info).kind == REFCOUNT_U0)
		deallocate_frame(f);
}

enum install_result { INSTALL_OK, INSTALL_LOST, INSTALL_OOM };

/*
 * Fill the empty entry of va (slot, NULL when its table is missing; `seen` what it held)
 * with `leaf`, by compare-and-exchange against what was seen: of two CPUs faulting on the
 * page, one installs, the other finds INSTALL_LOST and gives its frame back. A fault alone
 * in its space (ctx_alone) stores it: nobody else writes an entry that is not present. A
 * missing table is made first (the mapper links it with a compare-and-exchange too, M4).
 */
static enum install_result install_leaf(struct addr_space *as, pte_t *slot, uint64_t va,
					pte_t seen, pte_t leaf, bool alone)
{
	if (!slot) {
		pte_t *pt;
		enum map_result m = mapper_leaf_table(&as->mapper, va, true, &pt, NULL);

		if (m != MAP_OK) {
			KASSERT(m == MAP_ENOMEM, "fault: tables of %#llx: %s", (unsigned long long)va,
				map_result_name(m));
			return INSTALL_OOM;
		}
		slot = &pt[pt_index(va, PT_LEVEL_PT)];
	}
	if (alone) {
		/* unchanged unless this fault changed it (an eviction under a limit) */
		if (mapper_entry_load(slot) != seen)
			return INSTALL_LOST;
		mapper_entry_overwrite(slot, leaf);
		return INSTALL_OK;
	}
	return mapper_entry_cas(slot, seen, leaf) ? INSTALL_OK : INSTALL_LOST;
}

static enum pf_status correct_in(struct addr_space *as, struct grant *g, uint64_t va, size_t hot,
				 enum mm_access acc, bool touch, unsigned depth,
				 struct fault_ctx *ctx, struct flusher *fl);

/*
 * The frame of page src_va of space src (locked shared at least), made present there and
 * given one more Shared reference for a borrower (*counted false for physical memory,
 * which has no count). The reference is taken under the page-table lock while the entry
 * still maps the frame, so the frame is alive when it is taken.
 */
static enum pf_status share_source_page(struct addr_space *src, uint64_t src_va, enum mm_access acc,
					unsigned depth, struct fault_ctx *ctx, frame_t *out,
					bool *counted)
{
	struct grant *g = ug_find(&src->grants, src_va);
	struct flusher fl;
	enum pf_status r = PF_OK;

	if (!g || !grant_allows(g, acc == MM_ACCESS_EXEC ? MM_ACCESS_READ : acc))
		return PF_SEGV;
	*counted = false;
	if (g->kind == PROVIDER_PHYS_BORROWED) {
		*out = (frame_t){ g->offset + (src_va - g->start) };
		return PF_OK;
	}
	flusher_init(&fl, src);
	for (;;) {
		pte_t *slot = leaf_slot(src, src_va);
		pte_t e = slot ? mapper_entry_load(slot) : 0;
		struct kspin *ptl;
		struct page_info *info;
		enum add_ref_error ae;
		frame_t f, copy;
		page_flags_t flags;
		bool pinned;

		if (pte_is_swap(e)) {
			/* the source's page is in swap: it comes back first */
			bool need_all;

			r = swap_in_page(src, g, src_va, slot, MM_ACCESS_READ, false, ctx->all, &need_all,
					 &ctx->limit_full);
			if (need_all) {
				r = want_all(ctx);
				break;
			}
			if (r != PF_OK)
				break;
			continue;
		}
		if (!pte_present(e)) {
			if (g->kind == PROVIDER_ALLOCATED || g->kind == PROVIDER_ALLOCATED_SHARED) {
				/* a real frame, never the zero frame: it is about to be shared */
				struct frame_or_error nf = zeroed_frame(0);
				enum install_result ir;

				if (nf.error != MM_OK) {
					r = PF_OOM;
					break;
				}
				ir = install_leaf(src, slot, src_va, e,
						  pte_make_leaf(nf.frame.base, grant_leaf_flags(g),
								PT_LEVEL_PT),
						  ctx_alone(ctx, src));
				if (ir != INSTALL_OK) {
					mm_free_fresh(nf.frame);
					if (ir == INSTALL_OOM) {
						r = PF_OOM;
						break;
					}
					continue;
				}
				AS_STAT_INC(src, faults_demand_zero);
			} else {
				r = correct_in(src, g, src_va, 0, MM_ACCESS_READ, false, depth, ctx, &fl);
				if (r != PF_OK)
					break;
			}
			continue; /* the entry is there now: look again */
		}
		/* shared writable from now on: no longer its slot's copy (reclaim.c W3) */
		if (swap_cache_holds((frame_t){ pte_address(e, PT_LEVEL_PT) }))
			swap_cache_forget((frame_t){ pte_address(e, PT_LEVEL_PT) });
		ptl = pt_lock_of(slot);
		kspin_lock(ptl);
		if (!mapper_entry_unchanged(slot, e)) {
			kspin_unlock(ptl);
			continue;
		}
		f = (frame_t){ pte_address(e, PT_LEVEL_PT) };
		info = get_page_info(f);
		if (!info) {
			kspin_unlock(ptl);
			*out = f;
			break;
		}
		ae = add_ref(info, REF_SHARED);
		if (ae == ADD_REF_OK || ae == ADD_REF_OVERFLOW) {
			kspin_unlock(ptl);
			*out = f;
			*counted = ae == ADD_REF_OK;
			r = ae == ADD_REF_OK ? PF_OK : PF_OOM;
			break;
		}
		/* ADD_REF_COW_TO_SHARED: the source's page is copy-on-write: the source gets a
		 * private copy first; the old frame is pinned (one more Cow reference) while it is
		 * copied with no lock held */
		pinned = !frame_is_zero(f);
		if (pinned && add_ref(info, REF_COW) != ADD_REF_OK) {
			kspin_unlock(ptl);
			r = PF_OOM;
			break;
		}
		kspin_unlock(ptl);
		copy = copy_of(f, 0);
		if (frame_is_none(copy)) {
			if (pinned)
				drop_ref(f, info);
			r = PF_OOM;
			break;
		}
		flags = grant_leaf_flags(g);
		if (!pte_has(e, PG_WRITABLE) && g->kind != PROVIDER_ALLOCATED &&
		    g->kind != PROVIDER_ALLOCATED_SHARED)
			flags &= ~(page_flags_t)PG_WRITABLE;
		KASSERT(add_ref(get_page_info(copy), REF_SHARED) == ADD_REF_OK,
			"borrow: fresh copy refused a reference");
		kspin_lock(ptl);
		if (!mapper_entry_unchanged(slot, e)) {
			kspin_unlock(ptl);
			remove_ref(get_page_info(copy));
			mm_free_fresh(copy);
			if (pinned)
				drop_ref(f, info);
			continue;
		}
		mapper_entry_exchange(slot, pte_make_leaf(copy.base, flags, PT_LEVEL_PT));
		kspin_unlock(ptl);
		flusher_page(&fl, src_va);
		flusher_free(&fl, f, info);
		if (pinned)
			remove_ref(info); /* never the last: the entry's waits in the flusher */
		KTRACE("fault: %s %#llx: copy-on-write page made private before sharing -> frame %#llx",
		       addr_space_name(src), (unsigned long long)src_va, (unsigned long long)copy.base);
		AS_STAT_INC(src, faults_cow_copy);
		*out = copy;
		*counted = true;
		break;
	}
	flusher_flush(&fl);
	return r;
}

/* Absent page of a borrowed grant (External / FmapBorrowed); slot and seen as for
 * install_leaf. */
static enum pf_status correct_borrowed(struct addr_space *as, struct grant *g, uint64_t va,
				       pte_t *slot, pte_t seen, enum mm_access acc, bool touch,
				       unsigned depth, struct fault_ctx *ctx)
{
	struct addr_space *src = g->src;
	uint64_t src_va = 0;
	frame_t f = FRAME_NONE;
	bool counted = false, locked = false;
	enum install_result ir;
	enum pf_status r;

	if (depth + 1 >= MM_BORROW_DEPTH_MAX)
		return PF_RECURSION_LIMIT;
	if (!ctx->all && !ctx_holds(ctx, src)) {
		/* L3: a source is only tried; on failure everything is released and retried
		 * (under mm_lock_all every space is held already) */
		if (!as_trylock_read(src)) {
			ctx->retry = true;
			return PF_NONFATAL_INTERNAL_ERROR;
		}
		ctx->held[ctx->nheld++] = src;
		locked = true;
	}
	if (g->kind == PROVIDER_FMAP_BORROWED && !src->fserve.active) {
		r = PF_NONFATAL_INTERNAL_ERROR; /* the file server is gone */
	} else {
		src_va = g->kind == PROVIDER_FMAP_BORROWED
				 ? src->fserve.base + g->offset + (va - g->start)
				 : g->offset + (va - g->start);
		r = share_source_page(src, src_va, acc, depth + 1, ctx, &f, &counted);
	}
	if (locked) {
		ctx->nheld--;
		as_unlock_read(src);
	}
	if (r != PF_OK)
		return r;
	ir = install_leaf(as, slot, va, seen,
			  pte_make_leaf(f.base, preset_ad(grant_leaf_flags(g), acc, touch), PT_LEVEL_PT),
			  ctx_alone(ctx, as));
	if (ir != INSTALL_OK) {
		if (counted)
			drop_ref(f, get_page_info(f)); /* the source may have let it go meanwhile */
		return ir == INSTALL_OOM ? PF_OOM : PF_AGAIN;
	}
	AS_STAT_INC(as, faults_shared);
	KTRACE("fault: %s %#llx %s: %s page of %s at %#llx -> frame %#llx", addr_space_name(as),
	       (unsigned long long)va, access_name(acc), grant_provider_name(g->kind),
	       addr_space_name(src), (unsigned long long)src_va, (unsigned long long)f.base);
	return PF_OK;
}

/* The page va has no present entry (seen: what its slot holds); slot is its level-1 slot,
 * NULL if the table is missing; hot is the page offset the access touches. The frame is
 * made first, with no lock held, then installed if the entry is still what was seen. */
static enum pf_status correct_absent(struct addr_space *as, struct grant *g, uint64_t va,
				     size_t hot, pte_t *slot, pte_t seen, enum mm_access acc,
				     bool touch, unsigned depth, struct fault_ctx *ctx)
{
	page_flags_t want = grant_leaf_flags(g);
	bool alone = ctx_alone(ctx, as);
	struct frame_or_error nf;
	enum install_result ir;

	switch (g->kind) {
	case PROVIDER_ALLOCATED:
		if (acc != MM_ACCESS_WRITE) {
			frame_t z = zero_frame();

			if (add_ref(get_page_info(z), REF_COW) != ADD_REF_OK)
				return PF_OOM;
			ir = install_leaf(as, slot, va, seen,
					  pte_make_leaf(z.base,
							preset_ad(want & ~(page_flags_t)PG_WRITABLE, acc,
								  touch),
							PT_LEVEL_PT),
					  alone);
			if (ir != INSTALL_OK) {
				remove_ref(get_page_info(z)); /* the zero frame keeps its base one */
				return ir == INSTALL_OOM ? PF_OOM : PF_AGAIN;
			}
			AS_STAT_INC(as, faults_zero_mapped);
			KTRACE("fault: %s %#llx %s: zero frame mapped read-only", addr_space_name(as),
			       (unsigned long long)va, access_name(acc));
			return PF_OK;
		}
		/* fall through: a write on an absent private page is demand-zero */
		__attribute__((fallthrough));
	case PROVIDER_ALLOCATED_SHARED:
		if (g->kind == PROVIDER_ALLOCATED && as->replace) {
			/* under a limit a page may have to go first */
			enum pf_status lr = limit_room(as, va, ctx);

			if (lr != PF_OK)
				return lr;
		}
		nf = zeroed_frame(hot);
		if (nf.error != MM_OK)
			return PF_OOM;
		ir = install_leaf(as, slot, va, seen,
				  pte_make_leaf(nf.frame.base, preset_ad(want, acc, touch), PT_LEVEL_PT),
				  alone);
		if (ir != INSTALL_OK) {
			mm_free_fresh(nf.frame);
			return ir == INSTALL_OOM ? PF_OOM : PF_AGAIN;
		}
		AS_STAT_INC(as, faults_demand_zero);
		if (g->kind == PROVIDER_ALLOCATED && as->replace)
			replace_note_resident(as, va);
		KTRACE("fault: %s %#llx %s: demand-zero -> frame %#llx", addr_space_name(as),
		       (unsigned long long)va, access_name(acc), (unsigned long long)nf.frame.base);
		return PF_OK;
	case PROVIDER_PHYS_BORROWED: {
		frame_t f = { g->offset + (va - g->start) };

		ir = install_leaf(as, slot, va, seen,
				  pte_make_leaf(f.base, preset_ad(want, acc, touch), PT_LEVEL_PT), alone);
		if (ir != INSTALL_OK)
			return ir == INSTALL_OOM ? PF_OOM : PF_AGAIN;
		AS_STAT_INC(as, faults_shared);
		KTRACE("fault: %s %#llx %s: physical %#llx mapped", addr_space_name(as),
		       (unsigned long long)va, access_name(acc), (unsigned long long)f.base);
		return PF_OK;
	}
	case PROVIDER_EXTERNAL:
	case PROVIDER_FMAP_BORROWED:
		return correct_borrowed(as, g, va, slot, seen, acc, touch, depth, ctx);
	}
	return PF_SEGV;
}

/* The lock of the table of slot (ptl; NULL for a fault alone in its space, which needs
 * none), with the entry still e: true; false, with nothing held, if it changed (alone, only
 * this fault can have changed it: an eviction under a limit). */
static bool entry_lock(struct kspin *ptl, const pte_t *slot, pte_t e)
{
	if (!ptl)
		return mapper_entry_unchanged(slot, e);
	kspin_lock(ptl);
	if (mapper_entry_unchanged(slot, e))
		return true;
	kspin_unlock(ptl);
	return false;
}

static void entry_unlock(struct kspin *ptl)
{
	if (ptl)
		kspin_unlock(ptl);
}

/*
 * The present entry e at slot does not allow the access: copy-on-write, or rights the
 * grant gives that the entry lacks. Decided and done under the table's lock, with the entry
 * checked to be still e; the copy is made outside it, the old frame pinned by one more
 * reference meanwhile (Linux's wp_page_copy). A fault alone in its space (ctx_alone) needs
 * neither: no other CPU's kernel can change the entry, so it still holds its reference on
 * the old frame while the copy is made; the processors only set A/D bits (M7), so the
 * entry is still replaced in one atomic step or over A/D bits they can no longer change.
 */
static enum pf_status correct_present(struct addr_space *as, struct grant *g, uint64_t va,
				      size_t hot, pte_t *slot, pte_t e, enum mm_access acc,
				      bool touch, struct fault_ctx *ctx, struct flusher *fl)
{
	page_flags_t want = grant_leaf_flags(g);
	frame_t f = { pte_address(e, PT_LEVEL_PT) }, copy;
	struct page_info *info = get_page_info(f);
	bool alone = ctx_alone(ctx, as);
	struct kspin *ptl = alone ? NULL : pt_lock_of(slot);
	bool pinned, writable, fresh = false;

	if (acc == MM_ACCESS_WRITE && info && swap_cache_holds(f) &&
	    page_info_refcount(info).kind == REFCOUNT_ONE) {
		/* written in place from now on: its slot no longer holds its contents (a slot
		 * other spaces still name keeps them for those) */
		swap_cache_forget(f);
		KTRACE("fault: %s %#llx write: the page leaves the swap cache (its slot's copy goes stale)",
		       addr_space_name(as), (unsigned long long)va);
	}
	if (acc == MM_ACCESS_WRITE && frame_is_zero(f) && g->kind == PROVIDER_ALLOCATED &&
	    as->replace) {
		/* the zero frame does not count against a limit; its copy does */
		enum pf_status lr = limit_room(as, va, ctx);

		if (lr != PF_OK)
			return lr;
		fresh = true;
	}
	if (!entry_lock(ptl, slot, e))
		return PF_AGAIN;
	writable = may_write(f, info);
	if (acc != MM_ACCESS_WRITE || writable) {
		/* the frame may take the rights the grant gives: upgrade the entry in place */
		page_flags_t nf = want;
		bool reuse;

		if (!writable)
			nf &= ~(page_flags_t)PG_WRITABLE;
		/* no preset_ad: a remap keeps the A/D bits the entry has */
		KASSERT(mapper_remap_slot(slot, nf, NULL) == MAP_OK, "fault: remap failed");
		/* the count cannot change under the table's lock (or alone) but for borrowers'
		 * Shared references and other spaces letting a Cow frame go, which do not make a
		 * reuse of a One frame wrong */
		reuse = acc == MM_ACCESS_WRITE && g->kind == PROVIDER_ALLOCATED && info &&
			page_info_rc_is_one(page_info_rc(info));
		entry_unlock(ptl);
		mm_local_invlpg(as, va);
		if (reuse) {
			AS_STAT_INC(as, faults_cow_reuse);
			KTRACE("fault: %s %#llx write: copy-on-write with one owner: frame %#llx made writable",
			       addr_space_name(as), (unsigned long long)va, (unsigned long long)f.base);
		} else {
			AS_STAT_INC(as, faults_shared);
			KTRACE("fault: %s %#llx %s: rights of frame %#llx upgraded to the grant's",
			       addr_space_name(as), (unsigned long long)va, access_name(acc),
			       (unsigned long long)f.base);
		}
		return PF_OK;
	}
	/* copy-on-write (or the zero frame): only private memory holds such frames */
	KASSERT(g->kind == PROVIDER_ALLOCATED, "fault: a %s grant maps a copy-on-write frame at %#llx",
		grant_provider_name(g->kind), (unsigned long long)va);
	pinned = !alone && !frame_is_zero(f); /* the zero frame is never freed */
	if (pinned && add_ref(info, REF_COW) != ADD_REF_OK) {
		entry_unlock(ptl);
		return PF_OOM;
	}
	entry_unlock(ptl);
	copy = copy_of(f, hot);
	if (frame_is_none(copy)) {
		if (pinned)
			drop_ref(f, info);
		return PF_OOM;
	}
	if (!entry_lock(ptl, slot, e)) {
		mm_free_fresh(copy);
		if (pinned)
			drop_ref(f, info);
		return PF_AGAIN;
	}
	if (alone)
		mapper_entry_overwrite(slot, pte_make_leaf(copy.base, preset_ad(want, acc, touch),
							   PT_LEVEL_PT));
	else
		mapper_entry_exchange(slot,
				      pte_make_leaf(copy.base, preset_ad(want, acc, touch), PT_LEVEL_PT));
	entry_unlock(ptl);
	/* the entry's reference is dropped after the shootdown (R8) */
	flusher_page(fl, va);
	if (info)
		flusher_free(fl, f, info);
	if (pinned)
		remove_ref(info); /* never the last: the entry's waits in the flusher */
	AS_STAT_INC(as, faults_cow_copy);
	if (fresh)
		replace_note_resident(as, va);
	KTRACE("fault: %s %#llx write: copy-on-write %s frame %#llx -> frame %#llx", addr_space_name(as),
	       (unsigned long long)va, frame_is_zero(f) ? "of the zero" : "copy of",
	       (unsigned long long)f.base, (unsigned long long)copy.base);
	return PF_OK;
}

static enum pf_status correct_in(struct addr_space *as, struct grant *g, uint64_t va, size_t hot,
				 enum mm_access acc, bool touch, unsigned depth,
				 struct fault_ctx *ctx, struct flusher *fl)
{
	enum pf_status r;

	if (!grant_leaf_flags(g) || !grant_allows(g, acc)) {
		AS_STAT_INC(as, faults_segv);
		KTRACE("fault: %s %#llx %s: refused by the grant's protection", addr_space_name(as),
		       (unsigned long long)va, access_name(acc));
		return PF_SEGV;
	}
	do {
		pte_t *slot = leaf_slot(as, va);
		pte_t e = slot ? mapper_entry_load(slot) : 0;

		if (pte_is_swap(e)) {
			bool need_all;

			r = swap_in_page(as, g, va, slot, acc, touch, ctx->all, &need_all,
					 &ctx->limit_full);
			if (need_all)
				return want_all(ctx);
			/* a write on a page that came back paired with its slot: the present path */
			if (r == PF_OK && !pte_permits(mapper_entry_load(slot), acc))
				r = PF_AGAIN;
		} else if (!pte_present(e)) {
			r = correct_absent(as, g, va, hot, slot, e, acc, touch, depth, ctx);
		} else if (pte_permits(e, acc)) {
			AS_STAT_INC(as, faults_spurious);
			mm_local_invlpg(as, va);
			KTRACE("fault: %s %#llx %s: spurious (the tables already allow it)",
			       addr_space_name(as), (unsigned long long)va, access_name(acc));
			r = PF_OK;
		} else {
			r = correct_present(as, g, va, hot, slot, e, acc, touch, ctx, fl);
		}
	} while (r == PF_AGAIN);
	return r;
}

static enum pf_status correct_page(struct addr_space *as, uint64_t addr, enum mm_access acc,
				   bool touch, struct fault_ctx *ctx, struct flusher *fl)
{
	uint64_t va = addr & ~PAGE_MASK;
	struct grant *g = ug_find(&as->grants, va);
	enum pf_status r;

	if (!g) {
		AS_STAT_INC(as, faults_segv);
		KTRACE("fault: %s %#llx %s: no grant", addr_space_name(as), (unsigned long long)va,
		       access_name(acc));
		return PF_SEGV;
	}
	r = correct_in(as, g, va, addr & PAGE_MASK, acc, touch, 0, ctx, fl);
	if (ctx->retry)
		return r; /* not a fault of its own: it is taken again */
	if (r == PF_OOM)
		AS_STAT_INC(as, faults_oom);
	else if (r != PF_OK && r != PF_SEGV)
		AS_STAT_INC(as, faults_segv);
	return r;
}

enum pf_status mm_correct_page(struct addr_space *as, uint64_t addr, enum mm_access acc,
			       bool touch, bool all, struct flusher *fl)
{
	/* the space is held exclusively (or every space is): alone in it */
	struct fault_ctx ctx = {
		.held = { as }, .nheld = 1, .retry = false, .alone = true, .all = all
	};
	enum pf_status r;

	KASSERT(all || as_write_held_here(as), "mm: a correction of %#llx without the space held",
		(unsigned long long)addr);
	r = correct_page(as, addr, acc, touch, &ctx, fl);
	/* the callers never meet what retries: populate and fork reach no borrowed page, and a
	 * page under a limit (want_all) is populated with every space held (mm_mmap); fork
	 * makes present only shared memory's absent pages, which no limit counts */
	KASSERT(!ctx.retry, "mm: a fault under an exclusive lock had to retry at %#llx",
		(unsigned long long)addr);
	return r;
}

enum pf_status page_fault_handler(uint32_t error_code, uint64_t cr2)
{
	unsigned me = plat_cpu_id();
	struct addr_space *as = as_current_on(me);
	enum mm_access acc = (error_code & PF_ERR_ID)  ? MM_ACCESS_EXEC
			     : (error_code & PF_ERR_W) ? MM_ACCESS_WRITE
						       : MM_ACCESS_READ;
	struct as_percpu *pc; /* this CPU's reader slot and statistics */
	struct flusher fl;
	enum pf_status r;

	if (!as)
		return PF_SEGV;
	if ((error_code & PF_ERR_RSVD) || !va_is_user(cr2) ||
	    (acc == MM_ACCESS_EXEC && !(error_code & PF_ERR_U))) {
		/* a reserved bit means corrupt tables; fetches by the kernel are never recovered */
		AS_STAT_INC(as, faults_segv);
		KTRACE("fault: %s %#llx: refused (error %#x)", addr_space_name(as),
		       (unsigned long long)cr2, error_code);
		return PF_SEGV;
	}
	pc = as_this_cpu(as);
	as_stat_inc(&pc->stats.faults_total);
	unsigned tries = 0;
	bool limit_full = false;
	for (bool all = false;;) {
		struct fault_ctx ctx;

		/* held[] past nheld is never read: not cleared */
		ctx.held[0] = as;
		ctx.nheld = 1;
		ctx.retry = ctx.need_all = ctx.limit_full = false;
		ctx.all = all;

		if (all) {
			mm_lock_all();
			ctx.alone = true;
		} else {
			ctx.alone = krw_read_lock_here(&as->lock, &pc->reader, me, as->seq);
		}
		if (as->dead) {
			/* killed while this CPU waited for the lock (it left the space meanwhile) */
			if (all)
				mm_unlock_all();
			else
				krw_read_unlock_here(&as->lock, &pc->reader);
			return PF_KILLED;
		}
		flusher_init(&fl, as);
		r = correct_page(as, cr2, acc, true, &ctx, &fl);
		flusher_flush(&fl);
		if (all)
			mm_unlock_all();
		else
			krw_read_unlock_here(&as->lock, &pc->reader);
		limit_full = ctx.limit_full;
		if (ctx.need_all) {
			all = true; /* shared memory, the swap cache or a limit: every space locked */
			continue;
		}
		/* short of frames: evict to swap (direct reclaim takes the locks it needs, so
		 * none is held), then take the fault again: one fault stays one fault */
		if (r == PF_OOM && !ctx.retry && !limit_full && !system_frozen() &&
		    tries++ < FAULT_RECLAIM_TRIES && reclaim_direct(FAULT_RECLAIM_FRAMES))
			continue;
		if (!ctx.retry)
			break;
		/* a source space's writer holds it (L3): let it finish, then take the fault again */
		arch_cpu_relax();
	}
	/* out of memory is the governor's to resolve, never a panic; it may kill, which takes
	 * the space's lock: only now that it is released. Only for the process's own accesses:
	 * a kernel copy (a supervisor fault on a user address) never kills; it fails with
	 * EFAULT instead. A limit that swap cannot serve is no shortage of memory: the governor
	 * is not asked (limit_room) */
	if (r == PF_OOM && (error_code & PF_ERR_U) && !limit_full)
		r = mm_oom_from_fault(as);
	/* Warning or Emergency: the governor reclaims first (pressure.h), with no lock held */
	if (__builtin_expect(pressure_state() != PRESSURE_NORMAL, 0) && r != PF_KILLED)
		pressure_reclaim_step();
	return r;
}

/* Vector 14, the IDT's #PF entry: CR2 is read first, as a real handler must before anything
 * can fault again; PF_OK (0) restarts the faulting instruction. */
static int page_fault_exception(unsigned vector, uint32_t error_code)
{
	(void)vector;
	return (int)page_fault_handler(error_code, arch_read_cr2());
}

bool page_fault_init(void)
{
	return exception_register(VECTOR_PAGE_FAULT, page_fault_exception);
}
