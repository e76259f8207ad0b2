// bitnet.h: the BitNet b1.58 model (the architecture of microsoft/bitnet-b1.58-2B-4T) as an autograd graph.
//
// Parameters live in one slab (`data`), gradients in a second slab of the same layout (`grad`, NULL when
// the base is frozen). A table maps each parameter to its Hugging Face name, shape and offset; every
// loader, writer and optimizer walks that table. Linear weights are latent f32 weights quantized on the
// fly (absmean ternary), or, for a packed checkpoint, the stored ternary values times their scale, used
// as stored and frozen.
#ifndef TRIT_MODEL_BITNET_H
#define TRIT_MODEL_BITNET_H

#include <stddef.h>

#include "autograd/ag.h"
#include "model/config.h"

typedef enum { BN_P_EMBED, BN_P_NORM, BN_P_LINEAR, BN_P_HEAD } bn_kind;

// The seven BitLinear projections of a block, in this order everywhere (LoRA, export, names).
enum { BN_Q, BN_K, BN_V, BN_O, BN_GATE, BN_UP, BN_DOWN, BN_N_LINEAR };
extern const char *const bn_linear_names[BN_N_LINEAR];   // "self_attn.q_proj", ..., "mlp.down_proj"

typedef struct {
    char name[96];      // Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight
    bn_kind kind;
    int layer;          // -1 for embeddings, final norm, LM head
    int ndim, shape[2]; // (out, in) for linears
    size_t offset, n;   // into the slabs, in floats
} bn_param;

typedef struct {
    float *attn_norm;       // (C)
    float *lin[BN_N_LINEAR]; // q (H*D, C), k (Hkv*D, C), v (Hkv*D, C), o (C, H*D), gate (I, C), up (I, C), down (C, I)
    float *attn_sub_norm;   // (C)
    float *ffn_norm;        // (C)
    float *ffn_sub_norm;    // (I)
} bn_layer;

typedef struct {
    bn_config cfg;
    bn_param *params;
    int n_params;
    size_t n_floats;
    float *data;            // (n_floats) all parameters
    float *grad;            // (n_floats) or NULL
    unsigned char *fresh;   // (n_params) after bn_model_zero_grad: 1 until the parameter's first gradient write
    int ternary;            // linears hold stored ternary values (from a packed checkpoint)
    float *embed;           // (V, C)
    float *final_norm;      // (C)
    float *lm_head;         // (V, C), == embed when tied
    bn_layer *layers;       // (L)
} bn_model;

// Allocates the parameter slab for cfg (uninitialized). with_grad allocates the zeroed gradient slab.
void bn_model_init(bn_model *m, const bn_config *cfg, int with_grad);
void bn_model_free(bn_model *m);   // accepts NULL or a zeroed model
// Initialization for training from scratch: embeddings and linears N(0, std), norms 1.
void bn_model_init_weights(bn_model *m, unsigned long long seed, float std);
// (out, in) of projection `which` (BN_Q ... BN_DOWN).
void bn_linear_shape(const bn_config *c, int which, int *out, int *in);
const bn_param *bn_model_find(const bn_model *m, const char *name);
// Starts a step's gradients without touching the slab: each parameter's first backward contribution then
// overwrites its gradient, later ones accumulate (gradient accumulation over micro-batches works as before).
// bn_model_grad_ready must come after the backward passes and before anything reads m->grad: it zeroes the
// gradients of parameters that received nothing, and returns m->grad. (Without bn_model_zero_grad the slab
// simply accumulates, as the gradient checks and `trit grad` use it.)
void bn_model_zero_grad(bn_model *m);
float *bn_model_grad_ready(bn_model *m);

struct bn_lora;
// Logits (B, T, V) for ids (B*T); ids must stay valid until backward.
ag_tensor *bn_forward(ag_ctx *ctx, const bn_model *m, const struct bn_lora *lora, const int *ids, int B, int T);

// FLOPs of one forward+backward over `tokens` tokens in sequences of length T (6 per weight per token,
// plus attention), for benchmarks.
double bn_train_flops(const bn_config *c, int B, int T);

#endif
