/*
 * The command line of the quizzes: mmsim quiz translate|buddy|cow|policy [--seed N] [-n COUNT]
 * [-c] [--json], and policy's own --policy P, --frames N, --refs LIST.
 */
#include <stdlib.h>
#include <string.h>

#include "scenario/numbers.h"
#include "teach/quiz.h"

static void quiz_usage(FILE *err)
{
	fputs("usage: mmsim quiz translate|buddy|cow|policy [--seed N] [-n COUNT] [-c] [--json]\n"
	      "       mmsim quiz policy [--policy fifo|lru|clock|opt] [--frames N] [--refs LIST] ...\n"
	      "  translate  walk a random four-level page table by hand (physical address or fault)\n"
	      "  buddy      predict the buddy allocator's answers and free lists\n"
	      "  cow        fork and copy-on-write: which frames are shared, their references,\n"
	      "             rss and free frames, answered by the simulated kernel\n"
	      "  policy     page replacement: hit or miss for each page of a reference string,\n"
	      "             the page each miss evicts and what stays resident, answered by the\n"
	      "             simulated kernel (a process under `limit`, the machine's policy)\n"
	      "  --seed N   the problem's number (default 0): the same N, the same problem everywhere\n"
	      "  -n COUNT   questions (translate, default 6, at most 16), operations (buddy,\n"
	      "             default 10, at most 32) or references (policy, default 10, at most 32)\n"
	      "  --policy P, --frames N (1..8), --refs LIST (pages 0..15, comma separated, e.g.\n"
	      "             1,2,3,4,1,2,5,1,2,3,4,5): policy only, instead of the seed's choice\n"
	      "  -c         print the answers, computed by the simulated processor / the allocator\n"
	      "  --json     the problem and its answers as one JSON object, to check the key with\n"
	      "             a walker or allocator of your own\n",
	      err);
}

/* --refs 1,2,3,...: false unless 1..QUIZ_MAX_REFS pages, each 0..QUIZ_MAX_PAGE. */
static bool parse_refs(const char *list, struct quiz_options *o)
{
	const char *p = list;

	o->nrefs = 0;
	for (;;) {
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9' || o->nrefs == QUIZ_MAX_REFS)
			return false;
		v = strtoul(p, &end, 10);
		if (v > QUIZ_MAX_PAGE)
			return false;
		o->refs[o->nrefs++] = (unsigned)v;
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		p = end + 1;
	}
}

int quiz_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct quiz_options o = {0};
	const char *kind = NULL;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;

		if (strcmp(a, "-c") == 0 || strcmp(a, "--solve") == 0) {
			o.solve = true;
		} else if (strcmp(a, "--json") == 0) {
			o.json = true;
		} else if (strcmp(a, "--policy") == 0 || strcmp(a, "-p") == 0) {
			if (i + 1 == argc) {
				fprintf(err, "mmsim: quiz: %s needs fifo, lru, clock or opt\n", a);
				return 2;
			}
			o.policy = argv[++i];
		} else if (strcmp(a, "--refs") == 0 || strcmp(a, "-a") == 0) {
			if (i + 1 == argc || !parse_refs(argv[i + 1], &o)) {
				fprintf(err, "mmsim: quiz: %s needs a comma list of 1 to %u pages, each 0..%u\n",
					a, QUIZ_MAX_REFS, QUIZ_MAX_PAGE);
				return 2;
			}
			i++;
		} else if (strcmp(a, "--frames") == 0 || strcmp(a, "-C") == 0) {
			if (i + 1 == argc || parse_number(argv[i + 1], &v) != NUM_OK || v == 0 || v > 8) {
				fprintf(err, "mmsim: quiz: %s needs a number of frames, 1..8\n", a);
				return 2;
			}
			o.frames = (unsigned)v;
			i++;
		} else if (strcmp(a, "--seed") == 0 || strcmp(a, "-s") == 0 || strcmp(a, "-n") == 0) {
			if (i + 1 == argc || parse_number(argv[i + 1], &v) != NUM_OK) {
				fprintf(err, "mmsim: quiz: %s needs a number\n", a);
				return 2;
			}
			if (strcmp(a, "-n") == 0) {
				if (v == 0 || v > 1000) {
					fprintf(err, "mmsim: quiz: -n must be at least 1\n");
					return 2;
				}
				o.count = (unsigned)v;
			} else {
				o.seed = v;
			}
			i++;
		} else if (a[0] == '-') {
			fprintf(err, "mmsim: quiz: unknown option '%s'\n", a);
			quiz_usage(err);
			return 2;
		} else if (kind) {
			fprintf(err, "mmsim: quiz: one kind at a time ('%s' and '%s')\n", kind, a);
			return 2;
		} else {
			kind = a;
		}
	}
	if (!kind) {
		fprintf(err, "mmsim: quiz: which one?\n");
		quiz_usage(err);
		return 2;
	}
	if (strcmp(kind, "policy") == 0) {
		if (o.count && o.nrefs) {
			fprintf(err, "mmsim: quiz policy: -n and --refs do not go together\n");
			return 2;
		}
		return quiz_policy(&o, out, err);
	}
	if (o.policy || o.frames || o.nrefs) {
		fprintf(err, "mmsim: quiz %s: --policy, --frames and --refs are policy's\n", kind);
		return 2;
	}
	if (strcmp(kind, "translate") == 0)
		return quiz_translate(&o, out, err);
	if (strcmp(kind, "buddy") == 0)
		return quiz_buddy(&o, out, err);
	if (strcmp(kind, "cow") == 0) {
		if (o.count) {
			fprintf(err, "mmsim: quiz cow: -n does not apply (the seed sets the steps)\n");
			return 2;
		}
		return quiz_cow(&o, out, err);
	}
	fprintf(err, "mmsim: quiz: unknown kind '%s'\n", kind);
	quiz_usage(err);
	return 2;
}
