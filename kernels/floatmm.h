// floatmm.h: products with non-ternary weights, for the embedding / LM head (V x hidden, row-major as in
// the GGUF file, ne = [K, M]).
//
// tk_matmul_float: y (N, M) = x (N, K) . W^T with W in F32, F16 or BF16 and float activations, float
//   accumulation (paths differ in summation order: compare with a tolerance).
// tk_matmul_q8_0: y (N, M) = x (N, K) . W^T with W in Q8_0 and activations quantized to Q8_0 by
//   tk_q8_0_quantize (per 32-block d = absmax / 127, |q| <= 127). Exact per-lane integer sums and one
//   fixed float order, so every path returns the same bits:
//     P_b[j] = sum_{e < 4} w[32b + 4j + e] * x[32b + 4j + e]            (int32, j < 8)
//     acc[8 (b % 2) + j] += (d_w[b] * d_x[b]) * (float)P_b[j]           (in block order)
//     y = ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)),  a_i = acc[i] + acc[8 + i]
// OpenMP splits the rows of W across threads; K must be a multiple of 32 for Q8_0.
#ifndef TRIT_KERNELS_FLOATMM_H
#define TRIT_KERNELS_FLOATMM_H

#include <stdint.h>

#include "kernels/quants.h"
#include "kernels/ternary.h"

void tk_matmul_float(float *y, int ldy, const float *x, int N, const void *w, uint32_t wtype, int M, int K, tk_isa isa);
void tk_matmul_q8_0(float *y, int ldy, const tk_block_q8_0 *x, int N, const tk_block_q8_0 *w, int M, int K, tk_isa isa);

#endif
