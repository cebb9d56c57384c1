/*
 * The floor of the order-0 workloads: a LIFO stack of frame numbers per CPU, no checks, no
 * metadata. Not an allocator anyone would use (order 0 only, and a frame freed on one CPU
 * stays with that CPU), but what handing out and taking back a frame costs at the least.
 * Each CPU owns 1/threads of the arena; a stack starts empty and new frames come from a
 * bump pointer through the CPU's share, so init costs nothing at any arena size.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "frame_allocator_api.h"

struct lifo_cpu {
	uint64_t *stack;
	uint64_t n;
	uint64_t next, end; /* the CPU's frames not handed out yet */
} __attribute__((aligned(64)));

static struct lifo_cpu *cpus;
static unsigned ncpus;
static size_t stack_bytes;
static _Thread_local struct lifo_cpu *me;

static void lifo_fini(void)
{
	for (unsigned i = 0; i < ncpus; i++)
		munmap(cpus[i].stack, stack_bytes);
	free(cpus);
	cpus = NULL;
	ncpus = 0;
}

static int lifo_init(const struct fa_arena *a)
{
	uint64_t share = a->frames / a->threads;

	lifo_fini();
	/* cache-line aligned, as the type says: CPUs share no line */
	cpus = aligned_alloc(64, a->threads * sizeof(*cpus));
	if (!cpus)
		return 1;
	memset(cpus, 0, a->threads * sizeof(*cpus));
	ncpus = a->threads;
	stack_bytes = (share ? share : 1) * sizeof(uint64_t);
	for (unsigned i = 0; i < ncpus; i++) {
		/* populated now, so that no page fault lands in a timed loop */
		void *p = mmap(NULL, stack_bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return 1;
		cpus[i] = (struct lifo_cpu){ p, 0, i * share, (i + 1) * share };
	}
	me = &cpus[0];
	return 0;
}

static uint64_t lifo_alloc(unsigned order)
{
	struct lifo_cpu *c = me;

	(void)order; /* max_order 0: only order 0 is ever asked */
	if (c->n)
		return c->stack[--c->n];
	return c->next < c->end ? c->next++ : FA_NONE;
}

static void lifo_free(uint64_t frame, unsigned order)
{
	struct lifo_cpu *c = me;

	(void)order;
	c->stack[c->n++] = frame;
}

static void lifo_attach(unsigned cpu)
{
	me = &cpus[cpu];
}

static const struct frame_allocator lifo_allocator = {
	.name = "lifo",
	.about = "floor: a LIFO stack of frame numbers per CPU (order 0 only)",
	.max_order = 0,
	.max_threads = 64,
	.init = lifo_init,
	.fini = lifo_fini,
	.alloc = lifo_alloc,
	.free = lifo_free,
	.thread_attach = lifo_attach,
};
FRAME_ALLOCATOR_REGISTER(lifo_allocator)
