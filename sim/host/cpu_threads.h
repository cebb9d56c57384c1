/*
 * The simulated CPUs of a machine with a kernel, one host thread each. The scenario driver
 * (the main thread) is not a CPU: it hands each piece of work (an access, a system call) to
 * the CPU it runs on and waits. An idle CPU waits for work or interrupts; a busy one takes
 * its interrupts in arch_cpu_relax and at the interrupt windows the simulator opens between
 * instructions.
 */
#ifndef MMSIM_SIM_CPU_THREADS_H
#define MMSIM_SIM_CPU_THREADS_H

#include <stdbool.h>

/* Starts `count` CPU threads; false (with nothing started) if the host refuses a thread. */
bool cpu_threads_start(unsigned count);
/* Stops and joins every CPU thread. Idempotent. */
void cpu_threads_stop(void);
bool cpu_threads_running(void);

/* Runs fn(arg) on CPU `cpu` and waits for it to return. Called on that CPU's own thread (a
 * command that already runs there), it simply calls fn. */
void cpu_threads_run(unsigned cpu, void (*fn)(void *arg), void *arg);

/* Hands fn(arg) to CPU `cpu` and returns at once; cpu_threads_wait waits for it to end. One
 * piece of work per CPU at a time; for the scenario driver (the main thread) only. */
void cpu_threads_post(unsigned cpu, void (*fn)(void *arg), void *arg);
void cpu_threads_wait(unsigned cpu);

/* The CPU whose thread is calling, or -1 on a thread that is not a CPU (the driver). */
int cpu_threads_self(void);

/*
 * Host placement. Left alone, the host scheduler may keep two busy CPU threads on one host
 * core, where they take turns instead of running at once; a `parallel` block pins each of
 * its CPU threads to a host core of its own for the block's length.
 */
/* How many host cores this process may run on (the affinity the CPU threads started with). */
unsigned cpu_threads_host_cores(void);
/* Keeps the calling CPU thread on the `slot`-th of those cores until cpu_threads_unpin_self;
 * false (nothing changed) if there is no such core or the host refuses. CPU threads only. */
bool cpu_threads_pin_self(unsigned slot);
/* Lets the calling CPU thread run on every core of cpu_threads_host_cores again. */
void cpu_threads_unpin_self(void);

/* Takes the calling CPU's pending interrupts now (an interrupt window between instructions). */
void cpu_threads_interrupt_window(void);

#endif
