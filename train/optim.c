// optim.c: AdamW and gradient norms over parameter slabs.
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_BLOCK 65536

int opt_model_segments(opt_segment **out, const bn_model *m, int decay_norms, int decay_embeddings) {
    opt_segment *s = tr_malloc(sizeof(opt_segment) * (size_t)m->n_params);
    for (int i = 0; i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        s[i].offset = p->offset;
        s[i].n = p->n;
        if (p->kind == BN_P_NORM || p->ndim < 2) s[i].decay = decay_norms;
        else if (p->kind == BN_P_EMBED || p->kind == BN_P_HEAD) s[i].decay = decay_embeddings;
        else s[i].decay = 1;
    }
    *out = s;
    return m->n_params;
}

void opt_init(opt_adamw *o, size_t n, const opt_segment *segs, int n_segs, double beta1, double beta2, double eps) {
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < n_segs; i++) CHECK(segs[i].offset + segs[i].n <= n, "segment %d outside the slab", i);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->n = n;
    o->m = tr_alloc_aligned(n * sizeof(float));
    o->v = tr_alloc_aligned(n * sizeof(float));
    memset(o->m, 0, n * sizeof(float));
    memset(o->v, 0, n * sizeof(float));
    o->segs = tr_malloc(sizeof(opt_segment) * (size_t)(n_segs ? n_segs : 1));
    memcpy(o->segs, segs, sizeof(opt_segment) * (size_t)n_segs);
    o->n_segs = n_segs;
}

void opt_free(opt_adamw *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o->segs);
    memset(o, 0, sizeof(*o));
}

double opt_grad_norm(const float *grad, size_t n) {
    size_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double *part = tr_malloc(sizeof(double) * (nb ? nb : 1));
    #pragma omp parallel for schedule(static) if (nb > 1)
    for (size_t b = 0; b < nb; b++) {
        size_t lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
        double s = 0;
        #pragma omp simd reduction(+ : s)   // vector lanes: a fixed order for a given build, whatever the threads
        for (size_t i = lo; i < hi; i++) s += (double)grad[i] * grad[i];
        part[b] = s;
    }
    double total = 0;
    for (size_t b = 0; b < nb; b++) total += part[b];
    free(part);
    return sqrt(total);
}

float opt_clip_scale(double norm, double max_norm) {
    if (!(max_norm > 0)) return 1.0f;
    double c = max_norm / (norm + 1e-6);
    return c < 1.0 ? (float)c : 1.0f;
}

void opt_step(opt_adamw *o, float *data, const float *grad, float grad_scale, double lr, double weight_decay) {
    o->t++;
    // Scalars rounded to f32 exactly where PyTorch rounds them (Python doubles cast at the tensor op).
    const float b1 = (float)o->beta1, one_b1 = (float)(1.0 - o->beta1), b2 = (float)o->beta2,
                one_b2 = (float)(1.0 - o->beta2), eps = (float)o->eps;
    const float neg_step = (float)(-lr / (1.0 - pow(o->beta1, (double)o->t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(o->beta2, (double)o->t));
    float *m = o->m, *v = o->v;
    #pragma omp parallel
    for (int s = 0; s < o->n_segs; s++) {
        const opt_segment *sg = &o->segs[s];
        const float keep = sg->decay ? (float)(1.0 - lr * weight_decay) : 1.0f;
        const size_t lo = sg->offset, hi = sg->offset + sg->n;
        #pragma omp for simd schedule(static) nowait
        for (size_t i = lo; i < hi; i++) {
            float g = grad[i] * grad_scale;
            float p = data[i] * keep;
            float mi = m[i] * b1 + one_b1 * g;
            float vi = v[i] * b2 + one_b2 * g * g;
            m[i] = mi;
            v[i] = vi;
            data[i] = p + neg_step * mi / (sqrtf(vi) / bc2_sqrt + eps);
        }
    }
}
