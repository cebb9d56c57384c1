/*
 * `machine`: the first line of a scenario, describing the hardware. It is interpreted while
 * parsing, because every later line is checked against it (which commands exist with or
 * without the kernel, which physical addresses exist, how many CPUs there are).
 */
#include <string.h>

#include "commands/commands.h"
#include "scenario/sim.h"

static bool parse_machine(struct sc_parse *p)
{
	static const char *const onoff[] = {"off", "on", NULL};
	static const char *const vendors[] = {"intel", "amd", NULL};
	struct machine_cfg *m = &p->sc->machine;
	uint64_t v;
	bool have;
	int choice;
	struct sc_option *o;

	p->sc->machine_given = true;
	if (!sp_argc(p, 0, 0))
		return false;
	if (!sp_opt_choice(p, "kernel", onoff, &choice, &have))
		return false;
	if (have)
		m->kernel = choice == 1;
	if (!sp_opt_num(p, "memory", &m->memory, &have))
		return false;
	o = sp_opt_find(p, "memory");
	if (have && (m->memory & 0xfff))
		return sp_error_opt(p, o, "memory= must be a multiple of 4K");
	if (have && (m->memory < (m->kernel ? (uint64_t)4 << 20 : (uint64_t)1 << 20) ||
		     m->memory > ((uint64_t)64 << 30)))
		return sp_error_opt(p, o, "memory= must be between %s and 64G",
				m->kernel ? "4M (with the kernel)" : "1M");
	if (!sp_opt_num(p, "cpus", &v, &have))
		return false;
	if (have) {
		if (v < 1 || v > SIM_MAX_CPUS) {
			o = sp_opt_find(p, "cpus");
			return sp_error_opt(p, o, "cpus= must be 1..%d", SIM_MAX_CPUS);
		}
		m->cpus = (unsigned)v;
	}
	if (!sp_opt_num(p, "maxphyaddr", &v, &have))
		return false;
	if (have) {
		o = sp_opt_find(p, "maxphyaddr");
		if (v < 36 || v > 52)
			return sp_error_opt(p, o, "maxphyaddr= must be 36..52");
		m->maxphyaddr = (unsigned)v;
	}
	/* 64G, the largest memory, is exactly what the narrowest maxphyaddr (36) addresses. */
	if (!sp_opt_num(p, "tlb", &v, &have))
		return false;
	if (have) {
		o = sp_opt_find(p, "tlb");
		if (v < 1 || v > 65536 || (v & (v - 1)))
			return sp_error_opt(p, o,
					"tlb= is the number of TLB entries per CPU: a power of two, 1..65536");
		m->tlb_entries = (unsigned)v;
	}
	if (!sp_opt_choice(p, "vendor", vendors, &choice, &have))
		return false;
	if (have)
		m->vendor = choice == 1 ? X86_AMD : X86_INTEL;
	if (!sp_opt_bool(p, "page1gb", &m->page1gb, NULL))
		return false;
	{
		static const char *const maps[] = {"none", "default", NULL};

		if (!sp_opt_choice(p, "map", maps, &choice, &have))
			return false;
		if (have)
			m->default_map = choice == 1;
	}
	if (!sp_opt_bool(p, "audit", &m->audit, NULL))
		return false;
	if (!sp_opt_num(p, "reserve", &m->reserve, NULL) ||
	    !sp_opt_num(p, "warning", &m->warning, NULL) ||
	    !sp_opt_num(p, "emergency", &m->emergency, NULL))
		return false;
	{
		static const char *const policies[] = {"auto", "picker", NULL};

		if (!sp_opt_choice(p, "oom", policies, &choice, &have))
			return false;
		if (have)
			m->oom_picker = choice == 1;
	}
	if (!sp_opt_num(p, "swap", &m->swap, &have))
		return false;
	if (have && (m->swap & 0xfff || m->swap > ((uint64_t)64 << 30))) {
		o = sp_opt_find(p, "swap");
		return sp_error_opt(p, o, "swap= must be a multiple of 4K, at most 64G");
	}
	o = sp_opt_find(p, "swapfile");
	if (o) {
		size_t n = strlen(o->value);

		o->used = true;
		if (n == 0 || n >= sizeof(m->swapfile))
			return sp_error_opt(p, o, "swapfile= needs a path (at most %zu bytes)",
					    sizeof(m->swapfile) - 1);
		memcpy(m->swapfile, o->value, n + 1);
	}
	if (!sp_opt_bool(p, "swapkeep", &m->swapkeep, NULL))
		return false;
	{
		static const char *const policies[] = {"fifo", "lru", "clock", "opt", NULL};

		if (!sp_opt_choice(p, "policy", policies, &choice, &have))
			return false;
		if (have)
			m->policy = choice;
	}
	if (m->warning && m->emergency && m->emergency > m->warning) {
		o = sp_opt_find(p, "emergency");
		return sp_error_opt(p, o, "emergency= must not be above warning=");
	}
	if (!m->kernel) {
		static const char *const kernel_keys[] = {"map", "audit", "reserve", "warning",
							  "emergency", "oom", "swap", "swapfile",
							  "swapkeep", "policy", NULL};

		for (int i = 0; kernel_keys[i]; i++) {
			o = sp_opt_find(p, kernel_keys[i]);
			if (o)
				return sp_error(p, o->line, o->col,
						"%s= describes the kernel, but kernel=off", o->key);
		}
	}
	return true;
}

const struct sc_command machine_commands[] = {
	{"machine",
	 "machine [memory=256M] [cpus=1] [kernel=on|off] [maxphyaddr=46] [tlb=64] [vendor=intel|amd] [page1gb=1] [map=default|none] [audit=0|1] [reserve=N] [warning=N] [emergency=N] [oom=auto|picker] [swap=SIZE] [swapfile=PATH] [swapkeep=0|1] [policy=fifo|lru|clock|opt]",
	 "describe the machine; must be the first command", SC_ANY | SC_BOOT_PHASE, parse_machine,
	 NULL},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
