/*
 * The command tables of the scenario language, one per subject, and helpers that several
 * of them share.
 */
#ifndef MMSIM_SIM_COMMANDS_H
#define MMSIM_SIM_COMMANDS_H

#include "scenario/scenario.h"

#define SIM_MAX_CPUS 64

extern const struct sc_command machine_commands[];
extern const struct sc_command phys_commands[];
extern const struct sc_command cpu_commands[];
extern const struct sc_command frame_commands[];
extern const struct sc_command pressure_commands[];
extern const struct sc_command dot_commands[]; /* cmd_dot.c */
extern const struct sc_command process_commands[];
extern const struct sc_command access_commands[];
extern const struct sc_command parallel_commands[]; /* cmd_parallel.c */
extern const struct sc_command fmap_commands[];
extern const struct sc_command mm_view_commands[];
extern const struct sc_command explain_commands[]; /* cmd_explain.c */
extern const struct sc_command framemap_commands[]; /* cmd_framemap.c */
extern const struct sc_command trace_commands[]; /* cmd_trace.c */
extern const struct sc_command swap_commands[];

/* The cpu=N option shared by every command that runs on a CPU. */
bool sp_opt_cpu(struct sc_parse *p);

#endif
