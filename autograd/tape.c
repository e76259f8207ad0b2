// tape.c: the autograd context, tensor allocation and the reverse-mode driver.
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/check.h"

void ag_init(ag_ctx *ctx, size_t arena_bytes) {
    memset(ctx, 0, sizeof(*ctx));
    arena_init(&ctx->mem, arena_bytes);
    ctx->grad_enabled = 1;
}

void ag_free(ag_ctx *ctx) {
    if (!ctx) return;
    arena_free(&ctx->mem);
    free(ctx->nodes);
    ctx->nodes = NULL;
    ctx->n_nodes = ctx->cap_nodes = 0;
}

void ag_reset(ag_ctx *ctx) {
    arena_reset(&ctx->mem);
    ctx->n_nodes = 0;
}

static ag_tensor *tensor_header(ag_ctx *ctx, int ndim, const int *shape) {
    CHECK(ndim >= 1 && ndim <= AG_MAX_DIMS, "tensor rank %d outside 1..%d", ndim, AG_MAX_DIMS);
    ag_tensor *t = arena_alloc(&ctx->mem, sizeof(ag_tensor));
    memset(t, 0, sizeof(*t));
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        CHECK(shape[i] >= 0, "negative dimension %d", shape[i]);
        t->shape[i] = shape[i];
        t->n *= (size_t)shape[i];
    }
    return t;
}

// Zeroes n floats, on all threads when it is large.
static void zero_floats(float *p, size_t n) {
    if (n < 65536) {
        memset(p, 0, n * sizeof(float));
        return;
    }
    #pragma omp parallel
    {
        int nt = omp_get_num_threads(), i = omp_get_thread_num();
        size_t a = n * i / nt, b = n * (i + 1) / nt;
        memset(p + a, 0, (b - a) * sizeof(float));
    }
}

ag_tensor *ag_new(ag_ctx *ctx, int ndim, const int *shape, int with_grad) {
    ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = arena_alloc(&ctx->mem, t->n * sizeof(float));
    if (with_grad && ctx->grad_enabled) {
        t->grad = arena_alloc(&ctx->mem, t->n * sizeof(float));
        t->fresh = arena_alloc(&ctx->mem, 1);
        *t->fresh = 1;
    }
    return t;
}

int ag_grad_acc(ag_tensor *t) {
    if (!t->fresh || !*t->fresh) return 1;
    *t->fresh = 0;
    return 0;
}

float *ag_grad_zeroed(ag_tensor *t) {
    if (!ag_grad_acc(t)) zero_floats(t->grad, t->n);
    return t->grad;
}

ag_tensor *ag_wrap(ag_ctx *ctx, float *data, float *grad, int ndim, const int *shape) {
    ag_tensor *t = tensor_header(ctx, ndim, shape);
    t->data = data;
    t->grad = ctx->grad_enabled ? grad : NULL;
    return t;
}

ag_tensor *ag_view(ag_ctx *ctx, ag_tensor *src, int ndim, const int *shape) {
    ag_tensor *t = tensor_header(ctx, ndim, shape);
    CHECK(t->n == src->n, "view of %zu elements as %zu", src->n, t->n);
    t->data = src->data;
    t->grad = src->grad;
    t->fresh = src->fresh;
    return t;
}

int ag_rows(const ag_tensor *t) { return (int)(t->n / (size_t)(t->shape[t->ndim - 1] ? t->shape[t->ndim - 1] : 1)); }
int ag_cols(const ag_tensor *t) { return t->shape[t->ndim - 1]; }

int ag_needs_grad(const ag_ctx *ctx, const ag_tensor *a, const ag_tensor *b) {
    return ctx->grad_enabled && ((a && a->grad) || (b && b->grad));
}

ag_node *ag_record(ag_ctx *ctx, ag_backward_fn fn, ag_tensor *out) {
    if (ctx->n_nodes == ctx->cap_nodes) {
        ctx->cap_nodes = ctx->cap_nodes ? 2 * ctx->cap_nodes : 256;
        ctx->nodes = tr_realloc(ctx->nodes, (size_t)ctx->cap_nodes * sizeof(ag_node));
    }
    ag_node *nd = &ctx->nodes[ctx->n_nodes++];
    memset(nd, 0, sizeof(*nd));
    nd->backward = fn;
    nd->out = out;
    return nd;
}

void ag_backward(ag_ctx *ctx, ag_tensor *loss) {
    CHECK(loss->n == 1, "backward needs a scalar loss, got %zu elements", loss->n);
    ag_backward_seed(ctx, loss, (const float[]){1.0f});
}

void ag_backward_seed(ag_ctx *ctx, ag_tensor *out, const float *dout) {
    CHECK(out->grad != NULL, "backward from a tensor that wants no gradient");
    float *g = ag_grad_zeroed(out);
    for (size_t i = 0; i < out->n; i++) g[i] += dout[i];
    for (int i = ctx->n_nodes - 1; i >= 0; i--) {
        const ag_node *nd = &ctx->nodes[i];
        if (nd->out->fresh && *nd->out->fresh) continue;   // nothing flowed into its output: zero gradient
        nd->backward(nd);
    }
}
