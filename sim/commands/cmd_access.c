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
#include "arch/x86_64/swap_entry.h"

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
	enum frame_use use;

	/* the common answer without the allocator's lock, which the accesses of every CPU
	 * would otherwise take in turn */
	if (frame_alloc_is_referenced(frame_containing(pa)))
		return true;
	use = frame_alloc_use_of(frame_containing(pa));
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

	if (sim_traces(TRACE_WALK)) {
		narrate_walk(sim_trace(w->sim), cpu, plat_cpu_id(), a->va, a->kind, true, false, t, x);
		/* the processor sees only P=0; the kernel's reading of the entry is the lesson */
		if (x->outcome == X86_PF && t->nsteps > 0 && t->steps[t->nsteps - 1].level == 1 &&
		    pte_is_swap(t->steps[t->nsteps - 1].entry))
			fprintf(sim_trace(w->sim), "       the entry is a swap entry: the page is in swap "
				"slot %" PRIu64 "; the fault handler reads it back\n",
				swp_entry_slot(t->steps[t->nsteps - 1].entry));
	}
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
	return st->access.cmd >= SC_KWRITE;
}

static void do_access(void *arg)
{
	struct access_work *w = arg;
	const struct sc_stmt *st = w->st;
	const struct sc_access_args *a = &st->access;

	/* a frozen system runs no user code: the emergency picker waits for a person */
	if (system_frozen() && !is_copy(st)) {
		w->result = ACC_OOM;
		w->failed_at = w->va;
		return;
	}
	process_switch_to(w->sim, w->p);
	switch (a->cmd) {
	case SC_READ:
	case SC_WRITE:
	case SC_EXEC:
		w->result = user_access_of(w, w->va, a->cmd == SC_WRITE);
		break;
	case SC_TOUCH:
		w->result = ACC_OK;
		for (uint64_t off = 0; off < a->len && w->result == ACC_OK; off += 4096) {
			w->failed_at = w->va + off;
			w->result = user_access_of(w, w->va + off, w->kind == X86_WRITE);
		}
		break;
	case SC_KWRITE:
		w->copy_status = copy_to_user(w->va, &w->value, w->size);
		break;
	case SC_KREAD:
		w->value = 0;
		w->copy_status = copy_from_user(&w->value, w->va, w->size);
		break;
	case SC_KCOPYOUT:
	case SC_KCOPYIN: {
		uint8_t *buf = malloc(a->len ? a->len : 1);

		if (!buf) {
			snprintf(w->bug, sizeof(w->bug), "out of host memory");
			w->result = ACC_BUG;
			break;
		}
		memset(buf, a->fill, a->len);
		w->copy_status = a->cmd == SC_KCOPYOUT ? copy_to_user(w->va, buf, a->len)
						       : copy_from_user(buf, w->va, a->len);
		free(buf);
		break;
	}
	}
}

static const char *const cmd_names[] = {"read",  "write", "exec",     "touch",
					"kwrite", "kread", "kcopyout", "kcopyin"};

/* ---- parsing ---- */

static bool parse_access_common(struct sc_parse *p, enum sc_access_cmd cmd)
{
	static const char *const touch_kinds[] = {"write", "read", NULL};
	struct sc_access_args *a = &p->st->access;
	bool stores = cmd == SC_WRITE || cmd == SC_KWRITE;
	int nargs = stores || cmd == SC_TOUCH || cmd >= SC_KCOPYOUT ? 3 : 2;
	unsigned size = 8;
	bool have;

	a->cmd = cmd;
	if (cmd == SC_TOUCH)
		nargs = 4;
	if (!sp_argc(p, nargs, nargs) || !sp_process(p, 0, p->st->proc) || !sp_num(p, 1, &a->addr))
		return false;
	switch (cmd) {
	case SC_READ:
	case SC_WRITE:
	case SC_KWRITE:
	case SC_KREAD:
		if (!sp_opt_access_size(p, &size))
			return false;
		a->len = size;
		if (stores && !sp_num(p, 2, &a->value))
			return false;
		if (stores && size < 8 && (a->value >> (8 * size)) != 0)
			return sp_error_word(p, &p->pos[2], "%s does not fit in %u byte%s",
					     p->pos[2].text, size, size == 1 ? "" : "s");
		if ((a->addr & 0xfff) + size > 4096)
			return sp_error_word(p, &p->pos[1],
					     "a %u-byte access at %s crosses a page boundary", size,
					     p->pos[1].text);
		break;
	case SC_EXEC:
		a->len = 1;
		break;
	case SC_TOUCH: {
		int k;

		if (!sp_page_aligned(p, 1, &a->addr) || !sp_page_aligned(p, 2, &a->len) ||
		    !sp_choice(p, 3, touch_kinds, &k))
			return false;
		a->write = k == 0;
		a->value = TOUCH_VALUE;
		if (!sp_opt_num(p, "value", &a->value, &have))
			return false;
		if (have && !a->write)
			return sp_error_opt(p, sp_opt_find(p, "value"), "value= goes with touch ... write");
		break;
	}
	case SC_KCOPYOUT:
	case SC_KCOPYIN:
		if (!sp_num(p, 2, &a->len))
			return false;
		if (a->len > ((uint64_t)64 << 20))
			return sp_error_word(p, &p->pos[2], "kernel copies are limited to 64M");
		if (cmd == SC_KCOPYOUT) {
			uint64_t byte = 0xab;

			if (!sp_opt_num(p, "byte", &byte, &have))
				return false;
			if (byte > 0xff)
				return sp_error_opt(p, sp_opt_find(p, "byte"), "byte= is one byte");
			a->fill = (uint8_t)byte;
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
		if (!sp_expected_result_of(p, cmd >= SC_KWRITE ? copy_words : access_words))  \
			return false;                                                          \
		return parse_access_common(p, cmd);                                            \
	}
ACCESS_PARSER(read, SC_READ)
ACCESS_PARSER(write, SC_WRITE)
ACCESS_PARSER(exec, SC_EXEC)
ACCESS_PARSER(touch, SC_TOUCH)
ACCESS_PARSER(kwrite, SC_KWRITE)
ACCESS_PARSER(kread, SC_KREAD)
ACCESS_PARSER(kcopyout, SC_KCOPYOUT)
ACCESS_PARSER(kcopyin, SC_KCOPYIN)

/* expect read|kread A ADDR == VALUE [size=8], or the `-> RESULT` form */
static bool parse_expect_value(struct sc_parse *p, enum sc_access_cmd cmd)
{
	struct sc_expectation *e = &p->st->expect;
	int eq = -1;

	for (int i = 0; i < p->npos; i++)
		if (sp_word_is(p, i, "==") || sp_word_is(p, i, "!="))
			eq = i;
	if (eq < 0) {
		if (!sp_expected_result_of(p, cmd == SC_KREAD ? copy_words : access_words))
			return false;
		return parse_access_common(p, cmd);
	}
	if (p->sc->block.open)
		return sp_error_word(p, &p->pos[eq],
				     "a value expectation cannot stand inside a parallel block: check the value after `end`");
	if (!sp_op(p, eq, true, &e->op) || !sp_argc(p, eq + 2, eq + 2) ||
	    !sp_num(p, eq + 1, &e->value))
		return false;
	e->has_value = true;
	p->npos = eq;
	return parse_access_common(p, cmd);
}

static bool parse_expect_read_value(struct sc_parse *p)
{
	return parse_expect_value(p, SC_READ);
}

static bool parse_expect_kread_value(struct sc_parse *p)
{
	return parse_expect_value(p, SC_KREAD);
}

/* ---- execution ---- */

static enum sc_status exec_access(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_access_args *a = &st->access;
	const struct sc_expectation *e = &st->expect;
	const char *const *words = is_copy(st) ? copy_words : access_words;
	struct access_work w;
	int got;

	memset(&w, 0, sizeof(w));
	w.sim = sim;
	w.st = st;
	w.p = process_find(sim, st->proc);
	w.va = a->addr;
	w.size = (unsigned)(a->cmd == SC_TOUCH ? 8 : a->len);
	w.value = a->value;
	w.kind = a->cmd == SC_EXEC			  ? X86_FETCH
		 : a->cmd == SC_WRITE			  ? X86_WRITE
		 : a->cmd == SC_TOUCH && a->write	  ? X86_WRITE
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
	if (e->has_result) {
		if (got == e->result || (got == ACC_WORD_EXITED && e->result == ACC_KILLED))
			return SC_CONTINUE;
		return sim_expect_failed(sim, st, "expected %s, got %s", words[e->result], words[got]);
	}
	if (e->has_value) {
		if (got != 0)
			return sim_expect_failed(sim, st, "expected 0x%" PRIx64 ", got %s", e->value,
						 words[got]);
		if (sc_op_holds(e->op, w.value, e->value))
			return SC_CONTINUE;
		return sim_expect_failed(sim, st, "expected %s0x%" PRIx64 ", got 0x%" PRIx64,
					 e->op == SC_NE ? "not " : "", e->value, w.value);
	}
	if (got != 0)
		fprintf(sim_out(sim), "%s: %s 0x%" PRIx64 " -> %s\n", st->proc, cmd_names[a->cmd],
			a->cmd == SC_TOUCH ? w.failed_at : a->addr, words[got]);
	else if (a->cmd == SC_READ || a->cmd == SC_KREAD)
		fprintf(sim_out(sim), "%s: %s 0x%" PRIx64 " = 0x%" PRIx64 "\n", st->proc,
			cmd_names[a->cmd], a->addr, w.value);
	return SC_CONTINUE;
}

/* ---- inspections ---- */

/* expect rss A OP N */
static bool parse_expect_rss(struct sc_parse *p)
{
	return sp_argc(p, 3, 3) && sp_process(p, 0, p->st->proc) && sp_op_value(p, 1, false);
}

static enum sc_status exec_expect_rss(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct sim_process *p = process_find(sim, st->proc);
	uint64_t got = p->as ? addr_space_rss(p->as) : 0;

	if (sc_op_holds(e->op, got, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected rss %s %" PRIu64 ", got %" PRIu64,
				 sc_op_text(e->op), e->value, got);
}

/* expect refcount A ADDR OP N */
static bool parse_expect_refcount(struct sc_parse *p)
{
	return sp_argc(p, 4, 4) && sp_process(p, 0, p->st->proc) &&
	       sp_num(p, 1, &p->st->page.addr) && sp_op_value(p, 2, false);
}

static enum sc_status exec_expect_refcount(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct sim_process *p = process_find(sim, st->proc);
	uint64_t va = st->page.addr;
	struct page_lookup l;

	if (!p->as || !addr_space_lookup(p->as, va, &l))
		return sim_expect_failed(sim, st, "expected a refcount %s %" PRIu64
					 ", but %s has no page mapped at 0x%" PRIx64,
					 sc_op_text(e->op), e->value, p->name, va);
	if (sc_op_holds(e->op, l.refcount, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s %" PRIu64 ", got %" PRIu64 " (frame 0x%" PRIx64 ")",
				 sc_op_text(e->op), e->value, l.refcount, l.pa & ~(uint64_t)0xfff);
}

/* expect same_frame|different_frame A ADDR B ADDR2 */
static bool parse_frame_pair(struct sc_parse *p)
{
	struct sc_frame_pair_args *fp = &p->st->frame_pair;

	return sp_argc(p, 4, 4) && sp_process(p, 0, p->st->proc) && sp_num(p, 1, &fp->addr) &&
	       sp_process(p, 2, fp->other) && sp_num(p, 3, &fp->other_addr);
}

static enum sc_status expect_frames(struct sim *sim, const struct sc_stmt *st, bool want_same)
{
	const struct sc_frame_pair_args *fp = &st->frame_pair;
	struct sim_process *a = process_find(sim, st->proc), *b = process_find(sim, fp->other);
	struct page_lookup la, lb;
	bool ha = a->as && addr_space_lookup(a->as, fp->addr, &la);
	bool hb = b->as && addr_space_lookup(b->as, fp->other_addr, &lb);
	bool same;

	if (!ha || !hb)
		return sim_expect_failed(sim, st, "%s has no page mapped at 0x%" PRIx64,
					 !ha ? a->name : b->name, !ha ? fp->addr : fp->other_addr);
	same = (la.pa >> 12) == (lb.pa >> 12);
	if (same == want_same)
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s frames, got 0x%" PRIx64 " and 0x%" PRIx64,
				 want_same ? "the same" : "different", la.pa & ~(uint64_t)0xfff,
				 lb.pa & ~(uint64_t)0xfff);
}

static enum sc_status exec_expect_same(struct sim *sim, const struct sc_stmt *st)
{
	return expect_frames(sim, st, true);
}

static enum sc_status exec_expect_different(struct sim *sim, const struct sc_stmt *st)
{
	return expect_frames(sim, st, false);
}

/* expect alive A == 0|1 */
static bool parse_expect_alive(struct sc_parse *p)
{
	if (!sp_argc(p, 3, 3) || !sp_process(p, 0, p->st->proc) || !sp_op_value(p, 1, true))
		return false;
	if (p->st->expect.value > 1)
		return sp_error_word(p, &p->pos[2], "alive is 0 or 1");
	return true;
}

static enum sc_status exec_expect_alive(struct sim *sim, const struct sc_stmt *st)
{
	const struct sc_expectation *e = &st->expect;
	struct sim_process *p = process_find(sim, st->proc);
	uint64_t got = p->as != NULL;

	if (sc_op_holds(e->op, got, e->value))
		return SC_CONTINUE;
	return sim_expect_failed(sim, st, "expected %s%" PRIu64 ", got %" PRIu64 " (%s)",
				 e->op == SC_NE ? "not " : "", e->value, got,
				 p->state == PROC_KILLED ? "killed" : p->state == PROC_EXITED ? "exited"
											: "running");
}

/* show cr3 A */
static bool parse_show_cr3(struct sc_parse *p)
{
	return sp_argc(p, 1, 1) && sp_process(p, 0, p->st->proc);
}

static enum sc_status exec_show_cr3(struct sim *sim, const struct sc_stmt *st)
{
	struct sim_process *p = process_find(sim, st->proc);

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
	 "both addresses map the same physical frame", SC_KERNEL_ON, parse_frame_pair,
	 exec_expect_same},
	{"expect different_frame", "expect different_frame A ADDR B ADDR2",
	 "the addresses map different frames", SC_KERNEL_ON, parse_frame_pair,
	 exec_expect_different},
	{"expect alive", "expect alive A ==|!= 0|1", "1 while A runs, 0 once it exited or was killed",
	 SC_KERNEL_ON, parse_expect_alive, exec_expect_alive},
	{"show cr3", "show cr3 A", "prints `A: cr3 0xPADDR`", SC_KERNEL_ON, parse_show_cr3,
	 exec_show_cr3},
	{NULL, NULL, NULL, 0, NULL, NULL},
};
