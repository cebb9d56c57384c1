/*
 * The kernel's own locks: a spin lock and a reader-writer lock, both spinning on an atomic
 * word, each named by a lock class that the lock-order validator (lockdep.h) checks.
 *
 * Two kinds, stated by the class (lockdep.h):
 * - a spin lock (LOCK_SPIN) is held for a few instructions: its holder never allocates a
 *   frame or heap object, never sleeps and never waits for another CPU;
 * - a sleeping-class lock (LOCK_SLEEP: the address-space lock, as Linux's mmap_lock) may be
 *   held across an allocation and a TLB shootdown. A real kernel would put a waiter to
 *   sleep; here the waiter spins, which is the same for progress, because every wait in
 *   this file takes the CPU's pending interrupts (arch_cpu_relax): a CPU waiting for any of
 *   these locks still acknowledges the shootdown of the CPU that holds it.
 *
 * The reader-writer lock is a big-reader lock: each CPU has a reader slot of its own (on a
 * cache line that no other CPU writes), and a reader takes it with plain stores and loads on
 * its own line and the lock's word: no locked instruction, no line another CPU writes. A
 * writer pays instead: it claims the writer word, makes every CPU that ever read the lock
 * execute a full barrier (plat_barrier_all_cpus: an IPI in a kernel, membarrier(2) here), and
 * waits until every slot is empty; a lock only ever read on the writer's own CPU needs no
 * barrier (the protocol is at the top of klock.c). A CPU's first read of a lock costs more:
 * it joins the lock's readers as a writer takes the lock, so that a reader can tell it is
 * alone (krw_read_alone). It prefers writers: once a writer has claimed the word, new
 * readers wait for it to finish (a stream of page faults cannot starve munmap). So a reader
 * must never take the same lock shared twice (the second take would wait behind a writer
 * that waits for the first); the fault path keeps a list of the spaces it holds and tries
 * (never waits for) a further one.
 */
#ifndef MMSIM_CORE_KLOCK_H
#define MMSIM_CORE_KLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lockdep.h"

struct kspin {
	atomic_uint word; /* 0 free, else 1 + the holder's CPU */
	struct lock_class *cls;
};

/* A lock in static storage, ready before any code runs. */
#define KSPIN_INIT(cls_) { .word = 0, .cls = (cls_) }

void kspin_init(struct kspin *l, struct lock_class *cls);
void kspin_lock(struct kspin *l);
bool kspin_trylock(struct kspin *l);
void kspin_unlock(struct kspin *l);
/* This CPU holds l. */
bool kspin_held_here(const struct kspin *l);

/* One CPU's part of a reader-writer lock: it holds the lock shared. Only that CPU writes
 * it; writers read it. */
struct krw_reader {
	atomic_uint held;
};

/*
 * writer: 1 + the CPU that holds the lock exclusively, or has claimed it and waits for the
 * readers to leave; 0 when no writer has it.
 * cpus: the CPUs that ever took it shared (bit c for CPU c; set at a CPU's first read, under
 * the writer word; never cleared): the only ones a writer must wait for and make execute a
 * barrier. Beside the writer word, which a reader reads anyway.
 * readers: ncpus slots (at most KRW_MAX_CPUS), stride bytes apart, the owner's memory (each
 * on a cache line that only its CPU writes; the owner may keep that CPU's other data beside
 * it).
 */
#define KRW_MAX_CPUS 64u

struct krwlock {
	atomic_uint writer;
	_Atomic uint64_t cpus;
	unsigned ncpus;
	size_t stride;
	struct krw_reader *readers;
	struct lock_class *cls;
};

/* readers: the slot of CPU 0; CPU c's is stride * c bytes after it (every slot zero). */
void krw_init(struct krwlock *l, struct lock_class *cls, struct krw_reader *readers,
	      unsigned ncpus, size_t stride);
/* key: the order among locks of one class taken together (lockdep.h); 0 if only one is
 * ever held. */
void krw_read_lock(struct krwlock *l, uint64_t key);
/* Shared if it can be had now (no writer holds it or waits for it; and, at this CPU's first
 * read of l, no other CPU reads it: a CPU joins the readers while there are none); never
 * waits. */
bool krw_read_trylock(struct krwlock *l, uint64_t key);
void krw_read_unlock(struct krwlock *l);
/* The same for this CPU, me, whose slot r the caller has at hand (a fault, beside its
 * statistics); the lock says whether me is alone in it (krw_read_alone). */
bool krw_read_lock_here(struct krwlock *l, struct krw_reader *r, unsigned me, uint64_t key);
void krw_read_unlock_here(struct krwlock *l, struct krw_reader *r);
void krw_write_lock(struct krwlock *l, uint64_t key);
void krw_write_unlock(struct krwlock *l);
/* The same without telling the validator: for a caller that takes a whole set of locks of
 * one class in their order and tells the validator once, with a token (mm_lock_all). */
void krw_write_lock_untracked(struct krwlock *l);
void krw_write_unlock_untracked(struct krwlock *l);
/* This CPU holds l exclusively. */
bool krw_write_held_here(const struct krwlock *l);
/* With l held shared by this CPU: no other CPU has ever read l, so none holds it, in either
 * mode, until this CPU lets go (klock.c): what the lock guards has no other kernel user. */
static inline bool krw_read_alone(const struct krwlock *l, unsigned me)
{
	return atomic_load_explicit(&((struct krwlock *)l)->cpus, memory_order_relaxed) ==
	       1ull << me;
}

/* One step of a wait loop: a PAUSE, and every few steps arch_cpu_relax (pending IPIs). */
void kspin_wait_step(unsigned *spins);

#endif
