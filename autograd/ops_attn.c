// ops_attn.c: rotary position embedding (rotate_half layout) and causal grouped-query attention.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/check.h"
#include "kernels/vmath.h"

// ---- RoPE ----
// For head dim D and i < D/2: (x_i, x_{i+D/2}) is rotated by angle pos * inv_freq_i, with
// inv_freq_i = 1 / theta^(2i/D), all in f32 as Hugging Face computes it.

typedef struct {
    float *cos, *sin;   // (T, D/2)
} rope_saved;

// y (=, or += when acc) rotates x; sign -1 rotates back (the backward).
static void rope_apply(float *y, const float *x, const rope_saved *s, int B, int T, int H, int D, float sign, int acc) {
    int half = D / 2;
    #pragma omp parallel for collapse(2) if ((size_t)B * T * H * D > 16384)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = s->cos + (size_t)t * half, *sn = s->sin + (size_t)t * half;
            for (int h = 0; h < H; h++) {
                size_t off = (((size_t)b * T + t) * H + h) * D;
                const float *restrict xr = x + off;
                float *restrict yr = y + off;
                #pragma omp simd
                for (int i = 0; i < half; i++) {
                    float x1 = xr[i], x2 = xr[i + half], si = sign * sn[i];
                    float r1 = x1 * c[i] - x2 * si, r2 = x2 * c[i] + x1 * si;
                    yr[i] = acc ? yr[i] + r1 : r1;
                    yr[i + half] = acc ? yr[i + half] + r2 : r2;
                }
            }
        }
}

static void rope_backward(const ag_node *nd) {
    ag_tensor *x = nd->in[0];
    const int *sh = x->shape;
    int acc = ag_grad_acc(x);
    rope_apply(x->grad, nd->out->grad, nd->saved, sh[0], sh[1], sh[2], sh[3], -1.0f, acc);   // rotate back
}

ag_tensor *ag_rope(ag_ctx *ctx, ag_tensor *x, double theta, int pos0) {
    CHECK(x->ndim == 4 && x->shape[3] % 2 == 0, "rope: x must be (B, T, H, D) with even D");
    int B = x->shape[0], T = x->shape[1], H = x->shape[2], D = x->shape[3], half = D / 2;
    rope_saved *s = arena_alloc(&ctx->mem, sizeof(rope_saved));
    s->cos = arena_alloc(&ctx->mem, sizeof(float) * (size_t)T * half + 1);
    s->sin = arena_alloc(&ctx->mem, sizeof(float) * (size_t)T * half + 1);
    for (int i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf((float)theta, (float)(2 * i) / (float)D);
        for (int t = 0; t < T; t++) {
            float ang = (float)(pos0 + t) * inv_freq;
            s->cos[(size_t)t * half + i] = cosf(ang);
            s->sin[(size_t)t * half + i] = sinf(ang);
        }
    }
    int need = ag_needs_grad(ctx, x, NULL);
    ag_tensor *y = ag_new(ctx, 4, x->shape, need);
    rope_apply(y->data, x->data, s, B, T, H, D, 1.0f, 0);
    if (need) {
        ag_node *n = ag_record(ctx, rope_backward, y);
        n->in[0] = x;
        n->saved = s;
    }
    return y;
}

// ---- causal attention with grouped-query heads ----

typedef struct {
    float *p;         // (B, H, T, T) softmax probabilities
    float *scratch;   // (threads, T * T + D * T): the backward's dP and a transposed V
    float *kt;        // (threads, D, T): the forward's transposed K
    int threads;
} attn_saved;

// dst (D, T) = the head at src transposed: dst[d][t] = src[t * ld + d]. q k^T and dO v^T then run as NN
// products, which OpenBLAS does on its small-matrix kernels (NT ones take the general path: pack and copy).
static void transpose_head(float *restrict dst, const float *restrict src, int T, size_t ld, int D) {
    for (int t = 0; t < T; t++)
        for (int d = 0; d < D; d++) dst[(size_t)d * T + t] = src[(size_t)t * ld + d];
}

// The causal products run in blocks of ATT_BLK query rows: rows [t0, t0 + m) see keys [0, t0 + m) only, so
// the products skip the zero upper triangle (a third of the work at T = 64) on OpenBLAS's small-matrix path.
#define ATT_BLK 16

// Attention for one (batch, kv-group): the H/Hkv query heads that share kv head g.
// kt: (D, T) scratch.
static void attn_forward_group(float *o, float *p, float *kt, const float *q, const float *k, const float *v, int b,
                               int g, int T, int H, int Hkv, int D) {
    int rep = H / Hkv;
    float scale = 1.0f / sqrtf((float)D);
    const float *kb = k + (size_t)b * T * Hkv * D + (size_t)g * D, *vb = v + (size_t)b * T * Hkv * D + (size_t)g * D;
    transpose_head(kt, kb, T, (size_t)Hkv * D, D);
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        const float *qb = q + (size_t)b * T * H * D + (size_t)h * D;
        float *pb = p + ((size_t)b * H + h) * T * T, *ob = o + (size_t)b * T * H * D + (size_t)h * D;
        for (int t0 = 0; t0 < T; t0 += ATT_BLK) {   // S = scale Q K^T, keys up to the block's last row
            int m = T - t0 < ATT_BLK ? T - t0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, t0 + m, D, scale, qb + (size_t)t0 * H * D, H * D,
                        kt, T, 0.0f, pb + (size_t)t0 * T, T);
        }
        for (int t = 0; t < T; t++) {   // softmax over keys 0..t: the engine's (kernels/vmath.h), bit for bit
            float *row = pb + (size_t)t * T;
            km_softmax(row, t + 1);
            for (int j = t + 1; j < T; j++) row[j] = 0.0f;
        }
        for (int t0 = 0; t0 < T; t0 += ATT_BLK) {   // O = P V over the block's keys
            int m = T - t0 < ATT_BLK ? T - t0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, D, t0 + m, 1.0f, pb + (size_t)t0 * T, T, vb,
                        Hkv * D, 0.0f, ob + (size_t)t0 * H * D, H * D);
        }
    }
}

// acc[3]: whether q, k, v's gradients accumulate (else the first contribution overwrites).
// dp: (T, T) and vt: (D, T) scratch.
static void attn_backward_group(const ag_node *nd, float *dp, float *vt, const int *acc, int b, int g) {
    const ag_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2];
    const attn_saved *s = nd->saved;
    int T = q->shape[1], H = q->shape[2], D = q->shape[3], Hkv = k->shape[2], rep = H / Hkv;
    float scale = 1.0f / sqrtf((float)D);
    size_t kvoff = (size_t)b * T * Hkv * D + (size_t)g * D;
    for (int h = g * rep; h < (g + 1) * rep; h++) {
        size_t qoff = (size_t)b * T * H * D + (size_t)h * D;
        const float *pb = s->p + ((size_t)b * H + h) * T * T, *dob = nd->out->grad + qoff;
        // dK and dV sum over the group's heads: only the first may overwrite
        float beta_k = acc[1] || h > g * rep ? 1.0f : 0.0f, beta_v = acc[2] || h > g * rep ? 1.0f : 0.0f;
        for (int j0 = 0; v->grad && j0 < T; j0 += ATT_BLK) {   // dV += P^T dO: key block j0 from rows t >= j0
            int m = T - j0 < ATT_BLK ? T - j0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, D, T - j0, 1.0f, pb + (size_t)j0 * T + j0, T,
                        dob + (size_t)j0 * H * D, H * D, beta_v, v->grad + kvoff + (size_t)j0 * Hkv * D, Hkv * D);
        }
        if (!q->grad && !k->grad) continue;
        // dP = dO V^T, then dS = P * (dP - rowsum(P * dP))
        if (h == g * rep) transpose_head(vt, v->data + kvoff, T, (size_t)Hkv * D, D);
        for (int t0 = 0; t0 < T; t0 += ATT_BLK) {
            int m = T - t0 < ATT_BLK ? T - t0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, t0 + m, D, 1.0f, dob + (size_t)t0 * H * D, H * D,
                        vt, T, 0.0f, dp + (size_t)t0 * T, T);
        }
        for (int t = 0; t < T; t++) {
            float *dr = dp + (size_t)t * T;
            km_softmax_grad(dr, pb + (size_t)t * T, t + 1);
            for (int j = t + 1; j < T; j++) dr[j] = 0.0f;
        }
        for (int t0 = 0; q->grad && t0 < T; t0 += ATT_BLK) {   // dQ += scale * dS K over the block's keys
            int m = T - t0 < ATT_BLK ? T - t0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, D, t0 + m, scale, dp + (size_t)t0 * T, T,
                        k->data + kvoff, Hkv * D, acc[0] ? 1.0f : 0.0f, q->grad + qoff + (size_t)t0 * H * D, H * D);
        }
        for (int j0 = 0; k->grad && j0 < T; j0 += ATT_BLK) {   // dK += scale * dS^T Q: key block j0 from rows t >= j0
            int m = T - j0 < ATT_BLK ? T - j0 : ATT_BLK;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, D, T - j0, scale, dp + (size_t)j0 * T + j0, T,
                        q->data + qoff + (size_t)j0 * H * D, H * D, beta_k, k->grad + kvoff + (size_t)j0 * Hkv * D, Hkv * D);
        }
    }
}

static void attention_backward(const ag_node *nd) {
    const attn_saved *s = nd->saved;
    int acc[3];
    for (int k = 0; k < 3; k++) acc[k] = nd->in[k]->grad ? ag_grad_acc(nd->in[k]) : 1;
    int B = nd->in[0]->shape[0], T = nd->in[0]->shape[1], D = nd->in[0]->shape[3], Hkv = nd->in[1]->shape[2];
    #pragma omp parallel for num_threads(s->threads) schedule(static) if (B * Hkv > 1)
    for (int bg = 0; bg < B * Hkv; bg++)
    {
        float *dp = s->scratch + (size_t)omp_get_thread_num() * ((size_t)T * T + (size_t)D * T);
        attn_backward_group(nd, dp, dp + (size_t)T * T, acc, bg / Hkv, bg % Hkv);
    }
}

ag_tensor *ag_attention(ag_ctx *ctx, ag_tensor *q, ag_tensor *k, ag_tensor *v) {
    CHECK(q->ndim == 4 && k->ndim == 4 && v->ndim == 4, "attention: q, k, v must be (B, T, heads, D)");
    int B = q->shape[0], T = q->shape[1], H = q->shape[2], D = q->shape[3], Hkv = k->shape[2];
    CHECK(k->shape[0] == B && k->shape[1] == T && k->shape[3] == D && !memcmp(k->shape, v->shape, sizeof(k->shape)),
          "attention: k and v must be (%d, %d, Hkv, %d)", B, T, D);
    CHECK(Hkv > 0 && H % Hkv == 0, "attention: %d query heads not a multiple of %d kv heads", H, Hkv);
    attn_saved *s = arena_alloc(&ctx->mem, sizeof(attn_saved));
    s->p = arena_alloc(&ctx->mem, sizeof(float) * (size_t)B * H * T * T + 1);
    s->threads = omp_get_max_threads();
    int need = ctx->grad_enabled && (q->grad || k->grad || v->grad);
    ag_tensor *o = ag_new(ctx, 4, q->shape, need);
    s->kt = arena_alloc(&ctx->mem, sizeof(float) * (size_t)s->threads * D * T + 1);
    #pragma omp parallel for num_threads(s->threads) schedule(static) if (B * Hkv > 1)
    for (int bg = 0; bg < B * Hkv; bg++)
        attn_forward_group(o->data, s->p, s->kt + (size_t)omp_get_thread_num() * D * T, q->data, k->data, v->data,
                           bg / Hkv, bg % Hkv, T, H, Hkv, D);
    if (need) {
        s->scratch = arena_alloc(&ctx->mem, sizeof(float) * (size_t)s->threads * ((size_t)T * T + (size_t)D * T) + 1);
        ag_node *n = ag_record(ctx, attention_backward, o);
        n->in[0] = q; n->in[1] = k; n->in[2] = v;
        n->saved = s;
    }
    return o;
}
