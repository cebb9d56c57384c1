/*
 * What each physical frame holds, for the frame views: the allocator's own view
 * (frame_alloc_use_of) refined by asking the owners of kernel frames: the page tables of the
 * kernel and of every process, and the pressure governor's reserve.
 */
#ifndef MMSIM_SIM_FRAME_CLASSES_H
#define MMSIM_SIM_FRAME_CLASSES_H

#include <stdint.h>

#include "frame.h"

struct sim;

enum frame_class {
	FC_NOT_MANAGED, FC_FREE, FC_CACHED, FC_METADATA, FC_KERNEL, FC_ONE, FC_SHARED, FC_COW,
	FC_TABLE,   /* a page table (kernel or process) */
	FC_RESERVE, /* the sacred reserve */
	FC_COUNT,
};

struct frame_classes {
	uint8_t *marks; /* per frame: 0, FC_TABLE or FC_RESERVE */
	uint64_t nframes;
};

/* A snapshot of tables and reserve frames; false if the host is out of memory. */
bool frame_classes_build(struct sim *sim, struct frame_classes *fc);
void frame_classes_free(struct frame_classes *fc);
enum frame_class frame_class_of(const struct frame_classes *fc, frame_t f);
const char *frame_class_name(enum frame_class c);
char frame_class_char(enum frame_class c);

#endif
