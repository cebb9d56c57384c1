/*
 * Spin locks and reader-writer locks (klock.h). Every wait loop goes through
 * kspin_wait_step, which takes this CPU's pending interrupts (T2 of tlb_flush.c).
 */
#include "klock.h"

#include "arch/x86_64/cpu_ops.h"
#include "platform.h"

#define RW_READERS 0x3fffffffull
#define RW_WRITER (1ull << 30)
#define RW_WAITER (1ull << 32)
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

void krw_init(struct krwlock *l, struct lock_class *cls)
{
	atomic_store_explicit(&l->word, 0, memory_order_relaxed);
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
	l->cls = cls;
}

/* Shared if no writer holds or waits; false otherwise (or on a lost race). */
static inline bool read_try(struct krwlock *l)
{
	uint64_t v = atomic_load_explicit(&l->word, memory_order_relaxed);

	while (!(v & ~RW_READERS)) {
		if (atomic_compare_exchange_weak_explicit(&l->word, &v, v + 1, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

void krw_read_lock(struct krwlock *l, uint64_t key)
{
	unsigned spins = 0;

	lockdep_acquire(l->cls, l, key, false);
	KASSERT(!krw_write_held_here(l), "%s taken shared by its writer (cpu %u)", l->cls->name,
		plat_cpu_id());
	while (!read_try(l))
		kspin_wait_step(&spins);
}

bool krw_read_trylock(struct krwlock *l, uint64_t key)
{
	if (!read_try(l))
		return false;
	lockdep_acquire(l->cls, l, key, true);
	return true;
}

void krw_read_unlock(struct krwlock *l)
{
	lockdep_release(l);
	uint64_t old = atomic_fetch_sub_explicit(&l->word, 1, memory_order_release);

	KASSERT(old & RW_READERS, "%s: shared release without a reader", l->cls->name);
}

void krw_write_lock(struct krwlock *l, uint64_t key)
{
	lockdep_acquire(l->cls, l, key, false);
	krw_write_lock_untracked(l);
}

void krw_write_lock_untracked(struct krwlock *l)
{
	unsigned spins = 0;
	uint64_t v;

	KASSERT(!krw_write_held_here(l), "%s taken twice by cpu %u", l->cls->name, plat_cpu_id());
	v = atomic_load_explicit(&l->word, memory_order_relaxed);
	/* fast path: free, nobody waiting */
	if (v == 0 && atomic_compare_exchange_strong_explicit(&l->word, &v, RW_WRITER,
							      memory_order_acquire,
							      memory_order_relaxed))
		goto taken;
	v = atomic_fetch_add_explicit(&l->word, RW_WAITER, memory_order_relaxed) + RW_WAITER;
	for (;;) {
		if (!(v & (RW_READERS | RW_WRITER))) {
			if (atomic_compare_exchange_weak_explicit(&l->word, &v,
								  (v - RW_WAITER) | RW_WRITER,
								  memory_order_acquire,
								  memory_order_relaxed))
				break;
			continue;
		}
		kspin_wait_step(&spins);
		v = atomic_load_explicit(&l->word, memory_order_relaxed);
	}
taken:
	atomic_store_explicit(&l->owner, plat_cpu_id() + 1, memory_order_relaxed);
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
	atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
	atomic_fetch_and_explicit(&l->word, ~RW_WRITER, memory_order_release);
}

bool krw_write_held_here(const struct krwlock *l)
{
	return atomic_load_explicit(&((struct krwlock *)l)->owner, memory_order_relaxed) ==
	       plat_cpu_id() + 1;
}

bool krw_is_locked(const struct krwlock *l)
{
	return atomic_load_explicit(&((struct krwlock *)l)->word, memory_order_relaxed) &
	       (RW_READERS | RW_WRITER);
}
