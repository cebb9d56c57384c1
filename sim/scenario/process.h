/*
 * Processes as the scenario names them: a name, an address space, and whether it still runs.
 * The simulator keeps this table; the kernel knows only address spaces.
 */
#ifndef MMSIM_SIM_PROCESS_H
#define MMSIM_SIM_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "scenario/scenario.h"

struct addr_space;
struct sim;

enum process_state { PROC_RUNNING, PROC_EXITED, PROC_KILLED };

struct sim_process {
	char name[SC_NAME_MAX];
	struct addr_space *as; /* NULL once exited or killed */
	enum process_state state;
	_Atomic unsigned last_cpu; /* commands of a parallel block on two CPUs may both set it */
	_Atomic bool exiting;      /* an `exit` inside a parallel block ran: recorded after `end` */
};

/* The process called name, or NULL if it was never created. */
struct sim_process *process_find(struct sim *sim, const char *name);
/* A new process in the table (name must be new); NULL if the host is out of memory. */
struct sim_process *process_add(struct sim *sim, const char *name, struct addr_space *as);
/* Tears a process's address space down (every CPU still running it switches away first). */
void process_end(struct sim *sim, struct sim_process *p, enum process_state why);
/* `exit`: process_end on that CPU. Inside a parallel block the address space is torn down at
 * once, but the table keeps it (other commands of the block may still hold it) until
 * process_block_end, after `end`. */
void process_exit_on(struct sim *sim, struct sim_process *p, unsigned cpu);
/* Room for `extra` more processes, so that process_add inside a parallel block never moves
 * the table under the other CPUs; false if the host is out of memory. */
bool process_reserve(struct sim *sim, size_t extra);
/* After a parallel block: records the exits its commands made. */
void process_block_end(struct sim *sim);
/* False once p exited or was killed; notices a kill by the kernel (out of memory) and
 * records it (inside a parallel block, only after `end`). */
bool process_check_alive(struct sim_process *p);
/* process_check_alive on every process (after anything that may have killed some). */
void process_check_all(struct sim *sim);
/* Ends every process (end of run). */
void process_end_all(struct sim *sim);

/* Runs fn(arg) on cpu, with plat_cpu_id() == cpu, and waits. */
void sim_on_cpu(struct sim *sim, unsigned cpu, void (*fn)(void *arg), void *arg);
/* On the calling CPU: make p's address space current if it is not. */
void process_switch_to(struct sim *sim, struct sim_process *p);

#endif
