/*
 * The host's share of a scenario's touch, measured alone: map a 1 GiB arena with mmsim's own
 * arena_create (with ARENA_THP, as --thp asks) and write one byte in every 4 KiB page of its
 * first MIB mebibytes, as the simulated kernel's zeroing does first. Time it with
 * /usr/bin/time beside `mmsim run FILE --thp` (docs/performance.md).
 *
 * usage: host_touch [MIB] [plain]   (512 by default; `plain`: no MADV_HUGEPAGE)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/arena.h"

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 512;
	bool thp = !(argc > 2 && strcmp(argv[2], "plain") == 0);
	struct arena arena;
	enum arena_error err;
	volatile uint8_t *p;

	if (mib == 0 || mib > 1024) {
		fprintf(stderr, "usage: host_touch [MIB (1..1024)] [plain]\n");
		return 2;
	}
	err = arena_create(&arena, (uint64_t)1 << 30, thp ? ARENA_THP : 0);
	if (err != ARENA_OK) {
		fprintf(stderr, "host_touch: %s\n", arena_strerror(err));
		return 1;
	}
	p = arena.base;
	for (size_t off = 0; off < mib << 20; off += 4096)
		p[off] = 1;
	int rc = p[0] == 1 ? 0 : 1;

	arena_destroy(&arena);
	return rc;
}
