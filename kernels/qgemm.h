// qgemm.h: exact integer GEMMs for quantization-aware training of ternary (BitNet b1.58) layers.
//
//   C (M, N) (+)= ((float)(A (M, K) . B (K, N) - colcorr[j]) * rowscale[i]) * alpha
//
// The products are accumulated in int32, exactly; only the epilogue rounds. Two element kinds:
//   QG_U8S8  A holds unsigned bytes, B signed bytes, grouped 4 per 32-bit lane along K (VNNI vpdpbusd).
//            The training forward uses A = x_q + 128 (int8 activations offset to unsigned) and B = the
//            ternary weights, with colcorr[j] = 128 * sum_k B[k][j] removing the offset exactly.
//   QG_S16   A and B signed 16-bit, grouped 2 per lane along K (vpdpwssd). The backward passes use it
//            with 16-bit fixed-point gradients (see autograd/bitlinear.c).
// A is read in place: row-major, lda elements per row, K padded with zeros to the group size (4 or 2).
// B is packed once (qg_pack_*) into panels of QG_NR columns and can be reused for any number of A rows.
// The caller guarantees that no int32 partial sum overflows (the sum of |A . B| terms stays below 2^31),
// that U8S8 B values lie in [-64, 64] (ternary weights do; AVX2's vpmaddubsw stays exact), and that S16
// values avoid -32768.
//
// Paths: a scalar reference, AVX2 and AVX-512 VNNI, chosen at run time: packing sets qg_packed.isa to the
// best one the CPU has, and tests may set it to any supported path. Every path returns bit-identical
// results. OpenMP splits the output tiles across threads.
#ifndef TRIT_KERNELS_QGEMM_H
#define TRIT_KERNELS_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#define QG_NR 64   // columns per packed panel

typedef enum { QG_U8S8, QG_S16 } qg_kind;
typedef enum { QG_SCALAR, QG_AVX2, QG_AVX512 } qg_isa;

typedef struct {
    qg_kind kind;
    qg_isa isa;        // the kernel qg_gemm runs (set by packing to qg_best_isa())
    int K, N;          // logical B (K, N); K counted in elements, before padding to the group size
    int groups;        // K groups (ceil(K / 4) or ceil(K / 2))
    int panels;        // ceil(N / QG_NR)
    int32_t *lanes;    // (panels, groups, QG_NR) 32-bit lanes, zero padded
    int32_t *colcorr;  // (panels * QG_NR) subtracted from each column's sum (zeros when unused)
    void *owned;       // the buffer packing allocated itself (NULL when the caller gave the memory)
    size_t owned_bytes;
} qg_packed;

// Bytes of packed memory for B (K, N) of `kind` (64-byte aligned memory of that size can be passed to
// the packing functions, e.g. from a per-step arena).
size_t qg_pack_bytes(qg_kind kind, int K, int N);
void qg_packed_free(qg_packed *p);   // frees an owned buffer; accepts NULL or zeroed

// Packing writes into mem (qg_pack_bytes of it, 64-byte aligned) or, when mem is NULL, into a buffer
// that p owns (grown when too small, reused otherwise).
// B (K, N) = W^T for W (N, K) int8 row-major (ldw elements per row): lane (g, j) = W[j][4g .. 4g+3].
// colcorr[j] = offset * sum_k W[j][k] (use offset 128 with A = x_q + 128).
void qg_pack_s8_rows(qg_packed *p, void *mem, const int8_t *w, int N, int K, int ldw, int offset);
// B (K, N) = S (K, N) int8 row-major (lds per row), widened to 16 bits: lane (g, j) = (S[2g][j], S[2g+1][j]).
void qg_pack_s8_pairs(qg_packed *p, void *mem, const int8_t *s, int K, int N, int lds);
// The same in parts, for callers that make W or S a block of rows at a time (each block packed while it is in
// cache, from any thread): qg_pack_begin sets p up (memory as above; the padding and colcorr zeroed), then
// qg_pack_s8_rows_part packs W's rows [j0, j0 + nj) from w (row j0; j0 a multiple of QG_NR) and
// qg_pack_s8_pairs_part S's rows [k0, k0 + nk) from s (row k0; k0 even).
void qg_pack_begin(qg_packed *p, void *mem, qg_kind kind, int K, int N);
void qg_pack_s8_rows_part(const qg_packed *p, const int8_t *w, int j0, int nj, int ldw, int offset);
void qg_pack_s8_pairs_part(const qg_packed *p, const int8_t *s, int k0, int nk, int lds);

// C (M, N), ldc floats per row. rowscale: (M) or NULL for 1. accumulate: C += instead of C =.
void qg_gemm(float *C, int ldc, const void *A, int lda, const qg_packed *B, int M, const float *rowscale, float alpha,
             int accumulate);
// The same with A's 32-bit group (i, g) at byte (i * a_row + g * a_group) of A: a_group = 4 is row-major;
// a_row = 4, a_group = 4 * M reads A stored group-major ((groups, M) lanes, e.g. two interleaved rows).
void qg_gemm_strided(float *C, int ldc, const void *A, size_t a_row, size_t a_group, const qg_packed *B, int M,
                     const float *rowscale, float alpha, int accumulate);

qg_isa qg_best_isa(void);
int qg_isa_supported(qg_isa isa);
const char *qg_isa_name(qg_isa isa);

#endif
