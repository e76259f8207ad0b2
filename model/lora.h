// lora.h: LoRA adapters on the seven BitLinear projections: y = BitLinear(x) + (alpha/r) B(A(x)),
// with x unquantized. Read from peft safetensors (in-memory names `model.layers.N.<module>.lora_A.default.weight`
// or saved names `base_model.model.model.layers.N.<module>.lora_A.weight`), kept under the names read.
#ifndef TRIT_MODEL_LORA_H
#define TRIT_MODEL_LORA_H

#include "autograd/ag.h"
#include "model/bitnet.h"

typedef struct bn_lora {
    int n_layers;
    float alpha;
    size_t n_floats;
    float *data;              // (n_floats) all A and B matrices
    float *grad;              // (n_floats) or NULL
    int n_pairs;
    struct bn_lora_pair {
        int layer, which, rank;
        float scale;          // alpha / rank
        float *a, *b;         // A (rank, in), B (out, rank) in `data`
        char a_name[160], b_name[160];
    } *pairs;
    int *slot;                // (n_layers * BN_N_LINEAR) index into pairs, or -1
} bn_lora;

// path: a .safetensors file or a peft folder (adapter_model.safetensors + adapter_config.json).
// alpha > 0 overrides; otherwise lora_alpha comes from adapter_config.json beside the weights, or
// the file's __metadata__ "lora_alpha".
int bn_lora_load(bn_lora *lo, const bn_config *cfg, const char *path, float alpha, int with_grad, tr_err *err);
void bn_lora_free(bn_lora *lo);   // accepts NULL or zeroed
// y + scale * B(A(x)) when layer l's projection `which` has an adapter; y otherwise.
ag_tensor *bn_lora_apply(ag_ctx *ctx, const bn_lora *lo, int l, int which, ag_tensor *y, ag_tensor *x);

#endif
