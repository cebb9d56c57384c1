/*
 * Filling a frame for the access that faulted on it (rationale in page_fill.h).
 */
#include "arch/x86_64/page_fill.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu_ops.h"
#include "kstring.h"
#include "phys.h"

#define LINE 64u
#define WORDS_PER_LINE (LINE / sizeof(long long))

static size_t hot_line(size_t hot)
{
	return (hot & PAGE_MASK) & ~(size_t)(LINE - 1);
}

#if defined(__x86_64__) && defined(__SSE2__)

/* 0: not asked yet; 1: CLZERO in use; -1: absent or turned off (page_fill_allow_clzero) */
static _Atomic int clzero_state;

/* The processor answers (through the cpu_ops seam): CPUID 0x80000008, EBX bit 0. */
static int cpu_has_clzero(void)
{
	uint32_t r[4];

	arch_cpuid(0x80000000u, 0, r);
	if (r[0] < 0x80000008u)
		return -1;
	arch_cpuid(0x80000008u, 0, r);
	return r[1] & 1u ? 1 : -1;
}

void page_fill_probe(void)
{
	atomic_store_explicit(&clzero_state, 0, memory_order_relaxed);
}

static bool use_clzero(void)
{
	int s = atomic_load_explicit(&clzero_state, memory_order_relaxed);

	if (__builtin_expect(s == 0, 0)) {
		s = cpu_has_clzero();
		atomic_store_explicit(&clzero_state, s, memory_order_relaxed);
	}
	return s > 0;
}

bool page_fill_allow_clzero(bool allow)
{
	int s = allow ? cpu_has_clzero() : -1;

	atomic_store_explicit(&clzero_state, s, memory_order_relaxed);
	return s > 0;
}

/* Every line of page but the hot one zeroed with CLZERO (weakly ordered, like MOVNTI). */
static void clzero_lines(char *page, size_t hot)
{
	for (size_t off = 0; off < PAGE_SIZE; off += LINE)
		if (off != hot)
			__asm__ volatile("clzero" : : "a"(page + off) : "memory");
	__builtin_ia32_sfence();
}

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

void page_fill_probe(void)
{
}

bool page_fill_allow_clzero(bool allow)
{
	(void)allow;
	return false;
}

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

#if defined(__x86_64__) && defined(__SSE2__)
	if (use_clzero())
		clzero_lines(page, h);
	else
#endif
		stream_lines(page, NULL, h);
	kmemset((char *)page + h, 0, LINE);
}

void page_copy_for_access(void *dst, const void *src, size_t hot)
{
	size_t h = hot_line(hot);

	stream_lines(dst, src, h);
	kmemcpy((char *)dst + h, (const char *)src + h, LINE);
}
