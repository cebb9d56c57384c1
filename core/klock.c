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
 * The reader-writer lock, Dekker's handshake with the expensive half on the writer's side
 * (as the frame allocator's per-CPU caches do, frame_cpu_cache.c):
 *
 *   reader (CPU c, bit c in cpus)           writer
 *   slot = 1            (plain store)       claim writer: 0 -> me    (locked, full barrier)
 *   compiler barrier                        if cpus has a bit but mine:
 *   if writer (acquire load):                   plat_barrier_all_cpus() (IPI / membarrier)
 *       slot = 0 (release), wait for        wait until the slot of every CPU in cpus is 0
 *       writer == 0, retry                      (acquire loads)
 *   ... read ...                            ... write ...
 *   slot = 0            (release store)     writer = 0               (release store)
 *
 * Why it excludes: the reader's store-then-load has no fence, so its processor may perform
 * the load before the store is visible. plat_barrier_all_cpus makes the reader's CPU execute
 * a full barrier somewhere during the writer's call. If that barrier comes after the
 * reader's load of the writer word, the slot's store preceded it and is visible when the
 * writer reads the slot: the writer waits. If it comes before the load, the writer's claim
 * (made before the call) is visible to the load: the reader backs off. The data hand-over
 * is a release/acquire pair on the slot (reader -> writer) or on the writer word (writer ->
 * reader), which is also what ThreadSanitizer follows.
 *
 * A CPU's first read adds its bit to cpus, and only then may it take the lock this way. It
 * joins as a writer takes the lock (claim, barrier, wait for the readers inside), sets its
 * bit and its slot, and lets go of the writer word: cpus changes only under the writer word,
 * so a writer sees every CPU whose slot may be set, and waits for those CPUs only; a lock
 * read on the writer's CPU alone (one CPU, or independent processes on their own CPUs) costs
 * its writers no barrier. And no CPU joins while another reads: a reader alone in cpus
 * (krw_read_alone) knows that no other CPU holds the lock, in either mode, until it lets go.
 */
void krw_init(struct krwlock *l, struct lock_class *cls, struct krw_reader *readers,
	      unsigned ncpus, size_t stride)
{
	KASSERT(ncpus <= KRW_MAX_CPUS, "%s made for %u cpus (at most %u)", cls->name, ncpus,
		KRW_MAX_CPUS);
	atomic_store_explicit(&l->writer, 0, memory_order_relaxed);
	atomic_store_explicit(&l->cpus, 0, memory_order_relaxed);
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

static inline struct krw_reader *my_slot(struct krwlock *l, unsigned me)
{
	KASSERT(me < l->ncpus, "%s: cpu %u of a lock made for %u", l->cls->name, me, l->ncpus);
	return reader_slot(l, me);
}

/*
 * With the writer word claimed: make the CPUs in `others` (readers of l, not the caller)
 * execute a barrier, so that every slot they set before the claim is visible, and wait
 * until none of them holds l. wait false: give up at the first one inside instead (false).
 */
static bool wait_readers(struct krwlock *l, uint64_t others, bool wait)
{
	unsigned spins = 0;

	if (!others)
		return true;
	lockdep_might_wait("the all-cpu barrier");
	plat_barrier_all_cpus();
	for (; others; others &= others - 1) {
		struct krw_reader *r = reader_slot(l, (unsigned)__builtin_ctzll(others));

		while (atomic_load_explicit(&r->held, memory_order_acquire)) {
			if (!wait)
				return false;
			kspin_wait_step(&spins);
		}
	}
	return true;
}

/*
 * This CPU's first read of l: it joins cpus as a writer would take the lock (the writer
 * word claimed, the readers inside waited for), so that the set changes only while no CPU
 * reads: a reader that finds itself alone in cpus stays alone until it lets go
 * (krw_read_alone). wait: wait for the readers inside, else give up (a try). true: held
 * shared; false: a writer has the lock, or (!wait) another CPU reads it.
 */
static __attribute__((noinline)) bool read_try_first(struct krwlock *l, struct krw_reader *r,
						      unsigned me, bool wait)
{
	unsigned expected = 0;
	uint64_t others;

	if (!atomic_compare_exchange_strong_explicit(&l->writer, &expected, me + 1,
						     memory_order_seq_cst, memory_order_relaxed))
		return false;
	others = atomic_load_explicit(&l->cpus, memory_order_seq_cst);
	if (!wait_readers(l, others, wait)) {
		atomic_store_explicit(&l->writer, 0, memory_order_release);
		return false;
	}
	/* the next writer's claim reads the release below: it sees both stores */
	atomic_store_explicit(&l->cpus, others | 1ull << me, memory_order_relaxed);
	atomic_store_explicit(&r->held, 1, memory_order_relaxed);
	atomic_store_explicit(&l->writer, 0, memory_order_release);
	return true;
}

/* Shared if no writer has the lock: true; false (the slot empty again) otherwise. */
static inline bool read_try(struct krwlock *l, struct krw_reader *r, unsigned me, bool wait)
{
	KASSERT(!atomic_load_explicit(&r->held, memory_order_relaxed),
		"%s taken shared twice by cpu %u", l->cls->name, me);
	if (__builtin_expect(!(atomic_load_explicit(&l->cpus, memory_order_relaxed) >> me & 1), 0))
		return read_try_first(l, r, me, wait);
	atomic_store_explicit(&r->held, 1, memory_order_relaxed);
	/* the writer's plat_barrier_all_cpus orders the store before the load (above) */
	atomic_signal_fence(memory_order_seq_cst);
	if (__builtin_expect(!atomic_load_explicit(&l->writer, memory_order_acquire), 1))
		return true;
	atomic_store_explicit(&r->held, 0, memory_order_release);
	return false;
}

/* A writer has the lock: wait until it is gone, then take it shared. */
static void __attribute__((noinline)) read_wait(struct krwlock *l, struct krw_reader *r,
						unsigned me)
{
	unsigned spins = 0;

	KASSERT(!krw_write_held_here(l), "%s taken shared by its writer (cpu %u)", l->cls->name,
		me);
	do
		do
			kspin_wait_step(&spins);
		while (atomic_load_explicit(&l->writer, memory_order_relaxed));
	while (!read_try(l, r, me, true));
}

void krw_read_lock(struct krwlock *l, uint64_t key)
{
	unsigned me = plat_cpu_id();

	krw_read_lock_here(l, my_slot(l, me), me, key);
}

bool krw_read_lock_here(struct krwlock *l, struct krw_reader *r, unsigned me, uint64_t key)
{
	lockdep_acquire(l->cls, l, key, false);
	if (!read_try(l, r, me, true))
		read_wait(l, r, me);
	return krw_read_alone(l, me);
}

bool krw_read_trylock(struct krwlock *l, uint64_t key)
{
	unsigned me = plat_cpu_id();
	struct krw_reader *r = my_slot(l, me);

	if (atomic_load_explicit(&l->writer, memory_order_relaxed) || !read_try(l, r, me, false))
		return false;
	lockdep_acquire(l->cls, l, key, true);
	return true;
}

void krw_read_unlock(struct krwlock *l)
{
	krw_read_unlock_here(l, my_slot(l, plat_cpu_id()));
}

void krw_read_unlock_here(struct krwlock *l, struct krw_reader *r)
{
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
	unsigned me = plat_cpu_id(), spins = 0;
	uint64_t others;

	KASSERT(!krw_write_held_here(l), "%s taken twice by cpu %u", l->cls->name, me);
	KASSERT(me >= l->ncpus ||
			!atomic_load_explicit(&reader_slot(l, me)->held, memory_order_relaxed),
		"%s taken exclusively by cpu %u, which holds it shared", l->cls->name, me);
	for (;;) {
		unsigned expected = 0;

		if (atomic_compare_exchange_weak_explicit(&l->writer, &expected, me + 1,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			break;
		kspin_wait_step(&spins);
	}
	/* new readers back off now; the ones inside are seen once their CPUs made a barrier */
	others = atomic_load_explicit(&l->cpus, memory_order_seq_cst);
	if (me < KRW_MAX_CPUS)
		others &= ~(1ull << me);
	wait_readers(l, others, true);
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
