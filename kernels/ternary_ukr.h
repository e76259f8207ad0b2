// ternary_ukr.h: the micro-kernels behind kernels/ternary.c (private to kernels/ternary*.c).
//
// A micro-kernel sums, for nr token rows and the 64 rows of one panel, over ng groups of 4 features:
//   acc[r][m] = sum_{g < ng} sum_{e < 4} code(panel, g, m, e) * x[r * ldx + 4g + e]     exactly, int32
// with code(panel, g, 16s + j, e) = (panel[64g + 4j + e] >> 2s) & 3. `panel` and `x` point at the first
// group of the range. acc is (nr, 64). Rows r >= nr are neither read nor written.
#ifndef TRIT_KERNELS_TERNARY_UKR_H
#define TRIT_KERNELS_TERNARY_UKR_H

#include <stddef.h>
#include <stdint.h>

#define TK_NR_MAX 6   // the most token rows a micro-kernel takes (AVX-512)

typedef void tk_ukr_fn(int32_t *acc, const uint8_t *panel, const int8_t *x, size_t ldx, int nr, int ng);

tk_ukr_fn tk_ukr_scalar;
tk_ukr_fn tk_ukr_avx2;     // nr <= 4
tk_ukr_fn tk_ukr_avx512;   // nr <= 6

#endif
