/*
 * Zeroing a frame for the access that faulted on it (rationale in page_clear.h).
 */
#include "arch/x86_64/page_clear.h"

#include <stdint.h>

#include "kstring.h"
#include "phys.h"

#define LINE 64u

void page_zero_for_access(void *page, size_t hot)
{
	char *p = page;
	size_t hot_line = (hot & PAGE_MASK) & ~(size_t)(LINE - 1);

#if defined(__x86_64__) && defined(__SSE2__)
	for (size_t off = 0; off < PAGE_SIZE; off += LINE) {
		long long *l = (long long *)(void *)(p + off);

		if (off == hot_line)
			continue;
		for (unsigned i = 0; i < LINE / sizeof(long long); i++)
			__builtin_ia32_movnti64(&l[i], 0);
	}
	__builtin_ia32_sfence();
#else
	/* no streaming stores on this host: ordinary ones, the hot line last all the same */
	if (hot_line)
		kmemset(p, 0, hot_line);
	kmemset(p + hot_line + LINE, 0, PAGE_SIZE - hot_line - LINE);
#endif
	kmemset(p + hot_line, 0, LINE);
}
