// qgemm_ukr.h: the micro-kernels behind kernels/qgemm.c (private to kernels/qgemm*.c).
//
// A micro-kernel computes one tile of at most mr rows x n (<= QG_NR) columns of C from rows of A and one
// packed panel of B: acc[i][j] = sum over groups g of dot(A lane (i, g), panel lane (g, j)), exactly in
// int32; then C[i][j] = ((float)(acc - colcorr[j]) * rowscale[i]) * alpha, added to C when accumulate.
// All paths must evaluate that epilogue with the same float operations (no FMA contraction).
#ifndef TRIT_KERNELS_QGEMM_UKR_H
#define TRIT_KERNELS_QGEMM_UKR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/qgemm.h"

typedef struct {
    float *C;
    int ldc;
    const uint8_t *A;      // first row of the tile
    size_t lda;            // bytes from one A row to the next
    size_t ldg;            // bytes from one 32-bit group of an A row to the next (4 for row-major A)
    const int32_t *panel;  // (groups, QG_NR)
    const int32_t *colcorr;  // (QG_NR) for this panel
    const float *rowscale;   // first row of the tile, or NULL
    int groups, m, n;
    float alpha;
    int accumulate;
} qg_tile;

void qg_ukr_scalar(const qg_tile *t, qg_kind kind);
void qg_ukr_avx2(const qg_tile *t, qg_kind kind);     // m <= QG_MR_AVX2
void qg_ukr_avx512(const qg_tile *t, qg_kind kind);   // m <= QG_MR_AVX512

#define QG_MR_AVX2 4
#define QG_MR_AVX512 6

#endif
