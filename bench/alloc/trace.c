/*
 * Kernel allocation traces (`mmsim run FILE --alloc-trace OUT`, format in docs/alloc-trace.md)
 * turned into operations any allocator can replay.
 *
 * Frames are remapped: the replay asks the allocator for the same orders in the same
 * sequence and frees the blocks it got back when the kernel freed the matching ones. Each
 * allocation gets a slot; a free names the slot of the block it frees. A block the kernel
 * split into order-0 frames (`s` lines) stays one block in the replay and is freed, with its
 * order, when the kernel has freed its last frame. CPU numbers are kept in the file but a
 * replay runs on one thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocbench.h"

/* Per kernel frame: 0 nothing, slot + 1 the head of a live block, INSIDE another frame of
 * it, -(slot + 1) a frame of a split block. */
#define INSIDE INT64_MIN
struct loader {
	int64_t *owner;
	uint64_t nowner;
	uint8_t *slot_order;
	uint32_t *slot_pieces;
	uint64_t slot_cap, pieces_cap;
	uint64_t op_cap;
};

static bool grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	uint64_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return false;
	memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
	*p = q;
	*cap = n;
	return true;
}

static bool push_op(struct trace *t, struct loader *l, uint64_t slot, unsigned order, bool is_free)
{
	if (!grow((void **)&t->ops, &l->op_cap, t->nops + 1, sizeof(*t->ops)))
		return false;
	t->ops[t->nops++] = (struct trace_op){ (uint32_t)slot, (uint8_t)order, is_free };
	return true;
}

static char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	char *n = strdup(s ? s + 1 : path);
	char *dot = n ? strchr(n, '.') : NULL;
	if (dot && dot != n)
		*dot = 0;
	return n;
}

bool trace_load(struct trace *t, const char *path)
{
	struct loader l = { 0 };
	char line[256], what[8];
	unsigned long line_no = 0;
	bool ok = true;
	FILE *in = fopen(path, "r");

	memset(t, 0, sizeof(*t));
	if (!in) {
		fprintf(stderr, "%s: error: cannot open: %s\n", path, strerror(errno));
		return false;
	}
	t->name = base_name(path);
#define BAD(...)                                                                               \
	do {                                                                                   \
		fprintf(stderr, "%s:%lu: error: ", path, line_no);                             \
		fprintf(stderr, __VA_ARGS__);                                                  \
		fputc('\n', stderr);                                                           \
		ok = false;                                                                    \
		goto out;                                                                      \
	} while (0)
	while (fgets(line, sizeof(line), in)) {
		unsigned order, cpu;
		unsigned long long frame;
		line_no++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%7s %u %u %llx", what, &order, &cpu, &frame) != 4 || what[1])
			BAD("expected `a|f|s ORDER CPU FRAME [PURPOSE]`");
		if (order > FA_MAX_ORDER)
			BAD("order %u is above %u", order, FA_MAX_ORDER);
		uint64_t n = 1ULL << order;
		if (frame & (n - 1))
			BAD("frame %#llx is not aligned to its order %u", frame, order);
		if (!grow((void **)&l.owner, &l.nowner, frame + n, sizeof(*l.owner)))
			BAD("out of memory");
		int64_t *own = &l.owner[frame];
		switch (what[0]) {
		case 'a': {
			for (uint64_t i = 0; i < n; i++)
				if (own[i])
					BAD("frame %#llx is allocated again while allocated", frame + i);
			uint64_t s = t->nslots++;
			if (!grow((void **)&l.slot_order, &l.slot_cap, t->nslots, 1) ||
			    !grow((void **)&l.slot_pieces, &l.pieces_cap, t->nslots, sizeof(uint32_t)) ||
			    !push_op(t, &l, s, order, false))
				BAD("out of memory");
			l.slot_order[s] = (uint8_t)order;
			own[0] = (int64_t)s + 1;
			for (uint64_t i = 1; i < n; i++)
				own[i] = INSIDE;
			t->allocs++;
			if (order > t->max_order)
				t->max_order = order;
			break;
		}
		case 'f':
			if (own[0] > 0) {
				uint64_t s = (uint64_t)own[0] - 1;
				if (l.slot_order[s] != order)
					BAD("free of %#llx as order %u: it was allocated as order %u", frame, order,
					    l.slot_order[s]);
				for (uint64_t i = 0; i < n; i++)
					own[i] = 0;
				if (!push_op(t, &l, s, order, true))
					BAD("out of memory");
			} else if (own[0] < 0 && own[0] != INSIDE && order == 0) {
				uint64_t s = (uint64_t)(-own[0]) - 1;
				own[0] = 0;
				if (--l.slot_pieces[s] == 0 && !push_op(t, &l, s, l.slot_order[s], true))
					BAD("out of memory");
			} else {
				BAD("free of %#llx order %u, which is not allocated", frame, order);
			}
			t->frees++;
			break;
		case 's':
			if (own[0] <= 0 || l.slot_order[own[0] - 1] != order)
				BAD("split of %#llx order %u, which is not an allocated block of that order", frame,
				    order);
			l.slot_pieces[own[0] - 1] = (uint32_t)n;
			for (uint64_t i = n; i-- > 0;)
				own[i] = -own[0];
			t->splits++;
			break;
		default:
			BAD("unknown event `%s` (a, f or s)", what);
		}
	}
	if (ferror(in))
		BAD("read error");
	if (!t->nops)
		BAD("no allocation or free in the trace");
#undef BAD
out:
	fclose(in);
	free(l.owner);
	free(l.slot_order);
	free(l.slot_pieces);
	if (!ok)
		trace_free(t);
	return ok;
}

void trace_free(struct trace *t)
{
	free(t->name);
	free(t->ops);
	memset(t, 0, sizeof(*t));
}

bool trace_replay_checked(const struct trace *t, struct verifier *v, char *msg, size_t msg_size)
{
	uint64_t *slot = malloc((t->nslots ? t->nslots : 1) * sizeof(uint64_t));

	if (!slot) {
		snprintf(msg, msg_size, "out of memory");
		return false;
	}
	for (uint64_t i = 0; i < t->nops && !atomic_load(&v->failed); i++) {
		const struct trace_op *op = &t->ops[i];
		if (op->is_free) {
			if (slot[op->slot] != FA_NONE)
				v_free(v, slot[op->slot], op->order);
			slot[op->slot] = FA_NONE;
		} else {
			slot[op->slot] = v_alloc(v, op->order);
		}
	}
	for (uint64_t i = 0; i < t->nops && !atomic_load(&v->failed); i++)
		if (!t->ops[i].is_free && slot[t->ops[i].slot] != FA_NONE) {
			v_free(v, slot[t->ops[i].slot], t->ops[i].order);
			slot[t->ops[i].slot] = FA_NONE;
		}
	free(slot);
	snprintf(msg, msg_size, "%s", v->msg);
	return !atomic_load(&v->failed);
}
