/*
 * `mmsim quiz`: seeded exercises in the manner of the OSTEP homework simulators. The same
 * seed gives the same problem everywhere; -c (solve) prints the answers, computed by the real
 * simulated processor (translate), the kernel's real frame allocator (buddy) or the kernel
 * run on a scenario (cow, policy).
 */
#ifndef MMSIM_SIM_QUIZ_H
#define MMSIM_SIM_QUIZ_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define QUIZ_MAX_REFS 32
#define QUIZ_MAX_PAGE 15

struct quiz_options {
	uint64_t seed;
	unsigned count; /* questions (translate) or operations (buddy); 0 = the default */
	bool solve;
	bool json;      /* --json: the problem and its key as one JSON object */
	/* policy: instead of the seed's choice, the policy (a name), the frames and the
	 * reference string (pages 0..QUIZ_MAX_PAGE) */
	const char *policy;
	unsigned frames;
	unsigned nrefs;
	unsigned refs[QUIZ_MAX_REFS];
};

/* Each returns the exit status (0, or 2 with a message on err). */
int quiz_translate(const struct quiz_options *o, FILE *out, FILE *err);
int quiz_buddy(const struct quiz_options *o, FILE *out, FILE *err);
/* Fork and copy-on-write, answered by running the steps through the simulated kernel. */
int quiz_cow(const struct quiz_options *o, FILE *out, FILE *err);
/* Page replacement: a reference string under a policy and a frame count, answered by the
 * simulated kernel (limit, policy=) run on a real process. */
int quiz_policy(const struct quiz_options *o, FILE *out, FILE *err);

/* The command line: mmsim quiz KIND [--seed N] [-n COUNT] [-c]. */
int quiz_main(int argc, char **argv, FILE *out, FILE *err);

#endif
