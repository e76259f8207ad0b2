// test_threads.c: a training step (forward, loss, backward) of a small BitNet gives the same loss and
// gradients on 1, 2, 3 and 4 threads (to float reordering: the per-thread partial sums of norms and
// reductions), and bit for bit the same when repeated on one thread count: the side-by-side BitLinear
// backward (two threads, or two nested teams from three on) and the row-split operand preparation.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/bitnet.h"
#include "tests/harness.h"

typedef struct {
    float loss;
    float *grad;   // (n_floats) a copy of the model's gradients
} step_out;

static step_out step(bn_model *m, const int *ids, const int *labels, int B, int T, int threads) {
    omp_set_num_threads(threads);
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    bn_model_zero_grad(m);
    ag_tensor *logits = bn_forward(&ctx, m, NULL, ids, B, T);
    int s2[2] = {B * T, m->cfg.vocab_size};
    ag_tensor *loss = ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, s2), labels, -100);
    ag_backward(&ctx, loss);
    step_out o = {loss->data[0], malloc(sizeof(float) * m->n_floats)};
    memcpy(o.grad, bn_model_grad_ready(m), sizeof(float) * m->n_floats);
    ag_free(&ctx);
    return o;
}

int main(void) {
    // 192 wide (the row-split preparation and the elementwise ops go parallel), GQA 6:3, SiLU, untied.
    bn_config c = {0};
    c.vocab_size = 61, c.hidden_size = 192, c.intermediate_size = 320, c.n_layers = 2, c.n_heads = 6;
    c.n_kv_heads = 3, c.head_dim = 32, c.max_pos = 128, c.act = BN_ACT_SILU, c.rms_norm_eps = 1e-5f;
    c.rope_theta = 10000.0, c.tie_embeddings = 0, c.bos_id = c.eos_id = -1;
    bn_model m;
    bn_model_init(&m, &c, 1);
    bn_model_init_weights(&m, 3, 0.05f);
    enum { B = 4, T = 64 };
    int ids[B * T], labels[B * T];
    rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < B * T; i++) ids[i] = (int)rng_below(&r, 61), labels[i] = i % 13 ? (int)rng_below(&r, 61) : -100;
    int max_threads = omp_get_max_threads();
    step_out ref = step(&m, ids, labels, B, T, 1);
    for (int nt = 1; nt <= 4; nt++) {
        step_out a = step(&m, ids, labels, B, T, nt), b = step(&m, ids, labels, B, T, nt);
        double e = t_rel_l2(a.grad, ref.grad, m.n_floats), dl = (double)a.loss - ref.loss;
        char name[96];
        snprintf(name, sizeof(name), "%d thread(s): a repeated step is bit for bit the same", nt);
        t_check(a.loss == b.loss && !memcmp(a.grad, b.grad, sizeof(float) * m.n_floats), name, "loss %.9g vs %.9g",
                a.loss, b.loss);
        snprintf(name, sizeof(name), "%d thread(s): the loss and gradients of 1 thread", nt);
        t_check(dl < 1e-6 && dl > -1e-6 && e < 1e-5, name, "loss differs by %.3g, gradients by relative L2 %.3g", dl, e);
        free(a.grad), free(b.grad);
    }
    omp_set_num_threads(max_threads);

    // bn_model_zero_grad leaves the slab alone and the first contributions overwrite it: the same gradients as
    // accumulating into a zeroed slab (no zero_grad: the slab only accumulates), whatever the slab held
    bn_model acc;
    bn_model_init(&acc, &c, 1);
    memcpy(acc.data, m.data, sizeof(float) * m.n_floats);
    {
        ag_ctx ctx;
        ag_init(&ctx, 1 << 20);
        ag_tensor *logits = bn_forward(&ctx, &acc, NULL, ids, B, T);
        int s2[2] = {B * T, c.vocab_size};
        ag_backward(&ctx, ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, s2), labels, -100));
        ag_free(&ctx);
    }
    for (size_t i = 0; i < m.n_floats; i++) m.grad[i] = (float)i;   // garbage from an earlier step
    step_out fw = step(&m, ids, labels, B, T, max_threads);
    int differ = 0;
    for (size_t i = 0; i < m.n_floats; i++) differ += fw.grad[i] != acc.grad[i];
    t_check(!differ, "first writes after zero_grad = accumulating into zeros (over a slab of garbage)", "%d of %zu gradients differ", differ,
            m.n_floats);
    // micro-batches: zero_grad once, two backward passes: the same sums as two passes into a zeroed slab
    {
        ag_ctx ctx;
        ag_init(&ctx, 1 << 20);
        ag_tensor *logits = bn_forward(&ctx, &acc, NULL, ids, B, T);   // acc's second pass
        int s2[2] = {B * T, c.vocab_size};
        ag_backward(&ctx, ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, s2), labels, -100));
        bn_model_zero_grad(&m);
        for (int pass = 0; pass < 2; pass++) {
            ag_reset(&ctx);
            ag_tensor *logits = bn_forward(&ctx, &m, NULL, ids, B, T);
            int s2[2] = {B * T, c.vocab_size};
            ag_backward(&ctx, ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, s2), labels, -100));
        }
        const float *g = bn_model_grad_ready(&m);
        differ = 0;
        for (size_t i = 0; i < m.n_floats; i++) differ += g[i] != acc.grad[i];
        t_check(!differ, "two backward passes after one zero_grad accumulate as into a zeroed slab", "%d gradients differ", differ);
        ag_free(&ctx);
    }
    // a parameter that gets no contribution reads as zero, not as the slab's old contents
    for (size_t i = 0; i < m.n_floats; i++) m.grad[i] = 1.0f;
    bn_model_zero_grad(&m);
    const float *g = bn_model_grad_ready(&m);
    differ = 0;
    for (size_t i = 0; i < m.n_floats; i++) differ += g[i] != 0.0f;
    t_check(!differ, "zero_grad then no backward: every gradient reads 0", "%d nonzero", differ);
    free(fw.grad);
    bn_model_free(&acc);
    free(ref.grad);
    bn_model_free(&m);
    return t_done();
}
