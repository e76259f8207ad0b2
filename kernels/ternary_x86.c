// ternary_x86.c: the AVX2 and AVX-512 VNNI micro-kernels of kernels/ternary_ukr.h, compiled per function
// with target attributes and chosen at run time. Each returns exactly what tk_ukr_scalar returns.
//
// A panel group is 64 bytes; (byte >> 2s) & 3 over the 64 bytes is the code vector of rows 16s + j,
// 4 consecutive k per 32-bit lane j: the unsigned operand of vpdpbusd (AVX-512) or vpmaddubsw (AVX2),
// against 4 activation bytes broadcast to every lane (the signed operand). Codes are 0..2, so
// vpmaddubsw's int16 pair sums (at most 2 * 2 * 128) never saturate.
#include <immintrin.h>
#include <string.h>

#include "kernels/ternary_ukr.h"

static inline int32_t load_i32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// ---- AVX-512 VNNI ----
// The code vectors are not shifted down: byte & (3 << 2s) is 4^s times code s, so vpdpbusd sums 4^s times the
// wanted dot product (exactly: at most 4 * 192 * 128 = 2^16 + 2^15 per lane and group, and chunks of
// UKR512_CHUNK groups stay below 2^31), and an arithmetic shift by 2s at the end divides it out exactly.
// One AND per code vector instead of a shift and an AND: 30% more groups per cycle, which decode needs
// when the machine's memory bandwidth is high.
// Named accumulators (GCC spills arrays of vectors): 6 token rows x 4 code vectors = 24 registers, plus
// the 4 code vectors, the raw bytes and the broadcast. Rows past nr read row 0 again and are not stored.
// One token row (decode) has its own kernel: two groups per step for 8 independent chains.

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define UKR512_CHUNK 8192   // groups summed in int32 before the exact shifts

#define CODES512(raw, b0, b1, b2, b3)                                                                          \
    __m512i b0 = _mm512_and_si512(raw, _mm512_set1_epi8(3)), b1 = _mm512_and_si512(raw, _mm512_set1_epi8(12)), \
            b2 = _mm512_and_si512(raw, _mm512_set1_epi8(48)), b3 = _mm512_and_si512(raw, _mm512_set1_epi8((char)192))

#define ROW512(i)                                                                                              \
    do {                                                                                                       \
        __m512i a = _mm512_set1_epi32(load_i32(x##i + 4 * (size_t)g));                                         \
        c##i##0 = _mm512_dpbusd_epi32(c##i##0, b0, a);                                                         \
        c##i##1 = _mm512_dpbusd_epi32(c##i##1, b1, a);                                                         \
        c##i##2 = _mm512_dpbusd_epi32(c##i##2, b2, a);                                                         \
        c##i##3 = _mm512_dpbusd_epi32(c##i##3, b3, a);                                                         \
    } while (0)

// acc[s] = c / 4^s for the first chunk, acc[s] += c / 4^s after it.
T512 static inline void put512(int32_t *acc, __m512i c, int s, int add) {
    c = _mm512_srai_epi32(c, 2 * s);
    if (add) c = _mm512_add_epi32(c, _mm512_loadu_si512((const void *)(acc + 16 * s)));
    _mm512_storeu_si512((void *)(acc + 16 * s), c);
}

#define STORE512(i)                                                                                            \
    do {                                                                                                       \
        if (i < nr) {                                                                                          \
            put512(acc + 64 * i, c##i##0, 0, add);                                                             \
            put512(acc + 64 * i, c##i##1, 1, add);                                                             \
            put512(acc + 64 * i, c##i##2, 2, add);                                                             \
            put512(acc + 64 * i, c##i##3, 3, add);                                                             \
        }                                                                                                      \
    } while (0)

T512 static void ukr512_rows(int32_t *acc, const uint8_t *panel, const int8_t *x, size_t ldx, int nr, int ng, int add) {
    const __m512i z = _mm512_setzero_si512();
    const int8_t *x0 = x, *x1 = nr > 1 ? x + ldx : x, *x2 = nr > 2 ? x + 2 * ldx : x, *x3 = nr > 3 ? x + 3 * ldx : x,
                 *x4 = nr > 4 ? x + 4 * ldx : x, *x5 = nr > 5 ? x + 5 * ldx : x;
    __m512i c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z,
            c30 = z, c31 = z, c32 = z, c33 = z, c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
    for (int g = 0; g < ng; g++) {
        __m512i raw = _mm512_load_si512((const void *)(panel + (size_t)g * 64));
        CODES512(raw, b0, b1, b2, b3);
        ROW512(0);
        ROW512(1);
        ROW512(2);
        ROW512(3);
        ROW512(4);
        ROW512(5);
    }
    STORE512(0);
    STORE512(1);
    STORE512(2);
    STORE512(3);
    STORE512(4);
    STORE512(5);
}

T512 static void ukr512_one(int32_t *acc, const uint8_t *panel, const int8_t *x0, int ng, int add) {
    const __m512i z = _mm512_setzero_si512();
    __m512i c00 = z, c01 = z, c02 = z, c03 = z, d0 = z, d1 = z, d2 = z, d3 = z;
    int g = 0;
    for (; g + 1 < ng; g += 2) {
        __m512i raw = _mm512_load_si512((const void *)(panel + (size_t)g * 64)), raw2 = _mm512_load_si512((const void *)(panel + (size_t)g * 64 + 64));
        __m512i a2 = _mm512_set1_epi32(load_i32(x0 + 4 * (size_t)g + 4));
        {
            CODES512(raw2, b0, b1, b2, b3);
            d0 = _mm512_dpbusd_epi32(d0, b0, a2);
            d1 = _mm512_dpbusd_epi32(d1, b1, a2);
            d2 = _mm512_dpbusd_epi32(d2, b2, a2);
            d3 = _mm512_dpbusd_epi32(d3, b3, a2);
        }
        CODES512(raw, b0, b1, b2, b3);
        ROW512(0);
    }
    for (; g < ng; g++) {
        __m512i raw = _mm512_load_si512((const void *)(panel + (size_t)g * 64));
        CODES512(raw, b0, b1, b2, b3);
        ROW512(0);
    }
    c00 = _mm512_add_epi32(c00, d0), c01 = _mm512_add_epi32(c01, d1), c02 = _mm512_add_epi32(c02, d2), c03 = _mm512_add_epi32(c03, d3);
    const int nr = 1;
    STORE512(0);
}

T512 void tk_ukr_avx512(int32_t *acc, const uint8_t *panel, const int8_t *x, size_t ldx, int nr, int ng) {
    for (int g0 = 0, add = 0; g0 < ng || !add; g0 += UKR512_CHUNK, add = 1) {
        int n = ng - g0 < UKR512_CHUNK ? ng - g0 : UKR512_CHUNK;
        if (nr == 1) ukr512_one(acc, panel + (size_t)g0 * 64, x + 4 * (size_t)g0, n, add);
        else ukr512_rows(acc, panel + (size_t)g0 * 64, x + 4 * (size_t)g0, ldx, nr, n, add);
    }
}

// ---- AVX2: 2 token rows x 32 panel rows (one 32-byte half of each group) per pass ----
// Half h holds lanes j = 8h .. 8h + 7, i.e. rows 16s + 8h + jj of code vector s.

#define T256 __attribute__((target("avx2,fma")))

T256 __attribute__((always_inline)) static inline void ukr256(int32_t *acc, const uint8_t *panel, const int8_t *x,
                                                                size_t ldx, const int NR, int ng, int h) {
    const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i c[2][4];
    #pragma GCC unroll 2
    for (int r = 0; r < NR; r++) c[r][0] = c[r][1] = c[r][2] = c[r][3] = _mm256_setzero_si256();
    for (int g = 0; g < ng; g++) {
        __m256i raw = _mm256_load_si256((const __m256i *)(panel + (size_t)g * 64 + 32 * h));
        __m256i b[4] = {_mm256_and_si256(raw, mask), _mm256_and_si256(_mm256_srli_epi16(raw, 2), mask),
                        _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask), _mm256_and_si256(_mm256_srli_epi16(raw, 6), mask)};
        #pragma GCC unroll 2
        for (int r = 0; r < NR; r++) {
            __m256i a = _mm256_set1_epi32(load_i32(x + (size_t)r * ldx + 4 * (size_t)g));
            #pragma GCC unroll 4
            for (int s = 0; s < 4; s++) c[r][s] = _mm256_add_epi32(c[r][s], _mm256_madd_epi16(_mm256_maddubs_epi16(b[s], a), ones));
        }
    }
    #pragma GCC unroll 2
    for (int r = 0; r < NR; r++)
        for (int s = 0; s < 4; s++) _mm256_storeu_si256((__m256i *)(acc + (size_t)r * 64 + 16 * s + 8 * h), c[r][s]);
}

T256 void tk_ukr_avx2(int32_t *acc, const uint8_t *panel, const int8_t *x, size_t ldx, int nr, int ng) {
    for (int r0 = 0; r0 < nr; r0 += 2)
        for (int h = 0; h < 2; h++) {
            if (nr - r0 >= 2) ukr256(acc + (size_t)r0 * 64, panel, x + (size_t)r0 * ldx, ldx, 2, ng, h);
            else ukr256(acc + (size_t)r0 * 64, panel, x + (size_t)r0 * ldx, ldx, 1, ng, h);
        }
}
