/*
 * `mmsim quiz`: seeded exercises in the manner of the OSTEP homework simulators. The same
 * seed gives the same problem everywhere; -c (solve) prints the answers, computed by the real
 * simulated processor (translate) or the kernel's real frame allocator (buddy).
 */
#ifndef MMSIM_SIM_QUIZ_H
#define MMSIM_SIM_QUIZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct quiz_options {
	uint64_t seed;
	unsigned count; /* questions (translate) or operations (buddy); 0 = the default */
	bool solve;
	bool json;      /* --json: the problem and its key as one JSON object */
};

/* Each returns the exit status (0, or 2 with a message on err). */
int quiz_translate(const struct quiz_options *o, FILE *out, FILE *err);
int quiz_buddy(const struct quiz_options *o, FILE *out, FILE *err);
/* Fork and copy-on-write, answered by running the steps through the simulated kernel. */
int quiz_cow(const struct quiz_options *o, FILE *out, FILE *err);

/* The command line: mmsim quiz KIND [--seed N] [-n COUNT] [-c]. */
int quiz_main(int argc, char **argv, FILE *out, FILE *err);

#endif
