#include "scenario/numbers.h"

#include <string.h>

static int digit_value(char c, unsigned base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return (unsigned)v < base ? v : -1;
}

enum num_error parse_number_n(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	unsigned shift = 0;
	uint64_t v = 0;
	size_t i = 0, ndigits = 0;
	char prev = 0;

	if (len == 0)
		return NUM_EMPTY;
	switch (s[len - 1]) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	}
	if (shift)
		len--;
	if (shift && len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return NUM_HEX_SUFFIX;
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
		prev = 'x';
	}
	if (i == len)
		return NUM_EMPTY;
	for (; i < len; i++) {
		char c = s[i];
		int d;

		if (c == '_') {
			if (prev == '_' || prev == 0 || prev == 'x' || i + 1 == len)
				return NUM_BAD_SEPARATOR;
			prev = c;
			continue;
		}
		d = digit_value(c, base);
		if (d < 0)
			return NUM_BAD_DIGIT;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return NUM_OVERFLOW;
		v = v * base + (uint64_t)d;
		ndigits++;
		prev = c;
	}
	if (ndigits == 0)
		return NUM_EMPTY;
	if (shift && v > (UINT64_MAX >> shift))
		return NUM_OVERFLOW;
	*out = v << shift;
	return NUM_OK;
}

enum num_error parse_number(const char *s, uint64_t *out)
{
	return parse_number_n(s, strlen(s), out);
}

const char *num_strerror(enum num_error e)
{
	switch (e) {
	case NUM_OK:
		return "ok";
	case NUM_EMPTY:
		return "expected a number";
	case NUM_BAD_DIGIT:
		return "not a number (decimal, or hex with 0x; '_' separates digits; K, M, G suffixes)";
	case NUM_BAD_SEPARATOR:
		return "'_' must stand between two digits";
	case NUM_OVERFLOW:
		return "number does not fit in 64 bits";
	case NUM_HEX_SUFFIX:
		return "a K, M or G suffix goes only after a decimal number (write 18G, not 0x12G; "
		       "or the whole value in hex)";
	}
	return "bad number";
}
