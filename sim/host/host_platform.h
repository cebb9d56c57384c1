/*
 * The host's implementation of core/platform.h, and the knobs the simulator turns on it:
 * which simulated CPU the calling thread is, where trace lines go, what a kernel panic does.
 */
#ifndef MMSIM_SIM_HOST_PLATFORM_H
#define MMSIM_SIM_HOST_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

/* The simulated CPU the calling host thread runs as (thread-local; default 0). */
void host_set_current_cpu(unsigned cpu);
void host_set_cpu_count(unsigned count);

/* Trace lines go here when tracing is on (default stdout); on means every kind. */
void host_set_trace(FILE *out, bool on);
/* Narrate exactly these kinds (enum plat_trace_kind in core/platform.h) from now on. */
void host_set_trace_kinds(unsigned kinds);
/* Trace lines of the calling thread go to out instead (NULL: back to the shared one); a CPU
 * running a command of a `parallel` block narrates through its own stream. */
void host_set_thread_trace(FILE *out);

/* Receive the kernel's frame events (core/platform.h) from now on; NULL stops them. fn runs
 * on the CPU thread that made the call and must not call into the kernel. */
typedef void (*host_frame_event_fn)(enum plat_frame_event_kind kind, uint64_t pa, unsigned order);
void host_set_frame_events(host_frame_event_fn fn);

/*
 * What plat_panic does after formatting the message. The default prints
 * "mmsim: kernel bug: MSG" to stderr and exits with status 3. Tests install a handler that
 * longjmps out; a handler that returns makes plat_panic abort().
 */
typedef void (*host_panic_fn)(const char *msg);
void host_set_panic_handler(host_panic_fn fn);

/* The message of the last panic (empty if none), for reports and tests. */
const char *host_last_panic(void);

#endif
