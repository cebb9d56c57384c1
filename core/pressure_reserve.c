/*
 * The reserve pool: frames set aside at boot that no normal allocation reaches, for the
 * emergency UI and the OOM path's own working memory.
 *
 * The pool is a stack linked through the first word of each free pool frame (kernel memory
 * nobody else maps), so the reserve costs no heap and works at zero free memory.
 */
#include "pressure_governor.h"
#include "phys.h"

#define KTRACE_KIND TRACE_PRESSURE

/* ---- the pool ---- */

void pool_push(frame_t f)
{
	*(paddr_t *)phys_to_virt(frame_base(f)) = G.pool_top;
	G.pool_top = frame_base(f);
	G.pool_count++;
}

static frame_t pool_pop(void)
{
	paddr_t top = G.pool_top;

	if (!top)
		return FRAME_NONE;
	G.pool_top = *(paddr_t *)phys_to_virt(top);
	G.pool_count--;
	return frame_containing(top);
}

void pressure_for_each_reserve_frame(void (*fn)(void *ctx, frame_t f), void *ctx)
{
	governor_ensure_lock();
	kspin_lock(&G.lock);
	for (paddr_t pa = G.pool_top; pa; pa = *(paddr_t *)phys_to_virt(pa))
		fn(ctx, frame_containing(pa));
	for (unsigned i = 0; i < G.ui_taken; i++)
		fn(ctx, G.ui[i]);
	kspin_unlock(&G.lock);
}

/* Tops the pool up to the reserve (whatever the UI and buffer currently hold counts).
 * Called with the governor's lock held, which it lets go of around each allocation: an
 * allocation may drain the CPU caches, a wait for every CPU that no spin lock may be held
 * across. A frame that finds the pool full when the lock is back goes back. */
static bool pool_short(void)
{
	return G.pool_count + G.ui_taken + G.buffer_taken < G.reserve;
}

bool refill_pool(void)
{
	while (pool_short()) {
		frame_t f;

		kspin_unlock(&G.lock);
		f = allocate_frame();
		kspin_lock(&G.lock);
		if (frame_is_none(f))
			return false;
		if (!pool_short()) {
			kspin_unlock(&G.lock);
			deallocate_frame(f);
			kspin_lock(&G.lock);
			break;
		}
		pool_push(f);
	}
	return true;
}

bool init_reserve(void)
{
	bool ok;

	governor_ensure_lock();
	kspin_lock(&G.lock);
	G.reserve = reserve_frames();
	ok = refill_pool();
	kspin_unlock(&G.lock);
	KTRACE("pressure: reserve of %llu frames set aside (%u for the emergency UI), warning under %llu, emergency under %llu available",
	       (unsigned long long)G.reserve, EMERGENCY_UI_FRAMES,
	       (unsigned long long)warning_watermark(), (unsigned long long)emergency_watermark());
	return ok;
}

/* Called with the lock held. */
frame_t take_ui_frame(void)
{
	frame_t f = FRAME_NONE;

	if (G.ui_taken < EMERGENCY_UI_FRAMES) {
		f = pool_pop();
		if (!frame_is_none(f))
			G.ui[G.ui_taken++] = f;
	}
	return f;
}

frame_t alloc_emergency_frame(void)
{
	frame_t f;

	kspin_lock(&G.lock);
	f = take_ui_frame();
	kspin_unlock(&G.lock);
	return f;
}

/* Buffer frames: the OOM path's own working memory. Called with the lock held. */
frame_t take_buffer_frame(void)
{
	frame_t f;

	if (G.buffer_taken >= buffer_frames())
		return FRAME_NONE;
	f = pool_pop();
	if (!frame_is_none(f))
		G.buffer_taken++;
	return f;
}

void give_buffer_frame(frame_t f)
{
	G.buffer_taken--;
	pool_push(f);
}

