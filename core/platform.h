/*
 * The platform seam: what the kernel needs from the machine it runs on and cannot do itself.
 *
 * core/ is kernel code and never includes a host header. Everything host-specific (the current
 * CPU number, the all-CPU barrier, how a panic is reported, where trace lines go)
 * is declared here and implemented by the host (sim/host/host_platform.c for mmsim; a real kernel would
 * bring its own). The privileged x86_64 instructions core needs are in arch/x86_64/cpu_ops.h.
 */
#ifndef MMSIM_CORE_PLATFORM_H
#define MMSIM_CORE_PLATFORM_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * No locks here: the kernel's locks are its own (klock.h: spin locks and reader-writer locks on
 * atomic words, whose waiters take their CPU's pending interrupts through arch_cpu_relax), as
 * a real kernel's are; the host has no lock a kernel CPU ever waits for.
 */

/*
 * unsigned plat_cpu_id(void): number of the CPU the caller runs on, 0 <= id <
 * plat_cpu_count(); it does not change while kernel code runs. The frame allocator's order-0
 * fast paths call it on every operation, so the host provides it as an inline function in
 * its header host_cpu_id.h, on core's include path (a kernel reads it from per-CPU data in
 * one instruction).
 */
#include "host_cpu_id.h"

unsigned plat_cpu_count(void);

/*
 * The asymmetric memory barrier: when it returns, every thread that runs as a CPU has
 * executed a full memory barrier (or a context switch, which is one) at some point after
 * the call began. Stores the caller made before the call are then visible to every CPU's
 * later loads, and every CPU's stores made before that barrier are visible to the caller.
 * It lets a CPU's hot path order its own store before its own load with a compiler barrier
 * instead of a locked instruction, the remote side paying for both (see frame_cpu_cache.c).
 * A real kernel sends an IPI to every other CPU and waits for the acknowledgements (taking
 * an interrupt serialises the CPU); mmsim's CPUs are host threads, so the host uses Linux's
 * membarrier(2). Slow (microseconds): for rare remote operations only. Callable from any
 * thread, never with interrupts off or a spin lock held.
 */
void plat_barrier_all_cpus(void);

/*
 * A bug inside the kernel: an invariant failed, a double free, a refcount underflow. The
 * host reports it (mmsim: exit status 3 with the message and the scenario line) and never
 * returns.
 */
_Noreturn void plat_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Narration for --trace. Every trace point has a kind; plat_trace_mask holds the kinds being
 * narrated, so that a run without tracing pays one predictable branch per trace point and
 * never formats anything. A file's trace points share its kind: it defines KTRACE_KIND
 * after its includes, and KTRACE_AS names another kind for a line that is not the file's.
 * plat_trace_on is plat_trace_mask != 0, for the paths that only ask whether anyone listens.
 */
enum plat_trace_kind {
	TRACE_BOOT = 1u << 0,     /* what the kernel says while it boots */
	TRACE_WALK = 1u << 1,     /* the processor's page walks, level by level */
	TRACE_FAULT = 1u << 2,    /* page faults and how the kernel resolves them */
	TRACE_FRAME = 1u << 3,    /* the frame allocator: allocations, frees, splits */
	TRACE_TLB = 1u << 4,      /* TLB flushes, INVLPG, shootdowns */
	TRACE_PRESSURE = 1u << 5, /* the memory-pressure governor, shrinkers, OOM kills */
	TRACE_MM = 1u << 6,       /* address spaces, mmap, borrow, transfer, fork, fmap */
	TRACE_HEAP = 1u << 7,     /* the kernel heap taking and giving back frames */
	TRACE_CPU = 1u << 8,      /* control registers and pokes the scenario writes */
	TRACE_ALL = (1u << 9) - 1,
};
/* Atomic because `trace on|off` may change them while other CPUs run: a relaxed load is a
 * plain load on x86_64, so the off path stays one predictable branch. */
extern _Atomic unsigned plat_trace_mask;
extern _Atomic bool plat_trace_on;
void plat_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The host calls this after every change of plat_trace_mask and plat_trace_on, or of
 * plat_frame_events (below): the frame allocator's order-0 fast paths do not read them, a
 * bit in each CPU cache sends them to the slow paths while tracing or frame events are on.
 * Takes the allocator's drain_lock; a no-op before the first frame_alloc_init, which reads
 * them itself.
 */
void frame_alloc_trace_changed(void);

#define KTRACE_AS(kind, ...)                                                                   \
	do {                                                                                   \
		if (__builtin_expect(                                                          \
			    (atomic_load_explicit(&plat_trace_mask, memory_order_relaxed) &    \
			     (kind)) != 0,                                                     \
			    0))                                                                \
			plat_trace(__VA_ARGS__);                                               \
	} while (0)

#define KTRACE(...) KTRACE_AS(KTRACE_KIND, __VA_ARGS__)

/*
 * Frame events, for a host that records every frame allocation and free (mmsim run
 * --alloc-trace). While plat_frame_events is true the frame allocator calls
 * plat_frame_event for each allocation, free and split from its slow paths (the order-0
 * fast paths step aside as they do for tracing: the host changes plat_frame_events only
 * through a function that then calls frame_alloc_trace_changed), and the kernel heap tells
 * which blocks it took. Off, each event point costs one predictable branch. May be called
 * with kernel locks held (the pressure governor's, while it refills its reserve): the host
 * must not call into the kernel from it.
 */
enum plat_frame_event_kind {
	FRAME_EVENT_ALLOC, /* the block of 2^order frames at pa was allocated */
	FRAME_EVENT_FREE,  /* ... freed (order 0: possibly one frame of a split block) */
	FRAME_EVENT_SPLIT, /* ... became 2^order order-0 frames */
	FRAME_EVENT_HEAP,  /* ... was taken by the kernel heap (after its ALLOC) */
};
extern bool plat_frame_events;
void plat_frame_event(enum plat_frame_event_kind kind, uint64_t pa, unsigned order);

#define KFRAME_EVENT(kind, pa, order)                                                          \
	do {                                                                                   \
		if (__builtin_expect(plat_frame_events, 0))                                    \
			plat_frame_event((kind), (pa), (order));                               \
	} while (0)

#define KASSERT(cond, ...)                                                                     \
	do {                                                                                   \
		if (__builtin_expect(!(cond), 0))                                              \
			plat_panic(__VA_ARGS__);                                               \
	} while (0)

#endif
