// test_vmath.c: the row quantizers of kernels/vmath.h: every path equals the scalar reference bit for bit
// (odd lengths, ties, zero and tiny rows, saturation), and the references' own semantics.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/vmath.h"
#include "tests/harness.h"

static int has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

// Fills x (K) with one of several kinds of rows.
static void fill(float *x, int K, int kind, rng *r) {
    for (int k = 0; k < K; k++) {
        switch (kind) {
        case 0: x[k] = rng_normal(r); break;
        case 1: x[k] = 0.0f; break;
        case 2: x[k] = 1e-7f * rng_normal(r); break;                          // below the int8 clamp of 1e-5
        case 3: x[k] = (float)((int)rng_below(r, 255) - 127) + 0.5f; break;   // halves: ties at scale ~1
        default: x[k] = 3e4f * rng_normal(r); break;
        }
    }
    if (kind == 3) x[0] = 127.0f;   // max 127: the int8 scale is exactly 1, so every other value is a tie
}

int main(void) {
    rng r;
    rng_seed(&r, 3);
    const int sizes[] = {1, 3, 15, 16, 17, 31, 32, 33, 128, 344, 1001};
    float *x = malloc(sizeof(float) * 1001);
    int16_t *a16 = malloc(2 * 1002), *b16 = malloc(2 * 1002);   // one past the longest row: not written
    int8_t *a8 = malloc(1002), *b8 = malloc(1002);
    int bad16 = 0, bad8 = 0, cases = 0, simd = has_avx512();
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
        for (int kind = 0; kind < 5; kind++) {
            int K = sizes[si];
            fill(x, K, kind, &r);
            memset(b16, 0x55, 2 * 1002), memset(b8, 0x55, 1002);
            float ra = km_q16_row_ref(a16, x, K), rb = simd ? km_q16_row_avx512(b16, x, K) : km_q16_row(b16, x, K);
            bad16 += ra != rb || memcmp(a16, b16, 2 * (size_t)K) || b16[K] != 0x5555;   // nothing written past K
            float sa = km_q8_row_ref(a8, x, K), sb = simd ? km_q8_row_avx512(b8, x, K) : km_q8_row(b8, x, K);
            bad8 += sa != sb || memcmp(a8, b8, (size_t)K) || b8[K] != 0x55;
            cases++;
        }
    t_check(!bad16, simd ? "q16 row: AVX-512 = scalar reference" : "q16 row: dispatch = scalar reference", "%d of %d rows differ", bad16, cases);
    t_check(!bad8, simd ? "q8 row: AVX-512 = scalar reference" : "q8 row: dispatch = scalar reference", "%d of %d rows differ", bad8, cases);

    // The references' semantics: ties to even, the 1e-5 clamp, a zero row's inverse scale 0.
    float row[6] = {127.0f, 0.5f, 1.5f, -0.5f, 2.5f, -127.0f};
    int8_t q[6];
    float s = km_q8_row(q, row, 6);
    t_check(s == 1.0f && q[1] == 0 && q[2] == 2 && q[3] == 0 && q[4] == 2 && q[5] == -127, "q8 row rounds half to even",
            "s %g, got %d %d %d %d %d", s, q[1], q[2], q[3], q[4], q[5]);
    float tiny[2] = {1e-7f, -2e-6f};
    s = km_q8_row(q, tiny, 2);
    t_check(s == 127.0f / 1e-5f && q[0] == 1 && q[1] == -25, "q8 row clamps the scale at max 1e-5", "s %g q %d %d", s, q[0], q[1]);
    float zero[3] = {0, 0, 0};
    int16_t z16[3] = {1, 1, 1};
    float inv = km_q16_row(z16, zero, 3);
    t_check(inv == 0.0f && !z16[0] && !z16[1] && !z16[2], "q16 row of zeros: zeros and inverse scale 0", "inv %g", inv);
    float one[3] = {-2.0f, 1.0f, 0.5f};
    inv = km_q16_row(z16, one, 3);
    t_check(z16[0] == -32767 && z16[1] == 16384 && z16[2] == 8192 && inv == 2.0f / 32767.0f, "q16 row scales max to 32767",
            "got %d %d %d", z16[0], z16[1], z16[2]);
    // km_sum: the documented order (16 lanes, folded 8, 4, 2, 1), written out here independently, bit for bit.
    int bad_sum = 0;
    for (int n = 0; n <= 300; n += n < 40 ? 1 : 37) {
        for (int i = 0; i < n; i++) x[i] = (float)exp(rng_normal(&r));
        float lane[16] = {0};
        for (int i = 0; i < n; i++) lane[i % 16] += x[i];
        float f8[8], f4[4], f2[2];
        for (int l = 0; l < 8; l++) f8[l] = lane[l] + lane[l + 8];
        for (int l = 0; l < 4; l++) f4[l] = f8[l] + f8[l + 4];
        for (int l = 0; l < 2; l++) f2[l] = f4[l] + f4[l + 2];
        float want = f2[0] + f2[1], got = km_sum(x, n);
        double exact = 0;
        for (int i = 0; i < n; i++) exact += x[i];
        bad_sum += got != want || fabs(got - exact) > 1e-5 * exact + 1e-30;
    }
    t_check(!bad_sum, "km_sum: the documented 16-lane order, close to the exact sum", "%d lengths differ", bad_sum);
    // the softmax backward row: the dispatched path (AVX-512 where present) against the reference and doubles
    double worst_g = 0, worst_r = 0;
    for (int n = 1; n <= 300; n += n < 40 ? 1 : 37) {
        float p[300], d[300], dr[300], dg[300];
        double z = 0;
        for (int i = 0; i < n; i++) p[i] = (float)exp(rng_normal(&r)), z += p[i];
        for (int i = 0; i < n; i++) p[i] = (float)(p[i] / z), d[i] = rng_normal(&r), dr[i] = dg[i] = d[i];
        km_softmax_grad_ref(dr, p, n);
        km_softmax_grad(dg, p, n);
        double dot = 0, scale = 0;
        for (int i = 0; i < n; i++) dot += (double)p[i] * d[i];
        for (int i = 0; i < n; i++) scale = fmax(scale, fabs(p[i] * (d[i] - dot)) + p[i] * fabs(dot));
        for (int i = 0; i < n; i++) {
            worst_g = fmax(worst_g, fabs(dg[i] - dr[i]) / scale);
            worst_r = fmax(worst_r, fabs(dr[i] - p[i] * (d[i] - dot)) / scale);
        }
    }
    char what[160];
    snprintf(what, sizeof(what), "softmax backward row: %s = reference (worst %.1e), reference = doubles (worst %.1e)",
             has_avx512() ? "AVX-512" : "dispatch", worst_g, worst_r);
    t_check(worst_g < 1e-6 && worst_r < 1e-6, what, "worst %.3e / %.3e of the row's scale", worst_g, worst_r);
    // argmax: the first index of the largest value, NaNs never chosen; ties, all-equal rows, -inf and NaN runs
    {
        float *v = malloc(sizeof(float) * 1001);
        int bad = 0, n_cases = 0;
        for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
            for (int kind = 0; kind < 6; kind++) {
                int n = sizes[si];
                for (int i = 0; i < n; i++) v[i] = kind == 1 ? 2.0f : (float)(int)(rng_below(&r, 7)) - 3.0f;   // many ties
                if (kind == 2) v[n - 1] = 9.0f;                                                                     // the last one
                if (kind == 3)
                    for (int i = 0; i < n; i += 2) v[i] = NAN;
                if (kind == 4)
                    for (int i = 0; i < n; i++) v[i] = i % 3 ? NAN : -INFINITY;
                if (kind == 5)
                    for (int i = 0; i < n; i++) v[i] = NAN;
                int want = -1;   // by its definition, independently of km_argmax_ref
                for (int i = 0; i < n; i++)
                    if (!isnan(v[i]) && (want < 0 || v[i] > v[want])) want = i;
                want = want < 0 ? 0 : want;
                bad += km_argmax_ref(v, n) != want || km_argmax(v, n) != want || (simd && km_argmax_avx512(v, n) != want);
                n_cases++;
            }
        t_check(!bad, simd ? "argmax: AVX-512 = scalar reference = definition" : "argmax: scalar reference = definition", "%d of %d rows differ",
                bad, n_cases);
        free(v);
    }
    free(x), free(a16), free(b16), free(a8), free(b8);
    return t_done();
}
