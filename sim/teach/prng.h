/*
 * The quizzes' random numbers: xorshift64* seeded through splitmix64, so the same seed gives
 * the same problem on every machine and C library (rand() would not).
 */
#ifndef MMSIM_SIM_PRNG_H
#define MMSIM_SIM_PRNG_H

#include <stdint.h>

struct prng {
	uint64_t s;
};

static inline void prng_seed(struct prng *r, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dull; /* xorshift's state must not be 0 */
}

static inline uint64_t prng_next(struct prng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n), n > 0 (rejection sampling: no modulo bias). */
static inline uint64_t prng_below(struct prng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, v;

	do
		v = prng_next(r);
	while (v >= limit);
	return v % n;
}

#endif
