#include "host_cpu_ops.h"

#include "arch/x86_64/cpu_ops.h"
#include "platform.h"

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
