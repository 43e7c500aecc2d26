/*
 * rng.h: explicit, seedable random numbers (xoshiro256**, splitmix64 seeding).
 *
 * State is a value passed by pointer, never global, so every consumer
 * (initialisation, data shuffling, sampling) has its own reproducible stream
 * and its state can be saved in a checkpoint and restored exactly.
 */
#ifndef LILM_CORE_RNG_H
#define LILM_CORE_RNG_H

#include <stdint.h>

typedef struct lilm_rng {
    uint64_t s[4];
} lilm_rng;

void lilm_rng_seed(lilm_rng *r, uint64_t seed);
/* splitmix64: advances *x and returns the next value of its stream; seeds
 * the generator above and serves alone where one 64-bit stream is enough
 * (the tokenizer trainer's sentence sampling). */
uint64_t lilm_splitmix64(uint64_t *x);
uint64_t lilm_rng_u64(lilm_rng *r);
/* uniform in [0, 1) with 53 random bits */
double lilm_rng_uniform(lilm_rng *r);
/* standard normal (Box-Muller; one value per call) */
double lilm_rng_normal(lilm_rng *r);
/* uniform integer in [0, n) without modulo bias; n > 0 */
uint64_t lilm_rng_below(lilm_rng *r, uint64_t n);

#endif
