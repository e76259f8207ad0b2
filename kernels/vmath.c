// vmath.c: kernels/vmath.h. The vectorized expf lives with the engine's per-ISA ops (engine_x86.c).
#include "kernels/vmath.h"

#include <math.h>

#include "kernels/engine_impl.h"

float km_q16_row(int16_t *x16, const float *x, int K) {
    float mx = 0.0f;
    #pragma omp simd reduction(max : mx)
    for (int k = 0; k < K; k++) mx = fabsf(x[k]) > mx ? fabsf(x[k]) : mx;
    float s = mx > 0 ? 32767.0f / mx : 0.0f;
    #pragma omp simd
    for (int k = 0; k < K; k++) x16[k] = (int16_t)rintf(x[k] * s);
    return mx / 32767.0f;
}

void km_expf(float *y, const float *x, int n) { eng_ops_for(tk_isa_best())->expv(y, x, n); }
