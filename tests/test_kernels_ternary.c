// test_kernels_ternary.c: int8 x ternary products (kernels/ternary.h). For every file type (I2_S, TQ2_0,
// TQ1_0, and int8 values) x every ISA path this CPU has x threads 1 and 2, on odd sizes: the integer sums
// equal an independent computation from the unpacked values, and the float outputs equal the documented
// formula bit for bit (so every path equals the scalar one). Also the activation quantizer against the
// training graph's, per-block TQ scales, and the loader's errors.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/f16.h"
#include "common/rng.h"
#include "kernels/quants.h"
#include "kernels/ternary.h"
#include "tests/harness.h"

static int n_cases[TK_ISA_COUNT], n_bad[TK_ISA_COUNT];

// Activations with varied magnitudes: a zero row, a row of huge values, rounding ties.
static void fill_x(float *x, int N, int K, rng *r) {
    for (int n = 0; n < N; n++) {
        float mag = n % 5 == 1 ? 1e4f : n % 5 == 2 ? 1e-3f : 1.0f;
        for (int k = 0; k < K; k++) x[(size_t)n * K + k] = n % 5 == 3 ? 0.0f : mag * rng_normal(r);
        if (n % 5 == 4 && K > 2) x[(size_t)n * K] = 127.0f, x[(size_t)n * K + 1] = 2.5f, x[(size_t)n * K + 2] = -0.5f;   // ties
    }
}

// Packs t (M, K) in `type` into a gguf_tensor over buf. scales: per block (TQ) when bscale is not NULL.
static gguf_tensor make_tensor(uint32_t type, const int8_t *t, int M, int K, float scale, const float *bscale, uint8_t **buf) {
    size_t bytes = type == GGUF_TYPE_I2_S ? tk_i2s_nbytes((int64_t)M * K) : (size_t)M * K / 256 * (type == GGUF_TYPE_TQ2_0 ? 66 : 54);
    *buf = malloc(bytes);
    if (type == GGUF_TYPE_I2_S) tk_i2s_pack(*buf, t, (int64_t)M * K, scale);
    else if (type == GGUF_TYPE_TQ2_0) tk_tq2_0_pack((tk_block_tq2_0 *)*buf, t, (int64_t)M * K, scale);
    else tk_tq1_0_pack((tk_block_tq1_0 *)*buf, t, (int64_t)M * K, scale);
    for (int b = 0; bscale && b < M * K / 256; b++) {   // overwrite each block's d
        uint16_t d = f32_to_f16(bscale[b]);
        memcpy(*buf + (size_t)b * (type == GGUF_TYPE_TQ2_0 ? 66 : 54) + (type == GGUF_TYPE_TQ2_0 ? 64 : 52), &d, 2);
    }
    return (gguf_tensor){.name = "w", .type = type, .n_dims = 2, .ne = {K, M, 1, 1}, .data = *buf, .nbytes = bytes};
}

// y (N, M + 3) against want (N, M), the 3 gap columns still NaN
static int y_differs(const float *y, const float *want, int N, int M) {
    int bad = 0;
    for (int n = 0; n < N; n++) {
        bad |= memcmp(y + (size_t)n * (M + 3), want + (size_t)n * M, sizeof(float) * M) != 0;
        for (int j = M; j < M + 3; j++) bad |= !isnan(y[(size_t)n * (M + 3) + j]);
    }
    return bad;
}

// One (type, N, M, K) case: every ISA, threads 1 and 2, against the independent reference.
static void one_case(uint32_t type, int N, int M, int K, int per_block, rng *r) {
    int8_t *t = malloc((size_t)M * K), *back = malloc((size_t)M * K);
    for (size_t i = 0; i < (size_t)M * K; i++) t[i] = (int8_t)((int)rng_below(r, 3) - 1);
    for (int k = 0; k < K && M > 2; k++) t[(size_t)2 * K + k] = 0;   // an all-zero row
    int nb = K / 256;
    float scale = 0.8125f, *bs = NULL;   // exact in fp16
    if (per_block) {
        bs = malloc(sizeof(float) * (size_t)M * (nb ? nb : 1));
        for (int b = 0; b < M * nb; b++) bs[b] = f16_to_f32(f32_to_f16(0.25f + rng_uniform(r)));
    }
    uint8_t *buf = NULL;
    tk_mat w;
    if (type == GGUF_TYPE_I8) {
        tk_mat_from_ternary(&w, t, M, K, scale, NULL);
    } else {
        gguf_tensor g = make_tensor(type, t, M, K, scale, bs, &buf);
        tr_err err = {{0}};
        if (tk_mat_from_tensor(&w, &g, NULL, "mem", &err)) {
            t_check(0, "tk_mat_from_tensor", "%s", err.msg);
            exit(1);
        }
    }
    tk_mat_to_ternary(back, &w);
    char name[160];
    snprintf(name, sizeof(name), "%s %d x %d%s -> panels -> values exact, scale", gguf_type_name(type) ? gguf_type_name(type) : "int8",
             M, K, per_block ? " (per-block d)" : "");
    int scale_ok = per_block ? w.bscale != NULL : w.bscale == NULL && w.scale == scale;
    t_check(!memcmp(t, back, (size_t)M * K) && scale_ok, name, "values %s, scale %g bscale %p", memcmp(t, back, (size_t)M * K) ? "differ" : "ok",
            w.scale, (void *)w.bscale);

    float *x = malloc(sizeof(float) * (size_t)N * K), *y = malloc(sizeof(float) * (size_t)N * (M + 3)), *want = malloc(sizeof(float) * (size_t)N * M);
    int32_t *isum = malloc(sizeof(int32_t) * (size_t)N * M), *want_i = malloc(sizeof(int32_t) * (size_t)N * M);
    fill_x(x, N, K, r);
    tk_act a = {0};
    tk_act_quantize(&a, x, N, K);
    // Independent reference: the sums from the values, the documented float formula.
    for (int n = 0; n < N; n++)
        for (int m = 0; m < M; m++) {
            int32_t s = 0;
            float acc = 0.0f;
            for (int b = 0; b < (per_block ? nb : 1); b++) {
                int32_t sb = 0;
                int k0 = per_block ? 256 * b : 0, k1 = per_block ? k0 + 256 : K;
                for (int k = k0; k < k1; k++) sb += a.q[(size_t)n * a.ld + k] * t[(size_t)m * K + k];
                if (per_block) acc += (float)sb * bs[(size_t)m * nb + b];
                s += sb;
            }
            want_i[(size_t)n * M + m] = s;
            want[(size_t)n * M + m] = per_block ? acc * (1.0f / a.s[n]) : ((float)s * (1.0f / a.s[n])) * scale;
        }
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        if (!tk_isa_supported((tk_isa)isa)) continue;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            int bad = 0;
            if (!per_block) {
                tk_matmul_i32(isum, &a, &w, (tk_isa)isa);
                bad |= memcmp(isum, want_i, sizeof(int32_t) * (size_t)N * M) != 0;
            }
            for (size_t i = 0; i < (size_t)N * (M + 3); i++) y[i] = NAN;
            tk_matmul(y, M + 3, &a, &w, (tk_isa)isa);   // ldy > M: the gaps stay untouched
            bad |= y_differs(y, want, N, M);
            // tk_matmul_panels: the same floats from two panel ranges, the second one first
            for (size_t i = 0; i < (size_t)N * (M + 3); i++) y[i] = NAN;
            int half = w.panels / 2;
            tk_matmul_panels(y, M + 3, &a, &w, half, w.panels, (tk_isa)isa);
            tk_matmul_panels(y, M + 3, &a, &w, 0, half, (tk_isa)isa);
            bad |= y_differs(y, want, N, M);
            n_cases[isa]++;
            if (bad && n_bad[isa]++ < 5)
                printf("# mismatch: %s %s N %d M %d K %d threads %d%s\n", tk_isa_name((tk_isa)isa), name, N, M, K, threads,
                       per_block ? " per-block" : "");
        }
    }
    omp_set_num_threads(2);
    tk_act_free(&a);
    tk_mat_free(&w);
    free(t), free(back), free(bs), free(buf), free(x), free(y), free(want), free(isum), free(want_i);
}

// tk_act_quantize gives the training graph's fake-quantized values exactly: q / s == ag_act_quant_row.
static void test_act_quant(rng *r) {
    int N = 7, K = 333;
    float *x = malloc(sizeof(float) * N * K), *fq = malloc(sizeof(float) * K);
    fill_x(x, N, K, r);
    tk_act a = {0};
    tk_act_quantize(&a, x, N, K);
    int bad = 0;
    for (int n = 0; n < N; n++) {
        ag_act_quant_row(fq, x + (size_t)n * K, K);
        int32_t sum = 0, b1 = 0;
        for (int k = 0; k < K; k++) {
            bad += (float)a.q[(size_t)n * a.ld + k] / a.s[n] != fq[k];
            sum += a.q[(size_t)n * a.ld + k];
            if (k >= 256) b1 += a.q[(size_t)n * a.ld + k];
        }
        for (int k = K; k < a.ld; k++) bad += a.q[(size_t)n * a.ld + k] != 0;
        bad += sum != a.sum[n] || b1 != a.bsum[n * a.nb + 1];
    }
    t_check(bad == 0 && a.ld % 64 == 0 && a.nb == 2, "activation quantization equals the training graph's (q / s), sums, zero padding",
            "%d mismatches", bad);
    // round half to even and the clamp: 2.5 * 1 -> 2, -0.5 -> -0 (s = 1 when max |x| = 127)
    t_check(a.q[4 * a.ld + 1] == 2 && a.q[4 * a.ld + 2] == 0 && a.s[4] == 1.0f && a.q[4 * a.ld] == 127, "ties round to even",
            "q %d %d s %g", a.q[4 * a.ld + 1], a.q[4 * a.ld + 2], a.s[4]);
    t_check(a.s[3] == 127.0f / 1e-5f, "an all-zero row gets s = 127 / 1e-5", "s %g", a.s[3]);
    tk_act_free(&a);
    free(x), free(fq);
}

static void expect_load_error(const char *name, gguf_tensor g, const char *word) {
    tk_mat w;
    tr_err err = {{0}};
    int rc = tk_mat_from_tensor(&w, &g, NULL, "m.gguf", &err);
    t_check(rc == -1 && !strncmp(err.msg, "m.gguf: tensor 'w'", 18) && strstr(err.msg, word), name, "rc %d: %s", rc, err.msg);
    if (rc == 0) tk_mat_free(&w);
}

static void test_load_errors(void) {
    static uint8_t buf[64 * 256];
    expect_load_error("load error: F16 is not ternary", (gguf_tensor){.name = "w", .type = GGUF_TYPE_F16, .n_dims = 2, .ne = {256, 2, 1, 1}, .data = buf},
                      "want a ternary type");
    expect_load_error("load error: 3-D tensor", (gguf_tensor){.name = "w", .type = GGUF_TYPE_TQ2_0, .n_dims = 3, .ne = {256, 2, 2, 1}, .data = buf},
                      "2-D");
    expect_load_error("load error: I2_S rows not a multiple of 128",
                      (gguf_tensor){.name = "w", .type = GGUF_TYPE_I2_S, .n_dims = 2, .ne = {64, 4, 1, 1}, .data = buf}, "multiple of 128");
    int8_t t[256] = {1};
    tk_i2s_pack(buf, t, 256, NAN);
    expect_load_error("load error: I2_S scale NaN", (gguf_tensor){.name = "w", .type = GGUF_TYPE_I2_S, .n_dims = 2, .ne = {128, 2, 1, 1}, .data = buf},
                      "scale");
    tk_tq2_0_pack((tk_block_tq2_0 *)buf, t, 256, INFINITY);
    expect_load_error("load error: TQ2_0 block scale inf", (gguf_tensor){.name = "w", .type = GGUF_TYPE_TQ2_0, .n_dims = 2, .ne = {256, 1, 1, 1}, .data = buf},
                      "scale");
}

// The largest sums: every weight +1 (row 50: -1) against activations that all quantize to 127, over K far past
// the AVX-512 kernel's chunk of groups (its accumulators hold 64 times the sum of the top code vector).
static void test_long_sums(void) {
    int M = 64, K = 140000, N = 3;
    int8_t *t = malloc((size_t)M * K);
    for (int m = 0; m < M; m++) memset(t + (size_t)m * K, m == 50 ? -1 : 1, (size_t)K);
    float *x = malloc(sizeof(float) * (size_t)N * K);
    for (size_t i = 0; i < (size_t)N * K; i++) x[i] = 1.0f;
    tk_mat w;
    tk_mat_from_ternary(&w, t, M, K, 1.0f, NULL);
    tk_act a = {0};
    tk_act_quantize(&a, x, N, K);
    int32_t *isum = malloc(sizeof(int32_t) * (size_t)N * M);
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        if (!tk_isa_supported((tk_isa)isa)) continue;
        for (int n1 = 1; n1 <= N; n1 += N - 1) {   // decode's one-row kernel and the many-row one
            a.N = n1;
            tk_matmul_i32(isum, &a, &w, (tk_isa)isa);
            int bad = 0;
            for (int n = 0; n < n1; n++)
                for (int m = 0; m < M; m++) bad += isum[(size_t)n * M + m] != (m == 50 ? -127 : 127) * K;
            char name[96];
            snprintf(name, sizeof(name), "%s: sums of 127 x %d ones exact (N %d)", tk_isa_name((tk_isa)isa), K, n1);
            t_check(bad == 0, name, "%d of %d sums differ (first %d)", bad, n1 * M, isum[0]);
        }
    }
    a.N = N;
    tk_act_free(&a);
    tk_mat_free(&w);
    free(t), free(x), free(isum);
}

// Matrices whose codes come from one tk_pool: the same codes and products as matrices of their own, laid
// end to end from a 2 MiB aligned base; freeing them leaves the pool's memory to tk_pool_free.
static void test_pool(rng *r) {
    int M[2] = {69, 130}, K[2] = {344, 100};
    tk_pool pool;
    tk_pool_init(&pool, tk_mat_codes_bytes(M[0], K[0]) + tk_mat_codes_bytes(M[1], K[1]));
    int same = 1;
    for (int i = 0; i < 2; i++) {
        int8_t *t = malloc((size_t)M[i] * K[i]);
        for (size_t j = 0; j < (size_t)M[i] * K[i]; j++) t[j] = (int8_t)((int)rng_below(r, 3) - 1);
        tk_mat own, in;
        tk_mat_from_ternary(&own, t, M[i], K[i], 0.5f, NULL);
        tk_mat_from_ternary(&in, t, M[i], K[i], 0.5f, &pool);
        same &= in.pooled && !own.pooled && in.codes == pool.base + (i ? tk_mat_codes_bytes(M[0], K[0]) : 0) &&
                !memcmp(in.codes, own.codes, tk_mat_codes_bytes(M[i], K[i]));
        tk_mat_free(&own);
        tk_mat_free(&in);
        free(t);
    }
    t_check(same && pool.used == pool.cap && (uintptr_t)pool.base % TR_HUGE_PAGE == 0, "two matrices in one huge-page pool: same codes, end to end",
            "used %zu of %zu, base %p", pool.used, pool.cap, (void *)pool.base);
    tk_pool_free(&pool);
    tk_pool_free(NULL);
}

int main(void) {
    rng r;
    rng_seed(&r, 11);
    test_act_quant(&r);
    test_load_errors();
    test_long_sums();
    test_pool(&r);
    int Ns[] = {1, 3, 7, 17}, Ms[] = {1, 3, 17, 64, 69, 130};
    struct {
        uint32_t type;
        int K[3];
    } types[] = {{GGUF_TYPE_I2_S, {128, 384, 0}}, {GGUF_TYPE_TQ2_0, {256, 768, 0}}, {GGUF_TYPE_TQ1_0, {256, 512, 0}},
                 {GGUF_TYPE_I8, {5, 100, 344}}};
    for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++)
        for (int ki = 0; ki < 3 && types[ti].K[ki]; ki++)
            for (size_t mi = 0; mi < sizeof(Ms) / sizeof(Ms[0]); mi++)
                for (size_t ni = 0; ni < sizeof(Ns) / sizeof(Ns[0]); ni++)
                    one_case(types[ti].type, Ns[ni], Ms[mi], types[ti].K[ki], 0, &r);
    for (int ni = 0; ni < 4; ni++) {   // TQ tensors whose blocks carry different d
        one_case(GGUF_TYPE_TQ2_0, Ns[ni], 69, 768, 1, &r);
        one_case(GGUF_TYPE_TQ1_0, Ns[ni], 17, 512, 1, &r);
    }
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        char name[96];
        snprintf(name, sizeof(name), "products on the %s path equal the reference bit for bit", tk_isa_name((tk_isa)isa));
        if (!tk_isa_supported((tk_isa)isa)) printf("# %s path: not supported by this CPU, not run\n", tk_isa_name((tk_isa)isa));
        else t_check(n_bad[isa] == 0 && n_cases[isa] > 0, name, "%d of %d cases differ", n_bad[isa], n_cases[isa]);
    }
    return t_done();
}
