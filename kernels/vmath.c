// vmath.c: kernels/vmath.h. The vectorized expf lives with the engine's per-ISA ops (engine_x86.c).
#include "kernels/vmath.h"

#include <math.h>

#include "kernels/engine_impl.h"

// The AVX-512 path needs F, BW and VL (no VNNI, unlike tk_isa's AVX-512 level).
static int has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

float km_q16_row(int16_t *x16, const float *x, int K) {
    return has_avx512() ? km_q16_row_avx512(x16, x, K) : km_q16_row_ref(x16, x, K);
}

float km_q8_row(int8_t *q, const float *x, int K) {
    return has_avx512() ? km_q8_row_avx512(q, x, K) : km_q8_row_ref(q, x, K);
}

int km_argmax(const float *x, int n) { return has_avx512() ? km_argmax_avx512(x, n) : km_argmax_ref(x, n); }

int km_argmax_ref(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i]))) best = i;
    return best;
}

void km_softmax_grad(float *d, const float *p, int n) {
    if (has_avx512()) km_softmax_grad_avx512(d, p, n);
    else km_softmax_grad_ref(d, p, n);
}

void km_softmax_grad_ref(float *restrict d, const float *restrict p, int n) {
    float dot = 0.0f;
    for (int j = 0; j < n; j++) dot += p[j] * d[j];
    #pragma omp simd
    for (int j = 0; j < n; j++) d[j] = p[j] * (d[j] - dot);
}

float km_absmax(const float *x, int n) {
    float mx = 0.0f;
    #pragma omp simd reduction(max : mx)
    for (int k = 0; k < n; k++) mx = fabsf(x[k]) > mx ? fabsf(x[k]) : mx;
    return mx;
}

float km_q8_row_ref(int8_t *restrict q, const float *restrict x, int K) {
    float s = km_q8_scale(km_absmax(x, K));
    #pragma omp simd
    for (int k = 0; k < K; k++) {
        float v = rintf(x[k] * s);   // round half to even (the default rounding mode)
        q[k] = (int8_t)(v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v);
    }
    return s;
}

float km_q16_row_ref(int16_t *restrict x16, const float *restrict x, int K) {
    float mx = km_absmax(x, K), s = mx > 0 ? 32767.0f / mx : 0.0f;
    #pragma omp simd
    for (int k = 0; k < K; k++) x16[k] = (int16_t)rintf(x[k] * s);
    return mx / 32767.0f;
}

float km_sum(const float *x, int n) {
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        #pragma omp simd
        for (int l = 0; l < 16; l++) acc[l] += x[i + l];
    }
    for (int l = 0; i + l < n; l++) acc[l] += x[i + l];
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

void km_expf(float *y, const float *x, int n) { eng_ops_for(tk_isa_best())->expv(y, x, n); }

void km_softmax(float *p, int n) { eng_ops_for(tk_isa_best())->softmax(p, n); }
