/*
 * The process table and the CPU each piece of kernel work runs on. Kernel code always runs
 * on a simulated CPU's thread (sim_on_cpu), never on the scenario driver's, so plat_cpu_id(),
 * CR3 and the TLB are those of the CPU that does the work.
 *
 * A process holds a reference to its address space (addr_space_hold), so it can learn that
 * the kernel killed it for memory (addr_space_is_alive false) without a dangling pointer.
 *
 * Inside a parallel block several CPUs' threads use the table at once: `table_lock` guards
 * finding and adding entries (the table never moves: process_reserve made room first), and
 * no entry's address space is released or cleared until the block has ended, so a pointer
 * read by one CPU stays valid while another CPU's command ends the process.
 */
#include "scenario/process.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "host/cpu_threads.h"
#include "platform.h"
#include "scenario/sim.h"
#include "user_mm.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

struct sim_process *process_find(struct sim *sim, const char *name)
{
	struct sim_process *found = NULL;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < sim->nprocs && !found; i++)
		if (strcmp(sim->procs[i].name, name) == 0)
			found = &sim->procs[i];
	pthread_mutex_unlock(&table_lock);
	return found;
}

static bool reserve_locked(struct sim *sim, size_t extra)
{
	struct sim_process *t;
	size_t cap = sim->cap_procs ? sim->cap_procs : 16;

	while (cap < sim->nprocs + extra)
		cap *= 2;
	if (cap == sim->cap_procs)
		return true;
	t = realloc(sim->procs, cap * sizeof(*t));
	if (!t)
		return false;
	sim->procs = t;
	sim->cap_procs = cap;
	return true;
}

bool process_reserve(struct sim *sim, size_t extra)
{
	bool ok;

	pthread_mutex_lock(&table_lock);
	ok = reserve_locked(sim, extra);
	pthread_mutex_unlock(&table_lock);
	return ok;
}

struct sim_process *process_add(struct sim *sim, const char *name, struct addr_space *as)
{
	struct sim_process *t;

	pthread_mutex_lock(&table_lock);
	if (!reserve_locked(sim, 1)) {
		pthread_mutex_unlock(&table_lock);
		return NULL;
	}
	t = &sim->procs[sim->nprocs++];
	memset(t, 0, sizeof(*t));
	strncpy(t->name, name, SC_NAME_MAX - 1);
	t->as = as;
	t->state = PROC_RUNNING;
	pthread_mutex_unlock(&table_lock);
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
	if (sim_block)
		return false; /* other CPUs of the block may still use p->as */
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

void process_exit_on(struct sim *sim, struct sim_process *p, unsigned cpu)
{
	if (!sim_block) {
		p->last_cpu = cpu;
		process_end(sim, p, PROC_EXITED);
		return;
	}
	if (!p->as || atomic_exchange(&p->exiting, true))
		return;
	p->last_cpu = cpu;
	sim_on_cpu(sim, cpu, do_exit, p->as);
}

void process_block_end(struct sim *sim)
{
	for (size_t i = 0; i < sim->nprocs; i++) {
		struct sim_process *p = &sim->procs[i];

		if (!atomic_exchange(&p->exiting, false) || !p->as)
			continue;
		addr_space_release(p->as);
		p->as = NULL;
		p->state = PROC_EXITED;
	}
}

void process_end_all(struct sim *sim)
{
	for (size_t i = 0; i < sim->nprocs; i++)
		process_end(sim, &sim->procs[i], PROC_EXITED);
}
