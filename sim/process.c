/*
 * The process table and the CPU each piece of kernel work runs on. Kernel code always runs
 * on a simulated CPU's thread (sim_on_cpu), never on the scenario driver's, so plat_cpu_id(),
 * CR3 and the TLB are those of the CPU that does the work.
 *
 * A process holds a reference to its address space (addr_space_hold), so it can learn that
 * the kernel killed it for memory (addr_space_is_alive false) without a dangling pointer.
 */
#include "process.h"

#include <stdlib.h>
#include <string.h>

#include "cpu_threads.h"
#include "platform.h"
#include "sim.h"
#include "user_mm.h"

struct sim_process *process_find(struct sim *sim, const char *name)
{
	for (size_t i = 0; i < sim->nprocs; i++)
		if (strcmp(sim->procs[i].name, name) == 0)
			return &sim->procs[i];
	return NULL;
}

struct sim_process *process_add(struct sim *sim, const char *name, struct addr_space *as)
{
	struct sim_process *t;

	if (sim->nprocs == sim->cap_procs) {
		size_t cap = sim->cap_procs ? sim->cap_procs * 2 : 16;

		t = realloc(sim->procs, cap * sizeof(*t));
		if (!t)
			return NULL;
		sim->procs = t;
		sim->cap_procs = cap;
	}
	t = &sim->procs[sim->nprocs++];
	memset(t, 0, sizeof(*t));
	strncpy(t->name, name, SC_NAME_MAX - 1);
	t->as = as;
	t->state = PROC_RUNNING;
	if (as) {
		addr_space_set_name(as, name);
		addr_space_hold(as);
	}
	return t;
}

void sim_on_cpu(struct sim *sim, unsigned cpu, void (*fn)(void *arg), void *arg)
{
	(void)sim;
	cpu_threads_run(cpu, fn, arg);
}

void process_switch_to(struct sim *sim, struct sim_process *p)
{
	(void)sim;
	addr_space_switch(p->as); /* nothing happens when it already runs here */
}

bool process_check_alive(struct sim_process *p)
{
	if (!p->as)
		return false;
	if (addr_space_is_alive(p->as))
		return true;
	/* the kernel ended it: out of memory */
	addr_space_release(p->as);
	p->as = NULL;
	p->state = PROC_KILLED;
	return false;
}

void process_check_all(struct sim *sim)
{
	for (size_t i = 0; i < sim->nprocs; i++)
		process_check_alive(&sim->procs[i]);
}

static void do_exit(void *arg)
{
	addr_space_exit(arg);
}

void process_end(struct sim *sim, struct sim_process *p, enum process_state why)
{
	if (!process_check_alive(p))
		return;
	sim_on_cpu(sim, p->last_cpu, do_exit, p->as);
	addr_space_release(p->as);
	p->as = NULL;
	p->state = why;
}

void process_end_all(struct sim *sim)
{
	for (size_t i = 0; i < sim->nprocs; i++)
		process_end(sim, &sim->procs[i], PROC_EXITED);
}
