#include "test_machine.h"

#include <check.h>

#include "arch/x86_64/interrupts.h"
#include "arch/x86_64/kernel_space.h"
#include "frame_alloc.h"
#include "host/cpu_threads.h"
#include "host/host_cpu_ops.h"
#include "host/host_platform.h"
#include "host/user_access.h"
#include "heap_frames.h"
#include "kheap.h"
#include "page_info.h"
#include "phys.h"
#include "pressure.h"
#include "test_cpu.h"

#define MAX_CPUS 8u

static struct test_machine booted;
static struct x86_cpu cpus[MAX_CPUS];
static unsigned ncpus;

/* On each CPU's own thread: its processor walks the kernel's tables from now on. */
static void load_kernel_tables(void *arg)
{
	(void)arg;
	ck_assert(x86_write_cr3(&cpus[plat_cpu_id()], kernel_space_pml4().base));
}

static void start_processors(void)
{
	struct x86_phys phys = { (uint8_t *)phys_direct_map_base, booted.memory };

	for (unsigned c = 0; c < ncpus; c++)
		ck_assert(x86_cpu_init(&cpus[c], phys, 64, KMAP_MAXPHYADDR));
	host_cpu_ops_attach(cpus, ncpus);
	if (booted.cpu_threads) {
		ck_assert(cpu_threads_start(ncpus));
		for (unsigned c = 0; c < ncpus; c++)
			cpu_threads_run(c, load_kernel_tables, NULL);
	} else {
		for (unsigned c = 0; c < ncpus; c++)
			ck_assert(x86_write_cr3(&cpus[c], kernel_space_pml4().base));
	}
}

void test_machine_boot(const struct test_machine *m)
{
	booted = *m;
	ncpus = m->cpus ? m->cpus : 1;
	ck_assert_uint_le(ncpus, MAX_CPUS);
	host_set_cpu_count(ncpus);
	host_set_current_cpu(0);
	arena_boot(m->memory);
	if (m->user_mm)
		ck_assert_int_eq(zero_frame_init(), MM_OK);
	if (m->kernel_space || m->user_mm) {
		paging_caps_set((struct paging_caps){ .phys_addr_bits = KMAP_MAXPHYADDR,
						      .page_1g = true });
		ck_assert_int_eq(kernel_space_init(), MAP_OK);
	}
	if (m->heap || m->user_mm)
		kheap_init(KHEAP_CAP_UNLIMITED);
	if (!m->user_mm)
		return;
	interrupt_reset();
	pressure_reset();
	ck_assert(user_mm_init());
	replace_configure(m->policy);
	if (m->swap)
		ck_assert(swap_area_attach(m->swap));
	start_processors();
}

void test_machine_halt(void)
{
	if (booted.user_mm) {
		pressure_inject_failure(ALLOC_FAIL_OFF, 0);
		if (booted.cpu_threads)
			cpu_threads_stop();
		else
			addr_space_switch(NULL);
		host_cpu_ops_attach(NULL, 0);
		for (unsigned c = 0; c < ncpus; c++)
			x86_cpu_destroy(&cpus[c]);
		interrupt_reset();
		if (booted.swap)
			swap_area_reset();
	}
	if (booted.heap || booted.user_mm)
		kheap_set_forbidden_check(NULL);
	arena_unmap();
	host_set_panic_handler(NULL);
	host_set_current_cpu(0);
	host_set_cpu_count(1);
	booted = (struct test_machine){ 0 };
}

struct x86_cpu *test_machine_cpu(unsigned cpu)
{
	ck_assert(booted.user_mm && cpu < ncpus);
	return &cpus[cpu];
}

void mm_audit_ok(void)
{
	char buf[512];
	bool ok = mm_audit(buf, sizeof(buf));

	ck_assert_msg(ok, "mm_audit: %s", buf);
}

struct addr_space *test_spawn(void)
{
	struct addr_space *as = addr_space_create();

	ck_assert_ptr_nonnull(as);
	addr_space_switch(as);
	return as;
}

enum pf_status uaccess(uint64_t va, enum x86_access kind, uint64_t *value)
{
	struct user_access a = { .va = va, .kind = kind, .size = 8, .value = *value };
	enum user_access_result r = user_access(test_machine_cpu(0), &a);

	ck_assert_msg(r != UA_LOOP, "access at %#llx keeps faulting", (unsigned long long)va);
	ck_assert_msg(r == UA_OK || a.verdict != PF_OK, "access at %#llx ended %d",
		      (unsigned long long)va, r);
	if (r == UA_OK && kind == X86_READ)
		*value = a.value;
	return r == UA_OK ? PF_OK : (enum pf_status)a.verdict;
}

void uwrite(uint64_t va, uint64_t v)
{
	ck_assert_int_eq(uaccess(va, X86_WRITE, &v), PF_OK);
}

uint64_t uread(uint64_t va)
{
	uint64_t v = 0;

	ck_assert_int_eq(uaccess(va, X86_READ, &v), PF_OK);
	return v;
}

struct page_lookup look(struct addr_space *as, uint64_t va)
{
	struct page_lookup l;

	ck_assert_msg(addr_space_lookup(as, va, &l), "nothing mapped at %#llx",
		      (unsigned long long)va);
	return l;
}
