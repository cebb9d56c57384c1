#include <string.h>

#include "x86_cpu.h"

/* The vendor strings of leaf 0, in EBX, EDX, ECX order. */
static void vendor_regs(enum x86_vendor v, uint32_t out[4])
{
	const char *id = v == X86_AMD ? "AuthenticAMD" : "GenuineIntel";

	memcpy(&out[1], id, 4);
	memcpy(&out[3], id + 4, 4);
	memcpy(&out[2], id + 8, 4);
}

void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	(void)subleaf;
	out[0] = out[1] = out[2] = out[3] = 0;
	switch (leaf) {
	case 0:
		out[0] = 1;
		vendor_regs(cpu->vendor, out);
		break;
	case 0x80000000u:
		out[0] = 0x80000008u;
		if (cpu->vendor == X86_AMD)
			vendor_regs(cpu->vendor, out);
		break;
	case 0x80000001u:
		out[3] = (1u << 20) | (1u << 29) | (cpu->page1gb ? 1u << 26 : 0);
		break;
	case 0x80000008u:
		out[0] = cpu->maxphyaddr | (48u << 8);
		out[1] = cpu->vendor == X86_AMD ? 1u : 0;
		break;
	default:
		break;
	}
}
