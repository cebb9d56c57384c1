/*
 * Buddy allocator with per-CPU order-0 caches. See frame_alloc.h for the contract,
 * page_info.h for the record states and frame_alloc_state.h for the state invariants.
 *
 * Record invariants kept by this file (A1-A3, A9):
 * - A record is FREE iff it is the head of a block on buddy list `order`; its links are exact.
 * - A record is USED iff it is the head of an allocated block of 2^order frames.
 * - Every other frame of a free or allocated block has an all-zero INTERIOR record. Splitting
 *   writes the new upper heads, merging clears the absorbed heads, so no record is ever stale:
 *   a merge that finds a FREE sibling of the right order has found a real free block.
 * - Blocks are maximally merged: a free block's buddy is never a free block of the same order.
 *
 * Per-CPU caches: owned by their CPU, no locked instruction on the owner's path.
 * The order-0 fast path (allocate_frame, deallocate_frame) runs on the calling CPU's cache
 * only, like Linux's per-CPU page lists, whose owner disables interrupts instead of locking.
 * A cache has two flags, busy (written only by its owner) and stop (written only under
 * drain_lock; "stop" below means its CACHE_FROZEN bit). The handshake is Dekker's, with the
 * expensive half moved to the rare side:
 *
 *   owner (every operation)                 remote (drain, audit: frame_cpu_caches_freeze)
 *   busy = 1            (plain store)       take drain_lock
 *   compiler barrier                        stop = 1                 (plain store)
 *   if stop (acquire load):                 plat_barrier_all_cpus()  (IPI / membarrier)
 *       busy = 0 (release), wait for        wait until busy == 0     (acquire loads)
 *       drain_lock, retry                   ... use the cache ...
 *   ... use the cache ...                   stop = 0                 (release store)
 *   busy = 0            (release store)     release drain_lock
 *
 * Why it excludes: the owner's store-then-load has no fence, so the processor may perform
 * the load before the store is visible. plat_barrier_all_cpus makes the owner execute a full
 * barrier somewhere during the remote's call. If that barrier comes after the owner's load
 * of stop, the owner's busy = 1 preceded it and is visible when the remote reads busy, so the
 * remote waits for the owner's release of busy. If it comes before the load, the remote's
 * stop = 1 (stored before the call) is visible to the load, so the owner backs off without
 * touching the cache. Either way at most one side works on the cache, and the data hand-over
 * is a release/acquire pair on busy (owner -> remote) or stop (remote -> owner), which is
 * also what makes it visible to ThreadSanitizer. The owner pays two plain stores and a load;
 * a remote drain pays one barrier for all caches it takes, and none at all when it only
 * takes its own CPU's cache (its owner is the caller, who is not inside the fast path).
 *
 * The fast paths do not test plat_trace_on either: frame_alloc_trace_changed sets
 * CACHE_TRACED in every stop word while tracing is on, which sends the owner to the slow
 * paths, and they trace.
 *
 * Requirements: at most one thread runs as a given CPU at a time (as on a real CPU with
 * preemption off), and an interrupt handler on a CPU never interrupts that CPU's fast path
 * (mmsim delivers interrupts only at interrupt windows). Plain pthreads that act as CPUs
 * through host_set_current_cpu (tests) satisfy both; no IPI delivery is needed.
 */
#include "frame_alloc.h"

#include "frame_alloc_state.h"
#include "frame_section.h"
#include "kstring.h"
#include "page_info.h"
#include "platform.h"

struct frame_alloc_state frame_alloc_state;
struct frame_cpu_cache frame_cpu_caches[FRAME_MAX_CPUS];
paddr_t frame_section_table_pa;
uint64_t frame_section_window_count;
uint64_t frame_dense_first_pfn;
uint64_t frame_dense_frames;
struct page_info *frame_dense_infos;

static bool lock_ready;

#define ST frame_alloc_state

/* Under ST.lock: the only writer, so a relaxed load and store never lose an update, and
 * free_frames_estimate may read the counter without the lock. */
static inline void buddy_free_add(int64_t delta)
{
	atomic_store_explicit(&ST.buddy_free,
			      atomic_load_explicit(&ST.buddy_free, memory_order_relaxed) +
				      (uint64_t)delta,
			      memory_order_relaxed);
}

/* ---- records --------------------------------------------------------------------------- */

/* Record of a frame known to be managed (a buddy list link or head); none means the lists
 * are corrupt. */
static inline struct page_info *rec(paddr_t pa)
{
	struct page_info *r = frame_record(pa);

	KASSERT(r, "frame: %#llx is linked on a buddy list but has no record", (unsigned long long)pa);
	return r;
}

static inline void rec_set(struct page_info *r, uint64_t rc, uint64_t meta)
{
	atomic_store_explicit(&r->rc, rc, memory_order_relaxed);
	atomic_store_explicit(&r->meta, meta, memory_order_relaxed);
}

static inline uint64_t rec_rc(struct page_info *r)
{
	return atomic_load_explicit(&r->rc, memory_order_relaxed);
}

static inline uint64_t rec_meta(struct page_info *r)
{
	return atomic_load_explicit(&r->meta, memory_order_relaxed);
}

struct page_info *get_page_info_slow(frame_t f)
{
	struct page_info *r = frame_section_lookup(f.base);
	if (!r || page_info_state(r) == PAGE_STATE_ABSENT)
		return NULL;
	return r;
}

/* ---- buddy lists (global lock held) --------------------------------------------------- */

/* Push free block f of order k, whose head record is r. */
static void list_push(unsigned k, paddr_t f, struct page_info *r)
{
	paddr_t head = ST.heads[k];

	rec_set(r, 0, head | PAGE_META(PAGE_STATE_FREE, k));
	if (head)
		atomic_store_explicit(&rec(head)->rc, f, memory_order_relaxed);
	else
		ST.nonempty |= 1u << k;
	ST.heads[k] = f;
}

static void list_unlink(unsigned k, paddr_t f, struct page_info *r)
{
	paddr_t prev = rec_rc(r);
	paddr_t next = rec_meta(r) & PAGE_META_LINK_MASK;

	if (prev) {
		atomic_store_explicit(&rec(prev)->meta, next | PAGE_META(PAGE_STATE_FREE, k),
				      memory_order_relaxed);
	} else {
		ST.heads[k] = next;
		if (!next)
			ST.nonempty &= ~(1u << k);
	}
	if (next)
		atomic_store_explicit(&rec(next)->rc, prev, memory_order_relaxed);
	(void)f;
}

/* Remove free block f of order k from its list and split it down to `order`, keeping the low
 * half; returns f's record. The head record of the result is left as is: the caller writes
 * its new state. */
static struct page_info *take_block(unsigned k, paddr_t f, unsigned order)
{
	struct page_info *r = rec(f);

	list_unlink(k, f, r);
	while (k > order) {
		k--;
		/* a block lies inside one section, whose records are consecutive (A6) */
		list_push(k, f + (PAGE_SIZE << k), r + (1ULL << k));
	}
	buddy_free_add(-(int64_t)(1ULL << order));
	return r;
}

/* Take a block of `order` (0 if there is none) and its record (*r). */
static paddr_t buddy_take(unsigned order, struct page_info **r)
{
	uint32_t avail = ST.nonempty >> order;
	if (!avail)
		return 0;
	unsigned k = order + (unsigned)__builtin_ctz(avail);
	paddr_t f = ST.heads[k];
	*r = take_block(k, f, order);
	return f;
}

static paddr_t buddy_take_lowest(unsigned order, struct page_info **r)
{
	paddr_t best = 0;
	unsigned best_k = 0;

	for (unsigned k = order; k < FRAME_ORDER_COUNT; k++)
		for (paddr_t f = ST.heads[k]; f; f = rec_meta(rec(f)) & PAGE_META_LINK_MASK)
			if (!best || f < best) {
				best = f;
				best_k = k;
			}
	if (best)
		*r = take_block(best_k, best, order);
	return best;
}

/* Give the block (f, order), whose head record is r, back and merge it with free buddies.
 * The head record may hold anything (USED, CACHED): it is cleared here. */
static void buddy_give(paddr_t f, struct page_info *r, unsigned order)
{
	rec_set(r, 0, 0);
	buddy_free_add((int64_t)(1ULL << order));
	for (; order < FRAME_MAX_ORDER; order++) {
		paddr_t b = f ^ (PAGE_SIZE << order);
		/* the buddy may lie outside managed memory: no record, no merge */
		struct page_info *rb = frame_record(b);
		if (!rb || (rec_meta(rb) & (PAGE_META_STATE_MASK | PAGE_META_ORDER_MASK)) !=
				   PAGE_META(PAGE_STATE_FREE, order))
			break;
		list_unlink(order, b, rb);
		rec_set(rb, 0, 0);
		if (b < f) {
			f = b;
			r = rb;
		}
	}
	list_push(order, f, r);
}

/* ---- per-CPU caches ------------------------------------------------------------------- */

static inline unsigned floor_log2(uint32_t x)
{
	return 31u - (unsigned)__builtin_clz(x);
}

/* Fill an empty cache with up to a batch of frames, largest blocks first. The caller works
 * on the cache (its owner inside the fast path, or a remote that froze it). */
static __attribute__((noinline)) uint32_t cache_refill(struct frame_cpu_cache *c)
{
	uint32_t n = 0;

	plat_lock_acquire(&ST.lock);
	while (n < FRAME_CPU_CACHE_BATCH && ST.nonempty) {
		unsigned o = floor_log2(FRAME_CPU_CACHE_BATCH - n);
		if (!(ST.nonempty >> o))
			o = floor_log2(ST.nonempty);
		struct page_info *r = NULL;
		paddr_t f = buddy_take(o, &r);
		/* push high to low so that pops hand out ascending addresses */
		for (uint64_t i = 1ULL << o; i-- > 0;) {
			rec_set(r + i, RC_USED, PAGE_META(PAGE_STATE_CACHED, 0));
			c->frame[n] = f + i * PAGE_SIZE;
			c->info[n++] = r + i;
		}
	}
	atomic_store_explicit(&c->count, n, memory_order_relaxed);
	plat_lock_release(&ST.lock);
	return n;
}

/* Return the `how_many` oldest frames of a cache the caller works on to the buddy lists. */
static __attribute__((noinline)) void cache_drain(struct frame_cpu_cache *c, uint32_t how_many)
{
	uint32_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
	uint32_t m = how_many < n ? how_many : n;

	if (!m)
		return;
	plat_lock_acquire(&ST.lock);
	for (uint32_t i = 0; i < m; i++) {
		struct page_info *r = c->info[i];
		KASSERT(rec_meta(r) == PAGE_META(PAGE_STATE_CACHED, 0),
			"frame: cached frame %#llx has record %#llx", (unsigned long long)c->frame[i],
			(unsigned long long)rec_meta(r));
		buddy_give(c->frame[i], r, 0);
	}
	for (uint32_t i = m; i < n; i++) {
		c->frame[i - m] = c->frame[i];
		c->info[i - m] = c->info[i];
	}
	atomic_store_explicit(&c->count, n - m, memory_order_relaxed);
	plat_lock_release(&ST.lock);
}

static inline struct frame_cpu_cache *this_cpu_cache(void)
{
	unsigned cpu = plat_cpu_id();
	KASSERT(cpu < FRAME_MAX_CPUS, "frame: cpu %u >= FRAME_MAX_CPUS", cpu);
	return &frame_cpu_caches[cpu];
}

/*
 * this_cpu_cache for the order-0 fast paths. frame_alloc_init refuses more CPUs than
 * caches, so plat_cpu_id() < FRAME_MAX_CPUS by the platform's contract; the mask (one
 * instruction instead of a compare and a branch) keeps even a broken platform's id inside
 * the array.
 */
static inline struct frame_cpu_cache *fast_cpu_cache(void)
{
	struct frame_cpu_cache *c = &frame_cpu_caches[plat_cpu_id() & (FRAME_MAX_CPUS - 1)];

	/* Hide where c came from, so that the compiler addresses every field from one pointer
	 * instead of recomputing array base + cpu * 1 KiB + field for each (Linux's RELOC_HIDE). */
	__asm__("" : "+r"(c));
	return c;
}

/* Claim the caller's own cache (see the handshake at the top) and return its stop word:
 * CACHE_SLOW is set if the owner must take the slow path. */
static inline uint32_t cache_claim(struct frame_cpu_cache *c)
{
	atomic_store_explicit(&c->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	return atomic_load_explicit(&c->stop, memory_order_acquire);
}

/* cache_claim for the slow paths: false if a remote CPU has the cache. */
static inline bool cache_enter(struct frame_cpu_cache *c)
{
	return __builtin_expect(!(cache_claim(c) & CACHE_FROZEN), 1);
}

static inline void cache_leave(struct frame_cpu_cache *c)
{
	atomic_store_explicit(&c->busy, 0, memory_order_release);
}

/* A remote CPU holds the cache: let go and wait for it (it holds drain_lock meanwhile). */
static __attribute__((noinline, cold)) void cache_wait_remote(struct frame_cpu_cache *c)
{
	cache_leave(c);
	plat_lock_acquire(&ST.drain_lock);
	plat_lock_release(&ST.drain_lock);
}

/* Pop slot top (count - 1) of the caller's non-empty cache and mark its frame used (its rc
 * is already RC_USED: see page_info.h); leaves. */
static inline paddr_t cache_pop(struct frame_cpu_cache *c, uint64_t top)
{
	atomic_store_explicit(&c->info[top]->meta, PAGE_META(PAGE_STATE_USED, 0), memory_order_relaxed);
	atomic_store_explicit(&c->count, (uint32_t)top, memory_order_relaxed);
	paddr_t f = c->frame[top];
	cache_leave(c);
	return f;
}

/* The cache was empty: refill it (or find nothing) and pop. Entered; leaves. */
static __attribute__((noinline)) paddr_t cache_alloc_slow(struct frame_cpu_cache *c)
{
	uint32_t n = cache_refill(c);
	if (!n) {
		cache_leave(c);
		return 0;
	}
	return cache_pop(c, n - 1);
}

static inline __attribute__((always_inline)) paddr_t cache_alloc(void)
{
	struct frame_cpu_cache *c = this_cpu_cache();

	while (__builtin_expect(!cache_enter(c), 0))
		cache_wait_remote(c);
	uint32_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
	if (__builtin_expect(n == 0, 0))
		return cache_alloc_slow(c);
	return cache_pop(c, n - 1);
}

/* Push a frame whose record r is USED with rc exactly RC_USED on the caller's cache, which
 * has room; leaves. */
static inline void cache_push(struct frame_cpu_cache *c, uint64_t n, paddr_t f, struct page_info *r)
{
	atomic_store_explicit(&r->meta, PAGE_META(PAGE_STATE_CACHED, 0), memory_order_relaxed);
	c->frame[n] = f;
	c->info[n] = r;
	atomic_store_explicit(&c->count, (uint32_t)(n + 1), memory_order_relaxed);
	cache_leave(c);
}

/* The cache was full: return its oldest batch to the buddy lists, then push. Entered; leaves. */
static __attribute__((noinline)) void cache_free_slow(struct frame_cpu_cache *c, paddr_t f,
						      struct page_info *r)
{
	cache_drain(c, FRAME_CPU_CACHE_BATCH);
	cache_push(c, atomic_load_explicit(&c->count, memory_order_relaxed), f, r);
}

static inline void cache_free(struct frame_cpu_cache *c, paddr_t f, struct page_info *r)
{
	/* drop a kind bit that outlived the last reference (cache_push wants exactly RC_USED) */
	atomic_store_explicit(&r->rc, RC_USED, memory_order_relaxed);
	while (__builtin_expect(!cache_enter(c), 0))
		cache_wait_remote(c);
	uint32_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
	if (__builtin_expect(n == FRAME_CPU_CACHE_CAPACITY, 0)) {
		cache_free_slow(c, f, r);
		return;
	}
	cache_push(c, n, f, r);
}

uint64_t free_frames_estimate(void)
{
	unsigned ncpu = plat_cpu_count() < FRAME_MAX_CPUS ? plat_cpu_count() : FRAME_MAX_CPUS;
	uint64_t n = atomic_load_explicit(&ST.buddy_free, memory_order_relaxed);

	for (unsigned i = 0; i < ncpu; i++)
		n += atomic_load_explicit(&frame_cpu_caches[i].count, memory_order_relaxed);
	return n;
}

uint64_t cached_frames(void)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++)
		sum += atomic_load_explicit(&frame_cpu_caches[i].count, memory_order_relaxed);
	return sum;
}

uint64_t frame_cpu_caches_freeze(bool all)
{
	unsigned self = plat_cpu_id();
	uint64_t frozen = 0;

	plat_lock_acquire(&ST.drain_lock);
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++) {
		struct frame_cpu_cache *c = &frame_cpu_caches[i];
		if (!all && !atomic_load_explicit(&c->count, memory_order_relaxed))
			continue;
		atomic_store_explicit(&c->stop,
				      atomic_load_explicit(&c->stop, memory_order_relaxed) |
					      CACHE_FROZEN | CACHE_SLOW,
				      memory_order_relaxed);
		frozen |= 1ULL << i;
	}
	/* The caller's own cache has no other user: no barrier needed for it alone. */
	if (frozen & ~(self < FRAME_MAX_CPUS ? 1ULL << self : 0))
		plat_barrier_all_cpus();
	for (uint64_t m = frozen; m; m &= m - 1) {
		struct frame_cpu_cache *c = &frame_cpu_caches[__builtin_ctzll(m)];
		while (atomic_load_explicit(&c->busy, memory_order_acquire))
			__builtin_ia32_pause();
	}
	return frozen;
}

/* The stop word of an unfrozen cache: CACHE_TRACED (and CACHE_SLOW) while tracing is on. */
static inline uint32_t stop_word(bool traced)
{
	return traced ? CACHE_TRACED | CACHE_SLOW : 0;
}

void frame_cpu_caches_thaw(uint64_t frozen)
{
	for (uint64_t m = frozen; m; m &= m - 1) {
		struct frame_cpu_cache *c = &frame_cpu_caches[__builtin_ctzll(m)];
		uint32_t stop = atomic_load_explicit(&c->stop, memory_order_relaxed);
		atomic_store_explicit(&c->stop, stop_word(stop & CACHE_TRACED), memory_order_release);
	}
	plat_lock_release(&ST.drain_lock);
}

void frame_alloc_trace_changed(void)
{
	if (!lock_ready)
		return;
	plat_lock_acquire(&ST.drain_lock);
	/* release: an owner that sees CACHE_TRACED also sees the new plat_trace_on */
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++)
		atomic_store_explicit(&frame_cpu_caches[i].stop, stop_word(plat_trace_on),
				      memory_order_release);
	plat_lock_release(&ST.drain_lock);
}

void frame_alloc_drain_cpu_caches(void)
{
	if (!lock_ready)
		return;
	uint64_t frozen = frame_cpu_caches_freeze(false);

	for (uint64_t m = frozen; m; m &= m - 1)
		cache_drain(&frame_cpu_caches[__builtin_ctzll(m)], FRAME_CPU_CACHE_CAPACITY);
	frame_cpu_caches_thaw(frozen);
	KTRACE("frame: drained per-CPU caches");
}

/* ---- allocation ----------------------------------------------------------------------- */

static paddr_t alloc_from_buddy(unsigned order, enum frame_strategy strategy)
{
	plat_lock_acquire(&ST.lock);
	struct page_info *r = NULL;
	paddr_t f = strategy == FRAME_STRATEGY_LOWEST ? buddy_take_lowest(order, &r)
						      : buddy_take(order, &r);
	if (f)
		rec_set(r, RC_USED, PAGE_META(PAGE_STATE_USED, order));
	plat_lock_release(&ST.lock);
	return f;
}

frame_t allocate_p2frame_complex(unsigned req_order, unsigned flags, enum frame_strategy strategy,
				 unsigned min_order, unsigned *got_order)
{
	KASSERT(req_order <= FRAME_MAX_ORDER && min_order <= req_order,
		"frame: bad orders req %u min %u", req_order, min_order);
	KASSERT(!(flags & ~FRAME_ZERO), "frame: unknown flags %#x", flags);
	KASSERT(strategy == FRAME_STRATEGY_FAST || strategy == FRAME_STRATEGY_LOWEST,
		"frame: unknown strategy %d", (int)strategy);
	KASSERT(ST.ready, "frame: allocation before frame_alloc_init");

	for (int attempt = 0; attempt < 2; attempt++) {
		for (unsigned o = req_order + 1; o-- > min_order;) {
			paddr_t f = (o == 0 && strategy == FRAME_STRATEGY_FAST) ? cache_alloc()
										: alloc_from_buddy(o, strategy);
			if (!f)
				continue;
			if (flags & FRAME_ZERO)
				kmemset(phys_to_virt(f), 0, (size_t)(PAGE_SIZE << o));
			if (got_order)
				*got_order = o;
			KTRACE("frame: alloc %#llx order %u", (unsigned long long)f, o);
			return (frame_t){ f };
		}
		if (!cached_frames())
			break;
		frame_alloc_drain_cpu_caches();
	}
	KTRACE("frame: alloc order %u..%u failed: out of memory", req_order, min_order);
	return FRAME_NONE;
}

/* Everything allocate_frame does not do inline: a frozen or empty cache. */
static __attribute__((noinline)) frame_t allocate_frame_slow(void)
{
	paddr_t f = cache_alloc();
	if (__builtin_expect(!f, 0))
		return allocate_p2frame_complex(0, 0, FRAME_STRATEGY_FAST, 0, NULL);
	KTRACE("frame: alloc %#llx order 0", (unsigned long long)f);
	return (frame_t){ f };
}

/*
 * The order-0 fast path. Every way off it is a tail call that starts over, so the common
 * case runs as a leaf function (no callee-saved registers, no stack frame).
 */
frame_t allocate_frame(void)
{
	struct frame_cpu_cache *c = fast_cpu_cache();
	uint32_t stop = cache_claim(c);
	/* 64 bits wide, so that it indexes the slots without a zero extension */
	uint64_t top = (uint64_t)atomic_load_explicit(&c->count, memory_order_relaxed) - 1;

	/* frozen or traced (CACHE_SLOW, bit 31 of stop) or empty (top wraps to all ones): one
	 * sign test */
	if (__builtin_expect((int32_t)((uint32_t)top | stop) < 0, 0)) {
		cache_leave(c);
		return allocate_frame_slow();
	}
	return (frame_t){ cache_pop(c, top) };
}

frame_t allocate_zeroed_frame(void)
{
	return allocate_p2frame_complex(0, FRAME_ZERO, FRAME_STRATEGY_FAST, 0, NULL);
}

frame_t allocate_p2frame(unsigned order)
{
	return allocate_p2frame_complex(order, 0, FRAME_STRATEGY_FAST, order, NULL);
}

/* ---- deallocation --------------------------------------------------------------------- */

static const char *const state_names[] = { "interior", "free", "used", "cached", "metadata",
					   "absent" };

static const char *state_name(uint64_t meta)
{
	uint64_t s = (meta & PAGE_META_STATE_MASK) >> PAGE_META_STATE_SHIFT;
	return s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "corrupt";
}

/* Explain why (f, order) cannot be freed. Cold: only reached on a kernel bug. */
static _Noreturn __attribute__((noinline, cold)) void free_misuse(paddr_t f, unsigned order,
								  struct page_info *r)
{
	if (!r || order > FRAME_MAX_ORDER)
		plat_panic("frame: free of unmanaged frame %#llx (order %u)", (unsigned long long)f, order);
	uint64_t meta = rec_meta(r), state = meta & PAGE_META_STATE_MASK;
	if (state == PAGE_META(PAGE_STATE_USED, 0) && (meta & PAGE_META_ORDER_MASK) != order)
		plat_panic("frame: wrong-order free of %#llx: allocated order %u, freed as order %u",
			   (unsigned long long)f, (unsigned)(meta & PAGE_META_ORDER_MASK), order);
	if (state == PAGE_META(PAGE_STATE_FREE, 0) || state == PAGE_META(PAGE_STATE_CACHED, 0))
		plat_panic("frame: double free of %#llx order %u (frame is %s)", (unsigned long long)f,
			   order, state_name(meta));
	if (meta == 0)
		plat_panic("frame: free of interior frame %#llx order %u: not a block head "
			   "(inside a block, or a double free after merging)",
			   (unsigned long long)f, order);
	if (state == PAGE_META(PAGE_STATE_USED, 0))
		plat_panic("frame: free of %#llx which still has %llu references", (unsigned long long)f,
			   (unsigned long long)(rec_rc(r) & RC_COUNT_MASK));
	plat_panic("frame: free of %s frame %#llx order %u", state_name(meta), (unsigned long long)f,
		   order);
}

/* r must be the record of an allocated, unreferenced block of `order` at f being freed;
 * panics on every misuse. */
static inline void check_free_target(paddr_t f, unsigned order, struct page_info *r)
{
	/* meta and count folded into one word: one branch instead of two (deallocate_frames runs
	 * this once per frame) */
	if (__builtin_expect(!r || order > FRAME_MAX_ORDER ||
				     ((rec_meta(r) ^ PAGE_META(PAGE_STATE_USED, order)) |
				      (rec_rc(r) & RC_COUNT_MASK)),
			     0))
		free_misuse(f, order, r);
}

/* The record of such a block, checked. */
static inline struct page_info *checked_free_target(paddr_t f, unsigned order)
{
	struct page_info *r = frame_record(f);

	check_free_target(f, order, r);
	return r;
}

void deallocate_p2frame(frame_t f, unsigned order)
{
	struct page_info *r = checked_free_target(f.base, order);

	KTRACE("frame: free %#llx order %u", (unsigned long long)f.base, order);
	if (order == 0) {
		cache_free(this_cpu_cache(), f.base, r);
		return;
	}
	plat_lock_acquire(&ST.lock);
	KASSERT(rec_meta(r) == PAGE_META(PAGE_STATE_USED, order),
		"frame: concurrent double free of %#llx", (unsigned long long)f.base);
	buddy_give(f.base, r, order);
	plat_lock_release(&ST.lock);
}

/* deallocate_frame off its fast path: misuse (panics), a frozen cache, a full cache. */
static __attribute__((noinline)) void deallocate_frame_slow(frame_t f)
{
	struct page_info *r = checked_free_target(f.base, 0);

	cache_free(this_cpu_cache(), f.base, r);
	KTRACE("frame: free %#llx order 0", (unsigned long long)f.base);
}

/*
 * The order-0 fast path: the checks that catch a double free (the head must be USED with
 * order 0: a FREE, CACHED or INTERIOR record fails) and a free with references left, then a
 * push on this CPU's cache. Anything else starts over in deallocate_frame_slow.
 */
void deallocate_frame(frame_t f)
{
	struct frame_cpu_cache *c = fast_cpu_cache();
	uint64_t i = (f.base >> PAGE_SHIFT) - frame_dense_first_pfn;

	if (__builtin_expect(i >= frame_dense_frames, 0))
		return deallocate_frame_slow(f);
	struct page_info *r = frame_dense_infos + i;
	/* USED, order 0, rc exactly RC_USED (count 0, no kind bit: what cache_push wants) */
	if (__builtin_expect(rec_meta(r) != PAGE_META(PAGE_STATE_USED, 0) || (rec_rc(r) ^ RC_USED), 0))
		return deallocate_frame_slow(f);
	uint32_t stop = cache_claim(c);
	/* 64 bits wide, so that it indexes the slots without a zero extension */
	uint64_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
	/* frozen or traced (CACHE_SLOW, bit 31 of stop) or full (n + 2^31 - CAPACITY reaches bit
	 * 31): one sign test */
	if (__builtin_expect((int32_t)(((uint32_t)n + (0x80000000u - FRAME_CPU_CACHE_CAPACITY)) | stop) < 0, 0)) {
		cache_leave(c);
		return deallocate_frame_slow(f);
	}
	cache_push(c, n, f.base, r);
}

void frame_free_batch_init(struct frame_free_batch *b)
{
	b->n = 0;
}

void frame_free_batch_finish(struct frame_free_batch *b)
{
	if (!b->n)
		return;
	plat_lock_acquire(&ST.lock);
	for (unsigned j = 0; j < b->n; j++)
		buddy_give(b->head[j], b->rec[j], b->order[j]);
	plat_lock_release(&ST.lock);
	b->n = 0;
}

/* The largest order of a naturally aligned block at frame f with at most n frames. */
static unsigned aligned_block_order(paddr_t f, size_t n)
{
	const size_t max_block = (size_t)1 << FRAME_MAX_ORDER;
	uint64_t pfn = f >> PAGE_SHIFT;
	unsigned k = floor_log2((uint32_t)(n < max_block ? n : max_block));

	if (pfn && (unsigned)__builtin_ctzll(pfn) < k)
		k = (unsigned)__builtin_ctzll(pfn);
	return k;
}

void frame_free_run(struct frame_free_batch *b, frame_t first, size_t n)
{
	paddr_t h = first.base;

	while (n) {
		unsigned k = aligned_block_order(h, n);
		size_t len = (size_t)1 << k;
		struct page_info *r;

		if (k == 0) {
			/* to this CPU's cache, whose overflow takes the lock itself */
			deallocate_frame((frame_t){ h });
		} else {
			/* every frame of the block passes deallocate_frame's checks, and becomes
			 * an interior frame of it; the head's record buddy_give rewrites. A6: a
			 * naturally aligned block lies in one window, so with its first and last
			 * frames managed its records are r[0..len) (an unmanaged tail would have
			 * none). */
			r = checked_free_target(h, 0);
			checked_free_target(h + (len - 1) * PAGE_SIZE, 0);
			for (size_t j = 1; j < len; j++) {
				check_free_target(h + j * PAGE_SIZE, 0, r + j);
				rec_set(r + j, 0, 0);
			}
			for (size_t j = 0; j < len && plat_trace_on; j++)
				KTRACE("frame: free %#llx order 0", (unsigned long long)(h + j * PAGE_SIZE));
			if (b->n == FRAME_FREE_BATCH_BLOCKS)
				frame_free_batch_finish(b);
			b->head[b->n] = h;
			b->rec[b->n] = r;
			b->order[b->n++] = (uint8_t)k;
		}
		h += len * PAGE_SIZE;
		n -= len;
	}
}

void deallocate_frames(const frame_t *v, size_t n)
{
	struct frame_free_batch b;
	size_t i = 0;

	frame_free_batch_init(&b);
	while (i < n) {
		size_t m = 1;

		while (i + m < n && v[i + m].base == v[i].base + m * PAGE_SIZE)
			m++;
		frame_free_run(&b, v[i], m);
		i += m;
	}
	frame_free_batch_finish(&b);
}

void frame_split_block(frame_t f, unsigned order)
{
	struct page_info *r = checked_free_target(f.base, order);

	for (uint64_t i = 1; i < (1ULL << order); i++) {
		KASSERT(rec_meta(r + i) == 0, "frame: stale interior record in block %#llx",
			(unsigned long long)f.base);
		rec_set(r + i, RC_USED, PAGE_META(PAGE_STATE_USED, 0));
	}
	rec_set(r, RC_USED, PAGE_META(PAGE_STATE_USED, 0));
	KTRACE("frame: split %#llx order %u into %llu frames", (unsigned long long)f.base, order,
	       (unsigned long long)(1ULL << order));
}

/* ---- accounting ----------------------------------------------------------------------- */

uint64_t total_frames(void)
{
	return ST.total;
}

uint64_t metadata_frames(void)
{
	return ST.metadata;
}

uint64_t free_frames(void)
{
	plat_lock_acquire(&ST.lock);
	uint64_t n = atomic_load_explicit(&ST.buddy_free, memory_order_relaxed);
	plat_lock_release(&ST.lock);
	return n + cached_frames();
}

uint64_t used_frames(void)
{
	return ST.total - free_frames();
}

/* ---- initialisation ------------------------------------------------------------------- */

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

static void set_records(paddr_t s, paddr_t e, uint64_t meta)
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
		if ((b | sz) & PAGE_MASK || !sz || b + sz < b || b + sz > (1ULL << 52) || b == 0 ||
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

	if (!lock_ready) {
		plat_lock_init(&ST.lock);
		plat_lock_init(&ST.drain_lock);
		lock_ready = true;
	}
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++)
		ST.heads[k] = 0;
	ST.nonempty = 0;
	atomic_store_explicit(&ST.buddy_free, 0, memory_order_relaxed);
	for (unsigned i = 0; i < FRAME_MAX_CPUS; i++) {
		atomic_store_explicit(&frame_cpu_caches[i].count, 0, memory_order_relaxed);
		atomic_store_explicit(&frame_cpu_caches[i].busy, 0, memory_order_relaxed);
		atomic_store_explicit(&frame_cpu_caches[i].stop, stop_word(plat_trace_on),
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
	ST.metadata = meta_frames;
	ST.metadata_base = meta_base;
	ST.ready = true;
	KTRACE("frame: init %llu frames in %zu areas, %llu metadata frames at %#llx, %llu windows",
	       (unsigned long long)total, n, (unsigned long long)meta_frames,
	       (unsigned long long)meta_base, (unsigned long long)windows);
	return FRAME_INIT_OK;
}
