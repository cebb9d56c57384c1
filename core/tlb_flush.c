/*
 * The Flusher and the TLB shootdown protocol.
 *
 * Invariants kept here:
 * - R8/T1 a frame reference queued with flusher_free is dropped (and the frame possibly
 *   freed) only after every CPU in the space's used_by set, other than this one, acknowledged
 *   a full TLB flush requested after the page-table change, and this CPU invalidated locally;
 * - T3 table frames the mapper unlinked (table_release) are freed at the same point, never
 *   before (Redox frees them inside the unmap);
 * - T2 waiting for acknowledgements spins with arch_cpu_relax, which takes this CPU's own
 *   pending IPIs, so two CPUs shooting down at each other both finish;
 * - the protocol per target CPU is a pair of counters: a sender takes ticket = ++req and
 *   sends the IPI; the handler reads req, flushes everything, then publishes done = what it
 *   read. done >= ticket therefore means a full flush started after the sender's change.
 *   A CPU that left the space (CR3 reload) keeps acknowledging: its flush is harmless.
 */
#include <stdalign.h>

#include "arch/x86_64/cpu_ops.h"
#include "arch/x86_64/interrupts.h"
#include "mm_internal.h"
#include "page_info.h"
#include "frame_alloc.h"
#include "lockdep.h"
#include "platform.h"
#include "swap_area.h"

#define KTRACE_KIND TRACE_TLB

/* More pages than this are flushed on this CPU with a full flush instead of INVLPGs. */
#define LOCAL_INVLPG_MAX 16u

/* One cache line per CPU: two CPUs that shoot each other down at once do not also fight
 * over each other's counters. */
struct tlb_cpu {
	alignas(64) _Atomic uint64_t req;
	_Atomic uint64_t done;
};
static struct tlb_cpu tlb_cpus[MM_MAX_CPUS];

void tlb_flush_reset(void)
{
	for (unsigned i = 0; i < MM_MAX_CPUS; i++) {
		atomic_store(&tlb_cpus[i].req, 0);
		atomic_store(&tlb_cpus[i].done, 0);
	}
}

void tlb_shootdown_interrupt(unsigned vector)
{
	unsigned me = plat_cpu_id();
	uint64_t r = atomic_load_explicit(&tlb_cpus[me].req, memory_order_acquire);

	(void)vector;
	arch_flush_tlb_all();
	atomic_store_explicit(&tlb_cpus[me].done, r, memory_order_release);
}

void flusher_init(struct flusher *f, struct addr_space *as)
{
	f->as = as;
	f->npages = 0;
	f->all = false;
	f->nframes = 0;
	f->nruns = 0;
	f->next_base = 0;
	f->next_info = NULL; /* no record is NULL: the first frame starts a run */
	f->nnotify = 0;
	table_release_init(&f->rel);
}

void flusher_notify(struct flusher *f, struct addr_space *srv)
{
	if (f->nnotify == FLUSH_MAX_NOTIFY)
		flusher_flush(f);
	f->notify[f->nnotify++] = srv;
}

struct table_release *flusher_rel(struct flusher *f)
{
	if (table_release_needs_flush(&f->rel))
		flusher_flush(f);
	return &f->rel;
}

static void shootdown(struct flusher *f)
{
	unsigned me = plat_cpu_id(), n = 0;
	uint64_t mask = atomic_load_explicit(&f->as->used_by, memory_order_seq_cst);
	uint64_t tickets[MM_MAX_CPUS];
	char list[160];
	size_t pos = 0;

	if (mask & (1ull << me)) {
		if (f->all || f->npages > LOCAL_INVLPG_MAX)
			arch_flush_tlb_all();
		else
			for (unsigned i = 0; i < f->npages; i++)
				arch_invlpg(f->pages[i]);
	}
	mask &= ~(1ull << me);
	if (!mask)
		return;
	for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
		if (!(mask & (1ull << cpu)))
			continue;
		tickets[cpu] = atomic_fetch_add_explicit(&tlb_cpus[cpu].req, 1, memory_order_acq_rel) + 1;
		arch_send_ipi(cpu, VECTOR_TLB_SHOOTDOWN);
		n++;
		if ((plat_trace_mask & TRACE_TLB) && pos + 8 < sizeof(list)) {
			char sep = pos ? ',' : ' ';

			list[pos++] = sep;
			list[pos++] = 'c', list[pos++] = 'p', list[pos++] = 'u';
			if (cpu >= 10)
				list[pos++] = (char)('0' + cpu / 10);
			list[pos++] = (char)('0' + cpu % 10);
		}
	}
	list[pos] = 0;
	if (f->all)
		KTRACE("tlb: shootdown of every page to%s", list);
	else
		KTRACE("tlb: shootdown of %u page%s to%s", f->npages, f->npages == 1 ? "" : "s", list);
	lockdep_might_wait("the wait for shootdown acknowledgements");
	for (unsigned cpu = 0; cpu < MM_MAX_CPUS; cpu++) {
		if (!(mask & (1ull << cpu)))
			continue;
		while (atomic_load_explicit(&tlb_cpus[cpu].done, memory_order_acquire) < tickets[cpu])
			arch_cpu_relax();
	}
	(void)n;
}

void flusher_free_run(struct flusher *f, frame_t frame, struct page_info *info)
{
	if (f->nframes == FLUSH_MAX_FRAMES || f->nruns == FLUSH_MAX_RUNS)
		flusher_flush(f);
	f->run_base[f->nruns] = frame.base;
	f->run_info[f->nruns] = info;
	f->run_start[f->nruns++] = (uint16_t)f->nframes++;
	f->next_base = frame.base + PAGE_SIZE;
	f->next_info = info + 1;
}

/* The queue position one past the last frame of run i. */
static unsigned run_end(const struct flusher *f, unsigned i)
{
	return i + 1 < f->nruns ? f->run_start[i + 1] : f->nframes;
}

static bool bit_at(const uint64_t *bits, unsigned k)
{
	return bits[k / 64] >> (k % 64) & 1;
}

/* Drop the queued references; free the frames that lost their last one, in runs. */
static void release_frames(struct flusher *f)
{
	/* the frames that keep a reference, by queue position: marked only in that rare case,
	 * so that the common one does not chain a read-modify-write of one word through every
	 * frame of the batch */
	uint64_t kept[FLUSH_MAX_FRAMES / 64] = { 0 };
	bool any_kept = false;
	struct frame_free_batch b;
	unsigned k = 0;

	for (unsigned i = 0; i < f->nruns; i++) {
		unsigned end = run_end(f, i);

		for (struct page_info *r = f->run_info[i]; k < end; k++, r++) {
			if (remove_ref(r).kind != REFCOUNT_U0) {
				kept[k / 64] |= 1ull << (k % 64);
				any_kept = true;
				continue;
			}
			swap_cache_frame_freed((frame_t){ f->run_base[i] +
							 (k - f->run_start[i]) * (paddr_t)PAGE_SIZE });
			KTRACE_AS(TRACE_FRAME, "frame: %#llx freed (last reference dropped)",
			       (unsigned long long)(f->run_base[i] +
						    (k - f->run_start[i]) * (paddr_t)PAGE_SIZE));
		}
	}
	frame_free_batch_init(&b);
	for (unsigned i = 0; i < f->nruns; i++) {
		unsigned start = f->run_start[i], end = run_end(f, i);

		if (!any_kept) {
			frame_free_run(&b, (frame_t){ f->run_base[i] }, end - start);
			continue;
		}
		/* the dead parts of the run, between the frames that keep a reference */
		for (k = start; k < end;) {
			unsigned from;

			while (k < end && bit_at(kept, k))
				k++;
			for (from = k; k < end && !bit_at(kept, k);)
				k++;
			if (k > from)
				frame_free_run(&b,
					       (frame_t){ f->run_base[i] + (from - start) * (paddr_t)PAGE_SIZE },
					       k - from);
		}
	}
	frame_free_batch_finish(&b);
}

void flusher_flush(struct flusher *f)
{
	if (!f->all && f->npages == 0 && f->nframes == 0 && f->rel.count == 0 && f->nnotify == 0)
		return;
	if (f->all || f->npages)
		shootdown(f);
	release_frames(f);
	table_release_free(&f->rel);
	for (unsigned i = 0; i < f->nnotify; i++) {
		struct addr_space *srv = f->notify[i];

		uint64_t pins = atomic_fetch_sub(&srv->fserve.pins, 1);

		KASSERT(pins > 0, "fmap: pin count of the server underflows");
		atomic_fetch_add(&srv->fserve.notified, 1);
		KTRACE_AS(TRACE_MM, "fmap: unmap notification to the file server (%llu so far)",
		       (unsigned long long)atomic_load(&srv->fserve.notified));
		as_put(srv);
	}
	f->npages = 0;
	f->all = false;
	f->nframes = 0;
	f->nruns = 0;
	f->next_info = NULL;
	f->nnotify = 0;
}
