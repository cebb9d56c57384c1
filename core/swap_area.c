/*
 * The swap area's slot map and swap cache (swap_area.h). The maps come from the kernel heap
 * when the device is attached at boot, so evicting a page never needs a frame: reclaim runs
 * when frames are short, and takes none (the device's storage is the host's, outside the
 * machine's physical memory, like a disk).
 *
 * Invariants kept here (checked by swap_audit, reclaim.c):
 * - W5 used == the number of slots with a non-zero count;
 * - W6 a slot paired with a frame has count >= 1 (the pair's own), and the frame's index
 *   names that slot back; cached == the number of pairs.
 */
#include "frame_alloc.h"
#include "kstring.h"
#include "page_info.h"
#include "klock.h"
#include "platform.h"
#include "swap_area.h"

uint64_t swap_cache_pairs;

struct swap_state {
	bool attached;
	struct kspin lock; /* spin: slot counts and pairs; nothing allocated under it */
	struct swap_device dev;
	uint32_t *count;    /* per slot */
	paddr_t *cached;    /* per slot: the paired frame's base + 1, 0 when none */
	uint32_t *slot_of;  /* per frame of the dense run: paired slot + 1, 0 when none */
	uint64_t first_pfn, nframes;
	uint64_t used, next;
	struct swap_stats st;
};
static struct swap_state sw;
static struct lock_class swap_lock_class = LOCK_CLASS_INIT("swap area", LOCK_SPIN);

/* The maps come straight from the buddy allocator, zeroed: blocks the size of the map (the
 * heap would grow by much more for an object this large). */
static void *map_alloc(uint64_t bytes)
{
	unsigned order = 0;
	frame_t f;

	while (((uint64_t)PAGE_SIZE << order) < bytes)
		order++;
	f = allocate_p2frame(order);
	if (frame_is_none(f))
		return NULL;
	kmemset(phys_to_virt(f.base), 0, (size_t)PAGE_SIZE << order);
	return phys_to_virt(f.base);
}

void swap_area_reset(void)
{
	/* the maps are frames of the boot that made them: a new boot forgets them with the
	 * frame allocator's state */
	sw = (struct swap_state){ 0 };
	swap_cache_pairs = 0;
}

bool swap_area_attach(const struct swap_device *dev)
{
	swap_area_reset();
	if (!dev || !dev->slots)
		return true;
	if (dev->slots > (uint64_t)UINT32_MAX)
		return false;
	sw.first_pfn = frame_dense_first_pfn;
	sw.nframes = frame_dense_frames;
	/* kept for the life of the boot, like the frame allocator's own metadata */
	sw.count = map_alloc(dev->slots * sizeof(*sw.count));
	sw.cached = map_alloc(dev->slots * sizeof(*sw.cached));
	sw.slot_of = map_alloc((sw.nframes ? sw.nframes : 1) * sizeof(*sw.slot_of));
	if (!sw.count || !sw.cached || !sw.slot_of) {
		sw = (struct swap_state){ 0 };
		return false;
	}
	sw.dev = *dev;
	sw.st.slots = dev->slots;
	kspin_init(&sw.lock, &swap_lock_class);
	sw.attached = true;
	return true;
}

bool swap_configured(void)
{
	return sw.attached;
}

void swap_get_stats(struct swap_stats *out)
{
	if (!sw.attached) {
		*out = (struct swap_stats){ 0 };
		return;
	}
	kspin_lock(&sw.lock);
	out->slots = sw.st.slots;
	out->writes = __atomic_load_n(&sw.st.writes, __ATOMIC_RELAXED);
	out->reads = __atomic_load_n(&sw.st.reads, __ATOMIC_RELAXED);
	out->dropped_clean = __atomic_load_n(&sw.st.dropped_clean, __ATOMIC_RELAXED);
	out->reclaimed = __atomic_load_n(&sw.st.reclaimed, __ATOMIC_RELAXED);
	out->used = sw.used;
	out->cached = swap_cache_pairs;
	kspin_unlock(&sw.lock);
}

static void check_slot(uint64_t slot)
{
	KASSERT(sw.attached && slot < sw.dev.slots, "swap: slot %llu out of range",
		(unsigned long long)slot);
}

bool swap_slot_alloc(uint64_t *slot)
{
	bool ok = false;

	if (!sw.attached)
		return false;
	kspin_lock(&sw.lock);
	if (sw.used < sw.dev.slots) {
		/* next fit: consecutive evictions get consecutive slots, as a disk prefers */
		uint64_t s = sw.next;

		while (sw.count[s])
			s = s + 1 == sw.dev.slots ? 0 : s + 1;
		/* count 0 but taken: the caller installs the holders before dropping the lock
		 * it holds; mark it with the pair-less count 1 until then (swap_slot_dup adds) */
		sw.count[s] = 1;
		sw.used++;
		sw.next = s + 1 == sw.dev.slots ? 0 : s + 1;
		*slot = s;
		ok = true;
	}
	kspin_unlock(&sw.lock);
	return ok;
}

static void slot_free_locked(uint64_t slot)
{
	sw.used--;
	if (sw.cached[slot]) {
		/* cannot happen: the pair holds a count */
		plat_panic("swap: slot %llu freed while paired", (unsigned long long)slot);
	}
}

void swap_slot_dup(uint64_t slot)
{
	check_slot(slot);
	kspin_lock(&sw.lock);
	KASSERT(sw.count[slot] && sw.count[slot] < UINT32_MAX, "swap: dup of slot %llu (count %u)",
		(unsigned long long)slot, sw.count[slot]);
	sw.count[slot]++;
	kspin_unlock(&sw.lock);
}

void swap_slot_put(uint64_t slot)
{
	check_slot(slot);
	kspin_lock(&sw.lock);
	KASSERT(sw.count[slot], "swap: put of free slot %llu", (unsigned long long)slot);
	if (--sw.count[slot] == 0)
		slot_free_locked(slot);
	kspin_unlock(&sw.lock);
}

void swap_slot_unused(uint64_t slot)
{
	swap_slot_put(slot); /* the allocation's provisional count */
}

uint64_t swap_slot_count(uint64_t slot)
{
	uint64_t c;

	check_slot(slot);
	kspin_lock(&sw.lock);
	c = sw.count[slot];
	kspin_unlock(&sw.lock);
	return c;
}

static bool frame_index(frame_t f, uint64_t *i)
{
	uint64_t k = (f.base >> PAGE_SHIFT) - sw.first_pfn;

	if (!sw.attached || k >= sw.nframes)
		return false;
	*i = k;
	return true;
}

frame_t swap_cache_lookup(uint64_t slot)
{
	paddr_t c;

	check_slot(slot);
	kspin_lock(&sw.lock);
	c = sw.cached[slot];
	kspin_unlock(&sw.lock);
	return c ? (frame_t){ c - 1 } : FRAME_NONE;
}

bool swap_cache_has_slot(uint64_t slot)
{
	check_slot(slot);
	return __atomic_load_n(&sw.cached[slot], __ATOMIC_RELAXED) != 0;
}

bool swap_cache_slot_of(frame_t f, uint64_t *slot)
{
	uint64_t i;
	uint32_t s;

	if (!frame_index(f, &i))
		return false;
	s = __atomic_load_n(&sw.slot_of[i], __ATOMIC_ACQUIRE);
	if (!s)
		return false;
	*slot = s - 1;
	return true;
}

enum swap_pair swap_cache_add(uint64_t slot, frame_t f)
{
	uint64_t i;

	check_slot(slot);
	if (!frame_index(f, &i))
		return SWAP_PAIR_UNINDEXED;
	kspin_lock(&sw.lock);
	KASSERT(!sw.slot_of[i] && sw.count[slot], "swap: pairing frame %#llx twice",
		(unsigned long long)f.base);
	if (sw.cached[slot]) {
		kspin_unlock(&sw.lock);
		return SWAP_PAIR_TAKEN;
	}
	sw.count[slot]++;
	__atomic_store_n(&sw.cached[slot], f.base + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sw.slot_of[i], (uint32_t)(slot + 1), __ATOMIC_RELEASE);
	__atomic_fetch_add(&swap_cache_pairs, 1, __ATOMIC_RELAXED);
	kspin_unlock(&sw.lock);
	return SWAP_PAIRED;
}

void swap_cache_forget(frame_t f)
{
	uint64_t i, slot;

	if (!frame_index(f, &i))
		return;
	kspin_lock(&sw.lock);
	if (sw.slot_of[i]) {
		slot = sw.slot_of[i] - 1;
		KASSERT(sw.cached[slot] == f.base + 1, "swap: cache pair of frame %#llx broken",
			(unsigned long long)f.base);
		__atomic_store_n(&sw.cached[slot], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&sw.slot_of[i], 0, __ATOMIC_RELEASE);
		__atomic_fetch_sub(&swap_cache_pairs, 1, __ATOMIC_RELAXED);
		if (--sw.count[slot] == 0)
			slot_free_locked(slot);
	}
	kspin_unlock(&sw.lock);
}

unsigned swap_slots_for_eviction(struct swap_evict_slot *v, unsigned n)
{
	unsigned done = 0, unpaired = 0;

	if (!sw.attached)
		return 0;
	kspin_lock(&sw.lock);
	for (; done < n; done++) {
		uint64_t i;
		uint32_t paired;

		if (frame_index(v[done].f, &i) && (paired = sw.slot_of[i]) != 0) {
			/* clean: the slot already holds the contents; the pair's count becomes the
			 * swap entry's */
			v[done].slot = paired - 1;
			v[done].clean = true;
			__atomic_store_n(&sw.cached[paired - 1], 0, __ATOMIC_RELAXED);
			__atomic_store_n(&sw.slot_of[i], 0, __ATOMIC_RELEASE);
			unpaired++;
			continue;
		}
		if (sw.used == sw.dev.slots)
			break;
		/* next fit: consecutive evictions get consecutive slots, as a disk prefers */
		uint64_t s = sw.next;

		while (sw.count[s])
			s = s + 1 == sw.dev.slots ? 0 : s + 1;
		sw.count[s] = 1; /* the swap entry about to name it */
		sw.used++;
		sw.next = s + 1 == sw.dev.slots ? 0 : s + 1;
		v[done].slot = s;
		v[done].clean = false;
	}
	if (unpaired)
		__atomic_fetch_sub(&swap_cache_pairs, unpaired, __ATOMIC_RELAXED);
	kspin_unlock(&sw.lock);
	return done;
}

/* The device is called with no lock held: a write or read of one slot needs no exclusion
 * (a slot being written is named only by entries nobody can fault on yet, and a slot being
 * read keeps the count of the entry that reads it), and a file's pwrite may block. */
bool swap_write_page(uint64_t slot, frame_t f)
{
	check_slot(slot);
	__atomic_fetch_add(&sw.st.writes, 1, __ATOMIC_RELAXED);
	return sw.dev.write(sw.dev.ctx, slot, phys_to_virt(f.base));
}

bool swap_read_page(uint64_t slot, frame_t f)
{
	check_slot(slot);
	__atomic_fetch_add(&sw.st.reads, 1, __ATOMIC_RELAXED);
	return sw.dev.read(sw.dev.ctx, slot, phys_to_virt(f.base));
}

void swap_note_clean_drops(uint64_t n)
{
	__atomic_fetch_add(&sw.st.dropped_clean, n, __ATOMIC_RELAXED);
}

void swap_note_reclaimed(uint64_t n)
{
	__atomic_fetch_add(&sw.st.reclaimed, n, __ATOMIC_RELAXED);
}

void swap_for_each_used(void (*fn)(void *ctx, uint64_t slot, uint64_t count, frame_t cached),
			void *ctx)
{
	if (!sw.attached)
		return;
	for (uint64_t s = 0; s < sw.dev.slots; s++) {
		uint64_t c;
		paddr_t p;

		kspin_lock(&sw.lock);
		c = sw.count[s];
		p = sw.cached[s];
		kspin_unlock(&sw.lock);
		if (c)
			fn(ctx, s, c, p ? (frame_t){ p - 1 } : FRAME_NONE);
	}
}
