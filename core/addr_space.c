/*
 * Address spaces: creation, the registry of live spaces, references, switching (CR3 and the
 * used_by set), teardown, the unmap primitives the system calls share, and the locks of the
 * memory manager.
 *
 * Locks, in the order they are taken (a lock is only taken while holding locks above it):
 * - L1 the registry lock (sleeping class: the audit holds it across L2): the list of live
 *   spaces, `created`, and every space's `holds`. Never taken with an L2 lock held.
 * - L2 each space's lock, a reader-writer lock (sleeping class, as Linux's mmap_lock): held
 *   shared by a page fault, exclusively by mmap, munmap, mprotect, fork, exit, borrow,
 *   transfer, fserve, fmap and the views; it guards the grants, the tables' structure (no
 *   table is unlinked or freed under a shared holder), `dead` and the served file's range.
 *   It is a big-reader lock (klock.h): a fault writes only its own CPU's slot of it, with no
 *   locked instruction, and counts itself in its own CPU's statistics (struct as_percpu), so
 *   faults of one space on several CPUs share no lock word; mmap and the other writers pay
 *   with a barrier on the CPUs that ever read the space and a look at their slots. A CPU's
 *   first read of a space joins its readers as a writer would (waiting for the readers
 *   inside, at the read's place in this order): a fault alone in its space knows it
 *   (krw_read_alone) and needs no table lock (L4). Two spaces are taken by increasing
 *   creation order (seq): fork (parent, then its newer child), borrow and fmap (the
 *   destination exclusively, the source shared), transfer (both exclusively), the audit
 *   (all of them, oldest first, under L1).
 * - L3 a fault's source spaces: a fault on borrowed memory (External, FmapBorrowed) holds its
 *   own space shared and needs the source's shared, whatever their order; it only tries
 *   (as_trylock_read). When the try fails, the fault releases everything and starts again:
 *   it never waits while holding a space lock out of order, so no cycle of waiters can
 *   form (every wait for an L2 lock is either in creation order or by a CPU holding no L2
 *   lock). The source stays locked while the fault takes its reference on the frame, so
 *   the frame cannot be freed in between (Redox can).
 * - L4 the page-table locks (pt_lock.h, spin): one table at a time, nothing else under them.
 * - L5 the locks of the frame allocator, the kernel heap and the pressure governor (their
 *   own files say which), taken under any of the above, never the other way round: the
 *   governor's kills and shrinkers run with no L1..L4 lock held (oom.c O3).
 * A CPU waiting for any of these takes its pending IPIs (klock.h), so a CPU that holds one
 * may wait for a shootdown's acknowledgements (tlb_flush.c T2), except under a spin lock
 * (L4), which the lock-order validator enforces (lockdep.h).
 *
 * Invariants kept here:
 * - a space is in the registry from addr_space_create until addr_space_destroy; afterwards
 *   it is `dead` (no grants, no tables) and lives on only while EXTERNAL / FMAP grants of
 *   other spaces still reference it (refs); the object is freed at refs == 0;
 * - used_by holds exactly the CPUs whose CR3 points at this space's PML4: a CPU sets its bit
 *   before loading CR3 and clears it after loading another CR3 (which dropped every
 *   non-global entry: user pages are never global), so a shootdown that misses a CPU never
 *   misses a translation;
 * - addr_space_destroy requires used_by == 0 (every CPU switched away): the tables are then
 *   unreachable by any processor and are freed at once; every frame reference the space held
 *   is dropped (frames reaching zero are freed), every provider reference released.
 */
#include <stdalign.h>

#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/kernel_space.h"
#include "frame_alloc.h"
#include "kheap.h"
#include "kstring.h"
#include "mm_internal.h"
#include "reclaim.h"
#include "replace_policy.h"
#include "swap_area.h"
#include "arch/x86_64/swap_entry.h"
#include "page_info.h"
#include "platform.h"
#include "pt_lock.h"

#define KTRACE_KIND TRACE_MM

static struct lock_class registry_class = LOCK_CLASS_INIT("mm registry", LOCK_SLEEP);
static struct lock_class space_class = LOCK_CLASS_INIT("address space", LOCK_SLEEP);
static struct kspin registry_lock;
static struct addr_space *registry, *registry_oldest;
static struct addr_space *cpu_current[MM_MAX_CPUS];
static uint64_t created; /* address spaces ever created: their seq */

void as_lock_read(struct addr_space *as)
{
	krw_read_lock(&as->lock, as->seq);
}

bool as_trylock_read(struct addr_space *as)
{
	return krw_read_trylock(&as->lock, as->seq);
}

void as_unlock_read(struct addr_space *as)
{
	krw_read_unlock(&as->lock);
}

void as_lock_write(struct addr_space *as)
{
	krw_write_lock(&as->lock, as->seq);
}

void as_unlock_write(struct addr_space *as)
{
	krw_write_unlock(&as->lock);
}

bool as_write_held_here(const struct addr_space *as)
{
	return krw_write_held_here(&as->lock);
}

static void lock_one(struct addr_space *as, bool write)
{
	if (write)
		as_lock_write(as);
	else
		as_lock_read(as);
}

void as_lock_two(struct addr_space *a, bool a_write, struct addr_space *b, bool b_write)
{
	if (a == b) {
		lock_one(a, a_write || b_write);
		return;
	}
	/* L2: two spaces by increasing creation order */
	if (a->seq < b->seq) {
		lock_one(a, a_write);
		lock_one(b, b_write);
	} else {
		lock_one(b, b_write);
		lock_one(a, a_write);
	}
}

static void unlock_one(struct addr_space *as, bool write)
{
	if (write)
		as_unlock_write(as);
	else
		as_unlock_read(as);
}

void as_unlock_two(struct addr_space *a, bool a_write, struct addr_space *b, bool b_write)
{
	if (a == b) {
		unlock_one(a, a_write || b_write);
		return;
	}
	unlock_one(a, a_write);
	unlock_one(b, b_write);
}

void mm_registry_lock(void)
{
	kspin_lock(&registry_lock);
}

void mm_registry_unlock(void)
{
	kspin_unlock(&registry_lock);
}

/* The validator sees the whole set as one lock of the address-space class, this token. */
static const char every_space;

void mm_lock_all(void)
{
	mm_registry_lock();
	lockdep_acquire(&space_class, &every_space, 1, false);
	for (struct addr_space *as = registry_oldest; as; as = as->prev)
		krw_write_lock_untracked(&as->lock);
}

void mm_unlock_all(void)
{
	for (struct addr_space *as = registry; as; as = as->next)
		krw_write_unlock_untracked(&as->lock);
	lockdep_release(&every_space);
	mm_registry_unlock();
}

bool user_mm_init(void)
{
	lockdep_reset();
	kspin_init(&registry_lock, &registry_class);
	pt_locks_reset();
	registry = registry_oldest = NULL;
	for (unsigned i = 0; i < MM_MAX_CPUS; i++)
		cpu_current[i] = NULL;
	tlb_flush_reset();
	return interrupt_register(VECTOR_TLB_SHOOTDOWN, tlb_shootdown_interrupt) &&
	       page_fault_init();
}

struct addr_space *mm_registry_first(void)
{
	return registry;
}

struct addr_space *as_current_on(unsigned cpu)
{
	return cpu < MM_MAX_CPUS ? cpu_current[cpu] : NULL;
}

/* A zeroed space with its per-CPU part: inline on a one-CPU machine, else a cache line or
 * more per CPU of its own. */
static struct addr_space *new_space(void)
{
	unsigned ncpus = plat_cpu_count();
	struct addr_space *as = kmalloc_aligned(sizeof(*as), alignof(struct addr_space));

	if (!as)
		return NULL;
	kmemset(as, 0, sizeof(*as));
	as->ncpus = ncpus < MM_MAX_CPUS ? ncpus : MM_MAX_CPUS;
	as->percpu = as->percpu_one;
	if (as->ncpus > 1) {
		as->percpu = kmalloc_aligned(as->ncpus * sizeof(*as->percpu),
					     alignof(struct as_percpu));
		if (!as->percpu) {
			kfree(as);
			return NULL;
		}
		kmemset(as->percpu, 0, as->ncpus * sizeof(*as->percpu));
	}
	return as;
}

static void free_space(struct addr_space *as)
{
	if (as->percpu != as->percpu_one)
		kfree(as->percpu);
	kfree(as);
}

void as_get(struct addr_space *as)
{
	atomic_fetch_add_explicit(&as->refs, 1, memory_order_relaxed);
}

void as_put(struct addr_space *as)
{
	uint64_t old = atomic_fetch_sub_explicit(&as->refs, 1, memory_order_acq_rel);

	KASSERT(old > 0, "addr_space: reference count underflow");
	if (old == 1) {
		KASSERT(as->dead, "addr_space: last reference of a live space dropped");
		free_space(as);
		/* the object's slab page goes back too, so an exit returns every frame (F5) */
		kheap_shrink();
	}
}

void addr_space_hold(struct addr_space *as)
{
	mm_registry_lock();
	as->holds++;
	as_get(as);
	mm_registry_unlock();
}

void addr_space_release(struct addr_space *as)
{
	mm_registry_lock();
	KASSERT(as->holds > 0, "addr_space_release without a hold");
	as->holds--;
	mm_registry_unlock();
	as_put(as);
}

bool addr_space_is_alive(struct addr_space *as)
{
	bool alive;

	/* being ended (exit or the OOM killer, oom.c O2): it never runs again, even while the
	 * other CPUs are still leaving it */
	if (atomic_load(&as->doomed))
		return false;
	/* `dead` is set once, under the lock held exclusively, with a release store: read
	 * without taking the lock shared, which would make the asking CPU one of the space's
	 * readers for good and end its faults' as_read_alone path */
	alive = !__atomic_load_n(&as->dead, __ATOMIC_ACQUIRE);
	return alive;
}

struct addr_space *addr_space_create(void)
{
	struct addr_space *as = new_space();

	if (!as)
		return NULL;
	if (!ug_init(&as->grants)) {
		free_space(as);
		return NULL;
	}
	if (kernel_space_new_user(&as->mapper) != MAP_OK) {
		ug_destroy(&as->grants);
		free_space(as);
		return NULL;
	}
	atomic_store(&as->refs, 1);
	as->mmap_min = MMAP_MIN_DEFAULT;
	atomic_store(&as->used_by, 0);
	atomic_store(&as->doomed, false);
	krw_init(&as->lock, &space_class, &as->percpu[0].reader, as->ncpus, sizeof(*as->percpu));
	mm_registry_lock();
	as->seq = ++created;
	as->family = as->seq; /* a family of its own until mm_fork says otherwise */
	as->next = registry;
	if (registry)
		registry->prev = as;
	else
		registry_oldest = as;
	registry = as;
	mm_registry_unlock();
	KTRACE("mm: address space created, pml4 %#llx", (unsigned long long)as->mapper.root.base);
	return as;
}

void addr_space_set_name(struct addr_space *as, const char *name)
{
	unsigned i = 0;

	for (; name[i] && i + 1 < AS_NAME_MAX; i++)
		as->name[i] = name[i];
	as->name[i] = 0;
}

const char *addr_space_name(const struct addr_space *as)
{
	return as->name[0] ? as->name : "?";
}

uint64_t addr_space_cr3(const struct addr_space *as)
{
	return as->mapper.root.base;
}

void addr_space_switch(struct addr_space *as)
{
	unsigned me = plat_cpu_id();
	struct addr_space *old;

	KASSERT(me < MM_MAX_CPUS, "addr_space_switch on cpu %u", me);
	if (as && atomic_load(&as->doomed))
		as = NULL; /* being killed (oom.c O2): it never runs again */
	old = cpu_current[me];
	if (old == as)
		return;
	if (as)
		atomic_fetch_or_explicit(&as->used_by, 1ull << me, memory_order_seq_cst);
	arch_write_cr3(as ? as->mapper.root.base : kernel_space_pml4().base);
	cpu_current[me] = as;
	if (old)
		atomic_fetch_and_explicit(&old->used_by, ~(1ull << me), memory_order_seq_cst);
}

void mm_local_invlpg(struct addr_space *as, uint64_t va)
{
	unsigned me = plat_cpu_id();

	if (me < MM_MAX_CPUS && cpu_current[me] == as)
		arch_invlpg(va);
}

bool as_range_pinned(const struct addr_space *as, uint64_t start, uint64_t end)
{
	const struct file_server *fs = &as->fserve;

	return fs->active && fs->pins > 0 && start < fs->base + fs->size && fs->base < end;
}

page_flags_t grant_leaf_flags(const struct grant *g)
{
	page_flags_t f = page_flags_from_prot(g->prot);

	if (f && g->kind == PROVIDER_PHYS_BORROWED)
		f |= PG_CACHE_DISABLE;
	return f;
}

static bool next_entry(const struct mapper *m, uint64_t va, uint64_t end, bool protnone,
		       uint64_t *found)
{
	while (va < end) {
		paddr_t table = m->root.base;
		unsigned lvl;

		for (lvl = PT_LEVEL_PML4; lvl >= PT_LEVEL_PT; lvl--) {
			pte_t e = __atomic_load_n(
				&((pte_t *)phys_to_virt(table))[pt_index(va, lvl)], __ATOMIC_ACQUIRE);

			if (!pte_present(e)) {
				uint64_t step = pt_level_size(lvl);

				if (protnone && pte_is_protnone(e, lvl)) {
					*found = va & ~PAGE_MASK;
					return true;
				}
				uint64_t next = (va & ~(step - 1)) + step;

				if (next <= va)
					return false;
				va = next;
				break;
			}
			if (pte_is_leaf(e, lvl)) {
				*found = va & ~(pt_level_size(lvl) - 1);
				return true;
			}
			table = pte_address(e, lvl);
		}
	}
	return false;
}

bool mm_next_leaf(const struct mapper *m, uint64_t va, uint64_t end, uint64_t *found)
{
	return next_entry(m, va, end, false, found);
}

bool mm_next_entry(const struct mapper *m, uint64_t va, uint64_t end, uint64_t *found)
{
	return next_entry(m, va, end, true, found);
}

bool mm_next_leaf_table(struct mapper *m, uint64_t *va, uint64_t end, pte_t **pt, uint64_t *stop)
{
	while (*va < end) {
		uint64_t next = 0;
		enum map_result r = mapper_leaf_table(m, *va, false, pt, &next);

		if (r == MAP_OK) {
			*stop = (*va | (pt_level_size(PT_LEVEL_PD) - 1)) + 1;
			if (*stop > end)
				*stop = end;
			return true;
		}
		KASSERT(r == MAP_NOT_MAPPED, "mm: tables of %#llx: %s", (unsigned long long)*va,
			map_result_name(r));
		if (next <= *va)
			return false; /* the hole reaches the top of the user half */
		*va = next;
	}
	return false;
}

/*
 * Unmap every present page and protnone entry of [start, end) (inside one grant or not), a
 * level-1 table at a time. An entry is emptied with a plain store, not an exchange (M7): the
 * A/D bits a processor may set meanwhile would be lost, and nothing needs them (this kernel
 * has no page cache and no swap, so it never reads the A or D bit of a page it unmaps); the
 * flusher's shootdown covers whatever a processor cached. Each table is pruned once (M6).
 */
static void unmap_pages(struct addr_space *as, uint64_t start, uint64_t end, struct flusher *fl)
{
	uint64_t next = start, stop;
	pte_t *pt;

	while (mm_next_leaf_table(&as->mapper, &next, end, &pt, &stop)) {
		bool emptied = false;
		uint64_t va = next; /* a register, not the slot whose address the walk took */

		for (; va < stop; va += PAGE_SIZE) {
			pte_t *slot = &pt[pt_index(va, PT_LEVEL_PT)];
			pte_t old = mapper_entry_load(slot);
			frame_t f;
			struct page_info *info;

			if (!old)
				continue;
			mapper_entry_store(slot, 0);
			emptied = true;
			if (pte_is_swap(old)) {
				/* its slot loses a holder; the table may still be released */
				swap_entry_removed(as, old);
				flusher_page(fl, va);
				continue;
			}
			/* a protnone entry was never cached, but its table may be released: the
			 * shootdown covers the paging-structure caches for va (M6) */
			flusher_page(fl, va);
			f = (frame_t){ pte_address(old, PT_LEVEL_PT) };
			info = get_page_info(f);
			if (info)
				flusher_free(fl, f, info);
		}
		if (emptied)
			mapper_prune_tables(&as->mapper, va - PAGE_SIZE, flusher_rel(fl));
		next = va;
	}
}

void mm_unmap_range(struct addr_space *as, uint64_t start, uint64_t end, struct flusher *fl)
{
	struct user_grants *ug = &as->grants;
	size_t i;

	if (as->fserve.active && start < as->fserve.base + as->fserve.size && as->fserve.base < end) {
		/* the served memory goes away: so does the file (later client faults fail) */
		KASSERT(as->fserve.pins == 0, "mm: unmapping a pinned served range");
		as->fserve.active = false;
	}
	ug_split_at(ug, start);
	ug_split_at(ug, end);
	i = ug_lower_bound(ug, start);
	while (i < ug->n && ug->g[i].start < end) {
		struct grant g = ug->g[i];

		unmap_pages(as, g.start, grant_end(&g), fl);
		ug_remove_at(ug, i);
		if (g.kind == PROVIDER_FMAP_BORROWED)
			flusher_notify(fl, g.src); /* drops the pin and the reference after the flush */
		else if (g.kind == PROVIDER_EXTERNAL)
			as_put(g.src);
	}
}

/* Frames an exit dropped the last reference of, freed a batch at a time (deallocate_frames
 * gives runs of consecutive frames back as whole blocks). */
struct dead_frames {
	unsigned n;
	frame_t f[64];
};

/* A present leaf or a protnone entry (M8): either holds one reference of its frame. */
static void destroy_leaf(void *ctx, uint64_t va, pte_t entry, unsigned level)
{
	struct dead_frames *dead = ctx;
	frame_t f = { pte_address(entry, level) };
	struct page_info *info = get_page_info(f);

	KASSERT(level == PT_LEVEL_PT, "mm: a huge user page at %#llx", (unsigned long long)va);
	if (!info || remove_ref(info).kind != REFCOUNT_U0)
		return;
	swap_cache_frame_freed(f);
	if (dead->n == sizeof(dead->f) / sizeof(dead->f[0])) {
		deallocate_frames(dead->f, dead->n);
		dead->n = 0;
	}
	dead->f[dead->n++] = f;
}

void addr_space_destroy(struct addr_space *as)
{
	struct user_grants *ug = &as->grants;
	struct dead_frames dead = { 0 };

	as_lock_write(as);
	KASSERT(!as->dead, "addr_space_destroy twice");
	KASSERT(atomic_load(&as->used_by) == 0,
		"addr_space_destroy of a space still loaded on cpus %#llx",
		(unsigned long long)atomic_load(&as->used_by));
	/* no processor can walk these tables any more: free them with the frames at once */
	swap_release_space(as);
	replace_forget(as);
	mapper_destroy_user(&as->mapper, destroy_leaf, &dead);
	deallocate_frames(dead.f, dead.n);
	for (size_t i = 0; i < ug->n; i++) {
		struct grant *g = &ug->g[i];

		if (g->kind == PROVIDER_FMAP_BORROWED) {
			atomic_fetch_sub(&g->src->fserve.pins, 1);
			atomic_fetch_add(&g->src->fserve.notified, 1);
		}
		if (g->kind == PROVIDER_EXTERNAL || g->kind == PROVIDER_FMAP_BORROWED)
			as_put(g->src);
	}
	ug_destroy(ug);
	as->fserve.active = false;
	__atomic_store_n(&as->dead, true, __ATOMIC_RELEASE); /* addr_space_is_alive reads it unlocked */
	as_unlock_write(as);
	mm_registry_lock();
	if (as->prev)
		as->prev->next = as->next;
	else
		registry = as->next;
	if (as->next)
		as->next->prev = as->prev;
	else
		registry_oldest = as->prev;
	as->prev = as->next = NULL;
	mm_registry_unlock();
	KTRACE("mm: address space %s destroyed", addr_space_name(as));
	as_put(as);
	/* the heap pages that held this space's objects go back too: an exit returns every
	 * frame the process alone used (F5), visible in free_frames */
	kheap_shrink();
}
