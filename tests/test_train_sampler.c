// test_train_sampler.c: greedy / temperature / top-k / top-p sampling frequencies, generation with the
// autograd model (deterministic, windowed context, stop token), and the loss.svg plot.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "train/plot.h"
#include "train/sampler.h"

#define DRAWS 40000

// Frequencies of smp_pick over DRAWS draws from logits log(p).
static void freqs(const float *p, int V, smp_params prm, double *f) {
    float logits[8];
    smp_cand cand[8];
    for (int i = 0; i < V; i++) logits[i] = logf(p[i]), f[i] = 0;
    rng r;
    rng_seed(&r, 42);
    for (int k = 0; k < DRAWS; k++) f[smp_pick(logits, V, &prm, &r, cand)] += 1.0 / DRAWS;
}

static void test_pick(void) {
    const float p[4] = {0.2f, 0.5f, 0.1f, 0.2f};
    double f[4];
    freqs(p, 4, (smp_params){.temperature = 1, .top_p = 1}, f);
    double worst = 0;
    for (int i = 0; i < 4; i++) worst = fmax(worst, fabs(f[i] - p[i]));
    t_check(worst < 0.01, "temperature 1 samples the softmax", "max deviation %.4f", worst);
    freqs(p, 4, (smp_params){.temperature = 2, .top_p = 1}, f);
    double z = sqrt(0.2) * 2 + sqrt(0.5) + sqrt(0.1);
    t_check(fabs(f[1] - sqrt(0.5) / z) < 0.01 && fabs(f[2] - sqrt(0.1) / z) < 0.01, "temperature 2 flattens (p^(1/2))",
            "%.3f %.3f", f[1], f[2]);
    freqs(p, 4, (smp_params){.temperature = 1, .top_k = 2, .top_p = 1}, f);
    // top 2: 0.5 and the first 0.2 (ties: lower id first)
    t_check(f[2] == 0 && f[3] == 0 && fabs(f[1] - 0.5 / 0.7) < 0.01, "top-k 2 keeps the two most likely (ties: lower id)",
            "%.3f %.3f %.3f %.3f", f[0], f[1], f[2], f[3]);
    freqs(p, 4, (smp_params){.temperature = 1, .top_p = 0.6f}, f);
    t_check(f[2] == 0 && f[3] == 0 && fabs(f[1] - 0.5 / 0.7) < 0.01, "top-p 0.6 keeps 0.5 + 0.2, the prefix reaching 0.6",
            "%.3f %.3f %.3f %.3f", f[0], f[1], f[2], f[3]);
    freqs(p, 4, (smp_params){.temperature = 1, .top_p = 0.01f}, f);
    t_check(f[1] > 0.999999, "tiny top-p is greedy", "%.3f", f[1]);
    freqs(p, 4, (smp_params){.temperature = 0, .top_p = 1}, f);
    t_check(f[1] > 0.999999, "temperature 0 is argmax", "%.3f", f[1]);
    const float tie[3] = {0.4f, 0.2f, 0.4f};
    freqs(tie, 3, (smp_params){.temperature = 0, .top_p = 1}, f);
    t_check(f[0] > 0.999999, "greedy ties pick the lower id", "%.3f", f[0]);
}

typedef struct {
    int32_t ids[64];
    int n;
} sink;

static int collect(int32_t id, void *ud) {
    sink *s = ud;
    s->ids[s->n++] = id;
    return 0;
}

static void test_generate(void) {
    bn_config c = {.vocab_size = 50, .hidden_size = 32, .intermediate_size = 40, .n_layers = 2, .n_heads = 4,
                   .n_kv_heads = 2, .head_dim = 8, .max_pos = 8, .rms_norm_eps = 1e-5f, .rope_theta = 1e4,
                   .tie_embeddings = 1, .bos_id = -1, .eos_id = -1};
    bn_model m;
    bn_model_init(&m, &c, 0);
    bn_model_init_weights(&m, 5, 0.5f);
    int32_t prompt[20];
    for (int i = 0; i < 20; i++) prompt[i] = (i * 7) % 50;
    smp_params greedy = {.temperature = 0, .top_p = 1}, warm = {.temperature = 1, .top_k = 10, .top_p = 0.9f};
    sink a = {0}, b = {0}, d = {0}, e = {0};
    int na = smp_generate(&m, prompt, 20, 30, &greedy, 1, -1, collect, &a);   // prompt longer than max_pos 8
    int nb = smp_generate(&m, prompt, 20, 30, &greedy, 2, -1, collect, &b);
    t_check(na == 30 && nb == 30 && !memcmp(a.ids, b.ids, sizeof(a.ids)), "greedy generation is deterministic, context windowed",
            "%d %d", na, nb);
    smp_generate(&m, prompt, 3, 30, &warm, 9, -1, collect, &d);
    smp_generate(&m, prompt, 3, 30, &warm, 9, -1, collect, &e);
    int differs = memcmp(a.ids, d.ids, sizeof(a.ids)) != 0, in_range = 1;
    for (int i = 0; i < 30; i++) in_range &= d.ids[i] >= 0 && d.ids[i] < 50;
    t_check(!memcmp(d.ids, e.ids, sizeof(d.ids)) && in_range && differs, "sampling: same seed, same text; ids in range", "differs %d in_range %d", differs, in_range);
    sink s = {0};
    int first = 0;   // where the greedy text first produces the token a.ids[3]
    while (a.ids[first] != a.ids[3]) first++;
    int ns = smp_generate(&m, prompt, 20, 30, &greedy, 1, a.ids[3], collect, &s);
    t_check(ns == first && !memcmp(s.ids, a.ids, (size_t)first * sizeof(int32_t)),
            "generation stops at the stop token (not emitted)", "%d tokens, want %d", ns, first);
    bn_model_free(&m);
}

static void test_plot(void) {
    const char *path = t_tmp("loss.svg");
    metrics_row rows[300];
    for (int i = 0; i < 300; i++) {
        rows[i] = (metrics_row){.step = i + 1, .loss = 4.0 * exp(-i / 80.0) + 1.5 + 0.1 * sin(i), .lr = 1e-3};
        if ((i + 1) % 50 == 0) rows[i].has_val = 1, rows[i].val_loss = rows[i].loss + 0.1;
    }
    tr_err err;
    int rc = plot_loss_svg(path, rows, 300, "a & b <run>", &err);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 1 << 20);
    size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f) fclose(f);
    int lines = 0;
    for (char *p = buf; (p = strstr(p, "<polyline")); p++) lines++;
    t_check(rc == 0 && n > 0 && strstr(buf, "<svg") && strstr(buf, "</svg>"), "loss.svg written", "%s", rc ? err.msg : "empty");
    t_check(lines == 3 && strstr(buf, ">validation<") && strstr(buf, ">train (smoothed)<") && strstr(buf, ">step<"),
            "three curves, a legend and axis labels", "%d polylines", lines);
    t_check(strstr(buf, "a &amp; b &lt;run&gt;") != NULL, "title escaped", "no escaped title");
    t_check(strstr(buf, ">300</text>") && strstr(buf, ">1.5</text>"), "ticks at nice numbers (x to 300, y by 0.5)", "ticks missing");
    rc = plot_loss_svg(path, rows, 0, "x", &err);
    t_check(rc == -1 && strstr(err.msg, "no training steps"), "no rows: an error", "%s", err.msg);
    free(buf);
}

int main(void) {
    test_pick();
    test_generate();
    test_plot();
    return t_done();
}
