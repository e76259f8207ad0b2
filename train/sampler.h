// sampler.h: next-token sampling from logits, and text generation with the autograd model (so a freshly
// trained checkpoint can be tried before export).
#ifndef TRIT_TRAIN_SAMPLER_H
#define TRIT_TRAIN_SAMPLER_H

#include <stdint.h>

#include "common/rng.h"
#include "model/bitnet.h"

typedef struct {
    float temperature;   // 0: greedy (argmax, lowest id on ties)
    int top_k;           // keep the k most likely tokens; 0: all
    float top_p;         // then the smallest most-likely prefix whose probability reaches top_p; 1: all
} smp_params;

typedef struct {
    float logit;
    int id;
} smp_cand;

// Picks a token from logits (V). Unless greedy: softmax(logits / temperature) restricted by top_k and top_p,
// renormalized, one draw from r. cand is scratch of V elements.
int smp_pick(const float *logits, int V, const smp_params *p, rng *r, smp_cand *cand);

// Called with each generated token; return nonzero to stop.
typedef int (*smp_emit_fn)(int32_t id, void *ud);

// Generates up to n_new tokens after prompt (n_prompt >= 1 ids), running the full forward pass over the
// context (the last max_position_embeddings tokens) for each token with gradients disabled. Stops early at
// stop_id (>= 0; not emitted) or when emit returns nonzero. Returns the number of tokens emitted.
int smp_generate(const bn_model *m, const int32_t *prompt, int n_prompt, int n_new, const smp_params *p, uint64_t seed,
                 int stop_id, smp_emit_fn emit, void *ud);

#endif
