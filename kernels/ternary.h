// ternary.h: int8 x ternary products for BitNet b1.58 linears, decode (N = 1) and prefill (N > 1).
//
// Semantics, per token row x of K features (as trit's training graph and Hugging Face AutoBitLinear):
//   s = 127 / max(max_k |x[k]|, 1e-5),  q[k] = clamp(round_half_even(x[k] * s), -128, 127)  (tk_act_quantize)
//   isum[o] = sum_k q[k] * t[o][k]   in int32, exactly (t in {-1, 0, +1})
//   y[o] = ((float)isum[o] * (1 / s)) * w_scale                           one per-tensor scale (the training graph's order)
//   y[o] = (sum over 256-blocks b in order of (float)isum_b[o] * d[o][b]) * (1 / s)   TQ blocks with different d
// Every ISA path computes the same int32 sums and then runs the same scalar epilogue, so results are
// bit-identical across paths and thread counts.
//
// Weights live in trit's panel layout (tk_mat), converted at load from I2_S / TQ2_0 / TQ1_0 (the file
// formats, kernels/quants.h) or packed from int8 ternary values: 2 bits per weight, 64 output rows per
// panel, K in groups of 4:
//   codes[p][g][4j + e] bits 2s+1:2s = code (t + 1) of row 64p + 16s + j at k = 4g + e   (j < 16, e < 4, s < 4)
// One 64-byte load, four masks and a broadcast of 4 activation bytes feed four VNNI vpdpbusd
// (codes unsigned, activations signed; isum = sum code * q - sum q), so decode streams the 2-bit panels
// at memory speed and prefill tiles 6 token rows x 64 output rows in registers. Rows past M and k past K
// are padding (code 1, activation 0).
#ifndef TRIT_KERNELS_TERNARY_H
#define TRIT_KERNELS_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "common/gguf.h"

// Instruction-set paths, chosen at run time. TK_ISA_AVX512 needs AVX-512 F, BW, VL and VNNI; CPUs with
// AVX-512 but no VNNI use the AVX2 path.
typedef enum { TK_ISA_SCALAR = 0, TK_ISA_AVX2 = 1, TK_ISA_AVX512 = 2, TK_ISA_COUNT } tk_isa;

tk_isa tk_isa_best(void);            // the fastest path this CPU runs
int tk_isa_supported(tk_isa isa);
const char *tk_isa_name(tk_isa isa); // "scalar", "avx2", "avx512-vnni"

#define TK_PANEL 64   // output rows per panel
#define TK_TQ_BLOCK 256

// Quantized activations. Owns its memory; tk_act_quantize reuses it while it fits.
typedef struct {
    int N, K;        // token rows, features
    int ld;          // bytes per row of q: K rounded up to 64, zero padded
    int nb;          // 256-blocks per row: ceil(K / 256)
    int8_t *q;       // (N, ld)
    float *s;        // (N) scale: q = round(x * s)
    int32_t *sum;    // (N) sum of q over the row
    int32_t *bsum;   // (N, nb) sum of q per 256-block
    void *mem;
    size_t cap;
} tk_act;

void tk_act_quantize(tk_act *a, const float *x, int N, int K);   // x (N, K)
void tk_act_free(tk_act *a);                                     // accepts zeroed
// One row of a tk_act, for callers that lay the rows out themselves (the engine): q (ld bytes, zero
// padded past K), its scale *s, sum *sum and 256-block sums bsum (ceil(K / 256)).
void tk_act_row(int8_t *q, float *s, int32_t *sum, int32_t *bsum, const float *x, int K, int ld);
// The quantizer itself: q (K) = clamp(round_half_even(x * s), -128, 127) with s = 127 / max(max|x|, 1e-5);
// returns s. BitNet's activation quantizer everywhere in trit (training graph, engine, products).
float tk_quant_row(int8_t *q, const float *x, int K);

typedef struct {
    int M, K;         // output rows, row length
    int groups;       // ceil(K / 4)
    int panels;       // ceil(M / 64)
    uint8_t *codes;   // (panels, groups, 64), 64-byte aligned
    float scale;      // the per-tensor scale (when bscale is NULL)
    float *bscale;    // (M, ceil(K / 256)) per-block scales of a TQ tensor whose blocks differ, else NULL
    uint32_t type;    // GGUF_TYPE_* it was loaded from (GGUF_TYPE_I8 when packed from int8 values)
    int pooled;       // codes lie in a tk_pool (not freed with the matrix)
} tk_mat;

// The codes of many matrices in one allocation of huge pages (tr_alloc_huge), handed out in order: the
// engine sizes one for a model's linears with tk_mat_codes_bytes, and frees it after the matrices.
typedef struct {
    uint8_t *base;
    size_t cap, used;
} tk_pool;
size_t tk_mat_codes_bytes(int M, int K);
void tk_pool_init(tk_pool *p, size_t bytes);
void tk_pool_free(tk_pool *p);   // accepts zeroed

// From a 2-D I2_S / TQ2_0 / TQ1_0 tensor (ne = [K, M]). A TQ tensor whose non-zero blocks all carry the
// same d gets that d as its scale; otherwise its per-block d are kept. Errors (wrong type or rank, I2_S
// rows not a multiple of 128, a scale that is not finite): "PATH: tensor 'NAME' ...". The codes come from
// pool, or from an allocation of the matrix's own when pool is NULL.
int tk_mat_from_tensor(tk_mat *w, const gguf_tensor *t, tk_pool *pool, const char *path, tr_err *err);
// From int8 ternary values t (M, K) and one scale (CHECKs that every value is -1, 0 or +1).
void tk_mat_from_ternary(tk_mat *w, const int8_t *t, int M, int K, float scale, tk_pool *pool);
void tk_mat_to_ternary(int8_t *t, const tk_mat *w);   // t (M, K)
void tk_mat_free(tk_mat *w);                           // accepts zeroed
size_t tk_mat_bytes(const tk_mat *w);                  // memory held

// y (N, M), ldy floats per row (>= M) = the products above for x (N, K) and W (M, K).
// OpenMP splits panels (and row tiles) across threads.
void tk_matmul(float *y, int ldy, const tk_act *x, const tk_mat *w, tk_isa isa);
// The same for panels [p0, p1) of w only (columns 64 p0 .. min(64 p1, M) - 1 of y), on the calling thread: for
// callers that share the panels out themselves (the engine's thread team), without a nested OpenMP region.
void tk_matmul_panels(float *y, int ldy, const tk_act *x, const tk_mat *w, int p0, int p1, tk_isa isa);
// The exact integer sums isum (N, M) = q . t^T (tests and debugging).
void tk_matmul_i32(int32_t *isum, const tk_act *x, const tk_mat *w, tk_isa isa);

#endif
