/*
 * The page-fault handler: per-provider correction of one page (redox-mm.md 5.2), with the
 * weaknesses of section 11 fixed.
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
 *   Shared reference under the mm lock, so the frame cannot vanish between the lookup and the
 *   add_ref (11.2-8); a Cow source page is first replaced in the source by a private copy,
 *   with a shootdown of the source's CPUs before the old frame's reference is dropped
 *   (11.2-7); chains deeper than MM_BORROW_DEPTH_MAX are PF_RECURSION_LIMIT;
 * - the old frame of a copy is released through the flusher, after the shootdown (R8).
 */
#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/page_fill.h"
#include "frame_alloc.h"
#include "mm_internal.h"
#include "page_info.h"
#include "platform.h"

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
	if (!(e & PTE_P) || !(e & PTE_US))
		return false;
	if (acc == MM_ACCESS_WRITE)
		return e & PTE_RW;
	if (acc == MM_ACCESS_EXEC)
		return !(e & PTE_XD);
	return true;
}

/* The level-1 slot of user page va in as, or NULL when its table does not exist (the
 * fault path finds it once and does every edit there). Valid while the mm lock is held: only
 * edits under it unlink tables, and no allocation reclaims them (the governor's evacuation
 * runs after the handler released the lock). */
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
 * memory, One or Shared. */
static bool may_write(frame_t f, const struct page_info *info)
{
	return !info || (!frame_is_zero(f) && allows_writable(info));
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

/* Replace the present PTE in slot (of page va) by frame nf with flags, in one exchange. */
static void replace_pte(pte_t *slot, uint64_t va, frame_t nf, page_flags_t flags,
			struct flusher *fl)
{
	pte_t old = mapper_entry_exchange(slot, pte_make_leaf(nf.base, flags, PT_LEVEL_PT));
	frame_t of = { pte_address(old, PT_LEVEL_PT) };
	struct page_info *info = get_page_info(of);

	KASSERT(pte_present(old), "fault: replace lost the PTE of %#llx", (unsigned long long)va);
	flusher_page(fl, va);
	if (info)
		flusher_free(fl, of, info);
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
 * before it is mapped; page_fill.h). */
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

/* Map f at va; slot is the level-1 slot of va, or NULL (its table is missing, or not looked
 * up). */
static enum pf_status map_or_oom(struct addr_space *as, pte_t *slot, uint64_t va, frame_t f,
				 page_flags_t flags)
{
	enum map_result m = mapper_map_slot(&as->mapper, slot, va, f, flags);

	if (m == MAP_OK)
		return PF_OK;
	KASSERT(m == MAP_ENOMEM, "fault: map of %#llx: %s", (unsigned long long)va, map_result_name(m));
	return PF_OOM;
}

static enum pf_status correct_in(struct addr_space *as, struct grant *g, uint64_t va, size_t hot,
				 enum mm_access acc, bool touch, unsigned depth, struct flusher *fl);

/*
 * The frame of page src_va of space src, made present there and given one more Shared
 * reference for a borrower (*counted false for physical memory, which has no count).
 */
static enum pf_status share_source_page(struct addr_space *src, uint64_t src_va, enum mm_access acc,
					unsigned depth, frame_t *out, bool *counted)
{
	struct grant *g = ug_find(&src->grants, src_va);
	struct translation t;
	struct flusher fl;
	enum pf_status r = PF_OK;
	struct page_info *info;

	if (!g || !grant_allows(g, acc == MM_ACCESS_EXEC ? MM_ACCESS_READ : acc))
		return PF_SEGV;
	if (g->kind == PROVIDER_PHYS_BORROWED) {
		*out = (frame_t){ g->offset + (src_va - g->start) };
		*counted = false;
		return PF_OK;
	}
	flusher_init(&fl, src);
	if (mapper_translate(&src->mapper, src_va, &t) != MAP_OK) {
		if (g->kind == PROVIDER_ALLOCATED || g->kind == PROVIDER_ALLOCATED_SHARED) {
			/* a real frame, never the zero frame: it is about to be shared */
			struct frame_or_error nf = zeroed_frame(0);

			if (nf.error != MM_OK)
				return PF_OOM;
			r = map_or_oom(src, NULL, src_va, nf.frame, grant_leaf_flags(g));
			if (r != PF_OK) {
				remove_ref(get_page_info(nf.frame));
				deallocate_frame(nf.frame);
				return r;
			}
			src->stats.faults_demand_zero++;
		} else {
			r = correct_in(src, g, src_va, 0, MM_ACCESS_READ, false, depth, &fl);
			if (r != PF_OK) {
				flusher_flush(&fl);
				return r;
			}
		}
		KASSERT(mapper_translate(&src->mapper, src_va, &t) == MAP_OK, "borrow: source lost");
	}
	*out = t.leaf.frame;
	*counted = false;
	info = get_page_info(t.leaf.frame);
	if (info) {
		enum add_ref_error e = add_ref(info, REF_SHARED);

		if (e == ADD_REF_COW_TO_SHARED) {
			/* the source's page is copy-on-write: the source gets a private copy first */
			frame_t copy = copy_of(t.leaf.frame, 0);
			page_flags_t flags = grant_leaf_flags(g);

			if (frame_is_none(copy)) {
				flusher_flush(&fl);
				return PF_OOM;
			}
			if (!(t.leaf.flags & PG_WRITABLE) && g->kind != PROVIDER_ALLOCATED &&
			    g->kind != PROVIDER_ALLOCATED_SHARED)
				flags &= ~(page_flags_t)PG_WRITABLE;
			replace_pte(leaf_slot(src, src_va), src_va, copy, flags, &fl);
			KTRACE("fault: %s %#llx: copy-on-write page made private before sharing -> frame %#llx",
			       addr_space_name(src), (unsigned long long)src_va,
			       (unsigned long long)copy.base);
			src->stats.faults_cow_copy++;
			*out = copy;
			e = add_ref(get_page_info(copy), REF_SHARED);
		}
		if (e == ADD_REF_OVERFLOW)
			r = PF_OOM;
		else
			*counted = true;
	}
	flusher_flush(&fl);
	return r;
}

/* Absent page of a borrowed grant (External / FmapBorrowed). */
static enum pf_status correct_borrowed(struct addr_space *as, struct grant *g, uint64_t va,
				       enum mm_access acc, bool touch, unsigned depth)
{
	struct addr_space *src = g->src;
	uint64_t src_va;
	frame_t f;
	bool counted;
	enum pf_status r;

	if (depth + 1 >= MM_BORROW_DEPTH_MAX)
		return PF_RECURSION_LIMIT;
	if (g->kind == PROVIDER_FMAP_BORROWED) {
		if (!src->fserve.active)
			return PF_NONFATAL_INTERNAL_ERROR; /* the file server is gone */
		src_va = src->fserve.base + g->offset + (va - g->start);
	} else {
		src_va = g->offset + (va - g->start);
	}
	r = share_source_page(src, src_va, acc, depth + 1, &f, &counted);
	if (r != PF_OK)
		return r;
	r = map_or_oom(as, NULL, va, f, preset_ad(grant_leaf_flags(g), acc, touch));
	if (r != PF_OK) {
		if (counted)
			remove_ref(get_page_info(f)); /* the source still maps it: never the last */
		return r;
	}
	as->stats.faults_shared++;
	KTRACE("fault: %s %#llx %s: %s page of %s at %#llx -> frame %#llx", addr_space_name(as),
	       (unsigned long long)va, access_name(acc), grant_provider_name(g->kind),
	       addr_space_name(src), (unsigned long long)src_va, (unsigned long long)f.base);
	return PF_OK;
}

/* The page va has no present PTE; slot is its level-1 slot, NULL if the table is missing;
 * hot is the page offset the access touches. */
static enum pf_status correct_absent(struct addr_space *as, struct grant *g, uint64_t va,
				     size_t hot, pte_t *slot, enum mm_access acc, bool touch,
				     unsigned depth)
{
	page_flags_t want = grant_leaf_flags(g);
	struct frame_or_error nf;
	enum pf_status r;

	switch (g->kind) {
	case PROVIDER_ALLOCATED:
		if (acc != MM_ACCESS_WRITE) {
			frame_t z = zero_frame();

			if (add_ref(get_page_info(z), REF_COW) != ADD_REF_OK)
				return PF_OOM;
			r = map_or_oom(as, slot, va, z,
				       preset_ad(want & ~(page_flags_t)PG_WRITABLE, acc, touch));
			if (r != PF_OK) {
				remove_ref(get_page_info(z));
				return r;
			}
			as->stats.faults_zero_mapped++;
			KTRACE("fault: %s %#llx %s: zero frame mapped read-only", addr_space_name(as),
			       (unsigned long long)va, access_name(acc));
			return PF_OK;
		}
		/* fall through: a write on an absent private page is demand-zero */
		__attribute__((fallthrough));
	case PROVIDER_ALLOCATED_SHARED:
		nf = zeroed_frame(hot);
		if (nf.error != MM_OK)
			return PF_OOM;
		r = map_or_oom(as, slot, va, nf.frame, preset_ad(want, acc, touch));
		if (r != PF_OK) {
			remove_ref(get_page_info(nf.frame));
			deallocate_frame(nf.frame);
			return r;
		}
		as->stats.faults_demand_zero++;
		KTRACE("fault: %s %#llx %s: demand-zero -> frame %#llx", addr_space_name(as),
		       (unsigned long long)va, access_name(acc), (unsigned long long)nf.frame.base);
		return PF_OK;
	case PROVIDER_PHYS_BORROWED: {
		frame_t f = { g->offset + (va - g->start) };

		r = map_or_oom(as, slot, va, f, preset_ad(want, acc, touch));
		if (r == PF_OK) {
			as->stats.faults_shared++;
			KTRACE("fault: %s %#llx %s: physical %#llx mapped", addr_space_name(as),
			       (unsigned long long)va, access_name(acc), (unsigned long long)f.base);
		}
		return r;
	}
	case PROVIDER_EXTERNAL:
	case PROVIDER_FMAP_BORROWED:
		return correct_borrowed(as, g, va, acc, touch, depth);
	}
	return PF_SEGV;
}

static enum pf_status correct_in(struct addr_space *as, struct grant *g, uint64_t va, size_t hot,
				 enum mm_access acc, bool touch, unsigned depth, struct flusher *fl)
{
	page_flags_t want = grant_leaf_flags(g);
	pte_t *slot, e;
	frame_t f;
	struct page_info *info;

	if (!want || !grant_allows(g, acc)) {
		as->stats.faults_segv++;
		KTRACE("fault: %s %#llx %s: refused by the grant's protection", addr_space_name(as),
		       (unsigned long long)va, access_name(acc));
		return PF_SEGV;
	}
	slot = leaf_slot(as, va);
	e = slot ? mapper_entry_load(slot) : 0;
	if (!pte_present(e))
		return correct_absent(as, g, va, hot, slot, acc, touch, depth);
	f = (frame_t){ pte_address(e, PT_LEVEL_PT) };
	info = get_page_info(f);
	if (pte_permits(e, acc)) {
		as->stats.faults_spurious++;
		mm_local_invlpg(as, va);
		KTRACE("fault: %s %#llx %s: spurious (the tables already allow it)", addr_space_name(as),
		       (unsigned long long)va, access_name(acc));
		return PF_OK;
	}
	if (acc == MM_ACCESS_WRITE && !may_write(f, info)) {
		/* copy-on-write (or the zero frame): only private memory holds such frames */
		frame_t copy;

		KASSERT(g->kind == PROVIDER_ALLOCATED,
			"fault: a %s grant maps a copy-on-write frame at %#llx",
			grant_provider_name(g->kind), (unsigned long long)va);
		copy = copy_of(f, hot);
		if (frame_is_none(copy))
			return PF_OOM;
		replace_pte(slot, va, copy, preset_ad(want, acc, touch), fl);
		as->stats.faults_cow_copy++;
		KTRACE("fault: %s %#llx write: copy-on-write %s frame %#llx -> frame %#llx",
		       addr_space_name(as), (unsigned long long)va,
		       frame_is_zero(f) ? "of the zero" : "copy of", (unsigned long long)f.base,
		       (unsigned long long)copy.base);
		return PF_OK;
	}
	/* the frame may take the rights the grant gives: upgrade the PTE in place */
	{
		page_flags_t nf = want;

		if (!may_write(f, info))
			nf &= ~(page_flags_t)PG_WRITABLE;
		/* no preset_ad: a remap keeps the A/D bits the entry has */
		KASSERT(mapper_remap_slot(slot, nf, NULL) == MAP_OK, "fault: remap failed");
		mm_local_invlpg(as, va);
		if (acc == MM_ACCESS_WRITE && g->kind == PROVIDER_ALLOCATED && info &&
		    page_info_refcount(info).kind == REFCOUNT_ONE) {
			as->stats.faults_cow_reuse++;
			KTRACE("fault: %s %#llx write: copy-on-write with one owner: frame %#llx made writable",
			       addr_space_name(as), (unsigned long long)va, (unsigned long long)f.base);
		} else {
			as->stats.faults_shared++;
			KTRACE("fault: %s %#llx %s: rights of frame %#llx upgraded to the grant's",
			       addr_space_name(as), (unsigned long long)va, access_name(acc),
			       (unsigned long long)f.base);
		}
	}
	return PF_OK;
}

enum pf_status mm_correct_page(struct addr_space *as, uint64_t addr, enum mm_access acc,
			       bool touch, struct flusher *fl)
{
	uint64_t va = addr & ~PAGE_MASK;
	struct grant *g = ug_find(&as->grants, va);
	enum pf_status r;

	if (!g) {
		as->stats.faults_segv++;
		KTRACE("fault: %s %#llx %s: no grant", addr_space_name(as), (unsigned long long)va,
		       access_name(acc));
		return PF_SEGV;
	}
	r = correct_in(as, g, va, addr & PAGE_MASK, acc, touch, 0, fl);
	if (r == PF_OOM)
		as->stats.faults_oom++;
	else if (r != PF_OK && r != PF_SEGV)
		as->stats.faults_segv++;
	return r;
}

enum pf_status page_fault_handler(uint32_t error_code, uint64_t cr2)
{
	unsigned me = plat_cpu_id();
	struct addr_space *as = as_current_on(me);
	enum mm_access acc = (error_code & PF_ERR_ID)  ? MM_ACCESS_EXEC
			     : (error_code & PF_ERR_W) ? MM_ACCESS_WRITE
						       : MM_ACCESS_READ;
	struct flusher fl;
	enum pf_status r;

	if (!as)
		return PF_SEGV;
	mm_lock_acquire();
	if ((error_code & PF_ERR_RSVD) || !va_is_user(cr2) ||
	    (acc == MM_ACCESS_EXEC && !(error_code & PF_ERR_U))) {
		/* a reserved bit means corrupt tables; fetches by the kernel are never recovered */
		as->stats.faults_segv++;
		KTRACE("fault: %s %#llx: refused (error %#x)", addr_space_name(as),
		       (unsigned long long)cr2, error_code);
		mm_lock_release();
		return PF_SEGV;
	}
	flusher_init(&fl, as);
	r = mm_correct_page(as, cr2, acc, true, &fl);
	flusher_flush(&fl);
	mm_lock_release();
	/* out of memory is the governor's to resolve, never a panic; it may kill, which takes
	 * the mm lock: only now that it is released. Only for the process's own accesses: a
	 * kernel copy (a supervisor fault on a user address) never kills; it fails with
	 * EFAULT instead */
	if (r == PF_OOM && (error_code & PF_ERR_U))
		r = mm_oom_from_fault(as);
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
