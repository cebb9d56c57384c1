/*
 * Accesses made by processes (read, write, exec, touch), accesses the kernel makes on their
 * behalf (kwrite, kread, kcopyout, kcopyin), their expectations, and the per-process
 * inspections (rss, refcount, same_frame, alive, show cr3).
 *
 * A user access runs on its CPU exactly as the processor runs an instruction: translate
 * through the TLB and page walk; on #PF enter the kernel's page_fault_handler with the error
 * code and CR2; when it returns, retry. The simulator watches every translation that
 * succeeds: one that lands on a frame the allocator considers free (or kernel-private) is a
 * kernel bug: the classic missing TLB shootdown, or a table that outlived its frame.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "host/cpu_threads.h"
#include "frame_alloc_view.h"
#include "platform.h"
#include "pressure.h"
#include "commands/process_commands.h"
#include "scenario/sim.h"
#include "host/user_access.h"
#include "user_mm.h"
#include "user_mm_view.h"
#include "views/walk_narration.h"

/* "touch" in ASCII read as a number: a touched page is easy to spot in a dump */
#define TOUCH_VALUE 0x746f756368ull

enum access_result { ACC_OK, ACC_SEGV, ACC_OOM, ACC_KILLED, ACC_BUG };
/*
 * The result words; "exited" is what a process that exited gets (ACC_KILLED, printed as
 * exited). The contract makes `-> killed` hold for any access by a process that exited or
 * was killed; `-> exited` holds only for one that exited.
 */
static const char *const access_words[] = {"ok", "segv", "oom", "killed", "exited", NULL};
#define ACC_WORD_EXITED 4
static const char *const copy_words[] = {"ok", "efault", NULL};

/* st->kind of access statements */
enum access_cmd { A_READ, A_WRITE, A_EXEC, A_TOUCH, A_KWRITE, A_KREAD, A_KCOPYOUT, A_KCOPYIN };

struct access_work {
	struct sim *sim;
	const struct sc_stmt *st;
	struct sim_process *p;
	uint64_t va;
	enum x86_access kind;
	unsigned size;
	uint64_t value;            /* written, or read back */
	enum access_result result;
	enum mm_status copy_status;
	uint64_t failed_at;        /* touch: the access that did not end ok */
	char bug[320];
};

/* Is this translation of a user access one a correct kernel could have produced? */
static bool check_frame(struct access_work *w, const struct x86_walk_trace *t, uint64_t pa)
{
	enum frame_use use = frame_alloc_use_of(frame_containing(pa));

	if (use != FRAME_USE_FREE && use != FRAME_USE_CACHED && use != FRAME_USE_METADATA &&
	    use != FRAME_USE_KERNEL)
		return true;
	snprintf(w->bug, sizeof(w->bug),
		 "cpu%u: %s's %s at 0x%" PRIx64 " reached frame 0x%" PRIx64 ", which is %s%s",
		 plat_cpu_id(), w->p->name, access_kind_name(w->kind), w->va, pa & ~(uint64_t)0xfff,
		 frame_use_name(use),
		 t->tlb_hit ? " (through a stale TLB entry: a missing TLB shootdown)"
			    : " (the page tables still point at it)");
	return false;
}

/* Every translation is narrated (--trace) and checked against the allocator's view. */
static bool access_translated(struct user_access *a, struct x86_cpu *cpu,
			      const struct x86_walk_trace *t, const struct x86_xlate *x)
{
	struct access_work *w = a->ctx;

	if (sim_traces(TRACE_WALK))
		narrate_walk(sim_trace(w->sim), cpu, plat_cpu_id(), a->va, a->kind, true, false, t, x);
	return x->outcome != X86_OK || check_frame(w, t, x->pa);
}

static void access_faulted(struct user_access *a, struct x86_cpu *cpu, uint32_t err, int verdict)
{
	struct access_work *w = a->ctx;

	if (sim_traces(TRACE_FAULT))
		fprintf(sim_trace(w->sim), "  page fault at 0x%" PRIx64 " (error 0x%x): %s\n", cpu->cr2,
			err, pf_status_name((enum pf_status)verdict));
}

static const struct user_access_observer access_observer = {
	.translated = access_translated,
	.faulted = access_faulted,
};

/* One access, faults handled and retried, on the calling CPU. */
static enum access_result user_access_of(struct access_work *w, uint64_t va, bool store)
{
	struct user_access a = {
		.va = va,
		.kind = w->kind,
		.size = w->size,
		.value = store ? w->value : 0,
		.observer = &access_observer,
		.ctx = w,
	};
	enum user_access_result r = user_access(&w->sim->cpus[plat_cpu_id()], &a);

	switch (r) {
	case UA_OK:
		if (!store && w->kind != X86_FETCH)
			w->value = a.value;
		return ACC_OK;
	case UA_SEGV:
		/* the process was ended meanwhile (exit or the OOM killer on another CPU): this
		 * CPU left its address space, so the retried access found no mapping */
		return addr_space_is_alive(w->p->as) ? ACC_SEGV : ACC_KILLED;
	case UA_OOM:
		return ACC_OOM;
	case UA_KILLED:
		return ACC_KILLED;
	case UA_BEYOND:
		snprintf(w->bug, sizeof(w->bug),
			 "%s's access at 0x%" PRIx64 " reached physical 0x%" PRIx64 ", beyond memory",
			 w->p->name, va, a.pa);
		return ACC_BUG;
	case UA_BUS:
		snprintf(w->bug, sizeof(w->bug),
			 "%s's page tables lead outside physical memory (0x%" PRIx64 ")", w->p->name,
			 a.bad_pa);
		return ACC_BUG;
	case UA_LOOP:
		snprintf(w->bug, sizeof(w->bug),
			 "the page-fault handler keeps answering success at 0x%" PRIx64
			 " but the access faults again (%d times)",
			 va, USER_ACCESS_MAX_FAULTS + 1);
		return ACC_BUG;
	case UA_STOPPED:
		return ACC_BUG; /* check_frame wrote why */
	}
	return ACC_BUG;
}

static bool is_copy(const struct sc_stmt *st)
{
	return st->kind >= A_KWRITE;
}

static void do_access(void *arg)
{
	struct access_work *w = arg;
	const struct sc_stmt *st = w->st;

	/* a frozen system runs no user code: the emergency picker waits for a person */
	if (system_frozen() && !is_copy(st)) {
		w->result = ACC_OOM;
		w->failed_at = w->va;
		return;
	}
	process_switch_to(w->sim, w->p);
	switch ((enum access_cmd)st->kind) {
	case A_READ:
	case A_WRITE:
	case A_EXEC:
		w->result = user_access_of(w, w->va, st->kind == A_WRITE);
		break;
	case A_TOUCH:
		w->result = ACC_OK;
		for (uint64_t off = 0; off < st->u[1] && w->result == ACC_OK; off += 4096) {
			w->failed_at = w->va + off;
			w->result = user_access_of(w, w->va + off, w->kind == X86_WRITE);
		}
		break;
	case A_KWRITE:
		w->copy_status = copy_to_user(w->va, &w->value, w->size);
		break;
	case A_KREAD:
		w->value = 0;
		w->copy_status = copy_from_user(&w->value, w->va, w->size);
		break;
	case A_KCOPYOUT:
	case A_KCOPYIN: {
		uint8_t *buf = malloc(st->u[1] ? st->u[1] : 1);

		if (!buf) {
			snprintf(w->bug, sizeof(w->bug), "out of host memory");
			w->result = ACC_BUG;
			break;
		}
		memset(buf, (int)st->u[2], st->u[1]);
		w->copy_status = st->kind == A_KCOPYOUT ? copy_to_user(w->va, buf, st->u[1])
							: copy_from_user(buf, w->va, st->u[1]);
		free(buf);
		break;
	}
	}
}

static const char *const cmd_names[] = {"read",  "write", "exec",     "touch",
					"kwrite", "kread", "kcopyout", "kcopyin"};

/* ---- parsing ----
 * name[0] process, u[0] address, u[1] size (accesses: bytes; touch: range; copies: length),
 * u[2] value or fill byte, kind = enum access_cmd, op/u[3] for `== VALUE`,
 * SCF_EXPECT + u[7] for `-> RESULT`, flags SCF_COMPARE for `== VALUE`. */

#define SCF_COMPARE 0x100u

static bool parse_access_common(struct sc_parse *p, enum access_cmd cmd)
{
	static const char *const touch_kinds[] = {"write", "read", NULL};
	struct sc_stmt *st = p->st;
	unsigned size = 8;
	int nargs = cmd == A_WRITE || cmd == A_KWRITE || cmd == A_TOUCH || cmd >= A_KCOPYOUT ? 3 : 2;
	bool have;

	st->kind = cmd;
	if (cmd == A_TOUCH)
		nargs = 4;
	if (!sp_argc(p, nargs, nargs) || !sp_process(p, 0, st->name[0]) || !sp_num(p, 1, &st->u[0]))
		return false;
	switch (cmd) {
	case A_READ:
	case A_WRITE:
	case A_KWRITE:
	case A_KREAD:
		if (!sp_opt_access_size(p, &size))
			return false;
		st->u[1] = size;
		if ((cmd == A_WRITE || cmd == A_KWRITE) && !sp_num(p, 2, &st->u[2]))
			return false;
		if ((cmd == A_WRITE || cmd == A_KWRITE) && size < 8 &&
		    (st->u[2] >> (8 * size)) != 0)
			return sp_error_word(p, &p->pos[2], "%s does not fit in %u byte%s",
					     p->pos[2].text, size, size == 1 ? "" : "s");
		if ((st->u[0] & 0xfff) + size > 4096)
			return sp_error_word(p, &p->pos[1],
					     "a %u-byte access at %s crosses a page boundary", size,
					     p->pos[1].text);
		break;
	case A_EXEC:
		st->u[1] = 1;
		break;
	case A_TOUCH: {
		int k;

		if (!sp_page_aligned(p, 1, &st->u[0]) || !sp_page_aligned(p, 2, &st->u[1]) ||
		    !sp_choice(p, 3, touch_kinds, &k))
			return false;
		st->flags |= k == 0 ? 0x200u : 0;
		st->u[2] = TOUCH_VALUE;
		if (!sp_opt_num(p, "value", &st->u[2], &have))
			return false;
		if (have && k != 0)
			return sp_error_opt(p, sp_opt_find(p, "value"), "value= goes with touch ... write");
		break;
	}
	case A_KCOPYOUT:
	case A_KCOPYIN:
		if (!sp_num(p, 2, &st->u[1]))
			return false;
		if (st->u[1] > ((uint64_t)64 << 20))
			return sp_error_word(p, &p->pos[2], "kernel copies are limited to 64M");
		st->u[2] = 0;
		if (cmd == A_KCOPYOUT) {
			st->u[2] = 0xab;
			if (!sp_opt_num(p, "byte", &st->u[2], &have))
				return false;
			if (st->u[2] > 0xff)
				return sp_error_opt(p, sp_opt_find(p, "byte"), "byte= is one byte");
		}
		break;
	}
	return sp_opt_cpu(p);
}

#define ACCESS_PARSER(fn, cmd)                                                                 \
	static bool parse_##fn(struct sc_parse *p)                                             \
	{                                                                                      \
		return parse_access_common(p, cmd);                                            \
	}                                                                                      \
	static __attribute__((unused)) bool parse_expect_##fn(struct sc_parse *p)              \
	{                                                                                      \
		p->st->flags |= SCF_EXPECT;                                                    \
		if (!sp_expected_result_of(p, cmd >= A_KWRITE ? copy_words : access_words))  \
			return false;                                                          \
		return parse_access_common(p, cmd);                                            \
	}
ACCESS_PARSER(read, A_READ)
ACCESS_PARSER(write, A_WRITE)
ACCESS_PARSER(exec, A_EXEC)
ACCESS_PARSER(touch, A_TOUCH)
ACCESS_PARSER(kwrite, A_KWRITE)
ACCESS_PARSER(kread, A_KREAD)
ACCESS_PARSER(kcopyout, A_KCOPYOUT)
ACCESS_PARSER(kcopyin, A_KCOPYIN)

/* expect read|kread A ADDR == VALUE [size=8], or the `-> RESULT` form */
static bool parse_expect_value(struct sc_parse *p, enum access_cmd cmd)
{
	struct sc_stmt *st = p->st;
	int eq = -1;

	for (int i = 0; i < p->npos; i++)
		if (sp_word_is(p, i, "==") || sp_word_is(p, i, "!="))
			eq = i;
	if (eq < 0) {
		st->flags |= SCF_EXPECT;
		if (!sp_expected_result_of(p, cmd == A_KREAD ? copy_words : access_words))
			return false;
		return parse_access_common(p, cmd);
	}
	if (p->sc->block.open)
		return sp_error_word(p, &p->pos[eq],
				     "a value expectation cannot stand inside a parallel block: check the value after `end`");
	if (!sp_op(p, eq, true, &st->op) || !sp_argc(p, eq + 2, eq + 2) ||
	    !sp_num(p, eq + 1, &st->u[3]))
		return false;
	st->flags |= SCF_COMPARE;
	p->npos = eq;
	return parse_access_common(p, cmd);
}

static bool parse_expect_read_value(struct sc_parse *p)
{
	return parse_expect_value(p, A_READ);
}

static bool parse_expect_kread_value(struct sc_parse *p)
{
	return parse_expect_value(p, A_KREAD);
}

/* ---- execution ---- */

static enum sc_status exec_access(struct sim *sim, const struct sc_stmt *st)
{
	struct access_work w;
	const char *name = cmd_names[st->kind];
	int got;

	memset(&w, 0, sizeof(w));
	w.sim = sim;
	w.st = st;
	w.p = process_find(sim, st->name[0]);
	w.va = st->u[0];
	w.size = (unsigned)(st->kind == A_TOUCH ? 8 : st->u[1]);
	w.value = st->u[2];
	w.kind = st->kind == A_EXEC		     ? X86_FETCH
		 : st->kind == A_WRITE		     ? X86_WRITE
		 : st->kind == A_TOUCH && (st->flags & 0x200u) ? X86_WRITE
							      : X86_READ;
	if (!process_check_alive(w.p)) {
		w.result = ACC_KILLED;
		w.failed_at = w.va;
		w.copy_status = MM_STATUS_EFAULT;
	} else {
		unsigned cpu = st->cpu >= 0 ? (unsigned)st->cpu : w.p->last_cpu;

		w.p->last_cpu = cpu;
		sim_on_cpu(sim, cpu, do_access, &w);
	}
	if (w.result == ACC_BUG)
		return sim_kernel_bug(sim, st, "%s", w.bug);
	if (is_copy(st)) {
		got = w.copy_status == MM_STATUS_OK ? 0 : 1;
		if (w.copy_status != MM_STATUS_OK && w.copy_status != MM_STATUS_EFAULT)
			return sim_kernel_bug(sim, st, "a user copy failed with %s (only ok or efault are possible)",
					      mm_status_name(w.copy_status));
	} else {
		got = (int)w.result;
	}
	if (!is_copy(st) && got == ACC_KILLED && w.p->state == PROC_EXITED)
		got = ACC_WORD_EXITED;
	if (st->flags & SCF_EXPECT) {
		if ((uint64_t)got == st->u[7] || (got == ACC_WORD_EXITED && st->u[7] == ACC_KILLED))
			return SC_CONTINUE;
		return sim_expect_failed(sim, st, "expected %s, got %s",
					 (is_copy(st) ? copy_words : access_words)[st->u[7]],
					 (is_copy(st) ? copy_words : access_words)[got]);
	}
	if (st->flags & SCF_COMPARE) {
		if (got != 0)
			return sim_expect_failed(sim, st, "expected 0x%" PRIx64 ", got %s",
						 st->u[3],
						 (is_copy(st) ? copy_words : access_words)[got]);
		if (sc_op_holds(st->op, w.value, st->u[3]))
			return SC_CONTINUE;
		return sim_expect_failed(sim, st, "expected %s0x%" PRIx64 ", got 0x%" PRIx64,
					 st->op == SC_NE ? "not " : "", st->u[3], w.value);
	}
	if (got != 0)
		fprintf(sim_out(sim), "%s: %s 0x%" PRIx64 " -> %s\n", st->name[0], name,
			st->kind == A_TOUCH ? w.failed_at : st->u[0],
			(is_copy(st) ? copy_words : access_words)[got]);
	else if (st->kind == A_READ || st->kind == A_KREAD)
		fprintf(sim_out(sim), "%s: %s 0x%" PRIx64 " = 0x%" PRIx64 "\n", st->name[0], name,
			st->u[0], w.value);
	return SC_CONTINUE;
}

/* ---- inspections ---- */

/* expect rss A OP N: u[0] = N */
static bool parse_expect_rss(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->name[0]) && sp_op(p, 1, false, &p->st->op) &&
	       sp_num(p, 2, &p->st->u[0]);
}

static enum sc_status exec_expect_rss(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->name[0]);
	uint64_t got = p->as ? addr_space_rss(p->as) : 0;

	if (sc_op_holds(st->op, got, st->u[0]))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected rss %s %" PRIu64 ", got %" PRIu64,
				 sc_op_text(st->op), st->u[0], got);
}

/* expect refcount A ADDR OP N: u[0] = ADDR, u[1] = N */
static bool parse_expect_refcount(struct sc_parse *p)
{
	return sp_argc(p, 4, 4) && sp_process(p, 0, p->st->name[0]) && sp_num(p, 1, &p->st->u[0]) &&
	       sp_op(p, 2, false, &p->st->op) && sp_num(p, 3, &p->st->u[1]);
}

static enum sc_status exec_expect_refcount(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->name[0]);
	struct page_lookup l;

	if (!p->as || !addr_space_lookup(p->as, st->u[0], &l))
		return sim_expect_failed(sim, st, "expected a refcount %s %" PRIu64
					 ", but %s has no page mapped at 0x%" PRIx64,
					 sc_op_text(st->op), st->u[1], p->name, st->u[0]);
	if (sc_op_holds(st->op, l.refcount, st->u[1]))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s %" PRIu64 ", got %" PRIu64 " (frame 0x%" PRIx64 ")",
				 sc_op_text(st->op), st->u[1], l.refcount, l.pa & ~(uint64_t)0xfff);
}

/* expect same_frame|different_frame A ADDR B ADDR2: kind 1 for different */
static bool parse_frames_pair(struct sc_parse *p)
{
	return sp_argc(p, 4, 4) && sp_process(p, 0, p->st->name[0]) && sp_num(p, 1, &p->st->u[0]) &&
	       sp_process(p, 2, p->st->name[1]) && sp_num(p, 3, &p->st->u[1]);
}

static bool parse_expect_same(struct sc_parse *p)
{
	p->st->kind = 0;
	return parse_frames_pair(p);
}

static bool parse_expect_different(struct sc_parse *p)
{
	p->st->kind = 1;
	return parse_frames_pair(p);
}

static enum sc_status exec_expect_frames(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *a = process_find(sim, st->name[0]), *b = process_find(sim, st->name[1]);
	struct page_lookup la, lb;
	bool ha = a->as && addr_space_lookup(a->as, st->u[0], &la);
	bool hb = b->as && addr_space_lookup(b->as, st->u[1], &lb);
	bool same;

	if (!ha || !hb)
		return sim_expect_failed(sim, st, "%s has no page mapped at 0x%" PRIx64,
					 !ha ? a->name : b->name, !ha ? st->u[0] : st->u[1]);
	same = (la.pa >> 12) == (lb.pa >> 12);
	if (same == (st->kind == 0))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s frames, got 0x%" PRIx64 " and 0x%" PRIx64,
				 st->kind == 0 ? "the same" : "different", la.pa & ~(uint64_t)0xfff,
				 lb.pa & ~(uint64_t)0xfff);
}

/* expect alive A == 0|1 */
static bool parse_expect_alive(struct sc_parse *p)
{
	if (!sp_argc(p, 3, 3) || !sp_process(p, 0, p->st->name[0]) || !sp_op(p, 1, true, &p->st->op) ||
	    !sp_num(p, 2, &p->st->u[0]))
		return false;
	if (p->st->u[0] > 1)
		return sp_error_word(p, &p->pos[2], "alive is 0 or 1");
	return true;
}

static enum sc_status exec_expect_alive(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->name[0]);
	uint64_t got = p->as != NULL;

	if (sc_op_holds(st->op, got, st->u[0]))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s%" PRIu64 ", got %" PRIu64 " (%s)",
				 st->op == SC_NE ? "not " : "", st->u[0], got,
				 p->state == PROC_KILLED ? "killed" : p->state == PROC_EXITED ? "exited"
											: "running");
}

/* show cr3 A */
static bool parse_show_cr3(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_process(p, 0, p->st->name[0]);
}

static enum sc_status exec_show_cr3(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->name[0]);

	if (!p->as)
		return sim_run_error(sim, st, "process '%s' has no address space any more", p->name);
	fprintf(sim->out, "%s: cr3 0x%" PRIx64 "\n", p->name, addr_space_cr3(p->as));
	return SC_CONTINUE;
}

#define ACC "-> ok|segv|oom|killed|exited"
#define COPY "-> ok|efault"

const struct sc_command access_commands[] = {
	{"read", "read A ADDR [size=8] [cpu=N]", "a user read; prints `A: read 0xADDR = 0xVALUE`",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_read, exec_access},
	{"write", "write A ADDR VALUE [size=8] [cpu=N]", "a user write", SC_KERNEL_ON | SC_IN_PARALLEL, parse_write,
	 exec_access},
	{"exec", "exec A ADDR [cpu=N]", "an instruction fetch", SC_KERNEL_ON | SC_IN_PARALLEL, parse_exec,
	 exec_access},
	{"touch", "touch A ADDR SIZE write|read [value=V] [cpu=N]",
	 "one 8-byte access at the start of each page of the range; stops at the first failure; a write stores value=V, by default 0x746f756368, the ASCII codes of \"touch\" (little-endian, so memory holds the bytes h c u o t)",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_touch, exec_access},
	{"kwrite", "kwrite A ADDR VALUE [size=8] [cpu=N]",
	 "the kernel stores into A's memory (copy-out, CR0.WP=1)", SC_KERNEL_ON | SC_IN_PARALLEL, parse_kwrite,
	 exec_access},
	{"kread", "kread A ADDR [size=8] [cpu=N]",
	 "the kernel loads from A's memory (copy-in); prints the value", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_kread, exec_access},
	{"kcopyout", "kcopyout A ADDR LEN [byte=0xab] [cpu=N]",
	 "the kernel copies LEN bytes (any length, across pages) into A's memory", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_kcopyout, exec_access},
	{"kcopyin", "kcopyin A ADDR LEN [cpu=N]", "the kernel copies LEN bytes out of A's memory",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_kcopyin, exec_access},
	{"expect read", "expect read A ADDR == VALUE [size=8] | expect read A ADDR " ACC,
	 "read and check the value, or the result", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_read_value,
	 exec_access},
	{"expect write", "expect write A ADDR VALUE [size=8] " ACC, "write and check the result",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_write, exec_access},
	{"expect exec", "expect exec A ADDR " ACC, "fetch and check the result", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_expect_exec, exec_access},
	{"expect touch", "expect touch A ADDR SIZE write|read [value=V] " ACC,
	 "touch and check the result of the first access that did not end ok", SC_KERNEL_ON | SC_IN_PARALLEL,
	 parse_expect_touch, exec_access},
	{"expect kwrite", "expect kwrite A ADDR VALUE [size=8] " COPY,
	 "a kernel store and its result", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_kwrite, exec_access},
	{"expect kread", "expect kread A ADDR == VALUE [size=8] | expect kread A ADDR " COPY,
	 "a kernel load and its value or result", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_kread_value,
	 exec_access},
	{"expect kcopyout", "expect kcopyout A ADDR LEN [byte=B] " COPY,
	 "a kernel copy-out and its result", SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_kcopyout, exec_access},
	{"expect kcopyin", "expect kcopyin A ADDR LEN " COPY, "a kernel copy-in and its result",
	 SC_KERNEL_ON | SC_IN_PARALLEL, parse_expect_kcopyin, exec_access},
	{"expect rss", "expect rss A OP N",
	 "4 KiB pages resident in A's user half: present, or PROT_NONE keeping a frame (a 2 MiB "
	 "page counts 512)", SC_KERNEL_ON,
	 parse_expect_rss, exec_expect_rss},
	{"expect refcount", "expect refcount A ADDR OP N",
	 "references to the frame mapped at ADDR in A", SC_KERNEL_ON, parse_expect_refcount,
	 exec_expect_refcount},
	{"expect same_frame", "expect same_frame A ADDR B ADDR2",
	 "both addresses map the same physical frame", SC_KERNEL_ON, parse_expect_same,
	 exec_expect_frames},
	{"expect different_frame", "expect different_frame A ADDR B ADDR2",
	 "the addresses map different frames", SC_KERNEL_ON, parse_expect_different,
	 exec_expect_frames},
	{"expect alive", "expect alive A ==|!= 0|1", "1 while A runs, 0 once it exited or was killed",
	 SC_KERNEL_ON, parse_expect_alive, exec_expect_alive},
	{"show cr3", "show cr3 A", "prints `A: cr3 0xPADDR`", SC_KERNEL_ON, parse_show_cr3,
	 exec_show_cr3},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
