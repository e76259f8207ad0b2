// test_kernels_layout.c: the block layouts of kernels/quants.h against bytes computed by hand from the
// reference descriptions (docs/formats.md), so a self-consistent but wrong layout fails; exact pack/unpack
// round trips; Q8_0; the row lookup of every supported type.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/f16.h"
#include "common/rng.h"
#include "kernels/quants.h"
#include "tests/harness.h"

static void random_ternary(int8_t *t, int64_t n, rng *r) {
    for (int64_t i = 0; i < n; i++) t[i] = (int8_t)((int)rng_below(r, 3) - 1);
}

// Every byte of a but the listed positions equals `fill`; those equal their values.
static int bytes_are(const uint8_t *a, size_t n, uint8_t fill, const size_t *pos, const uint8_t *val, int np, char *why) {
    for (size_t i = 0; i < n; i++) {
        uint8_t want = fill;
        for (int k = 0; k < np; k++)
            if (pos[k] == i) want = val[k];
        if (a[i] != want) {
            sprintf(why, "byte %zu is 0x%02x, want 0x%02x", i, a[i], want);
            return 0;
        }
    }
    return 1;
}

static void test_i2s_known_bytes(void) {
    int8_t t[256] = {0};
    // block 0: elements 0, 32, 64, 96 share byte 0 in bits 7:6, 5:4, 3:2, 1:0 (codes 2, 0, 1, 2)
    t[0] = 1, t[32] = -1, t[64] = 0, t[96] = 1;
    t[33] = 1;    // byte 1 bits 5:4 -> code 2: 01 10 01 01
    t[128 + 127] = -1;   // block 1, element 127: byte 32 + 31, bits 1:0 -> code 0: 01 01 01 00
    uint8_t out[256 / 4 + 32];
    memset(out, 0xee, sizeof(out));
    tk_i2s_pack(out, t, 256, 0.5f);
    size_t pos[] = {0, 1, 63, 0, 1, 2, 3};   // the last four: offsets in the tail
    uint8_t val[] = {0x86, 0x65, 0x54, 0x00, 0x00, 0x00, 0x3f};   // then the f32 0.5 = 00 00 00 3f
    char why[128] = "";
    int ok = bytes_are(out, 64, 0x55, pos, val, 3, why) && bytes_are(out + 64, 32, 0x00, pos + 3, val + 3, 4, why);
    t_check(ok, "I2_S known bytes (interleave 7:6 5:4 3:2 1:0, f32 scale tail)", "%s", why);
    t_check(tk_i2s_nbytes(256) == 96 && tk_i2s_scale(out, 256) == 0.5f, "I2_S size n/4 + 32 and scale at n/4", "size %zu", tk_i2s_nbytes(256));
}

static void test_tq2_known_bytes(void) {
    int8_t t[256] = {0};
    t[0] = 1, t[32] = -1, t[64] = 0, t[96] = 1;   // qs[0]: bits 1:0 2, 3:2 0, 5:4 1, 7:6 2 = 10 01 00 10
    t[128] = -1;                                 // qs[32] bits 1:0 = 0: 01 01 01 00
    t[128 + 31 + 96] = 1;                        // qs[63] bits 7:6 = 2: 10 01 01 01
    tk_block_tq2_0 b;
    tk_tq2_0_pack(&b, t, 256, 0.5f);
    const uint8_t *out = (const uint8_t *)&b;
    size_t pos[] = {0, 32, 63, 64, 65};
    uint8_t val[] = {0x92, 0x54, 0x95, 0x00, 0x38};   // d = fp16(0.5) = 0x3800, little-endian
    char why[128] = "";
    t_check(bytes_are(out, 66, 0x55, pos, val, 5, why), "TQ2_0 known bytes (qs[c*32+m] bits 2n = element c*128+m+32n, fp16 d)", "%s", why);
}

static void test_tq1_known_bytes(void) {
    int8_t t[256] = {0};
    tk_block_tq1_0 b;
    tk_tq1_0_pack(&b, t, 256, 0.5f);
    const uint8_t *out = (const uint8_t *)&b;
    char why[128] = "";
    // all zeros: code 1 everywhere; 11111 (base 3) = 121 -> ceil(121*256/243) = 128; qh 1111 * 3 = 120 -> 127
    size_t pz[] = {48, 49, 50, 51, 52, 53};
    uint8_t vz[] = {0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x38};
    t_check(bytes_are(out, 54, 0x80, pz, vz, 6, why), "TQ1_0 zero block (0x80 per 5 digits, 0x7f per 4, fp16 d)", "%s", why);

    t[0] = 1, t[32] = -1;   // qs[0] digits (2, 0, 1, 1, 1) = 175 -> ceil(175*256/243) = 185 = 0xb9
    t[160] = -1;            // qs[32] digits (0, 1, 1, 1, 1) = 40 -> 43 = 0x2b
    t[240] = 1;             // qh[0] digits (2, 1, 1, 1) * 3 = 201 -> 212 = 0xd4
    t[241 + 4] = -1;        // qh[1] digits (1, 0, 1, 1) * 3 = 93 -> 98 = 0x62
    t[160 + 15 + 64] = 1;   // qs[47] digit 4 (element 160 + 15 + 16*4): (1, 1, 1, 1, 2) = 122 -> 129 = 0x81
    tk_tq1_0_pack(&b, t, 256, 0.5f);
    size_t pos[] = {0, 32, 47, 48, 49, 50, 51, 52, 53};
    uint8_t val[] = {0xb9, 0x2b, 0x81, 0xd4, 0x62, 0x7f, 0x7f, 0x00, 0x38};
    t_check(bytes_are(out, 54, 0x80, pos, val, 9, why), "TQ1_0 known bytes (base-3 digit order and sections)", "%s", why);
}

static void test_q8_0_known_bytes(void) {
    float x[32] = {1.0f, -1.27f, 0.3f, 0.123f};   // amax 1.27: d = 0.01 (fp16 0x211f), qs = 100, -127, 30, 12
    tk_block_q8_0 b;
    tk_q8_0_quantize(&b, x, 32);
    const uint8_t *out = (const uint8_t *)&b;
    size_t pos[] = {0, 1, 2, 3, 4, 5};
    uint8_t val[] = {0x1f, 0x21, 100, (uint8_t)-127, 30, 12};
    char why[128] = "";
    t_check(bytes_are(out, 34, 0, pos, val, 6, why), "Q8_0 known bytes (fp16 d = absmax/127, then int8 qs)", "%s", why);
    float back[32];
    tk_q8_0_dequantize(back, &b, 32);
    float d = f16_to_f32(0x211f);
    t_check(back[0] == 100 * d && back[1] == -127 * d && back[4] == 0, "Q8_0 dequantize = qs * fp16 d", "%g %g", back[0], back[1]);
}

static void test_round_trips(rng *r) {
    int64_t n = 256 * 7;
    int8_t *t = malloc(n), *u = malloc(n);
    float d[7];
    random_ternary(t, n, r);
    uint8_t *i2 = malloc(tk_i2s_nbytes(n));
    tk_i2s_pack(i2, t, n, 1.7f);
    memset(u, 9, n);
    tk_i2s_unpack(u, i2, n);
    t_check(!memcmp(t, u, n) && tk_i2s_scale(i2, n) == 1.7f, "I2_S round trip exact (values and f32 scale)", "mismatch");

    tk_block_tq2_0 *q2 = malloc(sizeof(*q2) * 7);
    tk_tq2_0_pack(q2, t, n, 1.7f);
    memset(u, 9, n);
    tk_tq2_0_unpack(u, d, q2, n);
    int ds = 1;
    for (int b = 0; b < 7; b++) ds &= d[b] == f16_to_f32(f32_to_f16(1.7f));
    t_check(!memcmp(t, u, n) && ds, "TQ2_0 round trip exact (values, d = fp16(scale))", "d %g", d[0]);

    tk_block_tq1_0 *q1 = malloc(sizeof(*q1) * 7);
    tk_tq1_0_pack(q1, t, n, 1.7f);
    memset(u, 9, n);
    tk_tq1_0_unpack(u, d, q1, n);
    ds = 1;
    for (int b = 0; b < 7; b++) ds &= d[b] == f16_to_f32(f32_to_f16(1.7f));
    t_check(!memcmp(t, u, n) && ds, "TQ1_0 round trip exact (values, d = fp16(scale))", "d %g", d[0]);

    // every 5-digit and 4-digit combination survives the TQ1_0 byte encoding
    int bad = 0;
    for (int v = 0; v < 243; v++) {
        int8_t blk[256] = {0}, back[256];
        for (int n5 = 0, q = v; n5 < 5; n5++, q /= 3) blk[32 * (4 - n5)] = (int8_t)(q % 3 - 1), blk[160 + 16 * (4 - n5)] = (int8_t)(q % 3 - 1);
        for (int n4 = 0, q = v % 81; n4 < 4; n4++, q /= 3) blk[240 + 4 * (3 - n4)] = (int8_t)(q % 3 - 1);
        tk_block_tq1_0 one;
        tk_tq1_0_pack(&one, blk, 256, 1.0f);
        tk_tq1_0_unpack(back, NULL, &one, 256);
        bad += memcmp(blk, back, 256) != 0;
    }
    t_check(bad == 0, "TQ1_0 every digit combination round trips", "%d of 243 combinations differ", bad);
    free(t), free(u), free(i2), free(q2), free(q1);
}

// tk_dequant_rows on a small 2-D tensor of each supported type equals the unpacked values * scale.
static void test_rows(rng *r) {
    enum { K = 256, M = 3 };
    int8_t t[M * K];
    float x[M * K], out[2 * K];
    random_ternary(t, M * K, r);
    for (int i = 0; i < M * K; i++) x[i] = rng_normal(r);
    static uint8_t buf[M * K * 4 + 64];
    uint32_t types[] = {GGUF_TYPE_F32, GGUF_TYPE_F16, GGUF_TYPE_BF16, GGUF_TYPE_Q8_0, GGUF_TYPE_TQ1_0, GGUF_TYPE_TQ2_0, GGUF_TYPE_I2_S};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        uint32_t ty = types[i];
        float want[M * K], scale = 0.75f;
        for (int k = 0; k < M * K; k++) {
            switch (ty) {
            case GGUF_TYPE_F32: memcpy(buf + 4 * k, &x[k], 4), want[k] = x[k]; break;
            case GGUF_TYPE_F16: {
                uint16_t h = f32_to_f16(x[k]);
                memcpy(buf + 2 * k, &h, 2), want[k] = f16_to_f32(h);
                break;
            }
            case GGUF_TYPE_BF16: {
                uint16_t h = f32_to_bf16(x[k]);
                memcpy(buf + 2 * k, &h, 2), want[k] = bf16_to_f32(h);
                break;
            }
            default: want[k] = (float)t[k] * scale;
            }
        }
        if (ty == GGUF_TYPE_Q8_0) {
            tk_q8_0_quantize((tk_block_q8_0 *)buf, x, M * K);
            tk_q8_0_dequantize(want, (const tk_block_q8_0 *)buf, M * K);
        }
        if (ty == GGUF_TYPE_TQ1_0) tk_tq1_0_pack((tk_block_tq1_0 *)buf, t, M * K, scale);
        if (ty == GGUF_TYPE_TQ2_0) tk_tq2_0_pack((tk_block_tq2_0 *)buf, t, M * K, scale);
        if (ty == GGUF_TYPE_I2_S) tk_i2s_pack(buf, t, M * K, scale);
        gguf_tensor g = {.name = "w", .type = ty, .n_dims = 2, .ne = {K, M, 1, 1}, .data = buf};
        tk_dequant_rows(out, &g, 1, 2);
        char name[64];
        snprintf(name, sizeof(name), "row lookup %s rows 1..2", gguf_type_name(ty));
        t_check(!memcmp(out, want + K, sizeof(out)), name, "differs from the element-wise values");
    }
}

int main(void) {
    rng r;
    rng_seed(&r, 7);
    test_i2s_known_bytes();
    test_tq2_known_bytes();
    test_tq1_known_bytes();
    test_q8_0_known_bytes();
    test_round_trips(&r);
    test_rows(&r);
    return t_done();
}
