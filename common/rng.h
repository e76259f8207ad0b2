// rng.h: a small deterministic random number generator (xoshiro256**, seeded with splitmix64).
// The whole state is the struct, so it can be saved in a checkpoint and restored bit-exactly.
#ifndef TRIT_RNG_H
#define TRIT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_u64(rng *r);
float rng_uniform(rng *r);            // [0, 1)
float rng_normal(rng *r);             // N(0, 1)
uint64_t rng_below(rng *r, uint64_t n); // [0, n), unbiased

#endif
