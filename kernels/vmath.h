// vmath.h: small vector routines shared by the training graph (autograd/) and the engine.
#ifndef TRIT_KERNELS_VMATH_H
#define TRIT_KERNELS_VMATH_H

#include <stdint.h>

// x16 (K) = round_half_even(x * 32767 / max|x|): a row in 16-bit fixed point; returns the inverse scale
// max / 32767 (0 for a zero row), so x ~= x16 * inverse with a relative error <= 1.5e-5 of max|x|.
float km_q16_row(int16_t *x16, const float *x, int K);

// y (n) = expf(x), bit for bit as glibc's expf, vectorized on the best path this CPU runs (y may be x).
void km_expf(float *y, const float *x, int n);

#endif
