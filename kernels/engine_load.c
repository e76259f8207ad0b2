// engine_load.c: the model of kernels/engine.h from a GGUF file: hyperparameters, every tensor checked
// against them before anything is converted, then the linears converted to the panel layout.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/f16.h"
#include "kernels/engine.h"

const char *const eng_linear_names[ENG_N_LINEAR] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

const char *eng_act_name(eng_act a) { return a == ENG_ACT_SILU ? "silu" : "relu2"; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- hyperparameters ----

static int key_int(const gguf_file *g, const char *arch, const char *key, int *out, int optional, tr_err *err) {
    char name[128];
    uint32_t v;
    snprintf(name, sizeof(name), "%s.%s", arch, key);
    if (optional && !gguf_find(g, name)) return 0;
    if (gguf_get_u32(g, name, &v, err)) return -1;
    if (v < 1 || v > (1u << 30)) return tr_fail(err, "%s: key '%s' is %u, want a positive size", gguf_path(g), name, v);
    *out = (int)v;
    return 0;
}

static int key_float(const gguf_file *g, const char *arch, const char *key, float *out, tr_err *err) {
    char name[128];
    snprintf(name, sizeof(name), "%s.%s", arch, key);
    if (gguf_get_f32(g, name, out, err)) return -1;
    if (!isfinite(*out) || *out <= 0) return tr_fail(err, "%s: key '%s' is %g, want a positive number", gguf_path(g), name, *out);
    return 0;
}

static int read_hparams(eng_hparams *hp, const gguf_file *g, tr_err *err) {
    const char *path = gguf_path(g), *arch, *act = NULL;
    memset(hp, 0, sizeof(*hp));
    if (gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    int llama = !strcmp(arch, "bitnet");
    if (!llama && strcmp(arch, "bitnet-b1.58") && strcmp(arch, "bitnet-25"))
        return tr_fail(err, "%s: unknown architecture '%s' (want bitnet, bitnet-b1.58 or bitnet-25)", path, arch);
    snprintf(hp->arch, sizeof(hp->arch), "%s", arch);
    int key_len = 0, val_len = 0, rot = 0, vocab = 0;
    if (key_int(g, arch, "block_count", &hp->n_layers, 0, err) || key_int(g, arch, "embedding_length", &hp->n_embd, 0, err) ||
        key_int(g, arch, "feed_forward_length", &hp->n_ff, 0, err) || key_int(g, arch, "attention.head_count", &hp->n_heads, 0, err) ||
        key_int(g, arch, "attention.head_count_kv", &hp->n_kv_heads, 0, err) ||
        key_float(g, arch, "attention.layer_norm_rms_epsilon", &hp->eps, err) || key_float(g, arch, "rope.freq_base", &hp->rope_theta, err) ||
        key_int(g, arch, "context_length", &hp->n_ctx_train, 0, err) || key_int(g, arch, "attention.key_length", &key_len, 1, err) ||
        key_int(g, arch, "attention.value_length", &val_len, 1, err) || key_int(g, arch, "rope.dimension_count", &rot, 1, err) ||
        key_int(g, arch, "vocab_size", &vocab, 1, err))
        return -1;
    char name[128];
    snprintf(name, sizeof(name), "%s.hidden_activation", arch);
    if (gguf_opt_str(g, name, &act, err)) return -1;
    hp->act_from_key = act != NULL;
    if (!act) hp->act = llama ? ENG_ACT_SILU : ENG_ACT_RELU2;
    else if (!strcmp(act, "relu2")) hp->act = ENG_ACT_RELU2;
    else if (!strcmp(act, "silu")) hp->act = ENG_ACT_SILU;
    else return tr_fail(err, "%s: key '%s' is '%s', want relu2 or silu", path, name, act);
    if (hp->n_heads % hp->n_kv_heads)
        return tr_fail(err, "%s: %s.attention.head_count %d is not a multiple of head_count_kv %d", path, arch, hp->n_heads, hp->n_kv_heads);
    if (!key_len && hp->n_embd % hp->n_heads)
        return tr_fail(err, "%s: %s.embedding_length %d is not a multiple of attention.head_count %d", path, arch, hp->n_embd, hp->n_heads);
    hp->head_dim = key_len ? key_len : hp->n_embd / hp->n_heads;
    if (val_len && val_len != hp->head_dim)
        return tr_fail(err, "%s: %s.attention.value_length %d differs from the key length %d", path, arch, val_len, hp->head_dim);
    if (hp->head_dim % 2) return tr_fail(err, "%s: head size %d is odd (RoPE needs pairs)", path, hp->head_dim);
    if (rot && rot != hp->head_dim)
        return tr_fail(err, "%s: %s.rope.dimension_count %d differs from the head size %d (partial RoPE is not part of BitNet)", path, arch, rot,
                       hp->head_dim);
    if ((int64_t)hp->n_heads * hp->head_dim > (1 << 24) || (int64_t)hp->n_embd > (1 << 24) || (int64_t)hp->n_ff > (1 << 24))
        return tr_fail(err, "%s: sizes too large (embedding %d, feed-forward %d, heads %d x %d)", path, hp->n_embd, hp->n_ff, hp->n_heads,
                       hp->head_dim);
    hp->n_vocab = vocab;   // checked against token_embd later
    return 0;
}

// ---- tensor checks ----

static int type_in(uint32_t type, const uint32_t *ok, int n) {
    for (int i = 0; i < n; i++)
        if (type == ok[i]) return 1;
    return 0;
}

static const char *tname(uint32_t type) { return gguf_type_name(type) ? gguf_type_name(type) : "?"; }

// Finds NAME and checks its shape (ne0, ne1; ne1 = 0 for a vector) and type. Missing and optional: *out NULL.
static int find_tensor(const gguf_tensor **out, const gguf_file *g, const char *name, int64_t ne0, int64_t ne1, const uint32_t *types,
                       int n_types, const char *want_types, int optional, tr_err *err) {
    const char *path = gguf_path(g);
    const gguf_tensor *t = gguf_find_tensor(g, name);
    *out = t;
    if (!t) return optional ? 0 : tr_fail(err, "%s: missing tensor '%s'", path, name);
    int dims = ne1 ? 2 : 1;
    int ok = t->ne[0] == ne0 && t->ne[1] == (ne1 ? ne1 : 1) && t->ne[2] == 1 && t->ne[3] == 1 && t->n_dims <= dims;
    if (!ok) {
        char want[64];
        if (ne1) snprintf(want, sizeof(want), "[%lld, %lld]", (long long)ne0, (long long)ne1);
        else snprintf(want, sizeof(want), "[%lld]", (long long)ne0);
        return tr_fail(err, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], want %s from the hyperparameters", path, name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], want);
    }
    if (!type_in(t->type, types, n_types)) return tr_fail(err, "%s: tensor '%s' is %s, want %s", path, name, tname(t->type), want_types);
    return 0;
}

static const uint32_t norm_types[] = {GGUF_TYPE_F32, GGUF_TYPE_F16, GGUF_TYPE_BF16};
static const uint32_t embd_types[] = {GGUF_TYPE_F32, GGUF_TYPE_F16, GGUF_TYPE_BF16, GGUF_TYPE_Q8_0};
static const uint32_t lin_types[] = {GGUF_TYPE_I2_S, GGUF_TYPE_TQ2_0, GGUF_TYPE_TQ1_0, GGUF_TYPE_F16, GGUF_TYPE_F32, GGUF_TYPE_BF16};

// (out, in) of projection `which`.
static void linear_shape(const eng_hparams *hp, int which, int *out, int *in) {
    int C = hp->n_embd, I = hp->n_ff, qd = hp->n_heads * hp->head_dim, kvd = hp->n_kv_heads * hp->head_dim;
    switch (which) {
    case ENG_Q: *out = qd, *in = C; break;
    case ENG_K: case ENG_V: *out = kvd, *in = C; break;
    case ENG_O: *out = C, *in = qd; break;
    case ENG_GATE: case ENG_UP: *out = I, *in = C; break;
    default: *out = C, *in = I; break;
    }
}

// Every tensor of the model exists with its shape and a usable type (nothing converted yet).
static int check_tensors(eng_model *m, const gguf_file *g, tr_err *err) {
    eng_hparams *hp = &m->hp;
    const char *path = gguf_path(g);
    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    if (!t) return tr_fail(err, "%s: missing tensor 'token_embd.weight'", path);
    int64_t V = t->ne[1];
    if (V < 1 || V > INT32_MAX / 2) return tr_fail(err, "%s: tensor 'token_embd.weight' has %lld rows", path, (long long)V);
    if (hp->n_vocab && hp->n_vocab != V)
        return tr_fail(err, "%s: key '%s.vocab_size' is %d but tensor 'token_embd.weight' has %lld rows", path, hp->arch, hp->n_vocab, (long long)V);
    hp->n_vocab = (int)V;
    const char *et = "F32, F16, BF16 or Q8_0", *nt = "F32, F16 or BF16", *lt = "I2_S, TQ2_0, TQ1_0, or F16/F32/BF16 ternary values";
    if (find_tensor(&m->tok_embd, g, "token_embd.weight", hp->n_embd, V, embd_types, 4, et, 0, err) ||
        find_tensor(&m->head, g, "output.weight", hp->n_embd, V, embd_types, 4, et, 1, err) ||
        find_tensor(&t, g, "output_norm.weight", hp->n_embd, 0, norm_types, 3, nt, 0, err))
        return -1;
    m->tied = m->head == NULL;
    if (m->tied) m->head = m->tok_embd;
    char name[96];
    for (int l = 0; l < hp->n_layers; l++) {
        static const char *norms[4] = {"attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"};
        int sizes[4] = {hp->n_embd, hp->n_heads * hp->head_dim, hp->n_embd, hp->n_ff};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, norms[k]);
            if (find_tensor(&t, g, name, sizes[k], 0, norm_types, 3, nt, 0, err)) return -1;
        }
        for (int k = 0; k < ENG_N_LINEAR; k++) {
            int out, in;
            linear_shape(hp, k, &out, &in);
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, eng_linear_names[k]);
            if (find_tensor(&t, g, name, in, out, lin_types, 6, lt, 0, err)) return -1;
            if (t->type == GGUF_TYPE_I2_S && in % TK_QK_I2S)
                return tr_fail(err, "%s: tensor '%s' is I2_S with rows of %d elements, not a multiple of 128", path, name, in);
            if (l == 0 && k == 0) m->linear_type = t->type;
            snprintf(name, sizeof(name), "blk.%d.%s.scale", l, eng_linear_names[k]);
            if (find_tensor(&t, g, name, 1, 0, norm_types, 3, nt, 1, err)) return -1;
        }
    }
    return 0;
}

// ---- conversion ----

static float load_float(const gguf_tensor *t, size_t i) {
    const uint8_t *p = t->data;
    uint16_t h;
    if (t->type == GGUF_TYPE_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    memcpy(&h, p + 2 * i, 2);
    return t->type == GGUF_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

static float *float_copy(const gguf_tensor *t) {
    size_t n = (size_t)gguf_nelements(t);
    float *v = tr_malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) v[i] = load_float(t, i);
    return v;
}

// Releases the file pages under a tensor that has been converted (the mapping is private and read-only).
static void release_pages(const gguf_tensor *t) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)t->data + page - 1) / page * page,
              b = ((uintptr_t)t->data + t->nbytes) / page * page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

// A float linear holding ternary values times one scale s = max |w|: every value must be 0 or +-s.
static int load_float_linear(tk_mat *w, const gguf_tensor *t, float extra, tk_pool *pool, const char *path, tr_err *err) {
    int K = (int)t->ne[0], M = (int)t->ne[1];
    size_t n = (size_t)M * K;
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s = fmaxf(s, fabsf(load_float(t, i)));
    if (!isfinite(s)) return tr_fail(err, "%s: tensor '%s' holds a value that is not finite", path, t->name);
    int8_t *v = tr_malloc(n);
    for (size_t i = 0; i < n; i++) {
        float f = load_float(t, i);
        v[i] = f == s ? 1 : f == -s ? -1 : 0;
        if (f != 0 && !v[i]) {
            free(v);
            return tr_fail(err, "%s: tensor '%s' (%s) is not ternary: value %g at row %zu, column %zu is neither 0 nor +-%g (its largest magnitude)",
                           path, t->name, tname(t->type), f, i / (size_t)K, i % (size_t)K, s);
        }
    }
    tk_mat_from_ternary(w, v, M, K, s * extra, pool);
    free(v);
    return 0;
}

static int load_linear(tk_mat *w, tk_pool *pool, const gguf_file *g, int l, int k, tr_err *err) {
    char name[96];
    snprintf(name, sizeof(name), "blk.%d.%s.scale", l, eng_linear_names[k]);
    const gguf_tensor *st = gguf_find_tensor(g, name);
    float extra = st ? load_float(st, 0) : 1.0f;
    if (!isfinite(extra)) return tr_fail(err, "%s: tensor '%s' is %g", gguf_path(g), name, extra);
    snprintf(name, sizeof(name), "blk.%d.%s.weight", l, eng_linear_names[k]);
    const gguf_tensor *t = gguf_find_tensor(g, name);
    if (t->type == GGUF_TYPE_F16 || t->type == GGUF_TYPE_F32 || t->type == GGUF_TYPE_BF16) {
        if (load_float_linear(w, t, extra, pool, gguf_path(g), err)) return -1;
    } else {
        if (tk_mat_from_tensor(w, t, pool, gguf_path(g), err)) return -1;
        if (w->bscale) {
            size_t nb = (size_t)w->M * (size_t)(w->K / TK_TQ_BLOCK);
            for (size_t i = 0; i < nb; i++) w->bscale[i] *= extra;
        } else w->scale *= extra;
    }
    release_pages(t);
    return 0;
}

int eng_model_load(eng_model *m, const gguf_file *g, tr_err *err) {
    double t0 = now_s();
    memset(m, 0, sizeof(*m));
    m->file = g;
    m->isa = tk_isa_best();
    if (read_hparams(&m->hp, g, err) || check_tensors(m, g, err)) {
        memset(m, 0, sizeof(*m));
        return -1;
    }
    const eng_hparams *hp = &m->hp;
    m->output_norm = float_copy(gguf_find_tensor(g, "output_norm.weight"));
    m->layers = tr_calloc((size_t)hp->n_layers, sizeof(eng_layer));
    size_t codes = 0;   // every linear's panels (check_tensors checked their shapes)
    for (int k = 0, out, in; k < ENG_N_LINEAR; k++) linear_shape(hp, k, &out, &in), codes += tk_mat_codes_bytes(out, in);
    tk_pool_init(&m->codes, codes * (size_t)hp->n_layers);
    char name[96];
    for (int l = 0; l < hp->n_layers; l++) {
        eng_layer *ly = &m->layers[l];
        float **norms[4] = {&ly->attn_norm, &ly->attn_sub_norm, &ly->ffn_norm, &ly->ffn_sub_norm};
        static const char *names[4] = {"attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, names[k]);
            *norms[k] = float_copy(gguf_find_tensor(g, name));
        }
        for (int k = 0; k < ENG_N_LINEAR; k++)
            if (load_linear(&ly->lin[k], &m->codes, g, l, k, err)) {
                eng_model_free(m);
                return -1;
            }
    }
    m->load_s = now_s() - t0;
    return 0;
}

void eng_model_free(eng_model *m) {
    if (!m) return;
    for (int l = 0; m->layers && l < m->hp.n_layers; l++) {
        eng_layer *ly = &m->layers[l];
        free(ly->attn_norm);
        free(ly->attn_sub_norm);
        free(ly->ffn_norm);
        free(ly->ffn_sub_norm);
        for (int k = 0; k < ENG_N_LINEAR; k++) tk_mat_free(&ly->lin[k]);
    }
    free(m->layers);
    tk_pool_free(&m->codes);
    free(m->output_norm);
    memset(m, 0, sizeof(*m));
}

size_t eng_decode_bytes(const eng_model *m) {
    const eng_hparams *hp = &m->hp;
    size_t bytes = m->head->nbytes + (size_t)m->tok_embd->nbytes / (size_t)hp->n_vocab + sizeof(float) * (size_t)hp->n_embd;
    for (int l = 0; l < hp->n_layers; l++) {
        for (int k = 0; k < ENG_N_LINEAR; k++) bytes += tk_mat_bytes(&m->layers[l].lin[k]);
        bytes += sizeof(float) * (2 * (size_t)hp->n_embd + (size_t)hp->n_heads * hp->head_dim + (size_t)hp->n_ff);
    }
    return bytes;
}

double eng_read_bandwidth(const eng_model *m, int reps) {
    int L = m->hp.n_layers, nbuf = L * ENG_N_LINEAR + 1;
    const uint64_t **buf = tr_malloc(sizeof(*buf) * (size_t)nbuf);
    size_t *len = tr_malloc(sizeof(size_t) * (size_t)nbuf), total = 0;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < ENG_N_LINEAR; k++) {
            const tk_mat *w = &m->layers[l].lin[k];
            buf[l * ENG_N_LINEAR + k] = (const uint64_t *)w->codes;
            len[l * ENG_N_LINEAR + k] = (size_t)w->panels * w->groups * 64 / 8;
        }
    buf[nbuf - 1] = m->head->data, len[nbuf - 1] = m->head->nbytes / 8;
    for (int i = 0; i < nbuf; i++) total += len[i] * 8;
    double best = 1e30;
    volatile uint64_t sink = 0;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now_s();
        uint64_t acc = 0;
        #pragma omp parallel reduction(^ : acc)
        {
            size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
            for (int i = 0; i < nbuf; i++) {
                const uint64_t *p = buf[i];
                size_t lo = len[i] * t / nt, hi = len[i] * (t + 1) / nt;
                #pragma omp simd reduction(^ : acc)
                for (size_t j = lo; j < hi; j++) acc ^= p[j];
            }
        }
        double dt = now_s() - t0;
        sink ^= acc;
        best = dt < best ? dt : best;
    }
    free(buf);
    free(len);
    return (double)total / best * 1e-9;
}
