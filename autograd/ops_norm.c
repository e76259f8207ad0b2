// ops_norm.c: RMSNorm, embedding lookup and cross-entropy with an ignore index.
#include <math.h>
#include <omp.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/check.h"
#include "kernels/vmath.h"

// ---- RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w ----

typedef struct {
    float *rstd;      // (rows,)
    float *dw_part;   // (threads, C) per-thread partial sums of dw
    int threads;
} rms_saved;

static void rmsnorm_backward(const ag_node *nd) {
    ag_tensor *x = nd->in[0], *w = nd->in[1];
    const rms_saved *s = nd->saved;
    int R = ag_rows(x), C = ag_cols(x);
    const float *dy = nd->out->grad;
    float acc = x->grad && ag_grad_acc(x) ? 1.0f : 0.0f;
    if (w->grad) memset(s->dw_part, 0, sizeof(float) * (size_t)s->threads * C);
    #pragma omp parallel num_threads(s->threads) if (x->n > 16384)
    {
        float *restrict dwp = s->dw_part + (size_t)omp_get_thread_num() * C;
        #pragma omp for
        for (int r = 0; r < R; r++) {
            const float *restrict xr = x->data + (size_t)r * C, *restrict dyr = dy + (size_t)r * C;
            float rs = s->rstd[r];
            const float *restrict wd = w->data;
            if (x->grad) {
                float dot = 0.0f;
                #pragma omp simd reduction(+ : dot)
                for (int i = 0; i < C; i++) dot += wd[i] * dyr[i] * xr[i];
                float k = dot * rs * rs * rs / (float)C;
                float *restrict dxr = x->grad + (size_t)r * C;
                if (acc) {
                    #pragma omp simd
                    for (int i = 0; i < C; i++) dxr[i] += rs * wd[i] * dyr[i] - k * xr[i];
                } else {   // the first write: the gradient held garbage
                    #pragma omp simd
                    for (int i = 0; i < C; i++) dxr[i] = rs * wd[i] * dyr[i] - k * xr[i];
                }
            }
            if (w->grad) {
                #pragma omp simd
                for (int i = 0; i < C; i++) dwp[i] += dyr[i] * xr[i] * rs;
            }
        }
    }
    if (w->grad) {
        float *dw = ag_grad_zeroed(w);
        for (int t = 0; t < s->threads; t++)
            for (int i = 0; i < C; i++) dw[i] += s->dw_part[(size_t)t * C + i];
    }
}

// yr = w * (xr * rstd); returns rstd.
static float rms_row(float *restrict yr, const float *restrict xr, const float *restrict wd, int C, float eps) {
    float ss = 0.0f;
    #pragma omp simd reduction(+ : ss)
    for (int i = 0; i < C; i++) ss += xr[i] * xr[i];
    float rs = 1.0f / sqrtf(ss / (float)C + eps);
    #pragma omp simd
    for (int i = 0; i < C; i++) yr[i] = wd[i] * (xr[i] * rs);
    return rs;
}

static void rms_record(ag_ctx *ctx, ag_tensor *y, ag_tensor *x, ag_tensor *w, float *rstd) {
    ag_node *n = ag_record(ctx, rmsnorm_backward, y);
    n->in[0] = x; n->in[1] = w;
    rms_saved *s = arena_alloc(&ctx->mem, sizeof(rms_saved));
    s->rstd = rstd;
    s->threads = omp_get_max_threads();
    s->dw_part = w->grad ? arena_alloc(&ctx->mem, sizeof(float) * (size_t)s->threads * ag_cols(x)) : NULL;
    n->saved = s;
}

ag_tensor *ag_rmsnorm(ag_ctx *ctx, ag_tensor *x, ag_tensor *w, float eps) {
    int R = ag_rows(x), C = ag_cols(x);
    CHECK(w->n == (size_t)C, "rmsnorm: weight has %zu elements, rows have %d", w->n, C);
    int need = ag_needs_grad(ctx, x, w);
    ag_tensor *y = ag_new(ctx, x->ndim, x->shape, need);
    float *rstd = arena_alloc(&ctx->mem, sizeof(float) * (size_t)(R ? R : 1));
    #pragma omp parallel for if (x->n > 16384)
    for (int r = 0; r < R; r++) rstd[r] = rms_row(y->data + (size_t)r * C, x->data + (size_t)r * C, w->data, C, eps);
    if (need) rms_record(ctx, y, x, w, rstd);
    return y;
}

ag_qact *ag_rmsnorm_quant(ag_ctx *ctx, ag_tensor *x, ag_tensor *w, float eps, int keep_rows) {
    int R = ag_rows(x), C = ag_cols(x);
    CHECK(w->n == (size_t)C, "rmsnorm: weight has %zu elements, rows have %d", w->n, C);
    int need = ag_needs_grad(ctx, x, w);
    ag_tensor *y = ag_new(ctx, x->ndim, x->shape, need);   // (R, C): its gradient, and its rows when kept
    if (!keep_rows) y->data = NULL;
    ag_qact *a = ag_qact_new(ctx, y, R, C);
    float *rstd = arena_alloc(&ctx->mem, sizeof(float) * (size_t)(R ? R : 1));
    int threads = omp_get_max_threads();
    float *rows = keep_rows ? NULL : arena_alloc(&ctx->mem, sizeof(float) * (size_t)threads * C);
    #pragma omp parallel num_threads(threads) if (x->n > 16384)
    {
        float *row = rows ? rows + (size_t)omp_get_thread_num() * C : NULL;
        #pragma omp for
        for (int r = 0; r < R; r++) {
            float *yr = row ? row : y->data + (size_t)r * C;
            rstd[r] = rms_row(yr, x->data + (size_t)r * C, w->data, C, eps);
            ag_qact_row(a, r, yr);
        }
    }
    if (need) rms_record(ctx, y, x, w, rstd);
    return a;
}

// ---- embedding: out[i] = table[ids[i]] ----

static void embedding_backward(const ag_node *nd) {
    ag_tensor *table = nd->in[0];
    const int *ids = nd->saved;
    int n = nd->iarg[0], C = ag_cols(table);
    const float *dy = nd->out->grad;
    ag_grad_zeroed(table);
    // Threads own disjoint column ranges, so repeated ids never race.
    #pragma omp parallel if ((size_t)n * C > 16384)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int c0 = (int)((long)C * t / nt), c1 = (int)((long)C * (t + 1) / nt);
        for (int i = 0; i < n; i++) {
            float *dst = table->grad + (size_t)ids[i] * C;
            const float *src = dy + (size_t)i * C;
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}

ag_tensor *ag_embedding(ag_ctx *ctx, ag_tensor *table, const int *ids, int n) {
    CHECK(table->ndim == 2, "embedding: table must be 2-D");
    int V = table->shape[0], C = table->shape[1];
    int shape[2] = {n, C};
    int need = ag_needs_grad(ctx, table, NULL);
    ag_tensor *y = ag_new(ctx, 2, shape, need);
    for (int i = 0; i < n; i++) {
        CHECK(ids[i] >= 0 && ids[i] < V, "embedding: token id %d outside the vocabulary [0, %d)", ids[i], V);
        memcpy(y->data + (size_t)i * C, table->data + (size_t)ids[i] * C, sizeof(float) * (size_t)C);
    }
    if (need) {
        ag_node *nd = ag_record(ctx, embedding_backward, y);
        nd->in[0] = table;
        nd->iarg[0] = n;
        nd->saved = (void *)ids;
    }
    return y;
}

// ---- cross-entropy: mean over counted rows of logsumexp(z) - z[label] ----
// The forward keeps each row's logsumexp, so the backward is one pass: dz = g * (exp(z - lse) - onehot).
// exp is km_expf (glibc's expf, vectorized); the row sums are in double.

typedef struct {
    const int *labels;
    float *lse;       // (rows)
    float *scratch;   // (threads, V)
    int threads;
} ce_saved;

static void cross_entropy_backward(const ag_node *nd) {
    ag_tensor *z = nd->in[0];
    const ce_saved *s = nd->saved;
    int R = ag_rows(z), V = ag_cols(z), ignore = nd->iarg[0], count = nd->iarg[1];
    if (count == 0) return;
    int acc = ag_grad_acc(z);
    float g = nd->out->grad[0] / (float)count;
    #pragma omp parallel for num_threads(s->threads) if (z->n > 16384)
    for (int r = 0; r < R; r++) {
        float *restrict dz = z->grad + (size_t)r * V;
        if (s->labels[r] == ignore) {
            if (!acc) memset(dz, 0, sizeof(float) * (size_t)V);
            continue;
        }
        const float *restrict zr = z->data + (size_t)r * V;
        float *restrict e = s->scratch + (size_t)omp_get_thread_num() * V, lse = s->lse[r];
        #pragma omp simd
        for (int i = 0; i < V; i++) e[i] = zr[i] - lse;
        km_expf(e, e, V);
        if (acc) {
            #pragma omp simd
            for (int i = 0; i < V; i++) dz[i] += g * e[i];
        } else {
            #pragma omp simd
            for (int i = 0; i < V; i++) dz[i] = g * e[i];
        }
        dz[s->labels[r]] -= g;
    }
}

ag_tensor *ag_cross_entropy(ag_ctx *ctx, ag_tensor *logits, const int *labels, int ignore_index) {
    int R = ag_rows(logits), V = ag_cols(logits), count = 0;
    ce_saved *s = arena_alloc(&ctx->mem, sizeof(ce_saved));
    s->labels = labels;
    s->threads = omp_get_max_threads();
    s->lse = arena_alloc(&ctx->mem, sizeof(float) * (size_t)(R ? R : 1));
    s->scratch = arena_alloc(&ctx->mem, sizeof(float) * (size_t)s->threads * V);
    double total = 0.0;
    #pragma omp parallel for num_threads(s->threads) reduction(+ : total, count) if (logits->n > 16384)
    for (int r = 0; r < R; r++) {
        if (labels[r] == ignore_index) continue;
        CHECK(labels[r] >= 0 && labels[r] < V, "cross_entropy: label %d outside [0, %d)", labels[r], V);
        const float *restrict zr = logits->data + (size_t)r * V;
        float *restrict e = s->scratch + (size_t)omp_get_thread_num() * V, mx = zr[0];
        #pragma omp simd reduction(max : mx)
        for (int i = 0; i < V; i++) mx = zr[i] > mx ? zr[i] : mx;
        #pragma omp simd
        for (int i = 0; i < V; i++) e[i] = zr[i] - mx;
        km_expf(e, e, V);
        double sum = 0.0;
        for (int i = 0; i < V; i++) sum += e[i];
        double lse = log(sum) + mx;
        s->lse[r] = (float)lse;
        total += lse - zr[labels[r]];
        count++;
    }
    int one = 1, need = ag_needs_grad(ctx, logits, NULL);
    ag_tensor *loss = ag_new(ctx, 1, &one, need);
    loss->data[0] = count ? (float)(total / count) : 0.0f;
    if (need) {
        ag_node *nd = ag_record(ctx, cross_entropy_backward, loss);
        nd->in[0] = logits;
        nd->iarg[0] = ignore_index;
        nd->iarg[1] = count;
        nd->saved = s;
    }
    return loss;
}
