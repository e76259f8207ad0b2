// f16.h: IEEE half and bfloat16 conversions (round to nearest even, NaN and Inf preserved).
#ifndef TRIT_F16_H
#define TRIT_F16_H

#include <stdint.h>

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);

#endif
