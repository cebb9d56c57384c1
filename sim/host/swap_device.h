/*
 * The swap area's device, as the host provides it to the kernel (core/swap_area.h): slots
 * of 4 KiB in host memory of its own (a second arena, outside the machine's physical
 * memory, like a disk), or in a file read and written with pread/pwrite (created sparse,
 * removed at the end of the run unless swapkeep=1).
 */
#ifndef MMSIM_SIM_SWAP_DEVICE_H
#define MMSIM_SIM_SWAP_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "swap_area.h"

struct sim_swap {
	struct swap_device dev;
	unsigned char *mem; /* host memory, or NULL */
	int fd;             /* the file, or -1 */
	char *path;         /* the file to remove at the end, or NULL */
	uint64_t bytes;
};

/* bytes of swap in memory (path NULL) or in the file path. false with the reason on err. */
bool sim_swap_open(struct sim_swap *s, uint64_t bytes, const char *path, bool keep, FILE *err);
void sim_swap_close(struct sim_swap *s);

#endif
