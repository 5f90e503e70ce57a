/*
 * test_util.h: a fixed-seed PRNG for the formats tests (xorshift64*, Box-Muller), so
 * every run sees the same vectors on every machine.
 */
#ifndef TQ_FORMATS_TEST_UTIL_H
#define TQ_FORMATS_TEST_UTIL_H

#include <math.h>
#include <stdint.h>

typedef struct test_rng {
    uint64_t s;
    int has_spare;
    double spare;
} test_rng;

static inline test_rng test_rng_make(uint64_t seed)
{
    test_rng r = { seed ? seed : 0x9e3779b97f4a7c15ull, 0, 0.0 };
    return r;
}

static inline uint64_t test_rng_u64(test_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in (0, 1): never 0, so log() in Box-Muller is finite. */
static inline double test_rng_uniform(test_rng *r)
{
    return ((double)(test_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Uniform in [-1, 1). */
static inline float test_rng_sym(test_rng *r)
{
    return (float)(2.0 * test_rng_uniform(r) - 1.0);
}

static inline double test_rng_gauss(test_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = test_rng_uniform(r), u2 = test_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(two_pi * u2);
    r->has_spare = 1;
    return rad * cos(two_pi * u2);
}

#endif /* TQ_FORMATS_TEST_UTIL_H */
