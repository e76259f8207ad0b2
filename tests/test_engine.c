// test_engine.c: the engine's logits against the autograd model (trit's training graph, with gradients off)
// on the same weights, over a 256-token text: for every linear type (I2_S, TQ2_0, TQ1_0, F16, F32, BF16),
// every embedding / LM-head type (F32, F16, BF16, Q8_0), tied and untied heads, relu2 and silu (from the key
// and from each architecture's default), with and without llama.cpp's .scale tensors. Logits are compared at
// every position after a prefill of all 256 tokens, after a prefill in three uneven batches, and after
// token-by-token decode through the KV cache: relative L2 <= 5e-3 overall and at the worst position.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autograd/ag.h"
#include "model/bitnet.h"
#include "tests/harness.h"
#include "tests/test_engine_fixture.h"

#define T 256
#define TOL 5e-3

// The fixture's weights as a trit model holding stored ternary values (what a packed checkpoint loads as).
static void to_bn(bn_model *m, const fx_model *f, eng_act act) {
    const fx_spec *s = &f->s;
    bn_config c = {0};
    c.vocab_size = s->V, c.hidden_size = s->C, c.intermediate_size = s->I, c.n_layers = s->L;
    c.n_heads = s->H, c.n_kv_heads = s->Hkv, c.head_dim = f->D, c.max_pos = s->ctx;
    c.act = act == ENG_ACT_SILU ? BN_ACT_SILU : BN_ACT_RELU2;
    c.rms_norm_eps = 1e-5f, c.rope_theta = 10000.0, c.tie_embeddings = !s->untied;
    c.bos_id = c.eos_id = -1, c.linear_class = BN_AUTOBITLINEAR, c.offline = 1;
    bn_model_init(m, &c, 0);
    m->ternary = 1;
    memcpy(m->embed, f->embd, sizeof(float) * s->V * s->C);
    if (s->untied) memcpy(m->lm_head, f->head, sizeof(float) * s->V * s->C);
    memcpy(m->final_norm, f->norms + (size_t)s->L * 4 * (s->C > s->I ? s->C : s->I), sizeof(float) * s->C);
    for (int l = 0; l < s->L; l++) {
        bn_layer *ly = &m->layers[l];
        float *norms[4] = {ly->attn_norm, ly->attn_sub_norm, ly->ffn_norm, ly->ffn_sub_norm};
        for (int k = 0; k < 4; k++) memcpy(norms[k], fx_norm(f, l, k), sizeof(float) * (k == 3 ? s->I : s->C));
        for (int k = 0; k < ENG_N_LINEAR; k++) {
            int out, in;
            fx_linear_shape(f, k, &out, &in);
            float sw = f->scale[l][k] * f->extra[l][k];
            for (size_t i = 0; i < (size_t)out * in; i++) ly->lin[k][i] = (float)f->t[l][k][i] * sw;
        }
    }
}

// Overall and worst-position relative L2 of got against want (T, V).
static void compare(const float *got, const float *want, int V, double *all, double *worst) {
    *all = t_rel_l2(got, want, (size_t)T * V);
    *worst = 0;
    for (int p = 0; p < T; p++) {
        double e = t_rel_l2(got + (size_t)p * V, want + (size_t)p * V, (size_t)V);
        *worst = e > *worst ? e : *worst;
    }
}

static void check_close(const char *what, const char *label, const float *got, const float *want, int V) {
    double all, worst;
    compare(got, want, V, &all, &worst);
    char name[256];
    snprintf(name, sizeof(name), "%s: %s logits at all %d positions (rel L2 %.2e, worst position %.2e)", label, what, T, all, worst);
    t_check(all <= TOL && worst <= TOL, name, "relative L2 %.3e overall, %.3e at the worst position (tolerance %.0e)", all, worst, TOL);
}


static void run_case(const fx_spec *spec, int isa_sweep) {
    fx_model f;
    fx_build(&f, spec);
    const char *path = t_tmp("m.gguf");
    char label[200];
    snprintf(label, sizeof(label), "%s %s linears, embd %s, head %s, act %s%s", spec->arch, gguf_type_name(spec->lin_type),
             gguf_type_name(spec->embd_type), spec->untied ? gguf_type_name(spec->head_type) : "tied", spec->act ? spec->act : "(default)",
             spec->scale_tensors ? ", .scale tensors" : "");
    tr_err err = {{0}};
    gguf_file *g = NULL;
    eng_model em;
    if (fx_write(&f, path, &err) || gguf_open(&g, path, &err) || eng_model_load(&em, g, &err)) {
        t_check(0, label, "%s", err.msg);
        gguf_close(g);
        fx_free(&f);
        return;
    }
    int V = spec->V;
    int *ids = malloc(sizeof(int) * T);
    rng r;
    rng_seed(&r, spec->seed + 7);
    for (int i = 0; i < T; i++) ids[i] = (int)rng_below(&r, (uint64_t)V);

    // reference: the autograd model
    // the activation the file asks for: the key, else relu2 for bitnet.cpp's arches and silu for llama.cpp's
    eng_act want = spec->act ? (!strcmp(spec->act, "silu") ? ENG_ACT_SILU : ENG_ACT_RELU2)
                             : (!strcmp(spec->arch, "bitnet") ? ENG_ACT_SILU : ENG_ACT_RELU2);
    char what[300];
    snprintf(what, sizeof(what), "%s: activation %s (%s)", label, eng_act_name(want), spec->act ? "from the key" : "the architecture's default");
    t_check(em.hp.act == want && em.hp.act_from_key == (spec->act != NULL), what, "engine chose %s", eng_act_name(em.hp.act));
    bn_model bm;
    to_bn(&bm, &f, want);
    ag_ctx ctx;
    ag_init(&ctx, 64u << 20);
    ctx.grad_enabled = 0;
    ag_tensor *ref = bn_forward(&ctx, &bm, NULL, ids, 1, T);

    float *got = malloc(sizeof(float) * (size_t)T * V);
    int32_t *ids32 = malloc(sizeof(int32_t) * T);
    for (int i = 0; i < T; i++) ids32[i] = ids[i];
    eng_ctx c;
    // prefill of all T tokens, every logit
    eng_ctx_init(&c, &em, T, T);
    int rc = eng_forward(&c, ids32, T, got, 1, &err);
    if (rc) t_check(0, label, "%s", err.msg);
    else check_close("prefill", label, got, ref->data, V);
    eng_ctx_free(&c);
    if (!isa_sweep) {
        // prefill in batches of 100 (positions continue through the cache), and decode one token at a time
        eng_ctx_init(&c, &em, T, 100);
        rc = eng_forward(&c, ids32, T, got, 1, &err);
        if (!rc) check_close("batched prefill (100 + 100 + 56)", label, got, ref->data, V);
        // the last token's logits only (how a prompt runs before sampling), after prompts of several lengths
        double worst_last = 0;
        for (int len = 1; len <= T && !rc; len = len * 3 + 2) {
            eng_truncate(&c, 0);
            rc = eng_forward(&c, ids32, len, got, 0, &err);
            worst_last = fmax(worst_last, t_rel_l2(got, ref->data + (size_t)(len - 1) * V, (size_t)V));
        }
        snprintf(what, sizeof(what), "%s: last-token logits of prompts of 1 .. 242 tokens (worst rel L2 %.2e)", label, worst_last);
        t_check(!rc && worst_last <= TOL, what, "%s", rc ? err.msg : "too far");
        eng_truncate(&c, 0);
        for (int i = 0; i < T && !rc; i++) rc = eng_forward(&c, ids32 + i, 1, got + (size_t)i * V, 0, &err);
        if (!rc) check_close("decode", label, got, ref->data, V);
        else t_check(0, label, "%s", err.msg);
        eng_ctx_free(&c);
    } else {
        // every other ISA path this CPU has gives the same logits (to float rounding)
        float *base = malloc(sizeof(float) * (size_t)T * V);
        memcpy(base, got, sizeof(float) * (size_t)T * V);
        for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
            if (!tk_isa_supported((tk_isa)isa) || isa == (int)tk_isa_best()) continue;
            em.isa = (tk_isa)isa;
            eng_ctx_init(&c, &em, T, T);
            eng_forward(&c, ids32, T, got, 1, &err);
            eng_ctx_free(&c);
            char what[400];
            snprintf(what, sizeof(what), "%s path", tk_isa_name((tk_isa)isa));
            check_close(what, label, got, ref->data, V);
            double e = t_rel_l2(got, base, (size_t)T * V);
            snprintf(what, sizeof(what), "%s: %s path = %s path (rel L2 %.1e: only the LM head's summation order differs)", label,
                     tk_isa_name((tk_isa)isa), tk_isa_name(tk_isa_best()), e);
            t_check(e < 1e-6, what, "relative L2 %.3e", e);
        }
        em.isa = tk_isa_best();
        // one thread gives the same bits as two
        omp_set_num_threads(1);
        eng_ctx_init(&c, &em, T, T);
        eng_forward(&c, ids32, T, got, 1, &err);
        eng_ctx_free(&c);
        omp_set_num_threads(2);
        snprintf(what, sizeof(what), "%s: 1 thread = 2 threads, bit for bit", label);
        t_check(!memcmp(got, base, sizeof(float) * (size_t)T * V), what, "logits differ");
        free(base);
    }
    free(got);
    free(ids);
    free(ids32);
    ag_free(&ctx);
    bn_model_free(&bm);
    eng_model_free(&em);
    gguf_close(g);
    fx_free(&f);
    unlink(path);
}

int main(void) {
    omp_set_num_threads(2);
    // C 256, I 768 (multiples of 256 for TQ, of 128 for I2_S), 4 heads of 64, 2 kv heads, 3 layers, V 512
    fx_spec base = {.L = 3, .C = 256, .I = 768, .H = 4, .Hkv = 2, .V = 512, .ctx = 512, .seed = 1};
    fx_spec cases[] = {
        {.arch = "bitnet-b1.58", .act = NULL, .lin_type = GGUF_TYPE_I2_S, .embd_type = GGUF_TYPE_F32, .untied = 0},
        {.arch = "bitnet", .act = "silu", .lin_type = GGUF_TYPE_TQ2_0, .embd_type = GGUF_TYPE_F16, .untied = 1, .head_type = GGUF_TYPE_F16},
        {.arch = "bitnet", .act = NULL, .lin_type = GGUF_TYPE_TQ1_0, .embd_type = GGUF_TYPE_BF16, .untied = 0, .scale_tensors = 1},
        {.arch = "bitnet-25", .act = "relu2", .lin_type = GGUF_TYPE_F16, .embd_type = GGUF_TYPE_F16, .untied = 1, .head_type = GGUF_TYPE_Q8_0},
        {.arch = "bitnet", .act = "relu2", .lin_type = GGUF_TYPE_F32, .embd_type = GGUF_TYPE_Q8_0, .untied = 0},
        {.arch = "bitnet-b1.58", .act = "silu", .lin_type = GGUF_TYPE_BF16, .embd_type = GGUF_TYPE_F32, .untied = 1, .head_type = GGUF_TYPE_BF16,
         .scale_tensors = 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_spec s = base;
        s.arch = cases[i].arch, s.act = cases[i].act, s.lin_type = cases[i].lin_type, s.embd_type = cases[i].embd_type;
        s.untied = cases[i].untied, s.head_type = cases[i].head_type, s.scale_tensors = cases[i].scale_tensors, s.seed = 100 + i;
        run_case(&s, 0);
        if (i == 0) run_case(&s, 1);
    }
    return t_done();
}
