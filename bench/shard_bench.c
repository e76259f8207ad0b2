// shard_bench.c: token shard speed, one JSON line per figure.
//
//   build/bench/shard_bench [N_TOKENS]     (from the repository root; default 20000000 tokens)
//
// Figures, on a generated Zipf-distributed id stream (vocabulary 32000, 2-byte ids; and 128256, 4-byte):
// shard write (checksum + zstd level 3 + atomic write; tokens/s, MB/s of raw ids, compression ratio),
// shard read (dl_open: read + decompress + checksum + id check of every shard, i.e. loader start-up;
// tokens/s) next to reading the same ids as an llm.c .bin ("impl": "llmc_bin": a mapped file and a scan
// for the largest id), and dl_batch (B=16, T=1024 random windows; tokens/s). Then `trit shard`'s
// pipeline on the bundled corpus with the Llama 3 tokenizer (read + tokenize + split + write; MB/s of
// text, tokens/s) when `make deps` has installed it. Best of 3 for each figure.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/progress.h"
#include "common/rng.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/tokenizer.h"

#define SHARD_TOKENS 10000000u

static char dir[64];

// Zipf(1.1)-like ids: a stream that compresses about as well as real BPE output.
static void *gen_ids(size_t n, uint32_t vocab, uint32_t width) {
    void *v = malloc(n * width);
    double *cdf = malloc(vocab * sizeof(double)), sum = 0;
    for (uint32_t i = 0; i < vocab; i++) cdf[i] = sum += 1.0 / pow(i + 1.0, 1.1);
    rng r;
    rng_seed(&r, 1234);
    for (size_t i = 0; i < n; i++) {
        double u = rng_uniform(&r) * sum;
        uint32_t lo = 0, hi = vocab - 1;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (cdf[mid] < u) lo = mid + 1;
            else hi = mid;
        }
        uint32_t id = (lo * 2654435761u) % vocab;   // frequent ids spread over the id space
        if (width == 2) ((uint16_t *)v)[i] = (uint16_t)id;
        else ((uint32_t *)v)[i] = id;
    }
    free(cdf);
    return v;
}

static void bench_stream(size_t n, uint32_t vocab) {
    uint32_t width = shard_width_for((int)vocab);
    void *ids = gen_ids(n, vocab, width);
    uint32_t count = (uint32_t)((n + SHARD_TOKENS - 1) / SHARD_TOKENS);
    char path[256];
    double best = 1e30;
    size_t zbytes = 0;
    tr_err err = {{0}};
    for (int rep = 0; rep < 3; rep++) {
        double t0 = progress_now();
        zbytes = 0;
        int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : zbytes, bad) private(path)
        for (uint32_t s = 0; s < count; s++) {
            size_t a = (size_t)s * SHARD_TOKENS, m = a + SHARD_TOKENS < n ? SHARD_TOKENS : n - a;
            shard_info info = {.width = width, .split = SHARD_TRAIN, .vocab_size = vocab, .eos = 0, .index = s,
                               .n_shards = count, .n_tokens = m, .n_docs = 1, .first_token = a};
            snprintf(path, sizeof(path), "%s/train_%06u.tzst", dir, s);
            tr_err e;
            bad += shard_write(path, &info, (char *)ids + a * width, 3, &e) != 0;
            zbytes += info.zsize + SHARD_HEADER_SIZE;
        }
        if (bad) {
            fprintf(stderr, "shard_bench: write failed\n");
            exit(1);
        }
        double t = progress_now() - t0;
        best = t < best ? t : best;
    }
    int th = omp_get_max_threads();
    printf("{\"bench\": \"shard_write\", \"impl\": \"trit\", \"vocab\": %u, \"width\": %u, \"tokens\": %zu, \"shards\": %u, "
           "\"threads\": %d, \"tokens_per_s\": %.0f, \"mb_per_s\": %.1f, \"compressed_over_raw\": %.3f}\n",
           vocab, width, n, count, th, n / best, n * width / best / 1e6, (double)zbytes / (double)(n * width));

    best = 1e30;
    dl_loader *l = NULL;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = progress_now();
        if (dl_open(&l, dir, "train", &err)) {
            fprintf(stderr, "shard_bench: %s\n", err.msg);
            exit(1);
        }
        double t = progress_now() - t0;
        best = t < best ? t : best;
        if (rep < 2) dl_close(l);
    }
    printf("{\"bench\": \"shard_read\", \"impl\": \"trit\", \"vocab\": %u, \"width\": %u, \"tokens\": %zu, \"threads\": %d, "
           "\"tokens_per_s\": %.0f, \"mb_per_s\": %.1f}\n",
           vocab, width, n, th, n / best, n * width / best / 1e6);

    // the same ids as one llm.c .bin file (uint16 only: llm.c's gpt-2 format)
    if (width == 2) {
        snprintf(path, sizeof(path), "%s/bench_train.bin", dir);
        FILE *fp = fopen(path, "wb");
        int32_t h[256] = {20240520, 1, (int32_t)n};
        if (!fp || fwrite(h, sizeof(h), 1, fp) != 1 || fwrite(ids, width, n, fp) != n || fclose(fp)) exit(1);
        double bb = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            dl_loader *b = NULL;
            double t0 = progress_now();
            if (dl_open(&b, path, "train", &err)) exit(1);
            double t = progress_now() - t0;
            bb = t < bb ? t : bb;
            dl_close(b);
        }
        unlink(path);
        printf("{\"bench\": \"shard_read\", \"impl\": \"llmc_bin\", \"vocab\": %u, \"width\": %u, \"tokens\": %zu, \"threads\": %d, "
               "\"tokens_per_s\": %.0f, \"mb_per_s\": %.1f}\n",
               vocab, width, n, th, n / bb, n * width / bb / 1e6);
    }

    enum { B = 16, T = 1024, STEPS = 2000 };
    int32_t *x = malloc(sizeof(int32_t) * B * T), *y = malloc(sizeof(int32_t) * B * T);
    best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = progress_now();
        for (int s = 0; s < STEPS; s++) dl_batch(l, 1, (uint64_t)(rep * STEPS + s), 0, B, T, x, y);
        double t = progress_now() - t0;
        best = t < best ? t : best;
    }
    printf("{\"bench\": \"dl_batch\", \"impl\": \"trit\", \"vocab\": %u, \"width\": %u, \"B\": %d, \"T\": %d, \"threads\": 1, "
           "\"tokens_per_s\": %.0f}\n",
           vocab, width, B, T, (double)B * T * STEPS / best);
    free(x);
    free(y);
    dl_close(l);
    for (uint32_t s = 0; s < count; s++) {
        snprintf(path, sizeof(path), "%s/train_%06u.tzst", dir, s);
        unlink(path);
    }
    free(ids);
}

static void bench_build(void) {
    char path[4096];
    tr_err err = {{0}};
    tok_tokenizer *tok = NULL;
    if (tok_path(path, sizeof(path), "llama3", &err) || tok_load(&tok, path, &err)) {
        fprintf(stderr, "shard_bench: skipping shard_build: %s\n", err.msg);
        return;
    }
    const char *in[2] = {"data/corpus/tinyshakespeare.txt", "data/corpus/tinystories_sample.txt"};
    char out[128];
    snprintf(out, sizeof(out), "%s/built", dir);
    shard_build_opts o = {.out_dir = out, .tokenizer_path = path, .val_fraction = 0.1, .quiet = 1};
    shard_build_stats st, best = {0};
    best.seconds = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        if (shard_build(tok, in, 2, &o, &st, &err)) {
            fprintf(stderr, "shard_bench: %s\n", err.msg);
            exit(1);
        }
        if (st.seconds < best.seconds) best = st;
    }
    size_t tokens = best.tokens[0] + best.tokens[1];
    printf("{\"bench\": \"shard_build\", \"impl\": \"trit\", \"tokenizer\": \"llama3\", \"bytes\": %zu, \"tokens\": %zu, "
           "\"threads\": %d, \"mb_per_s\": %.2f, \"tokens_per_s\": %.0f}\n",
           best.bytes_in, tokens, omp_get_max_threads(), best.bytes_in / best.seconds / 1e6, tokens / best.seconds);
    tok_free(tok);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", out);
    if (system(cmd) != 0) fprintf(stderr, "shard_bench: cannot remove %s\n", out);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 20000000u;
    if (n < 2048) n = 2048;
    snprintf(dir, sizeof(dir), "/tmp/trit-shard-bench-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    bench_stream(n, 32000);
    bench_stream(n, 128256);
    bench_build();
    rmdir(dir);
    return 0;
}
