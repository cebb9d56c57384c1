/*
 * Spin locks and reader-writer locks (klock.h). Every wait loop goes through
 * kspin_wait_step, which takes this CPU's pending interrupts (T2 of tlb_flush.c).
 */
#include "klock.h"

#include "arch/x86_64/cpu_ops.h"
#include "platform.h"

/* PAUSEs between two looks at this CPU's interrupts */
#define SPINS_PER_RELAX 64u

void kspin_wait_step(unsigned *spins)
{
	if (++*spins < SPINS_PER_RELAX) {
		arch_pause();
		return;
	}
	*spins = 0;
	arch_cpu_relax();
}

void kspin_init(struct kspin *l, struct lock_class *cls)
{
	atomic_store_explicit(&l->word, 0, memory_order_relaxed);
	l->cls = cls;
}

static inline bool spin_try(struct kspin *l)
{
	unsigned expected = 0;

	return atomic_compare_exchange_strong_explicit(&l->word, &expected, plat_cpu_id() + 1,
						       memory_order_acquire, memory_order_relaxed);
}

void kspin_lock(struct kspin *l)
{
	unsigned spins = 0;

	lockdep_acquire(l->cls, l, 0, false);
	KASSERT(atomic_load_explicit(&l->word, memory_order_relaxed) != plat_cpu_id() + 1,
		"%s taken twice by cpu %u", l->cls->name, plat_cpu_id());
	while (!spin_try(l))
		do
			kspin_wait_step(&spins);
		while (atomic_load_explicit(&l->word, memory_order_relaxed));
}

bool kspin_trylock(struct kspin *l)
{
	if (!spin_try(l))
		return false;
	lockdep_acquire(l->cls, l, 0, true);
	return true;
}

void kspin_unlock(struct kspin *l)
{
	KASSERT(kspin_held_here(l), "%s released by cpu %u, not its holder", l->cls->name,
		plat_cpu_id());
	lockdep_release(l);
	atomic_store_explicit(&l->word, 0, memory_order_release);
}

bool kspin_held_here(const struct kspin *l)
{
	return atomic_load_explicit(&((struct kspin *)l)->word, memory_order_relaxed) ==
	       plat_cpu_id() + 1;
}

/*
 * The reader-writer lock. A reader sets its slot, then looks at the writer word; a writer
 * claims the writer word, then looks at every slot. Both steps are sequentially consistent
 * (the reader's is an exchange: one locked instruction, on its own line), so of a reader
 * and a writer arriving together at least one sees the other: the reader backs off (empties
 * its slot and waits for the writer to finish), or the writer waits for the reader's slot
 * to empty. A reader's release (a plain store) pairs with the writer's acquire load of the
 * slot; a writer's release of the word with the reader's load of it.
 */
void krw_init(struct krwlock *l, struct lock_class *cls, struct krw_reader *readers,
	      unsigned ncpus, size_t stride)
{
	atomic_store_explicit(&l->writer, 0, memory_order_relaxed);
	l->ncpus = ncpus;
	l->stride = stride;
	l->readers = readers;
	l->cls = cls;
	for (unsigned c = 0; c < ncpus; c++)
		atomic_store_explicit(&((struct krw_reader *)((char *)readers + c * stride))->held, 0,
				      memory_order_relaxed);
}

static inline struct krw_reader *reader_slot(const struct krwlock *l, unsigned cpu)
{
	return (struct krw_reader *)((char *)l->readers + cpu * l->stride);
}

static inline struct krw_reader *my_slot(struct krwlock *l)
{
	unsigned me = plat_cpu_id();

	KASSERT(me < l->ncpus, "%s: cpu %u of a lock made for %u", l->cls->name, me, l->ncpus);
	return reader_slot(l, me);
}

/* Shared if no writer has the lock: true; false (the slot empty again) otherwise. */
static inline bool read_try(struct krwlock *l, struct krw_reader *r)
{
	KASSERT(!atomic_exchange_explicit(&r->held, 1, memory_order_seq_cst),
		"%s taken shared twice by cpu %u", l->cls->name, plat_cpu_id());
	if (__builtin_expect(!atomic_load_explicit(&l->writer, memory_order_seq_cst), 1))
		return true;
	atomic_store_explicit(&r->held, 0, memory_order_release);
	return false;
}

/* A writer has the lock: wait until it is gone, then take it shared. */
static void __attribute__((noinline)) read_wait(struct krwlock *l, struct krw_reader *r)
{
	unsigned spins = 0;

	KASSERT(!krw_write_held_here(l), "%s taken shared by its writer (cpu %u)", l->cls->name,
		plat_cpu_id());
	do
		do
			kspin_wait_step(&spins);
		while (atomic_load_explicit(&l->writer, memory_order_relaxed));
	while (!read_try(l, r));
}

void krw_read_lock(struct krwlock *l, uint64_t key)
{
	struct krw_reader *r = my_slot(l);

	lockdep_acquire(l->cls, l, key, false);
	if (!read_try(l, r))
		read_wait(l, r);
}

bool krw_read_trylock(struct krwlock *l, uint64_t key)
{
	struct krw_reader *r = my_slot(l);

	if (atomic_load_explicit(&l->writer, memory_order_relaxed) || !read_try(l, r))
		return false;
	lockdep_acquire(l->cls, l, key, true);
	return true;
}

void krw_read_unlock(struct krwlock *l)
{
	struct krw_reader *r = my_slot(l);

	lockdep_release(l);
	KASSERT(atomic_load_explicit(&r->held, memory_order_relaxed),
		"%s: shared release by cpu %u, which does not hold it", l->cls->name, plat_cpu_id());
	atomic_store_explicit(&r->held, 0, memory_order_release);
}

void krw_write_lock(struct krwlock *l, uint64_t key)
{
	lockdep_acquire(l->cls, l, key, false);
	krw_write_lock_untracked(l);
}

void krw_write_lock_untracked(struct krwlock *l)
{
	unsigned me = plat_cpu_id() + 1, spins = 0;

	KASSERT(!krw_write_held_here(l), "%s taken twice by cpu %u", l->cls->name, plat_cpu_id());
	KASSERT(plat_cpu_id() >= l->ncpus ||
			!atomic_load_explicit(&reader_slot(l, plat_cpu_id())->held,
					      memory_order_relaxed),
		"%s taken exclusively by cpu %u, which holds it shared", l->cls->name,
		plat_cpu_id());
	for (;;) {
		unsigned expected = 0;

		if (atomic_compare_exchange_weak_explicit(&l->writer, &expected, me,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			break;
		kspin_wait_step(&spins);
	}
	/* new readers back off now; wait for the ones inside to leave */
	for (unsigned c = 0; c < l->ncpus; c++)
		while (atomic_load_explicit(&reader_slot(l, c)->held, memory_order_seq_cst))
			kspin_wait_step(&spins);
}

void krw_write_unlock(struct krwlock *l)
{
	lockdep_release(l);
	krw_write_unlock_untracked(l);
}

void krw_write_unlock_untracked(struct krwlock *l)
{
	KASSERT(krw_write_held_here(l), "%s released by cpu %u, not its writer", l->cls->name,
		plat_cpu_id());
	atomic_store_explicit(&l->writer, 0, memory_order_release);
}

bool krw_write_held_here(const struct krwlock *l)
{
	return atomic_load_explicit(&((struct krwlock *)l)->writer, memory_order_relaxed) ==
	       plat_cpu_id() + 1;
}
