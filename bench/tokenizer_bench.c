// tokenizer_bench.c: tokenizer speed, one JSON line per figure.
//
//   build/bench/tokenizer_bench [CORPUS...]      (from the repository root; default: data/corpus/*.txt)
//
// Figures: training an 8192-token BPE on the corpus (s, MB/s); loading tokenizer.json (s); encoding
// the corpus paragraph by paragraph (blank-line separated) with the Llama 3 tokenizer and the trained
// one, on 1 thread and on all threads (MB/s, tokens/s; best of 3). Then the same encode figures for
// @lenml/tokenizers in node (bench/tokenizer_lenml.js, "impl": "lenml") when node and `make deps` are there.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/bpe_train.h"
#include "data/tokenizer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *p;
    size_t n;
} para;

static char *read_all(const char *const *files, int nf, size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap);
    for (int i = 0; i < nf; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            fprintf(stderr, "tokenizer_bench: %s: cannot open\n", files[i]);
            exit(1);
        }
        size_t got;
        while ((got = fread(s + n, 1, cap - n, f)) > 0)
            if ((n += got) == cap) s = realloc(s, cap *= 2);
        fclose(f);
        if (n + 2 >= cap) s = realloc(s, cap *= 2);
        s[n++] = '\n', s[n++] = '\n';
    }
    *len = n;
    return s;
}

static para *paragraphs(const char *s, size_t len, size_t *np) {
    para *v = malloc((len / 2 + 1) * sizeof(para));
    size_t n = 0, start = 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '\n' && s[i + 1] == '\n') {
            if (i > start) v[n++] = (para){s + start, i - start};
            start = i + 2;
        }
    *np = n;
    return v;
}

// Best of 3: MB/s and tokens/s encoding every paragraph on `threads` threads.
static void encode_bench(const tok_tokenizer *t, const char *name, const para *v, size_t np, size_t bytes, int threads) {
    double best = 1e30;
    size_t tokens = 0;
    for (int rep = 0; rep < 3; rep++) {
        size_t ntok = 0;
        double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : ntok)
        {
            tok_ids ids = {0};
#pragma omp for schedule(dynamic, 64)
            for (size_t i = 0; i < np; i++) {
                ids.n = 0;
                tok_encode(t, v[i].p, v[i].n, &ids);
                ntok += ids.n;
            }
            tok_ids_free(&ids);
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
        tokens = ntok;
    }
    printf("{\"bench\": \"tokenizer_encode\", \"impl\": \"trit\", \"tokenizer\": \"%s\", \"threads\": %d, \"mb_per_s\": %.2f, "
           "\"tokens_per_s\": %.0f, \"bytes\": %zu, \"tokens\": %zu}\n",
           name, threads, (double)bytes / best / 1e6, (double)tokens / best, bytes, tokens);
    fflush(stdout);
}

static tok_tokenizer *load(const char *path, const char *name) {
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    double t0 = now();
    if (tok_load(&t, path, &err)) {
        fprintf(stderr, "tokenizer_bench: %s\n", err.msg);
        exit(1);
    }
    printf("{\"bench\": \"tokenizer_load\", \"tokenizer\": \"%s\", \"vocab\": %d, \"seconds\": %.3f}\n", name, tok_vocab_size(t), now() - t0);
    return t;
}

int main(int argc, char **argv) {
    const char *dflt[] = {"data/corpus/tinyshakespeare.txt", "data/corpus/tinystories_sample.txt"};
    const char *const *files = argc > 1 ? (const char *const *)argv + 1 : dflt;
    int nf = argc > 1 ? argc - 1 : 2, all = omp_get_max_threads();
    size_t len, np, bytes = 0;
    char *text = read_all(files, nf, &len);
    para *v = paragraphs(text, len, &np);
    for (size_t i = 0; i < np; i++) bytes += v[i].n;

    // train an 8192-token tokenizer on the corpus
    char tok8k[64];
    snprintf(tok8k, sizeof(tok8k), "/tmp/trit-bench-tok8k-%d.json", (int)getpid());
    tr_err err = {{0}};
    double t0 = now();
    bpe_trainer *b = bpe_trainer_init();
    for (size_t i = 0; i < np; i++) bpe_trainer_add(b, v[i].p, v[i].n);
    bpe_train(b, 8192);
    if (bpe_write(b, tok8k, &err)) {
        fprintf(stderr, "tokenizer_bench: %s\n", err.msg);
        return 1;
    }
    double dt = now() - t0;
    printf("{\"bench\": \"tokenizer_train\", \"vocab\": %d, \"merges\": %d, \"bytes\": %zu, \"seconds\": %.3f, \"mb_per_s\": %.2f}\n",
           bpe_vocab_size(b), bpe_n_merges(b), bytes, dt, (double)bytes / dt / 1e6);
    bpe_trainer_free(b);

    char l3[4096];
    int have_l3 = tok_path(l3, sizeof(l3), "llama3", &err) == 0;
    if (!have_l3) fprintf(stderr, "tokenizer_bench: %s (skipping llama3)\n", err.msg);
    const char *names[] = {"llama3", "trained-8k"}, *paths[] = {l3, tok8k};
    for (int k = have_l3 ? 0 : 1; k < 2; k++) {
        tok_tokenizer *t = load(paths[k], names[k]);
        encode_bench(t, names[k], v, np, bytes, 1);
        if (all > 1) encode_bench(t, names[k], v, np, bytes, all);
        tok_free(t);
    }

    // the peer, in the same run
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "command -v node >/dev/null && [ -d tools/node/node_modules/@lenml/tokenizers ] && node bench/tokenizer_lenml.js");
    for (int k = have_l3 ? 0 : 1; k < 2; k++) snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s=%s", names[k], paths[k]);
    for (int i = 0; i < nf; i++) snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", files[i]);
    fflush(stdout);
    if (system(cmd) != 0) fprintf(stderr, "tokenizer_bench: no @lenml/tokenizers figures (needs node and `make deps`)\n");
    unlink(tok8k);
    free(v);
    free(text);
    return 0;
}
