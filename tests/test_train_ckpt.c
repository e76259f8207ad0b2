// test_train_ckpt.c: HDF5 checkpoints: exact round trip of weights, moments, state, run config and tokenizer;
// weights-only files; every load error names the file and the problem; run-folder latest.h5 and pruning.
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/h5_io.h"
#include "tests/harness.h"
#include "train/checkpoint.h"

static bn_config tiny_config(void) {
    bn_config c = {.vocab_size = 37, .hidden_size = 16, .intermediate_size = 24, .n_layers = 2, .n_heads = 4,
                   .n_kv_heads = 2, .head_dim = 4, .max_pos = 32, .rms_norm_eps = 1e-5f, .rope_theta = 10000,
                   .tie_embeddings = 0, .bos_id = -1, .eos_id = -1};
    return c;
}

static void make_state(bn_model *m, opt_adamw *o, ckpt_state *s) {
    bn_config c = tiny_config();
    bn_model_init(m, &c, 1);
    bn_model_init_weights(m, 11, 0.02f);
    opt_segment *segs;
    int n = opt_model_segments(&segs, m, 0, 1);
    opt_init(o, m->n_floats, segs, n, 0.9, 0.95, 1e-8);
    free(segs);
    rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < o->n; i++) o->m[i] = rng_normal(&r), o->v[i] = rng_uniform(&r);
    o->t = 7;
    memset(s, 0, sizeof(*s));
    s->step = 7;
    s->tokens = 12345678901ULL;
    s->data_seed = 0xfedcba9876543210ULL;
    s->data_step = 14;
    rng_seed(&s->rng, 99);
    rng_u64(&s->rng);
}

static int same_params(const bn_model *a, const bn_model *b) {
    if (a->n_params != b->n_params || a->n_floats != b->n_floats) return 0;
    for (int i = 0; i < a->n_params; i++)
        if (memcmp(a->data + a->params[i].offset, b->data + b->params[i].offset, sizeof(float) * a->params[i].n)) return 0;
    return 1;
}

static void test_round_trip(void) {
    bn_model m, back;
    opt_adamw o;
    ckpt_state s, s2;
    make_state(&m, &o, &s);
    size_t big = 200000;   // bigger than an HDF5 compact attribute may be
    char *tok = malloc(big + 1);
    for (size_t i = 0; i < big; i++) tok[i] = (char)('a' + i % 26);
    tok[big] = '\0';
    tr_err err;
    const char *path = t_tmp("rt.h5");
    int rc = ckpt_write(path, &m, &o, &s, "{\"steps\": 7}", tok, &err);
    t_check(rc == 0 && access(t_tmp("rt.h5.tmp"), F_OK) != 0, "checkpoint written, no temporary left", "%s", rc ? err.msg : "tmp left");
    char *tok2 = NULL;
    rc = ckpt_read(path, &back, &s2, &tok2, &err);
    t_check(rc == 0, "checkpoint reads back", "%s", err.msg);
    if (rc) return;
    t_check(same_params(&m, &back) && back.grad != NULL, "weights identical (every tensor), with a gradient slab", "differ");
    const bn_config *a = &m.cfg, *b = &back.cfg;
    t_check(a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
                a->intermediate_size == b->intermediate_size && a->n_layers == b->n_layers && a->n_heads == b->n_heads &&
                a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim && a->max_pos == b->max_pos &&
                a->act == b->act && a->rms_norm_eps == b->rms_norm_eps && a->rope_theta == b->rope_theta &&
                a->tie_embeddings == b->tie_embeddings && a->bos_id == b->bos_id && a->eos_id == b->eos_id &&
                a->linear_class == b->linear_class && a->offline == b->offline,
            "model config identical", "differs");
    t_check(s2.step == 7 && s2.tokens == s.tokens && s2.data_seed == s.data_seed && s2.data_step == 14 &&
                !memcmp(s2.rng.s, s.rng.s, sizeof(s.rng.s)),
            "step, tokens, loader seed/step and RNG state identical", "state differs");
    t_check(tok2 && !strcmp(tok2, tok), "tokenizer text (200 kB) identical", "differs");
    opt_adamw o2;
    opt_segment *segs;
    int n = opt_model_segments(&segs, &back, 0, 1);
    opt_init(&o2, back.n_floats, segs, n, 0.9, 0.95, 1e-8);
    rc = ckpt_read_optim(path, &o2, &back, &err);
    int same = rc == 0 && o2.t == 7;
    for (int i = 0; same && i < m.n_params; i++) {
        size_t off = m.params[i].offset, k = m.params[i].n;
        same = !memcmp(o.m + off, o2.m + off, k * sizeof(float)) && !memcmp(o.v + off, o2.v + off, k * sizeof(float));
    }
    t_check(same, "AdamW moments and t identical", "%s", rc ? err.msg : "differ");
    hid_t f = h5_open(path, &err);
    char *rcfg = NULL;
    t_check(f >= 0 && h5_get_attr_str(f, "/train", "run_config", &rcfg, path, &err) == 0 && !strcmp(rcfg, "{\"steps\": 7}"),
            "run config stored as /train attribute", "%s", err.msg);
    free(rcfg);
    h5_close(f);
    bn_model w;
    rc = h5_load_model(&w, path, 0, &err);
    t_check(rc == 0 && same_params(&m, &w) && w.grad == NULL, "h5_load_model reads the weights of a checkpoint", "%s", err.msg);
    if (!rc) bn_model_free(&w);
    free(segs);
    opt_free(&o2);
    free(tok), free(tok2);
    bn_model_free(&back);
    bn_model_free(&m);
    opt_free(&o);
}

// Writes a weights-only file, then lets edit() damage a copy; the load must fail naming path and `want`.
static void expect_load_error(const char *name, void (*edit)(hid_t f), const char *want) {
    bn_model m;
    opt_adamw o;
    ckpt_state s;
    make_state(&m, &o, &s);
    tr_err err;
    const char *path = t_tmp("damaged.h5");
    hid_t f = h5_create(path, &err);
    h5_write_model(f, &m, path, &err);
    if (edit) edit(f);
    h5_close(f);
    bn_model back;
    memset(err.msg, 0, sizeof(err.msg));
    int rc = h5_load_model(&back, path, 0, &err);
    t_check(rc == -1 && strstr(err.msg, path) && strstr(err.msg, want), name, "rc %d, message '%s', want '%s'", rc, err.msg, want);
    if (!rc) bn_model_free(&back);
    bn_model_free(&m);
    opt_free(&o);
}

static void drop_dataset(hid_t f) { H5Ldelete(f, "/model/model.layers.1.mlp.up_proj.weight", H5P_DEFAULT); }
static void wrong_shape(hid_t f) {
    H5Ldelete(f, "/model/model.norm.weight", H5P_DEFAULT);
    float z[17] = {0};
    tr_err e;
    h5_write_f32(f, "/model/model.norm.weight", 1, (int[]){17}, z, "x", &e);
}
static void int_dataset(hid_t f) {
    H5Ldelete(f, "/model/model.norm.weight", H5P_DEFAULT);
    hsize_t d = 16;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(f, "/model/model.norm.weight", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds), H5Sclose(sp);
}
static void bad_format(hid_t f) { tr_err e; h5_set_attr_str(f, "/", "format", "something-else", "x", &e); }
static void new_version(hid_t f) { tr_err e; h5_set_attr_i64(f, "/", "format_version", 2, "x", &e); }
static void no_format(hid_t f) { H5Adelete(f, "format"); }
static void no_config(hid_t f) { H5Adelete_by_name(f, "/model", "config_json", H5P_DEFAULT); }
static void config_missing_key(hid_t f) {
    tr_err e;
    h5_set_attr_str(f, "/model", "config_json", "{\"vocab_size\": 37, \"hidden_size\": 16}", "x", &e);
}

static void test_load_errors(void) {
    tr_err err;
    bn_model m;
    t_check(h5_load_model(&m, t_tmp("nope.h5"), 0, &err) == -1 && strstr(err.msg, "nope.h5: cannot open"), "missing file",
            "%s", err.msg);
    t_write_file(t_tmp("text.h5"), "this is not HDF5\n", 17);
    t_check(h5_load_model(&m, t_tmp("text.h5"), 0, &err) == -1 && strstr(err.msg, "text.h5: not an HDF5 file"), "not HDF5",
            "%s", err.msg);
    expect_load_error("missing dataset named", drop_dataset, "missing dataset /model/model.layers.1.mlp.up_proj.weight");
    expect_load_error("wrong shape named", wrong_shape, "dataset /model/model.norm.weight has shape [17], expected [16]");
    expect_load_error("integer dataset refused", int_dataset, "/model/model.norm.weight is not a float dataset");
    expect_load_error("foreign format refused", bad_format, "format is 'something-else', expected 'trit-checkpoint'");
    expect_load_error("newer format_version refused", new_version, "format_version 2 is not one this trit reads");
    expect_load_error("no format attribute", no_format, "not a trit checkpoint");
    expect_load_error("missing config_json", no_config, "missing attribute 'config_json' on /model");
    expect_load_error("config_json with a missing key", config_missing_key, "config_json): key 'intermediate_size' is missing");
    // A truncated checkpoint (cut in the middle): an error, not a crash.
    bn_model w;
    opt_adamw o;
    ckpt_state s;
    make_state(&w, &o, &s);
    ckpt_write(t_tmp("full.h5"), &w, &o, &s, "{}", NULL, &err);
    FILE *in = fopen(t_tmp("full.h5"), "rb"), *out = fopen(t_tmp("cut.h5"), "wb");
    char buf[4096];
    size_t n, total = 0;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0 && total < 20000) fwrite(buf, 1, n, out), total += n;
    fclose(in), fclose(out);
    ckpt_state s2;
    int rc = ckpt_read(t_tmp("cut.h5"), &m, &s2, NULL, &err);
    t_check(rc == -1 && strstr(err.msg, "cut.h5"), "truncated checkpoint: error naming the file", "%s", err.msg);
    // Weights only: loadable as a model, refused as a training checkpoint.
    hid_t f = h5_create(t_tmp("weights.h5"), &err);
    h5_write_model(f, &w, t_tmp("weights.h5"), &err);
    h5_close(f);
    rc = ckpt_read(t_tmp("weights.h5"), &m, &s2, NULL, &err);
    t_check(rc == -1 && strstr(err.msg, "not a training checkpoint"), "weights-only file is no training checkpoint", "%s", err.msg);
    rc = ckpt_write(t_tmp("no/such/dir/x.h5"), &w, &o, &s, "{}", NULL, &err);
    t_check(rc == -1 && strstr(err.msg, "no/such/dir/x.h5.tmp: cannot create"), "unwritable folder: error, nothing written",
            "%s", err.msg);
    bn_model_free(&w);
    opt_free(&o);
}

static void test_run_folder(void) {
    bn_model m;
    opt_adamw o;
    ckpt_state s;
    make_state(&m, &o, &s);
    tr_err err;
    char run[512];
    snprintf(run, sizeof(run), "%s", t_tmp("run"));
    mkdir(run, 0777);
    t_write_file(t_tmp("run/ckpt_000009.h5.tmp"), "", 0);   // a crashed writer's leftover
    int ok = 1;
    char written[4200];
    for (int step = 1; step <= 4; step++) {
        s.step = step;
        ok &= ckpt_save_in(run, 2, &m, &o, &s, "{}", NULL, written, sizeof(written), &err) == 0;
    }
    char target[256] = {0};
    ssize_t tn = readlink(t_tmp("run/latest.h5"), target, sizeof(target) - 1);
    t_check(ok && tn > 0 && !strcmp(target, "ckpt_000004.h5") && strstr(written, "run/ckpt_000004.h5"),
            "latest.h5 links to the newest checkpoint", "%s / %s", err.msg, target);
    t_check(access(t_tmp("run/ckpt_000003.h5"), F_OK) == 0 && access(t_tmp("run/ckpt_000002.h5"), F_OK) != 0 &&
                access(t_tmp("run/ckpt_000001.h5"), F_OK) != 0,
            "keep_checkpoints 2 keeps the two newest", "pruning wrong");
    t_check(access(t_tmp("run/ckpt_000009.h5.tmp"), F_OK) != 0, "leftover temporary files removed", "still there");
    // Resumed from an older checkpoint: the one just written is never pruned, even when newer ones exist.
    s.step = 2;
    ok = ckpt_save_in(run, 1, &m, &o, &s, "{}", NULL, written, sizeof(written), &err) == 0;
    t_check(ok && access(t_tmp("run/ckpt_000002.h5"), F_OK) == 0, "the checkpoint just written survives pruning", "%s", err.msg);
    char *latest = ckpt_resolve(run);
    ckpt_state s2;
    bn_model back;
    int rc = ckpt_read(latest, &back, &s2, NULL, &err);
    t_check(rc == 0 && s2.step == 2, "a run folder resolves to its latest.h5", "%s", err.msg);
    if (!rc) bn_model_free(&back);
    free(latest);
    bn_model_free(&m);
    opt_free(&o);
}

int main(void) {
    test_round_trip();
    test_load_errors();
    test_run_folder();
    return t_done();
}
