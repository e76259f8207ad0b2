// vmath.h: small vector routines shared by the training graph (autograd/) and the engine.
#ifndef TRIT_KERNELS_VMATH_H
#define TRIT_KERNELS_VMATH_H

#include <stdint.h>

// max |x| over x (n), 0 for n = 0; and the int8 activation scale of BitNet b1.58 for a row of that maximum.
float km_absmax(const float *x, int n);
static inline float km_q8_scale(float absmax) { return 127.0f / (absmax > 1e-5f ? absmax : 1e-5f); }

// Row quantizers, each a scalar reference (_ref) and an AVX-512 path (kernels/vmath_x86.c) with identical
// results, chosen at run time.
// x16 (K) = round_half_even(x * 32767 / max|x|): a row in 16-bit fixed point; returns the inverse scale
// max / 32767 (0 for a zero row), so x ~= x16 * inverse with a relative error <= 1.5e-5 of max|x|.
float km_q16_row(int16_t *x16, const float *x, int K);
// q (K) = clamp(round_half_even(x * s), -128, 127) with s = 127 / max(max|x|, 1e-5), returned: the per-token
// absmax int8 activations of BitNet b1.58.
float km_q8_row(int8_t *q, const float *x, int K);
float km_q16_row_ref(int16_t *x16, const float *x, int K);
float km_q8_row_ref(int8_t *q, const float *x, int K);
float km_q16_row_avx512(int16_t *x16, const float *x, int K);   // CPUs with AVX-512 F/BW/VL only
float km_q8_row_avx512(int8_t *q, const float *x, int K);

// The index of the largest value of x (n >= 1), the first one on ties; NaNs are never the largest (0 when every
// value is NaN). Greedy decoding's choice: one pass for the maximum and one for its index.
int km_argmax(const float *x, int n);
int km_argmax_ref(const float *x, int n);
int km_argmax_avx512(const float *x, int n);

// The softmax backward of one row: d (n) = p * (d - sum_j p_j d_j), with p (n) the softmax's output and d its
// gradient on entry. The AVX-512 path sums in another order (within float rounding of the reference).
void km_softmax_grad(float *d, const float *p, int n);
void km_softmax_grad_ref(float *d, const float *p, int n);
void km_softmax_grad_avx512(float *d, const float *p, int n);

// The sum of x (n) in a fixed order that vectorizes: 16 running partial sums (lane l adds x[l], x[l + 16], ...
// in turn), then folded in halves (8, 4, 2, 1). The same bits on every CPU; the training graph's softmax and
// the engine's both sum with it, so they round alike.
float km_sum(const float *x, int n);

// y (n) = expf(x), bit for bit as glibc's expf, vectorized on the best path this CPU runs (y may be x).
void km_expf(float *y, const float *x, int n);

// p (n) = softmax(p) in place (n >= 1): m = max p, p = expf(p - m), p *= 1 / km_sum(p), fused on the best path
// this CPU runs, the same bits on every path (the training graph's attention and the engine's both use it).
void km_softmax(float *p, int n);

#endif
