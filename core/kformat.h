/*
 * A small bounded formatter for kernel reports (audit messages), with no libc and no
 * allocation. Supports %s %c %d %u %x %p %% with the length modifiers l, ll and z, the '#'
 * flag for x (adds 0x), and a field width for d/u/x with an optional 0 flag.
 *
 * The output is always NUL-terminated when len > 0 and truncated to fit; the return value is
 * the length the full output would have had.
 */
#ifndef MMSIM_CORE_KFORMAT_H
#define MMSIM_CORE_KFORMAT_H

#include <stdarg.h>
#include <stddef.h>

size_t kformat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
size_t kvformat(char *buf, size_t len, const char *fmt, va_list ap);

#endif
