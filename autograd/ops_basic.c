// ops_basic.c: matmul (OpenBLAS sgemm), elementwise add / mul / scale, relu^2 and SiLU.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/check.h"

#define PAR_MIN 16384   // elementwise loops smaller than this stay on one thread

// ---- matmul ----

// One gradient of c = op(a) op(b): dA = dC op(B)^T (or its transpose when ta) for which 0, dB = op(A)^T dC
// (or its transpose when tb) for which 1.
static void matmul_grad(const ag_node *nd, int which, float beta) {
    ag_tensor *a = nd->in[0], *b = nd->in[1];
    const ag_tensor *c = nd->out;
    int ta = nd->iarg[0] & 1, tb = nd->iarg[0] >> 1, M = nd->iarg[1], N = nd->iarg[2], K = nd->iarg[3];
    int lda = ag_cols(a), ldb = ag_cols(b);
    CBLAS_TRANSPOSE T = CblasTrans, NT = CblasNoTrans;
    if (which == 0 && !ta)
        cblas_sgemm(CblasRowMajor, NT, tb ? NT : T, M, K, N, 1.0f, c->grad, N, b->data, ldb, beta, a->grad, lda);
    else if (which == 0)
        cblas_sgemm(CblasRowMajor, tb ? T : NT, T, K, M, N, 1.0f, b->data, ldb, c->grad, N, beta, a->grad, lda);
    else if (!tb)
        cblas_sgemm(CblasRowMajor, ta ? NT : T, NT, K, N, M, 1.0f, a->data, lda, c->grad, N, beta, b->grad, ldb);
    else
        cblas_sgemm(CblasRowMajor, T, ta ? T : NT, N, K, M, 1.0f, c->grad, N, a->data, lda, beta, b->grad, ldb);
}

static void matmul_backward(const ag_node *nd) {
    ag_tensor *a = nd->in[0], *b = nd->in[1];
    float beta_a = a->grad && ag_grad_acc(a) ? 1.0f : 0.0f, beta_b = b->grad && ag_grad_acc(b) ? 1.0f : 0.0f;
    double work = (double)nd->iarg[1] * nd->iarg[2] * nd->iarg[3];
    // Both products of a small matmul side by side, one thread each (OpenBLAS runs serially inside a
    // parallel region), as autograd/bitlinear.c does for the same reason.
    if (a->grad && b->grad && a->grad != b->grad && work < 1e8 && omp_get_max_threads() >= 2 && !omp_in_parallel()) {
        #pragma omp parallel num_threads(2)
        {
            int me = omp_get_thread_num();
            matmul_grad(nd, me, me ? beta_b : beta_a);
        }
        return;
    }
    if (a->grad) matmul_grad(nd, 0, beta_a);
    if (b->grad) matmul_grad(nd, 1, beta_b);
}

ag_tensor *ag_matmul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b, int ta, int tb) {
    CHECK(b->ndim == 2, "matmul: b must be 2-D, got %d-D", b->ndim);
    CHECK(!ta || a->ndim == 2, "matmul: a transposed must be 2-D");
    int M = ta ? ag_cols(a) : ag_rows(a), K = ta ? ag_rows(a) : ag_cols(a);
    int Kb = tb ? b->shape[1] : b->shape[0], N = tb ? b->shape[0] : b->shape[1];
    CHECK(K == Kb, "matmul: inner dimensions differ (%d vs %d)", K, Kb);
    int shape[AG_MAX_DIMS], nd = ta ? 2 : a->ndim;
    if (ta) { shape[0] = M; shape[1] = N; }
    else { memcpy(shape, a->shape, sizeof(shape)); shape[nd - 1] = N; }
    int need = ag_needs_grad(ctx, a, b);
    ag_tensor *c = ag_new(ctx, nd, shape, need);
    if (M > 0 && N > 0 && K > 0)
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                    a->data, ag_cols(a), b->data, ag_cols(b), 0.0f, c->data, N);
    else
        memset(c->data, 0, c->n * sizeof(float));
    if (need) {
        ag_node *n = ag_record(ctx, matmul_backward, c);
        n->in[0] = a; n->in[1] = b;
        n->iarg[0] = ta | tb << 1; n->iarg[1] = M; n->iarg[2] = N; n->iarg[3] = K;
    }
    return c;
}

// ---- elementwise ----

// The output of an elementwise op on a and b of one shape; *need: whether it records a backward.
static ag_tensor *binary_out(ag_ctx *ctx, const char *op, ag_tensor *a, ag_tensor *b, int *need) {
    CHECK(a->n == b->n && a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int) * (size_t)a->ndim),
          "%s: shapes differ (%zu vs %zu elements)", op, a->n, b->n);
    *need = ag_needs_grad(ctx, a, b);
    return ag_new(ctx, a->ndim, a->shape, *need);
}

static ag_node *binary_record(ag_ctx *ctx, ag_backward_fn fn, ag_tensor *c, ag_tensor *a, ag_tensor *b) {
    ag_node *nd = ag_record(ctx, fn, c);
    nd->in[0] = a;
    nd->in[1] = b;
    return nd;
}

static void add_backward(const ag_node *nd) {
    const float *restrict dc = nd->out->grad;
    size_t n = nd->out->n;
    // One pass for both inputs; a first write (the gradient held garbage) overwrites instead of adding.
    float *restrict da = nd->in[0]->grad, *restrict db = nd->in[1]->grad;
    int acc_a = da && ag_grad_acc(nd->in[0]), acc_b = db && ag_grad_acc(nd->in[1]);
    if (da && db && da != db) {
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            da[i] = (acc_a ? da[i] : 0.0f) + dc[i];
            db[i] = (acc_b ? db[i] : 0.0f) + dc[i];
        }
        return;
    }
    if (da && da == db) {   // a + a (or two views of one tensor)
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) da[i] = (acc_a ? da[i] : 0.0f) + dc[i] + dc[i];
        return;
    }
    float *restrict d = da ? da : db;
    int acc = da ? acc_a : acc_b;
    if (!d) return;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) d[i] = (acc ? d[i] : 0.0f) + dc[i];
}

ag_tensor *ag_add(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) {
    int need;
    ag_tensor *c = binary_out(ctx, "add", a, b, &need);
    const float *restrict x = a->data, *restrict y = b->data;
    float *restrict z = c->data;
    size_t n = a->n;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) z[i] = x[i] + y[i];
    if (need) binary_record(ctx, add_backward, c, a, b);
    return c;
}

static void mul_backward(const ag_node *nd) {
    const float *restrict dc = nd->out->grad, *restrict x = nd->in[0]->data, *restrict y = nd->in[1]->data;
    float *dx = nd->in[0]->grad, *dy = nd->in[1]->grad;
    size_t n = nd->out->n;
    if (dx == dy) {   // a * a
        if (ag_grad_acc(nd->in[0])) {
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] += dc[i] * y[i] + dc[i] * x[i];
        } else {   // the gradient holds garbage until this first write
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] = dc[i] * y[i] + dc[i] * x[i];
        }
        return;
    }
    if (dx) {
        if (ag_grad_acc(nd->in[0])) {
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] += dc[i] * y[i];
        } else {
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dx[i] = dc[i] * y[i];
        }
    }
    if (dy) {
        if (ag_grad_acc(nd->in[1])) {
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dy[i] += dc[i] * x[i];
        } else {
            #pragma omp parallel for simd if (n > PAR_MIN)
            for (size_t i = 0; i < n; i++) dy[i] = dc[i] * x[i];
        }
    }
}

ag_tensor *ag_mul(ag_ctx *ctx, ag_tensor *a, ag_tensor *b) {
    int need;
    ag_tensor *c = binary_out(ctx, "mul", a, b, &need);
    const float *restrict x = a->data, *restrict y = b->data;
    float *restrict z = c->data;
    size_t n = a->n;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) z[i] = x[i] * y[i];
    if (need) binary_record(ctx, mul_backward, c, a, b);
    return c;
}

static void scale_backward(const ag_node *nd) {
    const float *restrict dc = nd->out->grad;
    float *restrict da = ag_grad_zeroed(nd->in[0]), s = nd->farg[0];
    size_t n = nd->out->n;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) da[i] += s * dc[i];
}

ag_tensor *ag_scale(ag_ctx *ctx, ag_tensor *a, float s) {
    int need = ag_needs_grad(ctx, a, NULL);
    ag_tensor *c = ag_new(ctx, a->ndim, a->shape, need);
    const float *restrict x = a->data;
    float *restrict y = c->data;
    size_t n = a->n;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = s * x[i];
    if (need) {
        ag_node *n = ag_record(ctx, scale_backward, c);
        n->in[0] = a;
        n->farg[0] = s;
    }
    return c;
}

// ---- activations ----

static void relu2_backward(const ag_node *nd) {
    const float *restrict dc = nd->out->grad, *restrict x = nd->in[0]->data;
    float *restrict dx = nd->in[0]->grad;
    size_t n = nd->out->n;
    if (ag_grad_acc(nd->in[0])) {
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? 2.0f * x[i] * dc[i] : 0.0f;
    } else {
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0 ? 2.0f * x[i] * dc[i] : 0.0f;
    }
}

ag_tensor *ag_relu2(ag_ctx *ctx, ag_tensor *a) {
    int need = ag_needs_grad(ctx, a, NULL);
    ag_tensor *c = ag_new(ctx, a->ndim, a->shape, need);
    const float *restrict x = a->data;
    float *restrict y = c->data;
    size_t n = a->n;
    #pragma omp parallel for simd if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] * x[i] : 0.0f;
    if (need) ag_record(ctx, relu2_backward, c)->in[0] = a;
    return c;
}

static void silu_backward(const ag_node *nd) {
    const float *restrict dc = nd->out->grad, *restrict x = nd->in[0]->data;
    float *restrict dx = ag_grad_zeroed(nd->in[0]);
    size_t n = nd->out->n;
    #pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] += dc[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

ag_tensor *ag_silu(ag_ctx *ctx, ag_tensor *a) {
    int need = ag_needs_grad(ctx, a, NULL);
    ag_tensor *c = ag_new(ctx, a->ndim, a->shape, need);
    const float *restrict x = a->data;
    float *restrict y = c->data;
    size_t n = a->n;
    #pragma omp parallel for if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
    if (need) ag_record(ctx, silu_backward, c)->in[0] = a;
    return c;
}

// ---- the gated product act(g) * u ----
// The float operations are those of ag_mul(ag_relu2(g) or ag_silu(g), u) and their backward passes, so the
// results are identical; the activation is recomputed in the backward instead of stored. One loop per
// activation and per first-write/accumulate case keeps the relu2 loops vectorized.

static void gated_backward(const ag_node *nd) {
    ag_tensor *g = nd->in[0], *u = nd->in[1];
    const float *restrict dc = nd->out->grad, *restrict x = g->data, *restrict y = u->data;
    float *restrict dg = g->grad, *restrict du = u->grad;
    // Unwanted gradients go to scratch, so that every loop writes both.
    float *scratch = (!dg || !du) ? nd->saved : NULL;
    int acc_g = dg && ag_grad_acc(g), acc_u = du && ag_grad_acc(u);   // else the first write: garbage before
    if (!dg) dg = scratch;
    if (!du) du = scratch;
    size_t n = nd->out->n;
    if (nd->iarg[0]) {
        #pragma omp parallel for if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float s = 1.0f / (1.0f + expf(-x[i])), da = dc[i] * y[i];
            dg[i] = (acc_g ? dg[i] : 0.0f) + da * s * (1.0f + x[i] * (1.0f - s));
            du[i] = (acc_u ? du[i] : 0.0f) + dc[i] * (x[i] / (1.0f + expf(-x[i])));
        }
    } else {
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float da = dc[i] * y[i];
            dg[i] = (acc_g ? dg[i] : 0.0f) + (x[i] > 0 ? 2.0f * x[i] * da : 0.0f);
            du[i] = (acc_u ? du[i] : 0.0f) + dc[i] * (x[i] > 0 ? x[i] * x[i] : 0.0f);
        }
    }
}

ag_tensor *ag_gated(ag_ctx *ctx, ag_tensor *g, ag_tensor *u, int silu) {
    int need;
    ag_tensor *c = binary_out(ctx, "gated", g, u, &need);
    const float *restrict x = g->data, *restrict y = u->data;
    float *restrict z = c->data;
    size_t n = g->n;
    if (silu) {
        #pragma omp parallel for if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) z[i] = (x[i] / (1.0f + expf(-x[i]))) * y[i];
    } else {
        #pragma omp parallel for simd if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) z[i] = (x[i] > 0 ? x[i] * x[i] : 0.0f) * y[i];
    }
    if (need) {
        ag_node *nd = binary_record(ctx, gated_backward, c, g, u);
        nd->iarg[0] = silu;
        if (!g->grad || !u->grad) nd->saved = arena_alloc(&ctx->mem, sizeof(float) * n);
    }
    return c;
}
