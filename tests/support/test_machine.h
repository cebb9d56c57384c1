/*
 * Test support: boot a machine for a test in the layers it needs, in the kernel's own order
 * (frames, zero frame, kernel half, heap, interrupts, user memory management), and take it
 * down again; plus the user accesses the memory-manager tests make through CPU 0.
 * Not kernel_init: tests need an uncapped heap and no reserve set aside, so that the values
 * they assert are the layer's own.
 */
#ifndef MMSIM_TESTS_SUPPORT_TEST_MACHINE_H
#define MMSIM_TESTS_SUPPORT_TEST_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "replace_policy.h"
#include "swap_area.h"
#include "test_arena.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "x86_cpu.h"

struct test_machine {
	uint64_t memory; /* bytes of physical memory from 0, the default PC memory map */
	unsigned cpus;   /* CPUs the host reports (0: 1); the test runs as CPU 0 */
	bool heap;       /* the kernel heap, uncapped */
	bool kernel_space; /* MAXPHYADDR 40 with 1 GiB pages, and the kernel half */
	/* the zero frame, the kernel half, the heap, the interrupt vectors, a reset governor
	 * and user memory management; a simulated processor per CPU on the kernel's tables */
	bool user_mm;
	/* with user_mm: every CPU on its own host thread (host/cpu_threads.h), its processor
	 * switched to the kernel's tables there; without: this thread is CPU 0 */
	bool cpu_threads;
	enum replace_policy policy;     /* with user_mm: what `limit` evicts by */
	const struct swap_device *swap; /* with user_mm: the swap area's device, or NULL */
};

/* Boot m (every step ck_asserted); a test_machine_halt must follow. */
void test_machine_boot(const struct test_machine *m);
/* Undo the boot: processors, threads, interrupt vectors, swap area, the arena. */
void test_machine_halt(void);
/* The simulated processor of cpu (user_mm machines). */
struct x86_cpu *test_machine_cpu(unsigned cpu);

/* ck_assert that the memory manager's audit holds, with its report as the message. */
void mm_audit_ok(void);
/* A new address space, made current on CPU 0. */
struct addr_space *test_spawn(void);
/* One 8-byte user access on CPU 0 through the processor, faults handled and retried as the
 * hardware does (sim/host/user_access.h): PF_OK, or the handler's verdict when it refused. */
enum pf_status uaccess(uint64_t va, enum x86_access kind, uint64_t *value);
/* uaccess that must succeed. */
void uwrite(uint64_t va, uint64_t v);
uint64_t uread(uint64_t va);
/* What is mapped at va in as (ck_asserts that something is). */
struct page_lookup look(struct addr_space *as, uint64_t va);

#endif
