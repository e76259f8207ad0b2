// floatmm.c: the scalar tiles and the threaded driver of kernels/floatmm.h.
#include "kernels/floatmm.h"

#include <string.h>

#include "common/check.h"
#include "common/f16.h"
#include "kernels/floatmm_ukr.h"

static float load_w(const uint8_t *row, uint32_t wtype, int k) {
    uint16_t h;
    if (wtype == GGUF_TYPE_F32) {
        float f;
        memcpy(&f, row + 4 * (size_t)k, 4);
        return f;
    }
    memcpy(&h, row + 2 * (size_t)k, 2);
    return wtype == GGUF_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

void tk_fdot_scalar(float *out, const void *w, size_t ldw, uint32_t wtype, int nr, const float *x, size_t ldx, int nc, int K) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            const uint8_t *row = (const uint8_t *)w + r * ldw;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += x[c * ldx + k] * load_w(row, wtype, k);
            out[c * nr + r] = s;
        }
}

void tk_qdot_scalar(float *out, const tk_block_q8_0 *w, size_t ldw, int nr, const tk_block_q8_0 *x, size_t ldx, int nc, int nb) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            float acc[16] = {0};
            for (int b = 0; b < nb; b++) {
                const tk_block_q8_0 *wb = &w[r * ldw + b], *xb = &x[c * ldx + b];
                float s = f16_to_f32(wb->d) * f16_to_f32(xb->d);
                for (int j = 0; j < 8; j++) {
                    int32_t p = 0;
                    for (int e = 0; e < 4; e++) p += wb->qs[4 * j + e] * xb->qs[4 * j + e];
                    acc[8 * (b % 2) + j] += s * (float)p;
                }
            }
            out[c * nr + r] = tk_q8_reduce(acc);
        }
}

#define DECODE_RUN 512   // vocabulary rows per call in decode (N = 1)

static void check_isa(tk_isa isa) { CHECK(tk_isa_supported(isa), "the %s path is not supported on this CPU", tk_isa_name(isa)); }

void tk_matmul_float(float *y, int ldy, const float *x, int N, const void *w, uint32_t wtype, int M, int K, tk_isa isa) {
    CHECK(wtype == GGUF_TYPE_F32 || wtype == GGUF_TYPE_F16 || wtype == GGUF_TYPE_BF16, "tk_matmul_float: weight type %u", wtype);
    CHECK(ldy >= M && K > 0, "tk_matmul_float: ldy %d, M %d, K %d", ldy, M, K);
    check_isa(isa);
    tk_fdot_fn *fn = isa == TK_ISA_AVX512 ? tk_fdot_avx512 : isa == TK_ISA_AVX2 ? tk_fdot_avx2 : tk_fdot_scalar;
    size_t ldw = (size_t)K * (wtype == GGUF_TYPE_F32 ? 4 : 2);
    if (N == 1) {   // decode: runs of DECODE_RUN rows, one call each, so each thread streams its rows in one loop
        int runs = (M + DECODE_RUN - 1) / DECODE_RUN;
        #pragma omp parallel for schedule(static) if ((double)M * K > 2e5)
        for (int t = 0; t < runs; t++) {
            int r0 = t * DECODE_RUN, rn = M - r0 < DECODE_RUN ? M - r0 : DECODE_RUN;
            fn(y + r0, (const uint8_t *)w + r0 * ldw, ldw, wtype, rn, x, (size_t)K, 1, K);
        }
        return;
    }
    int nr = 4, nc = 4, row_tiles = (M + nr - 1) / nr, col_tiles = (N + nc - 1) / nc;
    #pragma omp parallel for schedule(static) if ((double)M * K * N > 2e5)
    for (int t = 0; t < row_tiles * col_tiles; t++) {
        int r0 = (t / col_tiles) * nr, c0 = (t % col_tiles) * nc, rn = M - r0 < nr ? M - r0 : nr, cn = N - c0 < nc ? N - c0 : nc;
        float out[32];
        fn(out, (const uint8_t *)w + r0 * ldw, ldw, wtype, rn, x + (size_t)c0 * K, (size_t)K, cn, K);
        for (int c = 0; c < cn; c++)
            for (int r = 0; r < rn; r++) y[(size_t)(c0 + c) * ldy + r0 + r] = out[c * rn + r];
    }
}

void tk_matmul_q8_0(float *y, int ldy, const tk_block_q8_0 *x, int N, const tk_block_q8_0 *w, int M, int K, tk_isa isa) {
    CHECK(K % 32 == 0 && ldy >= M, "tk_matmul_q8_0: K %d (a multiple of 32), ldy %d, M %d", K, ldy, M);
    check_isa(isa);
    tk_qdot_fn *fn = isa == TK_ISA_AVX512 ? tk_qdot_avx512 : isa == TK_ISA_AVX2 ? tk_qdot_avx2 : tk_qdot_scalar;
    int nb = K / 32, nr = N == 1 ? 1 : 4, nc = N == 1 ? 1 : 4, row_tiles = (M + nr - 1) / nr, col_tiles = (N + nc - 1) / nc;
    #pragma omp parallel for schedule(static) if ((double)M * K * N > 2e5)
    for (int t = 0; t < row_tiles * col_tiles; t++) {
        int r0 = (t / col_tiles) * nr, c0 = (t % col_tiles) * nc, rn = M - r0 < nr ? M - r0 : nr, cn = N - c0 < nc ? N - c0 : nc;
        float out[32];
        fn(out, w + (size_t)r0 * nb, (size_t)nb, rn, x + (size_t)c0 * nb, (size_t)nb, cn, nb);
        for (int c = 0; c < cn; c++)
            for (int r = 0; r < rn; r++) y[(size_t)(c0 + c) * ldy + r0 + r] = out[c * rn + r];
    }
}
