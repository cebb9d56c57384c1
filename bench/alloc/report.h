/* allocbench's results and the ways it prints them: a table, CSV, JSON and an SVG chart. */
#ifndef MMSIM_BENCH_REPORT_H
#define MMSIM_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum row_status {
	ROW_OK,
	ROW_FAILED,  /* the allocator failed verification: no figures */
	ROW_SKIPPED, /* the workload needs what the allocator lacks (orders, threads) */
	ROW_ERROR,   /* init failed during a measurement */
};

/* One allocator on one workload, arena size and thread count. Figures are medians over
 * runs; a figure not measured is a NaN. */
struct row {
	uint64_t arena_bytes;
	unsigned threads;
	char workload[64];
	const char *allocator;
	const char *floor;
	enum row_status status;
	char note[256];
	double ns, mops, ratio, instructions;
	uint64_t ops, failed_allocs;
	unsigned runs;
};

#define CSV_HEADER                                                                             \
	"arena_bytes,threads,workload,allocator,status,ns_per_op,ratio_to_floor,floor,"         \
	"mops_per_s,instructions_per_op,ops,failed_allocs,runs,note"

void report_table(FILE *out, const struct row *r, size_t n);
void report_csv(FILE *out, const struct row *r, size_t n);
void report_json(FILE *out, const struct row *r, size_t n);
/* false if the file cannot be written */
bool report_svg(const char *path, const struct row *r, size_t n);

#endif
