/*
 * The physical-memory arena: one anonymous host mapping whose first byte is physical
 * address 0. Reserved with MAP_NORESERVE, so a 64 GiB machine costs only what is touched.
 */
#ifndef MMSIM_SIM_ARENA_H
#define MMSIM_SIM_ARENA_H

#include <stdbool.h>
#include <stdint.h>

#define ARENA_MIN_SIZE ((uint64_t)1 << 20)
#define ARENA_MAX_SIZE ((uint64_t)64 << 30)

enum arena_flags {
	ARENA_THP = 1u << 0,      /* madvise(MADV_HUGEPAGE): 2 MiB host pages, fewer host faults */
	ARENA_PREFAULT = 1u << 1, /* touch every host page up front: no host fault during a run */
};

struct arena {
	uint8_t *base;
	uint64_t size;
};

enum arena_error {
	ARENA_OK,
	ARENA_EINVAL,   /* size not a multiple of 4 KiB or outside [1 MiB, 64 GiB] */
	ARENA_ECAP,     /* larger than MMSIM_ARENA_CAP allows (valgrind runs set it) */
	ARENA_ENOMEM,   /* the host refused the mapping */
};

enum arena_error arena_create(struct arena *a, uint64_t size, unsigned flags);
void arena_destroy(struct arena *a);
const char *arena_strerror(enum arena_error e);

/* The largest arena this host process may create: MMSIM_ARENA_CAP (a size such as 16G) or
 * ARENA_MAX_SIZE. Returns 0 if MMSIM_ARENA_CAP is set but unreadable. */
uint64_t arena_cap(void);

static inline bool arena_contains(const struct arena *a, uint64_t pa, uint64_t len)
{
	return len <= a->size && pa <= a->size - len;
}

#endif
