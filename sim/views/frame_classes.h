/*
 * What each physical frame holds, for the frame views (show frames, show framemap, the
 * allocation trace): the allocator's own view (frame_alloc_use_of) refined by asking the
 * owners of kernel frames: the page tables of the kernel and of every process, the pressure
 * governor's reserve, the zero frame. Every view names a class with frame_class_name, so
 * the views agree.
 */
#ifndef MMSIM_SIM_FRAME_CLASSES_H
#define MMSIM_SIM_FRAME_CLASSES_H

#include <stdint.h>

#include "frame.h"

struct sim;

enum frame_class {
	FC_NOT_MANAGED, FC_FREE, FC_CACHED, FC_METADATA, FC_KERNEL,
	FC_ONE,          /* private: one reference */
	FC_SHARED, FC_COW,
	FC_TABLE,        /* a page table of a process's user half */
	FC_RESERVE,      /* the sacred reserve */
	FC_KERNEL_TABLE, /* a page table of the kernel's half */
	FC_ZERO,         /* the zero frame */
	FC_COUNT,
};

struct frame_classes {
	uint8_t *marks; /* per frame: 0, FC_TABLE, FC_KERNEL_TABLE or FC_RESERVE */
	uint64_t nframes;
};

/* A snapshot of tables and reserve frames; false if the host is out of memory. */
bool frame_classes_build(struct sim *sim, struct frame_classes *fc);
void frame_classes_free(struct frame_classes *fc);
enum frame_class frame_class_of(const struct frame_classes *fc, frame_t f);
const char *frame_class_name(enum frame_class c);
char frame_class_char(enum frame_class c);
/* The fill colour of the class in a picture ("#rrggbb"). */
const char *frame_class_color(enum frame_class c);
/* How telling a class is, for a cell standing for several frames: the highest wins (what a
 * process maps first, free memory last). */
int frame_class_rank(enum frame_class c);
/* The class of rank i (0..FC_COUNT-1): legends list the classes in this order. */
enum frame_class frame_class_by_rank(int i);

#endif
