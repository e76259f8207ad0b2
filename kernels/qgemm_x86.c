// qgemm_x86.c: AVX2 and AVX-512 VNNI micro-kernels of kernels/qgemm.h, compiled per function with target
// attributes and chosen at run time. Each must match qg_ukr_scalar bit for bit: the integer sums are exact
// and the epilogue is the same sequence of float operations (convert, multiply, multiply, add).
#include <immintrin.h>
#include <string.h>

#include "kernels/qgemm_ukr.h"

static inline int32_t a_lane(const qg_tile *t, int i, int g) {
    int32_t v;
    memcpy(&v, t->A + (size_t)i * t->lda + t->ldg * (size_t)g, 4);
    return v;
}

typedef int32_t unaligned_i32 __attribute__((aligned(1), may_alias));
// ---- AVX-512 VNNI: 6 rows x 64 columns, 24 accumulators in named registers ----
// Rows past t->m read row 0 again (valid memory) and are not stored.

#define T512 __attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline

#define ROW512(i, OP)                                                   \
    do {                                                                \
        __m512i a = _mm512_set1_epi32(*(const unaligned_i32 *)(a##i + ga)); \
        c##i##0 = OP(c##i##0, a, b0);                                   \
        c##i##1 = OP(c##i##1, a, b1);                                   \
        c##i##2 = OP(c##i##2, a, b2);                                   \
        c##i##3 = OP(c##i##3, a, b3);                                   \
    } while (0)

T512 void store512(const qg_tile *t, int i, __m512i c0, __m512i c1, __m512i c2, __m512i c3) {
    if (i >= t->m) return;
    __m512i c[4] = {c0, c1, c2, c3};
    __m512 alpha = _mm512_set1_ps(t->alpha), rs = _mm512_set1_ps(t->rowscale ? t->rowscale[i] : 1.0f);
    float *out = t->C + (size_t)i * t->ldc;
    for (int v = 0; v < 4; v++) {
        int left = t->n - 16 * v;
        if (left <= 0) break;
        __mmask16 k = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m512i corr = _mm512_loadu_si512(t->colcorr + 16 * v);
        __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[v], corr));
        f = _mm512_mul_ps(_mm512_mul_ps(f, rs), alpha);
        if (t->accumulate) f = _mm512_add_ps(_mm512_maskz_loadu_ps(k, out + 16 * v), f);
        _mm512_mask_storeu_ps(out + 16 * v, k, f);
    }
}

#define TILE512(NAME, OP)                                                                                       \
    __attribute__((target("avx512f,avx512bw,avx512vnni"))) static void NAME(const qg_tile *t) {                 \
        const uint8_t *a0 = t->A, *a1 = t->m > 1 ? a0 + t->lda : a0, *a2 = t->m > 2 ? a0 + 2 * t->lda : a0,      \
                      *a3 = t->m > 3 ? a0 + 3 * t->lda : a0, *a4 = t->m > 4 ? a0 + 4 * t->lda : a0,              \
                      *a5 = t->m > 5 ? a0 + 5 * t->lda : a0;                                                    \
        __m512i z = _mm512_setzero_si512();                                                                     \
        __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, \
                c23 = z, c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z,   \
                c52 = z, c53 = z;                                                                               \
        const int32_t *pb = t->panel;                                                                           \
        size_t ga = 0;                                                                                          \
        for (int g = 0; g < t->groups; g++, pb += QG_NR, ga += t->ldg) {                                        \
            __m512i b0 = _mm512_load_si512(pb), b1 = _mm512_load_si512(pb + 16), b2 = _mm512_load_si512(pb + 32), \
                    b3 = _mm512_load_si512(pb + 48);                                                            \
            ROW512(0, OP);                                                                                      \
            ROW512(1, OP);                                                                                      \
            ROW512(2, OP);                                                                                      \
            ROW512(3, OP);                                                                                      \
            ROW512(4, OP);                                                                                      \
            ROW512(5, OP);                                                                                      \
        }                                                                                                       \
        store512(t, 0, c00, c01, c02, c03);                                                                     \
        store512(t, 1, c10, c11, c12, c13);                                                                     \
        store512(t, 2, c20, c21, c22, c23);                                                                     \
        store512(t, 3, c30, c31, c32, c33);                                                                     \
        store512(t, 4, c40, c41, c42, c43);                                                                     \
        store512(t, 5, c50, c51, c52, c53);                                                                     \
    }

TILE512(tile512_u8s8, _mm512_dpbusd_epi32)
TILE512(tile512_s16, _mm512_dpwssd_epi32)

void qg_ukr_avx512(const qg_tile *t, qg_kind kind) {
    if (kind == QG_S16) tile512_s16(t);
    else tile512_u8s8(t);
}

// ---- AVX2: 4 rows x 16 columns at a time, four column chunks per panel ----
// u8 x s8 groups use vpmaddubsw (pairs into saturating int16: exact while |B| <= 64, which qgemm.h
// requires) then vpmaddwd with ones; int16 pairs use vpmaddwd directly.

#define T256 __attribute__((target("avx2,fma"), always_inline)) static inline

T256 __m256i dot256(__m256i a, __m256i b, const int S16) {
    if (S16) return _mm256_madd_epi16(a, b);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

T256 void tile256(const qg_tile *t, const int S16, const int M) {
    for (int c0 = 0; c0 < t->n; c0 += 16) {
        __m256i acc[QG_MR_AVX2][2];
        #pragma GCC unroll 4
        for (int i = 0; i < M; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
        const int32_t *pb = t->panel + c0;
        for (int g = 0; g < t->groups; g++, pb += QG_NR) {
            __m256i b0 = _mm256_load_si256((const __m256i *)pb), b1 = _mm256_load_si256((const __m256i *)(pb + 8));
            #pragma GCC unroll 4
            for (int i = 0; i < M; i++) {
                __m256i a = _mm256_set1_epi32(a_lane(t, i, g));
                acc[i][0] = _mm256_add_epi32(acc[i][0], dot256(a, b0, S16));
                acc[i][1] = _mm256_add_epi32(acc[i][1], dot256(a, b1, S16));
            }
        }
        __m256 alpha = _mm256_set1_ps(t->alpha);
        int cols = t->n - c0 < 16 ? t->n - c0 : 16;
        #pragma GCC unroll 4
        for (int i = 0; i < M; i++) {
            __m256 rs = _mm256_set1_ps(t->rowscale ? t->rowscale[i] : 1.0f);
            float out[16], *c = t->C + (size_t)i * t->ldc + c0;
            for (int v = 0; v < 2; v++) {
                __m256i corr = _mm256_loadu_si256((const __m256i *)(t->colcorr + c0 + 8 * v));
                __m256 f = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[i][v], corr));
                _mm256_storeu_ps(out + 8 * v, _mm256_mul_ps(_mm256_mul_ps(f, rs), alpha));
            }
            if (cols == 16 && t->accumulate) {
                for (int v = 0; v < 2; v++)
                    _mm256_storeu_ps(c + 8 * v, _mm256_add_ps(_mm256_loadu_ps(c + 8 * v), _mm256_loadu_ps(out + 8 * v)));
            } else if (cols == 16) {
                memcpy(c, out, sizeof(out));
            } else {
                for (int j = 0; j < cols; j++) c[j] = t->accumulate ? c[j] + out[j] : out[j];
            }
        }
    }
}

__attribute__((target("avx2,fma"))) void qg_ukr_avx2(const qg_tile *t, qg_kind kind) {
    int s16 = kind == QG_S16;
    switch (t->m) {
    case 1: s16 ? tile256(t, 1, 1) : tile256(t, 0, 1); break;
    case 2: s16 ? tile256(t, 1, 2) : tile256(t, 0, 2); break;
    case 3: s16 ? tile256(t, 1, 3) : tile256(t, 0, 3); break;
    default: s16 ? tile256(t, 1, 4) : tile256(t, 0, 4); break;
    }
}
