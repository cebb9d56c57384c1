/*
 * The lock-order validator (the idea of Linux's lockdep), on in debug builds (MMSIM_LOCKDEP).
 *
 * Every kernel lock belongs to a class (a name and a kind). For each CPU the validator keeps
 * the stack of locks it holds; for the whole kernel, the order in which classes were ever
 * taken (an edge A -> B when B was taken while A was held, with the stack of lock names of
 * that moment). It panics (plat_panic: exit 3), naming both stacks, on
 * - an inversion: taking B while holding A when B -> ... -> A was seen before;
 * - a recursive take: a lock this CPU already holds;
 * - two locks of one class out of order: they must be taken by increasing key (the address
 *   spaces' creation order), the second one's key above the first's;
 * - a forbidden call with a spin lock held: an allocation that may sleep
 *   (lockdep_might_sleep), taking a sleeping-class lock, or a wait for another CPU's
 *   acknowledgement (lockdep_might_wait).
 *
 * Release builds compile every hook to nothing.
 */
#ifndef MMSIM_CORE_LOCKDEP_H
#define MMSIM_CORE_LOCKDEP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum lock_kind {
	LOCK_SPIN,  /* never held across an allocation, a sleep or a wait for another CPU */
	LOCK_SLEEP, /* may be held across them (a real kernel's waiter would sleep) */
};

struct lock_class {
	const char *name;
	enum lock_kind kind;
	atomic_uint index; /* 1 + the validator's slot, 0 until first taken */
};

#define LOCK_CLASS_INIT(name_, kind_) { .name = (name_), .kind = (kind_), .index = 0 }

#ifdef MMSIM_LOCKDEP
void lockdep_acquire(struct lock_class *cls, const void *lock, uint64_t key, bool trylock);
void lockdep_release(const void *lock);
void lockdep_might_sleep(const char *what);
void lockdep_might_wait(const char *what);
/* Forget the locks every CPU holds (a new boot of the simulated machine, after a panic that
 * left some held); the orders seen stay: they are facts about the code. */
void lockdep_reset(void);
#else
static inline void lockdep_acquire(struct lock_class *cls, const void *lock, uint64_t key,
				   bool trylock)
{
	(void)cls, (void)lock, (void)key, (void)trylock;
}
static inline void lockdep_release(const void *lock)
{
	(void)lock;
}
static inline void lockdep_might_sleep(const char *what)
{
	(void)what;
}
static inline void lockdep_might_wait(const char *what)
{
	(void)what;
}
static inline void lockdep_reset(void)
{
}
#endif

#endif
