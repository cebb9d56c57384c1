#include "host/arena.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scenario/numbers.h"

uint64_t arena_cap(void)
{
	const char *s = getenv("MMSIM_ARENA_CAP");
	uint64_t cap;

	if (!s || !*s)
		return ARENA_MAX_SIZE;
	if (parse_number(s, &cap) != NUM_OK)
		return 0;
	return cap < ARENA_MAX_SIZE ? cap : ARENA_MAX_SIZE;
}

enum arena_error arena_create(struct arena *a, uint64_t size, unsigned flags)
{
	void *p;

	a->base = NULL;
	a->size = 0;
	if (size < ARENA_MIN_SIZE || size > ARENA_MAX_SIZE || (size & 0xfff))
		return ARENA_EINVAL;
	if (size > arena_cap())
		return ARENA_ECAP;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		return ARENA_ENOMEM;
	/* Advice is best effort: a host without THP still runs, only slower on first touch. */
	if (flags & ARENA_THP)
		(void)madvise(p, size, MADV_HUGEPAGE);
	if (flags & ARENA_PREFAULT) {
		long host_page = sysconf(_SC_PAGESIZE);
		uint64_t step = host_page > 0 ? (uint64_t)host_page : 4096;
		volatile uint8_t *bytes = p;

		if (madvise(p, size, MADV_POPULATE_WRITE) != 0) {
			for (uint64_t off = 0; off < size; off += step)
				bytes[off] = 0;
		}
	}
	a->base = p;
	a->size = size;
	return ARENA_OK;
}

void arena_destroy(struct arena *a)
{
	if (a->base)
		munmap(a->base, a->size);
	a->base = NULL;
	a->size = 0;
}

const char *arena_strerror(enum arena_error e)
{
	switch (e) {
	case ARENA_OK:
		return "ok";
	case ARENA_EINVAL:
		return "physical memory must be a multiple of 4 KiB between 1M and 64G";
	case ARENA_ECAP:
		return "physical memory larger than MMSIM_ARENA_CAP allows in this environment";
	case ARENA_ENOMEM:
		return "the host refused to reserve that much address space";
	}
	return "unknown error";
}
