/*
 * Numbers as the scenario language writes them: decimal or 0x hex, '_' between digits,
 * an optional K, M or G suffix (powers of 1024).
 */
#ifndef MMSIM_SIM_NUMBERS_H
#define MMSIM_SIM_NUMBERS_H

#include <stddef.h>
#include <stdint.h>

enum num_error {
	NUM_OK,
	NUM_EMPTY,
	NUM_BAD_DIGIT,     /* a character that is not a digit of the base */
	NUM_BAD_SEPARATOR, /* '_' at the start, the end, or doubled */
	NUM_OVERFLOW,      /* does not fit in 64 bits (after the suffix) */
	NUM_HEX_SUFFIX,    /* a K, M or G suffix after a hex number: ambiguous to a reader */
};

/* Parses all of s. */
enum num_error parse_number(const char *s, uint64_t *out);
/* Parses the first len bytes of s. */
enum num_error parse_number_n(const char *s, size_t len, uint64_t *out);
const char *num_strerror(enum num_error e);

#endif
