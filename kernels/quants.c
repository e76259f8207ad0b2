// quants.c: pack/unpack of the I2_S, TQ2_0, TQ1_0 and Q8_0 block layouts (kernels/quants.h), the scalar
// ground truth the rest of kernels/ and export/ build on.
#include "kernels/quants.h"

#include <math.h>
#include <string.h>

#include "common/check.h"
#include "common/f16.h"

static inline uint8_t code_of(int8_t t, int64_t i) {
    CHECK(t >= -1 && t <= 1, "ternary value %d at element %lld is not -1, 0 or +1", t, (long long)i);
    return (uint8_t)(t + 1);
}

// ---------------------------------------------------------------------------------------------------
// I2_S

size_t tk_i2s_nbytes(int64_t n) { return (size_t)(n / 4) + 32; }

void tk_i2s_pack(uint8_t *dst, const int8_t *t, int64_t n, float scale) {
    CHECK(n % TK_QK_I2S == 0, "I2_S wants a multiple of %d elements, got %lld", TK_QK_I2S, (long long)n);
    memset(dst, 0, tk_i2s_nbytes(n));
    for (int64_t i = 0; i < n; i++) {
        int64_t blk = i / TK_QK_I2S, j = i % TK_QK_I2S;
        dst[blk * 32 + j % 32] |= (uint8_t)(code_of(t[i], i) << (6 - 2 * (j / 32)));
    }
    memcpy(dst + n / 4, &scale, sizeof(scale));
}

void tk_i2s_unpack(int8_t *t, const uint8_t *src, int64_t n) {
    CHECK(n % TK_QK_I2S == 0, "I2_S wants a multiple of %d elements, got %lld", TK_QK_I2S, (long long)n);
    for (int64_t blk = 0; blk < n / TK_QK_I2S; blk++)
        for (int q = 0; q < 4; q++)
            #pragma omp simd
            for (int m = 0; m < 32; m++) t[blk * TK_QK_I2S + 32 * q + m] = (int8_t)((src[blk * 32 + m] >> (6 - 2 * q)) & 3) - 1;
}

float tk_i2s_scale(const uint8_t *src, int64_t n) {
    float s;
    memcpy(&s, src + n / 4, sizeof(s));
    return s;
}

// ---------------------------------------------------------------------------------------------------
// TQ2_0

void tk_tq2_0_pack(tk_block_tq2_0 *dst, const int8_t *t, int64_t n, float scale) {
    CHECK(n % TK_QK_K == 0, "TQ2_0 wants a multiple of %d elements, got %lld", TK_QK_K, (long long)n);
    uint16_t d = f32_to_f16(scale);
    for (int64_t b = 0; b < n / TK_QK_K; b++) {
        const int8_t *x = t + b * TK_QK_K;
        for (int c = 0; c < 2; c++)
            for (int m = 0; m < 32; m++) {
                uint8_t q = 0;
                for (int k = 0; k < 4; k++) {
                    int64_t e = c * 128 + m + 32 * k;
                    q |= (uint8_t)(code_of(x[e], b * TK_QK_K + e) << (2 * k));
                }
                dst[b].qs[c * 32 + m] = q;
            }
        dst[b].d = d;
    }
}

void tk_tq2_0_unpack(int8_t *t, float *d, const tk_block_tq2_0 *src, int64_t n) {
    CHECK(n % TK_QK_K == 0, "TQ2_0 wants a multiple of %d elements, got %lld", TK_QK_K, (long long)n);
    for (int64_t b = 0; b < n / TK_QK_K; b++) {
        int8_t *x = t + b * TK_QK_K;
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < 4; k++)
                #pragma omp simd
                for (int m = 0; m < 32; m++) x[c * 128 + m + 32 * k] = (int8_t)((src[b].qs[c * 32 + m] >> (2 * k)) & 3) - 1;
        if (d) d[b] = f16_to_f32(src[b].d);
    }
}

// ---------------------------------------------------------------------------------------------------
// TQ1_0: 5 (or 4) base-3 digits per byte, first digit most significant, stored as ceil(q * 256 / 243)
// so that digit n comes back as the top "trit" of (uint8_t)(byte * 3^n), i.e. ((that * 3) >> 8).

static uint8_t tq1_byte(const int8_t *x, int stride, int digits, int64_t base) {
    unsigned q = 0;
    for (int n = 0; n < digits; n++) q = q * 3 + code_of(x[n * stride], base + n * stride);
    for (int n = digits; n < 5; n++) q *= 3;   // qh: 4 digits, shifted up to the 5-digit position
    return (uint8_t)((q * 256 + 242) / 243);
}

#pragma omp declare simd uniform(n)
static inline int8_t tq1_digit(uint8_t byte, int n) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q = (uint8_t)(byte * pow3[n]);
    return (int8_t)(((unsigned)q * 3) >> 8) - 1;
}

void tk_tq1_0_pack(tk_block_tq1_0 *dst, const int8_t *t, int64_t n, float scale) {
    CHECK(n % TK_QK_K == 0, "TQ1_0 wants a multiple of %d elements, got %lld", TK_QK_K, (long long)n);
    uint16_t d = f32_to_f16(scale);
    for (int64_t b = 0; b < n / TK_QK_K; b++) {
        const int8_t *x = t + b * TK_QK_K;
        int64_t base = b * TK_QK_K;
        for (int m = 0; m < 32; m++) dst[b].qs[m] = tq1_byte(x + m, 32, 5, base + m);
        for (int m = 0; m < 16; m++) dst[b].qs[32 + m] = tq1_byte(x + 160 + m, 16, 5, base + 160 + m);
        for (int j = 0; j < 4; j++) dst[b].qh[j] = tq1_byte(x + 240 + j, 4, 4, base + 240 + j);
        dst[b].d = d;
    }
}

void tk_tq1_0_unpack(int8_t *t, float *d, const tk_block_tq1_0 *src, int64_t n) {
    CHECK(n % TK_QK_K == 0, "TQ1_0 wants a multiple of %d elements, got %lld", TK_QK_K, (long long)n);
    for (int64_t b = 0; b < n / TK_QK_K; b++) {
        int8_t *x = t + b * TK_QK_K;
        for (int k = 0; k < 5; k++) {
            #pragma omp simd
            for (int m = 0; m < 32; m++) x[m + 32 * k] = tq1_digit(src[b].qs[m], k);
            #pragma omp simd
            for (int m = 0; m < 16; m++) x[160 + m + 16 * k] = tq1_digit(src[b].qs[32 + m], k);
        }
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++) x[240 + j + 4 * k] = tq1_digit(src[b].qh[j], k);
        if (d) d[b] = f16_to_f32(src[b].d);
    }
}

// ---------------------------------------------------------------------------------------------------
// Q8_0 and F16

void tk_q8_0_quantize(tk_block_q8_0 *dst, const float *x, int64_t n) {
    CHECK(n % TK_QK8_0 == 0, "Q8_0 wants a multiple of %d elements, got %lld", TK_QK8_0, (long long)n);
    for (int64_t b = 0; b < n / TK_QK8_0; b++) {
        const float *v = x + b * TK_QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < TK_QK8_0; j++) amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        dst[b].d = f32_to_f16(d);
        for (int j = 0; j < TK_QK8_0; j++) dst[b].qs[j] = (int8_t)roundf(v[j] * id);
    }
}

void tk_q8_0_dequantize(float *x, const tk_block_q8_0 *src, int64_t n) {
    CHECK(n % TK_QK8_0 == 0, "Q8_0 wants a multiple of %d elements, got %lld", TK_QK8_0, (long long)n);
    for (int64_t b = 0; b < n / TK_QK8_0; b++) {
        float d = f16_to_f32(src[b].d);
        for (int j = 0; j < TK_QK8_0; j++) x[b * TK_QK8_0 + j] = (float)src[b].qs[j] * d;
    }
}

void tk_f16_from_f32(uint16_t *dst, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = f32_to_f16(x[i]);
}

void tk_f32_from_f16(float *dst, const uint16_t *h, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(h[i]);
}

// ---------------------------------------------------------------------------------------------------
// Row lookup

int tk_type_supported(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_F32: case GGUF_TYPE_F16: case GGUF_TYPE_BF16: case GGUF_TYPE_Q8_0:
    case GGUF_TYPE_TQ1_0: case GGUF_TYPE_TQ2_0: case GGUF_TYPE_I2_S: return 1;
    default: return 0;
    }
}

void tk_dequant_rows(float *out, const gguf_tensor *t, int64_t r0, int64_t nr) {
    int64_t K = t->ne[0], rows = K ? gguf_nelements(t) / K : 0;
    CHECK(tk_type_supported(t->type), "tensor '%s': no kernels for type %s", t->name, gguf_type_name(t->type));
    CHECK(r0 >= 0 && nr >= 0 && r0 + nr <= rows, "tensor '%s': rows [%lld, %lld) of %lld", t->name, (long long)r0,
          (long long)(r0 + nr), (long long)rows);
    CHECK(t->type != GGUF_TYPE_I2_S || K % TK_QK_I2S == 0, "tensor '%s': I2_S rows of %lld elements (want a multiple of 128)",
          t->name, (long long)K);
    const uint8_t *p = t->data;
    // bytes per row: I2_S has 2 bits per element (its type traits say 1 byte, for the special size rule)
    size_t row_bytes = t->type == GGUF_TYPE_I2_S ? (size_t)K / 4 : (size_t)K / gguf_blck_size(t->type) * gguf_type_size(t->type);
    float i2s_scale = t->type == GGUF_TYPE_I2_S ? tk_i2s_scale(p, gguf_nelements(t)) : 0.0f;
    for (int64_t r = r0; r < r0 + nr; r++) {
        float *o = out + (r - r0) * K;
        const uint8_t *src = p + (size_t)r * row_bytes;
        int8_t tv[TK_QK_K];
        float d;
        switch (t->type) {
        case GGUF_TYPE_F32: memcpy(o, src, (size_t)K * sizeof(float)); break;
        case GGUF_TYPE_F16:
        case GGUF_TYPE_BF16:
            for (int64_t k = 0; k < K; k++) {
                uint16_t h;
                memcpy(&h, src + 2 * k, 2);
                o[k] = t->type == GGUF_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
            }
            break;
        case GGUF_TYPE_Q8_0: tk_q8_0_dequantize(o, (const tk_block_q8_0 *)src, K); break;
        case GGUF_TYPE_I2_S:
            for (int64_t b = 0; b < K / TK_QK_I2S; b++) {
                tk_i2s_unpack(tv, src + b * 32, TK_QK_I2S);
                for (int j = 0; j < TK_QK_I2S; j++) o[b * TK_QK_I2S + j] = (float)tv[j] * i2s_scale;
            }
            break;
        default:   // TQ2_0, TQ1_0
            for (int64_t b = 0; b < K / TK_QK_K; b++) {
                if (t->type == GGUF_TYPE_TQ2_0) tk_tq2_0_unpack(tv, &d, (const tk_block_tq2_0 *)src + b, TK_QK_K);
                else tk_tq1_0_unpack(tv, &d, (const tk_block_tq1_0 *)src + b, TK_QK_K);
                for (int j = 0; j < TK_QK_K; j++) o[b * TK_QK_K + j] = (float)tv[j] * d;
            }
        }
    }
}
