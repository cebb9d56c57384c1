/*
 * Filling a frame for the access that faulted on it (rationale in page_fill.h).
 */
#include "arch/x86_64/page_fill.h"

#include <stdint.h>

#include "kstring.h"
#include "phys.h"

#define LINE 64u
#define WORDS_PER_LINE (LINE / sizeof(long long))

static size_t hot_line(size_t hot)
{
	return (hot & PAGE_MASK) & ~(size_t)(LINE - 1);
}

#if defined(__x86_64__) && defined(__SSE2__)

/* Every line of dst but the hot one from src (NULL: zeros), with streaming stores. */
static void stream_lines(char *dst, const char *src, size_t hot)
{
	for (size_t off = 0; off < PAGE_SIZE; off += LINE) {
		long long *d = (long long *)(void *)(dst + off);

		if (off == hot)
			continue;
		if (src) {
			const long long *s = (const long long *)(const void *)(src + off);

			for (unsigned i = 0; i < WORDS_PER_LINE; i++)
				__builtin_ia32_movnti64(&d[i], s[i]);
		} else {
			for (unsigned i = 0; i < WORDS_PER_LINE; i++)
				__builtin_ia32_movnti64(&d[i], 0);
		}
	}
	__builtin_ia32_sfence();
}

#else

/* No streaming stores on this host: ordinary ones, the hot line left for last all the same. */
static void stream_lines(char *dst, const char *src, size_t hot)
{
	if (src) {
		kmemcpy(dst, src, hot);
		kmemcpy(dst + hot + LINE, src + hot + LINE, PAGE_SIZE - hot - LINE);
	} else {
		kmemset(dst, 0, hot);
		kmemset(dst + hot + LINE, 0, PAGE_SIZE - hot - LINE);
	}
}

#endif

void page_zero_for_access(void *page, size_t hot)
{
	size_t h = hot_line(hot);

	stream_lines(page, NULL, h);
	kmemset((char *)page + h, 0, LINE);
}

void page_copy_for_access(void *dst, const void *src, size_t hot)
{
	size_t h = hot_line(hot);

	stream_lines(dst, src, h);
	kmemcpy((char *)dst + h, (const char *)src + h, LINE);
}
