/*
 * The few memory primitives core needs, without libc. They expand to the compiler builtins;
 * a freestanding kernel links its own memset/memcpy for the cases the compiler does not
 * inline.
 */
#ifndef MMSIM_CORE_KSTRING_H
#define MMSIM_CORE_KSTRING_H

#include <stddef.h>

static inline void kmemset(void *dst, int value, size_t n)
{
	__builtin_memset(dst, value, n);
}

static inline void kmemcpy(void *dst, const void *src, size_t n)
{
	__builtin_memcpy(dst, src, n);
}

static inline size_t kstrlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

#endif
