/*
 * mmsim quiz translate: a random four-level page table in a 1 MiB physical memory and a few
 * accesses to translate by hand.
 *
 * The tables are built so that the accesses cover what a student must learn: translations
 * through 4 KiB, 2 MiB and 1 GiB pages, not-present entries at every level, and rights that
 * deny the stated access (read-only, supervisor-only, no-execute), sometimes on an upper
 * level rather than on the leaf. The kind of each question is only how the table was built:
 * the answer printed by -c is what the simulated processor (x86_probe) says, nothing else.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "teach/prng.h"
#include "teach/quiz.h"
#include "views/walk_narration.h"
#include "x86_cpu.h"

#define QT_MEMORY (1u << 20)
#define QT_FRAMES (QT_MEMORY >> 12)
#define QT_MAX_TABLES 64
#define QT_MAX_Q 16
#define QT_DEFAULT_Q 6

enum qkind { Q_OK_4K, Q_OK_LARGE, Q_DENY, Q_NOT_PRESENT };

struct table {
	uint64_t pa;
	int level;       /* 4 = PML4 .. 1 = PT */
	uint64_t prefix; /* the VA bits above this table's index */
};

struct question {
	uint64_t va;
	enum x86_access kind;
	bool user;
};

struct qt {
	struct prng rng;
	uint8_t *mem;
	bool used[QT_FRAMES];
	struct table tables[QT_MAX_TABLES];
	int ntables;
	uint64_t cr3;
	/* small pools of indexes, so that addresses share their upper tables */
	unsigned pool[5][3];
};

static unsigned shift_of(int level)
{
	return 12 + 9 * (unsigned)(level - 1);
}

static unsigned index_of(uint64_t va, int level)
{
	return (unsigned)(va >> shift_of(level)) & 511;
}

static uint64_t *entry(struct qt *q, uint64_t table_pa, unsigned idx)
{
	return (uint64_t *)(void *)(q->mem + table_pa + 8 * (uint64_t)idx);
}

static uint64_t canonical(uint64_t va)
{
	return (va & (1ull << 47)) ? va | 0xffff000000000000ull : va & 0x0000ffffffffffffull;
}

/* A random unused frame (0 never: it reads as "no table" to people). */
static uint64_t new_table(struct qt *q, int level, uint64_t prefix)
{
	uint64_t f;

	do
		f = 1 + prng_below(&q->rng, QT_FRAMES - 1);
	while (q->used[f]);
	q->used[f] = true;
	q->tables[q->ntables++] = (struct table){f << 12, level, prefix};
	return f << 12;
}

/* Noise a student must learn to ignore: A on some entries, A|D on some leaves. */
static uint64_t noise(struct qt *q, bool leaf)
{
	switch (prng_below(&q->rng, 4)) {
	case 0:
		return 0;
	case 1:
		return X86_PTE_A;
	default:
		return leaf ? X86_PTE_A | X86_PTE_D : X86_PTE_A;
	}
}

static uint64_t random_va(struct qt *q)
{
	uint64_t va = 0;

	for (int level = 4; level >= 2; level--)
		va |= (uint64_t)q->pool[level][prng_below(&q->rng, 3)] << shift_of(level);
	va |= (uint64_t)prng_below(&q->rng, 512) << 12;
	va |= prng_below(&q->rng, 4096);
	return canonical(va);
}

/*
 * Maps va with a leaf at leaf_level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) pointing at page_pa.
 * deny (P-relative bits: RW or US cleared, XD set) goes on the leaf, or on the highest entry
 * this mapping creates when upper is true and it creates one. Returns false, changing
 * nothing, when the path is taken by a larger page or the leaf slot is used.
 */
static bool map(struct qt *q, uint64_t va, int leaf_level, uint64_t page_pa, uint64_t clear,
		uint64_t set, bool upper)
{
	uint64_t t = q->cr3;
	int created_top = 0;

	/* check the path first */
	for (int level = 4; level > leaf_level; level--) {
		uint64_t e = *entry(q, t, index_of(va, level));

		if (!(e & X86_PTE_P))
			break;
		if (e & X86_PTE_PS)
			return false;
		t = e & X86_ADDR_MASK;
		if (level - 1 == leaf_level && (*entry(q, t, index_of(va, leaf_level)) & X86_PTE_P))
			return false;
	}
	t = q->cr3;
	for (int level = 4; level > leaf_level; level--) {
		uint64_t *e = entry(q, t, index_of(va, level));

		if (!(*e & X86_PTE_P)) {
			uint64_t prefix = va & ~((1ull << shift_of(level)) - 1) & 0x0000ffffffffffffull;
			uint64_t n = new_table(q, level - 1, prefix);

			*e = n | X86_PTE_P | X86_PTE_RW | X86_PTE_US | noise(q, false);
			if (!created_top)
				created_top = level;
		}
		t = *e & X86_ADDR_MASK;
	}
	*entry(q, t, index_of(va, leaf_level)) =
		page_pa | X86_PTE_P | X86_PTE_RW | X86_PTE_US | noise(q, true) |
		(leaf_level > 1 ? X86_PTE_PS : 0);
	if (upper && created_top) {
		uint64_t *e = entry(q, q->cr3, index_of(va, 4));

		for (int level = 4; level > created_top; level--)
			e = entry(q, *e & X86_ADDR_MASK, index_of(va, level - 1));
		*e = (*e & ~clear) | set;
	} else {
		uint64_t *e = entry(q, t, index_of(va, leaf_level));

		*e = (*e & ~clear) | set;
	}
	return true;
}

static uint64_t random_page(struct qt *q, int level)
{
	/* data pages are not read by a translation: they may lie beyond the 1 MiB of tables */
	unsigned shift = shift_of(level);
	uint64_t max = (64ull << 30) >> shift; /* anywhere below 64 GiB */

	return (1 + prng_below(&q->rng, max - 1)) << shift;
}

static bool make_question(struct qt *q, enum qkind k, struct question *out)
{
	uint64_t va = random_va(q);

	switch (k) {
	case Q_OK_4K:
		out->kind = prng_below(&q->rng, 2) ? X86_WRITE : X86_READ;
		out->user = true;
		if (!map(q, va, 1, random_page(q, 1), 0, 0, false))
			return false;
		break;
	case Q_OK_LARGE: {
		int level = prng_below(&q->rng, 3) ? 2 : 3;

		out->kind = X86_READ;
		out->user = prng_below(&q->rng, 2);
		if (!map(q, va, level, random_page(q, level), 0, 0, false))
			return false;
		break;
	}
	case Q_DENY: {
		/* drawn one per statement: the order of a call's arguments is unspecified in C,
		 * and the same seed must give the same problem with every compiler */
		unsigned rule = (unsigned)prng_below(&q->rng, 4);
		uint64_t page = random_page(q, 1);
		bool upper = prng_below(&q->rng, 2);

		switch (rule) {
		case 0: /* read-only, user write */
			out->kind = X86_WRITE;
			out->user = true;
			if (!map(q, va, 1, page, X86_PTE_RW, 0, upper))
				return false;
			break;
		case 1: /* read-only, supervisor write: CR0.WP=1 denies it too */
			out->kind = X86_WRITE;
			out->user = false;
			if (!map(q, va, 1, page, X86_PTE_RW, 0, false))
				return false;
			break;
		case 2: /* supervisor-only, user read */
			out->kind = X86_READ;
			out->user = true;
			if (!map(q, va, 1, page, X86_PTE_US, 0, upper))
				return false;
			break;
		default: /* no-execute, user fetch */
			out->kind = X86_FETCH;
			out->user = true;
			if (!map(q, va, 1, page, 0, X86_PTE_XD, upper))
				return false;
			break;
		}
		break;
	}
	case Q_NOT_PRESENT: {
		/* an empty slot of an existing table: the walk stops at that table's level */
		const struct table *t = &q->tables[prng_below(&q->rng, (uint64_t)q->ntables)];
		unsigned idx = (unsigned)prng_below(&q->rng, t->level == 4 ? 256 : 512);

		if (*entry(q, t->pa, idx) & X86_PTE_P)
			return false;
		va = canonical(t->prefix | (uint64_t)idx << shift_of(t->level) |
			       prng_below(&q->rng, 1ull << shift_of(t->level)));
		out->kind = (enum x86_access)prng_below(&q->rng, 2);
		out->user = prng_below(&q->rng, 4) != 0;
		break;
	}
	}
	out->va = va;
	return true;
}

static const char *mode_name(bool user)
{
	return user ? "user" : "supervisor";
}

static void print_problem(struct qt *q, const struct quiz_options *o, unsigned n, FILE *out)
{
	fprintf(out, "ARG quiz translate\nARG seed %" PRIu64 "\nARG questions %u\n", o->seed, n);
	fprintf(out, "ARG machine kernel=off memory=1M maxphyaddr=46 (256 frames of 4 KiB)\n");
	fprintf(out, "ARG cpu cr0.wp=1 efer.nxe=1 cr4.smep=0 cr4.smap=0 cr4.pke=0\n\n");
	fputs("A four-level x86_64 page table lies in physical memory. Below are the non-zero\n"
	      "8-byte words of every frame that holds part of it (every other word is 0), one line\n"
	      "each: the word's physical address, then its value. The entry for index i of a table\n"
	      "at physical address T is the word at T + 8*i. Entry bits: 0 P (present), 1 RW\n"
	      "(writes allowed), 2 US (user allowed), 5 A, 6 D, 7 PS (in a PDPT or PD entry: a\n"
	      "1 GiB or 2 MiB page ends the walk), 63 XD (no instruction fetch); bits 51:12 the\n"
	      "physical address of the next table, or of the page. Rights combine along the walk:\n"
	      "an access needs RW, US (for user) and no XD (for a fetch) on every level.\n\n",
	      out);
	fprintf(out, "CR3 = 0x%" PRIx64 "\n\n", q->cr3);
	for (unsigned f = 0; f < QT_FRAMES; f++) {
		if (!q->used[f])
			continue;
		fprintf(out, "frame 0x%05x:\n", f << 12);
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = *entry(q, (uint64_t)f << 12, i);

			if (e)
				fprintf(out, "  0x%05x  0x%016" PRIx64 "\n", (f << 12) + 8 * i, e);
		}
	}
	fputs("\nFor each access, give the physical address it reaches, or the page fault: the\n"
	      "#PF error code (bit 0 P: the entry was present, 1 W: a write, 2 U: a user access,\n"
	      "4 I/D: an instruction fetch) and, for a not-present entry, the entry that stopped\n"
	      "the walk; for a protection fault, every entry on the path that denies the access\n"
	      "by itself and the right it lacks (RW, US) or has (XD), the first of them first.\n\n",
	      out);
}

/* An entry on the path that denies the access by itself, and the rights it lacks. */
struct denier {
	int level;
	uint64_t entry_pa;
	char lacks[12]; /* "RW", "US", "XD", "RW US", ... */
};

/* What the processor says about one question, and who is to blame for a fault. */
struct answer {
	struct x86_walk_trace t;
	struct x86_xlate x;
	struct denier deny[4]; /* protection faults: in walk order, the first first */
	int ndeny;
};

/*
 * The entries of a completed walk that each deny the access: the rights combine along the
 * walk (x86 takes the AND of RW and US over every level and the OR of XD), so any entry
 * without RW denies a write that needs it, any entry without US a user access, any entry with
 * XD a fetch. The quiz's CPU has CR0.WP=1 and EFER.NXE=1 and no SMEP, SMAP or keys, so these
 * are the only rules that can deny.
 */
static int find_deniers(const struct x86_cpu *cpu, const struct question *qn,
			const struct x86_walk_trace *t, struct denier *out)
{
	bool need_rw = qn->kind == X86_WRITE && (qn->user || cpu->cr0_wp);
	bool need_x = qn->kind == X86_FETCH && cpu->efer_nxe;
	int n = 0;

	for (int i = 0; i < t->nsteps; i++) {
		uint64_t e = t->steps[i].entry;
		char lacks[12] = "";

		if (need_rw && !(e & X86_PTE_RW))
			strcat(lacks, "RW");
		if (qn->user && !(e & X86_PTE_US))
			strcat(lacks, lacks[0] ? " US" : "US");
		if (need_x && (e & X86_PTE_XD))
			strcat(lacks, lacks[0] ? " XD" : "XD");
		if (!lacks[0])
			continue;
		out[n].level = t->steps[i].level;
		out[n].entry_pa = t->steps[i].entry_pa;
		memcpy(out[n].lacks, lacks, sizeof(lacks));
		n++;
	}
	return n;
}

static void answer(const struct x86_cpu *cpu, const struct question *qn, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	x86_probe(cpu, qn->va, qn->kind, qn->user, false, &a->x, &a->t);
	if (a->x.outcome == X86_PF && a->t.stop == X86_STOP_PROTECTION)
		a->ndeny = find_deniers(cpu, qn, &a->t, a->deny);
}

/* The entry that stopped the walk (not present, reserved bits). */
static const struct x86_walk_step *stop_step(const struct answer *a)
{
	for (int i = 0; i < a->t.nsteps; i++)
		if (a->t.steps[i].level == a->t.stop_level)
			return &a->t.steps[i];
	return NULL;
}

static const char *deny_word(const char *lacks)
{
	return strcmp(lacks, "XD") == 0 ? "has" : "lacks";
}

static void print_key(const struct answer *a, FILE *out)
{
	const struct x86_walk_step *s = stop_step(a);
	char res[64];

	format_xlate(res, sizeof(res), &a->x);
	if (a->x.outcome != X86_PF || !s) {
		fprintf(out, "  -> %s\n", res);
	} else if (a->ndeny) {
		fprintf(out, "  -> %s: denied by the %s entry @0x%" PRIx64 " (%s %s)", res,
			x86_level_name(a->deny[0].level), a->deny[0].entry_pa,
			deny_word(a->deny[0].lacks), a->deny[0].lacks);
		for (int i = 1; i < a->ndeny; i++)
			fprintf(out, ", and the %s entry @0x%" PRIx64 " (%s %s)",
				x86_level_name(a->deny[i].level), a->deny[i].entry_pa,
				deny_word(a->deny[i].lacks), a->deny[i].lacks);
		fputc('\n', out);
	} else {
		fprintf(out, "  -> %s at the %s entry @0x%" PRIx64 " (%s)\n", res,
			x86_level_name(s->level), s->entry_pa,
			a->t.stop == X86_STOP_RESERVED ? "reserved bits set" : "not present");
	}
}

static const char *stop_name(enum x86_stop s)
{
	switch (s) {
	case X86_STOP_LEAF:
		return "leaf";
	case X86_STOP_NOT_PRESENT:
		return "not-present";
	case X86_STOP_RESERVED:
		return "reserved";
	case X86_STOP_PROTECTION:
		return "protection";
	case X86_STOP_PKEY:
		return "pkey";
	case X86_STOP_NONCANONICAL:
		return "noncanonical";
	case X86_STOP_BUS:
		return "bus";
	}
	return "?";
}

/*
 * The problem and its key as one JSON object, so that anyone can check the key with their
 * own walker: memory as physical address -> value (every non-zero word), the control
 * registers, and per question the access and the processor's answer. Numbers that may pass
 * 2^53 are hex strings.
 */
static void print_json(struct qt *q, const struct quiz_options *o, const struct x86_cpu *cpu,
		       const struct question *qs, unsigned n, FILE *out)
{
	const char *sep = "";

	fprintf(out, "{\"quiz\": \"translate\", \"seed\": %" PRIu64 ",\n", o->seed);
	fprintf(out, " \"machine\": {\"memory\": %u, \"maxphyaddr\": 46},\n", QT_MEMORY);
	fprintf(out, " \"cpu\": {\"cr3\": \"0x%" PRIx64 "\", \"cr0.wp\": %d, \"efer.nxe\": %d, "
		"\"cr4.smep\": 0, \"cr4.smap\": 0, \"cr4.pke\": 0},\n",
		q->cr3, cpu->cr0_wp, cpu->efer_nxe);
	fputs(" \"memory\": {", out);
	for (unsigned f = 0; f < QT_FRAMES; f++) {
		for (unsigned i = 0; q->used[f] && i < 512; i++) {
			uint64_t e = *entry(q, (uint64_t)f << 12, i);

			if (!e)
				continue;
			fprintf(out, "%s\n  \"0x%x\": \"0x%016" PRIx64 "\"", sep, (f << 12) + 8 * i, e);
			sep = ",";
		}
	}
	fputs("},\n \"questions\": [", out);
	for (unsigned i = 0; i < n; i++) {
		const struct x86_walk_step *s;
		struct answer a;

		answer(cpu, &qs[i], &a);
		s = stop_step(&a);
		fprintf(out, "%s\n  {\"n\": %u, \"access\": {\"va\": \"0x%" PRIx64 "\", \"kind\": \"%s\", "
			"\"mode\": \"%s\"},\n   \"answer\": {", i ? "," : "", i + 1, qs[i].va,
			access_kind_name(qs[i].kind), mode_name(qs[i].user));
		if (a.x.outcome == X86_OK) {
			fprintf(out, "\"result\": \"pa\", \"pa\": \"0x%" PRIx64 "\", \"page_size\": %llu",
				a.x.pa, 1ull << a.t.page_shift);
		} else if (a.x.outcome == X86_PF) {
			fprintf(out, "\"result\": \"pf\", \"error_code\": \"0x%x\", \"stop\": \"%s\"",
				a.x.err, stop_name(a.t.stop));
			if (a.ndeny)
				s = NULL; /* named by denied_by */
			if (s)
				fprintf(out, ", \"level\": \"%s\", \"entry\": \"0x%" PRIx64 "\"",
					x86_level_name(s->level), s->entry_pa);
			if (a.ndeny) {
				fprintf(out, ", \"level\": \"%s\", \"entry\": \"0x%" PRIx64 "\", \"denied_by\": [",
					x86_level_name(a.deny[0].level), a.deny[0].entry_pa);
				for (int d = 0; d < a.ndeny; d++)
					fprintf(out, "%s{\"level\": \"%s\", \"entry\": \"0x%" PRIx64
						"\", \"lacks\": \"%s\"}", d ? ", " : "",
						x86_level_name(a.deny[d].level), a.deny[d].entry_pa,
						a.deny[d].lacks);
				fputc(']', out);
			}
		} else {
			fputs("\"result\": \"gp\"", out);
		}
		fputs("}}", out);
	}
	fputs("\n ]\n}\n", out);
}

int quiz_translate(const struct quiz_options *o, FILE *out, FILE *err)
{
	static const enum qkind plan[] = {Q_OK_4K, Q_OK_LARGE, Q_DENY, Q_NOT_PRESENT,
					  Q_DENY,  Q_NOT_PRESENT, Q_OK_4K, Q_OK_LARGE};
	unsigned n = o->count ? o->count : QT_DEFAULT_Q;
	struct question qs[QT_MAX_Q];
	struct x86_cpu cpu;
	struct qt *q;
	unsigned made = 0;

	if (n > QT_MAX_Q) {
		fprintf(err, "mmsim: quiz translate: at most %d questions\n", QT_MAX_Q);
		return 2;
	}
	q = calloc(1, sizeof(*q));
	if (q)
		q->mem = calloc(1, QT_MEMORY);
	if (!q || !q->mem) {
		fprintf(err, "mmsim: out of host memory\n");
		if (q)
			free(q);
		return 2;
	}
	prng_seed(&q->rng, o->seed);
	for (int level = 2; level <= 4; level++)
		for (int i = 0; i < 3; i++)
			q->pool[level][i] = (unsigned)prng_below(&q->rng, level == 4 ? 256 : 512);
	q->cr3 = new_table(q, 4, 0);
	/* mappings first, so that not-present questions find the final tables */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n; i++) {
			enum qkind k = plan[i % (sizeof(plan) / sizeof(plan[0]))];
			int tries = 0;

			if ((k == Q_NOT_PRESENT) != (pass == 1))
				continue;
			while (!make_question(q, k, &qs[made]))
				if (++tries == 1000)
					break;
			if (tries < 1000)
				made++;
		}
	}
	/* shuffle (Fisher-Yates), so the kinds do not come in a fixed order */
	for (unsigned i = made; i > 1; i--) {
		unsigned j = (unsigned)prng_below(&q->rng, i);
		struct question t = qs[i - 1];

		qs[i - 1] = qs[j];
		qs[j] = t;
	}
	if (!o->json)
		print_problem(q, o, made, out);
	if (!x86_cpu_init(&cpu, (struct x86_phys){q->mem, QT_MEMORY}, 64, 46)) {
		fprintf(err, "mmsim: cannot create the processor\n");
		free(q->mem);
		free(q);
		return 2;
	}
	x86_write_cr3(&cpu, q->cr3);
	if (o->json)
		print_json(q, o, &cpu, qs, made, out);
	for (unsigned i = 0; i < made && !o->json; i++) {
		struct answer a;

		fprintf(out, "  %u. %-5s by %-10s VA 0x%016" PRIx64, i + 1,
			access_kind_name(qs[i].kind), mode_name(qs[i].user), qs[i].va);
		if (!o->solve) {
			fputs("  -> ?\n", out);
			continue;
		}
		answer(&cpu, &qs[i], &a);
		print_key(&a, out);
		narrate_walk(out, &cpu, 0, qs[i].va, qs[i].kind, qs[i].user, false, &a.t, &a.x);
	}
	x86_cpu_destroy(&cpu);
	free(q->mem);
	free(q);
	return 0;
}
