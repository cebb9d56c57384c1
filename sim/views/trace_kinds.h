/*
 * The kinds of narration --trace and the `trace` command choose from, by name
 * (enum plat_trace_kind in core/platform.h holds the bits).
 */
#ifndef MMSIM_SIM_TRACE_KINDS_H
#define MMSIM_SIM_TRACE_KINDS_H

#include <stdbool.h>
#include <stddef.h>

/* What --trace and `trace on` without a list narrate: every kind but boot. */
#define TRACE_DEFAULT_KINDS (TRACE_ALL & ~TRACE_BOOT)

/*
 * Parses a comma-separated list of kind names ("walk,fault", "all") into *kinds. On an
 * unknown or empty name returns false and points *bad at it (len in *bad_len).
 */
bool trace_kinds_parse(const char *list, unsigned *kinds, const char **bad, size_t *bad_len);

/* "boot, walk, fault, ... all": the names, for error messages and help. */
const char *trace_kind_names(void);

#endif
