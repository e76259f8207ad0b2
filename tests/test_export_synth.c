// test_export_synth.c: `trit synth`'s writer: every format reads back (GGUF through ex_load_gguf, Hugging Face
// through model/hf_io) with uniformly random codes, the documented scales, the same codes in every format for one
// seed, bytes independent of the thread count, and a forward pass whose logits stay finite and of unit scale.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/f16.h"
#include "autograd/ag.h"
#include "export/export.h"
#include "harness.h"
#include "model/hf_io.h"

static char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    if (fread(b, 1, *n, fp) != *n) *n = 0;
    fclose(fp);
    return b;
}

static int synth(const bn_config *c, ex_syn_kind kind, ex_type type, ex_hf_layout layout, uint64_t seed, const char *path) {
    ex_synth_opts o = {kind, type, layout, GGUF_TYPE_F16, seed, NULL, NULL, "synth"};
    tr_err err;
    if (ex_synth(c, &o, "cfg.json", path, &err)) {
        t_check(0, "synth", "%s", err.msg);
        return -1;
    }
    return 0;
}

// Codes of linear k of layer l of m (already ternary or latent), into t; returns the scale.
static float codes(int8_t *t, const bn_model *m, int l, int k) {
    int out, in;
    bn_linear_shape(&m->cfg, k, &out, &in);
    return ag_ternarize(t, m->layers[l].lin[k], (size_t)out * in, m->ternary);
}

int main(void) {
    bn_config c = {300, 256, 512, 2, 4, 2, 64, 128, BN_ACT_RELU2, 1e-5f, 500000.0, 0, -1, -1, BN_AUTOBITLINEAR, 0};
    tr_err err;
    const size_t cnt = 512 * 256;   // ffn_up of layer 1
    int8_t *ref = malloc(cnt), *t = malloc(cnt);

    // GGUF types: read back, code statistics, scales, same codes everywhere
    int have_ref = 0;
    for (int ty = 0; ty < EX_NTYPES; ty++) {
        char label[96];
        snprintf(label, sizeof(label), "synth gguf-%s reads back", ex_type_name(ty));
        bn_model m;
        if (synth(&c, EX_SYN_GGUF, (ex_type)ty, 0, 42, t_tmp("s.gguf")) ||
            !t_check(ex_load_gguf(&m, t_tmp("s.gguf"), &err) == 0, label, "%s", err.msg))
            continue;
        float s = codes(t, &m, 1, BN_UP), want = sqrtf(1.5f / 256);
        if (ty != EX_I2_S) want = f16_to_f32(f32_to_f16(want));
        int hist[3] = {0, 0, 0};
        for (size_t i = 0; i < cnt; i++) hist[t[i] + 1]++;
        int uniform = 1;
        for (int h = 0; h < 3; h++) uniform &= fabs(hist[h] / (double)cnt - 1.0 / 3) < 0.01;
        snprintf(label, sizeof(label), "synth gguf-%s: codes ~1/3 each, scale sqrt(1.5/K)", ex_type_name(ty));
        t_check(uniform && s == want, label, "counts %d %d %d, scale %g want %g", hist[0], hist[1], hist[2], s, want);
        if (!have_ref) memcpy(ref, t, cnt), have_ref = 1;
        snprintf(label, sizeof(label), "synth gguf-%s: same codes as the other formats for one seed", ex_type_name(ty));
        t_check(!memcmp(ref, t, cnt), label, "codes differ");
        if (ty == EX_TQ2_0) {
            double ss = 0;
            for (int i = 0; i < 300 * 256; i++) ss += (double)m.embed[i] * m.embed[i];
            double rms = sqrt(ss / (300 * 256));
            float nmin = 2, nmax = 0;
            for (int i = 0; i < 512; i++) nmin = fminf(nmin, m.layers[0].ffn_sub_norm[i]), nmax = fmaxf(nmax, m.layers[0].ffn_sub_norm[i]);
            t_check(fabs(rms * 16 - 1) < 0.02 && nmin >= 0.9f && nmax <= 1.1f && nmax > nmin,
                    "synth: embeddings of RMS 1/sqrt(C), norms in [0.9, 1.1]", "rms %g, norms %g..%g", rms, nmin, nmax);
            // forward: finite logits of about unit scale
            ag_ctx ctx;
            ag_init(&ctx, 16 << 20);
            ctx.grad_enabled = 0;
            int ids[32];
            for (int i = 0; i < 32; i++) ids[i] = (i * 37) % 300;
            ag_tensor *lg = bn_forward(&ctx, &m, NULL, ids, 1, 32);
            double sum = 0, sq = 0;
            int finite = 1;
            for (size_t i = 0; i < lg->n; i++) finite &= isfinite(lg->data[i]), sum += lg->data[i], sq += (double)lg->data[i] * lg->data[i];
            double sd = sqrt(sq / lg->n - (sum / lg->n) * (sum / lg->n));
            t_check(finite && sd > 0.1 && sd < 10, "synth model: forward gives finite logits of unit scale", "std %g", sd);
            ag_free(&ctx);
        }
        bn_model_free(&m);
    }

    // Hugging Face layouts: packed gives the same codes and the exact F32 scale; bf16 latent quantizes back to them
    bn_model m;
    if (!synth(&c, EX_SYN_HF, 0, EX_HF_PACKED, 42, t_tmp("hfp")) &&
        t_check(bn_model_load_hf(&m, t_tmp("hfp"), 0, &err) == 0, "synth hf-packed loads", "%s", err.msg)) {
        float s = codes(t, &m, 1, BN_UP);
        t_check(m.ternary && !memcmp(ref, t, cnt) && s == sqrtf(1.5f / 256), "synth hf-packed: same codes, exact scale",
                "scale %g", s);
        bn_model_free(&m);
    }
    if (!synth(&c, EX_SYN_HF, 0, EX_HF_BF16, 42, t_tmp("hfb")) &&
        t_check(bn_model_load_hf(&m, t_tmp("hfb"), 0, &err) == 0, "synth hf-bf16 loads", "%s", err.msg)) {
        codes(t, &m, 1, BN_UP);
        t_check(!m.ternary && !memcmp(ref, t, cnt), "synth hf-bf16: latent weights quantize to the same codes", "differ");
        bn_model_free(&m);
    }

    // bytes depend on the seed, not on the threads
    size_t n1 = 0, n2 = 0, n3 = 0;
    omp_set_num_threads(1);
    synth(&c, EX_SYN_GGUF, EX_I2_S, 0, 7, t_tmp("t1.gguf"));
    omp_set_num_threads(2);
    synth(&c, EX_SYN_GGUF, EX_I2_S, 0, 7, t_tmp("t2.gguf"));
    synth(&c, EX_SYN_GGUF, EX_I2_S, 0, 8, t_tmp("t3.gguf"));
    char *a = slurp(t_tmp("t1.gguf"), &n1), *b = slurp(t_tmp("t2.gguf"), &n2), *d = slurp(t_tmp("t3.gguf"), &n3);
    t_check(a && b && n1 == n2 && n1 > 0 && !memcmp(a, b, n1), "synth: same bytes on 1 and 2 threads", "differ");
    t_check(d && n3 == n1 && memcmp(a, d, n1), "synth: another seed, other bytes", "same");
    free(a), free(b), free(d);

    // errors: dimensions that the type cannot hold name the config and the tensor
    bn_config bad = c;
    bad.intermediate_size = 320;
    ex_synth_opts o = {EX_SYN_GGUF, EX_TQ1_0, 0, GGUF_TYPE_F16, 1, NULL, NULL, "x"};
    int rc = ex_synth(&bad, &o, "cfg.json", t_tmp("bad.gguf"), &err);
    t_check(rc && strstr(err.msg, "cfg.json: tensor blk.0.ffn_down.weight") && access(t_tmp("bad.gguf"), F_OK) != 0,
            "synth: bad dimensions fail naming the config and tensor", "%s", err.msg);
    free(ref), free(t);
    return t_done();
}
