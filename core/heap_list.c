/*
 * Linked-list heap allocator. Contract, chunk policy and locking in heap_list.h.
 *
 * Invariants (checked by heap_list_audit):
 * H1 Every chunk is a block of 2^order frames held from heap_frames for HEAP_OWNER_LIST; its
 *    page info is an allocated unreferenced (U0) head of that order; its header carries the
 *    chunk magic keyed with its address.
 * H2 The chunk list is a well-formed doubly linked list in strictly increasing address order;
 *    chunks do not overlap.
 * H3 The blocks of a chunk tile [chunk + LIST_CHUNK_HEADER, chunk end) exactly: each block has
 *    a used or free magic keyed with its own address, its offset from the chunk, and a size
 *    that is a multiple of 16 and at least LIST_MIN_BLOCK.
 * H4 The chunk's free list is exactly its free blocks in address order, and no two free blocks
 *    are adjacent (coalescing is complete).
 * H5 A chunk's nused and used_bytes equal the count and bytes of its used blocks; the global
 *    counters equal the sums.
 * H6 At most LIST_SPARE_KEEP chunks are empty (no used block), each of order <=
 *    LIST_CHUNK_ORDER, and nempty counts them.
 * H7 The frames in chunks equal heap_frames_held(HEAP_OWNER_LIST).
 */
#include "heap_list.h"

#include "frame.h"
#include "frame_alloc.h"
#include "heap_frames.h"
#include "kformat.h"
#include "page_info.h"
#include "phys.h"
#include "klock.h"
#include "platform.h"

#define KTRACE_KIND TRACE_PRESSURE

#define CHUNK_MAGIC 0xC4C4C0DEu
#define USED_MAGIC 0x05EDB10Cu
#define FREE_MAGIC 0xF4EEB10Cu
/* Written over the header of a free block absorbed by its free predecessor. */
#define DEAD_MAGIC 0xDEADB10Cu

struct list_chunk {
	uint32_t magic;
	uint32_t order;
	struct list_chunk *next, *prev;
	struct list_free *free;
	uint64_t used_bytes; /* block bytes of used blocks, headers included */
	uint64_t nused;
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct list_chunk) == LIST_CHUNK_HEADER, "chunk header is 64 bytes");

struct list_block {
	uint32_t magic;
	uint32_t offset; /* from the chunk start */
	uint64_t size;   /* block bytes, header included */
};
_Static_assert(sizeof(struct list_block) == LIST_BLOCK_HEADER, "block header is 16 bytes");

struct list_free {
	struct list_block hdr;
	struct list_free *next;
	uint64_t unused;
};
_Static_assert(sizeof(struct list_free) == LIST_MIN_BLOCK, "a free block fits the minimum");

/* sleeping class: a chunk is made (frames allocated) under it */
static struct lock_class list_class = LOCK_CLASS_INIT("kernel heap list", LOCK_SLEEP);
static struct kspin list_lock;
static struct list_chunk *chunks;
static uint64_t nchunks, nempty, chunk_frames;
static uint64_t used_bytes, nused;

#define LIST_BUG(...)                                                                          \
	do {                                                                                   \
		kspin_unlock(&list_lock);                                                 \
		plat_panic(__VA_ARGS__);                                                       \
	} while (0)

static inline uint32_t keyed(uint32_t magic, const void *at)
{
	return magic ^ (uint32_t)((virt_to_phys(at) >> 4) * 2654435761u);
}

static inline uint64_t chunk_bytes(const struct list_chunk *c)
{
	return PAGE_SIZE << c->order;
}

static inline uintptr_t chunk_end(const struct list_chunk *c)
{
	return (uintptr_t)c + chunk_bytes(c);
}

static inline uintptr_t align_up(uintptr_t x, uintptr_t a)
{
	return (x + a - 1) & ~(a - 1);
}

void heap_list_init(void)
{
	kspin_init(&list_lock, &list_class);
	chunks = NULL;
	nchunks = nempty = chunk_frames = used_bytes = nused = 0;
}

size_t heap_list_max_size(void)
{
	return (size_t)(PAGE_SIZE << FRAME_MAX_ORDER) - LIST_CHUNK_HEADER - LIST_BLOCK_HEADER;
}

/* ---- chunks (list lock held) ----------------------------------------------------------- */

static void set_free_header(struct list_free *b, const struct list_chunk *c, uint64_t size)
{
	b->hdr = (struct list_block){ keyed(FREE_MAGIC, b), (uint32_t)((uintptr_t)b - (uintptr_t)c),
				      size };
}

/* Smallest order whose chunk holds a block of `need` bytes aligned to `align` for sure. */
static unsigned order_for(uint64_t need, uint64_t align)
{
	uint64_t total = LIST_CHUNK_HEADER + need + (align > 16 ? align : 0);
	unsigned order = 0;

	while ((PAGE_SIZE << order) < total && order <= FRAME_MAX_ORDER)
		order++;
	return order;
}

static struct list_chunk *chunk_new(unsigned min_order)
{
	unsigned want = min_order > LIST_CHUNK_ORDER ? min_order : LIST_CHUNK_ORDER, got;
	frame_t f = heap_frames_take(HEAP_OWNER_LIST, want, min_order, &got);

	if (frame_is_none(f))
		return NULL;
	struct list_chunk *c = phys_to_virt(f.base);
	*c = (struct list_chunk){ .magic = keyed(CHUNK_MAGIC, c), .order = got };
	struct list_free *b = (struct list_free *)((uintptr_t)c + LIST_CHUNK_HEADER);
	set_free_header(b, c, chunk_bytes(c) - LIST_CHUNK_HEADER);
	b->next = NULL;
	c->free = b;
	/* insert in address order */
	struct list_chunk *prev = NULL, *cur = chunks;
	while (cur && cur < c) {
		prev = cur;
		cur = cur->next;
	}
	c->prev = prev;
	c->next = cur;
	if (cur)
		cur->prev = c;
	if (prev)
		prev->next = c;
	else
		chunks = c;
	nchunks++;
	nempty++;
	chunk_frames += 1ULL << got;
	return c;
}

static void chunk_release(struct list_chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		chunks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nchunks--;
	nempty--;
	chunk_frames -= 1ULL << c->order;
	unsigned order = c->order;
	c->magic = 0; /* a stale pointer into this block no longer finds a chunk */
	heap_frames_give(HEAP_OWNER_LIST, frame_containing(virt_to_phys(c)), order);
}

/*
 * Carve a used block of `need` bytes whose payload is aligned to `align` out of free block b
 * (reached through *link). Returns the payload, or NULL if b cannot hold it.
 */
static void *carve(struct list_chunk *c, struct list_free **link, struct list_free *b,
		   uint64_t need, uint64_t align)
{
	uintptr_t start = (uintptr_t)b, end = start + b->hdr.size;
	uintptr_t p = align_up(start + LIST_BLOCK_HEADER, align);
	uintptr_t gap = p - LIST_BLOCK_HEADER - start;

	if (gap && gap < LIST_MIN_BLOCK) {
		p += align; /* align > 16 here, so the gap becomes >= 48: a block of its own */
		gap += align;
	}
	if (p - LIST_BLOCK_HEADER + need > end)
		return NULL;
	uintptr_t blk = p - LIST_BLOCK_HEADER;
	uint64_t rest = end - (blk + need);
	if (rest < LIST_MIN_BLOCK) {
		need += rest;
		rest = 0;
	}
	struct list_free *next = b->next;
	if (gap) {
		b->hdr.size = gap;
		link = &b->next;
	}
	if (rest) {
		struct list_free *t = (struct list_free *)(blk + need);
		set_free_header(t, c, rest);
		t->next = next;
		*link = t;
	} else {
		*link = next;
	}
	struct list_block *u = (struct list_block *)blk;
	*u = (struct list_block){ keyed(USED_MAGIC, u), (uint32_t)(blk - (uintptr_t)c), need };
	if (c->nused++ == 0)
		nempty--;
	c->used_bytes += need;
	nused++;
	used_bytes += need;
	return (void *)p;
}

void *heap_list_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size == 0 || (align & (align - 1)) || align > LIST_MAX_ALIGN ||
	    size > heap_list_max_size())
		return NULL;
	uint64_t need = align_up(size, 16) + LIST_BLOCK_HEADER;

	kspin_lock(&list_lock);
	for (struct list_chunk *c = chunks; c; c = c->next) {
		struct list_free **link = &c->free;
		for (struct list_free *b = c->free; b; link = &b->next, b = b->next) {
			void *p = carve(c, link, b, need, align);
			if (p) {
				kspin_unlock(&list_lock);
				return p;
			}
		}
	}
	void *p = NULL;
	unsigned min_order = order_for(need, align);
	if (min_order <= FRAME_MAX_ORDER) {
		struct list_chunk *c = chunk_new(min_order);
		if (c) {
			p = carve(c, &c->free, c->free, need, align);
			KASSERT(p, "heap_list: new chunk %p order %u cannot hold %llu bytes", (void *)c,
				c->order, (unsigned long long)need);
		}
	}
	kspin_unlock(&list_lock);
	return p;
}

/* The used block of payload ptr and its chunk, validated; panics otherwise (lock held). */
static struct list_block *checked_block(void *ptr, struct list_chunk **chunk_out, const char *op)
{
	uintptr_t p = (uintptr_t)ptr;
	struct list_block *u = (struct list_block *)(p - LIST_BLOCK_HEADER);
	struct page_info *pinfo = get_page_info(frame_containing(virt_to_phys(ptr)));
	struct page_info *hinfo = get_page_info(frame_containing(virt_to_phys(u)));

	if ((p & 15) || !pinfo || !hinfo ||
	    (page_info_state(hinfo) != PAGE_STATE_USED && page_info_state(hinfo) != PAGE_STATE_INTERIOR))
		LIST_BUG("kheap: %s(%p): not a pointer the heap gave", op, ptr);
	if (u->magic == keyed(FREE_MAGIC, u) || u->magic == keyed(DEAD_MAGIC, u))
		LIST_BUG("kheap: double free: %s(%p) of a free block", op, ptr);
	if (u->magic != keyed(USED_MAGIC, u))
		LIST_BUG("kheap: %s(%p): not a pointer the heap gave (no block header)", op, ptr);
	struct list_chunk *c = (struct list_chunk *)((uintptr_t)u - u->offset);
	struct page_info *cinfo = get_page_info(frame_containing(virt_to_phys(c)));
	if (u->offset < LIST_CHUNK_HEADER || ((uintptr_t)c & PAGE_MASK) || !cinfo ||
	    page_info_state(cinfo) != PAGE_STATE_USED || c->magic != keyed(CHUNK_MAGIC, c) ||
	    c->order != page_info_order(cinfo) || (uintptr_t)u + u->size > chunk_end(c))
		LIST_BUG("kheap: %s(%p): corrupt block header (offset %u size %llu)", op, ptr,
			 u->offset, (unsigned long long)u->size);
	*chunk_out = c;
	return u;
}

void heap_list_free(void *ptr)
{
	kspin_lock(&list_lock);
	struct list_chunk *c;
	struct list_block *u = checked_block(ptr, &c, "free");
	uint64_t size = u->size;
	struct list_free *blk = (struct list_free *)u, *prev = NULL, *cur = c->free;

	while (cur && cur < blk) {
		prev = cur;
		cur = cur->next;
	}
	set_free_header(blk, c, size);
	if (cur && (uintptr_t)blk + blk->hdr.size == (uintptr_t)cur) {
		blk->hdr.size += cur->hdr.size;
		cur->hdr.magic = keyed(DEAD_MAGIC, cur);
		cur = cur->next;
	}
	if (prev && (uintptr_t)prev + prev->hdr.size == (uintptr_t)blk) {
		prev->hdr.size += blk->hdr.size;
		prev->next = cur;
		blk->hdr.magic = keyed(DEAD_MAGIC, blk);
	} else {
		blk->next = cur;
		if (prev)
			prev->next = blk;
		else
			c->free = blk;
	}
	c->used_bytes -= size;
	used_bytes -= size;
	nused--;
	if (--c->nused == 0) {
		nempty++;
		if (c->order > LIST_CHUNK_ORDER || nempty > LIST_SPARE_KEEP)
			chunk_release(c);
	}
	kspin_unlock(&list_lock);
}

size_t heap_list_usable_size(void *ptr)
{
	kspin_lock(&list_lock);
	struct list_chunk *c;
	size_t size = checked_block(ptr, &c, "usable_size")->size;
	size_t usable = size - LIST_BLOCK_HEADER;
	kspin_unlock(&list_lock);
	return usable;
}

uint64_t heap_list_shrink(void)
{
	uint64_t released = 0;

	kspin_lock(&list_lock);
	for (struct list_chunk *c = chunks, *next; c; c = next) {
		next = c->next;
		if (c->nused == 0) {
			released += 1ULL << c->order;
			chunk_release(c);
		}
	}
	kspin_unlock(&list_lock);
	KTRACE("heap_list: shrink released %llu frames", (unsigned long long)released);
	return released;
}

void heap_list_get_stats(struct heap_list_stats *out)
{
	*out = (struct heap_list_stats){ 0 };
	kspin_lock(&list_lock);
	out->bytes_in_use = used_bytes - nused * LIST_BLOCK_HEADER;
	out->blocks_in_use = nused;
	out->chunks = nchunks;
	out->frames = chunk_frames;
	for (struct list_chunk *c = chunks; c; c = c->next)
		for (struct list_free *b = c->free; b; b = b->next) {
			out->free_blocks++;
			out->bytes_free += b->hdr.size;
		}
	kspin_unlock(&list_lock);
}

/* ---- audit ----------------------------------------------------------------------------- */

#define FAIL(...)                                                                              \
	do {                                                                                   \
		kformat(buf, len, __VA_ARGS__);                                                \
		return false;                                                                  \
	} while (0)

static bool audit_chunk(char *buf, size_t len, struct list_chunk *c, uint64_t *ub, uint64_t *nu)
{
	paddr_t pa = virt_to_phys(c);
	struct page_info *info = get_page_info(frame_containing(pa));

	if (pa & PAGE_MASK)
		FAIL("heap_list: chunk %#llx is not page aligned", (unsigned long long)pa);
	if (c->magic != keyed(CHUNK_MAGIC, c))
		FAIL("heap_list: chunk %#llx has magic %#x, expected %#x", (unsigned long long)pa,
		     c->magic, keyed(CHUNK_MAGIC, c));
	if (c->order > FRAME_MAX_ORDER || !info || page_info_state(info) != PAGE_STATE_USED ||
	    page_info_order(info) != c->order || page_info_refcount(info).kind != REFCOUNT_U0)
		FAIL("heap_list: chunk %#llx of order %u is not an allocated unreferenced block of "
		     "that order", (unsigned long long)pa, c->order);
	uintptr_t at = (uintptr_t)c + LIST_CHUNK_HEADER, end = chunk_end(c);
	struct list_free *fl = c->free;
	bool prev_free = false;
	uint64_t bytes = 0, n = 0;
	while (at < end) {
		struct list_block *b = (struct list_block *)at;
		paddr_t bpa = virt_to_phys(b);
		bool is_free = b->magic == keyed(FREE_MAGIC, b);
		if (!is_free && b->magic != keyed(USED_MAGIC, b))
			FAIL("heap_list: block %#llx in chunk %#llx has bad magic %#x",
			     (unsigned long long)bpa, (unsigned long long)pa, b->magic);
		if (b->offset != at - (uintptr_t)c)
			FAIL("heap_list: block %#llx records offset %u, is at %llu",
			     (unsigned long long)bpa, b->offset, (unsigned long long)(at - (uintptr_t)c));
		if (b->size < LIST_MIN_BLOCK || (b->size & 15) || b->size > end - at)
			FAIL("heap_list: block %#llx has size %llu (room %llu)", (unsigned long long)bpa,
			     (unsigned long long)b->size, (unsigned long long)(end - at));
		if (is_free) {
			if (prev_free)
				FAIL("heap_list: free block %#llx follows a free block (not coalesced)",
				     (unsigned long long)bpa);
			if ((struct list_free *)b != fl)
				FAIL("heap_list: free block %#llx is not next on the free list of "
				     "chunk %#llx (list has %#llx)", (unsigned long long)bpa,
				     (unsigned long long)pa,
				     (unsigned long long)(fl ? virt_to_phys(fl) : 0));
			fl = fl->next;
		} else {
			bytes += b->size;
			n++;
		}
		prev_free = is_free;
		at += b->size;
	}
	if (fl)
		FAIL("heap_list: chunk %#llx free list holds %#llx, which is not a free block of it",
		     (unsigned long long)pa, (unsigned long long)virt_to_phys(fl));
	if (bytes != c->used_bytes || n != c->nused)
		FAIL("heap_list: chunk %#llx has %llu used blocks of %llu bytes, header says %llu "
		     "of %llu", (unsigned long long)pa, (unsigned long long)n,
		     (unsigned long long)bytes, (unsigned long long)c->nused,
		     (unsigned long long)c->used_bytes);
	if (n == 0 && c->order > LIST_CHUNK_ORDER)
		FAIL("heap_list: empty chunk %#llx of order %u was kept", (unsigned long long)pa,
		     c->order);
	*ub += bytes;
	*nu += n;
	return true;
}

static bool audit_locked(char *buf, size_t len, uint64_t *frames_out)
{
	uint64_t held = heap_frames_held(HEAP_OWNER_LIST);
	uint64_t frames = 0, n = 0, empty = 0, ub = 0, nu = 0;
	struct list_chunk *prev = NULL;

	for (struct list_chunk *c = chunks; c; prev = c, c = c->next) {
		if (++n > held)
			FAIL("heap_list: more chunks than the %llu frames held (cycle?)",
			     (unsigned long long)held);
		if (c->prev != prev)
			FAIL("heap_list: chunk %#llx has prev %p, expected %p",
			     (unsigned long long)virt_to_phys(c), (void *)c->prev, (void *)prev);
		if (prev && chunk_end(prev) > (uintptr_t)c)
			FAIL("heap_list: chunk %#llx is not above the end of chunk %#llx",
			     (unsigned long long)virt_to_phys(c), (unsigned long long)virt_to_phys(prev));
		uint64_t before = nu;
		if (!audit_chunk(buf, len, c, &ub, &nu))
			return false;
		if (nu == before)
			empty++;
		frames += 1ULL << c->order;
	}
	if (n != nchunks || frames != chunk_frames || frames != held)
		FAIL("heap_list: %llu chunks of %llu frames found; counted %llu chunks of %llu "
		     "frames; %llu frames held", (unsigned long long)n, (unsigned long long)frames,
		     (unsigned long long)nchunks, (unsigned long long)chunk_frames,
		     (unsigned long long)held);
	if (empty != nempty || empty > LIST_SPARE_KEEP)
		FAIL("heap_list: %llu empty chunks, counted %llu, at most %u kept",
		     (unsigned long long)empty, (unsigned long long)nempty, LIST_SPARE_KEEP);
	if (ub != used_bytes || nu != nused)
		FAIL("heap_list: %llu used blocks of %llu bytes, totals say %llu of %llu",
		     (unsigned long long)nu, (unsigned long long)ub, (unsigned long long)nused,
		     (unsigned long long)used_bytes);
	if (frames_out)
		*frames_out = frames;
	return true;
}

bool heap_list_audit(char *buf, size_t len, uint64_t *frames_out)
{
	kspin_lock(&list_lock);
	bool ok = audit_locked(buf, len, frames_out);
	kspin_unlock(&list_lock);
	if (ok && len)
		buf[0] = '\0';
	return ok;
}
