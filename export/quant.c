// quant.c: weights -> the bytes of an export (ternary linears in I2_S / TQ2_0 / TQ1_0 / F16 / Hugging Face
// packed U8, embeddings in F16 / Q8_0), and ternary linears read back from a GGUF.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/f16.h"
#include "export/export.h"
#include "kernels/quants.h"

size_t ex_linear_nbytes(ex_type type, int rows, int cols) {
    int64_t n = (int64_t)rows * cols;
    switch (type) {
    case EX_I2_S: return tk_i2s_nbytes(n);
    case EX_TQ2_0: return (size_t)(n / TK_QK_K) * sizeof(tk_block_tq2_0);
    case EX_TQ1_0: return (size_t)(n / TK_QK_K) * sizeof(tk_block_tq1_0);
    default: return (size_t)n * sizeof(uint16_t);
    }
}

// I2_S packs the tensor as one run of 128-element blocks, then the scale: chunks of whole blocks are packed
// in parallel into private buffers (tk_i2s_pack writes a tail after each), and the last one in place.
static void pack_i2s(uint8_t *dst, const int8_t *t, int64_t n, float scale) {
    const int64_t chunk = 1 << 16;   // elements, a multiple of 128
    int64_t nchunks = (n + chunk - 1) / chunk;
    #pragma omp parallel
    {
        uint8_t *buf = tr_malloc(tk_i2s_nbytes(chunk));
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < nchunks - 1; c++) {
            tk_i2s_pack(buf, t + c * chunk, chunk, scale);
            memcpy(dst + c * chunk / 4, buf, (size_t)chunk / 4);
        }
        free(buf);
    }
    int64_t last = (nchunks - 1) * chunk;
    tk_i2s_pack(dst + last / 4, t + last, n - last, scale);
}

void ex_pack_linear(void *dst, ex_type type, const int8_t *t, int rows, int cols, float scale) {
    int64_t n = (int64_t)rows * cols;
    if (type == EX_I2_S) {
        pack_i2s(dst, t, n, scale);
        return;
    }
    // TQ blocks and F16 values never straddle rows (cols % 256 for TQ): rows pack independently.
    uint16_t h = f32_to_f16(scale), nh = f32_to_f16(-scale), zero = f32_to_f16(0.0f);
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int r = 0; r < rows; r++) {
        const int8_t *tr = t + (size_t)r * cols;
        if (type == EX_TQ2_0) tk_tq2_0_pack((tk_block_tq2_0 *)dst + (size_t)r * (cols / TK_QK_K), tr, cols, scale);
        else if (type == EX_TQ1_0) tk_tq1_0_pack((tk_block_tq1_0 *)dst + (size_t)r * (cols / TK_QK_K), tr, cols, scale);
        else {
            uint16_t *o = (uint16_t *)dst + (size_t)r * cols;
            for (int c = 0; c < cols; c++) o[c] = tr[c] > 0 ? h : tr[c] < 0 ? nh : zero;
        }
    }
}

size_t ex_embed_nbytes(uint32_t embed, int rows, int cols) {
    if (embed == GGUF_TYPE_Q8_0) return (size_t)rows * (size_t)(cols / TK_QK8_0) * sizeof(tk_block_q8_0);
    return (size_t)rows * cols * sizeof(uint16_t);
}

void ex_pack_embed(void *dst, uint32_t embed, const float *x, int rows, int cols) {
    CHECK(embed == GGUF_TYPE_F16 || embed == GGUF_TYPE_Q8_0, "embedding type %u", embed);
    #pragma omp parallel for schedule(static) if ((int64_t)rows * cols > 65536)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        if (embed == GGUF_TYPE_Q8_0) tk_q8_0_quantize((tk_block_q8_0 *)dst + (size_t)r * (cols / TK_QK8_0), xr, cols);
        else tk_f16_from_f32((uint16_t *)dst + (size_t)r * cols, xr, cols);
    }
}

void ex_pack_hf(uint8_t *dst, const int8_t *t, int out, int in) {
    int P = (out + 3) / 4;
    memset(dst, 0, (size_t)P * in);
    for (int row = 0; row < out; row++) {
        int p = row % P, i = row / P;
        uint8_t *d = dst + (size_t)p * in;
        const int8_t *tr = t + (size_t)row * in;
        for (int c = 0; c < in; c++) d[c] |= (uint8_t)((tr[c] + 1) << (2 * i));
    }
}

// ---------------------------------------------------------------------------------------------------
// Reading back

// Float values that must be 0 or +-s for one s > 0: t and s (s 1e-5 when all are zero).
static int ternary_of_floats(int8_t *t, float *scale, const float *v, int64_t n, const char *file, const char *name,
                             tr_err *err) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(v[i]);
        if (a == 0.0f) {
            t[i] = 0;
            continue;
        }
        if (s == 0.0f) s = a;
        if (a != s || !isfinite(a))
            return tr_fail(err, "%s: tensor '%s' is not ternary: element %lld is %g but an earlier one is %g", file, name,
                           (long long)i, v[i], s);
        t[i] = v[i] > 0 ? 1 : -1;
    }
    *scale = s > 0 ? s : 1e-5f;
    return 0;
}

int ex_read_ternary(int8_t *t, float *scale, const gguf_file *g, const gguf_tensor *x, tr_err *err) {
    const char *file = gguf_path(g);
    int64_t n = gguf_nelements(x);
    if (x->type == GGUF_TYPE_I2_S) {
        if (n % TK_QK_I2S) return tr_fail(err, "%s: I2_S tensor '%s' has %lld elements, not a multiple of 128", file, x->name, (long long)n);
        tk_i2s_unpack(t, x->data, n);
        *scale = tk_i2s_scale(x->data, n);
        for (int64_t i = 0; i < n; i++)
            if (t[i] == 2) return tr_fail(err, "%s: tensor '%s' holds the invalid I2_S code 3 at element %lld", file, x->name, (long long)i);
        if (!isfinite(*scale)) return tr_fail(err, "%s: tensor '%s' has a non-finite scale", file, x->name);
        return 0;
    }
    if (x->type == GGUF_TYPE_TQ2_0 || x->type == GGUF_TYPE_TQ1_0) {
        int64_t nb = n / TK_QK_K;
        float *d = tr_malloc(sizeof(float) * (size_t)(nb ? nb : 1));
        if (x->type == GGUF_TYPE_TQ2_0) tk_tq2_0_unpack(t, d, x->data, n);
        else tk_tq1_0_unpack(t, d, x->data, n);
        float s = 0.0f;
        int rc = 0;
        for (int64_t b = 0; b < nb && !rc; b++) {
            int nonzero = 0;
            for (int k = 0; k < TK_QK_K; k++) {
                int8_t v = t[b * TK_QK_K + k];
                if (v < -1 || v > 1)
                    rc = tr_fail(err, "%s: tensor '%s' holds an invalid code in block %lld", file, x->name, (long long)b);
                nonzero |= v != 0;
            }
            if (!nonzero || rc) continue;
            if (s == 0.0f) s = d[b];
            if (d[b] != s || !isfinite(d[b]))
                rc = tr_fail(err, "%s: tensor '%s' has block scales %g and %g; trit reads one scale per tensor", file,
                             x->name, s, d[b]);
        }
        free(d);
        *scale = s != 0.0f ? s : 1e-5f;
        return rc;
    }
    if (x->type == GGUF_TYPE_F16 || x->type == GGUF_TYPE_BF16 || x->type == GGUF_TYPE_F32) {
        float *v = tr_malloc(sizeof(float) * (size_t)(n ? n : 1));
        tk_dequant_rows(v, x, 0, n / x->ne[0]);
        int rc = ternary_of_floats(t, scale, v, n, file, x->name, err);
        free(v);
        return rc;
    }
    return tr_fail(err, "%s: tensor '%s' has type %s; a ternary linear is I2_S, TQ2_0, TQ1_0, F16, BF16 or F32", file,
                   x->name, gguf_type_name(x->type));
}
