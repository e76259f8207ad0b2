// test_export.c: export then import returns identical ternary codes and scales (to the precision of the stored
// scale type) for every GGUF type and both Hugging Face layouts; the quantizer is training's bit for bit; keys,
// names, shapes and types are what llama.cpp / bitnet.cpp read; bad dimensions and inputs fail with one line
// naming the file and the tensor, leaving nothing behind.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/f16.h"
#include "data/bpe_train.h"
#include "autograd/ag.h"
#include "export/export.h"
#include "harness.h"
#include "kernels/quants.h"
#include "model/hf_io.h"

static bn_config config(int C, int I, int V, int tied, bn_act act) {
    bn_config c = {V, C, I, 2, 4, 2, C / 4, 128, act, 1e-5f, 10000.0, tied, 256, 257, BN_AUTOBITLINEAR, 0};
    return c;
}

static void random_model(bn_model *m, const bn_config *c, unsigned long long seed) {
    bn_model_init(m, c, 0);
    bn_model_init_weights(m, seed, 0.02f);
    for (int i = 0; i < m->n_params; i++)   // norms away from 1 so a mix-up would show
        if (m->params[i].kind == BN_P_NORM)
            for (size_t j = 0; j < m->params[i].n; j++) m->data[m->params[i].offset + j] = 0.5f + (float)((j * 7 + i) % 10) / 10;
}

// A byte-level tokenizer (256 bytes + 3 specials) trained on a line of text.
static tok_tokenizer *test_tokenizer(void) {
    bpe_trainer *b = bpe_trainer_init();
    const char *text = "the cat sat on the mat";
    bpe_trainer_add(b, text, strlen(text));
    bpe_train(b, 256);
    tr_err err;
    tok_tokenizer *t = NULL;
    CHECK(bpe_write(b, t_tmp("tok.json"), &err) == 0 && tok_load(&t, t_tmp("tok.json"), &err) == 0, "%s", err.msg);
    bpe_trainer_free(b);
    return t;
}

static float round_scale(ex_type type, float s) { return type == EX_I2_S ? s : f16_to_f32(f32_to_f16(s)); }

// Every linear of the GGUF at path against the quantized linears of m: codes equal, scale equal to the stored
// precision. Returns the number of mismatching tensors (reported).
static int compare_linears(const bn_model *m, const char *path, ex_type type, const char *label) {
    gguf_file *g = NULL;
    tr_err err;
    if (gguf_open(&g, path, &err)) return !t_check(0, label, "%s", err.msg);
    ex_tensor *plan;
    int n = ex_plan(&plan, &m->cfg), bad = 0;
    for (int i = 0; i < n; i++) {
        if (plan[i].kind != EX_T_LINEAR) continue;
        size_t cnt = (size_t)plan[i].rows * plan[i].cols;
        int8_t *want = malloc(cnt), *got = malloc(cnt);
        float sw = ag_ternarize(want, ex_param(m, &plan[i]), cnt, m->ternary), sg = 0;
        const gguf_tensor *x = gguf_find_tensor(g, plan[i].name);
        int ok = x && x->type == ex_type_ggml(type) && x->ne[0] == plan[i].cols && x->ne[1] == plan[i].rows &&
                 ex_read_ternary(got, &sg, g, x, &err) == 0 && !memcmp(want, got, cnt) && sg == round_scale(type, sw);
        if (!ok && !bad++)
            t_check(0, label, "%s: codes or scale differ (scale %g vs %g)", plan[i].name, (double)sg, (double)round_scale(type, sw));
        free(want), free(got);
    }
    free(plan);
    gguf_close(g);
    return bad;
}

static void test_quantizer(void) {
    bn_config c = config(256, 512, 300, 1, BN_ACT_RELU2);
    bn_model m;
    random_model(&m, &c, 7);
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    ctx.grad_enabled = 0;
    int shape[2] = {512, 256}, same = 1, ones = 0, zeros = 0;
    ag_tensor *w = ag_wrap(&ctx, m.layers[0].lin[BN_GATE], NULL, 2, shape);
    ag_tensor *q = ag_weight_quant(&ctx, w);
    int8_t *t = malloc((size_t)w->n);
    float s = ag_ternarize(t, w->data, w->n, 0);
    for (size_t i = 0; i < w->n; i++) {
        same &= (float)t[i] * s == q->data[i];
        ones += t[i] != 0, zeros += t[i] == 0;
    }
    t_check(same, "quantizer equals training's ag_weight_quant bit for bit", "t * s differs from ag_weight_quant");
    t_check(ones > 0 && zeros > 0, "quantizer gives a mix of codes", "%d non-zero, %d zero", ones, zeros);
    // stored ternary values: sign and max|w|, not re-quantized
    float v[8] = {0.25f, -0.25f, 0, 0.25f, 0, 0, -0.25f, 0.25f};
    int8_t tv[8];
    float sv = ag_ternarize(tv, v, 8, 1);
    t_check(sv == 0.25f && tv[0] == 1 && tv[1] == -1 && tv[2] == 0, "stored ternary weights kept as stored", "scale %g", sv);
    free(t);
    ag_free(&ctx);
    bn_model_free(&m);
}

static void test_gguf_types(const tok_tokenizer *tok) {
    for (int tied = 0; tied < 2; tied++) {
        bn_config c = config(256, 512, 300, tied, tied ? BN_ACT_SILU : BN_ACT_RELU2);
        bn_model m;
        random_model(&m, &c, 11 + tied);
        for (int ty = 0; ty < EX_NTYPES; ty++) {
            char label[128];
            snprintf(label, sizeof(label), "%s %s: export then read back: identical codes and scales", ex_type_name(ty),
                     tied ? "tied silu" : "untied relu2");
            uint32_t embed = tied ? GGUF_TYPE_Q8_0 : GGUF_TYPE_F16;
            ex_gguf_opts o = {(ex_type)ty, embed, "test", 0};
            tr_err err;
            if (!t_check(ex_write_gguf(&m, tok, &o, t_tmp("m.gguf"), "src", &err) == 0, label, "%s", err.msg)) continue;
            if (compare_linears(&m, t_tmp("m.gguf"), (ex_type)ty, label) == 0) t_check(1, label, "-");
            // metadata and the other tensors
            gguf_file *g;
            gguf_open(&g, t_tmp("m.gguf"), &err);
            const char *arch = NULL, *act = NULL;
            uint32_t ft = 0, nl = 0, ff = 0, hkv = 0, V = 0;
            char k1[96], k2[96], k3[96], k4[96];
            gguf_get_str(g, "general.architecture", &arch, &err);
            snprintf(k1, sizeof(k1), "%s.block_count", arch);
            snprintf(k2, sizeof(k2), "%s.feed_forward_length", arch);
            snprintf(k3, sizeof(k3), "%s.attention.head_count_kv", arch);
            snprintf(k4, sizeof(k4), "%s.hidden_activation", arch);
            const gguf_value *toks = gguf_find(g, "tokenizer.ggml.tokens");
            int ok = !gguf_get_u32(g, "general.file_type", &ft, &err) && !gguf_get_u32(g, k1, &nl, &err) &&
                     !gguf_get_u32(g, k2, &ff, &err) && !gguf_get_u32(g, k3, &hkv, &err) && !gguf_get_str(g, k4, &act, &err) &&
                     !gguf_get_u32(g, "bitnet.vocab_size", &V, &err) == (ty != EX_I2_S);
            ok = ok && !strcmp(arch, ex_type_arch(ty)) && ft == ex_type_file_type(ty) && nl == 2 && ff == 512 && hkv == 2 &&
                 !strcmp(act, tied ? "silu" : "relu2") && toks && toks->arr.n == 300;
            const gguf_tensor *e = gguf_find_tensor(g, "token_embd.weight"), *out = gguf_find_tensor(g, "output.weight");
            const gguf_tensor *nrm = gguf_find_tensor(g, "blk.1.ffn_sub_norm.weight");
            ok = ok && e && e->type == embed && e->ne[0] == 256 && e->ne[1] == 300 && (out != NULL) == !tied &&
                 nrm && nrm->type == GGUF_TYPE_F32 && nrm->ne[0] == 512 && !memcmp(nrm->data, m.layers[1].ffn_sub_norm, 512 * 4);
            float row[256];
            tk_dequant_rows(row, e, 5, 1);
            double rel = t_rel_l2(row, m.embed + 5 * 256, 256);
            ok = ok && rel < (tied ? 1e-2 : 1e-3);
            snprintf(label, sizeof(label), "%s %s: keys, names, types and shapes", ex_type_name(ty), tied ? "tied" : "untied");
            t_check(ok, label, "arch %s ftype %u layers %u ff %u kv %u act %s embed rel err %.2g", arch ? arch : "?", ft, nl,
                    ff, hkv, act ? act : "?", rel);
            gguf_close(g);
        }
        bn_model_free(&m);
    }
}

// GGUF -> model -> GGUF of another type: the stored codes are kept (never re-quantized) and the config survives.
static void test_import(const tok_tokenizer *tok) {
    bn_config c = config(256, 512, 300, 0, BN_ACT_SILU);
    bn_model m, back;
    random_model(&m, &c, 5);
    ex_gguf_opts o = {EX_TQ1_0, GGUF_TYPE_F16, "t", 1};
    tr_err err;
    int ok = ex_write_gguf(&m, tok, &o, t_tmp("a.gguf"), "src", &err) == 0 && ex_load_gguf(&back, t_tmp("a.gguf"), &err) == 0;
    if (!t_check(ok, "import a TQ1_0 export", "%s", err.msg)) return;
    const bn_config *b = &back.cfg;
    ok = back.ternary && b->vocab_size == 300 && b->hidden_size == 256 && b->intermediate_size == 512 && b->n_layers == 2 &&
         b->n_heads == 4 && b->n_kv_heads == 2 && b->act == BN_ACT_SILU && !b->tie_embeddings && b->max_pos == 128 &&
         b->rope_theta == 10000.0 && b->rms_norm_eps == 1e-5f && b->bos_id == tok_bos(tok) && b->eos_id == tok_eos(tok);
    t_check(ok, "import reads the config back from the hparams", "vocab %d C %d I %d act %d tied %d", b->vocab_size,
            b->hidden_size, b->intermediate_size, b->act, b->tie_embeddings);
    ok = !memcmp(back.final_norm, m.final_norm, 256 * 4);
    t_check(ok, "import reads norms exactly", "final norm differs");
    // re-export the imported (ternary) model as I2_S: codes identical to the original quantization
    o.type = EX_I2_S;
    ok = ex_write_gguf(&back, tok, &o, t_tmp("b.gguf"), "src", &err) == 0;
    bn_model_free(&back);
    if (t_check(ok, "re-export an imported model", "%s", err.msg)) {
        // the original's scales went through fp16 once (TQ1_0); compare codes exactly against the original model
        gguf_file *g;
        gguf_open(&g, t_tmp("b.gguf"), &err);
        size_t cnt = 512 * 256;
        int8_t *want = malloc(cnt), *got = malloc(cnt);
        float sw = ag_ternarize(want, m.layers[1].lin[BN_UP], cnt, 0), sg = 0;
        ok = ex_read_ternary(got, &sg, g, gguf_find_tensor(g, "blk.1.ffn_up.weight"), &err) == 0 && !memcmp(want, got, cnt) &&
             sg == f16_to_f32(f32_to_f16(sw));
        t_check(ok, "GGUF -> GGUF conversion keeps codes and scales", "scale %g vs %g", sg, f16_to_f32(f32_to_f16(sw)));
        free(want), free(got);
        gguf_close(g);
    }
    bn_model_free(&m);
}

static void test_hf(void) {
    bn_config c = config(256, 512, 300, 0, BN_ACT_RELU2);
    bn_model m, back;
    random_model(&m, &c, 9);
    tr_err err;
    int ok = ex_write_hf(&m, "{\"x\": 1}", EX_HF_PACKED, t_tmp("hf"), &err) == 0 &&
             bn_model_load_hf(&back, t_tmp("hf"), 0, &err) == 0;
    if (!t_check(ok, "hf-packed export loads with model/hf_io", "%s", err.msg)) return;
    int same = back.ternary && back.cfg.offline && back.cfg.linear_class == BN_AUTOBITLINEAR && !back.cfg.tie_embeddings;
    for (int l = 0; l < 2 && same; l++)
        for (int k = 0; k < BN_N_LINEAR && same; k++) {
            int out, in;
            bn_linear_shape(&c, k, &out, &in);
            size_t cnt = (size_t)out * in;
            int8_t *t = malloc(cnt);
            float s = ag_ternarize(t, m.layers[l].lin[k], cnt, 0);
            for (size_t i = 0; i < cnt && same; i++) same = back.layers[l].lin[k][i] == (float)t[i] * s;
            free(t);
        }
    for (int i = 0; i < 256 && same; i++) same = back.final_norm[i] == bf16_to_f32(f32_to_bf16(m.final_norm[i]));
    t_check(same, "hf-packed: codes and F32 weight_scale exact, norms bf16", "values differ");
    struct stat st;
    const char *p = t_tmp("hf/tokenizer.json");
    t_check(stat(p, &st) == 0 && st.st_size == 8, "hf export writes tokenizer.json", "missing");
    bn_model_free(&back);

    ok = ex_write_hf(&m, NULL, EX_HF_BF16, t_tmp("hf"), &err) == 0 && bn_model_load_hf(&back, t_tmp("hf"), 0, &err) == 0;
    if (t_check(ok, "hf-bf16 export replaces a previous export and loads", "%s", err.msg)) {
        same = !back.ternary && !back.cfg.offline;
        for (int i = 0; i < back.n_params && same; i++) {
            const bn_param *q = &back.params[i], *o = bn_model_find(&m, q->name);
            for (size_t j = 0; j < q->n && same; j++)
                same = back.data[q->offset + j] == bf16_to_f32(f32_to_bf16(m.data[o->offset + j]));
        }
        t_check(same, "hf-bf16: every tensor is the bf16 of the latent weight", "values differ");
        p = t_tmp("hf/tokenizer.json");
        t_check(access(p, F_OK) != 0, "hf-bf16 replacing an export drops its old tokenizer.json", "still there");
        bn_model_free(&back);
    }
    bn_model_free(&m);
}

// The golden packed checkpoint (linear_class bitlinear: W = code / weight_scale): its U8 codes come out
// byte-identical in hf-packed, and as the same codes in F16 (its 128 / 344 rows fit no ternary GGUF type).
static void test_golden_packed(void) {
    ex_source s;
    tr_err err;
    const char *dir = t_golden("hf-tiny-bitnet/packed");
    if (!t_check(ex_source_load(&s, dir, &err) == 0, "load the golden packed checkpoint", "%s", err.msg)) return;
    st_file *orig = NULL, *mine = NULL;
    int ok = ex_write_hf(&s.model, NULL, EX_HF_PACKED, t_tmp("gp"), &err) == 0 && st_open(&orig, dir, &err) == 0 &&
             st_open(&mine, t_tmp("gp"), &err) == 0;
    int same = ok;
    for (int i = 0; ok && i < st_count(orig); i++) {
        const st_tensor *a = st_get(orig, i), *b = st_find(mine, a->name);
        if (a->dtype != ST_U8) continue;
        same = same && b && b->nbytes == a->nbytes && !memcmp(a->data, b->data, a->nbytes);
        char sn[128];
        snprintf(sn, sizeof(sn), "%s_scale", a->name);
        float sa, sb;
        same = same && !st_read_f32(&sa, st_find(orig, sn), &err) && !st_read_f32(&sb, st_find(mine, sn), &err) && sb == 1.0f / sa;
    }
    t_check(ok && same, "packed checkpoint -> hf-packed: U8 codes byte-identical, scale = 1/weight_scale (bitlinear)",
            "%s", ok ? "differ" : err.msg);
    ex_gguf_opts o = {EX_TQ2_0, GGUF_TYPE_F16, "g", 0};
    ok = ex_write_gguf(&s.model, NULL, &o, t_tmp("g.gguf"), dir, &err) != 0 && strstr(err.msg, "hf-tiny-bitnet/packed: tensor blk.0.attn_q.weight") &&
         strstr(err.msg, "TQ2_0 needs a multiple of 256") && access(t_tmp("g.gguf"), F_OK) != 0;
    t_check(ok, "TQ2_0 of hidden 128: one-line error naming the tensor, no file", "%s", err.msg);
    o.type = EX_F16;
    if (t_check(ex_write_gguf(&s.model, NULL, &o, t_tmp("g.gguf"), dir, &err) == 0, "golden packed -> F16", "%s", err.msg) &&
        compare_linears(&s.model, t_tmp("g.gguf"), EX_F16, "golden packed -> F16") == 0)
        t_check(1, "golden packed -> F16: stored codes exact, scales to fp16", "-");
    st_close(orig);
    st_close(mine);
    ex_source_free(&s);
}

static void test_errors(const tok_tokenizer *tok) {
    tr_err err;
    bn_config c = config(256, 512, 200, 1, BN_ACT_RELU2);   // vocab below the tokenizer's 259 ids
    bn_model m;
    random_model(&m, &c, 3);
    ex_gguf_opts o = {EX_TQ2_0, GGUF_TYPE_F16, "t", 0};
    int rc = ex_write_gguf(&m, tok, &o, t_tmp("e.gguf"), "src.h5", &err);
    t_check(rc && strstr(err.msg, "src.h5: the tokenizer has 259 ids but the model's vocab_size is 200") &&
                access(t_tmp("e.gguf"), F_OK) != 0, "tokenizer larger than the vocabulary: error, no file", "%s", err.msg);
    bn_model_free(&m);
    c = config(256, 336, 300, 1, BN_ACT_RELU2);
    random_model(&m, &c, 3);
    rc = ex_write_gguf(&m, NULL, &o, t_tmp("e.gguf"), "src.h5", &err);
    t_check(rc && strstr(err.msg, "tensor blk.0.ffn_down.weight (model.layers.0.mlp.down_proj.weight) has rows of 336"),
            "TQ2_0 with intermediate 336: error names ffn_down", "%s", err.msg);
    o.type = EX_I2_S;
    rc = ex_write_gguf(&m, NULL, &o, t_tmp("e.gguf"), "src.h5", &err);
    t_check(rc && strstr(err.msg, "I2_S needs a multiple of 128"), "I2_S with intermediate 336: error", "%s", err.msg);
    bn_model_free(&m);
    c = config(240, 512, 300, 1, BN_ACT_RELU2);
    c.n_heads = c.n_kv_heads = 2, c.head_dim = 120;
    random_model(&m, &c, 3);
    o.type = EX_F16, o.embed = GGUF_TYPE_Q8_0;
    rc = ex_write_gguf(&m, NULL, &o, t_tmp("e.gguf"), "src.h5", &err);
    t_check(rc && strstr(err.msg, "token_embd.weight") && strstr(err.msg, "Q8_0 needs a multiple of 32"),
            "Q8_0 embeddings of width 240: error", "%s", err.msg);
    o.embed = GGUF_TYPE_F16;
    t_check(ex_write_gguf(&m, NULL, &o, t_tmp("e.gguf"), "src.h5", &err) == 0, "F16 takes any width", "%s", err.msg);
    unlink(t_tmp("e.gguf"));
    m.ternary = 1;
    rc = ex_write_hf(&m, NULL, EX_HF_BF16, t_tmp("e"), &err);
    t_check(rc && strstr(err.msg, "stored ternary weights") && access(t_tmp("e"), F_OK) != 0,
            "hf-bf16 of a ternary model is refused", "%s", err.msg);
    m.ternary = 0;
    mkdir(t_tmp("keep"), 0755);
    t_write_file(t_tmp("keep/notes.txt"), "", 0);
    rc = ex_write_hf(&m, NULL, EX_HF_PACKED, t_tmp("keep"), &err);
    t_check(rc && strstr(err.msg, "holds 'notes.txt'") && access(t_tmp("keep/notes.txt"), F_OK) == 0 &&
                access(t_tmp("keep/config.json"), F_OK) != 0, "hf export never overwrites a foreign folder", "%s", err.msg);
    bn_model_free(&m);
    ex_source s;
    rc = ex_source_load(&s, t_tmp("keep"), &err);
    t_check(rc && strstr(err.msg, "keep: a folder without config.json"), "a folder that is no checkpoint: error", "%s", err.msg);
}

int main(void) {
    tok_tokenizer *tok = test_tokenizer();
    test_quantizer();
    test_gguf_types(tok);
    test_import(tok);
    test_hf();
    test_golden_packed();
    test_errors(tok);
    tok_free(tok);
    return t_done();
}
