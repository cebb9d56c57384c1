/*
 * Fuzzing the scenario language: arbitrary bytes go through scenario_parse as a file's
 * contents. Parsing must end in success or in clean errors (written to /dev/null), never a
 * crash, an out-of-bounds access, undefined behaviour or a leak (ASan/UBSan/LSan watch).
 *
 * A file that parses and describes a small bare processor (kernel=off, memory <= 2M,
 * cpus <= 2, no command that writes a file: `dump phys`, `show dot`, which would also run
 * Graphviz, `show framemap`, any whose synopsis takes a FILE) is then run through sim_create and
 * sim_run with its output to /dev/null, so the whole bare-processor interpreter (poke, peek,
 * cpu, access, expect ..., invlpg, flush, show ...) is fuzzed too; an odd-length input runs
 * with --trace, which adds the walk narration. Other scenarios are parsed only.
 *
 * No path here may call exit(): sim_create installs a kernel-panic handler that exits with
 * status 3, so it is replaced by one that aborts (a kernel=off run never reaches the kernel,
 * so a panic would be a bug). The parser's allocation failure path exits, but libFuzzer's
 * -malloc_limit_mb reports an oversized allocation as a crash before that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_platform.h"
#include "scenario/scenario.h"
#include "scenario/sim.h"

#define RUN_MAX_MEMORY ((uint64_t)2 << 20)
#define RUN_MAX_CPUS 2u

static FILE *devnull;

static void panic_is_a_crash(const char *msg)
{
	fprintf(stderr, "fuzz_scenario_parser: kernel panic in a kernel=off run: %s\n", msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool runnable(const struct scenario *sc)
{
	if (sc->machine.kernel || sc->machine.memory > RUN_MAX_MEMORY ||
	    sc->machine.cpus > RUN_MAX_CPUS)
		return false;
	/* a fuzzer must not write files (at paths from its input) nor start programs */
	for (size_t i = 0; i < sc->nstmts; i++)
		if (strstr(sc->stmts[i].cmd->synopsis, " FILE"))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario sc;
	bool ok;

	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		if (!devnull)
			abort();
	}
	ok = scenario_parse(&sc, "fuzz.scn", (const char *)data, size, devnull);
	if (ok && runnable(&sc)) {
		struct sim_options opts = {.trace = (size & 1) ? TRACE_ALL : 0, .audit = false, .arena_flags = 0};
		struct sim sim;

		if (sim_create(&sim, &sc.machine, &opts, "fuzz.scn", devnull, devnull)) {
			int status;

			host_set_panic_handler(panic_is_a_crash);
			status = sim_run(&sim, &sc);
			/* kernel=off: 0 held, 1 an expectation failed, 2 a run-time error; 3 is a bug */
			if (status < 0 || status > 2) {
				fprintf(stderr, "fuzz_scenario_parser: kernel=off run exited %d\n", status);
				abort();
			}
			sim_destroy(&sim);
		}
	}
	scenario_free(&sc);
	return 0;
}
