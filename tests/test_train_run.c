// test_train_run.c: the training loop on a tiny model and tiny data (llm.c .bin files written here):
// it learns; resume is bit-exact (200 steps straight == 100, stop, resume, 100: same weights, moments and
// per-step losses, also with gradient accumulation and random validation batches); metrics.jsonl is trimmed
// on resume; setup errors name the file and the problem.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/rng.h"
#include "model/h5_io.h"
#include "tests/harness.h"
#include "train/checkpoint.h"
#include "train/loop.h"
#include "train/metrics.h"

#define V 37

// Writes text to NAME in the test's folder.
static void write_text(const char *name, const char *text) { t_write_file(t_tmp(name), text, strlen(text)); }

// An llm.c token file: 256 x int32 header (magic 20240520, version 1, count), then uint16 tokens from a
// noisy Markov chain (next = 7 * prev + 3 mod V, 10% random), which a tiny model can learn.
static void write_bin(const char *name, int n, uint64_t seed, int max_id) {
    int32_t h[256] = {20240520, 1, n};
    size_t bytes = sizeof(h) + sizeof(uint16_t) * (size_t)n;
    unsigned char *b = malloc(bytes);
    memcpy(b, h, sizeof(h));
    uint16_t *tok = (uint16_t *)(b + sizeof(h));
    rng r;
    rng_seed(&r, seed);
    int prev = 1;
    for (int i = 0; i < n; i++) prev = tok[i] = (uint16_t)(rng_uniform(&r) < 0.1f ? (int)rng_below(&r, V) : (7 * prev + 3) % V);
    if (max_id >= 0) tok[n / 2] = (uint16_t)max_id;
    t_write_file(t_tmp(name), b, bytes);
    free(b);
}

static const char *model_json = "{\"vocab_size\": 37, \"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2,"
                                " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"hidden_act\": \"relu2\","
                                " \"max_position_embeddings\": 32, \"tie_word_embeddings\": true}";

// Writes NAME.json: the tiny run, with `extra` keys appended.
static void write_config(const char *name, const char *data, const char *extra) {
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"model\": %s, \"data\": \"%s\", \"batch_size\": 4, \"seq_len\": 16, \"steps\": 200, \"lr\": 3e-3,"
             " \"warmup_steps\": 10, \"betas\": [0.9, 0.99], \"eval_every\": 50, \"eval_batches\": 4,"
             " \"ckpt_every\": 100, \"keep_checkpoints\": 0, \"seed\": 7%s}",
             model_json, data, extra);
    char file[128];
    snprintf(file, sizeof(file), "%s.json", name);
    write_text(file, text);
}

static int run(const char *config, const char *out, const char *resume, int64_t stop_after, train_result *res, tr_err *err) {
    runcfg c;
    if (runcfg_load(&c, t_tmp(config), t_tmp(out), err)) return -1;
    train_opts o = {.resume = resume ? t_tmp(resume) : NULL, .quiet = 1, .stop_after = stop_after};
    int rc = train_run(&c, &o, res, err);
    runcfg_free(&c);
    return rc;
}

// Compares two run folders' final checkpoints (weights and moments bit for bit) and metrics (every field
// but tokens_per_s, exactly; b's metrics cover steps from..200, a's 1..200).
static void compare_runs(const char *a, const char *b, int64_t from, const char *what) {
    char pa[512], pb[512], name[256];
    tr_err err;
    bn_model ma, mb;
    ckpt_state sa, sb;
    snprintf(pa, sizeof(pa), "%s/%s/latest.h5", t_tmpdir(), a);
    snprintf(pb, sizeof(pb), "%s/%s/latest.h5", t_tmpdir(), b);
    int ok = ckpt_read(pa, &ma, &sa, NULL, &err) == 0 && ckpt_read(pb, &mb, &sb, NULL, &err) == 0;
    if (!ok) {
        t_check(0, what, "%s", err.msg);
        return;
    }
    opt_segment *segs;
    int n = opt_model_segments(&segs, &ma, 0, 1);
    opt_adamw oa, ob;
    opt_init(&oa, ma.n_floats, segs, n, 0.9, 0.99, 1e-8);
    opt_init(&ob, mb.n_floats, segs, n, 0.9, 0.99, 1e-8);
    ok = ckpt_read_optim(pa, &oa, &ma, &err) == 0 && ckpt_read_optim(pb, &ob, &mb, &err) == 0;
    ok = ok && sa.step == 200 && sb.step == 200 && !memcmp(ma.data, mb.data, sizeof(float) * ma.n_floats) &&
         !memcmp(oa.m, ob.m, sizeof(float) * oa.n) && !memcmp(oa.v, ob.v, sizeof(float) * oa.n) &&
         sa.data_step == sb.data_step && !memcmp(sa.rng.s, sb.rng.s, sizeof(sa.rng.s));
    snprintf(name, sizeof(name), "%s: identical weights, moments, loader and RNG state at step 200", what);
    t_check(ok, name, "%s", err.msg);
    metrics_row *ra = NULL, *rb = NULL;
    int na = 0, nb = 0, same = 1, vals = 0;
    snprintf(pa, sizeof(pa), "%s/%s/metrics.jsonl", t_tmpdir(), a);
    snprintf(pb, sizeof(pb), "%s/%s/metrics.jsonl", t_tmpdir(), b);
    metrics_read(pa, &ra, &na, &err);
    metrics_read(pb, &rb, &nb, &err);
    same = na == 200 && nb == 201 - from;
    for (int j = 0; same && j < nb; j++) {
        const metrics_row *x = &ra[from - 1 + j], *y = &rb[j];
        same = x->step == from + j && y->step == from + j && x->loss == y->loss && x->lr == y->lr &&
               x->grad_norm == y->grad_norm && x->has_val == y->has_val && x->val_loss == y->val_loss;
        vals += y->has_val;
    }
    snprintf(name, sizeof(name), "%s: identical per-step losses, lr, grad norms and val losses", what);
    t_check(same && vals == (from == 1 ? 4 : 2), name, "%d and %d lines, %d evaluations", na, nb, vals);
    free(ra), free(rb), free(segs);
    opt_free(&oa), opt_free(&ob);
    bn_model_free(&ma), bn_model_free(&mb);
}

static void test_learns_and_resumes(void) {
    tr_err err;
    train_result r;
    write_config("run", "data", "");
    int rc = run("run.json", "straight", NULL, 0, &r, &err);
    t_check(rc == 0 && r.step == 200 && r.has_val, "200 steps run", "%s", err.msg);
    // Markov data: the entropy is about 0.1 * ln 37 + H(0.9) ~ 0.69 nats, far below ln 37 = 3.61.
    t_check(rc == 0 && r.val_loss < 2.0 && r.loss < 2.0, "the model learns (val loss well below ln V = 3.61)",
            "loss %.3f, val %.3f", r.loss, r.val_loss);
    rc = run("run.json", "split", NULL, 100, &r, &err);
    t_check(rc == 0 && r.stopped && r.step == 100, "--stop-after 100 stops with a checkpoint", "%s", err.msg);
    rc = run("run.json", "split", "split", 0, &r, &err);
    t_check(rc == 0 && r.first_step == 100 && r.step == 200, "resume from the run folder runs steps 101..200", "%s", err.msg);
    compare_runs("straight", "split", 1, "100 + resume + 100 == 200 straight");
    // The same with gradient accumulation, resuming from the straight run's step-100 checkpoint.
    write_config("accum", "data", ", \"grad_accum\": 2, \"clip\": 0.5");
    rc = run("accum.json", "accum_a", NULL, 0, &r, &err) || run("accum.json", "accum_b", "accum_a/ckpt_000100.h5", 0, &r, &err);
    t_check(rc == 0, "grad_accum 2 runs, and resumes from a checkpoint file", "%s", err.msg);
    compare_runs("accum_a", "accum_b", 101, "grad_accum 2, resumed from ckpt_000100.h5");
}

static void test_metrics_trim(void) {
    const char *p = t_tmp("m.jsonl");
    write_text("m.jsonl", "{\"step\": 1, \"loss\": 3}\n{\"step\": 2, \"loss\": 2.5, \"val_loss\": 2.6}\n{\"step\": 3, \"loss\": 2}\n{\"step\": 4, \"lo");
    tr_err err;
    metrics_row *rows = NULL;
    int n = 0;
    t_check(metrics_read(p, &rows, &n, &err) == 0 && n == 3 && rows[1].has_val && rows[1].val_loss == 2.6,
            "metrics: a line cut short by a crash is skipped", "%d rows", n);
    free(rows);
    FILE *out = NULL;
    metrics_open(&out, p, 2, &err);
    metrics_row r = {.step = 3, .loss = 1.5, .lr = 1e-3, .tokens_per_s = 10, .grad_norm = 0.5};
    metrics_append(out, &r, p, &err);
    fclose(out);
    metrics_read(p, &rows, &n, &err);
    t_check(n == 3 && rows[0].step == 1 && rows[1].step == 2 && rows[2].step == 3 && rows[2].loss == 1.5,
            "metrics: resuming at step 2 drops the later lines, then appends", "%d rows", n);
    free(rows);
}

// train_run fails with a message containing `want`.
static void expect_error(const char *name, const char *config, const char *out, const char *resume, const char *want) {
    tr_err err = {{0}};
    train_result r;
    int rc = run(config, out, resume, 0, &r, &err);
    t_check(rc == -1 && strstr(err.msg, want), name, "rc %d, '%s', want '%s'", rc, err.msg, want);
}

static void test_setup_errors(void) {
    expect_error("a fresh run refuses a folder holding a run", "run.json", "straight", NULL, "straight/latest.h5: the folder already holds a run");
    expect_error("resume past the last step refused", "run.json", "x", "straight", "already at step 200");
    write_config("wide", "data", "");
    char text[2048];
    snprintf(text, sizeof(text), "%s", model_json);
    char *p = strstr(text, "\"hidden_size\": 32");
    memcpy(p, "\"hidden_size\": 64", 17);
    char cfg[3000];
    snprintf(cfg, sizeof(cfg), "{\"model\": %s, \"data\": \"data\", \"batch_size\": 4, \"seq_len\": 16, \"steps\": 300, \"lr\": 1e-3}", text);
    write_text("wide.json", cfg);
    expect_error("resume with another model refused", "wide.json", "w", "straight/ckpt_000100.h5", "the checkpoint's hidden_size is 32 but");
    mkdir(t_tmp("bigid"), 0777);
    write_bin("bigid/x_train_000.bin", 3000, 1, 40);
    write_bin("bigid/x_val_000.bin", 500, 2, -1);
    write_config("bigid", "bigid", "");
    expect_error("token id outside the vocabulary", "bigid.json", "b", NULL, "token id 40 in the train split is outside the model's vocabulary (vocab_size 37");
    mkdir(t_tmp("short"), 0777);
    write_bin("short/x_train_000.bin", 3000, 1, -1);
    write_bin("short/x_val_000.bin", 10, 2, -1);
    write_config("short", "short", "");
    expect_error("a split shorter than seq_len + 1", "short.json", "s", NULL, "the val split has 10 tokens; seq_len 16 needs at least 17");
    write_config("nodata", "missing-folder", "");
    expect_error("missing data folder", "nodata.json", "n", NULL, "missing-folder");
    write_config("badtok", "data", ", \"tokenizer\": \"nope.json\"");
    expect_error("missing tokenizer file", "badtok.json", "t", NULL, "nope.json: cannot open");
}

int main(void) {
    mkdir(t_tmp("data"), 0777);
    write_bin("data/tiny_train_000.bin", 20000, 1, -1);
    write_bin("data/tiny_val_000.bin", 2000, 2, -1);   // 124 windows of 17 > 4 x 4: random eval batches
    test_learns_and_resumes();
    test_metrics_trim();
    test_setup_errors();
    return t_done();
}
