#include "host/host_platform.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform.h"


_Thread_local unsigned host_this_cpu;
static unsigned cpu_count = 1;
static FILE *trace_out;
static _Thread_local FILE *thread_trace_out;
static host_panic_fn panic_handler;
static char last_panic[1024];

_Atomic unsigned plat_trace_mask;
_Atomic bool plat_trace_on;
bool plat_frame_events;
static host_frame_event_fn frame_event_fn;

unsigned plat_cpu_count(void)
{
	return cpu_count;
}

void host_set_current_cpu(unsigned cpu)
{
	host_this_cpu = cpu;
}

void host_set_cpu_count(unsigned count)
{
	cpu_count = count ? count : 1;
}

/*
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) interrupts every host CPU that currently runs
 * a thread of this process and makes it execute a full barrier; a thread that is not
 * running has been switched out, which is a full barrier too. Registration is once per
 * process. Linux >= 4.14; there is no weaker fallback that keeps the allocator's protocol
 * correct, so a host without it is refused loudly.
 */
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static int membarrier_errno;

static void membarrier_register(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
		membarrier_errno = errno;
}

void plat_barrier_all_cpus(void)
{
	pthread_once(&membarrier_once, membarrier_register);
	if (membarrier_errno || syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
		fprintf(stderr, "mmsim: membarrier(2) failed (%s): this host cannot run mmsim\n",
			strerror(membarrier_errno ? membarrier_errno : errno));
		abort();
	}
}

void host_set_trace(FILE *out, bool on)
{
	trace_out = out;
	host_set_trace_kinds(on ? TRACE_ALL : 0);
}

void host_set_trace_kinds(unsigned kinds)
{
	plat_trace_mask = kinds & TRACE_ALL;
	plat_trace_on = plat_trace_mask != 0;
	frame_alloc_trace_changed();
}

void host_set_thread_trace(FILE *out)
{
	thread_trace_out = out;
}

void host_set_frame_events(host_frame_event_fn fn)
{
	frame_event_fn = fn;
	plat_frame_events = fn != NULL;
	frame_alloc_trace_changed();
}

void plat_frame_event(enum plat_frame_event_kind kind, uint64_t pa, unsigned order)
{
	if (frame_event_fn)
		frame_event_fn(kind, pa, order);
}

void plat_trace(const char *fmt, ...)
{
	FILE *out = thread_trace_out ? thread_trace_out : trace_out ? trace_out : stdout;
	va_list ap;

	/* indented like the simulator's own narration, so scenario output stands out; one
	 * locked line, since CPUs of a parallel block trace at the same time */
	flockfile(out);
	fputs("  ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	funlockfile(out);
}

void host_set_panic_handler(host_panic_fn fn)
{
	panic_handler = fn;
}

const char *host_last_panic(void)
{
	return last_panic;
}

_Noreturn void plat_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_panic, sizeof(last_panic), fmt, ap);
	va_end(ap);
	if (panic_handler) {
		panic_handler(last_panic);
		abort();
	}
	fflush(stdout);
	fprintf(stderr, "mmsim: kernel bug: %s\n", last_panic);
	exit(3);
}
