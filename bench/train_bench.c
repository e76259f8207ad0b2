// train_bench.c: forward+backward throughput of the BitNet training graph, and the OpenBLAS sgemm peak.
// Prints one JSON line per figure. Cases match bench/torch_train_bench.py:
//   small: configs/shakespeare-char-model.json (4 layers, 128 wide, 4 heads / 4 KV heads, intermediate 344,
//          byte vocabulary 259, relu2, tied); B=12, T=64 (run from the repository root)
//   block: one 2B4T-sized decoder layer (2560 wide, 6912 intermediate, 20 heads / 5 KV heads, relu2,
//          vocab 256, tied) at B=1, T=256
// Usage: train_bench [--case small|block|sgemm|all] [--iters N] [--batch B]
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "model/bitnet.h"
#include "model/config.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_model(const char *name, const bn_config *cfg, int B, int T, int iters) {
    bn_model m;
    bn_model_init(&m, cfg, 1);
    bn_model_init_weights(&m, 1, 0.02f);
    int N = B * T, *ids = malloc(sizeof(int) * N), *labels = malloc(sizeof(int) * N);
    rng r;
    rng_seed(&r, 2);
    for (int i = 0; i < N; i++) ids[i] = (int)rng_below(&r, cfg->vocab_size), labels[i] = (int)rng_below(&r, cfg->vocab_size);
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    double *ms = malloc(sizeof(double) * iters);
    for (int it = -3; it < iters; it++) {   // 3 warm-up steps
        double t0 = now();
        ag_reset(&ctx);
        bn_model_zero_grad(&m);
        ag_tensor *logits = bn_forward(&ctx, &m, NULL, ids, B, T);
        int s2[2] = {N, cfg->vocab_size};
        ag_tensor *loss = ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, s2), labels, -100);
        ag_backward(&ctx, loss);
        bn_model_grad_ready(&m);
        if (it >= 0) ms[it] = (now() - t0) * 1e3;
    }
    qsort(ms, iters, sizeof(double), cmp_double);
    double med = ms[iters / 2], flops = bn_train_flops(cfg, B, T);
    printf("{\"bench\": \"%s\", \"impl\": \"trit\", \"threads\": %d, \"tokens_per_s\": %.1f, \"ms_per_step\": %.3f, "
           "\"min_ms_per_step\": %.3f, \"gflops\": %.2f, \"arena_mb\": %.1f}\n",
           name, omp_get_max_threads(), N / (med * 1e-3), med, ms[0], flops / (med * 1e-3) * 1e-9,
           arena_capacity(&ctx.mem) / 1048576.0);
    fflush(stdout);
    free(ms), free(ids), free(labels);
    ag_free(&ctx);
    bn_model_free(&m);
}

static void bench_sgemm(int n, int iters) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = 1e-3f * (i % 17), b[i] = 1e-3f * (i % 13);
    double best = 1e30;
    for (int it = 0; it < iters + 1; it++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double dt = now() - t0;
        if (it && dt < best) best = dt;
    }
    printf("{\"bench\": \"sgemm_peak\", \"impl\": \"openblas\", \"threads\": %d, \"n\": %d, \"gflops\": %.1f}\n",
           omp_get_max_threads(), n, 2.0 * n * n * n / best * 1e-9);
    fflush(stdout);
    free(a), free(b), free(c);
}

int main(int argc, char **argv) {
    const char *which = "all";
    int iters = 10, batch = 12;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--case")) which = argv[i + 1];
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);   // the small case's B (12 in make bench)
    }
    if (iters < 1) iters = 1;
    if (batch < 1) batch = 1;
    int all = !strcmp(which, "all");
    if (all || !strcmp(which, "sgemm")) bench_sgemm(1024, 5);
    if (all || !strcmp(which, "small")) {   // the shakespeare-char model (configs/shakespeare-char.json)
        bn_config c;
        tr_err err;
        if (bn_config_load(&c, "configs/shakespeare-char-model.json", &err)) {
            fprintf(stderr, "train_bench: %s\n", err.msg);
            return 1;
        }
        bench_model("train_small", &c, batch, 64, iters * 3);
    }
    if (all || !strcmp(which, "block")) {
        bn_config c = {.vocab_size = 256, .hidden_size = 2560, .intermediate_size = 6912, .n_layers = 1, .n_heads = 20,
                       .n_kv_heads = 5, .head_dim = 128, .max_pos = 4096, .act = BN_ACT_RELU2, .rms_norm_eps = 1e-5f,
                       .rope_theta = 500000, .tie_embeddings = 1, .bos_id = -1, .eos_id = -1};
        bench_model("block_2b4t", &c, 1, 256, iters);
    }
    return 0;
}
