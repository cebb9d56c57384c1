/*
 * Local page replacement: `limit a N` keeps at most N resident private pages in a space;
 * a fault that makes one more resident first evicts one chosen by the machine's policy
 * among the space's own (the contract's "Reclaim and swap"):
 *
 *   fifo   the page that became resident the longest ago;
 *   lru    the page whose last access is the oldest: the processor reports every access,
 *          TLB hits included (mm_access_seen), which no x86 processor does;
 *   clock  the pages stand in a circle of N places; a new page takes the place of the one it
 *          replaced, or the next free place; the hand looks at the accessed bit of the
 *          page's PTE: set, it is cleared (and the page invalidated in every TLB) and the
 *          hand moves on; clear, the page is the victim and the hand moves one past it;
 *   opt    the page whose next access by the space is the farthest away or never comes,
 *          asked of the host's oracle (the scenario's own future); ties go to the page
 *          resident the longest.
 *
 * Private pages: a real frame (not the zero frame) in an anonymous private grant. A page
 * that leaves by any other way (munmap, global reclaim, PROT_NONE) leaves a stale place that
 * is found and emptied before a victim is chosen.
 *
 * Locks: the state is the space's and is changed under its lock (the mm lock), except the
 * access stamps of lru, which the processor writes with relaxed atomics.
 */
#ifndef MMSIM_CORE_REPLACE_POLICY_H
#define MMSIM_CORE_REPLACE_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "user_mm.h"

enum replace_policy {
	REPLACE_FIFO,
	REPLACE_LRU,
	REPLACE_CLOCK,
	REPLACE_OPT,
	REPLACE_POLICY_COUNT,
};
const char *replace_policy_name(enum replace_policy p);

/* Boot: the machine's policy. */
void replace_configure(enum replace_policy p);
enum replace_policy replace_policy_now(void);

/* The oracle for opt: when (in any increasing unit) as next accesses page va, counting from
 * the access to now_va under way; UINT64_MAX for never. */
typedef uint64_t (*replace_oracle_t)(void *ctx, struct addr_space *as, uint64_t va,
				     uint64_t now_va);
void replace_set_oracle(replace_oracle_t fn, void *ctx);

/* `limit`: n resident private pages at most (0: no limit). Evicts down to n at once, in
 * address order of choice for the pages already resident. ENOMEM if the state cannot be
 * allocated, or swap cannot take the excess. */
enum mm_status mm_set_limit(struct addr_space *as, uint64_t n);
uint64_t mm_limit_of(struct addr_space *as);

/* The processor's report of an access by the space current on this CPU (lru): the call
 * costs one load while no space runs lru under a limit. */
extern _Atomic unsigned replace_lru_spaces;
void mm_access_seen_slow(uint64_t va);
static inline void mm_access_seen(uint64_t va)
{
	if (__builtin_expect(atomic_load_explicit(&replace_lru_spaces, memory_order_relaxed) != 0, 0))
		mm_access_seen_slow(va);
}

/* The policy's state, for `show policy`: the places in order with their page, stamps
 * (arrival, last access) and accessed bit; the hand. */
struct replace_view_place {
	bool used;
	uint64_t va, arrived, used_at;
	bool accessed;
};
struct replace_view {
	enum replace_policy policy;
	uint64_t limit;
	unsigned places, hand;
};
/* Fills v and calls fn for every place; false without a limit. */
bool replace_view(struct addr_space *as, struct replace_view *v,
		  void (*fn)(void *ctx, unsigned i, const struct replace_view_place *p), void *ctx);

#endif
