/*
 * Views walk the allocator's own structures under its lock, so what they report is a
 * consistent snapshot. Interior frames of a block carry no state of their own (only heads
 * do), so the use of an interior frame is found from the head of the naturally aligned block
 * that contains it: at most FRAME_MAX_ORDER lookups. frame_alloc_is_referenced alone reads
 * without the lock: an rc word with RC_USED and a non-zero count belongs to a USED head
 * only (page_info.h), whatever else changes around it.
 */
#include "frame_alloc_view.h"

#include "frame_alloc_state.h"
#include "frame_section.h"
#include "page_info.h"

void frame_alloc_free_counts(uint64_t counts[FRAME_ORDER_COUNT])
{
	kspin_lock(&frame_alloc_state.lock);
	for (unsigned k = 0; k < FRAME_ORDER_COUNT; k++) {
		uint64_t n = 0;

		for (paddr_t b = frame_alloc_state.heads[k]; b;) {
			struct page_info *info = frame_section_lookup(b);

			n++;
			b = info ? page_meta_next(page_info_meta(info)) << PAGE_SHIFT : 0;
		}
		counts[k] = n;
	}
	kspin_unlock(&frame_alloc_state.lock);
}

size_t frame_alloc_free_list(unsigned order, paddr_t *out, size_t max)
{
	size_t n = 0;

	if (order >= FRAME_ORDER_COUNT)
		return 0;
	kspin_lock(&frame_alloc_state.lock);
	for (paddr_t b = frame_alloc_state.heads[order]; b && n < max;) {
		struct page_info *info = frame_section_lookup(b);

		out[n++] = b;
		b = info ? page_meta_next(page_info_meta(info)) << PAGE_SHIFT : 0;
	}
	kspin_unlock(&frame_alloc_state.lock);
	return n;
}

static enum frame_use use_of_head(struct page_info *info)
{
	switch (page_info_state(info)) {
	case PAGE_STATE_FREE:
		return FRAME_USE_FREE;
	case PAGE_STATE_CACHED:
		return FRAME_USE_CACHED;
	case PAGE_STATE_METADATA:
		return FRAME_USE_METADATA;
	case PAGE_STATE_USED:
		switch (page_info_refcount(info).kind) {
		case REFCOUNT_ONE:
			return FRAME_USE_ONE;
		case REFCOUNT_SHARED:
			return FRAME_USE_SHARED;
		case REFCOUNT_COW:
			return FRAME_USE_COW;
		default:
			return FRAME_USE_KERNEL;
		}
	case PAGE_STATE_ABSENT:
	case PAGE_STATE_INTERIOR:
		break;
	}
	return FRAME_USE_NONE;
}

enum frame_use frame_alloc_use_of(frame_t f)
{
	enum frame_use use = FRAME_USE_NONE;
	struct page_info *info;

	if (!frame_alloc_state.ready)
		return FRAME_USE_NONE;
	kspin_lock(&frame_alloc_state.lock);
	info = frame_section_lookup(frame_base(f));
	if (info && page_info_state(info) != PAGE_STATE_INTERIOR) {
		use = use_of_head(info);
	} else if (info) {
		/* an interior frame: find the head of the block that covers it */
		for (unsigned k = 1; k <= FRAME_MAX_ORDER; k++) {
			paddr_t head = frame_base(f) & ~((PAGE_SIZE << k) - 1);
			struct page_info *h = frame_section_lookup(head);

			if (h && page_info_state(h) != PAGE_STATE_INTERIOR) {
				if (page_info_order(h) >= k)
					use = use_of_head(h);
				break;
			}
		}
	}
	kspin_unlock(&frame_alloc_state.lock);
	return use;
}

bool frame_alloc_is_referenced(frame_t f)
{
	struct page_info *info;
	uint32_t rc;

	if (!frame_alloc_state.ready)
		return false;
	info = get_page_info(f);
	if (!info)
		return false;
	rc = atomic_load_explicit(&info->rc, memory_order_acquire);
	return (rc & RC_USED) && (rc & RC_COUNT_MASK) != 0;
}

const char *frame_use_name(enum frame_use use)
{
	static const char *const names[FRAME_USE_COUNT] = {
		"not managed", "free", "per-CPU cache", "allocator metadata", "kernel",
		"one reference", "shared", "copy-on-write",
	};

	return use < FRAME_USE_COUNT ? names[use] : "?";
}
