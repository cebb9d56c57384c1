/*
 * The scenario language: a file is read whole, split into statements and checked against
 * the command table before anything runs (any error: FILE:LINE:COL: error: ..., exit 2).
 *
 * The language is a table of commands (sim/commands/commands.c lists the tables). A command is one
 * word ("poke") or two ("expect access", "show cr3", "dump phys"); each entry brings its own
 * parse and exec functions, so a new command never touches the lexer or this parser.
 */
#ifndef MMSIM_SIM_SCENARIO_H
#define MMSIM_SIM_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scenario/command_args.h"

struct sc_word {
	const char *text; /* NUL-terminated */
	int line;
	int col;
};

struct sc_option {
	const char *key;   /* NUL-terminated copy of the part before '=' */
	const char *value; /* the part after '=' */
	int line;
	int col;
	bool used;
};

/* What the machine line set; later statements are checked against it. */
struct machine_cfg {
	uint64_t memory;     /* bytes */
	unsigned cpus;
	bool kernel;
	unsigned maxphyaddr;
	unsigned tlb_entries;
	enum x86_vendor vendor;
	bool page1gb;
	bool default_map; /* the bootloader reports the default PC memory map (map=default) */
	bool audit;       /* run the kernel's invariant audit after every command */
	uint64_t reserve, warning, emergency; /* frames; 0 = the governor's defaults */
	bool oom_picker;  /* oom=picker: a person picks the victim */
	uint64_t swap;    /* swap=: bytes of swap area; 0 none (a limit without it gets one) */
	char swapfile[256]; /* swapfile=PATH: the area in a file, else in host memory */
	bool swapkeep;    /* swapkeep=1: the swap file stays after the run */
	int policy;       /* policy=: enum replace_policy (core/replace_policy.h) */
	bool uses_limit;  /* a `limit` command appears: the machine needs a swap area */
};

enum sc_mode {
	SC_KERNEL_OFF = 1u << 0, /* allowed on the bare processor */
	SC_KERNEL_ON = 1u << 1,  /* allowed with the kernel */
	SC_ANY = SC_KERNEL_OFF | SC_KERNEL_ON,
	SC_BOOT_PHASE = 1u << 2, /* describes the machine: runs before the kernel boots */
	SC_IN_PARALLEL = 1u << 3, /* may stand inside a `parallel ... end` block (with cpu=) */
};

struct sc_stmt;
struct sim;
struct sc_parse;

enum sc_status {
	SC_CONTINUE,
	SC_EXPECT_FAILED, /* exit 1 */
	SC_RUN_ERROR,     /* exit 2: the scenario asked for something the machine cannot do */
	SC_KERNEL_BUG,    /* exit 3 */
};

struct sc_command {
	const char *name;     /* "poke", "expect access" */
	const char *synopsis; /* "poke PADDR VALUE [size=8]" */
	const char *help;     /* one line for `mmsim help` */
	unsigned modes;       /* enum sc_mode */
	bool (*parse)(struct sc_parse *p);
	enum sc_status (*exec)(struct sim *sim, const struct sc_stmt *st);
};

/* One parsed statement: what every command shares, then its own arguments (command_args.h). */
struct sc_stmt {
	const struct sc_command *cmd;
	int line;
	int col;
	char *text;     /* the statement as written, words joined by one blank */
	int cpu;        /* the cpu= option, -1 when absent */
	char proc[SC_NAME_MAX]; /* the process the command acts on (A, SRV, pick's NAME), or "" */
	char *path;     /* FILE of the commands that write one (dump phys, show dot, show framemap) */
	struct sc_expectation expect; /* an expect line's `-> RESULT` or `OP VALUE` */
	size_t nested;  /* statements after this one that it runs itself (a parallel block's) */
	/* A marked answer (`#?` comment, see sim/scenario/answers.c): enum sc_question, where the
	 * answer stands on its line, and the answer as written. */
	int question;
	int answer_line, answer_col, answer_end_col;
	char *answer;
	char *answer_problem; /* SC_Q_MALFORMED: the parser's complaint */
	union {
		struct sc_phys_args phys;               /* poke, peek, expect peek */
		struct sc_cpu_args cpu_regs;            /* cpu */
		struct sc_translate_args translate;     /* access, expect access */
		struct sc_invlpg_args invlpg;           /* invlpg */
		struct sc_bootmem_args bootmem;         /* bootmem */
		struct sc_checkpoint_args checkpoint;   /* checkpoint */
		struct sc_counter_args counter;         /* expect free_frames ... reserve_frames */
		struct sc_show_frames_args show_frames; /* show frames */
		struct sc_failalloc_args failalloc;     /* failalloc */
		struct sc_pressure_args pressure;       /* expect pressure */
		struct sc_dot_args dot;                 /* show dot */
		struct sc_framemap_args framemap;       /* show framemap */
		struct sc_pagetables_args pagetables;   /* show pagetables */
		struct sc_trace_args trace;             /* trace */
		struct sc_explain_args explain;         /* explain */
		struct sc_fork_args fork;               /* fork */
		struct sc_mmap_args mmap;               /* mmap */
		struct sc_range_args range;             /* munmap, mprotect, fserve */
		struct sc_share_args share;             /* borrow, transfer */
		struct sc_fmap_args fmap;               /* fmap */
		struct sc_access_args access;           /* read ... kcopyin */
		struct sc_page_args page;               /* expect refcount, expect present */
		struct sc_frame_pair_args frame_pair;   /* expect same_frame, different_frame */
		struct sc_limit_args limit;             /* limit */
	};
};

/* What a statement marked with `#?` holds in place of its answer. */
enum sc_question {
	SC_Q_NONE,
	SC_Q_ANSWERED,   /* an answer to check: wrong is reported, the run goes on */
	SC_Q_UNANSWERED, /* `?`: the statement runs, nothing is checked */
	SC_Q_MALFORMED,  /* an answer the parser rejects: reported, the statement runs */
};

/* A `parallel` block being parsed (sim/commands/cmd_parallel.c). */
struct sc_block {
	bool open;
	size_t at;          /* index of the `parallel` statement */
	int line, col;
	uint64_t cpus;      /* the CPUs its commands named so far */
	unsigned count;     /* its commands so far */
	size_t procs;       /* processes known before it: those created inside wait for `end` */
};

struct scenario {
	char *file;             /* as named on the command line */
	struct machine_cfg machine;
	bool machine_given;
	bool past_boot_phase;   /* a command other than machine/bootmem was seen */
	struct sc_stmt *stmts;
	size_t nstmts;
	size_t cap;
	unsigned nerrors;
	FILE *err;              /* where parse errors go (stderr) */
	/* names of checkpoints seen so far, to reject a use before its definition */
	char (*checkpoints)[SC_NAME_MAX];
	size_t ncheckpoints;
	/* processes created so far (spawn, fork), to reject a use before the creation */
	char (*procs)[SC_NAME_MAX];
	size_t nprocs;
	struct sc_block block;  /* the open `parallel` block, if any */
};

/* Parses the file's bytes. Returns true if there was no error; errors were printed. */
bool scenario_parse(struct scenario *sc, const char *file, const char *bytes, size_t len,
		    FILE *err);
/*
 * Incremental parsing, for the REPL (sim/scenario/session.h): scenario_begin starts an empty scenario,
 * scenario_parse_more appends the statements of more text (lines numbered from first_line)
 * and returns true if it added no error. Checks that span lines (machine first, checkpoint
 * names) see every statement parsed before.
 */
void scenario_begin(struct scenario *sc, const char *file, FILE *err);
bool scenario_parse_more(struct scenario *sc, const char *bytes, size_t len, int first_line);
/* Reads a whole scenario file ("-" is standard input), NUL-terminated; NULL after
 * reporting why (it cannot be opened or read, or is larger than 64 MiB). */
char *scenario_read(const char *file, size_t *len, FILE *err);
/* Reads and parses a file. */
bool scenario_load(struct scenario *sc, const char *file, FILE *err);
void scenario_free(struct scenario *sc);
void machine_cfg_default(struct machine_cfg *cfg);

/* ---- for command parse functions ---- */

struct sc_parse {
	struct scenario *sc;
	struct sc_stmt *st;
	const struct sc_word *cmdword;
	const struct sc_word *pos; /* the words after the command's name, options removed */
	int npos;
	struct sc_option *opt;
	int nopt;
	int end_line, end_col;     /* just past the statement, for "missing argument" */
};

/* Each returns false after reporting the error at the offending word. */
bool sp_error(struct sc_parse *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool sp_error_word(struct sc_parse *p, const struct sc_word *w, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error in an option's value, reported at the value. */
bool sp_error_opt(struct sc_parse *p, const struct sc_option *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool sp_argc(struct sc_parse *p, int min, int max);
bool sp_num(struct sc_parse *p, int i, uint64_t *out);
bool sp_page_aligned(struct sc_parse *p, int i, uint64_t *out);
bool sp_choice(struct sc_parse *p, int i, const char *const *choices, int *out);
bool sp_name(struct sc_parse *p, int i, char out[SC_NAME_MAX]);
bool sp_op(struct sc_parse *p, int i, bool only_equality, enum sc_op *out);
/* `OP VALUE` at words i and i + 1, into st->expect (op, value, has_value). */
bool sp_op_value(struct sc_parse *p, int i, bool only_equality);
bool sp_word_is(const struct sc_parse *p, int i, const char *s);
/* Options: present is set when the key was given. A missing key leaves *out alone. */
bool sp_opt_num(struct sc_parse *p, const char *key, uint64_t *out, bool *present);
bool sp_opt_bool(struct sc_parse *p, const char *key, bool *out, bool *present);
bool sp_opt_choice(struct sc_parse *p, const char *key, const char *const *choices, int *out,
		   bool *present);
bool sp_opt_access_size(struct sc_parse *p, unsigned *size);
struct sc_option *sp_opt_find(struct sc_parse *p, const char *key);

/* `parallel` blocks (sim/commands/cmd_parallel.c): may this command stand in the open block (an error
 * at its name if not), and, once it parsed, does it fit (its own cpu=, not taken yet)? */
bool sc_block_admits(struct sc_parse *p);
bool sc_block_takes(struct sc_parse *p);

const char *sc_op_text(enum sc_op op);
bool sc_op_holds(enum sc_op op, uint64_t got, uint64_t want);

/* The command tables (sim/commands/commands.c). */
const struct sc_command *sc_lookup(const char *first, const char *second, bool *used_second);
bool sc_is_prefix(const char *word);
void sc_print_help(FILE *out, const char *topic);
/* The i-th command of all tables, in `mmsim help` order; NULL past the last. */
const struct sc_command *sc_command_at(size_t i);

#endif
