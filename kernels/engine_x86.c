// engine_x86.c: AVX2 and AVX-512 versions of the engine's attention pieces (kernels/engine_impl.h),
// compiled per function with target attributes and chosen at run time. scores and mix return the scalar
// path's bits.
//
// scores: a vector of consecutive keys (16 or 8) per accumulator, one FMA per d with q[d] broadcast against
// row d of a key block; four accumulators side by side (64 / 32 keys) per query row hide the FMA latency, and
// two query rows share each key load. mix: up to 8 vectors of each of two heads' outputs stay in registers
// while the value rows stream past, each loaded once for both (column blocks of 128 / 64 / 16 floats for
// AVX-512, 64 / 32 / 8 for AVX2). q8_row: not bit-identical to the scalar path
// (several accumulators), which does not matter after the LM head: nothing is quantized after it.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "kernels/engine_impl.h"

_Static_assert(ENG_KBLK == 16, "the key blocks are one AVX-512 vector (two AVX2 vectors) wide");

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define T256 __attribute__((target("avx2,fma,f16c")))
#define INLINE __attribute__((always_inline)) static inline

// ---- expf, exactly as glibc computes it ----
// exp(x) = 2^(k/32) * 2^(r/32), k = round(x * 32 / ln 2), r the rest, 2^(r/32) ~ cubic: glibc's e_expf.c with
// its __exp2f_data constants, in the FMA build's operation order (kd and r from fused x * InvLn2N, the cubic's
// three FMAs). tests/test_engine_ops.c checks it against expf bit for bit; it matches on every float.
static const uint64_t exp2f_tab[32] __attribute__((aligned(64))) = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b, 0x3fef54873168b9aa,
    0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74,
    0x3feea11473eb0187, 0x3feea589994cce13, 0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
#define EXP_INVLN2N (0x1.71547652b82fep+0 * 32)
#define EXP_SHIFT 0x1.8p+52
#define EXP_C0 (0x1.c6af84b912394p-5 / 32 / 32 / 32)
#define EXP_C1 (0x1.ebfce50fac4f3p-3 / 32 / 32)
#define EXP_C2 (0x1.62e42ff0c52d6p-1 / 32)
#define EXP_LO (-0x1.9fe368p6f)   // below: 0
#define EXP_HI 0x1.62e42ep6f      // above: inf

// ---- AVX-512 ----

T512 INLINE __m256 exp8_512(__m256 x) {   // 8 floats through doubles
    const __m512d t0 = _mm512_load_pd((const double *)exp2f_tab), t1 = _mm512_load_pd((const double *)exp2f_tab + 8),
                  t2 = _mm512_load_pd((const double *)exp2f_tab + 16), t3 = _mm512_load_pd((const double *)exp2f_tab + 24);
    __m512d xd = _mm512_cvtps_pd(x), inv = _mm512_set1_pd(EXP_INVLN2N), shift = _mm512_set1_pd(EXP_SHIFT);
    __m512d kd = _mm512_fmadd_pd(inv, xd, shift);
    __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, shift);
    __m512d r = _mm512_fmsub_pd(inv, xd, kd);
    __m512i idx = _mm512_and_si512(ki, _mm512_set1_epi64(31));
    __m512d lo = _mm512_permutex2var_pd(t0, idx, t1), hi = _mm512_permutex2var_pd(t2, idx, t3);
    __mmask8 upper = _mm512_test_epi64_mask(idx, _mm512_set1_epi64(16));
    __m512i t = _mm512_add_epi64(_mm512_castpd_si512(_mm512_mask_blend_pd(upper, lo, hi)), _mm512_slli_epi64(ki, 47));
    __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(EXP_C0), r, _mm512_set1_pd(EXP_C1)), r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(EXP_C2), r, _mm512_set1_pd(1.0));
    y = _mm512_mul_pd(_mm512_fmadd_pd(z, r2, y), _mm512_castsi512_pd(t));
    __m256 out = _mm512_cvtpd_ps(y);
    out = _mm256_blendv_ps(out, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ));
    return _mm256_blendv_ps(out, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, _mm256_set1_ps(EXP_HI), _CMP_GT_OQ));
}

T512 static void expv512(float *y, const float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8_512(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __mmask8 m = (__mmask8)((1u << (n - i)) - 1);
        _mm256_mask_storeu_ps(y + i, m, exp8_512(_mm256_maskz_loadu_ps(m, x + i)));
    }
}

// 16 floats of x - m through exp8_512, masked: lanes outside `k` are not read (their results are not used).
T512 INLINE __m512 exp16_512(const float *x, __m512 m, __mmask16 k) {
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x), m);
    __m256 lo = exp8_512(_mm512_castps512_ps256(d)), hi = exp8_512(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(d), 1)));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

// The softmax of engine_impl.h in one pass for max, one for exp and the sum, one for the scale. The sum keeps
// km_sum's 16 lanes (lane l adds p[l], p[l + 16], ... in turn; masked adds leave the other lanes alone) and
// folds them in its order (8, 4, 2, 1), so the bits are the scalar path's.
T512 static void softmax512(float *p, int n) {
    int full = n & ~15;
    __mmask16 tail = (__mmask16)((1u << (n - full)) - 1);
    __m512 vmx = _mm512_set1_ps(p[0]);
    for (int i = 0; i < full; i += 16) vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(p + i));
    if (tail) vmx = _mm512_mask_max_ps(vmx, tail, vmx, _mm512_maskz_loadu_ps(tail, p + full));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmx)), acc = _mm512_setzero_ps();
    for (int i = 0; i < full; i += 16) {
        __m512 e = exp16_512(p + i, m, 0xffff);
        _mm512_storeu_ps(p + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (tail) {
        __m512 e = exp16_512(p + full, m, tail);
        _mm512_mask_storeu_ps(p + full, tail, e);
        acc = _mm512_mask_add_ps(acc, tail, acc, e);
    }
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m512 inv = _mm512_set1_ps(1.0f / _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2))));
    for (int i = 0; i < full; i += 16) _mm512_storeu_ps(p + i, _mm512_mul_ps(_mm512_loadu_ps(p + i), inv));
    if (tail) _mm512_mask_storeu_ps(p + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, p + full), inv));
}

// sc[i][t0 .. t0 + 16 NV) for NQ query rows (the last vector masked by `last`), NV blocks of keys at once (t0 a
// multiple of 16), each key vector loaded once for the NQ rows.
T512 INLINE void scores512_block(float *sc, size_t ldsc, const float *q, const float *kb, int t0, int D, float scale, const int NV, const int NQ,
                                 __mmask16 last) {
    __m512 acc[2][4];
    const float *blk = kb + (size_t)t0 * D;   // block t0 / 16
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 qd[2];
        #pragma GCC unroll 2
        for (int i = 0; i < NQ; i++) qd[i] = _mm512_set1_ps(q[(size_t)i * D + d]);
        #pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            __m512 k = _mm512_maskz_loadu_ps(j == NV - 1 ? last : 0xffff, blk + ((size_t)j * D + d) * 16);
            #pragma GCC unroll 2
            for (int i = 0; i < NQ; i++) acc[i][j] = _mm512_fmadd_ps(qd[i], k, acc[i][j]);
        }
    }
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NV; j++)
            _mm512_mask_storeu_ps(sc + (size_t)i * ldsc + t0 + 16 * j, j == NV - 1 ? last : 0xffff, _mm512_mul_ps(acc[i][j], _mm512_set1_ps(scale)));
}

T512 INLINE void scores512_rows(float *sc, size_t ldsc, const float *q, const float *kb, int n, int D, float scale, const int NQ) {
    int t = 0;
    for (; t + 64 <= n; t += 64) scores512_block(sc, ldsc, q, kb, t, D, scale, 4, NQ, 0xffff);
    for (; t + 16 <= n; t += 16) scores512_block(sc, ldsc, q, kb, t, D, scale, 1, NQ, 0xffff);
    if (t < n) scores512_block(sc, ldsc, q, kb, t, D, scale, 1, NQ, (__mmask16)((1u << (n - t)) - 1));
}

T512 static void scores512(float *sc, size_t ldsc, const float *q, int nq, const float *kb, int n, int D, float scale) {
    int i = 0;
    for (; i + 2 <= nq; i += 2) scores512_rows(sc + (size_t)i * ldsc, ldsc, q + (size_t)i * D, kb, n, D, scale, 2);
    if (i < nq) scores512_rows(sc + (size_t)i * ldsc, ldsc, q + (size_t)i * D, kb, n, D, scale, 1);
}

// out[i] (16 DV) = sum_t p[i][t] * v[t * ldv ..] for NQ rows, the accumulators in registers.
T512 INLINE void mix512_body(float *out, size_t ldo, const float *p, size_t ldp, const float *v, size_t ldv, int n, const int DV, const int NQ) {
    __m512 o[2][8];
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) o[i][j] = _mm512_setzero_ps();
    for (int t = 0; t < n; t++) {
        const float *vt = v + (size_t)t * ldv;
        __m512 pt[2];
        #pragma GCC unroll 2
        for (int i = 0; i < NQ; i++) pt[i] = _mm512_set1_ps(p[(size_t)i * ldp + t]);
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) {
            __m512 x = _mm512_loadu_ps(vt + 16 * j);
            #pragma GCC unroll 2
            for (int i = 0; i < NQ; i++) o[i][j] = _mm512_fmadd_ps(pt[i], x, o[i][j]);
        }
    }
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) _mm512_storeu_ps(out + (size_t)i * ldo + 16 * j, o[i][j]);
}

T512 INLINE void mix512_rows(float *out, const float *p, size_t ldp, const float *v, int n, int D, const int NQ) {
    // constant widths keep the accumulators in registers: 128 columns at a time, else 64, else 16
    if (D % 128 == 0)
        for (int d = 0; d < D; d += 128) mix512_body(out + d, (size_t)D, p, ldp, v + d, (size_t)D, n, 8, NQ);
    else if (D % 64 == 0)
        for (int d = 0; d < D; d += 64) mix512_body(out + d, (size_t)D, p, ldp, v + d, (size_t)D, n, 4, NQ);
    else
        for (int d = 0; d < D; d += 16) mix512_body(out + d, (size_t)D, p, ldp, v + d, (size_t)D, n, 1, NQ);
}

T512 static void mix512(float *out, const float *p, size_t ldp, int np, const float *v, int n, int D) {
    if (D % 16) {
        eng_ops_scalar.mix(out, p, ldp, np, v, n, D);
        return;
    }
    int i = 0;
    for (; i + 2 <= np; i += 2) mix512_rows(out + (size_t)i * D, p + (size_t)i * ldp, ldp, v, n, D, 2);
    if (i < np) mix512_rows(out + (size_t)i * D, p + (size_t)i * ldp, ldp, v, n, D, 1);
}

// NR activation rows against one Q8_0 row: each block widened to int16 once, then per row one vpmaddwd
// (exact int32 pair sums), a conversion and an FMA with the block's d; two accumulators per row.
T512 INLINE void q8_rows512(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int K, const int NR) {
    __m512 a[4], b[4];
    #pragma GCC unroll 4
    for (int r = 0; r < NR; r++) a[r] = b[r] = _mm512_setzero_ps();
    int nb = K / 32, blk = 0;
    for (; blk + 1 < nb; blk += 2) {
        __m512i q0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w[blk].qs));
        __m512i q1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w[blk + 1].qs));
        __m512 d0 = _mm512_set1_ps(_cvtsh_ss(w[blk].d)), d1 = _mm512_set1_ps(_cvtsh_ss(w[blk + 1].d));
        #pragma GCC unroll 4
        for (int r = 0; r < NR; r++) {
            const int16_t *xr = x + (size_t)r * K + 32 * blk;
            a[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(q0, _mm512_loadu_si512(xr))), d0, a[r]);
            b[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(q1, _mm512_loadu_si512(xr + 32))), d1, b[r]);
        }
    }
    if (blk < nb) {
        __m512i q0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)w[blk].qs));
        __m512 d0 = _mm512_set1_ps(_cvtsh_ss(w[blk].d));
        #pragma GCC unroll 4
        for (int r = 0; r < NR; r++)
            a[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(q0, _mm512_loadu_si512(x + (size_t)r * K + 32 * blk))), d0, a[r]);
    }
    #pragma GCC unroll 4
    for (int r = 0; r < NR; r++) y[(size_t)r * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(a[r], b[r])) * inv[r];
}

T512 static void q8_row512(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int N, int K) {
    int n = 0;
    for (; n + 4 <= N; n += 4) q8_rows512(y + (size_t)n * ldy, ldy, w, x + (size_t)n * K, inv + n, K, 4);
    for (; n < N; n++) q8_rows512(y + (size_t)n * ldy, ldy, w, x + (size_t)n * K, inv + n, K, 1);
}

const eng_ops eng_ops_avx512 = {scores512, mix512, expv512, softmax512, q8_row512};

// ---- AVX2 ----

T256 INLINE __m128 exp4_256(__m128 x) {   // 4 floats through doubles; the table by gather
    __m256d xd = _mm256_cvtps_pd(x), inv = _mm256_set1_pd(EXP_INVLN2N), shift = _mm256_set1_pd(EXP_SHIFT);
    __m256d kd = _mm256_fmadd_pd(inv, xd, shift);
    __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    __m256d r = _mm256_fmsub_pd(inv, xd, kd);
    __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    __m256i t = _mm256_add_epi64(_mm256_i64gather_epi64((const long long *)exp2f_tab, idx, 8), _mm256_slli_epi64(ki, 47));
    __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(EXP_C0), r, _mm256_set1_pd(EXP_C1)), r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(EXP_C2), r, _mm256_set1_pd(1.0));
    y = _mm256_mul_pd(_mm256_fmadd_pd(z, r2, y), _mm256_castsi256_pd(t));
    __m128 out = _mm256_cvtpd_ps(y);
    out = _mm_blendv_ps(out, _mm_setzero_ps(), _mm_cmp_ps(x, _mm_set1_ps(EXP_LO), _CMP_LT_OQ));
    return _mm_blendv_ps(out, _mm_set1_ps(__builtin_inff()), _mm_cmp_ps(x, _mm_set1_ps(EXP_HI), _CMP_GT_OQ));
}

T256 static void expv256(float *y, const float *x, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, exp4_256(_mm_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = expf(x[i]);
}

// sc[i][t0 .. t0 + 8 NV) for NQ query rows, NV vectors of 8 keys (t0 a multiple of 8): vector j is half
// (t0 + 8j) % 16 / 8 of block (t0 + 8j) / 16.
T256 INLINE void scores256_block(float *sc, size_t ldsc, const float *q, const float *kb, int t0, int D, float scale, const int NV, const int NQ) {
    __m256 acc[2][4];
    const float *vec[4];
    #pragma GCC unroll 4
    for (int j = 0; j < NV; j++) {
        int t = t0 + 8 * j;
        acc[0][j] = acc[1][j] = _mm256_setzero_ps();
        vec[j] = kb + (size_t)(t / 16) * 16 * D + t % 16;
    }
    for (int d = 0; d < D; d++) {
        __m256 qd[2];
        #pragma GCC unroll 2
        for (int i = 0; i < NQ; i++) qd[i] = _mm256_set1_ps(q[(size_t)i * D + d]);
        #pragma GCC unroll 4
        for (int j = 0; j < NV; j++) {
            __m256 k = _mm256_loadu_ps(vec[j] + (size_t)d * 16);
            #pragma GCC unroll 2
            for (int i = 0; i < NQ; i++) acc[i][j] = _mm256_fmadd_ps(qd[i], k, acc[i][j]);
        }
    }
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < NV; j++) _mm256_storeu_ps(sc + (size_t)i * ldsc + t0 + 8 * j, _mm256_mul_ps(acc[i][j], _mm256_set1_ps(scale)));
}

T256 INLINE void scores256_rows(float *sc, size_t ldsc, const float *q, const float *kb, int n, int D, float scale, const int NQ) {
    int t = 0;
    for (; t + 32 <= n; t += 32) scores256_block(sc, ldsc, q, kb, t, D, scale, 4, NQ);
    for (; t + 8 <= n; t += 8) scores256_block(sc, ldsc, q, kb, t, D, scale, 1, NQ);
    for (; t < n; t++)   // the last keys one at a time, with the same chain
        for (int i = 0; i < NQ; i++) {
            const float *k = kb + (size_t)(t / 16) * 16 * D + t % 16, *qi = q + (size_t)i * D;
            float s = 0.0f;
            for (int d = 0; d < D; d++) s = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(qi[d]), _mm_set_ss(k[(size_t)d * 16]), _mm_set_ss(s)));
            sc[(size_t)i * ldsc + t] = s * scale;
        }
}

T256 static void scores256(float *sc, size_t ldsc, const float *q, int nq, const float *kb, int n, int D, float scale) {
    int i = 0;
    for (; i + 2 <= nq; i += 2) scores256_rows(sc + (size_t)i * ldsc, ldsc, q + (size_t)i * D, kb, n, D, scale, 2);
    if (i < nq) scores256_rows(sc + (size_t)i * ldsc, ldsc, q + (size_t)i * D, kb, n, D, scale, 1);
}

// out[i] (8 DV) = sum_t p[i][t] * v[t * ldv ..] for NQ rows; NQ * DV <= 8 accumulators (16 ymm registers).
T256 INLINE void mix256_body(float *out, size_t ldo, const float *p, size_t ldp, const float *v, size_t ldv, int n, const int DV, const int NQ) {
    __m256 o[2][8];
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) o[i][j] = _mm256_setzero_ps();
    for (int t = 0; t < n; t++) {
        const float *vt = v + (size_t)t * ldv;
        __m256 pt[2];
        #pragma GCC unroll 2
        for (int i = 0; i < NQ; i++) pt[i] = _mm256_set1_ps(p[(size_t)i * ldp + t]);
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) {
            __m256 x = _mm256_loadu_ps(vt + 8 * j);
            #pragma GCC unroll 2
            for (int i = 0; i < NQ; i++) o[i][j] = _mm256_fmadd_ps(pt[i], x, o[i][j]);
        }
    }
    #pragma GCC unroll 2
    for (int i = 0; i < NQ; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < DV; j++) _mm256_storeu_ps(out + (size_t)i * ldo + 8 * j, o[i][j]);
}

T256 INLINE void mix256_rows(float *out, const float *p, size_t ldp, const float *v, int n, int D, const int NQ) {
    const int W = 64 / NQ;   // columns at a time: 8 accumulators
    if (D % W == 0)
        for (int d = 0; d < D; d += W) mix256_body(out + d, (size_t)D, p, ldp, v + d, (size_t)D, n, W / 8, NQ);
    else
        for (int d = 0; d < D; d += 8) mix256_body(out + d, (size_t)D, p, ldp, v + d, (size_t)D, n, 1, NQ);
}

T256 static void mix256(float *out, const float *p, size_t ldp, int np, const float *v, int n, int D) {
    if (D % 8) {
        eng_ops_scalar.mix(out, p, ldp, np, v, n, D);
        return;
    }
    int i = 0;
    for (; i + 2 <= np; i += 2) mix256_rows(out + (size_t)i * D, p + (size_t)i * ldp, ldp, v, n, D, 2);
    if (i < np) mix256_rows(out + (size_t)i * D, p + (size_t)i * ldp, ldp, v, n, D, 1);
}

T256 INLINE void q8_rows256(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int K, const int NR) {
    __m256 a[4], b[4];
    #pragma GCC unroll 4
    for (int r = 0; r < NR; r++) a[r] = b[r] = _mm256_setzero_ps();
    for (int blk = 0; blk < K / 32; blk++) {
        __m256i q0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[blk].qs));
        __m256i q1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w[blk].qs + 16)));
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[blk].d));
        #pragma GCC unroll 4
        for (int r = 0; r < NR; r++) {
            const int16_t *xr = x + (size_t)r * K + 32 * blk;
            a[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(q0, _mm256_loadu_si256((const __m256i *)xr))), d, a[r]);
            b[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(q1, _mm256_loadu_si256((const __m256i *)(xr + 16)))), d, b[r]);
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < NR; r++) {
        __m256 s8 = _mm256_add_ps(a[r], b[r]);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        y[(size_t)r * ldy] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s))) * inv[r];
    }
}

T256 static void q8_row256(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int N, int K) {
    int n = 0;
    for (; n + 4 <= N; n += 4) q8_rows256(y + (size_t)n * ldy, ldy, w, x + (size_t)n * K, inv + n, K, 4);
    for (; n < N; n++) q8_rows256(y + (size_t)n * ldy, ldy, w, x + (size_t)n * K, inv + n, K, 1);
}

T256 static void softmax256(float *p, int n) { eng_softmax_with(p, n, expv256); }

const eng_ops eng_ops_avx2 = {scores256, mix256, expv256, softmax256, q8_row256};
