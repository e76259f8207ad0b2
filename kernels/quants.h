// quants.h: the block layouts trit exchanges in GGUF files, and their pack/unpack (scalar, exact).
//
// Ternary layouts (values t in {-1, 0, +1}, code = t + 1 in {0, 1, 2}; docs/formats.md has the bytes):
//   I2_S   bitnet.cpp (x86): the whole tensor is one flat run of 128-element blocks of 32 bytes; byte k of
//          a block holds elements k, k+32, k+64, k+96 in bits 7:6, 5:4, 3:2, 1:0. Then a 32-byte tail:
//          the f32 scale in its first 4 bytes, zeros after. n/4 + 32 bytes; n a multiple of 128.
//   TQ2_0  ggml: 66-byte blocks of 256: qs[64], fp16 d. Byte c*32+m (c = 0, 1; m < 32) holds elements
//          c*128 + m + 32n in bits 2n+1:2n (n = 0..3).
//   TQ1_0  ggml: 54-byte blocks of 256: qs[48], qh[4], fp16 d. Base-3 digits, the first one most
//          significant, stored as the byte ceil(q * 256 / 243) (q = the 5-digit number):
//          qs[m] (m < 32) holds elements m + 32n (n = 0..4); qs[32+m] (m < 16) holds 160 + m + 16n;
//          qh[j] (j < 4) holds 240 + j + 4n (n = 0..3, the 5th digit 0).
//          Digit n of byte b: ((uint8_t)(b * 3^n) * 3) >> 8, as ggml's dequantize_row_tq1_0.
// Packing takes t and the per-tensor scale: TQ blocks all get d = fp16(scale), I2_S stores the f32.
// Unpacking returns t and the block scales d (TQ) or the scale (I2_S). Round trips are exact (for TQ,
// the scale up to its fp16 rounding).
//
// Others: Q8_0 (ggml: 34-byte blocks of 32: fp16 d, int8 qs[32]; x = d * qs) and F16 rows.
#ifndef TRIT_KERNELS_QUANTS_H
#define TRIT_KERNELS_QUANTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/gguf.h"

#define TK_QK_K 256   // TQ1_0 / TQ2_0 block
#define TK_QK_I2S 128 // I2_S block
#define TK_QK8_0 32   // Q8_0 block

typedef struct {
    uint8_t qs[64];
    uint16_t d;   // fp16
} tk_block_tq2_0;

typedef struct {
    uint8_t qs[48];
    uint8_t qh[4];
    uint16_t d;   // fp16
} tk_block_tq1_0;

typedef struct {
    uint16_t d;   // fp16
    int8_t qs[32];
} tk_block_q8_0;

_Static_assert(sizeof(tk_block_tq2_0) == 66, "TQ2_0 block is 66 bytes");
_Static_assert(sizeof(tk_block_tq1_0) == 54, "TQ1_0 block is 54 bytes");
_Static_assert(sizeof(tk_block_q8_0) == 34, "Q8_0 block is 34 bytes");

// I2_S: t (n), n % 128 == 0. dst: tk_i2s_nbytes(n) bytes. Unpack reads any whole-block run (e.g. rows).
size_t tk_i2s_nbytes(int64_t n);
void tk_i2s_pack(uint8_t *dst, const int8_t *t, int64_t n, float scale);
void tk_i2s_unpack(int8_t *t, const uint8_t *src, int64_t n);
float tk_i2s_scale(const uint8_t *src, int64_t n);   // the f32 at byte n/4 of the tensor (n elements)

// TQ2_0 / TQ1_0: t (n), n % 256 == 0, dst (n/256 blocks). Unpack: d (n/256) block scales, or NULL.
void tk_tq2_0_pack(tk_block_tq2_0 *dst, const int8_t *t, int64_t n, float scale);
void tk_tq2_0_unpack(int8_t *t, float *d, const tk_block_tq2_0 *src, int64_t n);
void tk_tq1_0_pack(tk_block_tq1_0 *dst, const int8_t *t, int64_t n, float scale);
void tk_tq1_0_unpack(int8_t *t, float *d, const tk_block_tq1_0 *src, int64_t n);

// Q8_0 as ggml's quantize_row_q8_0_ref: per block d = absmax / 127, qs = round(x / d) (0 when d = 0),
// d stored as fp16. x (n), n % 32 == 0.
void tk_q8_0_quantize(tk_block_q8_0 *dst, const float *x, int64_t n);
void tk_q8_0_dequantize(float *x, const tk_block_q8_0 *src, int64_t n);

void tk_f16_from_f32(uint16_t *dst, const float *x, int64_t n);
void tk_f32_from_f16(float *dst, const uint16_t *h, int64_t n);

// Whether tk_dequant_rows / the kernels take a tensor of this type: F32, F16, BF16, Q8_0, TQ1_0, TQ2_0,
// I2_S.
int tk_type_supported(uint32_t type);

// Rows [r0, r0 + nr) of a 2-D tensor t (ne[0] = K per row) as floats: out (nr, K). The embedding
// lookup. For ternary types the values are t * scale (per block d for TQ). CHECKs the type and range.
void tk_dequant_rows(float *out, const gguf_tensor *t, int64_t r0, int64_t nr);

#endif
