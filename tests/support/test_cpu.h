/*
 * Test support: a simulated processor over the test arena (the independent reader of the
 * kernel's tables), attached so the kernel's privileged instructions run on it.
 */
#ifndef MMSIM_TESTS_SUPPORT_TEST_CPU_H
#define MMSIM_TESTS_SUPPORT_TEST_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "x86_cpu.h"

#define KMAP_MAXPHYADDR 40u

/* x86_cpu_init over [0, arena_bytes) of the arena (MAXPHYADDR 40, 1 GiB pages), CR3 = cr3,
 * attached as cpu 0 for arch_* calls. */
void kcpu_init(struct x86_cpu *cpu, uint64_t arena_bytes, uint64_t cr3);
void kcpu_destroy(struct x86_cpu *cpu);

/* One explicit (non-implicit) access through the TLB; user = CPL 3. */
struct x86_xlate kcpu_access(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user);

/* Same verdict without side effects, with the walk trace. */
struct x86_xlate kcpu_probe(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
			    struct x86_walk_trace *trace);

/* ck_assert helpers: the access succeeds at pa / faults with error code err. */
void expect_pa(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user, uint64_t pa);
void expect_pf(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user, uint32_t err);

#endif
