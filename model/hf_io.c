// hf_io.c: loading Hugging Face BitNet checkpoints, latent or packed.
#include "model/hf_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safetensors.h"

static int is_float(st_dtype t) { return t == ST_F32 || t == ST_F16 || t == ST_BF16 || t == ST_F64; }

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

int bn_unpack_ternary(float *w, const unsigned char *packed, int out, int in, float mul, const char *what, tr_err *err) {
    int P = (out + 3) / 4;
    for (int p = 0; p < P; p++)
        for (int c = 0; c < in; c++) {
            unsigned byte = packed[(size_t)p * in + c];
            for (int i = 0; i < 4; i++) {
                int row = i * P + p, code = (byte >> (2 * i)) & 3;
                if (row >= out) continue;
                if (code == 3) return tr_fail(err, "%s: invalid ternary code 3 in packed row %d, column %d", what, p, c);
                w[(size_t)row * in + c] = (float)(code - 1) * mul;
            }
        }
    return 0;
}

// Reads one packed linear (uint8 codes + weight_scale) into dst.
static int load_packed(float *dst, const bn_param *p, const st_tensor *t, const st_file *st, const bn_config *cfg,
                       tr_err *err) {
    int out = p->shape[0], in = p->shape[1];
    char want[64], got[64];
    if (t->ndim != 2 || t->shape[0] != (out + 3) / 4 || t->shape[1] != in) {
        shape_str(got, sizeof(got), t->ndim, t->shape);
        return tr_fail(err, "%s: packed tensor '%s' has shape %s, the config needs [%d, %d] (4 rows per byte)", t->file,
                       t->name, got, (out + 3) / 4, in);
    }
    char sname[128];
    snprintf(sname, sizeof(sname), "%s_scale", p->name);   // "...weight" -> "...weight_scale"
    const st_tensor *s = st_find(st, sname);
    if (!s) return tr_fail(err, "%s: missing tensor '%s' (the scale of packed '%s')", st_path(st), sname, p->name);
    if (!is_float(s->dtype) || st_numel(s) != 1) {
        shape_str(want, sizeof(want), s->ndim, s->shape);
        return tr_fail(err, "%s: tensor '%s' must be one float, got %s %s", s->file, sname, st_dtype_name(s->dtype), want);
    }
    float scale;
    if (st_read_f32(&scale, s, err)) return -1;
    if (!(scale > 0)) return tr_fail(err, "%s: tensor '%s' is %g, a weight scale must be positive", s->file, sname, scale);
    float mul = cfg->linear_class == BN_BITLINEAR ? 1.0f / scale : scale;
    char what[512];
    snprintf(what, sizeof(what), "%s: tensor '%s'", t->file, t->name);
    return bn_unpack_ternary(dst, t->data, out, in, mul, what, err);
}

static int load_tensors(bn_model *m, const st_file *st, const char *cfg_path, tr_err *err) {
    const bn_config *cfg = &m->cfg;
    int packed = -1;   // decided by the first linear
    for (int i = 0; i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        float *dst = m->data + p->offset;
        const st_tensor *t = st_find(st, p->name);
        if (!t) return tr_fail(err, "%s: missing tensor '%s' (needed by %s)", st_path(st), p->name, cfg_path);
        if (p->kind == BN_P_LINEAR && t->dtype == ST_U8) {
            if (packed == 0 || !cfg->offline)
                return tr_fail(err, "%s: tensor '%s' is packed U8 but %s says quantization_mode online (latent weights)",
                               t->file, p->name, cfg_path);
            packed = 1;
            if (load_packed(dst, p, t, st, cfg, err)) return -1;
            continue;
        }
        if (!is_float(t->dtype))
            return tr_fail(err, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", t->file, p->name,
                           st_dtype_name(t->dtype));
        if (p->kind == BN_P_LINEAR) {
            if (packed == 1 || cfg->offline)
                return tr_fail(err, "%s: tensor '%s' is %s but %s says quantization_mode offline (packed U8 weights)",
                               t->file, p->name, st_dtype_name(t->dtype), cfg_path);
            packed = 0;
        }
        int64_t want[2] = {p->shape[0], p->shape[1]};
        int same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == want[d];
        if (!same) {
            char got[64], exp[64];
            shape_str(got, sizeof(got), t->ndim, t->shape);
            shape_str(exp, sizeof(exp), p->ndim, want);
            return tr_fail(err, "%s: tensor '%s' has shape %s, %s says %s", t->file, p->name, got, cfg_path, exp);
        }
        if (st_read_f32(dst, t, err)) return -1;
    }
    m->ternary = packed == 1;
    return 0;
}

int bn_model_load_hf(bn_model *m, const char *dir, int with_grad, tr_err *err) {
    char cfg_path[4096];
    snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
    bn_config cfg;
    if (bn_config_load(&cfg, cfg_path, err)) return -1;
    st_file *st = NULL;
    if (st_open(&st, dir, err)) return -1;
    bn_model_init(m, &cfg, 0);
    int rc = load_tensors(m, st, cfg_path, err);
    st_close(st);
    if (rc) {
        bn_model_free(m);
        return -1;
    }
    if (with_grad && !m->ternary) m->grad = tr_calloc(m->n_floats, sizeof(float));
    return 0;
}
