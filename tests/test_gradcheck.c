// test_gradcheck.c: finite-difference gradient checks of every autograd op, and the BitLinear
// quantizers' values and straight-through gradients.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ag.h"
#include "common/rng.h"
#include "tests/harness.h"

#define MAX_IN 4

typedef struct {
    int n_in;
    int ndim[MAX_IN], shape[MAX_IN][4];
    float *data[MAX_IN], *grad[MAX_IN];
    size_t n[MAX_IN];
    int wants_grad[MAX_IN];
} inputs;

typedef ag_tensor *(*build_fn)(ag_ctx *ctx, ag_tensor **in, const void *arg);

static void add_input(inputs *in, rng *r, int ndim, const int *shape, float scale, int wants_grad) {
    int k = in->n_in++;
    in->ndim[k] = ndim;
    in->n[k] = 1;
    for (int i = 0; i < ndim; i++) in->shape[k][i] = shape[i], in->n[k] *= (size_t)shape[i];
    in->data[k] = malloc(in->n[k] * sizeof(float));
    in->grad[k] = calloc(in->n[k], sizeof(float));
    for (size_t i = 0; i < in->n[k]; i++) in->data[k][i] = scale * rng_normal(r);
    in->wants_grad[k] = wants_grad;
}

static void free_inputs(inputs *in) {
    for (int k = 0; k < in->n_in; k++) free(in->data[k]), free(in->grad[k]);
}

// Runs f on the inputs; returns sum(out * weights) in double. With grads, also backpropagates weights.
static double evaluate(ag_ctx *ctx, build_fn f, const void *arg, inputs *in, float **weights, int with_grad) {
    ag_reset(ctx);
    ctx->grad_enabled = with_grad;
    ag_tensor *t[MAX_IN];
    for (int k = 0; k < in->n_in; k++)
        t[k] = ag_wrap(ctx, in->data[k], in->wants_grad[k] ? in->grad[k] : NULL, in->ndim[k], in->shape[k]);
    ag_tensor *out = f(ctx, t, arg);
    if (!*weights) {   // fixed random output weights, made on first use
        rng r;
        rng_seed(&r, 99);
        *weights = malloc(out->n * sizeof(float));
        for (size_t i = 0; i < out->n; i++) (*weights)[i] = rng_normal(&r);
    }
    double L = 0;
    for (size_t i = 0; i < out->n; i++) L += (double)out->data[i] * (*weights)[i];
    if (with_grad) ag_backward_seed(ctx, out, *weights);
    ctx->grad_enabled = 1;
    return L;
}

// Central differences on up to 48 elements of each input that wants a gradient; norm-based comparison.
static void gradcheck(const char *name, build_fn f, const void *arg, inputs *in, float eps, double tol) {
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    float *w = NULL;
    evaluate(&ctx, f, arg, in, &w, 1);
    for (int k = 0; k < in->n_in; k++) {
        if (!in->wants_grad[k]) continue;
        size_t m = in->n[k] < 48 ? in->n[k] : 48;
        float *num = malloc(m * sizeof(float)), *ana = malloc(m * sizeof(float));
        for (size_t j = 0; j < m; j++) {
            size_t i = in->n[k] <= 48 ? j : (j * 7919) % in->n[k];
            float keep = in->data[k][i];
            in->data[k][i] = keep + eps;
            double lp = evaluate(&ctx, f, arg, in, &w, 0);
            in->data[k][i] = keep - eps;
            double lm = evaluate(&ctx, f, arg, in, &w, 0);
            in->data[k][i] = keep;
            num[j] = (float)((lp - lm) / (2.0 * eps));
            ana[j] = in->grad[k][i];
        }
        char label[128];
        snprintf(label, sizeof(label), "gradcheck %s input %d", name, k);
        double err = t_rel_l2(ana, num, m);
        t_check(err <= tol, label, "relative L2 error %.3g > %.3g", err, tol);
        free(num), free(ana);
    }
    free(w);
    ag_free(&ctx);
}

// ---- the ops under test ----

typedef struct { int ta, tb; } mm_arg;
static ag_tensor *b_matmul(ag_ctx *c, ag_tensor **t, const void *a) {
    const mm_arg *m = a;
    return ag_matmul(c, t[0], t[1], m->ta, m->tb);
}
static ag_tensor *b_add(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_add(c, t[0], t[1]); }
static ag_tensor *b_mul(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_mul(c, t[0], t[1]); }
static ag_tensor *b_scale(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_scale(c, t[0], -1.7f); }
static ag_tensor *b_relu2(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_relu2(c, t[0]); }
static ag_tensor *b_silu(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_silu(c, t[0]); }
static ag_tensor *b_rmsnorm(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_rmsnorm(c, t[0], t[1], 1e-5f); }
static ag_tensor *b_rope(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_rope(c, t[0], 10000.0, 3); }
static ag_tensor *b_attention(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_attention(c, t[0], t[1], t[2]); }
static ag_tensor *b_embedding(ag_ctx *c, ag_tensor **t, const void *a) { return ag_embedding(c, t[0], a, 7); }
static ag_tensor *b_cross_entropy(ag_ctx *c, ag_tensor **t, const void *a) { return ag_cross_entropy(c, t[0], a, -100); }
static ag_tensor *b_lora(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_lora_add(c, t[0], t[1], t[2], t[3], 2.0f); }
static ag_tensor *b_gated_relu2(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_gated(c, t[0], t[1], 0); }
static ag_tensor *b_gated_silu(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_gated(c, t[0], t[1], 1); }
// The gated product of two intermediate tensors (their gradients start unwritten).
static ag_tensor *b_gated_chain(ag_ctx *c, ag_tensor **t, const void *a) {
    return ag_gated(c, ag_matmul(c, t[0], t[1], 0, 1), ag_matmul(c, t[0], t[2], 0, 1), a != NULL);
}
static ag_tensor *b_view_chain(ag_ctx *c, ag_tensor **t, const void *a) {   // a small composite graph
    (void)a;
    ag_tensor *h = ag_rmsnorm(c, t[0], t[1], 1e-6f);
    ag_tensor *g = ag_matmul(c, h, t[2], 0, 1);
    ag_tensor *u = ag_matmul(c, h, t[3], 0, 1);
    return ag_mul(c, ag_silu(c, g), u);
}

static void check_ops(void) {
    rng r;
    rng_seed(&r, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            inputs in = {0};
            mm_arg m = {ta, tb};
            int sa[3] = {2, 5, 3}, sat[2] = {3, 10}, sb[2] = {3, 4}, sbt[2] = {4, 3};
            if (ta) add_input(&in, &r, 2, sat, 1, 1); else add_input(&in, &r, 3, sa, 1, 1);
            add_input(&in, &r, 2, tb ? sbt : sb, 1, 1);
            char name[64];
            snprintf(name, sizeof(name), "matmul ta=%d tb=%d", ta, tb);
            gradcheck(name, b_matmul, &m, &in, 1e-2f, 1e-3);
            free_inputs(&in);
        }
    int s35[2] = {3, 5}, s7[1] = {7}, s47[2] = {4, 7};
    struct { const char *name; build_fn f; int two; } ew[] = {
        {"add", b_add, 1}, {"mul", b_mul, 1}, {"scale", b_scale, 0}, {"relu2", b_relu2, 0}, {"silu", b_silu, 0},
        {"gated relu2", b_gated_relu2, 1}, {"gated silu", b_gated_silu, 1}};
    for (size_t i = 0; i < sizeof(ew) / sizeof(ew[0]); i++) {
        inputs in = {0};
        add_input(&in, &r, 2, s35, 1, 1);
        if (ew[i].two) add_input(&in, &r, 2, s35, 1, 1);
        gradcheck(ew[i].name, ew[i].f, NULL, &in, 1e-3f, 1e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        add_input(&in, &r, 2, s47, 1, 1);
        add_input(&in, &r, 1, s7, 1, 1);
        for (int i = 0; i < 7; i++) in.data[1][i] += 1.0f;
        gradcheck("rmsnorm", b_rmsnorm, NULL, &in, 1e-3f, 2e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        int s[4] = {2, 5, 3, 6};
        add_input(&in, &r, 4, s, 1, 1);
        gradcheck("rope", b_rope, NULL, &in, 1e-2f, 1e-3);
        free_inputs(&in);
    }
    int heads[][2] = {{2, 2}, {6, 2}, {3, 1}, {5, 5}};
    for (int h = 0; h < 4; h++) {
        inputs in = {0};
        int sq[4] = {2, 7, heads[h][0], 4}, sk[4] = {2, 7, heads[h][1], 4};
        add_input(&in, &r, 4, sq, 1, 1);
        add_input(&in, &r, 4, sk, 1, 1);
        add_input(&in, &r, 4, sk, 1, 1);
        char name[64];
        snprintf(name, sizeof(name), "attention H=%d Hkv=%d", heads[h][0], heads[h][1]);
        gradcheck(name, b_attention, NULL, &in, 1e-2f, 2e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        int st[2] = {5, 3};
        static const int ids[7] = {0, 4, 4, 2, 0, 1, 4};   // repeats accumulate
        add_input(&in, &r, 2, st, 1, 1);
        gradcheck("embedding", b_embedding, ids, &in, 1e-2f, 1e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        int sz[2] = {6, 9};
        static const int labels[6] = {3, -100, 0, 8, -100, 5};
        add_input(&in, &r, 2, sz, 2, 1);
        gradcheck("cross_entropy", b_cross_entropy, labels, &in, 1e-2f, 2e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        int sy[2] = {5, 6}, sx[2] = {5, 4}, sa[2] = {3, 4}, sb[2] = {6, 3};
        add_input(&in, &r, 2, sy, 1, 1);
        add_input(&in, &r, 2, sx, 1, 1);
        add_input(&in, &r, 2, sa, 1, 1);
        add_input(&in, &r, 2, sb, 1, 1);
        gradcheck("lora_add", b_lora, NULL, &in, 1e-2f, 1e-3);
        free_inputs(&in);
    }
    {
        inputs in = {0};
        int sx[2] = {4, 6}, sw[1] = {6}, sg[2] = {5, 6};
        add_input(&in, &r, 2, sx, 1, 1);
        add_input(&in, &r, 1, sw, 1, 1);
        add_input(&in, &r, 2, sg, 0.5f, 1);
        add_input(&in, &r, 2, sg, 0.5f, 1);
        gradcheck("composite rmsnorm-matmul-silu-mul", b_view_chain, NULL, &in, 1e-3f, 3e-3);
        free_inputs(&in);
    }
    for (int silu = 0; silu < 2; silu++) {
        inputs in = {0};
        int sx[2] = {5, 6}, sw[2] = {4, 6};
        add_input(&in, &r, 2, sx, 1, 1);
        add_input(&in, &r, 2, sw, 0.5f, 1);
        add_input(&in, &r, 2, sw, 0.5f, 1);
        gradcheck(silu ? "composite gated silu of matmuls" : "composite gated relu2 of matmuls", b_gated_chain,
                  silu ? "silu" : NULL, &in, 1e-3f, 2e-3);
        free_inputs(&in);
    }
}

// ---- BitLinear: quantizer values and straight-through gradients ----

static ag_tensor *b_matmul_nt(ag_ctx *c, ag_tensor **t, const void *a) { (void)a; return ag_matmul(c, t[0], t[1], 0, 1); }

static void check_bitlinear(void) {
    // Per-token absmax int8: s = 127 / 127 = 1 here, and rint rounds halves to even.
    float row[6] = {127.0f, 0.5f, 1.5f, -0.5f, 2.5f, -127.0f}, q[6];
    ag_act_quant_row(q, row, 6);
    const float want[6] = {127, 0, 2, 0, 2, -127};
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= q[i] == want[i];
    t_check(ok, "act_quant rounds half to even", "got %g %g %g %g %g", q[1], q[2], q[3], q[4], q[5]);
    float zero[3] = {0, 0, 0};
    ag_act_quant_row(q, zero, 3);
    t_check(q[0] == 0 && q[1] == 0 && q[2] == 0, "act_quant of a zero row is zero", "got %g", q[0]);

    ag_ctx ctx;
    ag_init(&ctx, 1 << 16);
    float wd[4] = {0.1f, -0.3f, 0.05f, 0.0f}, wg[4] = {0};
    int ws[2] = {2, 2};
    ag_tensor *w = ag_wrap(&ctx, wd, wg, 2, ws);
    ag_tensor *wq = ag_weight_quant(&ctx, w);
    float s = 0.45f / 4.0f;
    t_check(fabsf(wq->data[0] - s) < 1e-7f && fabsf(wq->data[1] + s) < 1e-7f && wq->data[2] == 0 && wq->data[3] == 0,
            "weight_quant absmean ternary", "got %g %g %g %g", wq->data[0], wq->data[1], wq->data[2], wq->data[3]);
    t_check(wq->grad == w->grad, "weight_quant gradient is straight-through", "separate buffers");

    // STE: d/dx of sum(r * bitlinear(x, W)) must equal the finite-difference gradient of sum(r * x @ Wq^T)
    // with Wq held at the quantized weights, and d/dW that of sum(r * Xq @ W^T) with Xq held quantized.
    rng r;
    rng_seed(&r, 5);
    int sx[2] = {6, 16}, sw[2] = {5, 16};
    inputs in = {0};
    add_input(&in, &r, 2, sx, 1, 1);
    add_input(&in, &r, 2, sw, 0.05f, 1);
    ag_reset(&ctx);
    ag_tensor *x = ag_wrap(&ctx, in.data[0], in.grad[0], 2, sx), *W = ag_wrap(&ctx, in.data[1], in.grad[1], 2, sw);
    ag_tensor *y = ag_bitlinear(&ctx, ag_quant_act(&ctx, x), W, 0);
    float dy[30];
    for (int i = 0; i < 30; i++) dy[i] = rng_normal(&r);
    ag_backward_seed(&ctx, y, dy);
    float *dx_ste = malloc(sizeof(float) * 96), *dw_ste = malloc(sizeof(float) * 80);
    memcpy(dx_ste, in.grad[0], sizeof(float) * 96);
    memcpy(dw_ste, in.grad[1], sizeof(float) * 80);
    // Reference: plain matmul gradients at the quantized operands.
    inputs ref = {0};
    add_input(&ref, &r, 2, sx, 1, 1);
    add_input(&ref, &r, 2, sw, 1, 1);
    ag_reset(&ctx);
    ag_tensor *xq = ag_act_quant(&ctx, ag_wrap(&ctx, in.data[0], NULL, 2, sx));
    ag_tensor *wq2 = ag_weight_quant(&ctx, ag_wrap(&ctx, in.data[1], NULL, 2, sw));
    memcpy(ref.data[0], xq->data, sizeof(float) * 96);
    memcpy(ref.data[1], wq2->data, sizeof(float) * 80);
    gradcheck("bitlinear reference matmul at quantized operands", b_matmul_nt, NULL, &ref, 1e-2f, 1e-3);
    memset(ref.grad[0], 0, sizeof(float) * 96);
    memset(ref.grad[1], 0, sizeof(float) * 80);
    ag_reset(&ctx);
    ag_tensor *yr = ag_matmul(&ctx, ag_wrap(&ctx, ref.data[0], ref.grad[0], 2, sx), ag_wrap(&ctx, ref.data[1], ref.grad[1], 2, sw), 0, 1);
    ag_backward_seed(&ctx, yr, dy);
    double ey = t_rel_l2(y->data, yr->data, 30);
    t_check(ey < 1e-6, "bitlinear forward = act_quant(x) @ weight_quant(W)^T", "relative error %.3g", ey);
    // The integer backward carries gradients in 16-bit fixed point (autograd/bitlinear.c).
    double ex = t_rel_l2(dx_ste, ref.grad[0], 96), ew = t_rel_l2(dw_ste, ref.grad[1], 80);
    t_check(ex < 1e-4, "bitlinear STE dX = dY Wq", "relative error %.3g", ex);
    t_check(ew < 1e-4, "bitlinear STE dW = dY^T Xq", "relative error %.3g", ew);
    // Stored ternary weights (a packed checkpoint: t * s) give the latent model's forward and dX.
    float *wt = malloc(sizeof(float) * 80), *dxt = calloc(96, sizeof(float)), yref[30];
    memcpy(wt, ref.data[1], sizeof(float) * 80);   // weight_quant(W), copied before the arena was reset
    memcpy(yref, yr->data, sizeof(yref));
    ag_reset(&ctx);
    ag_tensor *yt = ag_bitlinear(&ctx, ag_quant_act(&ctx, ag_wrap(&ctx, in.data[0], dxt, 2, sx)), ag_wrap(&ctx, wt, NULL, 2, sw), 1);
    double et = t_rel_l2(yt->data, yref, 30);
    t_check(et < 1e-6, "bitlinear on stored ternary weights: same forward", "relative error %.3g", et);
    ag_backward_seed(&ctx, yt, dy);
    t_check(t_rel_l2(dxt, ref.grad[0], 96) < 1e-4, "bitlinear on stored ternary weights: same dX", "differs");
    free(wt), free(dxt);
    free(dx_ste), free(dw_ste);
    free_inputs(&in), free_inputs(&ref);
    ag_free(&ctx);
}

// The fused ops give the same floats as the compositions they replace: ag_gated = ag_mul(act(g), u) and
// ag_rmsnorm_quant = ag_quant_act(ag_rmsnorm(x, w)), forward and backward (gradients flowing from a BitLinear).
static void check_fused(void) {
    rng r;
    rng_seed(&r, 11);
    int R = 301, C = 70, sx[2] = {R, C}, sw[1] = {C}, swt[2] = {9, C}, n = R * C;
    float *x = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * C);
    float *wt = malloc(sizeof(float) * 9 * C), *dy = malloc(sizeof(float) * R * 9);
    for (int i = 0; i < n; i++) x[i] = rng_normal(&r), u[i] = rng_normal(&r);
    for (int i = 0; i < C; i++) w[i] = 1.0f + 0.3f * rng_normal(&r);
    for (int i = 0; i < 9 * C; i++) wt[i] = 0.05f * rng_normal(&r);
    for (int i = 0; i < R * 9; i++) dy[i] = rng_normal(&r);
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    for (int silu = 0; silu < 2; silu++) {
        float *g[2][2], *out[2];   // [fused][g or u]
        for (int fused = 0; fused < 2; fused++) {
            ag_reset(&ctx);
            g[fused][0] = calloc(n, sizeof(float)), g[fused][1] = calloc(n, sizeof(float));
            ag_tensor *tg = ag_wrap(&ctx, x, g[fused][0], 2, sx), *tu = ag_wrap(&ctx, u, g[fused][1], 2, sx);
            ag_tensor *y = fused ? ag_gated(&ctx, tg, tu, silu) : ag_mul(&ctx, silu ? ag_silu(&ctx, tg) : ag_relu2(&ctx, tg), tu);
            out[fused] = malloc(sizeof(float) * n);
            memcpy(out[fused], y->data, sizeof(float) * n);
            ag_backward_seed(&ctx, y, u);
        }
        char name[64];
        snprintf(name, sizeof(name), "gated %s = mul(act(g), u): forward and gradients", silu ? "silu" : "relu2");
        t_check(!memcmp(out[0], out[1], sizeof(float) * n) && !memcmp(g[0][0], g[1][0], sizeof(float) * n) &&
                    !memcmp(g[0][1], g[1][1], sizeof(float) * n),
                name, "differs (rel L2 %.3g, %.3g, %.3g)", t_rel_l2(out[1], out[0], n), t_rel_l2(g[1][0], g[0][0], n),
                t_rel_l2(g[1][1], g[0][1], n));
        for (int f = 0; f < 2; f++) free(g[f][0]), free(g[f][1]), free(out[f]);
    }
    for (int keep = 0; keep < 2; keep++) {
        float *dx[2], *dw[2], *yv[2], *h = malloc(sizeof(float) * n);
        for (int fused = 0; fused < 2; fused++) {
            ag_reset(&ctx);
            dx[fused] = calloc(n, sizeof(float)), dw[fused] = calloc(C, sizeof(float));
            ag_tensor *tx = ag_wrap(&ctx, x, dx[fused], 2, sx), *tw = ag_wrap(&ctx, w, dw[fused], 1, sw);
            ag_qact *q;
            if (fused) {
                q = ag_rmsnorm_quant(&ctx, tx, tw, 1e-5f, keep);
            } else {
                ag_tensor *hn = ag_rmsnorm(&ctx, tx, tw, 1e-5f);
                memcpy(h, hn->data, sizeof(float) * n);
                q = ag_quant_act(&ctx, hn);
            }
            ag_tensor *y = ag_bitlinear(&ctx, q, ag_wrap(&ctx, wt, NULL, 2, swt), 0);
            yv[fused] = malloc(sizeof(float) * R * 9);
            memcpy(yv[fused], y->data, sizeof(float) * R * 9);
            if (fused) {
                int rows_ok = keep ? !memcmp(q->x->data, h, sizeof(float) * n) : q->x->data == NULL;
                t_check(rows_ok, keep ? "rmsnorm_quant keeps the normalized rows" : "rmsnorm_quant writes no rows",
                        "rows differ");
            }
            ag_backward_seed(&ctx, y, dy);
        }
        char name[80];
        snprintf(name, sizeof(name), "rmsnorm_quant (keep %d) = quant_act(rmsnorm): BitLinear output, dx, dw", keep);
        t_check(!memcmp(yv[0], yv[1], sizeof(float) * R * 9) && !memcmp(dx[0], dx[1], sizeof(float) * n) &&
                    !memcmp(dw[0], dw[1], sizeof(float) * C),
                name, "differs (rel L2 %.3g, %.3g, %.3g)", t_rel_l2(yv[1], yv[0], R * 9), t_rel_l2(dx[1], dx[0], n),
                t_rel_l2(dw[1], dw[0], C));
        for (int f = 0; f < 2; f++) free(dx[f]), free(dw[f]), free(yv[f]);
        free(h);
    }
    free(x), free(u), free(w), free(wt), free(dy);
    ag_free(&ctx);
}

int main(void) {
    check_ops();
    check_fused();
    check_bitlinear();
    return t_done();
}
