// gguf_import.c: a BitNet GGUF (trit's exports, llama.cpp's "bitnet", bitnet.cpp's "bitnet-b1.58" /
// "bitnet-25") -> a bn_model holding its ternary values, so trit reads its exports back and converts between
// layouts (GGUF -> another GGUF type, GGUF -> Hugging Face packed).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "kernels/quants.h"

static int get_u32(const gguf_file *g, const char *arch, const char *suffix, int *out, int optional, tr_err *err) {
    char key[128];
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    if (optional && !gguf_find(g, key)) return 0;
    uint32_t v;
    if (gguf_get_u32(g, key, &v, err)) return -1;
    if (v == 0 || v > (1u << 30)) return tr_fail(err, "%s: key '%s' is %u, out of range", gguf_path(g), key, v);
    *out = (int)v;
    return 0;
}

static int read_config(bn_config *c, const gguf_file *g, tr_err *err) {
    const char *path = gguf_path(g), *arch, *act = NULL;
    memset(c, 0, sizeof(*c));
    if (gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    int cpp = !strcmp(arch, "bitnet-b1.58") || !strcmp(arch, "bitnet-25");
    if (!cpp && strcmp(arch, "bitnet"))
        return tr_fail(err, "%s: general.architecture is '%s'; trit reads bitnet, bitnet-b1.58 and bitnet-25", path, arch);
    c->max_pos = 4096;
    c->rope_theta = 10000.0;
    int rope_dim = 0;
    if (get_u32(g, arch, "block_count", &c->n_layers, 0, err) || get_u32(g, arch, "embedding_length", &c->hidden_size, 0, err) ||
        get_u32(g, arch, "feed_forward_length", &c->intermediate_size, 0, err) ||
        get_u32(g, arch, "attention.head_count", &c->n_heads, 0, err) ||
        get_u32(g, arch, "context_length", &c->max_pos, 1, err) || get_u32(g, arch, "rope.dimension_count", &rope_dim, 1, err))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (get_u32(g, arch, "attention.head_count_kv", &c->n_kv_heads, 1, err)) return -1;
    char key[128];
    float f = 1e-5f;
    snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", arch);
    if (gguf_get_f32(g, key, &f, err)) return -1;
    c->rms_norm_eps = f;
    f = 10000.0f;
    snprintf(key, sizeof(key), "%s.rope.freq_base", arch);
    if (gguf_opt_f32(g, key, &f, err)) return -1;
    c->rope_theta = f;
    snprintf(key, sizeof(key), "%s.hidden_activation", arch);
    if (gguf_opt_str(g, key, &act, err)) return -1;
    if (!act) act = cpp ? "relu2" : "silu";   // what bitnet.cpp and llama.cpp run when the key is absent
    if (!strcmp(act, "relu2")) c->act = BN_ACT_RELU2;
    else if (!strcmp(act, "silu")) c->act = BN_ACT_SILU;
    else return tr_fail(err, "%s: %s is '%s' (expected relu2 or silu)", path, key, act);
    const gguf_tensor *e = gguf_find_tensor(g, "token_embd.weight");
    if (!e) return tr_fail(err, "%s: missing tensor 'token_embd.weight'", path);
    if (e->n_dims != 2 || e->ne[0] != c->hidden_size)
        return tr_fail(err, "%s: tensor 'token_embd.weight' has ne[0] = %lld, embedding_length is %d", path,
                       (long long)e->ne[0], c->hidden_size);
    c->vocab_size = (int)e->ne[1];
    c->tie_embeddings = gguf_find_tensor(g, "output.weight") == NULL;
    c->head_dim = c->hidden_size / c->n_heads;
    if (rope_dim && rope_dim != c->head_dim)
        return tr_fail(err, "%s: rope.dimension_count %d differs from the head size %d; trit rotates whole heads", path,
                       rope_dim, c->head_dim);
    uint32_t id;
    c->bos_id = c->eos_id = -1;
    if (gguf_find(g, "tokenizer.ggml.bos_token_id") && !gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &id, err)) c->bos_id = (int)id;
    if (gguf_find(g, "tokenizer.ggml.eos_token_id") && !gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &id, err)) c->eos_id = (int)id;
    c->linear_class = BN_AUTOBITLINEAR;
    c->offline = 1;
    return bn_config_validate(c, path, err);
}

// One tensor of the plan into dst (rows * cols floats).
static int read_tensor(float *dst, int8_t *t, const gguf_file *g, const ex_tensor *p, tr_err *err) {
    const char *path = gguf_path(g);
    const gguf_tensor *x = gguf_find_tensor(g, p->name);
    if (!x) return tr_fail(err, "%s: missing tensor '%s'", path, p->name);
    int rows = p->kind == EX_T_NORM ? 1 : p->rows;
    if (x->ne[0] != p->cols || x->ne[1] != rows || x->ne[2] != 1 || x->ne[3] != 1)
        return tr_fail(err, "%s: tensor '%s' has ne [%lld, %lld, %lld, %lld], the hparams need [%d, %d]", path, p->name,
                       (long long)x->ne[0], (long long)x->ne[1], (long long)x->ne[2], (long long)x->ne[3], p->cols, rows);
    if (p->kind != EX_T_LINEAR) {
        int ok = x->type == GGUF_TYPE_F32 || x->type == GGUF_TYPE_F16 || x->type == GGUF_TYPE_BF16 ||
                 (p->kind != EX_T_NORM && x->type == GGUF_TYPE_Q8_0);
        if (!ok) return tr_fail(err, "%s: tensor '%s' has type %s, which trit does not read there", path, p->name,
                                gguf_type_name(x->type));
        tk_dequant_rows(dst, x, 0, p->kind == EX_T_NORM ? 1 : p->rows);
        return 0;
    }
    float scale;
    if (ex_read_ternary(t, &scale, g, x, err)) return -1;
    char sname[80];   // llama.cpp's optional per-linear scale tensor multiplies the output
    snprintf(sname, sizeof(sname), "%.*s.scale", (int)(strlen(p->name) - strlen(".weight")), p->name);
    const gguf_tensor *s = gguf_find_tensor(g, sname);
    if (s) {
        if (s->type != GGUF_TYPE_F32 || gguf_nelements(s) != 1)
            return tr_fail(err, "%s: tensor '%s' must be one F32", path, sname);
        float v;
        memcpy(&v, s->data, sizeof(v));
        if (!isfinite(v)) return tr_fail(err, "%s: tensor '%s' is not finite", path, sname);
        scale *= v;
    }
    size_t n = (size_t)p->rows * p->cols;
    for (size_t i = 0; i < n; i++) dst[i] = (float)t[i] * scale;
    return 0;
}

int ex_load_gguf(bn_model *m, const char *path, tr_err *err) {
    memset(m, 0, sizeof(*m));
    gguf_file *g = NULL;
    if (gguf_open(&g, path, err)) return -1;
    bn_config c;
    int rc = read_config(&c, g, err);
    if (rc) {
        gguf_close(g);
        return -1;
    }
    bn_model_init(m, &c, 0);
    m->ternary = 1;
    ex_tensor *plan;
    int n = ex_plan(&plan, &c);
    int8_t *t = tr_malloc((size_t)c.intermediate_size * c.hidden_size + (size_t)c.hidden_size * c.hidden_size + 1);
    for (int i = 0; i < n && !rc; i++) rc = read_tensor((float *)ex_param(m, &plan[i]), t, g, &plan[i], err);
    free(t);
    free(plan);
    gguf_close(g);
    if (rc) bn_model_free(m);
    return rc;
}
