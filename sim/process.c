/*
 * The process table and the CPU each piece of kernel work runs on. Kernel code always runs
 * on a simulated CPU's thread (sim_on_cpu), never on the scenario driver's, so plat_cpu_id(),
 * CR3 and the TLB are those of the CPU that does the work.
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
	if (as)
		addr_space_set_name(as, t->name);
	return t;
}

void sim_on_cpu(struct sim *sim, unsigned cpu, void (*fn)(void *arg), void *arg)
{
	(void)sim;
	cpu_threads_run(cpu, fn, arg);
}

void process_switch_to(struct sim *sim, struct sim_process *p)
{
	unsigned cpu = plat_cpu_id();

	if (sim->current_as[cpu] != p->as) {
		addr_space_switch(p->as);
		sim->current_as[cpu] = p->as;
	}
}

struct end_work {
	struct sim *sim;
	struct addr_space *as;
};

static void switch_away(void *arg)
{
	struct end_work *w = arg;
	unsigned cpu = plat_cpu_id();

	if (w->sim->current_as[cpu] == w->as) {
		addr_space_switch(NULL);
		w->sim->current_as[cpu] = NULL;
	}
}

static void destroy(void *arg)
{
	struct end_work *w = arg;

	addr_space_destroy(w->as);
}

void process_end(struct sim *sim, struct sim_process *p, enum process_state why)
{
	struct end_work w = {sim, p->as};

	if (!p->as)
		return;
	for (unsigned c = 0; c < sim->ncpus; c++)
		if (sim->current_as[c] == p->as)
			sim_on_cpu(sim, c, switch_away, &w);
	sim_on_cpu(sim, p->last_cpu, destroy, &w);
	p->as = NULL;
	p->state = why;
}

void process_end_all(struct sim *sim)
{
	for (size_t i = 0; i < sim->nprocs; i++)
		if (sim->procs[i].as)
			process_end(sim, &sim->procs[i], PROC_EXITED);
}
