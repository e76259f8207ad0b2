// bitlinear.c: BitNet b1.58 BitLinear as in transformers' AutoBitLinear (online mode).
//
// Forward: y = act_quant(x) @ weight_quant(W)^T. Both quantizers use straight-through estimators, so
// their backward is the identity. We implement that without any work: the quantized tensor's gradient
// buffer *is* its input's gradient buffer, so whatever flows into d(x_q) lands in dx directly.
#include <math.h>

#include "autograd/ag.h"
#include "common/check.h"

// Round half to even for |v| < 2^22 (the default rounding mode does it; vectorizes, unlike rintf calls).
static inline float round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

void ag_act_quant_row(float *restrict y, const float *restrict x, int n) {
    float mx = 0.0f;
    #pragma omp simd reduction(max : mx)
    for (int i = 0; i < n; i++) mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    float s = 127.0f / (mx > 1e-5f ? mx : 1e-5f);
    #pragma omp simd
    for (int i = 0; i < n; i++) {
        float q = round_even(x[i] * s);
        y[i] = (q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q) / s;
    }
}

float ag_absmean(const float *w, size_t n) {
    double sum = 0.0;
    #pragma omp parallel for simd reduction(+ : sum) if (n > 65536)
    for (size_t i = 0; i < n; i++) sum += fabs((double)w[i]);
    float m = n ? (float)(sum / (double)n) : 0.0f;
    return fmaxf(m, 1e-5f);
}

ag_tensor *ag_act_quant(ag_ctx *ctx, ag_tensor *x) {
    int R = ag_rows(x), C = ag_cols(x);
    ag_tensor *y = ag_new(ctx, x->ndim, x->shape, 0);
    #pragma omp parallel for if (x->n > 16384)
    for (int r = 0; r < R; r++) ag_act_quant_row(y->data + (size_t)r * C, x->data + (size_t)r * C, C);
    y->grad = ctx->grad_enabled ? x->grad : NULL;   // straight-through
    return y;
}

ag_tensor *ag_weight_quant(ag_ctx *ctx, ag_tensor *w) {
    ag_tensor *y = ag_new(ctx, w->ndim, w->shape, 0);
    float s = 1.0f / ag_absmean(w->data, w->n);
    const float *restrict src = w->data;
    float *restrict dst = y->data;
    size_t n = w->n;
    #pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float v = src[i] * s;
        v = round_even(v < -2.0f ? -2.0f : v > 2.0f ? 2.0f : v);   // clamp first: keeps |v| small for round_even
        dst[i] = (v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v) / s;
    }
    y->grad = ctx->grad_enabled ? w->grad : NULL;   // straight-through
    return y;
}

ag_tensor *ag_bitlinear(ag_ctx *ctx, ag_tensor *x, ag_tensor *w, int x_is_quantized, int w_is_ternary) {
    CHECK(w->ndim == 2 && ag_cols(x) == w->shape[1], "bitlinear: x has %d features, weight is (%d, %d)", ag_cols(x),
          w->shape[0], w->ndim == 2 ? w->shape[1] : -1);
    ag_tensor *xq = x_is_quantized ? x : ag_act_quant(ctx, x);
    ag_tensor *wq = w_is_ternary ? w : ag_weight_quant(ctx, w);
    return ag_matmul(ctx, xq, wq, 0, 1);
}

ag_tensor *ag_lora_add(ag_ctx *ctx, ag_tensor *y, ag_tensor *x, ag_tensor *a, ag_tensor *b, float scale) {
    CHECK(a->ndim == 2 && b->ndim == 2 && a->shape[0] == b->shape[1], "lora: A (%d, %d) and B (%d, %d) do not chain",
          a->shape[0], a->shape[1], b->shape[0], b->shape[1]);
    ag_tensor *ax = ag_matmul(ctx, x, a, 0, 1);    // (N, r)
    ag_tensor *bax = ag_matmul(ctx, ax, b, 0, 1);  // (N, out)
    return ag_add(ctx, y, ag_scale(ctx, bax, scale));
}
