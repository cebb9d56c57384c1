#include "test_cpu.h"

#include <check.h>

#include "host/host_cpu_ops.h"
#include "phys.h"

void kcpu_init(struct x86_cpu *cpu, uint64_t arena_bytes, uint64_t cr3)
{
	struct x86_phys phys = { (uint8_t *)phys_direct_map_base, arena_bytes };

	ck_assert(x86_cpu_init(cpu, phys, 64, KMAP_MAXPHYADDR));
	ck_assert(x86_write_cr3(cpu, cr3));
	host_cpu_ops_attach(cpu, 1);
}

void kcpu_destroy(struct x86_cpu *cpu)
{
	host_cpu_ops_attach(NULL, 0);
	x86_cpu_destroy(cpu);
}

struct x86_xlate kcpu_access(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user)
{
	struct x86_xlate x;

	x86_translate(cpu, va, kind, user, false, &x, NULL);
	return x;
}

struct x86_xlate kcpu_probe(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user,
			    struct x86_walk_trace *trace)
{
	struct x86_xlate x;

	x86_probe(cpu, va, kind, user, false, &x, trace);
	return x;
}

void expect_pa(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user, uint64_t pa)
{
	struct x86_xlate x = kcpu_access(cpu, va, kind, user);

	ck_assert_msg(x.outcome == X86_OK, "va 0x%llx kind %d user %d: outcome %d err 0x%x",
		      (unsigned long long)va, kind, user, x.outcome, x.err);
	ck_assert_msg(x.pa == pa, "va 0x%llx: cpu pa 0x%llx, expected 0x%llx",
		      (unsigned long long)va, (unsigned long long)x.pa, (unsigned long long)pa);
}

void expect_pf(struct x86_cpu *cpu, uint64_t va, enum x86_access kind, bool user, uint32_t err)
{
	struct x86_xlate x = kcpu_access(cpu, va, kind, user);

	ck_assert_msg(x.outcome == X86_PF, "va 0x%llx kind %d user %d: outcome %d, expected #PF",
		      (unsigned long long)va, kind, user, x.outcome);
	ck_assert_msg(x.err == err, "va 0x%llx kind %d user %d: #PF 0x%x, expected 0x%x",
		      (unsigned long long)va, kind, user, x.err, err);
	ck_assert_uint_eq(cpu->cr2, va);
}
