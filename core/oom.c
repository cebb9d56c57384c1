/*
 * The memory manager's side of running out of memory: what the pressure governor needs from
 * it (the live address spaces as victims, a way to kill one, empty page tables to reclaim)
 * and the hand-off from the page-fault handler to the governor. A kill and an exit end a
 * space the same way (addr_space_exit).
 *
 * Invariants kept here:
 * - O1 a space is destroyed by a kill only after every CPU left it: CPUs whose CR3 holds it
 *   get VECTOR_LEAVE_ADDRESS_SPACE and switch to the kernel's tables; the killer waits for
 *   used_by to empty (taking its own interrupts meanwhile), so no CPU walks freed tables;
 * - O2 a doomed space is never switched to again (addr_space_switch refuses it), and is not
 *   listed as a victim twice;
 * - O3 the governor is called with no address-space lock held: a kill, the victim list and
 *   the table shrinker take the registry lock and the spaces' locks (L1, L2 in
 *   addr_space.c).
 */
#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "mm_internal.h"
#include "lockdep.h"
#include "platform.h"
#include "pressure.h"

#define KTRACE_KIND TRACE_PRESSURE

/*
 * A fault needs its page and, at worst, a page table at each of three levels: ask for that
 * much, so the retried access does not run out again half-way.
 */
#define FAULT_FRAMES_NEEDED 4

static size_t list_victims(struct oom_candidate *out, size_t max, size_t skip)
{
	size_t n = 0, seen = 0;

	mm_registry_lock();
	for (struct addr_space *as = mm_registry_first(); as && n < max; as = as->next) {
		unsigned k = 0;

		as_lock_write(as); /* a consistent rss */
		if (as->dead || atomic_load(&as->doomed) || seen++ < skip) {
			as_unlock_write(as);
			continue;
		}
		for (const char *name = addr_space_name(as); name[k] && k + 1 < sizeof(out[n].name);
		     k++)
			out[n].name[k] = name[k];
		out[n].name[k] = 0;
		out[n].rss = as_rss_locked(as);
		as_unlock_write(as);
		out[n].seq = as->seq;
		out[n].ref = as;
		n++;
	}
	mm_registry_unlock();
	return n;
}

static void leave_interrupt(unsigned vector)
{
	struct addr_space *cur = as_current_on(plat_cpu_id());

	(void)vector;
	if (cur && atomic_load(&cur->doomed))
		addr_space_switch(NULL);
}

void addr_space_exit(struct addr_space *as)
{
	unsigned me = plat_cpu_id();
	uint64_t others;
	bool dead;

	as_lock_read(as);
	dead = as->dead;
	as_unlock_read(as);
	/* one killer: a second exit (or kill) of the same space leaves it to the first */
	if (dead || atomic_exchange(&as->doomed, true))
		return;
	addr_space_hold(as); /* keeps the object while CPUs leave it: addr_space_release below */
	if (as_current_on(me) == as)
		addr_space_switch(NULL);
	others = atomic_load(&as->used_by);
	for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++)
		if (others & (1ull << cpu))
			arch_send_ipi(cpu, VECTOR_LEAVE_ADDRESS_SPACE);
	lockdep_might_wait("the wait for every cpu to leave a space");
	while (atomic_load(&as->used_by))
		arch_cpu_relax();
	KTRACE("mm: every cpu left %s's address space", addr_space_name(as));
	addr_space_destroy(as);
	addr_space_release(as);
	pressure_update();
}

static void kill_space(void *ref)
{
	addr_space_exit(ref);
}

static const struct oom_victim_source victims = {list_victims, kill_space};

/* Evacuation: page tables left empty (by rollbacks) in every live space. */
static uint64_t reclaim_tables(void)
{
	uint64_t total = 0;

	mm_registry_lock();
	for (struct addr_space *as = mm_registry_first(); as; as = as->next) {
		struct flusher fl;
		unsigned n;

		as_lock_write(as);
		if (as->dead) {
			as_unlock_write(as);
			continue;
		}
		do {
			flusher_init(&fl, as);
			n = mapper_reclaim_empty_tables(&as->mapper, &fl.rel);
			if (n) {
				fl.all = true; /* paging-structure caches hold the unlinked tables */
				flusher_flush(&fl);
			}
			total += n;
		} while (n == TABLE_RELEASE_CAPACITY);
		as_unlock_write(as);
	}
	mm_registry_unlock();
	return total;
}

bool mm_oom_init(void)
{
	if (!interrupt_register(VECTOR_LEAVE_ADDRESS_SPACE, leave_interrupt))
		return false;
	pressure_set_victim_source(&victims);
	return pressure_register_shrinker("empty page tables", reclaim_tables);
}

enum pf_status mm_oom_from_fault(struct addr_space *as)
{
	switch (on_oom(FAULT_FRAMES_NEEDED, as)) {
	case OOM_RETRY:
		return PF_OK;
	case OOM_KILLED_CURRENT:
		return PF_KILLED;
	case OOM_FROZEN:
	case OOM_NO_VICTIM:
		break;
	}
	return PF_OOM;
}
