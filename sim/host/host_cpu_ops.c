#include "host/host_cpu_ops.h"

#include <cpuid.h>
#include <string.h>

#include "arch/x86_64/cpu_ops.h"
#include "platform.h"
#include "replace_policy.h"

static struct x86_cpu *host_cpus;
static unsigned host_ncpus;

void host_cpu_ops_attach(struct x86_cpu *cpus, unsigned count)
{
	host_cpus = cpus;
	host_ncpus = count;
}

static struct x86_cpu *this_cpu(void)
{
	unsigned id = plat_cpu_id();

	KASSERT(host_cpus && id < host_ncpus,
		"privileged instruction on cpu %u, but only %u simulated cpus are attached", id,
		host_ncpus);
	return &host_cpus[id];
}

void arch_write_cr3(uint64_t value)
{
	KASSERT(x86_write_cr3(this_cpu(), value), "MOV to CR3 of 0x%llx raised #GP",
		(unsigned long long)value);
}

void arch_cpuid_paging(unsigned *maxphyaddr, bool *page1gb)
{
	struct x86_cpu *cpu = this_cpu();

	*maxphyaddr = cpu->maxphyaddr;
	*page1gb = cpu->page1gb;
}

/* Whether the host processor has CLZERO (CPUID 0x80000008, EBX bit 0). */
static bool host_has_clzero(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000008u)
		return false;
	__get_cpuid(0x80000008u, &a, &b, &c, &d);
	return b & 1u;
}

/*
 * The simulated processor answers, except for CLZERO: the kernel's page fill executes that
 * instruction on the host, so an AMD model reports it only where the host has it too (an
 * Intel model never does).
 */
void arch_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	x86_cpuid(this_cpu(), leaf, subleaf, out);
	if (leaf == 0x80000008u && !host_has_clzero())
		out[1] &= ~1u;
}

uint64_t arch_read_cr3(void)
{
	return this_cpu()->cr3;
}

uint64_t arch_read_cr2(void)
{
	return this_cpu()->cr2;
}

void arch_invlpg(uint64_t va)
{
	x86_invlpg(this_cpu(), va);
}

void arch_flush_tlb_all(void)
{
	x86_flush_all(this_cpu());
}

bool arch_user_access(uint64_t va, void *buf, size_t len, bool write, uint32_t *pf_error)
{
	struct x86_cpu *cpu = this_cpu();
	struct x86_xlate x;
	bool ac = cpu->rflags_ac;

	KASSERT(len >= 1 && len <= 4096 && ((va & 0xfff) + len) <= 4096,
		"user access of %zu bytes at %#llx crosses a page", len, (unsigned long long)va);
	x86_set_ac(cpu, true);
	x86_translate(cpu, va, write ? X86_WRITE : X86_READ, false, false, &x, NULL);
	x86_set_ac(cpu, ac);
	if (x.outcome == X86_PF) {
		*pf_error = x.err;
		return false;
	}
	KASSERT(x.outcome == X86_OK, "kernel access to user address %#llx: %s",
		(unsigned long long)va, x.outcome == X86_GP ? "#GP (non-canonical)"
							   : "page walk outside physical memory");
	KASSERT(x.pa + len <= cpu->phys.size,
		"kernel access to user address %#llx reaches physical %#llx, beyond memory",
		(unsigned long long)va, (unsigned long long)x.pa);
	mm_access_seen(va); /* the processor tells the kernel (policy=lru) */
	if (write)
		memcpy(cpu->phys.base + x.pa, buf, len);
	else
		memcpy(buf, cpu->phys.base + x.pa, len);
	return true;
}
