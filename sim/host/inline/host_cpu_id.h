/*
 * The host's side of plat_cpu_id (core/platform.h), inline because the frame allocator's
 * order-0 fast paths read it on every operation. mmsim's CPUs are host threads, so the id is
 * a thread-local variable, written only by host_set_current_cpu (sim/host/host_platform.c).
 * local-exec: the host links core into executables only, so the variable sits at a
 * link-time constant offset from the thread pointer (one load).
 */
#ifndef MMSIM_HOST_CPU_ID_H
#define MMSIM_HOST_CPU_ID_H

extern _Thread_local unsigned host_this_cpu __attribute__((tls_model("local-exec")));

static inline unsigned plat_cpu_id(void)
{
	return host_this_cpu;
}

#endif
