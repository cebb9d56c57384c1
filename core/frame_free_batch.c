/*
 * Batch free: a run of frames goes back as its maximal naturally aligned blocks, the blocks
 * of several runs under one acquisition of the allocator's lock (deallocate_frames, and
 * callers that tear down many mappings with frame_free_run).
 */
#include "frame_buddy.h"

#define KTRACE_KIND TRACE_FRAME

#define ST frame_alloc_state

void frame_free_batch_init(struct frame_free_batch *b)
{
	b->n = 0;
}

void frame_free_batch_finish(struct frame_free_batch *b)
{
	if (!b->n)
		return;
	kspin_lock(&ST.lock);
	for (unsigned j = 0; j < b->n; j++)
		buddy_give(b->head[j], b->rec[j], b->order[j]);
	kspin_unlock(&ST.lock);
	b->n = 0;
}

void frame_free_run(struct frame_free_batch *b, frame_t first, size_t n)
{
	paddr_t h = first.base;

	while (n) {
		unsigned k = aligned_block_order(h, n);
		size_t len = (size_t)1 << k;
		struct page_info *r;

		if (k == 0) {
			/* to this CPU's cache, whose overflow takes the lock itself */
			deallocate_frame((frame_t){ h });
		} else {
			/* every frame of the block passes deallocate_frame's checks, and becomes
			 * an interior frame of it; the head's record buddy_give rewrites. A6: a
			 * naturally aligned block lies in one window, so with its first and last
			 * frames managed its records are r[0..len) (an unmanaged tail would have
			 * none). */
			r = checked_free_target(h, 0);
			checked_free_target(h + (len - 1) * PAGE_SIZE, 0);
			for (size_t j = 1; j < len; j++) {
				check_free_target(h + j * PAGE_SIZE, 0, r + j);
				rec_set(r + j, 0, 0);
			}
			for (size_t j = 0; j < len && (plat_trace_on || plat_frame_events); j++) {
				KTRACE("frame: free %#llx order 0", (unsigned long long)(h + j * PAGE_SIZE));
				KFRAME_EVENT(FRAME_EVENT_FREE, h + j * PAGE_SIZE, 0);
			}
			if (b->n == FRAME_FREE_BATCH_BLOCKS)
				frame_free_batch_finish(b);
			b->head[b->n] = h;
			b->rec[b->n] = r;
			b->order[b->n++] = (uint8_t)k;
		}
		h += len * PAGE_SIZE;
		n -= len;
	}
}

void deallocate_frames(const frame_t *v, size_t n)
{
	struct frame_free_batch b;
	size_t i = 0;

	frame_free_batch_init(&b);
	while (i < n) {
		size_t m = 1;

		while (i + m < n && v[i + m].base == v[i].base + m * PAGE_SIZE)
			m++;
		frame_free_run(&b, v[i], m);
		i += m;
	}
	frame_free_batch_finish(&b);
}

