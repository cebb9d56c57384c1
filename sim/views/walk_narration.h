/*
 * Walks told to people: what --trace prints for a translation, level by level.
 */
#ifndef MMSIM_SIM_WALK_NARRATION_H
#define MMSIM_SIM_WALK_NARRATION_H

#include <stdio.h>

#include "x86_cpu.h"

const char *access_kind_name(enum x86_access kind);

/* Prints the story of one translation, indented, one line per level. */
void narrate_walk(FILE *out, const struct x86_cpu *cpu, unsigned cpu_index, uint64_t va,
		  enum x86_access kind, bool user, bool implicit, const struct x86_walk_trace *t,
		  const struct x86_xlate *x);

/* "pa 0x5234", "pf 0x7", "gp": the result word of an access line. */
void format_xlate(char *buf, size_t n, const struct x86_xlate *x);

#endif
