/*
 * The typed arguments of a parsed statement: one struct per command or family of commands,
 * its fields named as the command's synopsis names its words. struct sc_stmt (scenario.h)
 * holds what every command shares (where it stands, cpu=, the process it acts on, what an
 * expect line expects) and one of these in a union; the statement's command says which, as
 * the comment above each struct lists. An expect form has its base command's arguments.
 */
#ifndef MMSIM_SIM_COMMAND_ARGS_H
#define MMSIM_SIM_COMMAND_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "x86_cpu.h"

#define SC_NAME_MAX 32

/* Comparison operators of expect lines. */
enum sc_op { SC_EQ, SC_NE, SC_LT, SC_LE, SC_GT, SC_GE };

/*
 * What an expect line checks besides running its command (shared by every statement):
 * `-> RESULT`, the command's outcome, and `OP VALUE`, a number it compares.
 */
struct sc_expectation {
	bool has_result;  /* `-> RESULT` given */
	int result;       /* RESULT's index among the command's result words */
	bool has_value;   /* `OP VALUE` given */
	enum sc_op op;    /* also the ==|!= of `expect pressure` */
	uint64_t value;   /* VALUE; for `expect access ... -> pa PADDR | pf ERR`, PADDR or ERR */
};

/* poke, peek, expect peek */
struct sc_phys_args {
	uint64_t paddr;
	unsigned size;  /* bytes, 1, 2, 4 or 8 */
	uint64_t value; /* poke: the value stored (expect peek compares expect.value) */
	uint64_t mask;  /* expect peek: only these bits count (all by default) */
};

/* One boolean register key of `cpu`. */
struct sc_cpu_bit {
	bool given;
	bool on;
};

/* cpu: the registers it sets, in the order they are written; none given prints them */
struct sc_cpu_args {
	struct sc_cpu_bit wp, nxe, smep, smap, pke, pge, ac;
	bool pkru_given;
	uint32_t pkru;
	bool cr3_given;
	uint64_t cr3;
};

/* access, expect access (the bare processor's translation) */
struct sc_translate_args {
	uint64_t va;
	enum x86_access kind;
	bool user;     /* user, else supervisor */
	bool implicit; /* a supervisor access the processor makes itself (e.g. to the GDT) */
};

/* invlpg */
struct sc_invlpg_args {
	uint64_t va;
};

/* bootmem */
struct sc_bootmem_args {
	uint64_t base, size;
	uint64_t kind; /* enum bootloader_memory_kind */
};

/* checkpoint */
struct sc_checkpoint_args {
	char name[SC_NAME_MAX];
};

/* expect free_frames|used_frames|...: against expect.value, or a checkpoint's value + delta */
struct sc_counter_args {
	unsigned counter; /* index in sim_counters (sim/scenario/counters.h) */
	bool from_checkpoint;
	char checkpoint[SC_NAME_MAX];
	int64_t delta;    /* the `+ K` or `- K` after the checkpoint */
};

/* show frames */
struct sc_show_frames_args {
	bool listed;     /* PADDR given: one line per frame, else the whole map */
	uint64_t start;  /* PADDR */
	uint64_t count;  /* frames listed */
};

/* failalloc */
struct sc_failalloc_args {
	int mode;   /* enum alloc_fail_mode (core/pressure.h) */
	uint64_t n; /* nth=N or after=N */
};

/* expect pressure (its ==|!= in expect.op) */
struct sc_pressure_args {
	int state; /* enum pressure_state (core/pressure.h) */
};

/* show dot (FILE in st->path, A in st->proc) */
struct sc_dot_args {
	unsigned nprocs;          /* processes named: 0, 1 (A) or 2 (A and B) */
	char second[SC_NAME_MAX]; /* B */
	bool svg;                 /* also render FILE.svg with Graphviz */
};

/* show framemap (FILE in st->path) */
struct sc_framemap_args {
	uint64_t cols;
};

/* show pagetables */
struct sc_pagetables_args {
	bool xv6; /* style=xv6, else the tree */
};

/* trace */
struct sc_trace_args {
	bool on;
	unsigned kinds; /* enum plat_trace_kind bits turned on or off */
};

/* explain */
struct sc_explain_args {
	uint64_t va;
	enum x86_access kind;
};

/* fork (the parent in st->proc) */
struct sc_fork_args {
	char child[SC_NAME_MAX];
};

/* mmap */
struct sc_mmap_args {
	bool any;            /* ADDR is `any`: the kernel chooses (near hint when given) */
	uint64_t addr, size;
	unsigned prot;       /* MM_PROT_* */
	bool shared, populate;
	bool phys_given;     /* phys=PADDR: the range maps physical memory from PADDR */
	uint64_t phys;
	uint64_t hint;       /* hint=ADDR with `any`, else 0 */
};

/* munmap, mprotect, fserve */
struct sc_range_args {
	uint64_t addr, size;
	unsigned prot; /* mprotect */
};

/* borrow, transfer: A (st->proc) ADDR B ADDR2 SIZE [PROT] */
struct sc_share_args {
	uint64_t addr;
	char to[SC_NAME_MAX]; /* B */
	uint64_t to_addr;     /* ADDR2 */
	uint64_t size;
	unsigned prot;        /* borrow */
};

/* fmap A ADDR|any SIZE PROT SRV OFFSET */
struct sc_fmap_args {
	bool any;
	uint64_t addr, size;
	unsigned prot;
	char server[SC_NAME_MAX];
	uint64_t offset;
};

/* The user and kernel accesses of processes (sim/commands/cmd_access.c). */
enum sc_access_cmd {
	SC_READ, SC_WRITE, SC_EXEC, SC_TOUCH, SC_KWRITE, SC_KREAD, SC_KCOPYOUT, SC_KCOPYIN
};

/* read, write, exec, touch, kwrite, kread, kcopyout, kcopyin and their expect forms */
struct sc_access_args {
	enum sc_access_cmd cmd;
	uint64_t addr;
	/* the bytes from addr the command reaches: an access's size (exec: 1), the range of a
	 * touch, the length of a copy */
	uint64_t len;
	uint64_t value; /* stored by write, kwrite and `touch ... write` */
	bool write;     /* touch ... write, else touch ... read */
	uint8_t fill;   /* the byte kcopyout copies (kcopyin's buffer starts zeroed) */
};

/* expect refcount, expect present: the page at ADDR */
struct sc_page_args {
	uint64_t addr;
};

/* expect same_frame|different_frame A ADDR B ADDR2 */
struct sc_frame_pair_args {
	uint64_t addr;
	char other[SC_NAME_MAX]; /* B */
	uint64_t other_addr;     /* ADDR2 */
};

/* limit */
struct sc_limit_args {
	uint64_t pages; /* 0 for off */
};

#endif
