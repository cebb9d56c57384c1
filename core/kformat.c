#include "kformat.h"

#include <stdbool.h>
#include <stdint.h>

struct out {
	char *buf;
	size_t len;
	size_t pos;
};

static void put(struct out *o, char c)
{
	if (o->len && o->pos + 1 < o->len)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_number(struct out *o, unsigned long long v, unsigned base, bool negative,
		       unsigned width, bool zero_pad, bool prefix)
{
	char digits[24];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	unsigned total = n + (negative ? 1u : 0u) + (prefix ? 2u : 0u);
	if (!zero_pad)
		for (; width > total; width--)
			put(o, ' ');
	if (negative)
		put(o, '-');
	if (prefix) {
		put(o, '0');
		put(o, 'x');
	}
	if (zero_pad)
		for (; width > total; width--)
			put(o, '0');
	while (n)
		put(o, digits[--n]);
}

size_t kvformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	struct out o = { buf, len, 0 };

	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		bool alt = false, zero = false;
		unsigned width = 0, lng = 0;
		for (;; p++) {
			if (*p == '#')
				alt = true;
			else if (*p == '0')
				zero = true;
			else
				break;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (unsigned)(*p++ - '0');
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			lng = 2;
			p++;
		}
		switch (*p) {
		case 'd': {
			long long v = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
			put_number(&o, mag, 10, v < 0, width, zero, false);
			break;
		}
		case 'u':
		case 'x': {
			unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
				: lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			put_number(&o, v, *p == 'u' ? 10 : 16, false, width, zero, alt && *p == 'x');
			break;
		}
		case 'p':
			put_number(&o, (uintptr_t)va_arg(ap, void *), 16, false, width, zero, true);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default: /* unknown conversion: print it verbatim so the mistake is visible */
			put(&o, '%');
			if (!*p)
				goto done;
			put(&o, *p);
			break;
		}
	}
done:
	if (len)
		buf[o.pos < len ? o.pos : len - 1] = '\0';
	return o.pos;
}

size_t kformat(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	size_t n = kvformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}
