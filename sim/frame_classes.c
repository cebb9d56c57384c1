#include "frame_classes.h"

#include <stdlib.h>

#include "arch/x86_64/kernel_space.h"
#include "frame_alloc_view.h"
#include "pressure.h"
#include "sim.h"
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

static void mark_reserve(void *ctx, frame_t f)
{
	mark(ctx, f, FC_RESERVE);
}

bool frame_classes_build(struct sim *sim, struct frame_classes *fc)
{
	struct mapper_visitor v = {.table = mark_table, .ctx = fc};

	fc->nframes = sim->arena.size >> PAGE_SHIFT;
	fc->marks = calloc(fc->nframes, 1);
	if (!fc->marks)
		return false;
	if (!sim->booted)
		return true;
	kernel_mapper_lock();
	mapper_visit(kernel_mapper(), MAPPER_VISIT_KERNEL, &v);
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
	/* the first FRAME_USE_COUNT classes are the allocator's uses, in the same order */
	return (enum frame_class)frame_alloc_use_of(f);
}

const char *frame_class_name(enum frame_class c)
{
	if (c == FC_TABLE)
		return "page table";
	if (c == FC_RESERVE)
		return "reserve";
	return frame_use_name((enum frame_use)c);
}

char frame_class_char(enum frame_class c)
{
	static const char chars[FC_COUNT] = {'-', '.', 'c', 'm', 'k', '1', 's', 'w', 't', 'r'};

	return c < FC_COUNT ? chars[c] : '?';
}

_Static_assert((int)FC_COW == (int)FRAME_USE_COW && (int)FC_TABLE == (int)FRAME_USE_COUNT,
	       "frame classes extend the allocator's uses");
