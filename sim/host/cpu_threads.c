/*
 * Rules kept here:
 * - a CPU's work slot and its done flag are protected by that CPU's mutex; the driver waits
 *   on `done_cond`, the CPU on `cond`;
 * - pending IPIs are a 256-bit set of atomic words: senders OR a bit in and signal, the CPU
 *   takes the whole word with an exchange, so an IPI sent while its handler runs is taken
 *   again later, never lost; an interrupt window first only loads the words (an exchange
 *   per word and window cost every access four locked instructions);
 * - interrupt handlers run on the target CPU's own thread, with plat_cpu_id() = that CPU;
 * - `host_cores` (the affinity the threads started with) is written by cpu_threads_start
 *   before any thread exists and only read afterwards.
 */
#include "host/cpu_threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "host/host_pin.h"
#include "host/host_platform.h"
#include "platform.h"

struct cpu_thread {
	pthread_t thread;
	unsigned id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t done_cond;
	void (*work)(void *arg);
	void *arg;
	bool done;
	bool stop;
	_Atomic uint64_t pending[4];
};

static struct cpu_thread *cpus;
static unsigned ncpus;
/* arch_cpu_relax yields now and then (set when the CPUs start, before their threads) */
static bool relax_yields = true;
static cpu_set_t host_cores;
static _Thread_local struct cpu_thread *self; /* the CPU this thread is, NULL on the driver */

static void take_interrupts(struct cpu_thread *t)
{
	for (unsigned w = 0; w < 4; w++) {
		uint64_t bits;

		if (!atomic_load_explicit(&t->pending[w], memory_order_relaxed))
			continue;
		bits = atomic_exchange_explicit(&t->pending[w], 0, memory_order_acq_rel);

		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);

			bits &= bits - 1;
			interrupt_entry(w * 64 + b);
		}
	}
}

static bool has_interrupts(struct cpu_thread *t)
{
	for (unsigned w = 0; w < 4; w++)
		if (atomic_load_explicit(&t->pending[w], memory_order_acquire))
			return true;
	return false;
}

static void *cpu_main(void *p)
{
	struct cpu_thread *t = p;

	host_set_current_cpu(t->id);
	self = t;
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		if (has_interrupts(t)) {
			pthread_mutex_unlock(&t->lock);
			take_interrupts(t);
			pthread_mutex_lock(&t->lock);
		} else if (t->work) {
			void (*fn)(void *) = t->work;
			void *arg = t->arg;

			pthread_mutex_unlock(&t->lock);
			fn(arg);
			pthread_mutex_lock(&t->lock);
			t->work = NULL;
			t->done = true;
			pthread_cond_signal(&t->done_cond);
		} else {
			pthread_cond_wait(&t->cond, &t->lock);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

bool cpu_threads_start(unsigned count)
{
	cpus = calloc(count, sizeof(*cpus));
	if (!cpus)
		return false;
	/* the threads inherit the driver's affinity; without it, placement stays the host's */
	if (sched_getaffinity(0, sizeof(host_cores), &host_cores) != 0)
		CPU_ZERO(&host_cores);
	relax_yields = count > (unsigned)CPU_COUNT(&host_cores);
	for (unsigned i = 0; i < count; i++) {
		struct cpu_thread *t = &cpus[i];

		t->id = i;
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, NULL);
		pthread_cond_init(&t->done_cond, NULL);
		if (pthread_create(&t->thread, NULL, cpu_main, t) != 0) {
			pthread_cond_destroy(&t->done_cond);
			pthread_cond_destroy(&t->cond);
			pthread_mutex_destroy(&t->lock);
			ncpus = i;
			cpu_threads_stop();
			return false;
		}
		ncpus = i + 1;
	}
	return true;
}

void cpu_threads_stop(void)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct cpu_thread *t = &cpus[i];

		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_cond_signal(&t->cond);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->thread, NULL);
		pthread_cond_destroy(&t->done_cond);
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
	}
	free(cpus);
	cpus = NULL;
	ncpus = 0;
	relax_yields = true;
}

bool cpu_threads_running(void)
{
	return ncpus > 0;
}

int cpu_threads_self(void)
{
	return self ? (int)self->id : -1;
}

void cpu_threads_post(unsigned cpu, void (*fn)(void *arg), void *arg)
{
	struct cpu_thread *t = &cpus[cpu];

	pthread_mutex_lock(&t->lock);
	t->work = fn;
	t->arg = arg;
	t->done = false;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void cpu_threads_wait(unsigned cpu)
{
	struct cpu_thread *t = &cpus[cpu];

	pthread_mutex_lock(&t->lock);
	while (!t->done)
		pthread_cond_wait(&t->done_cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void cpu_threads_run(unsigned cpu, void (*fn)(void *arg), void *arg)
{
	if (self) {
		/* a command running on its CPU: its kernel work stays there. Handing it to another
		 * CPU's thread could deadlock (that CPU may wait for this one's IPI answer). */
		if (self->id != cpu)
			plat_panic("cpu%u asked to run work on cpu%u: a command runs on one CPU",
				   self->id, cpu);
		fn(arg);
		return;
	}
	cpu_threads_post(cpu, fn, arg);
	cpu_threads_wait(cpu);
}

unsigned cpu_threads_host_cores(void)
{
	return (unsigned)CPU_COUNT(&host_cores);
}

bool cpu_threads_pin_self(unsigned slot)
{
	if (!self || slot >= (unsigned)CPU_COUNT(&host_cores))
		return false;
	return host_pin_thread(&host_cores, slot);
}

void cpu_threads_unpin_self(void)
{
	if (self && CPU_COUNT(&host_cores) > 0)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(host_cores), &host_cores);
}

void cpu_threads_interrupt_window(void)
{
	unsigned id = plat_cpu_id();

	if (id < ncpus)
		take_interrupts(&cpus[id]);
}

void arch_send_ipi(unsigned cpu, unsigned vector)
{
	struct cpu_thread *t;

	KASSERT(cpu < ncpus && vector < 256, "IPI to cpu %u vector %#x: no such cpu or vector", cpu,
		vector);
	t = &cpus[cpu];
	atomic_fetch_or_explicit(&t->pending[vector / 64], 1ull << (vector % 64),
				 memory_order_acq_rel);
	pthread_mutex_lock(&t->lock);
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/*
 * A waiting CPU yields its host CPU only when there are more simulated CPUs than host CPUs
 * (then the CPU it waits for may be waiting for that host CPU), and then every
 * RELAX_PER_YIELD calls. A yield is a system call of over a microsecond, during which this
 * CPU takes no interrupt, and on a busy host it hands the host CPU to another process for
 * its whole time slice: yielding on every call made two CPUs that shoot each other down
 * wait microseconds, under load milliseconds, for each other's acknowledgements.
 */
#define RELAX_PER_YIELD 256u

void arch_cpu_relax(void)
{
	static _Thread_local unsigned calls;

	cpu_threads_interrupt_window();
	if (relax_yields && ++calls % RELAX_PER_YIELD == 0)
		sched_yield();
	else
		arch_pause();
}
