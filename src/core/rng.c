/*
 * rng.c: xoshiro256** (Blackman and Vigna) seeded through splitmix64.
 */
#include "core/rng.h"

#include <math.h>

uint64_t lilm_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void lilm_rng_seed(lilm_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = lilm_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lilm_rng_u64(lilm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lilm_rng_uniform(lilm_rng *r) { return (double)(lilm_rng_u64(r) >> 11) * 0x1.0p-53; }

double lilm_rng_normal(lilm_rng *r)
{
    double u1 = lilm_rng_uniform(r), u2 = lilm_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t lilm_rng_below(lilm_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = lilm_rng_u64(r); while (x >= limit);
    return x % n;
}
