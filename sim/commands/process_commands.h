/*
 * Parsing helpers shared by the process, access and inspection commands.
 */
#ifndef MMSIM_SIM_PROCESS_COMMANDS_H
#define MMSIM_SIM_PROCESS_COMMANDS_H

#include "scenario/scenario.h"
#include "user_mm.h"

/* A process created earlier in the file. */
bool sp_process(struct sc_parse *p, int i, char out[SC_NAME_MAX]);
/* rwx subset, or none / -: MM_PROT_* bits. */
bool sp_prot(struct sc_parse *p, int i, unsigned *prot);
/* The index of "->" among the positional words, or -1 after an error. */
int sp_arrow(struct sc_parse *p);
/* "-> WORD" at arrow: *out = WORD's index in choices; the command's words become
 * pos[0..arrow). */
bool sp_expected_result(struct sc_parse *p, int arrow, const char *const *choices, int *out);
/* Both steps; the result goes to st->expect (has_result, result). */
bool sp_expected_result_of(struct sc_parse *p, const char *const *choices);

/* The words of enum mm_status, for `expect SYSCALL ... -> STATUS`. */
extern const char *const status_words[];

struct sim;
struct sim_process;
/* The end of a system call command: compare with the expected status of an expect line, or
 * print `A: WHAT -> STATUS` when it failed. */
enum sc_status syscall_conclude(struct sim *sim, const struct sc_stmt *st, const char *what,
				enum mm_status status);
/* False (with a run error in *s) when p exited or was killed. */
bool alive_or_report(struct sim *sim, const struct sc_stmt *st, struct sim_process *p,
		     enum sc_status *s);

#endif
