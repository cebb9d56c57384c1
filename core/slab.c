/*
 * Slab allocator. Contract, class table and locking in slab.h.
 *
 * Invariants (checked by slab_audit):
 * S1 Every slab is one order-0 frame held from heap_frames for HEAP_OWNER_SLAB; its page info
 *    is an allocated head of order 0 with no references (U0); its header carries the magic
 *    keyed with its frame number and the index of its class.
 * S2 A slab is on exactly one list of its class, the one its `list` field names, and that list
 *    matches its fill: EMPTY iff inuse == 0, FULL iff inuse == capacity, PARTIAL otherwise.
 *    The lists are well-formed doubly linked lists and their counts are exact.
 * S3 Bit i of the bitmap is set iff object i is allocated; popcount(bitmap) == inuse; no bit
 *    at or beyond the capacity is set.
 * S4 The free list of a slab holds exactly the objects whose bit is clear, each once, each at
 *    an object boundary inside the slab.
 * S5 At most SLAB_EMPTY_KEEP slabs per class are on the empty list.
 * S6 The class and global counters (objects in use, frames) equal what the lists hold, and the
 *    frames held equal heap_frames_held(HEAP_OWNER_SLAB).
 */
#include "slab.h"

#include "frame.h"
#include "heap_frames.h"
#include "kformat.h"
#include "page_info.h"
#include "phys.h"
#include "klock.h"
#include "platform.h"

#define KTRACE_KIND TRACE_PRESSURE

#define SLAB_MAGIC 0x51AB0000u
#define BITMAP_WORDS 4

enum slab_list_id { LIST_PARTIAL, LIST_FULL, LIST_EMPTY, LIST_COUNT };
static const char *const list_names[LIST_COUNT] = { "partial", "full", "empty" };

struct slab {
	uint32_t magic;
	uint8_t cls;
	uint8_t list;
	uint16_t inuse;
	struct slab *next, *prev;
	void *free;
	uint64_t bitmap[BITMAP_WORDS];
};
_Static_assert(sizeof(struct slab) == SLAB_HEADER_SIZE, "slab header is 64 bytes");
_Static_assert((PAGE_SIZE - SLAB_HEADER_SIZE) / SLAB_MIN_SIZE <= BITMAP_WORDS * 64,
	       "bitmap covers the smallest class");

struct slab_list {
	struct slab *head;
	uint64_t count;
};

struct slab_class {
	uint32_t size;
	uint32_t capacity;
	uint64_t inuse;
	struct slab_list lists[LIST_COUNT];
};

/* sleeping class: a slab is made (a frame allocated) under it */
static struct lock_class slab_class = LOCK_CLASS_INIT("kernel heap slab", LOCK_SLEEP);
static struct kspin slab_lock;
static struct slab_class classes[SLAB_CLASS_COUNT];
static uint64_t slab_frames;

#define SLAB_BUG(...)                                                                          \
	do {                                                                                   \
		kspin_unlock(&slab_lock);                                                 \
		plat_panic(__VA_ARGS__);                                                       \
	} while (0)

static inline uint32_t slab_magic(paddr_t frame_base)
{
	return SLAB_MAGIC ^ (uint32_t)((frame_base >> PAGE_SHIFT) * 2654435761u);
}

void slab_init(void)
{
	kspin_init(&slab_lock, &slab_class);
	for (unsigned i = 0; i < SLAB_CLASS_COUNT; i++) {
		classes[i] = (struct slab_class){ 0 };
		classes[i].size = SLAB_MIN_SIZE << i;
		classes[i].capacity = (uint32_t)((PAGE_SIZE - SLAB_HEADER_SIZE) / classes[i].size);
	}
	slab_frames = 0;
}

int slab_class_for(size_t size, size_t align)
{
	if (align > SLAB_MAX_ALIGN)
		return -1;
	if (size < align)
		size = align;
	for (unsigned i = 0; i < SLAB_CLASS_COUNT; i++)
		if (size <= (size_t)SLAB_MIN_SIZE << i)
			return (int)i;
	return -1;
}

size_t slab_class_size(unsigned cls)
{
	return cls < SLAB_CLASS_COUNT ? (size_t)SLAB_MIN_SIZE << cls : 0;
}

unsigned slab_class_capacity(unsigned cls)
{
	return cls < SLAB_CLASS_COUNT ? (unsigned)((PAGE_SIZE - SLAB_HEADER_SIZE) / slab_class_size(cls)) : 0;
}

static inline unsigned char *slab_objects(struct slab *s)
{
	return (unsigned char *)s + SLAB_HEADER_SIZE;
}

/* ---- lists (slab lock held) ----------------------------------------------------------- */

static void list_push(struct slab_class *c, struct slab *s, enum slab_list_id id)
{
	struct slab_list *l = &c->lists[id];

	s->list = (uint8_t)id;
	s->prev = NULL;
	s->next = l->head;
	if (l->head)
		l->head->prev = s;
	l->head = s;
	l->count++;
}

static void list_unlink(struct slab_class *c, struct slab *s)
{
	struct slab_list *l = &c->lists[s->list];

	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	l->count--;
}

static enum slab_list_id list_for(const struct slab_class *c, const struct slab *s)
{
	if (s->inuse == 0)
		return LIST_EMPTY;
	return s->inuse == c->capacity ? LIST_FULL : LIST_PARTIAL;
}

/* ---- slabs ----------------------------------------------------------------------------- */

static struct slab *slab_new(unsigned cls)
{
	struct slab_class *c = &classes[cls];
	unsigned got;
	frame_t f = heap_frames_take(HEAP_OWNER_SLAB, 0, 0, &got);

	if (frame_is_none(f))
		return NULL;
	struct slab *s = phys_to_virt(f.base);
	*s = (struct slab){ .magic = slab_magic(f.base), .cls = (uint8_t)cls };
	/* free list in address order: the first allocations fill the slab from the front */
	unsigned char *obj = slab_objects(s);
	for (uint32_t i = c->capacity; i-- > 0;) {
		void *o = obj + (size_t)i * c->size;
		*(void **)o = s->free;
		s->free = o;
	}
	list_push(c, s, LIST_EMPTY);
	slab_frames++;
	return s;
}

static void slab_release(struct slab_class *c, struct slab *s)
{
	list_unlink(c, s);
	s->magic = 0; /* a stale pointer into this frame is no longer taken for a slab */
	slab_frames--;
	heap_frames_give(HEAP_OWNER_SLAB, frame_containing(virt_to_phys(s)), 0);
}

void *slab_alloc(unsigned cls)
{
	KASSERT(cls < SLAB_CLASS_COUNT, "slab: no class %u", cls);
	kspin_lock(&slab_lock);
	struct slab_class *c = &classes[cls];
	struct slab *s = c->lists[LIST_PARTIAL].head;
	if (!s)
		s = c->lists[LIST_EMPTY].head;
	if (!s)
		s = slab_new(cls);
	if (!s) {
		kspin_unlock(&slab_lock);
		return NULL;
	}
	unsigned char *obj = s->free;
	if (!obj)
		SLAB_BUG("slab: %s slab %p of class %u has no free object", list_names[s->list],
			 (void *)s, c->size);
	size_t idx = (size_t)(obj - slab_objects(s)) / c->size;
	s->free = *(void **)obj;
	s->bitmap[idx / 64] |= 1ULL << (idx % 64);
	s->inuse++;
	c->inuse++;
	enum slab_list_id target = list_for(c, s);
	if (target != s->list) {
		list_unlink(c, s);
		list_push(c, s, target);
	}
	kspin_unlock(&slab_lock);
	return obj;
}

/* The live slab holding ptr, or NULL if ptr's frame is not a slab (slab lock held). */
static struct slab *slab_of(const void *ptr)
{
	frame_t f = frame_containing(virt_to_phys(ptr));
	struct page_info *info = get_page_info(f);

	if (!info || page_info_state(info) != PAGE_STATE_USED || page_info_order(info) != 0)
		return NULL;
	struct slab *s = phys_to_virt(f.base);
	return s->magic == slab_magic(f.base) ? s : NULL;
}

/* Object index of ptr in s; panics if ptr is not the start of a live object. */
static size_t checked_index(struct slab *s, const void *ptr, const char *op)
{
	if (s->cls >= SLAB_CLASS_COUNT)
		SLAB_BUG("slab: %s(%p): slab header %p has corrupt class %u", op, ptr, (void *)s,
			 s->cls);
	struct slab_class *c = &classes[s->cls];
	const unsigned char *p = ptr;
	if (p < slab_objects(s))
		SLAB_BUG("slab: %s(%p): pointer into the slab header of %p", op, ptr, (void *)s);
	size_t off = (size_t)(p - slab_objects(s));
	if (off % c->size || off / c->size >= c->capacity)
		SLAB_BUG("slab: %s(%p): not the start of a %u-byte object of slab %p", op, ptr,
			 c->size, (void *)s);
	size_t idx = off / c->size;
	if (!(s->bitmap[idx / 64] & (1ULL << (idx % 64))))
		SLAB_BUG("slab: double free or use of a free object: %s(%p), class %u", op, ptr,
			 c->size);
	return idx;
}

enum slab_free_result slab_free(void *ptr)
{
	kspin_lock(&slab_lock);
	struct slab *s = slab_of(ptr);
	if (!s) {
		kspin_unlock(&slab_lock);
		return SLAB_NOT_MINE;
	}
	size_t idx = checked_index(s, ptr, "free");
	struct slab_class *c = &classes[s->cls];
	s->bitmap[idx / 64] &= ~(1ULL << (idx % 64));
	*(void **)ptr = s->free;
	s->free = ptr;
	s->inuse--;
	c->inuse--;
	enum slab_list_id target = list_for(c, s);
	if (target == LIST_EMPTY && c->lists[LIST_EMPTY].count >= SLAB_EMPTY_KEEP)
		slab_release(c, s);
	else if (target != s->list) {
		list_unlink(c, s);
		list_push(c, s, target);
	}
	kspin_unlock(&slab_lock);
	return SLAB_FREED;
}

size_t slab_usable_size(void *ptr)
{
	kspin_lock(&slab_lock);
	struct slab *s = slab_of(ptr);
	size_t size = 0;
	if (s) {
		(void)checked_index(s, ptr, "usable_size");
		size = classes[s->cls].size;
	}
	kspin_unlock(&slab_lock);
	return size;
}

uint64_t slab_shrink(void)
{
	uint64_t released = 0;

	kspin_lock(&slab_lock);
	for (unsigned i = 0; i < SLAB_CLASS_COUNT; i++) {
		struct slab_class *c = &classes[i];
		while (c->lists[LIST_EMPTY].head) {
			slab_release(c, c->lists[LIST_EMPTY].head);
			released++;
		}
	}
	kspin_unlock(&slab_lock);
	KTRACE("slab: shrink released %llu frames", (unsigned long long)released);
	return released;
}

void slab_get_stats(struct slab_stats *out)
{
	*out = (struct slab_stats){ 0 };
	kspin_lock(&slab_lock);
	for (unsigned i = 0; i < SLAB_CLASS_COUNT; i++) {
		const struct slab_class *c = &classes[i];
		out->cls[i] = (struct slab_class_stats){
			.size = c->size,
			.objects_in_use = c->inuse,
			.slabs_partial = c->lists[LIST_PARTIAL].count,
			.slabs_full = c->lists[LIST_FULL].count,
			.slabs_empty = c->lists[LIST_EMPTY].count,
		};
		out->objects_in_use += c->inuse;
		out->bytes_in_use += c->inuse * c->size;
	}
	out->frames = slab_frames;
	kspin_unlock(&slab_lock);
}

/* ---- audit ----------------------------------------------------------------------------- */

#define FAIL(...)                                                                              \
	do {                                                                                   \
		kformat(buf, len, __VA_ARGS__);                                                \
		return false;                                                                  \
	} while (0)

static bool audit_slab(char *buf, size_t len, const struct slab_class *c, unsigned cls,
		       enum slab_list_id id, struct slab *s)
{
	paddr_t pa = virt_to_phys(s);
	struct page_info *info = get_page_info(frame_containing(pa));

	if (pa & PAGE_MASK)
		FAIL("slab: class %u %s list holds unaligned slab %p", c->size, list_names[id],
		     (void *)s);
	if (!info || page_info_state(info) != PAGE_STATE_USED || page_info_order(info) != 0 ||
	    page_info_refcount(info).kind != REFCOUNT_U0)
		FAIL("slab: slab frame %#llx is not an allocated unreferenced order-0 frame",
		     (unsigned long long)pa);
	if (s->magic != slab_magic(pa))
		FAIL("slab: slab %#llx has magic %#x, expected %#x", (unsigned long long)pa, s->magic,
		     slab_magic(pa));
	if (s->cls != cls || s->list != id)
		FAIL("slab: slab %#llx says class %u list %u but is on class %u list %s",
		     (unsigned long long)pa, s->cls, s->list, cls, list_names[id]);
	if (list_for(c, s) != id)
		FAIL("slab: slab %#llx with %u of %u objects in use is on the %s list",
		     (unsigned long long)pa, s->inuse, c->capacity, list_names[id]);
	unsigned pop = 0;
	for (unsigned w = 0; w < BITMAP_WORDS; w++)
		pop += (unsigned)__builtin_popcountll(s->bitmap[w]);
	if (pop != s->inuse)
		FAIL("slab: slab %#llx bitmap has %u objects, inuse says %u", (unsigned long long)pa,
		     pop, s->inuse);
	for (unsigned i = c->capacity; i < BITMAP_WORDS * 64; i++)
		if (s->bitmap[i / 64] & (1ULL << (i % 64)))
			FAIL("slab: slab %#llx bitmap bit %u beyond capacity %u",
			     (unsigned long long)pa, i, c->capacity);
	uint64_t seen[BITMAP_WORDS] = { 0 };
	unsigned nfree = 0;
	for (unsigned char *o = s->free; o; o = *(unsigned char **)o) {
		if (o < slab_objects(s) || (size_t)(o - slab_objects(s)) % c->size ||
		    (size_t)(o - slab_objects(s)) / c->size >= c->capacity)
			FAIL("slab: slab %#llx free list entry %p is not an object slot",
			     (unsigned long long)pa, (void *)o);
		size_t i = (size_t)(o - slab_objects(s)) / c->size;
		if (s->bitmap[i / 64] & (1ULL << (i % 64)))
			FAIL("slab: slab %#llx free list holds allocated object %zu",
			     (unsigned long long)pa, i);
		if (seen[i / 64] & (1ULL << (i % 64)))
			FAIL("slab: slab %#llx free list visits object %zu twice (cycle)",
			     (unsigned long long)pa, i);
		seen[i / 64] |= 1ULL << (i % 64);
		nfree++;
	}
	if (nfree != c->capacity - s->inuse)
		FAIL("slab: slab %#llx free list has %u objects, expected %u", (unsigned long long)pa,
		     nfree, c->capacity - s->inuse);
	return true;
}

static bool audit_locked(char *buf, size_t len, uint64_t *frames_out)
{
	uint64_t frames = 0, held = heap_frames_held(HEAP_OWNER_SLAB);

	for (unsigned cls = 0; cls < SLAB_CLASS_COUNT; cls++) {
		const struct slab_class *c = &classes[cls];
		uint64_t inuse = 0;
		for (unsigned id = 0; id < LIST_COUNT; id++) {
			uint64_t n = 0;
			struct slab *prev = NULL;
			for (struct slab *s = c->lists[id].head; s; prev = s, s = s->next) {
				if (++n > held)
					FAIL("slab: class %u %s list is longer than the %llu frames "
					     "held (cycle?)", c->size, list_names[id],
					     (unsigned long long)held);
				if (s->prev != prev)
					FAIL("slab: class %u %s list: slab %p has prev %p, expected %p",
					     c->size, list_names[id], (void *)s, (void *)s->prev,
					     (void *)prev);
				if (!audit_slab(buf, len, c, cls, (enum slab_list_id)id, s))
					return false;
				inuse += s->inuse;
			}
			if (n != c->lists[id].count)
				FAIL("slab: class %u %s list has %llu slabs, count says %llu", c->size,
				     list_names[id], (unsigned long long)n,
				     (unsigned long long)c->lists[id].count);
			frames += n;
		}
		if (c->lists[LIST_EMPTY].count > SLAB_EMPTY_KEEP)
			FAIL("slab: class %u caches %llu empty slabs (at most %u)", c->size,
			     (unsigned long long)c->lists[LIST_EMPTY].count, SLAB_EMPTY_KEEP);
		if (inuse != c->inuse)
			FAIL("slab: class %u slabs hold %llu objects, class count says %llu", c->size,
			     (unsigned long long)inuse, (unsigned long long)c->inuse);
	}
	if (frames != slab_frames || frames != held)
		FAIL("slab: %llu slabs on the lists, %llu counted, %llu held from the frame allocator",
		     (unsigned long long)frames, (unsigned long long)slab_frames,
		     (unsigned long long)held);
	if (frames_out)
		*frames_out = frames;
	return true;
}

bool slab_audit(char *buf, size_t len, uint64_t *frames_out)
{
	kspin_lock(&slab_lock);
	bool ok = audit_locked(buf, len, frames_out);
	kspin_unlock(&slab_lock);
	if (ok && len)
		buf[0] = '\0';
	return ok;
}
