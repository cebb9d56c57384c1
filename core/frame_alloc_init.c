/*
 * Initialisation of the frame allocator: the section table and page-info arrays carved from
 * the boot areas (see frame_section.h for their layout and invariants), the dense run, every
 * record's first state, and the free RAM pushed on the buddy lists.
 */
#include "frame_cpu_cache.h"
#include "kstring.h"

#define KTRACE_KIND TRACE_FRAME

paddr_t frame_section_table_pa;
uint64_t frame_section_window_count;
uint64_t frame_dense_first_pfn;
uint64_t frame_dense_frames;
struct page_info *frame_dense_infos;

#define ST frame_alloc_state

#define SECTION_BYTES (1ULL << FRAME_SECTION_SHIFT)

/* Calls visit(window, first_frame_offset, last_frame_offset_exclusive) for every window in
 * ascending order with the span of managed frames it contains. */
struct span_walk {
	uint64_t window;
	uint64_t first, end; /* frame offsets inside the window */
	bool open;
};

static void span_flush(struct span_walk *w, uint64_t *spans_total, struct frame_section *table,
		       paddr_t *next_infos)
{
	if (!w->open)
		return;
	uint64_t count = w->end - w->first;
	*spans_total += count;
	if (table) {
		table[w->window].first = (uint32_t)w->first;
		table[w->window].count = (uint32_t)count;
		table[w->window].infos_pa = *next_infos;
		*next_infos += count * sizeof(struct page_info);
	}
	w->open = false;
}

/* Walk the areas window by window; returns the total frames covered by all section spans. */
static uint64_t walk_sections(const struct boot_area *areas, size_t n, struct frame_section *table,
			      paddr_t infos_pa)
{
	struct span_walk w = { 0, 0, 0, false };
	uint64_t spans = 0;

	for (size_t i = 0; i < n; i++) {
		paddr_t s = areas[i].base, e = areas[i].base + areas[i].size;
		while (s < e) {
			uint64_t win = s >> FRAME_SECTION_SHIFT;
			paddr_t win_end = (win + 1) * SECTION_BYTES;
			paddr_t piece_end = e < win_end ? e : win_end;
			if (w.open && w.window != win)
				span_flush(&w, &spans, table, &infos_pa);
			if (!w.open) {
				w.window = win;
				w.first = (s - win * SECTION_BYTES) >> PAGE_SHIFT;
				w.open = true;
			}
			w.end = (piece_end - win * SECTION_BYTES) >> PAGE_SHIFT;
			s = piece_end;
		}
	}
	span_flush(&w, &spans, table, &infos_pa);
	return spans;
}

/* The longest run of windows whose frames and records are both consecutive. */
static void find_dense_run(const struct frame_section *table, uint64_t windows)
{
	uint64_t best_first = 0, best_n = 0, cur_first = 0, cur_n = 0;
	paddr_t best_pa = 0, cur_pa = 0, next_pa = 0;

	for (uint64_t w = 0; w < windows; w++) {
		const struct frame_section *t = &table[w];
		uint64_t first_pfn = (w << (FRAME_SECTION_SHIFT - PAGE_SHIFT)) + t->first;
		if (!t->count) {
			cur_n = 0;
			continue;
		}
		if (!cur_n || first_pfn != cur_first + cur_n || t->infos_pa != next_pa) {
			cur_first = first_pfn;
			cur_pa = t->infos_pa;
			cur_n = 0;
		}
		cur_n += t->count;
		next_pa = t->infos_pa + t->count * sizeof(struct page_info);
		if (cur_n > best_n) {
			best_first = cur_first;
			best_n = cur_n;
			best_pa = cur_pa;
		}
		/* a window that stops short of its end breaks the run */
		if (t->first + t->count != FRAME_SECTION_FRAMES)
			cur_n = 0;
	}
	frame_dense_first_pfn = best_first;
	frame_dense_frames = best_n;
	frame_dense_infos = (struct page_info *)phys_to_virt(best_pa);
}

static void set_records(paddr_t s, paddr_t e, uint32_t meta)
{
	for (paddr_t p = s; p < e; p += PAGE_SIZE)
		rec_set(rec(p), 0, meta);
}

/* Push the maximal aligned blocks of [s, e) from the top down, so lists end up ascending. */
static void free_run(paddr_t s, paddr_t e)
{
	while (e > s) {
		unsigned o = (unsigned)__builtin_ctzll(e >> PAGE_SHIFT);
		uint64_t len = (e - s) >> PAGE_SHIFT;
		if (o > FRAME_MAX_ORDER)
			o = FRAME_MAX_ORDER;
		while ((1ULL << o) > len)
			o--;
		e -= PAGE_SIZE << o;
		list_push(o, e, rec(e));
		buddy_free_add((int64_t)(1ULL << o));
	}
}

enum frame_init_error frame_alloc_init(const struct boot_area *areas, size_t n)
{
	if (!n)
		return FRAME_INIT_NO_AREAS;
	if (plat_cpu_count() > FRAME_MAX_CPUS)
		return FRAME_INIT_TOO_MANY_CPUS;
	for (size_t i = 0; i < n; i++) {
		paddr_t b = areas[i].base, sz = areas[i].size;
		if ((b | sz) & PAGE_MASK || !sz || b + sz < b || b + sz > FRAME_LINK_LIMIT || b == 0 ||
		    (i && b < areas[i - 1].base + areas[i - 1].size))
			return FRAME_INIT_BAD_AREAS;
	}

	paddr_t max_end = areas[n - 1].base + areas[n - 1].size;
	uint64_t windows = (max_end + SECTION_BYTES - 1) >> FRAME_SECTION_SHIFT;
	uint64_t spans = walk_sections(areas, n, NULL, 0);
	uint64_t meta_bytes = windows * sizeof(struct frame_section) + spans * sizeof(struct page_info);
	uint64_t meta_frames = (meta_bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	size_t home = n;
	for (size_t i = 0; i < n; i++)
		if (areas[i].size >> PAGE_SHIFT >= meta_frames) {
			home = i;
			break;
		}
	if (home == n)
		return FRAME_INIT_NO_ROOM_FOR_METADATA;

	if (!ST.locks_ready) {
		static struct lock_class buddy_class = LOCK_CLASS_INIT("frame allocator", LOCK_SPIN);
		static struct lock_class drain_class =
			LOCK_CLASS_INIT("frame cache drain", LOCK_SLEEP);

		kspin_init(&ST.lock, &buddy_class);
		kspin_init(&ST.drain_lock, &drain_class);
		ST.locks_ready = true;
	}
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++)
		ST.heads[k] = 0;
	ST.nonempty = 0;
	atomic_store_explicit(&ST.buddy_free, 0, memory_order_relaxed);
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++) {
		for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
			/* an empty stack above its sentinel */
			frame_cpu_caches[i].slot[FRAME_CACHE_STACK_BASE(k) - 1] = FRAME_CACHE_SENTINEL;
			cache_set_count(&frame_cpu_caches[i], k, 0);
		}
		atomic_store_explicit(&frame_cpu_caches[i].busy, 0, memory_order_relaxed);
		atomic_store_explicit(&frame_cpu_caches[i].stop, stop_word(plat_trace_on || plat_frame_events),
				      memory_order_relaxed);
	}

	/* Section table first, the page-info arrays right after it. */
	paddr_t meta_base = areas[home].base;
	struct frame_section *table = (struct frame_section *)phys_to_virt(meta_base);
	kmemset(table, 0, (size_t)(windows * sizeof(struct frame_section)));
	walk_sections(areas, n, table, meta_base + windows * sizeof(struct frame_section));
	frame_section_table_pa = meta_base;
	frame_section_window_count = windows;
	find_dense_run(table, windows);

	/* Every described frame starts ABSENT; the RAM of the areas becomes INTERIOR, the
	 * metadata METADATA, and the rest is pushed as free blocks. */
	for (uint64_t w = 0; w < windows; w++) {
		struct page_info *r = (struct page_info *)phys_to_virt(table[w].infos_pa);
		for (uint32_t i = 0; i < table[w].count; i++)
			rec_set(&r[i], 0, PAGE_META(PAGE_STATE_ABSENT, 0));
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		set_records(areas[i].base, areas[i].base + areas[i].size, 0);
		total += areas[i].size >> PAGE_SHIFT;
	}
	paddr_t meta_end = meta_base + (meta_frames << PAGE_SHIFT);
	set_records(meta_base, meta_end, PAGE_META(PAGE_STATE_METADATA, 0));
	for (size_t i = n; i-- > 0;) {
		paddr_t s = i == home ? meta_end : areas[i].base;
		free_run(s, areas[i].base + areas[i].size);
	}

	page_info_boot_reset();
	ST.total = total;
	/* a CPU cache holds at most 1/FRAME_CPU_CACHE_HI_SHARE of the frames in each order */
	for (unsigned k = 1; k < FRAME_CACHED_ORDERS; k++) {
		uint64_t blocks = (total / FRAME_CPU_CACHE_HI_SHARE) >> k;
		cache_set_cap(k, blocks < FRAME_CPU_CACHE_HI_CAPACITY ? (uint32_t)blocks
								     : FRAME_CPU_CACHE_HI_CAPACITY);
	}
	cache_set_cap(FRAME_MAX_ORDER, 0);
	/* order 0: the same share, within its bounds */
	uint64_t cap = total / FRAME_CPU_CACHE_HI_SHARE;
	cap = cap < FRAME_CPU_CACHE_MIN_CAPACITY ? FRAME_CPU_CACHE_MIN_CAPACITY
		: cap > FRAME_CPU_CACHE_CAPACITY ? FRAME_CPU_CACHE_CAPACITY : cap;
	cache_set_cap(0, (uint32_t)cap);
	ST.metadata = meta_frames;
	ST.metadata_base = meta_base;
	ST.ready = true;
	KTRACE("frame: init %llu frames in %zu areas, %llu metadata frames at %#llx, %llu windows",
	       (unsigned long long)total, n, (unsigned long long)meta_frames,
	       (unsigned long long)meta_base, (unsigned long long)windows);
	return FRAME_INIT_OK;
}
