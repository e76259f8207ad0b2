// test_engine_load.c: the engine's loader on bad files: an unknown architecture, a missing key, a missing
// tensor, shapes that do not match the hyperparameters, a float linear that is not ternary, an unknown
// hidden_activation, heads that do not divide: each a one-line error naming the file and the problem (and,
// under `make asan`, nothing leaked). Also the files that must load: optional keys absent or present.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/test_engine_fixture.h"

static fx_spec base(void) {
    fx_spec s = {.arch = "bitnet", .act = "relu2", .L = 2, .C = 256, .I = 512, .H = 4, .Hkv = 2, .V = 300, .ctx = 64,
                 .lin_type = GGUF_TYPE_TQ2_0, .embd_type = GGUF_TYPE_F16, .seed = 5};
    return s;
}

// Loads the file of spec s; returns the loader's status and its message in err. With out, the model and its
// open file (*gout: close it after the model) are handed back.
static int load(const fx_spec *s, tr_err *err, eng_model *out, gguf_file **gout) {
    fx_model f;
    fx_build(&f, s);
    const char *path = t_tmp("m.gguf");
    gguf_file *g = NULL;
    eng_model m;
    int rc = fx_write(&f, path, err);
    if (!rc) rc = gguf_open(&g, path, err);
    if (!rc) rc = eng_model_load(&m, g, err);
    if (!rc && out) *out = m, *gout = g, g = NULL;
    else if (!rc) eng_model_free(&m);
    gguf_close(g);
    fx_free(&f);
    unlink(path);
    return rc;
}

// The load fails with one line that names the file and matches every fragment in want (NULL-terminated).
static void expect_error(const char *name, const fx_spec *s, const char *const *want) {
    tr_err err = {{0}};
    int rc = load(s, &err, NULL, NULL);
    int ok = rc == -1 && strstr(err.msg, t_tmpdir()) && !strchr(err.msg, '\n');
    for (int i = 0; ok && want[i]; i++) ok = strstr(err.msg, want[i]) != NULL;
    char full[1400];
    snprintf(full, sizeof(full), "%s: %s", name, err.msg);
    t_check(ok, full, "status %d, message '%s'", rc, err.msg);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

int main(void) {
    fx_spec s = base();
    s.arch = "llama";
    expect_error("unknown architecture", &s, WANT("unknown architecture 'llama'"));
    s = base(), s.skip_key = "general.architecture";
    expect_error("no architecture key", &s, WANT("general.architecture", "missing"));
    s = base(), s.skip_key = "bitnet.block_count";
    expect_error("missing key", &s, WANT("key 'bitnet.block_count' is missing"));
    s = base(), s.skip_key = "bitnet.attention.layer_norm_rms_epsilon";
    expect_error("missing float key", &s, WANT("bitnet.attention.layer_norm_rms_epsilon", "missing"));
    s = base(), s.skip_tensor = "blk.1.ffn_down.weight";
    expect_error("missing linear", &s, WANT("missing tensor 'blk.1.ffn_down.weight'"));
    s = base(), s.skip_tensor = "blk.0.attn_sub_norm.weight";
    expect_error("missing norm", &s, WANT("missing tensor 'blk.0.attn_sub_norm.weight'"));
    s = base(), s.skip_tensor = "token_embd.weight";
    expect_error("missing token_embd", &s, WANT("missing tensor 'token_embd.weight'"));
    s = base(), s.skip_tensor = "output_norm.weight";
    expect_error("missing output_norm", &s, WANT("missing tensor 'output_norm.weight'"));
    s = base(), s.ff_key_delta = 256;
    expect_error("shape against feed_forward_length", &s, WANT("tensor 'blk.0.ffn_sub_norm.weight' has shape [512, 1, 1, 1], want [768]"));
    s = base(), s.heads_key_delta = 4, s.skip_key = "bitnet.rope.dimension_count";   // 8 heads of 32: attn_k wants 2 x 32 rows
    expect_error("linear shape against head_count", &s, WANT("tensor 'blk.0.attn_k.weight' has shape [256, 128, 1, 1], want [256, 64]"));
    s = base(), s.lin_type = GGUF_TYPE_F16, s.bad_value = 1;
    expect_error("float linear that is not ternary", &s, WANT("tensor 'blk.0.attn_q.weight' (F16) is not ternary"));
    s = base(), s.act = "gelu";
    expect_error("unknown activation", &s, WANT("key 'bitnet.hidden_activation' is 'gelu', want relu2 or silu"));
    s = base(), s.H = 4, s.Hkv = 3;
    expect_error("kv heads that do not divide", &s, WANT("head_count 4 is not a multiple of head_count_kv 3"));
    s = base(), s.lin_type = GGUF_TYPE_I2_S, s.C = 192, s.I = 384, s.H = 3, s.Hkv = 1;
    expect_error("I2_S rows not a multiple of 128", &s, WANT("is I2_S with rows of 192 elements, not a multiple of 128"));

    // files that load: no optional keys, scale tensors, untied head, every type
    eng_model m;
    gguf_file *g = NULL;
    tr_err err = {{0}};
    s = base(), s.skip_key = "bitnet.rope.dimension_count", s.act = NULL, s.scale_tensors = 1, s.untied = 1, s.head_type = GGUF_TYPE_Q8_0;
    int rc = load(&s, &err, &m, &g);
    t_check(!rc && m.hp.act == ENG_ACT_SILU && !m.tied && m.head->type == GGUF_TYPE_Q8_0 && m.hp.head_dim == 64 && m.hp.n_vocab == 300,
            "no optional keys, .scale tensors, untied Q8_0 head: loads, silu by default for arch bitnet", "%s", rc ? err.msg : "wrong hparams");
    if (!rc) eng_model_free(&m), gguf_close(g);
    s = base(), s.arch = "bitnet-25", s.act = NULL;
    rc = load(&s, &err, &m, &g);
    t_check(!rc && m.hp.act == ENG_ACT_RELU2 && m.tied && m.linear_type == GGUF_TYPE_TQ2_0, "bitnet-25 without the key: relu2, tied head",
            "%s", rc ? err.msg : "wrong hparams");
    if (!rc) eng_model_free(&m), gguf_close(g);
    return t_done();
}
