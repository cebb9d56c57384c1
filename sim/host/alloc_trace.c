/*
 * The frame-event recorder behind --alloc-trace. Events arrive on whichever CPU thread made
 * the call (host_set_frame_events), possibly with kernel locks held, and are buffered under a
 * host mutex that is only ever taken inside them (never while asking the kernel anything);
 * between commands, when no CPU runs, alloc_trace_settle gives each new allocation its
 * purpose and writes the buffer out.
 *
 * The purpose: the kernel heap says which blocks it took (FRAME_EVENT_HEAP); for the others
 * the frame views' classification (frame_classes.c) of the block right after the command
 * says it: a page table, a user page (private, shared or copy-on-write), the allocator's
 * metadata, other kernel memory; a block freed within the command it was allocated in is
 * `other`.
 */
#include "host/alloc_trace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "views/frame_classes.h"
#include "host/host_platform.h"
#include "scenario/sim.h"

enum purpose { P_PENDING, P_USER, P_TABLE, P_HEAP, P_KERNEL, P_METADATA, P_OTHER };
static const char *const purpose_names[] = { "?", "user", "pagetable", "heap", "kernel", "metadata",
					     "other" };

struct event {
	uint64_t pa;
	uint8_t kind, order, purpose;
	uint16_t cpu;
};

static struct {
	pthread_mutex_t lock;
	FILE *out;
	struct event *ev;
	size_t n, cap;
	bool failed; /* out of host memory: the trace is incomplete */
	/* pa -> index in ev of the latest allocation at pa not yet settled (open addressing) */
	uint64_t *key;
	uint32_t *idx;
	size_t hcap, hused;
} rec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t slot_of(uint64_t pa)
{
	size_t h = (size_t)((pa >> 12) * 0x9e3779b97f4a7c15ULL);
	size_t i = h & (rec.hcap - 1);
	while (rec.key[i] && rec.key[i] != pa)
		i = (i + 1) & (rec.hcap - 1);
	return i;
}

static bool hash_grow(void)
{
	uint64_t *ok = rec.key;
	uint32_t *oi = rec.idx;
	size_t oc = rec.hcap;

	rec.hcap = oc ? oc * 2 : 1024;
	rec.key = calloc(rec.hcap, sizeof(*rec.key));
	rec.idx = calloc(rec.hcap, sizeof(*rec.idx));
	if (!rec.key || !rec.idx) {
		free(rec.key);
		free(rec.idx);
		rec.key = ok;
		rec.idx = oi;
		rec.hcap = oc;
		return false;
	}
	rec.hused = 0;
	for (size_t i = 0; i < oc; i++)
		if (ok[i]) {
			size_t s = slot_of(ok[i]);
			rec.key[s] = ok[i];
			rec.idx[s] = oi[i];
			rec.hused++;
		}
	free(ok);
	free(oi);
	return true;
}

/* The unsettled allocation at pa, or NULL. */
static struct event *pending_at(uint64_t pa)
{
	if (!rec.hcap)
		return NULL;
	size_t s = slot_of(pa);
	if (!rec.key[s])
		return NULL;
	struct event *e = &rec.ev[rec.idx[s]];
	return e->purpose == P_PENDING ? e : NULL;
}

static void on_event(enum plat_frame_event_kind kind, uint64_t pa, unsigned order)
{
	pthread_mutex_lock(&rec.lock);
	if (kind == FRAME_EVENT_HEAP) {
		struct event *e = pending_at(pa);
		if (e)
			e->purpose = P_HEAP;
		goto out;
	}
	if (kind == FRAME_EVENT_FREE) {
		/* freed before the command ended: nobody can say any more what it was for */
		struct event *e = pending_at(pa);
		if (e && e->order == order)
			e->purpose = P_OTHER;
	}
	if (rec.n == rec.cap) {
		size_t cap = rec.cap ? rec.cap * 2 : 4096;
		struct event *ev = realloc(rec.ev, cap * sizeof(*ev));
		if (!ev) {
			rec.failed = true;
			goto out;
		}
		rec.ev = ev;
		rec.cap = cap;
	}
	rec.ev[rec.n] = (struct event){ pa, (uint8_t)kind, (uint8_t)order,
					kind == FRAME_EVENT_ALLOC ? P_PENDING : P_OTHER,
					(uint16_t)plat_cpu_id() };
	if (kind == FRAME_EVENT_ALLOC) {
		if (2 * (rec.hused + 1) > rec.hcap && !hash_grow()) {
			rec.failed = true;
			goto out;
		}
		size_t s = slot_of(pa);
		if (!rec.key[s])
			rec.hused++;
		rec.key[s] = pa;
		rec.idx[s] = (uint32_t)rec.n;
	}
	rec.n++;
out:
	pthread_mutex_unlock(&rec.lock);
}

static enum purpose purpose_of(enum frame_class c)
{
	switch (c) {
	case FC_ONE:
	case FC_SHARED:
	case FC_COW:
	case FC_ZERO:
		return P_USER;
	case FC_TABLE:
	case FC_KERNEL_TABLE:
		return P_TABLE;
	case FC_METADATA:
		return P_METADATA;
	case FC_KERNEL:
	case FC_RESERVE:
		return P_KERNEL;
	default:
		return P_OTHER;
	}
}

bool alloc_trace_start(struct sim *sim, const char *path, FILE *err)
{
	rec.out = fopen(path, "w");
	if (!rec.out) {
		fprintf(err, "mmsim: --alloc-trace: cannot write %s\n", path);
		return false;
	}
	rec.n = 0;
	rec.failed = false;
	fprintf(rec.out,
		"# mmsim alloc trace 1 (docs/alloc-trace.md): %s, memory %llu bytes, %u cpus\n"
		"# a ORDER CPU FRAME PURPOSE | f ORDER CPU FRAME | s ORDER CPU FRAME\n",
		sim->file, (unsigned long long)sim->cfg.memory, sim->cfg.cpus);
	host_set_frame_events(on_event);
	return true;
}

void alloc_trace_settle(struct sim *sim)
{
	if (!rec.out)
		return;
	/* Take the events and let go of the lock before asking the kernel anything: events come
	 * with kernel locks held (on_event), so the recorder's lock is always the inner one. */
	pthread_mutex_lock(&rec.lock);
	struct event *ev = rec.ev;
	size_t n = rec.n;
	rec.ev = NULL;
	rec.n = rec.cap = 0;
	if (rec.hcap) {
		memset(rec.key, 0, rec.hcap * sizeof(*rec.key));
		rec.hused = 0;
	}
	pthread_mutex_unlock(&rec.lock);

	bool pending = false;
	for (size_t i = 0; i < n && !pending; i++)
		pending = ev[i].purpose == P_PENDING;
	struct frame_classes fc = { 0 };
	bool classes = pending && frame_classes_build(sim, &fc);
	for (size_t i = 0; i < n; i++) {
		struct event *e = &ev[i];
		if (e->kind == FRAME_EVENT_ALLOC) {
			if (e->purpose == P_PENDING)
				e->purpose = classes ? purpose_of(frame_class_of(&fc, (frame_t){ e->pa }))
						     : P_OTHER;
			fprintf(rec.out, "a %u %u %#llx %s\n", e->order, e->cpu,
				(unsigned long long)(e->pa >> 12), purpose_names[e->purpose]);
		} else {
			fprintf(rec.out, "%c %u %u %#llx\n", e->kind == FRAME_EVENT_FREE ? 'f' : 's', e->order,
				e->cpu, (unsigned long long)(e->pa >> 12));
		}
	}
	if (classes)
		frame_classes_free(&fc);
	free(ev);
}

bool alloc_trace_finish(struct sim *sim)
{
	if (!rec.out)
		return true;
	alloc_trace_settle(sim);
	host_set_frame_events(NULL);
	if (rec.failed)
		fputs("# incomplete: the host ran out of memory while recording\n", rec.out);
	bool ok = !ferror(rec.out) && !rec.failed;

	ok = fclose(rec.out) == 0 && ok;
	rec.out = NULL;
	free(rec.ev);
	free(rec.key);
	free(rec.idx);
	rec.ev = NULL;
	rec.key = NULL;
	rec.idx = NULL;
	rec.n = rec.cap = rec.hcap = rec.hused = 0;
	return ok;
}
