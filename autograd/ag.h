// ag.h: tensors and a tape-based reverse-mode autograd for BitNet training.
//
// A tensor is f32, row-major, up to 4-D. Per-step tensors (activations and their gradients) come from
// the context's arena, which ag_reset rewinds; parameters live in slabs owned by the model and are
// wrapped with ag_wrap. Every op appends a node to the tape; ag_backward seeds d(loss) = 1 and runs the
// nodes' backward functions in reverse order. Gradients accumulate (+=) into `grad` buffers; a tensor
// with grad == NULL receives none (constants, frozen weights), and an op whose inputs all have
// grad == NULL records nothing. Ops treat a tensor as rows x last dimension where that is natural.
#ifndef TRIT_AG_H
#define TRIT_AG_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"

#define AG_MAX_DIMS 4

typedef struct ag_tensor {
    float *data;              // (shape)
    float *grad;              // (shape), or NULL when no gradient is wanted
    // Per-step gradients start unwritten: *fresh is 1 until the first backward contribution, which
    // overwrites instead of accumulating (no zeroing pass), and a node whose output gradient was never
    // written is skipped (its gradient is zero). NULL for wrapped buffers (parameters), which always
    // accumulate. Views share their source's flag.
    unsigned char *fresh;
    int ndim;
    int shape[AG_MAX_DIMS];
    size_t n;                 // number of elements
} ag_tensor;

typedef struct ag_node ag_node;
typedef void (*ag_backward_fn)(const ag_node *node);

struct ag_node {
    ag_backward_fn backward;
    ag_tensor *out;
    ag_tensor *in[4];
    void *saved;              // op-specific state, arena-allocated
    int iarg[4];
    float farg[2];
};

typedef struct {
    arena mem;                // per-step tensors and saved state
    ag_node *nodes;           // the tape (grows; kept across resets)
    int n_nodes, cap_nodes;
    int grad_enabled;         // 0: ops record nothing and allocate no gradients (inference)
} ag_ctx;

void ag_init(ag_ctx *ctx, size_t arena_bytes);
void ag_free(ag_ctx *ctx);    // accepts NULL
void ag_reset(ag_ctx *ctx);   // forget the tape and every per-step tensor

// Tensors.
ag_tensor *ag_new(ag_ctx *ctx, int ndim, const int *shape, int with_grad);   // uninitialized data
ag_tensor *ag_wrap(ag_ctx *ctx, float *data, float *grad, int ndim, const int *shape);
ag_tensor *ag_view(ag_ctx *ctx, ag_tensor *t, int ndim, const int *shape);    // same data and grad
int ag_rows(const ag_tensor *t);   // product of all dims but the last
int ag_cols(const ag_tensor *t);   // last dim

// Backward from a scalar (n == 1) tensor, or from any tensor with a given d(out) (n floats).
void ag_backward(ag_ctx *ctx, ag_tensor *loss);
void ag_backward_seed(ag_ctx *ctx, ag_tensor *out, const float *dout);

// Internal: record a node (used by the op files).
ag_node *ag_record(ag_ctx *ctx, ag_backward_fn fn, ag_tensor *out);
int ag_needs_grad(const ag_ctx *ctx, const ag_tensor *a, const ag_tensor *b);
// Internal, for backward functions about to write t's gradient: returns 1 when the caller must accumulate
// (+=) and 0 when this is the first write (=), marking the gradient written. ag_grad_zeroed is for
// writers that only accumulate: it zeroes an unwritten gradient first and returns it.
int ag_grad_acc(ag_tensor *t);
float *ag_grad_zeroed(ag_tensor *t);

// ---- ops (each: forward now, backward recorded) ----
// c = op(a) @ op(b): a (M, K) or (K, M) if ta; b (K, N) or (N, K) if tb; a's leading dims flatten into
// M when !ta. The output keeps a's leading dims with N as last dim (2-D when ta).
ag_tensor *ag_matmul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b, int ta, int tb);
ag_tensor *ag_add(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);          // same shape
ag_tensor *ag_mul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b);          // same shape (the gated product)
ag_tensor *ag_scale(ag_ctx *ctx, ag_tensor *a, float s);
ag_tensor *ag_relu2(ag_ctx *ctx, ag_tensor *a);                      // relu(a)^2
ag_tensor *ag_silu(ag_ctx *ctx, ag_tensor *a);                       // a * sigmoid(a)
// The FFN's gated product act(g) * u (act relu2, or SiLU when silu) in one pass each way; the same floats
// as ag_mul(ag_relu2(g) or ag_silu(g), u) without the activation's tensor.
ag_tensor *ag_gated(ag_ctx *ctx, ag_tensor *g, ag_tensor *u, int silu);
// out (n, C) = table (V, C)[ids]; ids must stay valid until backward.
ag_tensor *ag_embedding(ag_ctx *ctx, ag_tensor *table, const int *ids, int n);
ag_tensor *ag_rmsnorm(ag_ctx *ctx, ag_tensor *x, ag_tensor *w, float eps);   // x (..., C), w (C)
// x (B, T, H, D): rotate_half RoPE at positions pos0 + t, inv_freq[i] = theta^(-2i/D).
ag_tensor *ag_rope(ag_ctx *ctx, ag_tensor *x, double theta, int pos0);
// q (B, T, H, D), k and v (B, T, Hkv, D), H % Hkv == 0: causal softmax(q k^T / sqrt(D)) v -> (B, T, H, D).
ag_tensor *ag_attention(ag_ctx *ctx, ag_tensor *q, ag_tensor *k, ag_tensor *v);
// Mean cross-entropy over rows whose label != ignore_index: logits (N, V), labels (N,) -> (1).
ag_tensor *ag_cross_entropy(ag_ctx *ctx, ag_tensor *logits, const int *labels, int ignore_index);

// BitLinear (autograd/bitlinear.c). The fake-quantizing ops, straight-through (gradient passes unchanged):
// per-row absmax int8 fake quantization: s = 127 / max(|x|, 1e-5), round half to even, clamp [-128, 127].
ag_tensor *ag_act_quant(ag_ctx *ctx, ag_tensor *x);
// per-tensor absmean ternary: s = max(mean|W|, 1e-5), W_q = clamp(round(W / s), -1, 1) * s.
ag_tensor *ag_weight_quant(ag_ctx *ctx, ag_tensor *w);

// The same quantizers on integer kernels. ag_quant_act quantizes x (N, K) once per row to int8; several
// projections of the same input share it. ag_bitlinear: y (N, M) = act_quant(x) @ weight_quant(w)^T for
// w (M, K), exact int32 products; with w_is_ternary, w holds stored ternary values t * s (a packed
// checkpoint) used as stored. Backward: dx (into x's grad) and dw, straight-through, on 16-bit fixed-point
// gradients (relative error <= 1.5e-5 of each row's largest entry).
typedef struct {
    ag_tensor *x;      // (N, K) the unquantized input; dX accumulates into its grad
    int8_t *q;         // (N, Kp) round(x * s) clamped to [-128, 127]; Kp = K rounded up to 4, zero padded
    uint8_t *qu;       // (N, Kp) q + 128
    float *inv_s;      // (N) 1 / s = max|x| / 127
    int N, K, Kp;
    struct ag_dw_operand *dw;   // q packed for the dW products, made by the first backward that needs it
} ag_qact;
ag_qact *ag_quant_act(ag_ctx *ctx, ag_tensor *x);
// ag_quant_act(ag_rmsnorm(x, w, eps)) in one pass: the same q and inv_s, and the same gradients into x and w.
// The normalized tensor (the result's x) gets a gradient buffer but its data only when keep_rows (LoRA
// reads it); otherwise its data is NULL.
ag_qact *ag_rmsnorm_quant(ag_ctx *ctx, ag_tensor *x, ag_tensor *w, float eps, int keep_rows);
// Internal (autograd/bitlinear.c): an ag_qact for x (N, K) with unset rows, and row r quantized from src.
ag_qact *ag_qact_new(ag_ctx *ctx, ag_tensor *x, int N, int K);
void ag_qact_row(ag_qact *a, int r, const float *src);
ag_tensor *ag_bitlinear(ag_ctx *ctx, const ag_qact *x, ag_tensor *w, int w_is_ternary);
// LoRA branch: y + scale * (x @ A^T) @ B^T with x unquantized; A (r, in), B (out, r).
ag_tensor *ag_lora_add(ag_ctx *ctx, ag_tensor *y, ag_tensor *x, ag_tensor *a, ag_tensor *b, float scale);

// Ternary codes of w (n floats) into t and returns the scale s_w with W_q = t * s_w: for latent weights the
// absmean quantizer of ag_weight_quant (s = 1 / mean|w|, t = clamp(round(w s), -1, 1), s_w = 1 / s); for
// stored ternary weights (already t * s_w, used as stored) s_w = max|w| (1e-5 for all zeros), t = sign(w).
float ag_ternarize(int8_t *t, const float *w, size_t n, int w_is_ternary);

// Scalar helpers shared with kernels and tests.
float ag_absmean(const float *w, size_t n);              // mean |w| (double accumulation), clamped to 1e-5
void ag_act_quant_row(float *y, const float *x, int n);  // y = fake-quantized x (one row)

#endif
