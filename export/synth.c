// synth.c: random models in the exact layout of an export (`trit synth`), for tests and benchmarks at 2B4T
// size. Every tensor is generated straight into its packed bytes in chunks of fixed size, each chunk from its
// own seed (seed, tensor, chunk), so the file depends on the seed only, never on the thread count.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/f16.h"
#include "common/rng.h"
#include "export/export.h"
#include "kernels/quants.h"

#define CHUNK (1 << 18)   // elements per seeded chunk

static void chunk_rng(rng *r, uint64_t seed, int tensor, int64_t chunk) {
    rng_seed(r, seed ^ ((uint64_t)(tensor + 1) * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)(chunk + 1) * 0xD1B54A32D192ED03ull));
}

// Uniform ternary values: a random byte below 243 gives five base-3 digits (the others are rejected).
static void random_trits(int8_t *t, int64_t n, rng *r) {
    int64_t i = 0;
    while (i < n) {
        uint64_t u = rng_u64(r);
        for (int b = 0; b < 8 && i < n; b++, u >>= 8) {
            unsigned v = (unsigned)(u & 255);
            if (v >= 243) continue;
            for (int d = 0; d < 5 && i < n; d++, v /= 3) t[i++] = (int8_t)(v % 3) - 1;
        }
    }
}

// t (n) uniform ternary; with latent != NULL also latent bf16 weights (t + U(-0.3, 0.3)) * scale, which the
// absmean quantizer maps back to exactly t (zeros stay below half the absmean, +-1 above it).
static void gen_linear(int8_t *t, uint16_t *latent, int64_t n, float scale, uint64_t seed, int tensor) {
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t c = 0; c < nchunks; c++) {
        rng r;
        chunk_rng(&r, seed, tensor, c);
        int64_t lo = c * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        random_trits(t + lo, len, &r);
        for (int64_t i = 0; latent && i < len; i++)
            latent[lo + i] = f32_to_bf16(((float)t[lo + i] + 0.6f * rng_uniform(&r) - 0.3f) * scale);
    }
}

// rows x cols floats uniform in [center - half, center + half], written as F32, F16, BF16 or Q8_0 rows.
static void gen_floats(void *dst, uint32_t type, int rows, int cols, float center, float half, uint64_t seed, int tensor) {
    int rows_per = CHUNK / cols > 0 ? CHUNK / cols : 1;
    int nchunks = (rows + rows_per - 1) / rows_per;
    #pragma omp parallel
    {
        float *buf = tr_malloc(sizeof(float) * (size_t)rows_per * cols);
        #pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < nchunks; c++) {
            rng r;
            chunk_rng(&r, seed, tensor, c);
            int r0 = c * rows_per, nr = rows - r0 < rows_per ? rows - r0 : rows_per;
            size_t n = (size_t)nr * cols, off = (size_t)r0 * cols;
            for (size_t i = 0; i < n; i++) buf[i] = center + half * (2.0f * rng_uniform(&r) - 1.0f);
            if (type == GGUF_TYPE_F32) memcpy((float *)dst + off, buf, n * sizeof(float));
            else if (type == GGUF_TYPE_F16 || type == GGUF_TYPE_Q8_0) ex_pack_embed((char *)dst + ex_embed_nbytes(type, r0, cols), type, buf, nr, cols);
            else
                for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[off + i] = f32_to_bf16(buf[i]);
        }
        free(buf);
    }
}

static size_t float_bytes(uint32_t type, int rows, int cols) {
    return type == GGUF_TYPE_F32 ? (size_t)rows * cols * 4 : type == GGUF_TYPE_Q8_0 ? ex_embed_nbytes(type, rows, cols)
                                                                                     : (size_t)rows * cols * 2;
}

// Scale of a linear with rows of K: an input of unit RMS gives an output of unit RMS (2/3 of the codes
// are non-zero).
static float linear_scale(int K) { return sqrtf(1.5f / (float)K); }

int ex_synth(const bn_config *c, const ex_synth_opts *o, const char *cfg_path, const char *path, tr_err *err) {
    int gguf = o->kind == EX_SYN_GGUF;
    if (gguf && ex_check_dims(c, o->type, o->embed, cfg_path, err)) return -1;
    gguf_writer *gw = NULL;
    st_writer *sw = NULL;
    if (gguf) {
        gw = gguf_writer_init();
        ex_gguf_meta(gw, c, o->type, o->name);
        if (o->tok && ex_gguf_tokenizer(gw, o->tok, c->vocab_size, 1, cfg_path, err)) {
            gguf_writer_free(gw);
            return -1;
        }
    } else {
        sw = st_writer_init();
        st_writer_meta(sw, "format", "pt");
    }
    ex_tensor *plan;
    int n = ex_plan(&plan, c);
    void **bufs = tr_calloc((size_t)n * 2, sizeof(void *));
    char (*scale_names)[112] = tr_calloc((size_t)n, sizeof(*scale_names));
    size_t max_lin = (size_t)c->intermediate_size * c->hidden_size + (size_t)c->hidden_size * c->hidden_size;
    int8_t *t = tr_malloc(max_lin);
    float embed_half = sqrtf(3.0f / (float)c->hidden_size);   // RMS 1/sqrt(C): tied logits of unit scale
    for (int i = 0; i < n; i++) {
        const ex_tensor *p = &plan[i];
        int64_t ne[2] = {p->cols, p->rows}, shape[2] = {p->rows, p->cols}, one = 1;
        if (p->kind != EX_T_LINEAR) {
            int norm = p->kind == EX_T_NORM;
            uint32_t type = !gguf ? GGUF_TYPE_BF16 : norm ? GGUF_TYPE_F32 : o->embed;
            bufs[2 * i] = tr_malloc(float_bytes(type, p->rows, p->cols));
            gen_floats(bufs[2 * i], type, p->rows, p->cols, norm ? 1.0f : 0.0f, norm ? 0.1f : embed_half, o->seed, i);
            if (gguf) gguf_add_tensor(gw, p->name, type, norm ? 1 : 2, ne, bufs[2 * i]);
            else st_writer_add(sw, p->hf, ST_BF16, norm ? 1 : 2, norm ? ne : shape, bufs[2 * i]);
            continue;
        }
        int64_t cnt = (int64_t)p->rows * p->cols;
        float scale = linear_scale(p->cols);
        if (!gguf && o->layout == EX_HF_BF16) {
            bufs[2 * i] = tr_malloc((size_t)cnt * sizeof(uint16_t));
            gen_linear(t, bufs[2 * i], cnt, scale, o->seed, i);
            st_writer_add(sw, p->hf, ST_BF16, 2, shape, bufs[2 * i]);
            continue;
        }
        gen_linear(t, NULL, cnt, scale, o->seed, i);
        if (gguf) {
            bufs[2 * i] = tr_malloc(ex_linear_nbytes(o->type, p->rows, p->cols));
            ex_pack_linear(bufs[2 * i], o->type, t, p->rows, p->cols, scale);
            gguf_add_tensor(gw, p->name, ex_type_ggml(o->type), 2, ne, bufs[2 * i]);
        } else {
            int64_t pshape[2] = {(p->rows + 3) / 4, p->cols};
            bufs[2 * i] = tr_malloc((size_t)pshape[0] * p->cols);
            ex_pack_hf(bufs[2 * i], t, p->rows, p->cols);
            float *s = bufs[2 * i + 1] = tr_malloc(sizeof(float));
            *s = scale;
            snprintf(scale_names[i], sizeof(scale_names[i]), "%s_scale", p->hf);
            st_writer_add(sw, p->hf, ST_U8, 2, pshape, bufs[2 * i]);
            st_writer_add(sw, scale_names[i], ST_F32, 1, &one, s);
        }
    }
    free(t);
    int rc = gguf ? gguf_writer_write(gw, path, err) : ex_hf_write_dir(c, o->layout, sw, o->tokenizer_json, path, err);
    for (int i = 0; i < 2 * n; i++) free(bufs[i]);
    free(bufs);
    free(scale_names);
    free(plan);
    gguf_writer_free(gw);
    st_writer_free(sw);
    return rc;
}
