/*
 * One user-mode memory access as the processor executes it, on the calling CPU: translate
 * through the TLB and page walk; on #PF raise exception 14 into the kernel (core's exception
 * entry; the handler reads CR2 through the seam) and, when the handler returns "restart",
 * retry the access, as hardware restarts the faulting instruction. The only such loop: the
 * scenario runner, the tests, the benchmarks and the fuzz targets all access memory with it.
 *
 * A TLB hit or a translation that needs no fault, with no observer, is handled inline.
 */
#ifndef MMSIM_SIM_USER_ACCESS_H
#define MMSIM_SIM_USER_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "host/cpu_threads.h"
#include "replace_policy.h"
#include "x86_cpu.h"

/*
 * A handler that keeps restarting an access that keeps faulting is a kernel bug. Several
 * faults in a row are legitimate (a spurious fault from a stale TLB entry; another CPU
 * unmapping and mapping the page again between the fault and the retry).
 */
#define USER_ACCESS_MAX_FAULTS 64

enum user_access_result {
	UA_OK,
	UA_SEGV,    /* refused by the kernel, or #GP (non-canonical) */
	UA_OOM,     /* no memory and the system is frozen at the picker */
	UA_KILLED,  /* the process was chosen as the OOM victim */
	UA_BUS,     /* the page tables lead outside physical memory (bad_pa) */
	UA_BEYOND,  /* translated to a physical address past the end of memory (pa) */
	UA_LOOP,    /* the handler keeps restarting an access that keeps faulting */
	UA_STOPPED, /* the observer's `translated` returned false */
};

struct user_access;

/* Optional observers, for narration and checks; both may be NULL. */
struct user_access_observer {
	/* after every translation, with its walk trace; false stops the access (UA_STOPPED) */
	bool (*translated)(struct user_access *a, struct x86_cpu *cpu,
			   const struct x86_walk_trace *t, const struct x86_xlate *x);
	/* after every #PF handled, with the handler's verdict (an enum pf_status) */
	void (*faulted)(struct user_access *a, struct x86_cpu *cpu, uint32_t err, int verdict);
};

struct user_access {
	uint64_t va;
	enum x86_access kind;
	unsigned size;   /* 1..8 bytes, not crossing a page */
	uint64_t value;  /* stored (the low `size` bytes), or loaded */
	const struct user_access_observer *observer;
	void *ctx;       /* the observer's */
	/* out */
	int verdict;     /* the last #PF handler's verdict (enum pf_status), 0 if none */
	uint64_t pa;     /* the physical address reached (UA_OK, UA_BEYOND) */
	uint64_t bad_pa; /* UA_BUS */
	unsigned faults; /* #PF taken by this access */
};

/* The rest of the loop, from a first translation that needs more than a plain load or store
 * (a fault, an observer, an unusual size or an outcome to report). */
enum user_access_result user_access_slow(struct x86_cpu *cpu, struct user_access *a,
					 const struct x86_xlate *first);

static inline enum user_access_result user_access(struct x86_cpu *cpu, struct user_access *a)
{
	struct x86_xlate x;

	a->faults = 0;
	a->verdict = 0;
	if (a->observer)
		return user_access_slow(cpu, a, NULL);
	cpu_threads_interrupt_window(); /* between instructions */
	x86_translate(cpu, a->va, a->kind, true, false, &x, NULL);
	if (x.outcome == X86_OK && a->size == 8 && (a->va & 7) == 0 &&
	    x.pa + 8 <= cpu->phys.size) {
		uint64_t *p = (uint64_t *)(void *)(cpu->phys.base + x.pa);

		/* relaxed atomics: other CPUs' threads may use the same guest memory */
		mm_access_seen(a->va); /* the processor tells the kernel (policy=lru) */
		if (a->kind == X86_WRITE)
			__atomic_store_n(p, a->value, __ATOMIC_RELAXED);
		else if (a->kind == X86_READ)
			a->value = __atomic_load_n(p, __ATOMIC_RELAXED);
		a->pa = x.pa;
		return UA_OK;
	}
	return user_access_slow(cpu, a, &x);
}

#endif
