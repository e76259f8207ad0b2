// test_kernels_float.c: the embedding / LM-head products (kernels/floatmm.h). F32, F16 and BF16 weights
// on every ISA path against a double-precision reference (float accumulation: a tolerance); Q8_0 on every
// path bit for bit against the documented lane order, and close to the exact product. Odd sizes, threads
// 1 and 2.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/f16.h"
#include "common/rng.h"
#include "kernels/floatmm.h"
#include "tests/harness.h"

static int f_cases[TK_ISA_COUNT], f_bad[TK_ISA_COUNT], q_cases[TK_ISA_COUNT], q_bad[TK_ISA_COUNT];

static void float_case(uint32_t wtype, int N, int M, int K, rng *r) {
    size_t es = wtype == GGUF_TYPE_F32 ? 4 : 2;
    uint8_t *w = malloc((size_t)M * K * es);
    float *wf = malloc(sizeof(float) * (size_t)M * K), *x = malloc(sizeof(float) * (size_t)N * K);
    float *y = malloc(sizeof(float) * (size_t)N * (M + 1));
    double *ref = malloc(sizeof(double) * (size_t)N * M), *mag = malloc(sizeof(double) * (size_t)N * M);
    for (size_t i = 0; i < (size_t)M * K; i++) {
        float v = rng_normal(r);
        if (wtype == GGUF_TYPE_F32) memcpy(w + 4 * i, &v, 4), wf[i] = v;
        else {
            uint16_t h = wtype == GGUF_TYPE_F16 ? f32_to_f16(v) : f32_to_bf16(v);
            memcpy(w + 2 * i, &h, 2);
            wf[i] = wtype == GGUF_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
    for (size_t i = 0; i < (size_t)N * K; i++) x[i] = rng_normal(r);
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            double s = 0, a = 0;
            for (int k = 0; k < K; k++) s += (double)x[(size_t)n * K + k] * wf[(size_t)m * K + k], a += fabs((double)x[(size_t)n * K + k] * wf[(size_t)m * K + k]);
            ref[(size_t)n * M + m] = s, mag[(size_t)n * M + m] = a;
        }
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        if (!tk_isa_supported((tk_isa)isa)) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            tk_matmul_float(y, M + 1, x, N, w, wtype, M, K, (tk_isa)isa);
            int bad = 0;
            for (int n = 0; n < N; n++)
                for (int m = 0; m < M; m++)
                    bad += !(fabs(y[(size_t)n * (M + 1) + m] - ref[(size_t)n * M + m]) <= 2e-6 * mag[(size_t)n * M + m] + 1e-30);
            f_cases[isa]++;
            if (bad && f_bad[isa]++ < 5)
                printf("# float mismatch: %s %s N %d M %d K %d: %d elements\n", tk_isa_name((tk_isa)isa), gguf_type_name(wtype), N, M, K, bad);
        }
    }
    free(w), free(wf), free(x), free(y), free(ref), free(mag);
}

// The documented Q8_0 order (floatmm.h), written out here from the description.
static float q8_dot(const tk_block_q8_0 *w, const tk_block_q8_0 *x, int nb) {
    float acc[16] = {0};
    for (int b = 0; b < nb; b++) {
        float s = f16_to_f32(w[b].d) * f16_to_f32(x[b].d);
        for (int j = 0; j < 8; j++) {
            int32_t p = w[b].qs[4 * j] * x[b].qs[4 * j] + w[b].qs[4 * j + 1] * x[b].qs[4 * j + 1] +
                        w[b].qs[4 * j + 2] * x[b].qs[4 * j + 2] + w[b].qs[4 * j + 3] * x[b].qs[4 * j + 3];
            acc[8 * (b % 2) + j] += s * (float)p;
        }
    }
    float a[8];
    for (int i = 0; i < 8; i++) a[i] = acc[i] + acc[8 + i];
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

static void q8_case(int N, int M, int K, rng *r) {
    int nb = K / 32;
    float *wf = malloc(sizeof(float) * (size_t)M * K), *x = malloc(sizeof(float) * (size_t)N * K);
    tk_block_q8_0 *w = malloc(sizeof(*w) * (size_t)M * nb), *xq = malloc(sizeof(*xq) * (size_t)N * nb);
    float *y = malloc(sizeof(float) * (size_t)N * M), *want = malloc(sizeof(float) * (size_t)N * M);
    for (size_t i = 0; i < (size_t)M * K; i++) wf[i] = rng_normal(r);
    for (size_t i = 0; i < (size_t)N * K; i++) x[i] = rng_normal(r);
    tk_q8_0_quantize(w, wf, (int64_t)M * K);
    for (int b = 0; b < M * nb; b += 7) w[b].qs[b % 32] = -128;   // foreign files may hold -128
    for (int n = 0; n < N; n++) tk_q8_0_quantize(xq + (size_t)n * nb, x + (size_t)n * K, K);
    int close = 1;
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            want[(size_t)n * M + m] = q8_dot(w + (size_t)m * nb, xq + (size_t)n * nb, nb);
            double exact = 0, mag = 0;   // the same quantized values in double
            for (int b = 0; b < nb; b++)
                for (int j = 0; j < 32; j++) {
                    double v = (double)f16_to_f32(w[(size_t)m * nb + b].d) * w[(size_t)m * nb + b].qs[j] *
                               f16_to_f32(xq[(size_t)n * nb + b].d) * xq[(size_t)n * nb + b].qs[j];
                    exact += v, mag += fabs(v);
                }
            close &= fabs(want[(size_t)n * M + m] - exact) <= 1e-5 * mag + 1e-30;
        }
    t_check(close, "Q8_0 lane order sums to the exact product", "N %d M %d K %d", N, M, K);
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        if (!tk_isa_supported((tk_isa)isa)) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            tk_matmul_q8_0(y, M, xq, N, w, M, K, (tk_isa)isa);
            q_cases[isa]++;
            if (memcmp(y, want, sizeof(float) * (size_t)N * M) && q_bad[isa]++ < 5)
                printf("# Q8_0 mismatch: %s N %d M %d K %d threads %d\n", tk_isa_name((tk_isa)isa), N, M, K, threads);
        }
    }
    free(wf), free(x), free(w), free(xq), free(y), free(want);
}

int main(void) {
    rng r;
    rng_seed(&r, 5);
    int Ns[] = {1, 3, 5}, Ms[] = {1, 3, 17, 70};
    uint32_t types[] = {GGUF_TYPE_F32, GGUF_TYPE_F16, GGUF_TYPE_BF16};
    int Ks[] = {16, 37, 200};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < 3; k++)
            for (int m = 0; m < 4; m++)
                for (int n = 0; n < 3; n++) float_case(types[t], Ns[n], Ms[m], Ks[k], &r);
    for (int t = 0; t < 3; t++) float_case(types[t], 1, 1300, 600, &r);   // decode: several runs of rows (and a short one), 256-weight steps and tails
    int Kq[] = {32, 96, 2560};
    for (int k = 0; k < 3; k++)
        for (int m = 0; m < 4; m++)
            for (int n = 0; n < 3; n++) q8_case(Ns[n], Ms[m], Kq[k], &r);
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        char name[96];
        if (!tk_isa_supported((tk_isa)isa)) {
            printf("# %s path: not supported by this CPU, not run\n", tk_isa_name((tk_isa)isa));
            continue;
        }
        snprintf(name, sizeof(name), "F32/F16/BF16 products on the %s path within 2e-6 of exact", tk_isa_name((tk_isa)isa));
        t_check(f_bad[isa] == 0 && f_cases[isa] > 0, name, "%d of %d cases off", f_bad[isa], f_cases[isa]);
        snprintf(name, sizeof(name), "Q8_0 products on the %s path equal the documented order bit for bit", tk_isa_name((tk_isa)isa));
        t_check(q_bad[isa] == 0 && q_cases[isa] > 0, name, "%d of %d cases differ", q_bad[isa], q_cases[isa]);
    }
    return t_done();
}
