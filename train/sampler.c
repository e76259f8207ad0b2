// sampler.c: temperature / top-k / top-p sampling and generation with the autograd model.
#include "train/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ag.h"

// Largest logit first; ties: lower id first.
static int cmp_desc(const void *a, const void *b) {
    const smp_cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int smp_pick(const float *logits, int V, const smp_params *p, rng *r, smp_cand *cand) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (!(p->temperature > 0)) return best;
    for (int i = 0; i < V; i++) cand[i].logit = logits[i], cand[i].id = i;
    int n = V;
    if ((p->top_k > 0 && p->top_k < V) || p->top_p < 1.0f) {
        qsort(cand, (size_t)V, sizeof(smp_cand), cmp_desc);
        if (p->top_k > 0 && p->top_k < V) n = p->top_k;
    }
    // cand[i].logit becomes the unnormalized probability.
    double total = 0;
    for (int i = 0; i < n; i++) total += cand[i].logit = expf((cand[i].logit - logits[best]) / p->temperature);
    if (p->top_p < 1.0f) {
        double keep = 0;
        int k = 0;
        while (k < n && keep < p->top_p * total) keep += cand[k++].logit;
        n = k > 0 ? k : 1;
        total = k > 0 ? keep : cand[0].logit;
    }
    double u = rng_uniform(r) * total, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += cand[i].logit;
        if (u < acc) return cand[i].id;
    }
    return cand[n - 1].id;
}

int smp_generate(const bn_model *m, const int32_t *prompt, int n_prompt, int n_new, const smp_params *p, uint64_t seed,
                 int stop_id, smp_emit_fn emit, void *ud) {
    CHECK(n_prompt >= 1, "generation needs at least one context token");
    int V = m->cfg.vocab_size, window = m->cfg.max_pos, n = n_prompt, emitted = 0;
    int *ids = tr_malloc(sizeof(int) * (size_t)(n_prompt + n_new));
    for (int i = 0; i < n_prompt; i++) ids[i] = prompt[i];
    smp_cand *cand = tr_malloc(sizeof(smp_cand) * (size_t)V);
    rng r;
    rng_seed(&r, seed);
    ag_ctx ctx;
    ag_init(&ctx, 1 << 20);
    ctx.grad_enabled = 0;
    while (emitted < n_new) {
        int start = n > window ? n - window : 0, T = n - start;
        ag_reset(&ctx);
        ag_tensor *logits = bn_forward(&ctx, m, NULL, ids + start, 1, T);   // (1, T, V)
        int id = smp_pick(logits->data + (size_t)(T - 1) * V, V, p, &r, cand);
        if (id == stop_id) break;
        ids[n++] = id;
        emitted++;
        if (emit && emit(id, ud)) break;
    }
    ag_free(&ctx);
    free(ids), free(cand);
    return emitted;
}
