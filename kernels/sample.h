// sample.h: next-token sampling for the inference engine, with llama.cpp's semantics and order (its default
// sampler chain restricted to these stages):
//   1. repeat penalty: every distinct token among the last repeat_last_n tokens of the history (prompt and
//      generated) gets its logit divided by repeat_penalty when positive, multiplied by it otherwise
//   2. temperature 0: the argmax (the lowest id on ties); nothing below runs
//   3. top-k: the k largest logits (0: all)
//   4. top-p: the most likely prefix whose probability (softmax of the logits as they are, before the
//      temperature) reaches top_p, at least one token (1: all)
//   5. temperature: logits / temp, softmax over the survivors, one uniform draw from the seeded generator
// Deterministic: the same seed, parameters and logits give the same tokens on every machine and thread count.
#ifndef TRIT_KERNELS_SAMPLE_H
#define TRIT_KERNELS_SAMPLE_H

#include <stdint.h>

#include "common/rng.h"

typedef struct {
    float temp;             // 0: greedy
    int top_k;              // 0: all
    float top_p;            // (0, 1]; 1: all
    float repeat_penalty;   // 1: off
    int repeat_last_n;      // history the penalty looks at (0: none)
    uint64_t seed;
} samp_params;

// llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, repeat penalty 1 (off) over 64 tokens; seed 1234.
samp_params samp_defaults(void);

typedef struct {
    float logit;
    int32_t id;
} samp_cand;

typedef struct {
    samp_params p;
    int n_vocab;
    rng r;
    int32_t *hist;      // (repeat_last_n) ring of the latest tokens
    int n_hist, head;
    samp_cand *cand;    // (n_vocab) scratch
    int32_t *uniq;      // (repeat_last_n) scratch
} samp_state;

void samp_init(samp_state *s, const samp_params *p, int n_vocab);
void samp_free(samp_state *s);   // accepts a zeroed state
// Appends a token to the history the repeat penalty sees (call it for prompt tokens and sampled ones).
void samp_accept(samp_state *s, int32_t id);
// The next token for logits (n_vocab), which are not modified.
int32_t samp_next(samp_state *s, const float *logits);

#endif
