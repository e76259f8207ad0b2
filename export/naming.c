// naming.c: what a GGUF export holds: type traits, the tensor plan (GGUF names <-> Hugging Face names),
// dimension checks, the hparam keys and the tokenizer keys.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "kernels/quants.h"

static const struct {
    const char *name, *arch;
    uint32_t ggml, file_type;
    int row_multiple;
} types[EX_NTYPES] = {
    [EX_I2_S] = {"i2_s", "bitnet-b1.58", GGUF_TYPE_I2_S, 40, TK_QK_I2S},
    [EX_TQ2_0] = {"tq2_0", "bitnet", GGUF_TYPE_TQ2_0, 37, TK_QK_K},
    [EX_TQ1_0] = {"tq1_0", "bitnet", GGUF_TYPE_TQ1_0, 36, TK_QK_K},
    [EX_F16] = {"f16", "bitnet", GGUF_TYPE_F16, 1, 1},
};

int ex_type_parse(const char *s, ex_type *out) {
    for (int i = 0; i < EX_NTYPES; i++)
        if (!strcmp(s, types[i].name)) {
            *out = (ex_type)i;
            return 0;
        }
    return -1;
}

const char *ex_type_name(ex_type t) { return types[t].name; }
uint32_t ex_type_ggml(ex_type t) { return types[t].ggml; }
uint32_t ex_type_file_type(ex_type t) { return types[t].file_type; }
const char *ex_type_arch(ex_type t) { return types[t].arch; }
int ex_type_row_multiple(ex_type t) { return types[t].row_multiple; }

// ---------------------------------------------------------------------------------------------------
// The plan

static const char *const gguf_linear[BN_N_LINEAR] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                                     "ffn_gate", "ffn_up", "ffn_down"};
static const char *const gguf_norm[4] = {"attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"};
static const char *const hf_norm[4] = {"input_layernorm", "self_attn.attn_sub_norm", "post_attention_layernorm",
                                       "mlp.ffn_sub_norm"};

static ex_tensor *add(ex_tensor *plan, int *n, ex_kind kind, int layer, int index, int rows, int cols) {
    ex_tensor *t = &plan[(*n)++];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->layer = layer;
    t->index = index;
    t->rows = rows;
    t->cols = cols;
    return t;
}

int ex_plan(ex_tensor **out, const bn_config *c) {
    int L = c->n_layers, C = c->hidden_size, I = c->intermediate_size, n = 0;
    ex_tensor *plan = tr_calloc((size_t)L * 11 + 3, sizeof(ex_tensor));
    ex_tensor *t = add(plan, &n, EX_T_EMBED, -1, 0, c->vocab_size, C);
    snprintf(t->name, sizeof(t->name), "token_embd.weight");
    snprintf(t->hf, sizeof(t->hf), "model.embed_tokens.weight");
    // Per block in llama.cpp's converter order: attention norm, q, k, v, sub-norm, output, then the FFN.
    static const int order[11] = {-1, BN_Q, BN_K, BN_V, -2, BN_O, -3, BN_GATE, BN_UP, -4, BN_DOWN};
    for (int l = 0; l < L; l++)
        for (int k = 0; k < 11; k++) {
            if (order[k] < 0) {
                int nk = -order[k] - 1;
                t = add(plan, &n, EX_T_NORM, l, nk, 1, nk == EX_NORM_FFN_SUB ? I : C);
                snprintf(t->name, sizeof(t->name), "blk.%d.%s.weight", l, gguf_norm[nk]);
                snprintf(t->hf, sizeof(t->hf), "model.layers.%d.%s.weight", l, hf_norm[nk]);
            } else {
                int rows, cols;
                bn_linear_shape(c, order[k], &rows, &cols);
                t = add(plan, &n, EX_T_LINEAR, l, order[k], rows, cols);
                snprintf(t->name, sizeof(t->name), "blk.%d.%s.weight", l, gguf_linear[order[k]]);
                snprintf(t->hf, sizeof(t->hf), "model.layers.%d.%s.weight", l, bn_linear_names[order[k]]);
            }
        }
    t = add(plan, &n, EX_T_NORM, -1, EX_NORM_FINAL, 1, C);
    snprintf(t->name, sizeof(t->name), "output_norm.weight");
    snprintf(t->hf, sizeof(t->hf), "model.norm.weight");
    if (!c->tie_embeddings) {
        t = add(plan, &n, EX_T_OUTPUT, -1, 0, c->vocab_size, C);
        snprintf(t->name, sizeof(t->name), "output.weight");
        snprintf(t->hf, sizeof(t->hf), "lm_head.weight");
    }
    *out = plan;
    return n;
}

const float *ex_param(const bn_model *m, const ex_tensor *t) {
    switch (t->kind) {
    case EX_T_EMBED: return m->embed;
    case EX_T_OUTPUT: return m->lm_head;
    case EX_T_LINEAR: return m->layers[t->layer].lin[t->index];
    default: break;
    }
    if (t->index == EX_NORM_FINAL) return m->final_norm;
    const bn_layer *ly = &m->layers[t->layer];
    const float *norms[4] = {ly->attn_norm, ly->attn_sub_norm, ly->ffn_norm, ly->ffn_sub_norm};
    return norms[t->index];
}

int ex_check_dims(const bn_config *c, ex_type type, uint32_t embed, const char *what, tr_err *err) {
    ex_tensor *plan;
    int n = ex_plan(&plan, c), rc = 0, mult = ex_type_row_multiple(type);
    for (int i = 0; i < n && !rc; i++) {
        const ex_tensor *t = &plan[i];
        if (t->kind == EX_T_LINEAR && t->cols % mult)
            rc = tr_fail(err, "%s: tensor %s (%s) has rows of %d elements; %s needs a multiple of %d (use --type f16%s, "
                         "or a model whose sizes are multiples of %d)", what, t->name, t->hf, t->cols,
                         gguf_type_name(ex_type_ggml(type)), mult, mult == 256 && t->cols % 128 == 0 ? " or i2_s" : "", mult);
        if ((t->kind == EX_T_EMBED || t->kind == EX_T_OUTPUT) && embed == GGUF_TYPE_Q8_0 && t->cols % TK_QK8_0)
            rc = tr_fail(err, "%s: tensor %s (%s) has rows of %d elements; Q8_0 needs a multiple of %d (use --embed f16)",
                         what, t->name, t->hf, t->cols, TK_QK8_0);
    }
    free(plan);
    return rc;
}

// ---------------------------------------------------------------------------------------------------
// Metadata

void ex_gguf_meta(gguf_writer *w, const bn_config *c, ex_type type, const char *name) {
    const char *arch = ex_type_arch(type);
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof(key), "%s.%s", arch, suffix), key)
    gguf_set_str(w, "general.architecture", arch);
    gguf_set_str(w, "general.name", name && *name ? name : "trit");
    gguf_set_u32(w, "general.file_type", ex_type_file_type(type));
    gguf_set_u32(w, "general.quantization_version", 2);
    gguf_set_u32(w, "general.alignment", GGUF_DEFAULT_ALIGNMENT);
    gguf_set_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size);
    gguf_set_u32(w, KEY("context_length"), (uint32_t)c->max_pos);
    gguf_set_u32(w, KEY("embedding_length"), (uint32_t)c->hidden_size);
    gguf_set_u32(w, KEY("block_count"), (uint32_t)c->n_layers);
    gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)c->intermediate_size);
    gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads);
    gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    gguf_set_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim);
    gguf_set_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim);
    gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->rms_norm_eps);
    gguf_set_f32(w, KEY("rope.freq_base"), (float)c->rope_theta);
    gguf_set_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim);
    gguf_set_str(w, KEY("hidden_activation"), bn_act_name(c->act));
#undef KEY
}

int ex_gguf_tokenizer(gguf_writer *w, const tok_tokenizer *tok, int vocab_size, int add_bos, const char *what,
                      tr_err *err) {
    int n = tok_vocab_size(tok);
    if (n > vocab_size)
        return tr_fail(err, "%s: the tokenizer has %d ids but the model's vocab_size is %d", what, n, vocab_size);
    tok_write_gguf(tok, w, add_bos);
    if (n == vocab_size) return 0;
    // llama.cpp takes the vocabulary size from the token list and wants it to match token_embd's rows:
    // the ids past the tokenizer's become unused entries, as tok_write_gguf writes holes.
    const char **strs = tr_malloc(sizeof(char *) * (size_t)vocab_size);
    char **pads = tr_calloc((size_t)vocab_size, sizeof(char *));
    int32_t *ty = tr_malloc(sizeof(int32_t) * (size_t)vocab_size);
    for (int i = 0; i < vocab_size; i++) {
        strs[i] = i < n ? tok_token_str(tok, i) : NULL;
        ty[i] = i < n ? tok_token_type(tok, i) : 5;
        if (!strs[i]) {
            pads[i] = tr_malloc(32);
            snprintf(pads[i], 32, "[PAD%d]", i);
            strs[i] = pads[i];
            ty[i] = 5;
        }
    }
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", strs, (size_t)vocab_size);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_VAL_INT32, ty, (size_t)vocab_size);
    for (int i = 0; i < vocab_size; i++) free(pads[i]);
    free(pads), free(strs), free(ty);
    return 0;
}
