#include "host/user_access.h"

#include <string.h>

#include "arch/x86_64/interrupts.h"
#include "user_mm.h"

static uint64_t phys_load(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	if (size == 8 && ((uintptr_t)p & 7) == 0)
		return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
	/* byte by byte with atomics: other CPUs' threads may store to the same guest memory */
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)__atomic_load_n(p + i, __ATOMIC_RELAXED) << (8 * i);
	return v;
}

static void phys_store(uint8_t *p, uint64_t v, unsigned size)
{
	if (size == 8 && ((uintptr_t)p & 7) == 0) {
		__atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
		return;
	}
	for (unsigned i = 0; i < size; i++)
		__atomic_store_n(p + i, (uint8_t)(v >> (8 * i)), __ATOMIC_RELAXED);
}

enum user_access_result user_access_slow(struct x86_cpu *cpu, struct user_access *a,
					 const struct x86_xlate *first)
{
	const struct user_access_observer *obs = a->observer;

	for (;;) {
		struct x86_walk_trace t;
		struct x86_xlate x;

		if (first) {
			x = *first;
			first = NULL;
		} else {
			cpu_threads_interrupt_window(); /* between instructions */
			if (obs) {
				memset(&t, 0, sizeof(t));
				x86_translate(cpu, a->va, a->kind, true, false, &x, &t);
			} else {
				x86_translate(cpu, a->va, a->kind, true, false, &x, NULL);
			}
			if (obs && obs->translated && !obs->translated(a, cpu, &t, &x))
				return UA_STOPPED;
		}
		switch (x.outcome) {
		case X86_OK:
			a->pa = x.pa;
			mm_access_seen(a->va); /* the processor tells the kernel (policy=lru) */
			if (a->kind == X86_FETCH)
				return UA_OK;
			if (x.pa + a->size > cpu->phys.size)
				return UA_BEYOND;
			if (a->kind == X86_WRITE)
				phys_store(cpu->phys.base + x.pa, a->value, a->size);
			else
				a->value = phys_load(cpu->phys.base + x.pa, a->size);
			return UA_OK;
		case X86_GP:
			/* a non-canonical address: #GP, which the kernel turns into SIGSEGV */
			return UA_SEGV;
		case X86_BUS:
			a->bad_pa = x.bad_pa;
			return UA_BUS;
		case X86_PF:
			break;
		}
		if (a->faults == USER_ACCESS_MAX_FAULTS)
			return UA_LOOP;
		a->faults++;
		/* the processor raises #PF (CR2 written by the walk); the kernel's entry decides */
		a->verdict = exception_entry(VECTOR_PAGE_FAULT, x.err);
		if (obs && obs->faulted)
			obs->faulted(a, cpu, x.err, a->verdict);
		switch ((enum pf_status)a->verdict) {
		case PF_OK:
			continue;
		case PF_KILLED:
			return UA_KILLED;
		case PF_OOM:
			return UA_OOM;
		case PF_SEGV:
		case PF_NONFATAL_INTERNAL_ERROR:
		case PF_RECURSION_LIMIT:
			return UA_SEGV;
		}
		return UA_SEGV;
	}
}
