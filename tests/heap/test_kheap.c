/*
 * Unit tests of the kernel heap: size classes, alignment, neighbours, coalescing, growth and
 * give-back, big allocations, exhaustion (frames and cap), misuse detection, the audit, slab
 * caching and shrink, krealloc/kzalloc, the KernelMapper hook, and a long random sequence.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "frame_alloc.h"
#include "heap_frames.h"
#include "heap_list.h"
#include "host/host_platform.h"
#include "kheap.h"
#include "page_info.h"
#include "phys.h"
#include "slab.h"
#include "test_machine.h"
#include "../check_main.h"

static uint64_t free0;

static void boot(uint64_t arena_bytes)
{
	test_machine_boot(&(struct test_machine){ .memory = arena_bytes, .cpus = 2, .heap = true });
	free0 = free_frames();
}

static void setup(void)
{
	boot(64 * MiB);
}

static void teardown(void)
{
	test_machine_halt();
}

static void heap_ok(void)
{
	char buf[512];
	bool ok = kheap_audit(buf, sizeof(buf));
	ck_assert_msg(ok, "kheap audit: %s", buf);
	audit_ok();
	/* quiescent: the gate's total is exactly what the two allocators hold */
	ck_assert_uint_eq(heap_frames_held_total(),
			  heap_frames_held(HEAP_OWNER_SLAB) + heap_frames_held(HEAP_OWNER_LIST));
}

static struct kheap_stats stats(void)
{
	struct kheap_stats s;
	kheap_get_stats(&s);
	return s;
}

/* Everything freed: after a shrink the heap holds nothing and every frame is back. */
static void all_back(void)
{
	heap_ok();
	struct kheap_stats s = stats();
	ck_assert_uint_eq(s.bytes_in_use, 0);
	ck_assert_uint_eq(s.slab_objects + s.list_blocks, 0);
	uint64_t held = s.slab_frames + s.list_frames;
	ck_assert_uint_eq(kheap_shrink(), held);
	s = stats();
	ck_assert_uint_eq(s.slab_frames, 0);
	ck_assert_uint_eq(s.list_frames, 0);
	ck_assert_uint_eq(heap_frames_held_total(), 0);
	ck_assert_uint_eq(free_frames(), free0);
	heap_ok();
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 8));
}

static bool check_fill(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)(seed * 31u + i * 7u + (i >> 8)))
			return false;
	return true;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- size classes and alignment -------------------------------------------------------- */

START_TEST(test_every_size_class)
{
	void *p[SLAB_CLASS_COUNT][2];
	uint64_t bytes = 0;

	for (unsigned c = 0; c < SLAB_CLASS_COUNT; c++) {
		size_t size = slab_class_size(c);
		ck_assert_uint_eq(size, 16u << c);
		size_t asks[2] = { c ? size / 2 + 1 : 1, size };
		for (int k = 0; k < 2; k++) {
			p[c][k] = kmalloc(asks[k]);
			ck_assert_ptr_nonnull(p[c][k]);
			ck_assert_uint_eq(kheap_usable_size(p[c][k]), size);
			size_t align = size < 64 ? size : 64;
			ck_assert_uint_eq((uintptr_t)p[c][k] % align, 0);
			/* inside a slab frame, after the header, on an object boundary */
			uint64_t off = virt_to_phys(p[c][k]) & PAGE_MASK;
			ck_assert_uint_ge(off, SLAB_HEADER_SIZE);
			ck_assert_uint_eq((off - SLAB_HEADER_SIZE) % size, 0);
			fill(p[c][k], size, c * 2 + (unsigned)k);
			bytes += size;
		}
		/* the two objects of a class share its single slab */
		ck_assert_uint_eq(virt_to_phys(p[c][0]) & ~PAGE_MASK, virt_to_phys(p[c][1]) & ~PAGE_MASK);
	}
	struct kheap_stats s = stats();
	ck_assert_uint_eq(s.slab_objects, 2 * SLAB_CLASS_COUNT);
	ck_assert_uint_eq(s.slab_frames, SLAB_CLASS_COUNT);
	ck_assert_uint_eq(s.slab_bytes_in_use, bytes);
	ck_assert_uint_eq(s.list_blocks, 0);
	ck_assert_uint_eq(s.allocations, 2 * SLAB_CLASS_COUNT);
	/* one byte above the largest class goes to the list allocator */
	void *big = kmalloc(SLAB_MAX_SIZE + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(kheap_usable_size(big), SLAB_MAX_SIZE + 16);
	ck_assert_uint_eq(stats().list_blocks, 1);
	ck_assert_uint_eq(stats().list_bytes_in_use, SLAB_MAX_SIZE + 16);
	heap_ok();
	for (unsigned c = 0; c < SLAB_CLASS_COUNT; c++)
		for (int k = 0; k < 2; k++) {
			ck_assert(check_fill(p[c][k], slab_class_size(c), c * 2 + (unsigned)k));
			kfree(p[c][k]);
		}
	kfree(big);
	ck_assert_uint_eq(stats().frees, 2 * SLAB_CLASS_COUNT + 1);
	all_back();
}
END_TEST

START_TEST(test_alignment)
{
	static const size_t sizes[] = { 1, 100, 1000, 3000, 20000 };
	void *p[13][5];

	for (unsigned a = 0; a <= 12; a++)
		for (unsigned k = 0; k < 5; k++) {
			size_t align = (size_t)1 << a;
			p[a][k] = kmalloc_aligned(sizes[k], align);
			ck_assert_ptr_nonnull(p[a][k]);
			ck_assert_msg((uintptr_t)p[a][k] % align == 0, "%p not aligned to %zu", p[a][k],
				      align);
			ck_assert_uint_eq(virt_to_phys(p[a][k]) % align, 0);
			ck_assert_uint_ge(kheap_usable_size(p[a][k]), sizes[k]);
			fill(p[a][k], sizes[k], a * 5 + k);
		}
	heap_ok();
	for (unsigned a = 0; a <= 12; a++)
		for (unsigned k = 0; k < 5; k++) {
			ck_assert(check_fill(p[a][k], sizes[k], a * 5 + k));
			kfree(p[a][k]);
		}
	/* invalid requests fail cleanly and are counted */
	uint64_t failed = stats().failed_allocations;
	ck_assert_ptr_null(kmalloc_aligned(16, 3));
	ck_assert_ptr_null(kmalloc_aligned(16, 8192));
	ck_assert_ptr_null(kmalloc_aligned(16, 0));
	ck_assert_ptr_null(kmalloc(0));
	ck_assert_uint_eq(stats().failed_allocations, failed + 4);
	all_back();
}
END_TEST

/* ---- neighbours -------------------------------------------------------------------------- */

struct live {
	unsigned char *p;
	size_t size;
	unsigned seed;
};

static int by_address(const void *a, const void *b)
{
	const struct live *x = a, *y = b;
	return x->p < y->p ? -1 : x->p > y->p;
}

START_TEST(test_no_neighbour_corruption)
{
	static const size_t sizes[] = { 8, 24, 40, 100, 250, 500, 1000, 1500, 3000, 7000 };
	enum { N = 2000 };
	static struct live l[N];

	for (unsigned i = 0; i < N; i++) {
		l[i].size = sizes[i % 10];
		l[i].seed = i;
		l[i].p = kmalloc(l[i].size);
		ck_assert_ptr_nonnull(l[i].p);
		fill(l[i].p, kheap_usable_size(l[i].p), i); /* the whole usable area */
	}
	for (unsigned i = 0; i < N; i++)
		ck_assert_msg(check_fill(l[i].p, kheap_usable_size(l[i].p), i), "object %u clobbered", i);
	/* free every other one, refill the holes with new objects, check all again */
	for (unsigned i = 0; i < N; i += 2)
		kfree(l[i].p);
	for (unsigned i = 0; i < N; i += 2) {
		l[i].seed = i + 7777;
		l[i].p = kmalloc(l[i].size);
		ck_assert_ptr_nonnull(l[i].p);
		fill(l[i].p, kheap_usable_size(l[i].p), l[i].seed);
	}
	for (unsigned i = 0; i < N; i++)
		ck_assert_msg(check_fill(l[i].p, kheap_usable_size(l[i].p), l[i].seed),
			      "object %u clobbered", i);
	/* no two objects overlap */
	qsort(l, N, sizeof(l[0]), by_address);
	for (unsigned i = 0; i + 1 < N; i++)
		ck_assert((uintptr_t)(l[i].p + kheap_usable_size(l[i].p)) <= (uintptr_t)l[i + 1].p);
	heap_ok();
	for (unsigned i = 0; i < N; i++)
		kfree(l[i].p);
	all_back();
}
END_TEST

/* ---- the linked list: coalescing, first fit, alignment gaps ------------------------------ */

START_TEST(test_coalescing_exact)
{
	struct heap_list_stats ls;
	const uint64_t chunk = PAGE_SIZE << LIST_CHUNK_ORDER, blk = 2000 + LIST_BLOCK_HEADER;
	char *a = kmalloc(2000), *b = kmalloc(2000), *c = kmalloc(2000);

	ck_assert_ptr_nonnull(a);
	/* one fresh 1 MiB chunk, naturally aligned; blocks laid out back to back */
	ck_assert_uint_eq(virt_to_phys(a) & (chunk - 1), LIST_CHUNK_HEADER + LIST_BLOCK_HEADER);
	ck_assert_ptr_eq(b, a + blk);
	ck_assert_ptr_eq(c, b + blk);
	ck_assert_uint_eq(stats().list_chunks, 1);
	ck_assert_uint_eq(stats().list_frames, 1u << LIST_CHUNK_ORDER);
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 1);
	ck_assert_uint_eq(ls.bytes_free, chunk - LIST_CHUNK_HEADER - 3 * blk);

	kfree(a); /* [a free][b][c][tail free] */
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 2);
	ck_assert_uint_eq(ls.bytes_free, chunk - LIST_CHUNK_HEADER - 2 * blk);
	kfree(c); /* c merges with the tail */
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 2);
	ck_assert_uint_eq(ls.bytes_free, chunk - LIST_CHUNK_HEADER - blk);
	/* first fit takes the lowest hole that fits: a's */
	char *d = kmalloc(1990);
	ck_assert_ptr_eq(d, a);
	kfree(d);
	heap_ok();
	kfree(b); /* b joins both neighbours: one free block spans the chunk */
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 1);
	ck_assert_uint_eq(ls.bytes_free, chunk - LIST_CHUNK_HEADER);
	ck_assert_uint_eq(ls.blocks_in_use, 0);
	/* the empty chunk stays as the spare */
	ck_assert_uint_eq(stats().list_frames, 1u << LIST_CHUNK_ORDER);

	/* a 4096-aligned block: the skipped space before it stays a free block */
	char *e = kmalloc_aligned(100, 4096);
	ck_assert_uint_eq(virt_to_phys(e) & (chunk - 1), 4096);
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 2);
	ck_assert_uint_eq(ls.bytes_free, chunk - LIST_CHUNK_HEADER - (100 + 12 + LIST_BLOCK_HEADER));
	/* a small aligned-64 request fills the gap in front of it (slab takes <= 64 B, so ask 2000) */
	char *f = kmalloc_aligned(2000, 128);
	ck_assert_uint_eq(virt_to_phys(f) & (chunk - 1), 128);
	kfree(e);
	kfree(f);
	heap_list_get_stats(&ls);
	ck_assert_uint_eq(ls.free_blocks, 1);
	ck_assert_uint_eq(kheap_shrink(), 1u << LIST_CHUNK_ORDER);
	all_back();
}
END_TEST

/* ---- growth and give-back --------------------------------------------------------------- */

START_TEST(test_growth_past_8mib)
{
	enum { NL = 3000, NS = 20000 };
	static char *lp[NL], *sp[NS];
	uint64_t seed = 42;

	for (unsigned i = 0; i < NL; i++) {
		lp[i] = kmalloc(3000);
		ck_assert_ptr_nonnull(lp[i]);
		fill(lp[i], 3000, i);
	}
	for (unsigned i = 0; i < NS; i++) {
		sp[i] = kmalloc(200);
		ck_assert_ptr_nonnull(sp[i]);
		fill(sp[i], 200, i + NL);
	}
	struct kheap_stats s = stats();
	ck_assert_uint_eq(s.list_bytes_in_use, NL * 3008ULL);
	ck_assert_uint_eq(s.slab_bytes_in_use, NS * 256ULL);
	ck_assert_uint_eq(s.bytes_in_use, NL * 3008ULL + NS * 256ULL);
	ck_assert_uint_gt(s.bytes_in_use, 8 * MiB);
	/* 15 objects of 256 B per slab */
	ck_assert_uint_eq(s.slab_frames, (NS + 14) / 15);
	ck_assert_uint_ge(s.list_frames * PAGE_SIZE, NL * 3024ULL);
	ck_assert_uint_eq(free_frames(), free0 - s.slab_frames - s.list_frames);
	heap_ok();
	/* free in a shuffled order */
	for (unsigned i = NL - 1; i > 0; i--) {
		unsigned j = (unsigned)(rnd(&seed) % (i + 1));
		char *t = lp[i]; lp[i] = lp[j]; lp[j] = t;
	}
	for (unsigned i = 0; i < NS; i++) {
		ck_assert(check_fill(sp[i], 200, i + NL));
		kfree(sp[i]);
	}
	for (unsigned i = 0; i < NL; i++)
		kfree(lp[i]);
	/* at most one spare chunk and one empty slab of the 256 class stay cached */
	s = stats();
	ck_assert_uint_le(s.list_frames, 1u << LIST_CHUNK_ORDER);
	ck_assert_uint_eq(s.slab_frames, 1);
	all_back();
}
END_TEST

START_TEST(test_big_allocations)
{
	char *p = kmalloc(1536 * 1024);
	ck_assert_ptr_nonnull(p);
	/* its own chunk of order 9 (2 MiB), never shared with small blocks */
	ck_assert_uint_eq(stats().list_frames, 512);
	ck_assert_uint_ge(kheap_usable_size(p), 1536 * 1024);
	fill(p, 1536 * 1024, 1);
	char *q = kmalloc(3 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(stats().list_frames, 512 + 1024);
	fill(q, 3 * MiB, 2);
	char *m = kmalloc(heap_list_max_size());
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(stats().list_frames, 512 + 2048);
	uint64_t failed = stats().failed_allocations;
	ck_assert_ptr_null(kmalloc(heap_list_max_size() + 1));
	ck_assert_ptr_null(kmalloc(5 * MiB));
	ck_assert_ptr_null(kmalloc(SIZE_MAX));
	ck_assert_uint_eq(stats().failed_allocations, failed + 3);
	heap_ok();
	ck_assert(check_fill(p, 1536 * 1024, 1));
	ck_assert(check_fill(q, 3 * MiB, 2));
	/* an emptied big chunk goes back at once, not kept as a spare */
	kfree(p);
	ck_assert_uint_eq(stats().list_frames, 1024 + 1024);
	kfree(m);
	kfree(q);
	ck_assert_uint_eq(stats().list_frames, 0);
	ck_assert_uint_eq(free_frames(), free0);
	all_back();
}
END_TEST

/* ---- exhaustion ------------------------------------------------------------------------- */

START_TEST(test_exhaustion_of_frames)
{
	enum { MAX = 20000 };
	static void *p[MAX];
	static const size_t sizes[] = { 50000, 3000, 700, 64, 16 };
	unsigned n = 0;

	teardown();
	boot(6 * MiB);
	for (unsigned k = 0; k < 5; k++) {
		for (;;) {
			ck_assert_uint_lt(n, MAX);
			void *x = kmalloc(sizes[k]);
			if (!x)
				break;
			memset(x, 0x5a, sizes[k]);
			p[n++] = x;
		}
		heap_ok();
	}
	/* even a 16-byte object failed: the last free frame is gone */
	ck_assert_uint_eq(free_frames(), 0);
	ck_assert_uint_eq(stats().failed_allocations, 5);
	ck_assert_uint_eq(stats().allocations, n);
	ck_assert_uint_eq(stats().slab_frames + stats().list_frames, free0);
	while (n)
		kfree(p[--n]);
	all_back();
	/* and the heap works again */
	void *x = kmalloc(50000);
	ck_assert_ptr_nonnull(x);
	kfree(x);
	all_back();
}
END_TEST

START_TEST(test_exhaustion_of_cap)
{
	void *p[64];
	unsigned n = 0;

	kheap_set_frame_cap(10);
	while ((p[n] = kmalloc(2000)) != NULL) {
		n++;
		ck_assert_uint_lt(n, 64);
	}
	/* best effort under the cap: an order-3 chunk (16 blocks) then an order-1 one (4) */
	ck_assert_uint_eq(heap_frames_held_total(), 10);
	ck_assert_uint_eq(stats().list_frames, 10);
	ck_assert_uint_eq(stats().list_chunks, 2);
	ck_assert_uint_eq(n, 16 + 4);
	ck_assert_ptr_null(kmalloc(16)); /* the slab cannot get a frame either */
	ck_assert_uint_eq(stats().frame_cap, 10);
	ck_assert_uint_eq(free_frames(), free0 - 10);
	heap_ok();
	kheap_set_frame_cap(KHEAP_CAP_UNLIMITED);
	void *x = kmalloc(16);
	ck_assert_ptr_nonnull(x);
	kfree(x);
	while (n)
		kfree(p[--n]);
	all_back();
}
END_TEST

/* ---- misuse ---------------------------------------------------------------------------- */

START_TEST(test_double_free_slab)
{
	void *p = kmalloc(32), *q = kmalloc(32);
	kfree(p);
	EXPECT_PANIC(kfree(p), "double free");
	heap_ok();
	EXPECT_PANIC(kheap_usable_size(p), "double free");
	kfree(q);
	all_back();
}
END_TEST

START_TEST(test_double_free_list)
{
	char *a = kmalloc(2000), *b = kmalloc(2000), *c = kmalloc(2000);
	kfree(b);
	EXPECT_PANIC(kfree(b), "double free");
	heap_ok();
	kfree(a); /* absorbs b */
	EXPECT_PANIC(kfree(b), "double free");
	EXPECT_PANIC(kfree(a), "double free");
	heap_ok();
	kfree(c);
	all_back();
}
END_TEST

START_TEST(test_foreign_pointers)
{
	_Alignas(16) char host[64];
	EXPECT_PANIC(kfree(host + 16), "not a pointer the heap gave");
	EXPECT_PANIC(kfree(host + 1), "not a pointer the heap gave");

	/* a frame the heap never had */
	frame_t f = allocate_zeroed_frame();
	EXPECT_PANIC(kfree((char *)phys_to_virt(f.base) + 128), "not a pointer the heap gave");
	EXPECT_PANIC(kfree(phys_to_virt(f.base)), "not a pointer the heap gave");
	deallocate_frame(f);
	/* a free frame */
	EXPECT_PANIC(kfree((char *)phys_to_virt(f.base) + 64), "not a pointer the heap gave");

	/* inside a slab object, inside the slab header */
	char *s = kmalloc(64);
	EXPECT_PANIC(kfree(s + 16), "not the start");
	EXPECT_PANIC(kfree((char *)phys_to_virt(virt_to_phys(s) & ~PAGE_MASK) + 16), "slab header");

	/* inside a list block, and in the free tail of its chunk */
	char *a = kzalloc(2000);
	EXPECT_PANIC(kfree(a + 64), "not a pointer the heap gave");
	EXPECT_PANIC(kfree(a + 8192), "not a pointer the heap gave");
	/* a corrupted block header */
	uint32_t *offset = (uint32_t *)(a - LIST_BLOCK_HEADER) + 1, saved = *offset;
	*offset = saved + 4096;
	EXPECT_PANIC(kfree(a), "corrupt block header");
	*offset = saved;
	heap_ok();
	kfree(a);
	kfree(s);
	all_back();
}
END_TEST

START_TEST(test_audit_reports_corruption)
{
	char buf[256];
	char *a = kmalloc(2000), *b = kmalloc(2000);
	size_t ua = kheap_usable_size(a);
	char saved[16];

	/* an overflow of a clobbers b's header */
	memcpy(saved, a + ua, 16);
	memset(a + ua, 0x41, 16);
	ck_assert(!kheap_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "bad magic"), "report: %s", buf);
	memcpy(a + ua, saved, 16);
	heap_ok();

	/* a slab's in-use count disagreeing with its bitmap */
	char *s = kmalloc(64), *t = kmalloc(64);
	uint16_t *inuse = (uint16_t *)phys_to_virt(virt_to_phys(s) & ~PAGE_MASK) + 3;
	ck_assert_uint_eq(*inuse, 2);
	(*inuse)++;
	ck_assert(!kheap_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "bitmap has 2 objects, inuse says 3"), "report: %s", buf);
	(*inuse)--;
	/* a cycle in a slab free list */
	kfree(t);
	*(void **)t = t;
	ck_assert(!kheap_audit(buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, "twice"), "report: %s", buf);
	*(void **)t = NULL;
	ck_assert(!kheap_audit(buf, sizeof(buf))); /* now the list is too short */
	ck_assert_msg(strstr(buf, "free list has 1 objects, expected 62"), "report: %s", buf);
	/* rebuild: point t at the next free slot, the rest of the list is intact */
	*(void **)t = t + 64;
	heap_ok();
	kfree(s);
	kfree(a);
	kfree(b);
	all_back();
}
END_TEST

/* ---- slab caching and shrink ------------------------------------------------------------- */

START_TEST(test_slab_empty_return_and_shrink)
{
	enum { CAP = 63 };
	void *p[3][CAP];

	ck_assert_uint_eq(slab_class_capacity(2), CAP);
	for (int s = 0; s < 3; s++)
		for (int i = 0; i < CAP; i++)
			ck_assert_ptr_nonnull(p[s][i] = kmalloc(64));
	struct slab_stats st;
	slab_get_stats(&st);
	ck_assert_uint_eq(st.cls[2].slabs_full, 3);
	ck_assert_uint_eq(st.frames, 3);
	ck_assert_uint_eq(free_frames(), free0 - 3);

	kfree(p[0][0]);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.cls[2].slabs_full, 2);
	ck_assert_uint_eq(st.cls[2].slabs_partial, 1);
	for (int i = 1; i < CAP; i++)
		kfree(p[0][i]);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.cls[2].slabs_empty, 1); /* cached */
	ck_assert_uint_eq(st.frames, 3);
	for (int i = 0; i < CAP; i++)
		kfree(p[1][i]);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.cls[2].slabs_empty, 1); /* the second empty one went back */
	ck_assert_uint_eq(st.frames, 2);
	ck_assert_uint_eq(free_frames(), free0 - 2);
	/* the cached slab is reused before any new frame is taken */
	void *x = kmalloc(64);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.frames, 2);
	ck_assert_uint_eq(st.cls[2].slabs_empty, 0);
	kfree(x);
	/* an empty slab of another class is cached independently */
	void *y = kmalloc(512);
	kfree(y);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.cls[5].slabs_empty, 1);
	ck_assert_uint_eq(st.frames, 3);
	heap_ok();
	ck_assert_uint_eq(slab_shrink(), 2);
	ck_assert_uint_eq(slab_shrink(), 0);
	slab_get_stats(&st);
	ck_assert_uint_eq(st.frames, 1);
	for (int i = 0; i < CAP; i++)
		kfree(p[2][i]);
	ck_assert_uint_eq(stats().slab_frames, 1);
	all_back();
}
END_TEST

/* ---- krealloc, kzalloc, the KernelMapper hook ------------------------------------------ */

START_TEST(test_krealloc)
{
	char *p = kmalloc(20);
	fill(p, 20, 9);
	ck_assert_ptr_eq(krealloc(p, 30), p); /* same 32-byte class */
	char *q = krealloc(p, 100);
	ck_assert_ptr_ne(q, p);
	ck_assert(check_fill(q, 20, 9));
	fill(q, 100, 10);
	char *r = krealloc(q, 5000);
	ck_assert(check_fill(r, 100, 10));
	fill(r, 5000, 11);
	ck_assert_ptr_eq(krealloc(r, 4000), r); /* list block, less than twice as big */
	char *t = krealloc(r, 100);
	ck_assert_ptr_ne(t, r);
	ck_assert_uint_eq(kheap_usable_size(t), 128);
	ck_assert(check_fill(t, 100, 11));
	/* failure leaves the block untouched */
	ck_assert_ptr_null(krealloc(t, 5 * MiB));
	ck_assert(check_fill(t, 100, 11));
	ck_assert_ptr_null(krealloc(t, 0));
	char *u = krealloc(NULL, 50);
	ck_assert_uint_eq(kheap_usable_size(u), 64);
	kfree(u);
	all_back();
}
END_TEST

START_TEST(test_kzalloc)
{
	char *p = kmalloc(3000);
	memset(p, 0xaa, 3000);
	kfree(p);
	char *q = kzalloc(3000);
	ck_assert_ptr_eq(q, p); /* first fit hands the same block back */
	for (int i = 0; i < 3000; i++)
		ck_assert_int_eq(q[i], 0);
	char *s = kmalloc(48);
	memset(s, 0xaa, 48);
	kfree(s);
	char *t = kzalloc(48);
	ck_assert_ptr_eq(t, s);
	for (int i = 0; i < 48; i++)
		ck_assert_int_eq(t[i], 0);
	kfree(q);
	kfree(t);
	all_back();
}
END_TEST

static bool mapper_held;
static bool mapper_check(void)
{
	return mapper_held;
}

START_TEST(test_kernel_mapper_hook)
{
	kheap_set_forbidden_check(mapper_check);
	void *p = kmalloc(100);
	ck_assert_ptr_nonnull(p);
	mapper_held = true;
	EXPECT_PANIC(kmalloc(100), "KernelMapper");
	EXPECT_PANIC(kmalloc(100000), "KernelMapper");
	EXPECT_PANIC(krealloc(p, 5000), "KernelMapper");
	/* frames are refused at the gate too, for a direct allocator user */
	unsigned got;
	EXPECT_PANIC(heap_frames_take(HEAP_OWNER_LIST, 0, 0, &got), "KernelMapper");
	kfree(p); /* freeing is allowed */
	mapper_held = false;
	heap_ok();
	kheap_set_forbidden_check(NULL);
	mapper_held = true;
	p = kmalloc(100); /* no check registered: nothing is asserted */
	ck_assert_ptr_nonnull(p);
	mapper_held = false;
	kfree(p);
	all_back();
}
END_TEST

/* ---- random sequences -------------------------------------------------------------------- */

START_TEST(test_random_sequence)
{
	enum { LIVE = 1500, OPS = 30000, BATCH = 500 };
	static struct live l[LIVE];
	unsigned n = 0;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, allocs = 0, frees = 0;

	for (unsigned op = 1; op <= OPS; op++) {
		uint64_t r = rnd(&seed);
		if (n == 0 || (n < LIVE && r % 100 < 55)) {
			uint64_t kind = (r >> 8) % 100;
			size_t size = kind < 60 ? 1 + (r >> 16) % 1024
				    : kind < 95 ? 1025 + (r >> 16) % 15360
						: 16385 + (r >> 16) % 200000;
			size_t align = (r >> 40) % 10 == 0 ? (size_t)1 << ((r >> 44) % 13) : 16;
			unsigned char *p = kmalloc_aligned(size, align);
			ck_assert_ptr_nonnull(p);
			ck_assert_uint_eq((uintptr_t)p % align, 0);
			l[n] = (struct live){ p, size, op };
			fill(p, size, op);
			n++;
			allocs++;
		} else {
			unsigned k = (unsigned)((r >> 8) % n);
			ck_assert_msg(check_fill(l[k].p, l[k].size, l[k].seed), "op %u: object clobbered",
				      op);
			kfree(l[k].p);
			l[k] = l[--n];
			frees++;
		}
		if (op % BATCH == 0) {
			heap_ok();
			uint64_t bytes = 0;
			for (unsigned i = 0; i < n; i++)
				bytes += kheap_usable_size(l[i].p);
			struct kheap_stats s = stats();
			ck_assert_uint_eq(s.bytes_in_use, bytes);
			ck_assert_uint_eq(s.slab_objects + s.list_blocks, n);
			ck_assert_uint_eq(s.allocations, allocs);
			ck_assert_uint_eq(s.frees, frees);
			ck_assert_uint_eq(free_frames(), free0 - s.slab_frames - s.list_frames);
		}
	}
	while (n) {
		n--;
		ck_assert(check_fill(l[n].p, l[n].size, l[n].seed));
		kfree(l[n].p);
	}
	ck_assert_uint_eq(stats().failed_allocations, 0);
	all_back();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("heap");
	TCase *tc = tcase_create("kheap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_size_class);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_no_neighbour_corruption);
	tcase_add_test(tc, test_coalescing_exact);
	tcase_add_test(tc, test_growth_past_8mib);
	tcase_add_test(tc, test_big_allocations);
	tcase_add_test(tc, test_exhaustion_of_frames);
	tcase_add_test(tc, test_exhaustion_of_cap);
	tcase_add_test(tc, test_double_free_slab);
	tcase_add_test(tc, test_double_free_list);
	tcase_add_test(tc, test_foreign_pointers);
	tcase_add_test(tc, test_audit_reports_corruption);
	tcase_add_test(tc, test_slab_empty_return_and_shrink);
	tcase_add_test(tc, test_krealloc);
	tcase_add_test(tc, test_kzalloc);
	tcase_add_test(tc, test_kernel_mapper_hook);
	tcase_add_test(tc, test_random_sequence);
	suite_add_tcase(s, tc);
	return run_check_suite(s);
}
