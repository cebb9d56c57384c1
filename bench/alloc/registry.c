/* The allocators linked into allocbench, in the order the tables list them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbench.h"

#define MAX_ALLOCATORS 64

static const struct frame_allocator *list[MAX_ALLOCATORS];
static size_t count;
static bool sorted;

void fa_register(const struct frame_allocator *a)
{
	if (count == MAX_ALLOCATORS || !a->name || !a->alloc || !a->free || !a->init) {
		fprintf(stderr, "allocbench: cannot register allocator %s\n", a->name ? a->name : "?");
		exit(1);
	}
	list[count++] = a;
	sorted = false;
}

/* mmsim heads the table, then the textbook buddy, the floors, and the rest by name. */
static int rank(const char *name)
{
	static const char *const first[] = { "mmsim", "textbook", "stacks", "lifo" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(name, first[i]))
			return i;
	return 4;
}

static int by_rank(const void *x, const void *y)
{
	const struct frame_allocator *a = *(const struct frame_allocator *const *)x;
	const struct frame_allocator *b = *(const struct frame_allocator *const *)y;
	int d = rank(a->name) - rank(b->name);
	return d ? d : strcmp(a->name, b->name);
}

static void sort_once(void)
{
	if (!sorted)
		qsort(list, count, sizeof(list[0]), by_rank);
	sorted = true;
}

size_t fa_count(void)
{
	return count;
}

const struct frame_allocator *fa_at(size_t i)
{
	sort_once();
	return i < count ? list[i] : NULL;
}

const struct frame_allocator *fa_find(const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(list[i]->name, name))
			return list[i];
	return NULL;
}
