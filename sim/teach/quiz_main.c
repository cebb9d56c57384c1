/*
 * The command line of the quizzes: mmsim quiz translate|buddy|cow [--seed N] [-n COUNT] [-c].
 */
#include <string.h>

#include "scenario/numbers.h"
#include "teach/quiz.h"

static void quiz_usage(FILE *err)
{
	fputs("usage: mmsim quiz translate|buddy|cow [--seed N] [-n COUNT] [-c] [--json]\n"
	      "  translate  walk a random four-level page table by hand (physical address or fault)\n"
	      "  buddy      predict the buddy allocator's answers and free lists\n"
	      "  cow        fork and copy-on-write: which frames are shared, their references,\n"
	      "             rss and free frames, answered by the simulated kernel\n"
	      "  --seed N   the problem's number (default 0): the same N, the same problem everywhere\n"
	      "  -n COUNT   questions (translate, default 6, at most 16) or operations (buddy,\n"
	      "             default 10, at most 32)\n"
	      "  -c         print the answers, computed by the simulated processor / the allocator\n"
	      "  --json     the problem and its answers as one JSON object, to check the key with\n"
	      "             a walker or allocator of your own\n",
	      err);
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
