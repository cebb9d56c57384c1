/*
 * The mmsim command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "teach/handout.h"
#include "views/html_page.h"
#include "teach/quiz.h"
#include "cli/repl.h"
#include "views/report_json.h"
#include "scenario/scenario.h"
#include "scenario/sim.h"
#include "views/trace_kinds.h"

#ifndef MMSIM_VERSION
#define MMSIM_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fputs("usage: mmsim run FILE [--trace[=KINDS]] [--audit] [--json] [--thp] [--prefault]\n"
	      "       mmsim run FILE [--reveal] [--html OUT.html] [--alloc-trace OUT]\n"
	      "       mmsim handout FILE\n"
	      "       mmsim check FILE\n"
	      "       mmsim repl [--trace[=KINDS]] [--audit]\n"
	      "       mmsim quiz translate|buddy|cow|policy [--seed N] [-n COUNT] [-c] [--json]\n"
	      "       mmsim quiz policy [--policy fifo|lru|clock|opt] [--frames N] [--refs LIST]\n"
	      "       mmsim help [COMMAND]\n"
	      "       mmsim --version\n"
	      "\n"
	      "  run FILE     run a scenario; exit 0 when every expectation held, 1 when one\n"
	      "               failed, 2 when the file or the command line is wrong (nothing runs),\n"
	      "               3 when the simulated kernel caught a bug in itself\n"
	      "  handout FILE a lesson's copy for students: its marked answers hidden (`?`);\n"
	      "               `mmsim run` of the filled-in copy names each wrong answer\n"
	      "               (`mmsim help handout`)\n"
	      "  check FILE   only parse FILE and report its errors\n"
	      "  repl         type the scenario language line by line (also `mmsim` alone on a\n"
	      "               terminal); errors are printed and the session goes on\n"
	      "  quiz KIND    a seeded exercise; -c prints its answers, --json the problem and its\n"
	      "               answers as JSON (to check the key with a walker of your own)\n"
	      "  help [CMD]   the scenario language, or the commands starting with CMD\n"
	      "\n"
	      "  --trace      narrate every event from the first scenario line: walks level by\n"
	      "               level, faults, TLB flushes (the kernel's boot is left out)\n"
	      "  --trace=KINDS  narrate only these kinds, a comma list of: boot (everything said\n"
	      "               while the kernel boots), walk, fault, frame, tlb, pressure, mm (address\n"
	      "               spaces, mmap, fork), heap, cpu (register writes, pokes), all\n"
	      "  --audit      check every kernel invariant after every command (exit 3 if one fails)\n"
	      "  --json       print one JSON object at the end: status, failing line, counters,\n"
	      "               checkpoints, and what the scenario printed\n"
	      "  --thp        back physical memory with transparent huge pages (fewer host faults)\n"
	      "  --prefault   touch all physical memory before the run (no host fault during it)\n"
	      "  --reveal     with a wrong answer, say what the machine found\n"
	      "  --html OUT   also write OUT, one page to step through the run in a browser:\n"
	      "               the line, what it printed, faults, processes and page tables,\n"
	      "               TLBs, frames and pressure after every line (self-contained)\n"
	      "  --alloc-trace OUT  write every frame allocation, free and split the kernel made\n"
	      "               (order, CPU, frame, purpose) to OUT, for allocbench --replay\n"
	      "\n"
	      "FILE may be - for standard input.\n",
	      out);
}

static const char handout_help[] =
	"Handouts: a lesson marks its answers, `mmsim handout FILE` hides them.\n"
	"\n"
	"  expect ... == VALUE   #? QUESTION    an answer: the words after the first operator\n"
	"  expect ... -> RESULT  #? QUESTION    (==, !=, <, <=, >, >= or ->), options aside\n"
	"  #> TEXT                              a worked answer in prose (a comment line)\n"
	"\n"
	"mmsim handout FILE prints the student's copy: each marked answer becomes `?`\n"
	"(`expect rss a == ?`, `expect access 0x1000 read user -> ?`), each block of #> lines\n"
	"becomes one `#> your answer:` line; everything else stays as it is.\n"
	"\n"
	"mmsim run FILE on a copy checks every answer and goes on after a wrong one:\n"
	"  FILE:LINE: wrong answer: you wrote 'pa 0x5000'\n"
	"  FILE:LINE:COL: unanswered: expect rss a == ?\n"
	"  FILE:LINE:COL: answer not understood: 'five': ...\n"
	"then `FILE: N answers: R right, W wrong, U unanswered` and exit status 1. The marked\n"
	"statement runs either way (what it does matters to the lines after it). --reveal adds\n"
	"what the machine found to each wrong answer. Every answer right: exit 0, and on a\n"
	"terminal the same summary line.\n";

static void help(const char *topic)
{
	if (topic && strcmp(topic, "handout") == 0) {
		fputs(handout_help, stdout);
		return;
	}
	if (!topic) {
		fputs("mmsim " MMSIM_VERSION ": a kernel memory manager in a simulated x86_64 machine\n\n",
		      stdout);
		usage(stdout);
		fputs("\nThe scenario language (one command per line, # comments, \\ continues a line,\n"
		      "options key=value anywhere after the command, numbers decimal or 0x hex with _\n"
		      "separators and K/M/G suffixes):\n\n",
		      stdout);
	}
	sc_print_help(stdout, topic);
}

/*
 * --trace (every kind but boot) or --trace=KINDS. Returns 1 if arg is a trace flag and was
 * understood, 0 if it is no trace flag, -1 after reporting a bad kind.
 */
static int trace_flag(const char *arg, unsigned *kinds)
{
	const char *bad;
	size_t len;

	if (strcmp(arg, "--trace") == 0) {
		*kinds = TRACE_DEFAULT_KINDS;
		return 1;
	}
	if (strncmp(arg, "--trace=", 8) != 0)
		return 0;
	if (!trace_kinds_parse(arg + 8, kinds, &bad, &len)) {
		fprintf(stderr, "mmsim: --trace: unknown kind '%.*s' (kinds: %s)\n", (int)len, bad,
			trace_kind_names());
		return -1;
	}
	return 1;
}

static int cmd_run(int argc, char **argv, bool run)
{
	struct sim_options opts = {0};
	bool json = false;
	const char *file = NULL, *html = NULL;
	struct scenario sc;
	struct sim sim;
	int status;

	for (int i = 0; i < argc; i++) {
		int t = run ? trace_flag(argv[i], &opts.trace) : 0;

		if (t < 0) {
			return 2;
		} else if (t > 0) {
			continue;
		} else if (run && strcmp(argv[i], "--audit") == 0) {
			opts.audit = true;
		} else if (run && strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (run && strcmp(argv[i], "--thp") == 0) {
			opts.arena_flags |= ARENA_THP;
		} else if (run && strcmp(argv[i], "--prefault") == 0) {
			opts.arena_flags |= ARENA_PREFAULT;
		} else if (run && strcmp(argv[i], "--reveal") == 0) {
			opts.reveal = true;
		} else if (run && strcmp(argv[i], "--html") == 0 && i + 1 < argc) {
			html = argv[++i];
		} else if (run && strncmp(argv[i], "--html=", 7) == 0 && argv[i][7]) {
			html = argv[i] + 7;
		} else if (run && strcmp(argv[i], "--alloc-trace") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "mmsim: --alloc-trace needs a file name\n");
				usage(stderr);
				return 2;
			}
			opts.alloc_trace = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "mmsim: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		} else if (file) {
			fprintf(stderr, "mmsim: one scenario file at a time ('%s' and '%s')\n", file,
				argv[i]);
			return 2;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		fprintf(stderr, "mmsim: %s: missing FILE\n", run ? "run" : "check");
		usage(stderr);
		return 2;
	}
	if (json && html) {
		fprintf(stderr, "mmsim: --json and --html: one at a time\n");
		return 2;
	}
	if (json)
		return sim_run_json(file, &opts, stdout, stderr);
	if (html)
		return sim_run_html(file, html, &opts, stdout, stderr);
	if (!scenario_load(&sc, file, stderr)) {
		scenario_free(&sc);
		return 2;
	}
	if (!run) {
		scenario_free(&sc);
		return 0;
	}
	if (!sim_create(&sim, &sc.machine, &opts, sc.file, stdout, stderr)) {
		scenario_free(&sc);
		return 2;
	}
	status = sim_answers_finish(&sim, sim_run(&sim, &sc));
	sim_say_passed(&sim, status);
	sim_destroy(&sim);
	scenario_free(&sc);
	return status;
}

static int cmd_repl(int argc, char **argv)
{
	struct sim_options opts = {0};

	for (int i = 0; i < argc; i++) {
		int t = trace_flag(argv[i], &opts.trace);

		if (t < 0) {
			return 2;
		} else if (t > 0) {
			continue;
		} else if (strcmp(argv[i], "--audit") == 0) {
			opts.audit = true;
		} else {
			fprintf(stderr, "mmsim: repl: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	return mmsim_repl(stdin, stdout, stderr, &opts);
}

int main(int argc, char **argv)
{
	if (argc < 2 && isatty(STDIN_FILENO))
		return cmd_repl(0, NULL);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("mmsim %s\n", MMSIM_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help(NULL);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc > 3) {
			fprintf(stderr, "mmsim: help takes one topic\n");
			return 2;
		}
		help(argc == 3 ? argv[2] : NULL);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2, true);
	if (strcmp(argv[1], "check") == 0)
		return cmd_run(argc - 2, argv + 2, false);
	if (strcmp(argv[1], "repl") == 0)
		return cmd_repl(argc - 2, argv + 2);
	if (strcmp(argv[1], "handout") == 0) {
		if (argc != 3) {
			fprintf(stderr, "mmsim: handout takes one FILE\n");
			usage(stderr);
			return 2;
		}
		return handout_write(argv[2], stdout, stderr);
	}
	if (strcmp(argv[1], "quiz") == 0)
		return quiz_main(argc - 2, argv + 2, stdout, stderr);
	fprintf(stderr, "mmsim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
