/*
 * The host's share of a scenario's touch, measured alone: map an arena as mmsim does (1 GiB,
 * MAP_NORESERVE, MADV_HUGEPAGE as with --thp) and write one byte in every 4 KiB page of its
 * first MIB mebibytes, as the simulated kernel's zeroing does first. Time it with
 * /usr/bin/time beside `mmsim run FILE --thp` (docs/performance.md).
 *
 * usage: host_touch [MIB] [plain]   (512 by default; `plain`: no MADV_HUGEPAGE)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t arena = (size_t)1 << 30;
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 512;
	volatile char *p;

	if (mib == 0 || mib > 1024) {
		fprintf(stderr, "usage: host_touch [MIB (1..1024)] [plain]\n");
		return 2;
	}
	p = mmap(NULL, arena, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		perror("host_touch: mmap");
		return 1;
	}
	if (!(argc > 2 && strcmp(argv[2], "plain") == 0))
		(void)madvise((void *)p, arena, MADV_HUGEPAGE);
	for (size_t off = 0; off < mib << 20; off += 4096)
		p[off] = 1;
	return p[0] == 1 ? 0 : 1;
}
