/*
 * The swap area's device on the host (swap_device.h).
 */
#include "host/swap_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOT 4096u

static bool mem_read(void *ctx, uint64_t slot, void *page)
{
	struct sim_swap *s = ctx;

	memcpy(page, s->mem + slot * SLOT, SLOT);
	return true;
}

static bool mem_write(void *ctx, uint64_t slot, const void *page)
{
	struct sim_swap *s = ctx;

	memcpy(s->mem + slot * SLOT, page, SLOT);
	return true;
}

static bool file_read(void *ctx, uint64_t slot, void *page)
{
	struct sim_swap *s = ctx;

	return pread(s->fd, page, SLOT, (off_t)(slot * SLOT)) == (ssize_t)SLOT;
}

static bool file_write(void *ctx, uint64_t slot, const void *page)
{
	struct sim_swap *s = ctx;

	return pwrite(s->fd, page, SLOT, (off_t)(slot * SLOT)) == (ssize_t)SLOT;
}

bool sim_swap_open(struct sim_swap *s, uint64_t bytes, const char *path, bool keep, FILE *err)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->bytes = bytes;
	if (!bytes)
		return true;
	if (path && *path) {
		s->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (s->fd < 0 || ftruncate(s->fd, (off_t)bytes) != 0) {
			fprintf(err, "mmsim: swapfile=%s: %s\n", path, strerror(errno));
			sim_swap_close(s);
			return false;
		}
		if (!keep)
			s->path = strdup(path);
		s->dev = (struct swap_device){ bytes / SLOT, file_read, file_write, s };
		return true;
	}
	/* untouched slots cost nothing: the host gives pages on first write */
	s->mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	if (s->mem == MAP_FAILED) {
		s->mem = NULL;
		fprintf(err, "mmsim: swap=%llu: no host memory for the swap area\n",
			(unsigned long long)bytes);
		return false;
	}
	/* huge pages where the host allows, as the arena: a page-sized copy into a 4 KiB host
	 * page nobody touched lately costs a host TLB miss of its own */
	(void)madvise(s->mem, bytes, MADV_HUGEPAGE);
	s->dev = (struct swap_device){ bytes / SLOT, mem_read, mem_write, s };
	return true;
}

void sim_swap_close(struct sim_swap *s)
{
	if (s->mem)
		munmap(s->mem, s->bytes);
	if (s->fd >= 0)
		close(s->fd);
	if (s->path) {
		unlink(s->path);
		free(s->path);
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
