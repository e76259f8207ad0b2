// floatmm_ukr.h: the dot-product tiles behind kernels/floatmm.c (private to kernels/floatmm*.c).
//
// A float tile: out[c * nr + r] = sum_k x[c][k] * W[r][k] for r < nr W rows (ldw bytes apart, type F32,
// F16 or BF16) and c < nc x rows (ldx floats apart). A Q8_0 tile: the same with Q8_0 rows (ldw, ldx in
// blocks), in the exact lane order of floatmm.h. Tiles take nr <= 4 and nc <= 4. Float tiles also take nc = 1
// with any nr (decode: a run of rows, one after another, so each thread streams its rows sequentially, the
// fastest way to read DRAM); Q8_0 decode calls them with nr = nc = 1.
#ifndef TRIT_KERNELS_FLOATMM_UKR_H
#define TRIT_KERNELS_FLOATMM_UKR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quants.h"

typedef void tk_fdot_fn(float *out, const void *w, size_t ldw, uint32_t wtype, int nr, const float *x, size_t ldx, int nc, int K);
typedef void tk_qdot_fn(float *out, const tk_block_q8_0 *w, size_t ldw, int nr, const tk_block_q8_0 *x, size_t ldx, int nc, int nb);

tk_fdot_fn tk_fdot_scalar, tk_fdot_avx2, tk_fdot_avx512;
tk_qdot_fn tk_qdot_scalar, tk_qdot_avx2, tk_qdot_avx512;

// The fixed reduction of the 16 Q8_0 lane sums (floatmm.h).
static inline float tk_q8_reduce(const float *acc) {
    float a[8];
    for (int i = 0; i < 8; i++) a[i] = acc[i] + acc[8 + i];
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

#endif
