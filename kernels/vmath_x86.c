// vmath_x86.c: AVX-512 paths of kernels/vmath.h's row quantizers and softmax backward. The quantizers return
// exactly what the scalar references return: max|x| is exact in any order, the scale is the same float expression, and
// vcvtps2dq rounds half to even (the default rounding mode, as rintf) before a saturating narrowing,
// which equals the references' clamp.
#include <immintrin.h>

#include "kernels/vmath.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl")))

static inline T512 __mmask16 tail_mask(int left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1); }

static T512 float absmax512(const float *x, int K) {
    __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
        m1 = _mm512_max_ps(m1, _mm512_abs_ps(_mm512_loadu_ps(x + k + 16)));
    }
    for (; k < K; k += 16) m0 = _mm512_max_ps(m0, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(K - k), x + k)));
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

T512 float km_q16_row_avx512(int16_t *x16, const float *x, int K) {
    float mx = absmax512(x, K);
    __m512 s = _mm512_set1_ps(mx > 0 ? 32767.0f / mx : 0.0f);
    for (int k = 0; k < K; k += 16) {
        __mmask16 m = tail_mask(K - k);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), s));
        _mm256_mask_storeu_epi16(x16 + k, m, _mm512_cvtsepi32_epi16(v));
    }
    return mx / 32767.0f;
}

T512 float km_q8_row_avx512(int8_t *q, const float *x, int K) {
    float mx = absmax512(x, K);
    float sc = km_q8_scale(mx);
    __m512 s = _mm512_set1_ps(sc);
    for (int k = 0; k < K; k += 16) {
        __mmask16 m = tail_mask(K - k);
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), s));
        _mm_mask_storeu_epi8(q + k, m, _mm512_cvtsepi32_epi8(v));
    }
    return sc;
}

T512 void km_softmax_grad_avx512(float *d, const float *p, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p + j), _mm512_loadu_ps(d + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + j + 16), _mm512_loadu_ps(d + j + 16), a1);
    }
    for (; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, p + j), _mm512_maskz_loadu_ps(m, d + j), a0);
    }
    __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(a0, a1)));
    for (j = 0; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j);
        __m512 dv = _mm512_maskz_loadu_ps(m, d + j);
        _mm512_mask_storeu_ps(d + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, p + j), _mm512_sub_ps(dv, dot)));
    }
}

// vmaxps returns its second operand when either is NaN: max(v, m) leaves NaNs of v out of m.
T512 int km_argmax_avx512(const float *x, int n) {
    __m512 m0 = _mm512_set1_ps(-__builtin_inff()), m1 = m0;
    int i = 0;
    for (; i + 32 <= n; i += 32) m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0), m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        m0 = _mm512_mask_max_ps(m0, k, _mm512_maskz_loadu_ps(k, x + i), m0);
    }
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));
    for (i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i), eq = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, x + i), mx, _CMP_EQ_OQ);
        if (eq) return i + __builtin_ctz(eq);
    }
    return 0;   // every value NaN
}
