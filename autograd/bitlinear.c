// bitlinear.c: BitNet b1.58 BitLinear as in transformers' AutoBitLinear (online mode), on integer kernels.
//
// Forward: y = act_quant(x) @ weight_quant(W)^T. act_quant is per-token absmax int8 (s = 127 / max|x|),
// weight_quant per-tensor absmean ternary (W_q = t * s_w, t in {-1, 0, 1}). Both use straight-through
// estimators. The product runs in exact int32 (kernels/qgemm, VNNI where present):
//   y[n][m] = ((float)sum_k q[n][k] t[m][k] * (1 / s_n)) * s_w
// which is the float computation of the reference up to one rounding.
//
// Backward (straight-through, so dX = dY W_q and dW = dY^T X_q) also runs on integer kernels, with the
// gradients in 16-bit fixed point: each row of dY (for dX) is scaled to +-32767 of its largest magnitude
// and rounded (a relative error of at most 1.5e-5 of that row's largest entry), each output channel of
// dY / s (for dW) to +-16383 (3.1e-5), so that the exact int32 sums of dW cover 1022 tokens per pass. The fake-quantizing ops ag_act_quant / ag_weight_quant below compute the same quantizers on
// floats; tests compare the two.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/check.h"
#include "common/claim.h"
#include "kernels/qgemm.h"
#include "kernels/ternary.h"
#include "kernels/vmath.h"

// Round half to even for |v| < 2^22 (the default rounding mode does it; vectorizes, unlike rintf calls).
static inline float round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

void ag_act_quant_row(float *restrict y, const float *restrict x, int n) {
    float s = km_q8_scale(km_absmax(x, n));
    #pragma omp simd
    for (int i = 0; i < n; i++) {
        float q = round_even(x[i] * s);
        y[i] = (q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q) / s;
    }
}

float ag_absmean(const float *w, size_t n) {
    double sum = 0.0;
    #pragma omp parallel for simd reduction(+ : sum) if (n >= 8192)
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

// ag_ternarize in two steps: the multiplier s of the codes (1 / mean|w|; unused for stored ternary weights)
// and the scale *sw; then the codes of any part of w.
static float ternary_mult(const float *w, size_t n, int w_is_ternary, float *sw) {
    if (w_is_ternary) {
        float mx = 0.0f;
        #pragma omp parallel for simd reduction(max : mx) if (n >= 8192)
        for (size_t i = 0; i < n; i++) mx = fabsf(w[i]) > mx ? fabsf(w[i]) : mx;
        *sw = mx > 0 ? mx : 1e-5f;
        return 1.0f;
    }
    float s = 1.0f / ag_absmean(w, n);
    *sw = 1.0f / s;
    return s;
}

static void ternary_codes(int8_t *restrict t, const float *restrict w, size_t n, float s, int w_is_ternary) {
    if (w_is_ternary) {
        #pragma omp simd
        for (size_t i = 0; i < n; i++) t[i] = (int8_t)((w[i] > 0) - (w[i] < 0));
        return;
    }
    // clamp(round_half_even(v), -1, 1) is 1 exactly when v > 0.5 and -1 when v < -0.5.
    #pragma omp simd
    for (size_t i = 0; i < n; i++) t[i] = (int8_t)((w[i] * s > 0.5f) - (w[i] * s < -0.5f));
}

#define TERN_CHUNK 65536

float ag_ternarize(int8_t *t, const float *w, size_t n, int w_is_ternary) {
    float sw, s = ternary_mult(w, n, w_is_ternary, &sw);
    #pragma omp parallel for if (n >= 8192)
    for (size_t i = 0; i < n; i += TERN_CHUNK) ternary_codes(t + i, w + i, n - i < TERN_CHUNK ? n - i : TERN_CHUNK, s, w_is_ternary);
    return sw;
}

ag_tensor *ag_weight_quant(ag_ctx *ctx, ag_tensor *w) {
    ag_tensor *y = ag_new(ctx, w->ndim, w->shape, 0);
    int8_t *t = arena_alloc(&ctx->mem, w->n + 1);
    float sw = ag_ternarize(t, w->data, w->n, 0);
    for (size_t i = 0; i < w->n; i++) y->data[i] = t[i] * sw;
    y->grad = ctx->grad_enabled ? w->grad : NULL;   // straight-through
    y->fresh = y->grad ? w->fresh : NULL;
    return y;
}

// ---- integer BitLinear ----

// q (N, K) packed as int16 pairs for dW = dY^T q, one qg_packed per DW_CHUNK tokens: the projections that
// share an input (q/k/v, gate/up) pack it once.
struct ag_dw_operand {
    int ready;
    qg_packed *chunk;   // (ceil(N / DW_CHUNK))
};

ag_qact *ag_qact_new(ag_ctx *ctx, ag_tensor *x, int N, int K) {
    int Kp = (K + 3) & ~3;
    ag_qact *a = arena_alloc(&ctx->mem, sizeof(ag_qact));
    a->x = x;
    a->N = N;
    a->K = K;
    a->Kp = Kp;
    a->q = arena_alloc(&ctx->mem, (size_t)N * Kp + 1);
    a->qu = arena_alloc(&ctx->mem, (size_t)N * Kp + 1);
    a->inv_s = arena_alloc(&ctx->mem, sizeof(float) * (size_t)N + 1);
    a->dw = arena_alloc(&ctx->mem, sizeof(struct ag_dw_operand));
    a->dw->ready = 0;
    a->dw->chunk = NULL;
    return a;
}

void ag_qact_row(ag_qact *a, int r, const float *src) {
    int K = a->K, Kp = a->Kp;
    int8_t *restrict q = a->q + (size_t)r * Kp;
    uint8_t *restrict qu = a->qu + (size_t)r * Kp;
    float s = tk_quant_row(q, src, K);
    for (int i = K; i < Kp; i++) q[i] = 0;
    #pragma omp simd
    for (int i = 0; i < Kp; i++) qu[i] = (uint8_t)(q[i] + 128);
    a->inv_s[r] = 1.0f / s;
}

ag_qact *ag_quant_act(ag_ctx *ctx, ag_tensor *x) {
    int N = ag_rows(x), K = ag_cols(x);
    ag_qact *a = ag_qact_new(ctx, x, N, K);
    #pragma omp parallel for if (x->n > 16384)
    for (int r = 0; r < N; r++) ag_qact_row(a, r, x->data + (size_t)r * K);
    return a;
}

typedef struct {
    const ag_qact *x;
    qg_packed tp;   // the weight's ternary codes (M, K) as int16 row pairs, for dX (lanes NULL: no dX wanted)
    float sw;       // its scale
    arena *mem;     // the step's arena, for the backward's scratch
} bl_saved;

// dW's gradients use +-16383: 511 pairs of 16383 * 128 products stay below 2^31, so DW_CHUNK tokens make
// one exact pass.
#define DW_Q 16383.0f
#define DW_CHUNK 1022

// The int16 operands of both backward products from dY (R, C), each thread on its own rows (the rows the
// op that wrote dY gave it), in one region:
//   d16 (R, ldd): each row scaled to +-32767 of its largest magnitude (km_q16_row), zero padded; d_inv[r] =
//     max / 32767 (0 for a zero row). NULL when no dX is wanted.
//   P ((R + 1) / 2, C) 32-bit lanes: column c of dY * mul[r] scaled to +-DW_Q of that column's largest
//     magnitude, as interleaved row pairs: lane (g, c) = (s16 of row 2g, s16 of row 2g + 1), zero past R (the
//     group-major A of qg_gemm_strided); w_inv[c] = max / DW_Q. NULL when no dW is wanted.
// part: (threads, C) scratch for per-thread column maxima.
static void prep_dy(int16_t *d16, int ldd, float *d_inv, uint32_t *P, float *w_inv, float *part, const float *src,
                    int R, int C, const float *mul, int threads) {
    int G = (R + 1) / 2;
    #pragma omp parallel num_threads(threads) if ((size_t)R * C > 16384)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int g0 = (int)((long)G * t / nt), g1 = (int)((long)G * (t + 1) / nt);   // row pairs [g0, g1)
        int r0 = 2 * g0, r1 = 2 * g1 < R ? 2 * g1 : R;
        float *restrict cm = P ? part + (size_t)t * C : NULL;
        if (P)
            for (int c = 0; c < C; c++) cm[c] = 0.0f;
        for (int r = r0; r < r1; r++) {
            const float *restrict sr = src + (size_t)r * C;
            if (d16) {
                int16_t *d = d16 + (size_t)r * ldd;
                d_inv[r] = km_q16_row(d, sr, C);
                for (int c = C; c < ldd; c++) d[c] = 0;
            }
            if (P) {
                float m = mul[r];
                #pragma omp simd
                for (int c = 0; c < C; c++) cm[c] = fabsf(sr[c] * m) > cm[c] ? fabsf(sr[c] * m) : cm[c];
            }
        }
        if (P) {
            #pragma omp barrier
            // The column maxima over all threads' rows: each thread a range of columns, into w_inv (as the
            // scale for now) and the first thread's partial row (the maxima).
            int c0 = (int)((long)C * t / nt), c1 = (int)((long)C * (t + 1) / nt);
            for (int c = c0; c < c1; c++) {
                float mx = part[c];
                for (int u = 1; u < nt; u++) mx = part[(size_t)u * C + c] > mx ? part[(size_t)u * C + c] : mx;
                part[c] = mx;
                w_inv[c] = mx > 0 ? DW_Q / mx : 0.0f;
            }
            #pragma omp barrier
            for (int g = g0; g < g1; g++) {
                const float *restrict s0 = src + (size_t)(2 * g) * C, *restrict s1 = s0 + C, *restrict k = w_inv;
                float m0 = mul[2 * g], m1 = 2 * g + 1 < R ? mul[2 * g + 1] : 0.0f;
                if (2 * g + 1 >= R) s1 = s0;   // multiplied by 0
                uint32_t *restrict out = P + (size_t)g * C;
                #pragma omp simd
                for (int c = 0; c < C; c++) {
                    int16_t lo = (int16_t)round_even(s0[c] * m0 * k[c]), hi = (int16_t)round_even(s1[c] * m1 * k[c]);
                    out[c] = (uint16_t)lo | (uint32_t)(uint16_t)hi << 16;
                }
            }
        }
    }
    if (P)
        for (int c = 0; c < C; c++) w_inv[c] = part[c] / DW_Q;
}

// Scratch of one backward, allocated up front (the arena is not thread-safe).
typedef struct {
    int16_t *d16;      // (N, Mp) rows of dY in int16, for dX
    float *d_inv;      // (N)
    uint32_t *pairs;   // ((N + 1) / 2, M) columns of dY / s in int16, row pairs, for dW
    float *w_inv;      // (M)
    float *part;       // (threads, M) per-thread column maxima
} bl_scratch;

// dX (N, K) (+)= dY (N, M) . T (M, K) * s_w, from d16 and T packed in tp: rows [r0, r0 + n)
static void backward_dx(const bl_saved *s, const bl_scratch *b, const qg_packed *tp, float *dx, int dx_acc, int M, int r0, int n) {
    int K = s->x->K, Mp = (M + 1) & ~1;
    qg_gemm(dx + (size_t)r0 * K, K, b->d16 + (size_t)r0 * Mp, Mp, tp, n, b->d_inv + r0, s->sw, dx_acc);
}

#define DX_BLOCK 48   // rows of dX a thread claims at once when the products run side by side

// dW (M, K) (+)= (dY / s)^T (M, N) . q (N, K), A read group-major from the row pairs, DW_CHUNK tokens a pass
static void backward_dw(const bl_saved *s, const bl_scratch *b, float *dw, int w_acc, int M) {
    const ag_qact *xa = s->x;
    int N = xa->N, K = xa->K;
    for (int n0 = 0, c = 0; n0 < N; n0 += DW_CHUNK, c++) {
        if (!xa->dw->ready) {   // the chunk's memory was allocated before the threads started
            int len = N - n0 < DW_CHUNK ? N - n0 : DW_CHUNK;
            qg_packed *p = &xa->dw->chunk[c];
            qg_pack_s8_pairs(p, p->lanes, xa->q + (size_t)n0 * xa->Kp, len, K, xa->Kp);
        }
        qg_gemm_strided(dw, K, b->pairs + (size_t)(n0 / 2) * M, 4, 4 * (size_t)M, &xa->dw->chunk[c], M, b->w_inv, 1.0f,
                        w_acc || n0 > 0);
    }
    xa->dw->ready = 1;
}

// The operands of both products come from dY in one pass split by rows (prep_dy); then the two products,
// which are independent, run side by side when small, each on half of the threads (nested regions; a half
// of one thread runs its kernels serially, at one thread's full speed, which beats splitting every small
// GEMM across both). dX goes in blocks of rows claimed from the front; the dW half, once done, claims dX's
// remaining blocks from the back (dX's short reductions make it the slower half, and a half whose thread
// another process holds no longer stalls the step).
static void bitlinear_backward(const ag_node *nd) {
    const bl_saved *s = nd->saved;
    const ag_qact *xa = s->x;
    ag_tensor *w = nd->in[1], *y = nd->out;
    float *dx = xa->x->grad, *dw = w->grad;
    int dx_acc = dx ? ag_grad_acc(xa->x) : 1, w_acc = dw ? ag_grad_acc(w) : 1;
    int N = xa->N, K = xa->K, M = w->shape[0], Mp = (M + 1) & ~1, nt = omp_get_max_threads();
    arena *mem = s->mem;
    bl_scratch b = {0};
    if (dx) {
        b.d16 = arena_alloc(mem, sizeof(int16_t) * (size_t)N * Mp);
        b.d_inv = arena_alloc(mem, sizeof(float) * (size_t)N);
        CHECK(s->tp.lanes, "bitlinear: dX is wanted but the forward packed no codes for it");
    }
    if (dw) {
        b.pairs = arena_alloc(mem, sizeof(uint32_t) * (size_t)M * ((N + 1) / 2));
        b.w_inv = arena_alloc(mem, sizeof(float) * (size_t)M);
        b.part = arena_alloc(mem, sizeof(float) * (size_t)nt * M);
        if (!xa->dw->chunk) {   // first use of this input: memory for its packed chunks (filled in backward_dw)
            int chunks = (N + DW_CHUNK - 1) / DW_CHUNK;
            xa->dw->chunk = arena_alloc(mem, sizeof(qg_packed) * (size_t)chunks);
            for (int c = 0; c < chunks; c++) {
                int len = N - c * DW_CHUNK < DW_CHUNK ? N - c * DW_CHUNK : DW_CHUNK;
                xa->dw->chunk[c] = (qg_packed){.lanes = arena_alloc(mem, qg_pack_bytes(QG_S16, len, K))};
            }
        }
    }
    prep_dy(b.d16, Mp, b.d_inv, b.pairs, b.w_inv, b.part, y->grad, N, M, xa->inv_s, nt);
    const qg_packed *tp = &s->tp;
    // Side by side only pays for small products: a large GEMM splits well across threads on its own, and two
    // large ones at once compete for memory bandwidth.
    if (dx && dw && nt >= 2 && !omp_in_parallel() && (double)N * M * K < 1e8) {
        // Halves of more than one thread need nested regions; two threads do not (and skip their cost).
        int levels = omp_get_max_active_levels();
        if (nt > 2 && levels < 2) omp_set_max_active_levels(2);
        _Atomic uint64_t blocks = 0;
        int nblk = (N + DX_BLOCK - 1) / DX_BLOCK;
        #pragma omp parallel num_threads(2)
        {
            int me = omp_get_thread_num();
            omp_set_num_threads(me ? nt / 2 : nt - nt / 2);
            if (me == 1) backward_dw(s, &b, dw, w_acc, M);
            for (int blk; tr_claim(&blocks, nblk, 1, me, &blk) > 0;) {
                int r0 = blk * DX_BLOCK;
                backward_dx(s, &b, tp, dx, dx_acc, M, r0, N - r0 < DX_BLOCK ? N - r0 : DX_BLOCK);
            }
        }
        if (nt > 2 && levels < 2) omp_set_max_active_levels(levels);
        return;
    }
    if (dx) backward_dx(s, &b, tp, dx, dx_acc, M, 0, N);
    if (dw) backward_dw(s, &b, dw, w_acc, M);
}

ag_tensor *ag_bitlinear(ag_ctx *ctx, const ag_qact *x, ag_tensor *w, int w_is_ternary) {
    CHECK(w->ndim == 2 && x->K == w->shape[1], "bitlinear: x has %d features, weight is (%d, %d)", x->K, w->shape[0],
          w->ndim == 2 ? w->shape[1] : -1);
    int N = x->N, K = x->K, M = w->shape[0];
    CHECK(M < 65536, "bitlinear: %d output features: the 16-bit backward needs fewer than 65536", M);
    bl_saved *s = arena_alloc(&ctx->mem, sizeof(bl_saved));
    memset(s, 0, sizeof(*s));
    s->x = x;
    s->mem = &ctx->mem;
    int need = ag_needs_grad(ctx, x->x, w);
    // The codes, a block of QG_NR rows at a time (in a thread's cache), packed for the forward product and,
    // when dX will be wanted, as int16 row pairs for the backward's: the codes themselves are never stored.
    float sw, mult = ternary_mult(w->data, (size_t)M * K, w_is_ternary, &sw);
    s->sw = sw;
    qg_packed p = {0};
    qg_pack_begin(&p, arena_alloc(&ctx->mem, qg_pack_bytes(QG_U8S8, K, M)), QG_U8S8, K, M);
    if (need && x->x->grad) qg_pack_begin(&s->tp, arena_alloc(&ctx->mem, qg_pack_bytes(QG_S16, M, K)), QG_S16, M, K);
    int8_t *codes = arena_alloc(&ctx->mem, (size_t)omp_get_max_threads() * QG_NR * K);
    #pragma omp parallel for schedule(static) if ((size_t)M * K >= 8192)
    for (int j0 = 0; j0 < M; j0 += QG_NR) {
        int nj = M - j0 < QG_NR ? M - j0 : QG_NR;
        int8_t *t = codes + (size_t)omp_get_thread_num() * QG_NR * K;
        ternary_codes(t, w->data + (size_t)j0 * K, (size_t)nj * K, mult, w_is_ternary);
        qg_pack_s8_rows_part(&p, t, j0, nj, K, 128);
        if (s->tp.lanes) qg_pack_s8_pairs_part(&s->tp, t, j0, nj, K);
    }
    int shape[AG_MAX_DIMS];
    memcpy(shape, x->x->shape, sizeof(shape));
    shape[x->x->ndim - 1] = M;
    ag_tensor *y = ag_new(ctx, x->x->ndim, shape, need);
    qg_gemm(y->data, M, x->qu, x->Kp, &p, N, x->inv_s, s->sw, 0);
    if (need) {
        ag_node *n = ag_record(ctx, bitlinear_backward, y);
        n->in[0] = x->x;
        n->in[1] = w;
        n->saved = s;
    }
    return y;
}

ag_tensor *ag_lora_add(ag_ctx *ctx, ag_tensor *y, ag_tensor *x, ag_tensor *a, ag_tensor *b, float scale) {
    CHECK(a->ndim == 2 && b->ndim == 2 && a->shape[0] == b->shape[1], "lora: A (%d, %d) and B (%d, %d) do not chain",
          a->shape[0], a->shape[1], b->shape[0], b->shape[1]);
    ag_tensor *ax = ag_matmul(ctx, x, a, 0, 1);    // (N, r)
    ag_tensor *bax = ag_matmul(ctx, ax, b, 0, 1);  // (N, out)
    return ag_add(ctx, y, ag_scale(ctx, bax, scale));
}
