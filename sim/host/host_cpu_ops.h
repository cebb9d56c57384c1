/*
 * The host side of core/arch/x86_64/cpu_ops.h: the privileged instructions run on the
 * simulated processor of the calling thread's CPU (host_set_current_cpu).
 */
#ifndef MMSIM_SIM_HOST_CPU_OPS_H
#define MMSIM_SIM_HOST_CPU_OPS_H

#include "x86_cpu.h"

/* The processors the kernel runs on; cpus[plat_cpu_id()] executes each instruction. */
void host_cpu_ops_attach(struct x86_cpu *cpus, unsigned count);

#endif
