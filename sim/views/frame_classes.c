#include "views/frame_classes.h"

#include <stdlib.h>

#include "arch/x86_64/kernel_space.h"
#include "frame_alloc_view.h"
#include "page_info.h"
#include "pressure.h"
#include "scenario/sim.h"
#include "user_mm_view.h"

static void mark(struct frame_classes *fc, frame_t f, uint8_t class)
{
	uint64_t n = frame_number(f);

	if (n < fc->nframes)
		fc->marks[n] = class;
}

static bool mark_table(void *ctx, frame_t table, unsigned level, uint64_t va)
{
	(void)level, (void)va;
	mark(ctx, table, FC_TABLE);
	return true;
}

static bool mark_kernel_table(void *ctx, frame_t table, unsigned level, uint64_t va)
{
	(void)level, (void)va;
	mark(ctx, table, FC_KERNEL_TABLE);
	return true;
}

static void mark_reserve(void *ctx, frame_t f)
{
	mark(ctx, f, FC_RESERVE);
}

bool frame_classes_build(struct sim *sim, struct frame_classes *fc)
{
	struct mapper_visitor v = {.table = mark_table, .ctx = fc};
	struct mapper_visitor kv = {.table = mark_kernel_table, .ctx = fc};

	fc->nframes = sim->arena.size >> PAGE_SHIFT;
	fc->marks = calloc(fc->nframes, 1);
	if (!fc->marks)
		return false;
	if (!sim->booted)
		return true;
	kernel_mapper_lock();
	mapper_visit(kernel_mapper(), MAPPER_VISIT_KERNEL, &kv);
	kernel_mapper_unlock();
	for (size_t i = 0; i < sim->nprocs; i++)
		if (process_check_alive(&sim->procs[i]))
			addr_space_visit_tables(sim->procs[i].as, &v);
	pressure_for_each_reserve_frame(mark_reserve, fc);
	return true;
}

void frame_classes_free(struct frame_classes *fc)
{
	free(fc->marks);
	fc->marks = NULL;
}

enum frame_class frame_class_of(const struct frame_classes *fc, frame_t f)
{
	uint64_t n = frame_number(f);

	if (n < fc->nframes && fc->marks[n])
		return (enum frame_class)fc->marks[n];
	if (n && frame_eq(f, zero_frame()))
		return FC_ZERO;
	/* the first FRAME_USE_COUNT classes are the allocator's uses, in the same order */
	return (enum frame_class)frame_alloc_use_of(f);
}

static const struct {
	const char *name;
	char ch;
	const char *color;
	int rank;
} classes[FC_COUNT] = {
	[FC_NOT_MANAGED] = {"not managed", '-', "#b0b0b0", 0},
	[FC_FREE] = {"free", '.', "#ffffff", 1},
	[FC_CACHED] = {"per-CPU cache", 'c', "#e4f4e4", 2},
	[FC_METADATA] = {"allocator metadata", 'm', "#5c6bc0", 3},
	[FC_RESERVE] = {"reserve", 'r', "#ffb74d", 4},
	[FC_KERNEL] = {"kernel", 'k', "#8e6cc8", 5},
	[FC_KERNEL_TABLE] = {"kernel page table", 'T', "#b39ddb", 6},
	[FC_TABLE] = {"process page table", 't', "#26a69a", 7},
	[FC_ONE] = {"private", 'p', "#ffd54f", 8},
	[FC_SHARED] = {"shared", 's', "#42a5f5", 9},
	[FC_COW] = {"copy-on-write", 'w', "#ef5350", 10},
	[FC_ZERO] = {"zero frame", 'z', "#202020", 11},
};

const char *frame_class_name(enum frame_class c)
{
	return c < FC_COUNT ? classes[c].name : "?";
}

char frame_class_char(enum frame_class c)
{
	return c < FC_COUNT ? classes[c].ch : '?';
}

const char *frame_class_color(enum frame_class c)
{
	return c < FC_COUNT ? classes[c].color : "#ff00ff";
}

int frame_class_rank(enum frame_class c)
{
	return c < FC_COUNT ? classes[c].rank : 0;
}

enum frame_class frame_class_by_rank(int i)
{
	for (int c = 0; c < FC_COUNT; c++)
		if (classes[c].rank == i)
			return (enum frame_class)c;
	return FC_NOT_MANAGED;
}

_Static_assert((int)FC_COW == (int)FRAME_USE_COW && (int)FC_TABLE == (int)FRAME_USE_COUNT,
	       "frame classes extend the allocator's uses");
