// f16.c: IEEE binary16 and bfloat16 <-> float, bit exact, round to nearest even, no FPU tricks
// (so the result does not depend on the rounding mode or flush-to-zero settings).
#include "common/f16.h"

#include <string.h>

static uint32_t f32_bits(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof(x));
    return x;
}

static float bits_f32(uint32_t x) {
    float f;
    memcpy(&f, &x, sizeof(f));
    return f;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));   // inf, nan (payload kept)
    if (exp != 0) return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign);                                   // +-0
    uint32_t e = 113;                                                       // subnormal: normalize
    while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
    }
    return bits_f32(sign | (e << 23) | ((mant & 0x3ff) << 13));
}

uint16_t f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((ax >> 13) & 0x3ff);   // nan: quiet, payload top bits
    if (ax >= 0x477ff000u) return sign | 0x7c00;   // inf, or >= 65520 which rounds past 65504
    if (ax < 0x38800000u) {                        // below 2^-14: f16 subnormal or zero
        uint32_t e = ax >> 23;
        if (e < 102) return sign;                  // below 2^-25 (incl. f32 subnormals): rounds to 0
        uint32_t mant = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;   // value = m * 2^-24, shift 14..24
        uint32_t m = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (m & 1))) m++;   // may carry into the smallest normal: correct
        return sign | (uint16_t)m;
    }
    ax -= (uint32_t)(127 - 15) << 23;          // rebias the exponent
    ax += 0xfff + ((ax >> 13) & 1);            // round to nearest even; a carry bumps the exponent
    return sign | (uint16_t)(ax >> 13);
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);   // nan stays nan (quiet)
    x += 0x7fff + ((x >> 16) & 1);             // round to nearest even; large values round to inf
    return (uint16_t)(x >> 16);
}
