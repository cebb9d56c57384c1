/*
 * The page-table locks (pt_lock.h): a power of two of spin locks, one cache line each, the
 * table's page number hashed to pick one.
 */
#include "pt_lock.h"

#include <stdalign.h>
#include <stdint.h>

#include "frame.h"

#define PT_LOCKS 64u

struct pt_lock_slot {
	alignas(64) struct kspin lock;
};

static struct lock_class pt_lock_class = LOCK_CLASS_INIT("page table", LOCK_SPIN);
static struct pt_lock_slot pt_locks[PT_LOCKS];

struct kspin *pt_lock_of(const pte_t *slot)
{
	uint64_t page = (uint64_t)(uintptr_t)slot >> PAGE_SHIFT;

	/* Fibonacci hashing: neighbouring tables land on different locks */
	return &pt_locks[(page * 0x9e3779b97f4a7c15ull) >> 58].lock;
}

void pt_locks_reset(void)
{
	for (unsigned i = 0; i < PT_LOCKS; i++)
		kspin_init(&pt_locks[i].lock, &pt_lock_class);
}
