/*
 * The floor of the mixed-order workloads: one LIFO stack of blocks per order and per CPU,
 * never split, never merged. A block freed as order k waits on stack k for the next order-k
 * allocation. An empty stack takes a new block from a bump pointer through the CPU's share
 * of the arena; the bump pointer is first aligned to the order asked, and the frames it
 * skips go to the smaller stacks as aligned blocks, so nothing is lost. It can run out of
 * order-k blocks while holding plenty of free memory in other orders: a floor, not an
 * allocator.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "frame_allocator_api.h"

struct stacks_cpu {
	uint64_t *stack[FA_MAX_ORDER + 1];
	uint64_t n[FA_MAX_ORDER + 1];
	uint64_t next, end; /* the CPU's frames not handed out yet */
} __attribute__((aligned(64)));

static struct stacks_cpu *cpus;
static unsigned ncpus;
static uint64_t share;
static _Thread_local struct stacks_cpu *me;

static size_t stack_bytes(unsigned order)
{
	return ((share >> order) + 1) * sizeof(uint64_t);
}

static void stacks_fini(void)
{
	for (unsigned i = 0; i < ncpus; i++)
		for (unsigned k = 0; k <= FA_MAX_ORDER; k++)
			if (cpus[i].stack[k])
				munmap(cpus[i].stack[k], stack_bytes(k));
	free(cpus);
	cpus = NULL;
	ncpus = 0;
}

static int stacks_init(const struct fa_arena *a)
{
	stacks_fini();
	/* cache-line aligned, as the type says: CPUs share no line */
	cpus = aligned_alloc(64, a->threads * sizeof(*cpus));
	if (!cpus)
		return 1;
	memset(cpus, 0, a->threads * sizeof(*cpus));
	ncpus = a->threads;
	share = a->frames / a->threads;
	for (unsigned i = 0; i < ncpus; i++) {
		cpus[i].next = i * share;
		cpus[i].end = (i + 1) * share;
		for (unsigned k = 0; k <= FA_MAX_ORDER; k++) {
			void *p = mmap(NULL, stack_bytes(k), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE, -1, 0);
			if (p == MAP_FAILED)
				return 1;
			cpus[i].stack[k] = p;
		}
	}
	me = &cpus[0];
	return 0;
}

/* A new block of `order` from the CPU's untouched frames, or FA_NONE. */
static __attribute__((noinline)) uint64_t carve(struct stacks_cpu *c, unsigned order)
{
	uint64_t size = 1ULL << order;

	while (c->next & (size - 1)) {
		/* the largest aligned block at next that is smaller than `size` */
		unsigned k = (unsigned)__builtin_ctzll(c->next);
		if (c->next + (1ULL << k) > c->end)
			return FA_NONE;
		c->stack[k][c->n[k]++] = c->next;
		c->next += 1ULL << k;
	}
	if (c->next + size > c->end)
		return FA_NONE;
	c->next += size;
	return c->next - size;
}

static uint64_t stacks_alloc(unsigned order)
{
	struct stacks_cpu *c = me;

	if (c->n[order])
		return c->stack[order][--c->n[order]];
	return carve(c, order);
}

static void stacks_free(uint64_t frame, unsigned order)
{
	struct stacks_cpu *c = me;

	c->stack[order][c->n[order]++] = frame;
}

static void stacks_attach(unsigned cpu)
{
	me = &cpus[cpu];
}

static const struct frame_allocator stacks_allocator = {
	.name = "stacks",
	.about = "floor: a LIFO stack of blocks per order and per CPU (no split, no merge)",
	.max_order = FA_MAX_ORDER,
	.max_threads = 64,
	.init = stacks_init,
	.fini = stacks_fini,
	.alloc = stacks_alloc,
	.free = stacks_free,
	.thread_attach = stacks_attach,
};
FRAME_ALLOCATOR_REGISTER(stacks_allocator)
