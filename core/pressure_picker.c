/*
 * The picker's screen: drawn into the emergency UI's first frame, one row per candidate by
 * rank, with no memory beyond that page.
 */
#include "pressure_governor.h"
#include "kformat.h"
#include "kstring.h"
#include "phys.h"

struct ui_draw {
	char *screen;
	size_t cap, len;
	unsigned row;
};

/* Candidate order on the picker: largest resident set first, then the most recent. */
static bool ranks_before(const struct oom_candidate *a, uint64_t rss, uint64_t seq)
{
	return a->rss > rss || (a->rss == rss && a->seq > seq);
}

/* The best candidate ranked strictly after (rss, seq): one selection-sort step. */
struct next_row {
	uint64_t after_rss, after_seq;
	struct oom_candidate best;
	bool found;
};

static bool find_next_row(void *ctx, const struct oom_candidate *c)
{
	struct next_row *n = ctx;

	/* only candidates strictly after the last row drawn */
	if (!(c->rss < n->after_rss || (c->rss == n->after_rss && c->seq < n->after_seq)))
		return true;
	if (!n->found || ranks_before(c, n->best.rss, n->best.seq)) {
		n->best = *c;
		n->found = true;
	}
	return true;
}

static void draw_row(struct ui_draw *d, const struct oom_candidate *c)
{
	size_t n;

	if (d->len + 1 >= d->cap)
		return;
	n = kformat(d->screen + d->len, d->cap - d->len, "  %2u  %s: %llu pages resident\n",
		    ++d->row, c->name, (unsigned long long)c->rss);
	d->len += n < d->cap - d->len ? n : d->cap - d->len - 1;
}

/* Draws the picker into the first UI frame: the screen (a text page), rows by resident size
 * as the candidates come. The caller owns the governor (frozen, Picker). */
void draw_picker(frame_t table_page)
{
	frame_t screen;
	struct ui_draw d;

	kspin_lock(&G.lock);
	screen = take_ui_frame();
	for (unsigned i = 1; i < EMERGENCY_UI_FRAMES; i++)
		take_ui_frame(); /* the rest of the UI's memory: fonts, the frame buffer */
	kspin_unlock(&G.lock);
	if (frame_is_none(screen))
		return;
	d.screen = phys_to_virt(frame_base(screen));
	d.cap = PAGE_SIZE;
	d.len = kformat(d.screen, d.cap, "%s",
			"OUT OF MEMORY - the system is frozen. Choose a process to end (pick NAME):\n");
	d.row = 0;
	/* rows by rank, found one at a time: the screen needs no memory beyond its own page */
	for (struct next_row n = {UINT64_MAX, UINT64_MAX, {{0}, 0, 0, NULL}, false};;
	     n.found = false) {
		for_each_candidate(table_page, find_next_row, &n);
		if (!n.found)
			break;
		draw_row(&d, &n.best);
		n.after_rss = n.best.rss;
		n.after_seq = n.best.seq;
	}
	kspin_lock(&G.lock);
	G.ui_text_len = d.len;
	kspin_unlock(&G.lock);
}

size_t pressure_picker_text(char *buf, size_t len)
{
	size_t n;

	if (len == 0)
		return 0;
	kspin_lock(&G.lock);
	n = pressure_state() == PRESSURE_PICKER && G.ui_taken ? G.ui_text_len : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		kmemcpy(buf, phys_to_virt(frame_base(G.ui[0])), n);
	buf[n] = 0;
	kspin_unlock(&G.lock);
	return n;
}
