/*
 * The lock-order validator (lockdep.h). Its own state needs no lock: each CPU's stack of
 * held locks is touched only by that CPU, class slots are claimed with compare-and-exchange,
 * and the order graph only ever gains edges (atomic flags; an edge's stack text is written
 * by the CPU that claimed the edge and read only once the edge says it is complete).
 */
#include "lockdep.h"

#ifdef MMSIM_LOCKDEP

#include "kformat.h"
#include "platform.h"

#define LD_CLASSES 32u
#define LD_HELD 24u
#define LD_CPUS 64u
#define LD_STACK_TEXT 160u

struct held_lock {
	struct lock_class *cls;
	const void *lock;
	uint64_t key;
};

struct cpu_locks {
	unsigned n;
	struct held_lock h[LD_HELD];
};

enum { EDGE_NONE, EDGE_WRITING, EDGE_SET };

static struct cpu_locks held_by[LD_CPUS];
static struct lock_class *classes[LD_CLASSES];
static atomic_uint nclasses;
static atomic_uchar edge[LD_CLASSES][LD_CLASSES];
/* the held stack (and the lock taken) when edge [a][b] was first seen */
static char edge_text[LD_CLASSES][LD_CLASSES][LD_STACK_TEXT];

static struct cpu_locks *this_cpu(void)
{
	unsigned me = plat_cpu_id();

	KASSERT(me < LD_CPUS, "lockdep: cpu %u out of range", me);
	return &held_by[me];
}

static unsigned class_slot(struct lock_class *cls)
{
	unsigned idx = atomic_load_explicit(&cls->index, memory_order_acquire);

	if (idx)
		return idx - 1;
	unsigned slot = atomic_fetch_add(&nclasses, 1);

	KASSERT(slot < LD_CLASSES, "lockdep: more than %u lock classes", LD_CLASSES);
	classes[slot] = cls;
	unsigned expected = 0;

	if (!atomic_compare_exchange_strong(&cls->index, &expected, slot + 1))
		return expected - 1; /* another CPU named it first; this slot stays unused */
	return slot;
}

/* "a, b, c" of the locks held, and then `then` (may be NULL). */
static void stack_text(const struct cpu_locks *c, const struct lock_class *then, char *buf,
		       size_t len)
{
	size_t pos = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < c->n && pos < len; i++)
		pos += kformat(buf + pos, len - pos, "%s%s", i ? ", " : "", c->h[i].cls->name);
	if (then && pos < len)
		kformat(buf + pos, len - pos, "%s-> %s", c->n ? " " : "", then->name);
}

/* The order graph has a path from -> ... -> to. */
static bool reaches(unsigned from, unsigned to)
{
	uint32_t seen = 1u << from, todo = 1u << from;

	while (todo) {
		unsigned a = (unsigned)__builtin_ctz(todo);

		todo &= todo - 1;
		for (unsigned b = 0; b < LD_CLASSES; b++) {
			if (atomic_load_explicit(&edge[a][b], memory_order_acquire) == EDGE_NONE)
				continue;
			if (b == to)
				return true;
			if (!(seen & (1u << b))) {
				seen |= 1u << b;
				todo |= 1u << b;
			}
		}
	}
	return false;
}

/* The first edge on a path from -> ... -> to (for the report). */
static unsigned first_step(unsigned from, unsigned to)
{
	for (unsigned b = 0; b < LD_CLASSES; b++)
		if (atomic_load_explicit(&edge[from][b], memory_order_acquire) != EDGE_NONE &&
		    (b == to || reaches(b, to)))
			return b;
	return to;
}

static void record_edge(unsigned a, unsigned b, const struct cpu_locks *c, struct lock_class *then)
{
	unsigned char expected = EDGE_NONE;

	if (atomic_load_explicit(&edge[a][b], memory_order_relaxed) != EDGE_NONE)
		return;
	if (!atomic_compare_exchange_strong(&edge[a][b], &expected, EDGE_WRITING))
		return;
	stack_text(c, then, edge_text[a][b], LD_STACK_TEXT);
	atomic_store_explicit(&edge[a][b], EDGE_SET, memory_order_release);
}

void lockdep_acquire(struct lock_class *cls, const void *lock, uint64_t key, bool trylock)
{
	struct cpu_locks *c = this_cpu();
	unsigned me = plat_cpu_id(), slot = class_slot(cls);
	char now[LD_STACK_TEXT];

	for (unsigned i = 0; i < c->n; i++) {
		const struct held_lock *h = &c->h[i];

		if (h->lock == lock) {
			stack_text(c, cls, now, sizeof(now));
			plat_panic("lockdep: cpu %u takes %s recursively (held: %s)", me, cls->name, now);
		}
		if (h->cls == cls) {
			if (!trylock && (key == 0 || key <= h->key)) {
				stack_text(c, cls, now, sizeof(now));
				plat_panic("lockdep: cpu %u takes two %s locks out of order (key %llu after %llu; held: %s)",
					   me, cls->name, (unsigned long long)key,
					   (unsigned long long)h->key, now);
			}
			continue;
		}
		if (trylock)
			continue; /* a try never waits: it cannot close a cycle */
		unsigned hs = class_slot(h->cls);

		if (reaches(slot, hs)) {
			unsigned step = first_step(slot, hs);
			char before[LD_STACK_TEXT];

			stack_text(c, cls, now, sizeof(now));
			if (atomic_load_explicit(&edge[slot][step], memory_order_acquire) == EDGE_SET)
				kformat(before, sizeof(before), "%s", edge_text[slot][step]);
			else
				kformat(before, sizeof(before), "(being recorded)");
			plat_panic("lockdep: lock order inversion on cpu %u: %s taken while holding %s, but %s was taken before %s; this cpu: %s; earlier: %s",
				   me, cls->name, h->cls->name, classes[step]->name, cls->name, now,
				   before);
		}
	}
	if (!trylock) {
		for (unsigned i = 0; i < c->n; i++) {
			unsigned hs = class_slot(c->h[i].cls);

			if (hs != slot)
				record_edge(hs, slot, c, cls);
		}
	}
	if (cls->kind == LOCK_SLEEP && !trylock)
		lockdep_might_sleep(cls->name);
	KASSERT(c->n < LD_HELD, "lockdep: cpu %u holds more than %u locks", me, LD_HELD);
	c->h[c->n++] = (struct held_lock){ cls, lock, key };
}

void lockdep_release(const void *lock)
{
	struct cpu_locks *c = this_cpu();

	for (unsigned i = c->n; i-- > 0;) {
		if (c->h[i].lock != lock)
			continue;
		for (unsigned j = i + 1; j < c->n; j++)
			c->h[j - 1] = c->h[j];
		c->n--;
		return;
	}
	plat_panic("lockdep: cpu %u releases a lock it does not hold", plat_cpu_id());
}

static void forbid_spin(const char *what, const char *rule)
{
	struct cpu_locks *c = this_cpu();

	for (unsigned i = 0; i < c->n; i++) {
		if (c->h[i].cls->kind != LOCK_SPIN)
			continue;
		char now[LD_STACK_TEXT];

		stack_text(c, NULL, now, sizeof(now));
		plat_panic("lockdep: cpu %u: %s (%s) with spin lock %s held (held: %s)", plat_cpu_id(),
			   what, rule, c->h[i].cls->name, now);
	}
}

void lockdep_might_sleep(const char *what)
{
	forbid_spin(what, "may sleep");
}

void lockdep_might_wait(const char *what)
{
	forbid_spin(what, "waits for another cpu");
}

void lockdep_reset(void)
{
	for (unsigned i = 0; i < LD_CPUS; i++)
		held_by[i].n = 0;
}

#endif
