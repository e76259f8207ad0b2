// engine_ops.c: the scalar reference of the engine's attention pieces (kernels/engine_impl.h) and the
// dispatch.
#include <math.h>

#include "common/f16.h"
#include "kernels/engine_impl.h"
#include "kernels/vmath.h"

static void scores_scalar(float *sc, size_t ldsc, const float *q, int nq, const float *kb, int n, int D, float scale) {
    for (int i = 0; i < nq; i++)
        for (int t = 0; t < n; t++) {
            const float *k = kb + (size_t)(t / ENG_KBLK) * ENG_KBLK * D + t % ENG_KBLK, *qi = q + (size_t)i * D;
            float s = 0.0f;
            for (int d = 0; d < D; d++) s = fmaf(qi[d], k[(size_t)d * ENG_KBLK], s);
            sc[(size_t)i * ldsc + t] = s * scale;
        }
}

static void mix_scalar(float *out, const float *p, size_t ldp, int np, const float *v, int n, int D) {
    for (int i = 0; i < np; i++)
        for (int d = 0; d < D; d++) {
            float o = 0.0f;
            for (int t = 0; t < n; t++) o = fmaf(p[(size_t)i * ldp + t], v[(size_t)t * D + d], o);
            out[(size_t)i * D + d] = o;
        }
}

static void q8_row_scalar(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int N, int K) {
    for (int n = 0; n < N; n++) {
        const int16_t *xr = x + (size_t)n * K;
        float s = 0.0f;
        for (int b = 0; b < K / TK_QK8_0; b++) {
            int32_t p = 0;
            for (int j = 0; j < TK_QK8_0; j++) p += w[b].qs[j] * xr[b * TK_QK8_0 + j];
            s += f16_to_f32(w[b].d) * (float)p;
        }
        y[(size_t)n * ldy] = s * inv[n];
    }
}

static void expv_scalar(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = expf(x[i]);
}

void eng_softmax_with(float *p, int n, void (*expv)(float *y, const float *x, int n)) {
    float mx = p[0];
    for (int t = 1; t < n; t++) mx = p[t] > mx ? p[t] : mx;
    for (int t = 0; t < n; t++) p[t] -= mx;
    expv(p, p, n);
    float inv = 1.0f / km_sum(p, n);
    for (int t = 0; t < n; t++) p[t] *= inv;
}

static void softmax_scalar(float *p, int n) { eng_softmax_with(p, n, expv_scalar); }

const eng_ops eng_ops_scalar = {scores_scalar, mix_scalar, expv_scalar, softmax_scalar, q8_row_scalar};

const eng_ops *eng_ops_for(tk_isa isa) {
    CHECK(tk_isa_supported(isa), "the %s path is not supported on this CPU", tk_isa_name(isa));
    return isa == TK_ISA_AVX512 ? &eng_ops_avx512 : isa == TK_ISA_AVX2 ? &eng_ops_avx2 : &eng_ops_scalar;
}
