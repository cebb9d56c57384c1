#include "frame_audit.h"

#include "frame_alloc_state.h"
#include "frame_section.h"
#include "kformat.h"
#include "page_info.h"

#define ST frame_alloc_state
/* the rc of a CACHED record while check_caches has seen it in a cache (RC_USED otherwise) */
#define AUDIT_MARK 1u

struct audit {
	char *buf;
	size_t len;
	/* what the section scan found */
	uint64_t managed, metadata, cached, free_frames, used_frames, references;
	uint64_t free_heads[FRAME_ORDER_COUNT];
};

#define FAIL(a, ...)                                                                           \
	do {                                                                                   \
		kformat((a)->buf, (a)->len, __VA_ARGS__);                                      \
		return false;                                                                  \
	} while (0)

typedef unsigned long long ull;

static uint32_t ld(_Atomic uint32_t *w)
{
	return atomic_load_explicit(w, memory_order_relaxed);
}

static bool check_block(struct audit *a, const struct page_info *infos, uint64_t i, uint64_t count,
			paddr_t pa, unsigned order, const char *what)
{
	if (order > FRAME_MAX_ORDER)
		FAIL(a, "A2: %s head %#llx has order %u > %u", what, (ull)pa, order, FRAME_MAX_ORDER);
	if (!frame_is_aligned_to_order((frame_t){ pa }, order))
		FAIL(a, "A1: %s block %#llx is not aligned to order %u", what, (ull)pa, order);
	if (i + (1ULL << order) > count)
		FAIL(a, "A2: %s block %#llx order %u runs past the end of its section", what, (ull)pa,
		     order);
	for (uint64_t j = 1; j < (1ULL << order); j++) {
		struct page_info *r = (struct page_info *)&infos[i + j];
		if (ld(&r->meta) || ld(&r->rc))
			FAIL(a, "A2: frame %#llx inside %s block %#llx order %u has record rc %#x meta %#x"
				" (expected interior, all zero)",
			     (ull)(pa + j * PAGE_SIZE), what, (ull)pa, order, ld(&r->rc), ld(&r->meta));
	}
	return true;
}

static bool scan_section(struct audit *a, uint64_t w, const struct frame_section *s)
{
	paddr_t win = w << FRAME_SECTION_SHIFT;
	paddr_t meta_lo = ST.metadata_base, meta_hi = ST.metadata_base + (ST.metadata << PAGE_SHIFT);

	if ((uint64_t)s->first + s->count > FRAME_SECTION_FRAMES)
		FAIL(a, "A6: section %llu spans %u+%u frames, beyond its 128 MiB window", (ull)w,
		     s->first, s->count);
	if (s->infos_pa < meta_lo || s->infos_pa + (uint64_t)s->count * sizeof(struct page_info) > meta_hi)
		FAIL(a, "A6: page infos of section %llu at %#llx lie outside the metadata frames [%#llx, %#llx)",
		     (ull)w, (ull)s->infos_pa, (ull)meta_lo, (ull)meta_hi);
	if (s->first && frame_section_lookup(win + ((uint64_t)s->first - 1) * PAGE_SIZE))
		FAIL(a, "A6: frame before section %llu has a page info", (ull)w);
	if (s->first + s->count < FRAME_SECTION_FRAMES &&
	    frame_section_lookup(win + ((uint64_t)s->first + s->count) * PAGE_SIZE))
		FAIL(a, "A6: frame after section %llu has a page info", (ull)w);

	const struct page_info *infos = (const struct page_info *)phys_to_virt(s->infos_pa);
	for (uint64_t i = 0; i < s->count;) {
		paddr_t pa = win + (s->first + i) * PAGE_SIZE;
		struct page_info *r = (struct page_info *)&infos[i];
		uint32_t meta = ld(&r->meta), rc = ld(&r->rc);
		enum page_state st = page_meta_state(meta);
		unsigned order = meta & PAGE_META_ORDER_MASK;

		if (frame_section_lookup(pa) != r)
			FAIL(a, "A6: lookup of %#llx does not give record %llu of section %llu", (ull)pa,
			     (ull)i, (ull)w);
		if ((get_page_info((frame_t){ pa }) == NULL) != (st == PAGE_STATE_ABSENT))
			FAIL(a, "A6: get_page_info(%#llx) is %s for a %s frame", (ull)pa,
			     get_page_info((frame_t){ pa }) ? "set" : "NULL",
			     st == PAGE_STATE_ABSENT ? "absent" : "managed");
		if (st != PAGE_STATE_USED && st != PAGE_STATE_CACHED && (rc & RC_USED))
			FAIL(a, "R6: frame %#llx is not used but its rc %#x has the used bit", (ull)pa, rc);
		switch (st) {
		case PAGE_STATE_INTERIOR:
			FAIL(a, "A2: frame %#llx has an interior record but belongs to no block", (ull)pa);
		case PAGE_STATE_CACHED:
			if (order >= FRAME_CACHED_ORDERS || meta != PAGE_META(st, order) || rc != RC_USED)
				FAIL(a, "A2: cached frame %#llx has record rc %#x meta %#x", (ull)pa, rc, meta);
			if (!check_block(a, infos, i, s->count, pa, order, "cached"))
				return false;
			a->cached += 1ULL << order;
			break;
		case PAGE_STATE_ABSENT:
		case PAGE_STATE_METADATA:
			if (meta != PAGE_META(st, 0) || rc != 0)
				FAIL(a, "A2: frame %#llx state %d has record rc %#x meta %#x", (ull)pa, (int)st,
				     rc, meta);
			if (st == PAGE_STATE_METADATA) {
				if (pa < meta_lo || pa >= meta_hi)
					FAIL(a, "A5: metadata frame %#llx outside the metadata range", (ull)pa);
				a->metadata++;
			}
			if (st != PAGE_STATE_ABSENT)
				a->managed++;
			i++;
			continue;
		case PAGE_STATE_FREE:
			if (!check_block(a, infos, i, s->count, pa, order, "free"))
				return false;
			if (order < FRAME_MAX_ORDER) {
				struct page_info *b = frame_section_lookup(pa ^ (PAGE_SIZE << order));
				if (b && (ld(&b->meta) & PAGE_META_HEAD_MASK) == PAGE_META(PAGE_STATE_FREE, order))
					FAIL(a, "A3: free block %#llx order %u and its buddy %#llx are both free",
					     (ull)pa, order, (ull)(pa ^ (PAGE_SIZE << order)));
			}
			a->free_heads[order]++;
			a->free_frames += 1ULL << order;
			break;
		case PAGE_STATE_USED:
			if (!check_block(a, infos, i, s->count, pa, order, "used"))
				return false;
			if (meta & ~PAGE_META_HEAD_MASK)
				FAIL(a, "A2: used frame %#llx has link bits in meta %#x", (ull)pa, meta);
			if (!(rc & RC_USED) || (rc & RC_COUNT_MASK) > RC_MAX)
				FAIL(a, "R6: used frame %#llx has rc %#x (used bit clear or count > RC_MAX)",
				     (ull)pa, rc);
			a->used_frames += 1ULL << order;
			a->references += rc & RC_COUNT_MASK;
			break;
		default:
			FAIL(a, "A2: frame %#llx has a corrupt record (rc %#x meta %#x)", (ull)pa, rc, meta);
		}
		a->managed += 1ULL << order;
		i += 1ULL << order;
	}
	return true;
}

static bool check_lists(struct audit *a)
{
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
		if (!!(ST.nonempty & (1u << k)) != !!ST.heads[k])
			FAIL(a, "A1: nonempty mask bit %u is %u but list %u head is %#llx", k,
			     (ST.nonempty >> k) & 1, k, (ull)ST.heads[k]);
		paddr_t prev = 0;
		uint64_t n = 0;
		for (paddr_t f = ST.heads[k]; f;) {
			if (++n > a->free_heads[k])
				FAIL(a, "A1: list %u is longer than the %llu free heads of that order (cycle or"
					" foreign element at %#llx)",
				     k, (ull)a->free_heads[k], (ull)f);
			struct page_info *r = frame_section_lookup(f);
			if (!r)
				FAIL(a, "A1: list %u element %#llx has no page info", k, (ull)f);
			uint32_t meta = ld(&r->meta);
			paddr_t rprev = (paddr_t)ld(&r->rc) << PAGE_SHIFT;
			/* bit 7 is zero in every meta word */
			if ((meta & (PAGE_META_HEAD_MASK | 0x80u)) != PAGE_META(PAGE_STATE_FREE, k))
				FAIL(a, "A1: list %u element %#llx has meta %#x (not free order %u)", k,
				     (ull)f, meta, k);
			if (rprev != prev)
				FAIL(a, "A1: list %u element %#llx has prev %#llx, expected %#llx", k, (ull)f,
				     (ull)rprev, (ull)prev);
			prev = f;
			f = page_meta_next(meta) << PAGE_SHIFT;
		}
		if (n != a->free_heads[k])
			FAIL(a, "A1: list %u holds %llu blocks but %llu free heads of order %u exist", k,
			     (ull)n, (ull)a->free_heads[k], k);
	}
	return true;
}

/* Marks each cached block's record while checking, then always clears the marks. */
static bool check_caches(struct audit *a)
{
	bool ok = true;
	uint64_t total = 0;

	for (unsigned cpu = 0; cpu < FRAME_MAX_CPUS && ok; cpu++) {
		struct frame_cpu_cache *c = &frame_cpu_caches[cpu];
		for (unsigned k = 0; k < FRAME_ORDER_COUNT && ok; k++) {
			uint32_t n = cache_count(c, k);
			const uint32_t *stack = cache_stack(c, k);
			if (stack[-1] != FRAME_CACHE_SENTINEL) {
				kformat(a->buf, a->len,
					"cache: cpu %u order %u: the sentinel below the stack is %#x", cpu, k,
					stack[-1]);
				ok = false;
				break;
			}
			if (n > cache_cap(k)) {
				kformat(a->buf, a->len, "cache: cpu %u holds %u > %u blocks of order %u", cpu,
					n, cache_cap(k), k);
				ok = false;
				break;
			}
			for (uint32_t idx = 0; idx < n; idx++) {
				paddr_t f = (paddr_t)stack[idx] << PAGE_SHIFT;
				struct page_info *r = frame_section_lookup(f);
				if (!r || ld(&r->meta) != PAGE_META(PAGE_STATE_CACHED, k)) {
					kformat(a->buf, a->len,
						"cache: cpu %u order %u slot %u holds %#llx which is not a cached block of that order",
						cpu, k, idx, (ull)f);
					ok = false;
					break;
				}
				if (ld(&r->rc) == AUDIT_MARK) {
					kformat(a->buf, a->len, "cache: block %#llx is cached twice (cpu %u order %u slot %u)",
						(ull)f, cpu, k, idx);
					ok = false;
					break;
				}
				atomic_store_explicit(&r->rc, AUDIT_MARK, memory_order_relaxed);
				total += 1ULL << k;
			}
		}
	}
	/* put back the rc the marks replaced (RC_USED: the scan checked every CACHED record) */
	for (unsigned cpu = 0; cpu < FRAME_MAX_CPUS; cpu++) {
		struct frame_cpu_cache *c = &frame_cpu_caches[cpu];
		for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
			uint32_t n = cache_count(c, k);
			const uint32_t *stack = cache_stack(c, k);
			if (n > cache_cap(k))
				n = cache_cap(k);
			for (uint32_t i = 0; i < n; i++) {
				struct page_info *r = frame_section_lookup((paddr_t)stack[i] << PAGE_SHIFT);
				if (r && ld(&r->meta) == PAGE_META(PAGE_STATE_CACHED, k))
					atomic_store_explicit(&r->rc, RC_USED, memory_order_relaxed);
			}
		}
	}
	if (ok && total != a->cached)
		FAIL(a, "cache: %llu frames in per-CPU caches but %llu records are cached", (ull)total,
		     (ull)a->cached);
	return ok;
}

static bool check_zero_frame(struct audit *a)
{
	frame_t z = zero_frame();
	if (frame_is_none(z))
		return true;
	struct page_info *r = get_page_info(z);
	if (!r || page_info_state(r) != PAGE_STATE_USED || page_info_order(r) != 0)
		FAIL(a, "R5: zero frame %#llx is not a used order-0 frame", (ull)z.base);
	if (!(ld(&r->rc) & RC_COUNT_MASK))
		FAIL(a, "R5: zero frame %#llx has no reference", (ull)z.base);
	const uint64_t *p = (const uint64_t *)phys_to_virt(z.base);
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		if (p[i])
			FAIL(a, "R5: zero frame %#llx has %#llx at offset %u", (ull)z.base, (ull)p[i], i * 8);
	return true;
}

static bool audit_locked(struct audit *a)
{
	if (!ST.ready)
		FAIL(a, "frame allocator not initialised");
	if (frame_section_window_count == 0)
		FAIL(a, "A6: no sections");
	const struct frame_section *table = frame_section_table();
	if (frame_section_table_pa != ST.metadata_base)
		FAIL(a, "A6: section table at %#llx is not at the metadata base %#llx",
		     (ull)frame_section_table_pa, (ull)ST.metadata_base);
	for (uint64_t w = 0; w < frame_section_window_count; w++)
		if (table[w].count && !scan_section(a, w, &table[w]))
			return false;
	if (a->managed != ST.total)
		FAIL(a, "A5: sections hold %llu managed frames, total_frames says %llu", (ull)a->managed,
		     (ull)ST.total);
	if (a->metadata != ST.metadata)
		FAIL(a, "A5: %llu metadata records, counter says %llu", (ull)a->metadata, (ull)ST.metadata);
	if (a->free_frames != atomic_load_explicit(&ST.buddy_free, memory_order_relaxed))
		FAIL(a, "A5: free blocks hold %llu frames, buddy counter says %llu", (ull)a->free_frames,
		     (ull)atomic_load_explicit(&ST.buddy_free, memory_order_relaxed));
	if (a->free_frames + a->cached + a->used_frames + a->metadata != ST.total)
		FAIL(a, "A5: free %llu + cached %llu + used %llu + metadata %llu != total %llu",
		     (ull)a->free_frames, (ull)a->cached, (ull)a->used_frames, (ull)a->metadata,
		     (ull)ST.total);
	if (!check_lists(a) || !check_caches(a) || !check_zero_frame(a))
		return false;
	if (raii_frame_holders() > a->references)
		FAIL(a, "R1: %llu raii_frame holders but only %llu references in all frames",
		     (ull)raii_frame_holders(), (ull)a->references);
	return true;
}

bool frame_audit(char *buf, size_t len)
{
	struct audit a = { .buf = buf, .len = len };

	if (len)
		buf[0] = '\0';
	if (!ST.ready) {
		kformat(buf, len, "frame allocator not initialised");
		return false;
	}
	uint64_t frozen = frame_cpu_caches_freeze(true);
	kspin_lock(&ST.lock);
	bool ok = audit_locked(&a);
	kspin_unlock(&ST.lock);
	frame_cpu_caches_thaw(frozen);
	return ok;
}
