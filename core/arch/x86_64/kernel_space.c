/*
 * The kernel half of the address space and the KernelMapper (invariants K1..K4 in
 * kernel_space.h).
 */
#include "arch/x86_64/kernel_space.h"

#include <stdatomic.h>

#include "arch/x86_64/cpu_ops.h"
#include "boot_memory.h"
#include "frame_alloc.h"
#include "klock.h"
#include "platform.h"

#define KTRACE_KIND TRACE_BOOT

#define GiB (1ull << 30)
#define MiB2 (2ull << 20)

#define DIRECT_FLAGS (PG_PRESENT | PG_WRITABLE | PG_NO_EXEC | PG_GLOBAL)
#define DEVICE_FLAGS (DIRECT_FLAGS | PG_CACHE_DISABLE)
#define IMAGE_FLAGS (PG_PRESENT | PG_GLOBAL)

static struct mapper kmapper;
static bool kspace_ready;
/* sleeping class: tables are allocated under it */
static struct lock_class kmap_class = LOCK_CLASS_INIT("kernel mapper", LOCK_SLEEP);
static struct kspin kmap_lock;
static bool kmap_lock_ready;
static atomic_int kmap_owner = -1;

/*
 * Map [pa, pa + len) at va with the largest pages the alignment of both and the length allow
 * (1 GiB only if the CPU has them). All three are page aligned.
 */
static enum map_result map_range_largest(uint64_t va, paddr_t pa, uint64_t len,
					 page_flags_t flags)
{
	bool have_1g = paging_caps_get().page_1g;

	while (len) {
		enum map_result r;
		uint64_t step;

		if (have_1g && !((va | pa) & (GiB - 1)) && len >= GiB) {
			step = GiB;
			r = mapper_map_huge(&kmapper, va, (frame_t){ pa }, flags, PT_LEVEL_PDPT);
		} else if (!((va | pa) & (MiB2 - 1)) && len >= MiB2) {
			step = MiB2;
			r = mapper_map_huge(&kmapper, va, (frame_t){ pa }, flags, PT_LEVEL_PD);
		} else {
			step = PAGE_SIZE;
			r = mapper_map(&kmapper, va, (frame_t){ pa }, flags);
		}
		if (r != MAP_OK)
			return r;
		va += step;
		pa += step;
		len -= step;
	}
	return MAP_OK;
}

static bool kind_in_direct_map(enum bootloader_memory_kind k)
{
	switch (k) {
	case BOOT_MEMORY_FREE:
	case BOOT_MEMORY_RECLAIM:
	case BOOT_MEMORY_RESERVED:
	case BOOT_MEMORY_KERNEL:
	case BOOT_MEMORY_DEVICE:
	case BOOT_MEMORY_IDENTITY_MAP:
		return true;
	case BOOT_MEMORY_NULL:
		break;
	}
	return false;
}

/* Every start and end of a direct-mapped entry, sorted and unique. */
static paddr_t bounds[2 * BOOT_MEMORY_MAP_CAPACITY];

static size_t collect_bounds(void)
{
	struct boot_memory_entry e;
	size_t n = 0;

	for (size_t i = 0; boot_memory_map_entry(i, &e); i++) {
		if (!kind_in_direct_map(e.kind))
			continue;
		bounds[n++] = e.base;
		bounds[n++] = e.base + e.size;
	}
	/* insertion sort: at most 1024 values, once at boot */
	for (size_t i = 1; i < n; i++) {
		paddr_t v = bounds[i];
		size_t j = i;

		while (j && bounds[j - 1] > v) {
			bounds[j] = bounds[j - 1];
			j--;
		}
		bounds[j] = v;
	}
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || bounds[u - 1] != bounds[i])
			bounds[u++] = bounds[i];
	return u;
}

/* Attributes of the elementary interval [s, e): 0 not mapped, 1 RAM-like, 2 device. */
static int interval_attr(paddr_t s, paddr_t e)
{
	struct boot_memory_entry ent;
	int attr = 0;

	for (size_t i = 0; boot_memory_map_entry(i, &ent); i++) {
		if (!kind_in_direct_map(ent.kind) || ent.base >= e || ent.base + ent.size <= s)
			continue;
		if (ent.kind == BOOT_MEMORY_DEVICE)
			return 2;
		attr = 1;
	}
	return attr;
}

static enum map_result build_direct_map(void)
{
	size_t n = collect_bounds();
	paddr_t run_start = 0;
	int run_attr = 0;

	if (n && bounds[n - 1] > DIRECT_MAP_SIZE)
		return MAP_EINVAL;
	/* Merge consecutive intervals of equal attributes into runs, map each run. */
	for (size_t i = 0; i + 1 <= n; i++) {
		int attr = i + 1 < n ? interval_attr(bounds[i], bounds[i + 1]) : 0;

		if (attr == run_attr)
			continue;
		if (run_attr) {
			enum map_result r = map_range_largest(direct_map_va(run_start), run_start,
							      bounds[i] - run_start,
							      run_attr == 2 ? DEVICE_FLAGS : DIRECT_FLAGS);
			if (r != MAP_OK)
				return r;
		}
		run_start = bounds[i];
		run_attr = attr;
	}
	return MAP_OK;
}

static enum map_result map_kernel_image(void)
{
	struct boot_memory_entry e;
	paddr_t image_base = ~(paddr_t)0;

	for (size_t i = 0; boot_memory_map_entry(i, &e); i++)
		if (e.kind == BOOT_MEMORY_KERNEL && e.base < image_base)
			image_base = e.base;
	for (size_t i = 0; boot_memory_map_entry(i, &e); i++) {
		enum map_result r;

		if (e.kind != BOOT_MEMORY_KERNEL)
			continue;
		if (e.base + e.size - image_base > KERNEL_IMAGE_MAX)
			return MAP_EINVAL;
		r = map_range_largest(KERNEL_OFFSET + (e.base - image_base), e.base, e.size,
				      IMAGE_FLAGS);
		if (r != MAP_OK)
			return r;
	}
	return MAP_OK;
}

enum map_result kernel_space_init(void)
{
	enum map_result r;
	pte_t *pml4;

	if (!kmap_lock_ready) {
		kspin_init(&kmap_lock, &kmap_class);
		kmap_lock_ready = true;
	}
	atomic_store(&kmap_owner, -1);
	kspace_ready = false;
	r = mapper_new(&kmapper, MAPPER_KERNEL);
	if (r != MAP_OK)
		return r;
	/* K1: every upper PDPT now, so user PML4s can share the entries forever. */
	pml4 = (pte_t *)phys_to_virt(kmapper.root.base);
	for (unsigned i = PML4_KERNEL_FIRST_SLOT; i < PT_ENTRIES; i++) {
		frame_t pdpt = allocate_p2frame_complex(0, FRAME_ZERO, FRAME_STRATEGY_FAST, 0, NULL);

		if (frame_is_none(pdpt))
			return MAP_ENOMEM;
		pml4[i] = pte_make_table(pdpt.base, PG_PRESENT | PG_WRITABLE, PT_LEVEL_PML4);
		kmapper.table_frames++;
	}
	r = build_direct_map();
	if (r == MAP_OK)
		r = map_kernel_image();
	if (r != MAP_OK)
		return r;
	kspace_ready = true;
	KTRACE("kernel space: PML4 0x%llx, %llu table frames",
	       (unsigned long long)kmapper.root.base, (unsigned long long)kmapper.table_frames);
	return MAP_OK;
}

frame_t kernel_space_pml4(void)
{
	KASSERT(kspace_ready, "kernel space not initialised");
	return kmapper.root;
}

void kernel_space_clone_upper(frame_t pml4)
{
	const pte_t *src = (const pte_t *)phys_to_virt(kernel_space_pml4().base);
	pte_t *dst = (pte_t *)phys_to_virt(pml4.base);

	for (unsigned i = PML4_KERNEL_FIRST_SLOT; i < PT_ENTRIES; i++) {
		KASSERT(pte_present(src[i]), "kernel PML4 slot %u not present", i);
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
	}
}

enum map_result kernel_space_new_user(struct mapper *m)
{
	enum map_result r = mapper_new(m, MAPPER_USER);

	if (r == MAP_OK)
		kernel_space_clone_upper(m->root);
	return r;
}

bool kernel_mapper_held_by_this_cpu(void)
{
	return atomic_load(&kmap_owner) == (int)plat_cpu_id();
}

void kernel_mapper_lock(void)
{
	KASSERT(kmap_lock_ready, "KernelMapper used before kernel_space_init");
	KASSERT(!kernel_mapper_held_by_this_cpu(),
		"KernelMapper re-entered on cpu %u (it is not re-entrant)", plat_cpu_id());
	kspin_lock(&kmap_lock);
	atomic_store(&kmap_owner, (int)plat_cpu_id());
}

void kernel_mapper_unlock(void)
{
	KASSERT(kernel_mapper_held_by_this_cpu(), "KernelMapper unlocked by cpu %u, not its owner",
		plat_cpu_id());
	atomic_store(&kmap_owner, -1);
	kspin_unlock(&kmap_lock);
}

struct mapper *kernel_mapper(void)
{
	KASSERT(kernel_mapper_held_by_this_cpu(), "kernel_mapper() without the KernelMapper lock");
	return &kmapper;
}

static bool in_direct_map(uint64_t va)
{
	return va >= PHYS_OFFSET && va - PHYS_OFFSET < DIRECT_MAP_SIZE;
}

enum map_result kernel_map_page(uint64_t va, frame_t frame, page_flags_t flags)
{
	struct mapper *m = kernel_mapper();

	if (in_direct_map(va))
		return MAP_EINVAL;
	return mapper_map(m, va, frame, flags);
}

enum map_result kernel_unmap_page(uint64_t va, struct mapped_leaf *out)
{
	struct mapper *m = kernel_mapper();
	enum map_result r;

	if (in_direct_map(va))
		return MAP_EINVAL;
	r = mapper_unmap(m, va, out, NULL, NULL);
	if (r == MAP_OK)
		arch_invlpg(va);
	return r;
}

enum map_result kernel_remap_page(uint64_t va, page_flags_t flags)
{
	struct mapper *m = kernel_mapper();
	enum map_result r;

	if (in_direct_map(va))
		return MAP_EINVAL;
	r = mapper_remap(m, va, flags, NULL);
	if (r == MAP_OK)
		arch_invlpg(va);
	return r;
}

/* Pass 1: is every mapped page of [start, end) a cache-disabled direct-map page? */
static bool device_range_compatible(paddr_t start, paddr_t end)
{
	paddr_t cur = start;

	while (cur < end) {
		struct translation t;

		if (mapper_translate(&kmapper, direct_map_va(cur), &t) != MAP_OK) {
			cur += PAGE_SIZE;
			continue;
		}
		if (!(t.leaf.flags & PG_CACHE_DISABLE) || t.pa != cur)
			return false;
		cur = t.leaf.frame.base + pt_level_size(t.leaf.level);
	}
	return true;
}

/* Pass 2: map the holes, largest pages first. */
static enum map_result device_range_fill(paddr_t start, paddr_t end)
{
	paddr_t cur = start;
	bool have_1g = paging_caps_get().page_1g;

	while (cur < end) {
		struct translation t;
		enum map_result r = MAP_EXISTS;
		uint64_t step = PAGE_SIZE;

		if (mapper_translate(&kmapper, direct_map_va(cur), &t) == MAP_OK) {
			cur = t.leaf.frame.base + pt_level_size(t.leaf.level);
			continue;
		}
		if (have_1g && !(cur & (GiB - 1)) && end - cur >= GiB) {
			step = GiB;
			r = mapper_map_huge(&kmapper, direct_map_va(cur), (frame_t){ cur },
					    DEVICE_FLAGS, PT_LEVEL_PDPT);
		}
		if (r == MAP_EXISTS && !(cur & (MiB2 - 1)) && end - cur >= MiB2) {
			step = MiB2;
			r = mapper_map_huge(&kmapper, direct_map_va(cur), (frame_t){ cur },
					    DEVICE_FLAGS, PT_LEVEL_PD);
		}
		if (r == MAP_EXISTS) {
			step = PAGE_SIZE;
			r = mapper_map(&kmapper, direct_map_va(cur), (frame_t){ cur }, DEVICE_FLAGS);
		}
		if (r != MAP_OK)
			return r;
		cur += step;
	}
	return MAP_OK;
}

enum map_result map_device_memory(paddr_t pa, uint64_t len, uint64_t *va)
{
	paddr_t start = pa & ~PAGE_MASK, end;
	enum map_result r;

	if (len == 0 || pa + len < pa || pa + len > DIRECT_MAP_SIZE)
		return MAP_EINVAL;
	end = (pa + len + PAGE_MASK) & ~PAGE_MASK;
	kernel_mapper_lock();
	r = device_range_compatible(start, end) ? device_range_fill(start, end) : MAP_EXISTS;
	kernel_mapper_unlock();
	if (r == MAP_OK)
		*va = direct_map_va(pa);
	return r;
}
