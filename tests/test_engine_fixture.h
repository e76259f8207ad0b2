// test_engine_fixture.h: small BitNet GGUF files for the engine tests, written with gguf_writer and the
// packers of kernels/quants.h (independent of export/), plus the same weights as floats so a test can build
// the reference model. Header-only (static inline), shared by tests/test_engine*.c.
#ifndef TRIT_TEST_ENGINE_FIXTURE_H
#define TRIT_TEST_ENGINE_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/f16.h"
#include "common/gguf.h"
#include "common/rng.h"
#include "kernels/engine.h"
#include "kernels/quants.h"

typedef struct {
    const char *arch;       // general.architecture
    const char *act;        // <arch>.hidden_activation, NULL: no key
    int L, C, I, H, Hkv, V, ctx;
    uint32_t lin_type;      // I2_S, TQ2_0, TQ1_0, F16, F32, BF16
    uint32_t embd_type;     // F32, F16, BF16, Q8_0
    int untied;             // write output.weight (else the head is token_embd)
    uint32_t head_type;     // output.weight's type when untied
    int scale_tensors;      // write blk.N.*.scale tensors (values != 1)
    uint64_t seed;
    // Breakages for the error tests:
    const char *skip_key;     // a key not written
    const char *skip_tensor;  // a tensor not written
    int ff_key_delta;         // added to feed_forward_length (shapes no longer match)
    int heads_key_delta;      // added to attention.head_count
    int bad_value;            // a float linear gets one value that is not ternary
} fx_spec;

typedef struct {
    fx_spec s;
    int D;
    float *embd, *head;       // (V, C) as the file stores them (rounded to their type), head NULL when tied
    float *norms;             // (L, 4, max(C, I)) attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm; then output_norm (C)
    int8_t *t[64][ENG_N_LINEAR];
    float scale[64][ENG_N_LINEAR], extra[64][ENG_N_LINEAR];   // file scale, .scale tensor (1 when none)
} fx_model;

static inline void fx_linear_shape(const fx_model *f, int k, int *out, int *in) {
    int C = f->s.C, I = f->s.I, qd = f->s.H * f->D, kvd = f->s.Hkv * f->D;
    int outs[ENG_N_LINEAR] = {qd, kvd, kvd, C, I, I, C}, ins[ENG_N_LINEAR] = {C, C, C, qd, C, C, I};
    *out = outs[k], *in = ins[k];
}

static inline float *fx_norm(const fx_model *f, int l, int which) {
    int W = f->s.C > f->s.I ? f->s.C : f->s.I;
    return f->norms + ((size_t)l * 4 + which) * W;
}

// Values as a float matrix stored in `type` would hold them.
static inline void fx_round(float *x, size_t n, uint32_t type) {
    if (type == GGUF_TYPE_F16)
        for (size_t i = 0; i < n; i++) x[i] = f16_to_f32(f32_to_f16(x[i]));
    else if (type == GGUF_TYPE_BF16)
        for (size_t i = 0; i < n; i++) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
    else if (type == GGUF_TYPE_Q8_0) {
        tk_block_q8_0 *b = malloc(sizeof(tk_block_q8_0) * (n / 32));
        tk_q8_0_quantize(b, x, (int64_t)n);
        tk_q8_0_dequantize(x, b, (int64_t)n);
        free(b);
    }
}

static inline void fx_build(fx_model *f, const fx_spec *s) {
    memset(f, 0, sizeof(*f));
    f->s = *s;
    f->D = s->C / s->H;
    rng r;
    rng_seed(&r, s->seed);
    size_t VC = (size_t)s->V * s->C;
    f->embd = malloc(sizeof(float) * VC);
    for (size_t i = 0; i < VC; i++) f->embd[i] = rng_normal(&r);
    fx_round(f->embd, VC, s->embd_type);
    if (s->untied) {
        f->head = malloc(sizeof(float) * VC);
        for (size_t i = 0; i < VC; i++) f->head[i] = 0.1f * rng_normal(&r);
        fx_round(f->head, VC, s->head_type);
    }
    int W = s->C > s->I ? s->C : s->I;
    f->norms = malloc(sizeof(float) * ((size_t)s->L * 4 * W + s->C));
    for (size_t i = 0; i < (size_t)s->L * 4 * W + s->C; i++) f->norms[i] = 1.0f + 0.2f * (rng_uniform(&r) - 0.5f);
    for (int l = 0; l < s->L; l++)
        for (int k = 0; k < ENG_N_LINEAR; k++) {
            int out, in;
            fx_linear_shape(f, k, &out, &in);
            int8_t *t = f->t[l][k] = malloc((size_t)out * in);
            for (size_t i = 0; i < (size_t)out * in; i++) t[i] = (int8_t)((int)rng_below(&r, 3) - 1);
            // ~ 1.2 / sqrt(in * 2/3): unit-RMS outputs; 4 significant bits so F16 and BF16 hold t * s exactly
            float s0 = 1.5f / sqrtf((float)in), e = floorf(log2f(s0));
            f->scale[l][k] = ldexpf(floorf(ldexpf(s0, 3 - (int)e)), (int)e - 3);
            f->extra[l][k] = s->scale_tensors ? 0.5f + 0.25f * (float)((l + k) % 4) : 1.0f;
        }
}

static inline void fx_free(fx_model *f) {
    free(f->embd);
    free(f->head);
    free(f->norms);
    for (int l = 0; l < f->s.L; l++)
        for (int k = 0; k < ENG_N_LINEAR; k++) free(f->t[l][k]);
    memset(f, 0, sizeof(*f));
}

// Bytes of a float matrix (n values) in `type`, written into a new buffer.
static inline void *fx_pack_float(const float *x, size_t n, uint32_t type, size_t *bytes) {
    void *buf;
    if (type == GGUF_TYPE_F32) {
        buf = malloc(*bytes = n * 4);
        memcpy(buf, x, n * 4);
    } else if (type == GGUF_TYPE_Q8_0) {
        buf = malloc(*bytes = n / 32 * sizeof(tk_block_q8_0));
        tk_q8_0_quantize(buf, x, (int64_t)n);
    } else {
        uint16_t *h = buf = malloc(*bytes = n * 2);
        for (size_t i = 0; i < n; i++) h[i] = type == GGUF_TYPE_F16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
    }
    return buf;
}

static inline void *fx_pack_linear(const fx_model *f, int l, int k, int out, int in) {
    size_t n = (size_t)out * in, bytes;
    const int8_t *t = f->t[l][k];
    float s = f->scale[l][k];
    uint32_t type = f->s.lin_type;
    if (type == GGUF_TYPE_I2_S) {
        uint8_t *buf = malloc(tk_i2s_nbytes((int64_t)n));
        tk_i2s_pack(buf, t, (int64_t)n, s);
        return buf;
    }
    if (type == GGUF_TYPE_TQ2_0 || type == GGUF_TYPE_TQ1_0) {
        void *buf = malloc(n / 256 * (type == GGUF_TYPE_TQ2_0 ? sizeof(tk_block_tq2_0) : sizeof(tk_block_tq1_0)));
        if (type == GGUF_TYPE_TQ2_0) tk_tq2_0_pack(buf, t, (int64_t)n, s);
        else tk_tq1_0_pack(buf, t, (int64_t)n, s);
        return buf;
    }
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = (float)t[i] * s;
    if (f->s.bad_value && l == 0 && k == 0) x[n / 2 + 1] = 0.5f * s;
    void *buf = fx_pack_float(x, n, type, &bytes);
    free(x);
    return buf;
}

static inline int fx_skip(const fx_spec *s, const char *key) { return s->skip_key && !strcmp(s->skip_key, key); }

// Writes the model to path; returns 0 or -1 (err).
static inline int fx_write(const fx_model *f, const char *path, tr_err *err) {
    const fx_spec *s = &f->s;
    gguf_writer *w = gguf_writer_init();
    void *bufs[64 * 12 + 4];
    int nb = 0;
    char key[128];
#define FX_KEY(suffix) (snprintf(key, sizeof(key), "%s.%s", s->arch, suffix), key)
#define FX_SKIP(k) fx_skip(s, k)
    if (!FX_SKIP("general.architecture")) gguf_set_str(w, "general.architecture", s->arch);
    gguf_set_u32(w, "general.quantization_version", 2);
    const char *ukeys[] = {"block_count", "embedding_length", "feed_forward_length", "attention.head_count", "attention.head_count_kv",
                           "context_length"};
    int uvals[] = {s->L, s->C, s->I + s->ff_key_delta, s->H + s->heads_key_delta, s->Hkv, s->ctx};
    for (int i = 0; i < 6; i++)
        if (!FX_SKIP(FX_KEY(ukeys[i]))) gguf_set_u32(w, key, (uint32_t)uvals[i]);
    if (!FX_SKIP(FX_KEY("attention.layer_norm_rms_epsilon"))) gguf_set_f32(w, key, 1e-5f);
    if (!FX_SKIP(FX_KEY("rope.freq_base"))) gguf_set_f32(w, key, 10000.0f);
    if (!FX_SKIP(FX_KEY("rope.dimension_count"))) gguf_set_u32(w, key, (uint32_t)f->D);
    if (s->act) gguf_set_str(w, FX_KEY("hidden_activation"), s->act);
#define FX_ADD(name, type, n0, n1, data)                                                                            \
    do {                                                                                                            \
        int64_t ne_[2] = {n0, n1};                                                                                  \
        if (!(s->skip_tensor && !strcmp(s->skip_tensor, name))) gguf_add_tensor(w, name, type, (n1) ? 2 : 1, ne_, data); \
    } while (0)
    size_t bytes;
    bufs[nb++] = fx_pack_float(f->embd, (size_t)s->V * s->C, s->embd_type, &bytes);
    FX_ADD("token_embd.weight", s->embd_type, s->C, s->V, bufs[nb - 1]);
    char name[96];
    static const char *norm_names[4] = {"attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"};
    for (int l = 0; l < s->L; l++) {
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, norm_names[k]);
            FX_ADD(name, GGUF_TYPE_F32, k == 3 ? s->I : k == 1 ? s->H * f->D : s->C, 0, fx_norm(f, l, k));
        }
        for (int k = 0; k < ENG_N_LINEAR; k++) {
            int out, in;
            fx_linear_shape(f, k, &out, &in);
            bufs[nb++] = fx_pack_linear(f, l, k, out, in);
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, eng_linear_names[k]);
            FX_ADD(name, s->lin_type, in, out, bufs[nb - 1]);
            if (s->scale_tensors) {
                snprintf(name, sizeof(name), "blk.%d.%s.scale", l, eng_linear_names[k]);
                FX_ADD(name, GGUF_TYPE_F32, 1, 0, &f->extra[l][k]);
            }
        }
    }
    FX_ADD("output_norm.weight", GGUF_TYPE_F32, s->C, 0, f->norms + (size_t)s->L * 4 * (s->C > s->I ? s->C : s->I));
    if (s->untied) {
        bufs[nb++] = fx_pack_float(f->head, (size_t)s->V * s->C, s->head_type, &bytes);
        FX_ADD("output.weight", s->head_type, s->C, s->V, bufs[nb - 1]);
    }
#undef FX_ADD
#undef FX_KEY
#undef FX_SKIP
    int rc = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    return rc;
}

#endif
