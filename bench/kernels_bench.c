// kernels_bench.c: throughput of trit's inference kernels on the shapes of bitnet-b1.58-2B-4T, with the
// machine's own limits measured in the same run. One JSON line per figure:
//   mem_bandwidth   a multi-threaded streaming read of 512 MiB (GB/s, best of 8): the bound for decode
//   int8_peak       independent VNNI vpdpbusd (or AVX2 vpmaddubsw) chains on every thread (GOP/s)
//   ternary_load    converting a file-format tensor (I2_S, TQ2_0, TQ1_0) to the panel layout (ms)
//   ternary_matmul  y = x . W^T for W (M, K): N = 1 (decode; GB/s of weights streamed from DRAM, against
//                   mem_bandwidth) and N = 128, 512 (prefill; GOP/s = 2 N M K / t, against int8_peak)
//   decode_2b4t     the 7 linears of all 30 layers once, as one decoded token reads them (ms, GB/s)
//   float_matmul    F16 and Q8_0 LM-head products (V = 128256 rows of 2560): decode GB/s, prefill GFLOP/s
// Decode figures cycle through enough copies of the weights (>= 512 MB) that every call reads DRAM, and
// each of their passes runs right after a pass of the streaming read: this machine's bandwidth drifts by
// tens of percent within minutes, so a decode figure is reported against the bandwidth measured beside it
// (the best of each over the same passes).
// Usage: kernels_bench [--isa scalar|avx2|avx512] [--quick]
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/f16.h"
#include "common/rng.h"
#include "kernels/floatmm.h"
#include "kernels/quants.h"
#include "kernels/ternary.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int quick;

// ---- machine limits ----

// XORs n bytes with 16-byte loads, four independent chains (SSE2: every x86-64 has it).
static uint64_t read_stream(const uint8_t *p, size_t n) {
    __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 64) {
        a = _mm_xor_si128(a, _mm_load_si128((const __m128i *)(p + i)));
        b = _mm_xor_si128(b, _mm_load_si128((const __m128i *)(p + i + 16)));
        c = _mm_xor_si128(c, _mm_load_si128((const __m128i *)(p + i + 32)));
        d = _mm_xor_si128(d, _mm_load_si128((const __m128i *)(p + i + 48)));
    }
    return (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d)));
}

static uint8_t *bw_buf;
static const size_t bw_bytes = (size_t)512 << 20;

// One pass of every thread streaming its share of bw_buf; GB/s.
static double bw_pass(void) {
    static uint64_t sink;
    double t0 = now();
    uint64_t acc = 0;
    #pragma omp parallel reduction(^ : acc)
    {
        size_t chunk = bw_bytes / (size_t)omp_get_num_threads() / 64 * 64;
        acc ^= read_stream(bw_buf + (size_t)omp_get_thread_num() * chunk, chunk);
    }
    sink ^= acc;
    return bw_bytes / (now() - t0) * 1e-9;
}

static double mem_bandwidth(void) {
    bw_buf = tr_alloc_aligned(bw_bytes);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < bw_bytes; i += 4096) memset(bw_buf + i, (int)(i >> 12), 4096);
    double best = 0;
    for (int rep = 0; rep < 8; rep++) {
        double g = bw_pass();
        best = g > best ? g : best;
    }
    printf("{\"bench\": \"mem_bandwidth\", \"impl\": \"trit\", \"threads\": %d, \"bytes\": %zu, \"gb_per_s\": %.2f}\n", omp_get_max_threads(),
           bw_bytes, best);
    return best;
}

// A decode measurement: run(ctx) reads `bytes` of weights once. After a warm-up, each of `reps` passes of
// run follows one bandwidth pass; returns the best seconds of run and the best bandwidth beside them.
typedef struct {
    void (*run)(void *ctx);
    void *ctx;
} work;

static double paired(const work *w, int reps, double *bw) {
    double best = 1e30;
    *bw = 0;
    w->run(w->ctx);
    for (int rep = 0; rep < reps; rep++) {
        double g = bw_pass(), t0 = now();
        w->run(w->ctx);
        double dt = now() - t0;
        best = dt < best ? dt : best;
        *bw = g > *bw ? g : *bw;
    }
    return best;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double peak_vnni(long iters) {
    __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1), c[12];
    for (int i = 0; i < 12; i++) c[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < iters; it++) {
        #pragma GCC unroll 12
        for (int i = 0; i < 12; i++) c[i] = _mm512_dpbusd_epi32(c[i], a, b);
        __asm__ volatile("" : "+v"(a));
    }
    int32_t s[16];
    __m512i t = c[0];
    for (int i = 1; i < 12; i++) t = _mm512_add_epi32(t, c[i]);
    _mm512_storeu_si512(s, t);
    return s[0];
}

__attribute__((target("avx2"))) static double peak_avx2(long iters) {
    __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(1), ones = _mm256_set1_epi16(1), c[8];
    for (int i = 0; i < 8; i++) c[i] = _mm256_set1_epi32(i);
    for (long it = 0; it < iters; it++) {
        #pragma GCC unroll 8
        for (int i = 0; i < 8; i++) c[i] = _mm256_add_epi32(c[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
        __asm__ volatile("" : "+x"(a));
    }
    int32_t s[8];
    __m256i t = c[0];
    for (int i = 1; i < 8; i++) t = _mm256_add_epi32(t, c[i]);
    _mm256_storeu_si256((__m256i *)s, t);
    return s[0];
}

static double int8_peak(tk_isa isa) {
    long iters = quick ? 20000000 : 50000000;
    double best = 1e30, sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        #pragma omp parallel reduction(+ : sink)
        sink += isa == TK_ISA_AVX512 ? peak_vnni(iters) : peak_avx2(iters);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    double ops_per_iter = isa == TK_ISA_AVX512 ? 12.0 * 64 * 2 : 8.0 * 32 * 2;
    double gops = ops_per_iter * iters * omp_get_max_threads() / best * 1e-9;
    printf("{\"bench\": \"int8_peak\", \"impl\": \"trit\", \"isa\": \"%s\", \"threads\": %d, \"gop_per_s\": %.1f, \"sink\": %d}\n", tk_isa_name(isa),
           omp_get_max_threads(), gops, (int)sink & 1);
    return gops;
}

// ---- ternary products ----

typedef struct {
    int M, K;
} shape;

static const shape shapes[] = {{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}};

static void random_ternary(int8_t *t, size_t n, rng *r) {
    for (size_t i = 0; i < n; i++) t[i] = (int8_t)((int)rng_below(r, 3) - 1);
}

// A file-format tensor of t (M, K) in `type`, in a new buffer.
static gguf_tensor file_tensor(uint32_t type, const int8_t *t, int M, int K) {
    size_t n = (size_t)M * K, bytes = type == GGUF_TYPE_I2_S ? tk_i2s_nbytes((int64_t)n) : n / 256 * (type == GGUF_TYPE_TQ2_0 ? 66 : 54);
    void *buf = tr_alloc_aligned(bytes);
    if (type == GGUF_TYPE_I2_S) tk_i2s_pack(buf, t, (int64_t)n, 1.5f);
    else if (type == GGUF_TYPE_TQ2_0) tk_tq2_0_pack(buf, t, (int64_t)n, 1.5f);
    else tk_tq1_0_pack(buf, t, (int64_t)n, 1.5f);
    return (gguf_tensor){.name = "w", .type = type, .n_dims = 2, .ne = {K, M, 1, 1}, .data = buf, .nbytes = bytes};
}

// One product per matrix of a list, all with the same activations: a pass of a decode measurement.
typedef struct {
    const tk_mat *w;
    int n;
    const tk_act *a;
    float *y;
    tk_isa isa;
} mat_pass;

static void run_mats(void *ctx) {
    const mat_pass *m = ctx;
    for (int i = 0; i < m->n; i++) tk_matmul(m->y, m->w[i].M, m->a, &m->w[i], m->isa);
}

static void bench_ternary(tk_isa isa, double peak, rng *r) {
    uint32_t types[] = {GGUF_TYPE_TQ2_0, GGUF_TYPE_I2_S, GGUF_TYPE_TQ1_0};
    for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
        int M = shapes[si].M, K = shapes[si].K;
        int8_t *t = malloc((size_t)M * K);
        random_ternary(t, (size_t)M * K, r);
        for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
            gguf_tensor g = file_tensor(types[ti], t, M, K);
            size_t bytes = (size_t)M * K / 4;
            int copies = (int)((512u << 20) / bytes) + 1;
            tk_mat *w = malloc(sizeof(tk_mat) * copies);
            tr_err err = {{0}};
            double t0 = now();
            if (tk_mat_from_tensor(&w[0], &g, NULL, "bench", &err)) { fprintf(stderr, "%s\n", err.msg); exit(1); }
            double load_ms = (now() - t0) * 1e3;
            printf("{\"bench\": \"ternary_load\", \"impl\": \"trit\", \"type\": \"%s\", \"threads\": %d, \"M\": %d, \"K\": %d, \"ms\": %.2f}\n",
                   gguf_type_name(types[ti]), omp_get_max_threads(), M, K, load_ms);
            for (int c = 1; c < copies; c++) {   // copies of the panels: same values, distinct memory
                w[c] = w[0];
                w[c].codes = tr_alloc_aligned(bytes + 64);
                memcpy(w[c].codes, w[0].codes, (size_t)w[0].panels * w[0].groups * 64);
            }
            int Ns[] = {1, 128, 512};
            for (int ni = 0; ni < 3; ni++) {
                int N = Ns[ni];
                float *x = malloc(sizeof(float) * (size_t)N * K), *y = malloc(sizeof(float) * (size_t)N * M);
                for (size_t i = 0; i < (size_t)N * K; i++) x[i] = rng_normal(r);
                tk_act a = {0};
                tk_act_quantize(&a, x, N, K);
                if (N == 1) {   // every copy once per pass: each call reads DRAM
                    mat_pass mp = {w, copies, &a, y, isa};
                    double bwp, pass = paired(&(work){run_mats, &mp}, quick ? 2 : 4, &bwp), us = pass / copies * 1e6, gbs = bytes / (us * 1e-6) * 1e-9;
                    printf("{\"bench\": \"ternary_matmul\", \"impl\": \"trit\", \"type\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"M\": %d, \"K\": %d, \"N\": 1, "
                           "\"us\": %.1f, \"gb_per_s\": %.2f, \"bandwidth_gb_per_s\": %.2f, \"of_bandwidth\": %.3f}\n",
                           gguf_type_name(types[ti]), tk_isa_name(isa), omp_get_max_threads(), M, K, us, gbs, bwp, gbs / bwp);
                } else {
                    double best = 1e30;
                    for (int rep = -1; rep < (quick ? 2 : 5); rep++) {
                        double t1 = now();
                        tk_matmul(y, M, &a, &w[0], isa);
                        double dt = now() - t1;
                        if (rep >= 0 && dt < best) best = dt;
                    }
                    double gops = 2.0 * N * M * K / best * 1e-9;
                    printf("{\"bench\": \"ternary_matmul\", \"impl\": \"trit\", \"type\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"M\": %d, \"K\": %d, \"N\": %d, "
                           "\"ms\": %.3f, \"gop_per_s\": %.1f, \"of_int8_peak\": %.3f}\n",
                           gguf_type_name(types[ti]), tk_isa_name(isa), omp_get_max_threads(), M, K, N, best * 1e3, gops, gops / peak);
                }
                fflush(stdout);
                tk_act_free(&a);
                free(x), free(y);
            }
            for (int c = 1; c < copies; c++) free(w[c].codes);
            tk_mat_free(&w[0]);
            free(w);
            free((void *)g.data);
            if (quick) break;   // one type per shape
        }
        free(t);
    }
}

typedef struct {
    const tk_mat *w;
    int n;
    const tk_act *a2560, *a6912;
    float *y;
    tk_isa isa;
} token_pass;

static void run_token(void *ctx) {
    const token_pass *t = ctx;
    for (int i = 0; i < t->n; i++) tk_matmul(t->y, t->w[i].M, t->w[i].K == 2560 ? t->a2560 : t->a6912, &t->w[i], t->isa);
}

// The 7 linears of 30 2B4T layers (0.52 GB of panels), each once per token, as decode reads them.
static void bench_decode_2b4t(tk_isa isa, rng *r) {
    const shape lin[7] = {{2560, 2560}, {640, 2560}, {640, 2560}, {2560, 2560}, {6912, 2560}, {6912, 2560}, {2560, 6912}};
    int L = 30, n = 7 * L;
    tk_mat *w = malloc(sizeof(tk_mat) * n);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const shape *s = &lin[i % 7];
        int8_t *t = malloc((size_t)s->M * s->K);
        random_ternary(t, (size_t)s->M * s->K, r);
        tk_mat_from_ternary(&w[i], t, s->M, s->K, 1.0f, NULL);
        bytes += (size_t)s->M * s->K / 4;
        free(t);
    }
    float *x = malloc(sizeof(float) * 6912), *y = malloc(sizeof(float) * 6912);
    for (int k = 0; k < 6912; k++) x[k] = rng_normal(r);
    tk_act a2560 = {0}, a6912 = {0};
    tk_act_quantize(&a2560, x, 1, 2560);
    tk_act_quantize(&a6912, x, 1, 6912);
    token_pass tp = {w, n, &a2560, &a6912, y, isa};
    double bw, best = paired(&(work){run_token, &tp}, quick ? 3 : 8, &bw), gbs = bytes / best * 1e-9;
    printf("{\"bench\": \"decode_2b4t\", \"impl\": \"trit\", \"isa\": \"%s\", \"threads\": %d, \"bytes\": %zu, \"ms\": %.2f, \"gb_per_s\": %.2f, "
           "\"bandwidth_gb_per_s\": %.2f, \"of_bandwidth\": %.3f}\n",
           tk_isa_name(isa), omp_get_max_threads(), bytes, best * 1e3, gbs, bw, gbs / bw);
    for (int i = 0; i < n; i++) tk_mat_free(&w[i]);
    free(w), free(x), free(y);
    tk_act_free(&a2560);
    tk_act_free(&a6912);
}

typedef struct {
    int q8, N, V, K;
    const float *x;
    tk_block_q8_0 *xq;
    float *y;
    const uint16_t *wf;
    const tk_block_q8_0 *wq;
    tk_isa isa;
} head_pass;

static void run_head(void *ctx) {   // Q8_0 includes quantizing the activations, as a decode step must
    const head_pass *h = ctx;
    if (h->q8) {
        for (int i = 0; i < h->N; i++) tk_q8_0_quantize(h->xq + (size_t)i * h->K / 32, h->x + (size_t)i * h->K, h->K);
        tk_matmul_q8_0(h->y, h->V, h->xq, h->N, h->wq, h->V, h->K, h->isa);
    } else {
        tk_matmul_float(h->y, h->V, h->x, h->N, h->wf, GGUF_TYPE_F16, h->V, h->K, h->isa);
    }
}

// The LM head of 2B4T: V = 128256 rows of 2560, F16 (as the file stores token_embd) and Q8_0.
static void bench_lm_head(tk_isa isa, rng *r) {
    int V = 128256, K = 2560;
    size_t n = (size_t)V * K;
    uint16_t *wf = tr_alloc_aligned(n * 2);
    tk_block_q8_0 *wq = tr_alloc_aligned(n / 32 * sizeof(tk_block_q8_0));
    float *row = malloc(sizeof(float) * K);
    for (int v = 0; v < V; v++) {
        for (int k = 0; k < K; k++) row[k] = 0.02f * rng_normal(r);
        tk_f16_from_f32(wf + (size_t)v * K, row, K);
        tk_q8_0_quantize(wq + (size_t)v * K / 32, row, K);
    }
    int Ns[] = {1, 128};
    for (int ni = 0; ni < (quick ? 1 : 2); ni++) {
        int N = Ns[ni];
        float *x = malloc(sizeof(float) * (size_t)N * K), *y = malloc(sizeof(float) * (size_t)N * V);
        tk_block_q8_0 *xq = malloc(sizeof(tk_block_q8_0) * (size_t)N * K / 32);
        for (size_t i = 0; i < (size_t)N * K; i++) x[i] = rng_normal(r);
        for (int q = 0; q < 2; q++) {
            head_pass hp = {q, N, V, K, x, xq, y, wf, wq, isa};
            size_t bytes = q ? n / 32 * sizeof(tk_block_q8_0) : n * 2;
            double bw = 0, best = 1e30;
            if (N == 1) best = paired(&(work){run_head, &hp}, 5, &bw);
            for (int rep = 0; N > 1 && rep < 2; rep++) {
                double t0 = now();
                run_head(&hp);
                double dt = now() - t0;
                best = dt < best ? dt : best;
            }
            if (N == 1)
                printf("{\"bench\": \"float_matmul\", \"impl\": \"trit\", \"type\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"M\": %d, \"K\": %d, "
                       "\"N\": 1, \"ms\": %.2f, \"gb_per_s\": %.2f, \"bandwidth_gb_per_s\": %.2f, \"of_bandwidth\": %.3f}\n",
                       q ? "Q8_0" : "F16", tk_isa_name(isa), omp_get_max_threads(), V, K, best * 1e3, bytes / best * 1e-9, bw, bytes / best * 1e-9 / bw);
            else
                printf("{\"bench\": \"float_matmul\", \"impl\": \"trit\", \"type\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"M\": %d, \"K\": %d, "
                       "\"N\": %d, \"ms\": %.1f, \"gflop_per_s\": %.1f}\n",
                       q ? "Q8_0" : "F16", tk_isa_name(isa), omp_get_max_threads(), V, K, N, best * 1e3, 2.0 * N * V * K / best * 1e-9);
            fflush(stdout);
        }
        free(x), free(y), free(xq);
    }
    free(wf), free(wq), free(row);
}

int main(int argc, char **argv) {
    tk_isa isa = tk_isa_best();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            const char *v = argv[++i];
            isa = !strcmp(v, "scalar") ? TK_ISA_SCALAR : !strcmp(v, "avx2") ? TK_ISA_AVX2 : TK_ISA_AVX512;
        } else {
            fprintf(stderr, "usage: kernels_bench [--isa scalar|avx2|avx512] [--quick]\n");
            return 2;
        }
    }
    if (!tk_isa_supported(isa)) {
        fprintf(stderr, "kernels_bench: the %s path is not supported on this CPU\n", tk_isa_name(isa));
        return 1;
    }
    rng r;
    rng_seed(&r, 1);
    mem_bandwidth();
    double peak = int8_peak(isa == TK_ISA_AVX512 ? TK_ISA_AVX512 : TK_ISA_AVX2);
    bench_decode_2b4t(isa, &r);
    bench_lm_head(isa, &r);
    bench_ternary(isa, peak, &r);
    free(bw_buf);
    return 0;
}
