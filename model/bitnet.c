// bitnet.c: parameter table, initialization and the forward graph of BitNet b1.58.
#include "model/bitnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/lora.h"

const char *const bn_linear_names[BN_N_LINEAR] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                  "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                                  "mlp.down_proj"};

static bn_param *add_param(bn_param *table, int *n, size_t *off, bn_kind kind, int layer, const char *name, int d0,
                           int d1) {
    bn_param *p = &table[(*n)++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->kind = kind;
    p->layer = layer;
    p->ndim = d1 ? 2 : 1;
    p->shape[0] = d0;
    p->shape[1] = d1;
    p->n = (size_t)d0 * (d1 ? d1 : 1);
    p->offset = *off;
    *off += (p->n + 15) & ~(size_t)15;   // keep every tensor 64-byte aligned
    return p;
}

void bn_linear_shape(const bn_config *c, int which, int *out, int *in) {
    int C = c->hidden_size, I = c->intermediate_size, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    switch (which) {
    case BN_Q: *out = qd; *in = C; break;
    case BN_K: case BN_V: *out = kvd; *in = C; break;
    case BN_O: *out = C; *in = qd; break;
    case BN_GATE: case BN_UP: *out = I; *in = C; break;
    default: *out = C; *in = I; break;
    }
}

void bn_model_init(bn_model *m, const bn_config *cfg, int with_grad) {
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    int L = cfg->n_layers, C = cfg->hidden_size, V = cfg->vocab_size, I = cfg->intermediate_size;
    m->params = tr_calloc((size_t)L * 11 + 3, sizeof(bn_param));
    size_t off = 0;
    char name[96];
    bn_param *embed = add_param(m->params, &m->n_params, &off, BN_P_EMBED, -1, "model.embed_tokens.weight", V, C);
    size_t lin_off[BN_N_LINEAR], norm_off[4];
    m->layers = tr_calloc((size_t)L, sizeof(bn_layer));
    size_t *layer_offs = tr_malloc(sizeof(size_t) * (size_t)L * 11);
    for (int l = 0; l < L; l++) {
        static const char *norms[4] = {"input_layernorm", "self_attn.attn_sub_norm", "post_attention_layernorm",
                                       "mlp.ffn_sub_norm"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "model.layers.%d.%s.weight", l, norms[k]);
            norm_off[k] = add_param(m->params, &m->n_params, &off, BN_P_NORM, l, name, k == 3 ? I : C, 0)->offset;
        }
        for (int k = 0; k < BN_N_LINEAR; k++) {
            int out, in;
            bn_linear_shape(cfg, k, &out, &in);
            snprintf(name, sizeof(name), "model.layers.%d.%s.weight", l, bn_linear_names[k]);
            lin_off[k] = add_param(m->params, &m->n_params, &off, BN_P_LINEAR, l, name, out, in)->offset;
        }
        memcpy(layer_offs + (size_t)l * 11, norm_off, sizeof(norm_off));
        memcpy(layer_offs + (size_t)l * 11 + 4, lin_off, sizeof(lin_off));
    }
    size_t final_off = add_param(m->params, &m->n_params, &off, BN_P_NORM, -1, "model.norm.weight", C, 0)->offset;
    size_t head_off = embed->offset;
    if (!cfg->tie_embeddings) head_off = add_param(m->params, &m->n_params, &off, BN_P_HEAD, -1, "lm_head.weight", V, C)->offset;
    m->n_floats = off;
    m->data = tr_alloc_aligned(off * sizeof(float));
    if (with_grad) {
        m->grad = tr_alloc_aligned(off * sizeof(float));
        memset(m->grad, 0, off * sizeof(float));
    }
    m->embed = m->data + embed->offset;
    m->final_norm = m->data + final_off;
    m->lm_head = m->data + head_off;
    for (int l = 0; l < L; l++) {
        const size_t *o = layer_offs + (size_t)l * 11;
        bn_layer *ly = &m->layers[l];
        ly->attn_norm = m->data + o[0];
        ly->attn_sub_norm = m->data + o[1];
        ly->ffn_norm = m->data + o[2];
        ly->ffn_sub_norm = m->data + o[3];
        for (int k = 0; k < BN_N_LINEAR; k++) ly->lin[k] = m->data + o[4 + k];
    }
    free(layer_offs);
}

void bn_model_free(bn_model *m) {
    if (!m) return;
    free(m->params);
    free(m->data);
    free(m->grad);
    free(m->fresh);
    free(m->layers);
    memset(m, 0, sizeof(*m));
}

void bn_model_init_weights(bn_model *m, unsigned long long seed, float std) {
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        float *d = m->data + p->offset;
        for (size_t j = 0; j < p->n; j++) d[j] = p->kind == BN_P_NORM ? 1.0f : std * rng_normal(&r);
    }
}

const bn_param *bn_model_find(const bn_model *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return &m->params[i];
    return NULL;
}

void bn_model_zero_grad(bn_model *m) {
    if (!m->grad) return;
    if (!m->fresh) m->fresh = tr_malloc((size_t)m->n_params);
    memset(m->fresh, 1, (size_t)m->n_params);
}

float *bn_model_grad_ready(bn_model *m) {
    for (int i = 0; m->grad && m->fresh && i < m->n_params; i++)
        if (m->fresh[i]) {
            memset(m->grad + m->params[i].offset, 0, sizeof(float) * m->params[i].n);
            m->fresh[i] = 0;
        }
    return m->grad;
}

// ---- forward ----

static ag_tensor *wrap_param(ag_ctx *ctx, const bn_model *m, const float *ptr, int d0, int d1, int trainable) {
    int shape[2] = {d0, d1};
    float *grad = (m->grad && trainable) ? m->grad + (ptr - m->data) : NULL;
    ag_tensor *t = ag_wrap(ctx, (float *)ptr, grad, d1 ? 2 : 1, shape);
    for (int i = 0; grad && m->fresh && i < m->n_params && !t->fresh; i++)   // the step's first write overwrites (bn_model_zero_grad)
        if (m->data + m->params[i].offset == ptr) t->fresh = &m->fresh[i];
    return t;
}

// One BitLinear projection of layer l on xq (the int8 copy of x (N, in)), plus LoRA on x.
static ag_tensor *projection(ag_ctx *ctx, const bn_model *m, const bn_lora *lora, int l, int k, const ag_qact *xq) {
    int out, in;
    bn_linear_shape(&m->cfg, k, &out, &in);
    ag_tensor *w = wrap_param(ctx, m, m->layers[l].lin[k], out, in, !m->ternary);
    ag_tensor *y = ag_bitlinear(ctx, xq, w, m->ternary);
    return lora ? bn_lora_apply(ctx, lora, l, k, y, xq->x) : y;
}

ag_tensor *bn_forward(ag_ctx *ctx, const bn_model *m, const bn_lora *lora, const int *ids, int B, int T) {
    const bn_config *c = &m->cfg;
    int C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size, H = c->n_heads, Hkv = c->n_kv_heads,
        D = c->head_dim, N = B * T;
    float eps = c->rms_norm_eps;
    int keep = lora != NULL;   // LoRA branches read the normalized rows; BitLinear needs only their int8 copy
    ag_tensor *emb = wrap_param(ctx, m, m->embed, V, C, 1);
    ag_tensor *x = ag_embedding(ctx, emb, ids, N);   // (N, C)
    for (int l = 0; l < c->n_layers; l++) {
        const bn_layer *ly = &m->layers[l];
        // attention: x + o_proj(attn_sub_norm(attn(rope(q), rope(k), v)))
        const ag_qact *hq = ag_rmsnorm_quant(ctx, x, wrap_param(ctx, m, ly->attn_norm, C, 0, 1), eps, keep);
        ag_tensor *q = projection(ctx, m, lora, l, BN_Q, hq);
        ag_tensor *k = projection(ctx, m, lora, l, BN_K, hq);
        ag_tensor *v = projection(ctx, m, lora, l, BN_V, hq);
        int sq[4] = {B, T, H, D}, skv[4] = {B, T, Hkv, D}, s2[2] = {N, H * D};
        q = ag_rope(ctx, ag_view(ctx, q, 4, sq), c->rope_theta, 0);
        k = ag_rope(ctx, ag_view(ctx, k, 4, skv), c->rope_theta, 0);
        v = ag_view(ctx, v, 4, skv);
        ag_tensor *a = ag_view(ctx, ag_attention(ctx, q, k, v), 2, s2);
        const ag_qact *aq = ag_rmsnorm_quant(ctx, a, wrap_param(ctx, m, ly->attn_sub_norm, C, 0, 1), eps, keep);
        x = ag_add(ctx, x, projection(ctx, m, lora, l, BN_O, aq));
        // feed-forward: x + down(ffn_sub_norm(act(gate(h)) * up(h)))
        hq = ag_rmsnorm_quant(ctx, x, wrap_param(ctx, m, ly->ffn_norm, C, 0, 1), eps, keep);
        ag_tensor *g = projection(ctx, m, lora, l, BN_GATE, hq);
        ag_tensor *u = projection(ctx, m, lora, l, BN_UP, hq);
        ag_tensor *f = ag_gated(ctx, g, u, c->act == BN_ACT_SILU);
        const ag_qact *fq = ag_rmsnorm_quant(ctx, f, wrap_param(ctx, m, ly->ffn_sub_norm, I, 0, 1), eps, keep);
        x = ag_add(ctx, x, projection(ctx, m, lora, l, BN_DOWN, fq));
    }
    x = ag_rmsnorm(ctx, x, wrap_param(ctx, m, m->final_norm, C, 0, 1), c->rms_norm_eps);
    ag_tensor *head = wrap_param(ctx, m, m->lm_head, V, C, 1);
    ag_tensor *logits = ag_matmul(ctx, x, head, 0, 1);   // (N, V): the LM head is not quantized
    int s3[3] = {B, T, V};
    return ag_view(ctx, logits, 3, s3);
}

double bn_train_flops(const bn_config *c, int B, int T) {
    double lin = 0;
    for (int k = 0; k < BN_N_LINEAR; k++) {
        int out, in;
        bn_linear_shape(c, k, &out, &in);
        lin += (double)out * in;
    }
    double weights = lin * c->n_layers + (double)c->vocab_size * c->hidden_size;   // + LM head
    double attn = 2.0 * 2.0 * T * (double)c->n_heads * c->head_dim * c->n_layers;   // QK^T and PV per token, forward
    return 6.0 * weights * B * T + 3.0 * attn * B * T;
}
