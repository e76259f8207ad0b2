// sample.c: next-token sampling (kernels/sample.h).
#include "kernels/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "kernels/vmath.h"

samp_params samp_defaults(void) {
    samp_params p = {.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 1234};
    return p;
}

void samp_init(samp_state *s, const samp_params *p, int n_vocab) {
    CHECK(n_vocab > 0 && p->repeat_last_n >= 0 && p->top_k >= 0, "sampler: vocabulary %d, last_n %d, top-k %d", n_vocab, p->repeat_last_n,
          p->top_k);
    memset(s, 0, sizeof(*s));
    s->p = *p;
    s->n_vocab = n_vocab;
    rng_seed(&s->r, p->seed);
    s->cand = tr_malloc(sizeof(samp_cand) * (size_t)n_vocab);
    s->hist = tr_malloc(sizeof(int32_t) * (size_t)(p->repeat_last_n + 1));
    s->uniq = tr_malloc(sizeof(int32_t) * (size_t)(p->repeat_last_n + 1));
}

void samp_free(samp_state *s) {
    if (!s) return;
    free(s->cand);
    free(s->hist);
    free(s->uniq);
    memset(s, 0, sizeof(*s));
}

void samp_accept(samp_state *s, int32_t id) {
    int N = s->p.repeat_last_n;
    if (N == 0) return;
    s->hist[s->head] = id;
    s->head = (s->head + 1) % N;
    if (s->n_hist < N) s->n_hist++;
}

// a ranks before b: larger logit, then smaller id.
static int before(const samp_cand *a, const samp_cand *b) { return a->logit > b->logit || (a->logit == b->logit && a->id < b->id); }

static int cmp_cand(const void *x, const void *y) {
    const samp_cand *a = x, *b = y;
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static int cmp_int(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

// Moves the m best of c[0..n) to c[0..m), sorted best first (a min-heap of the best m seen so far).
static void select_top(samp_cand *c, int n, int m) {
    for (int i = 1; i < m; i++)   // heapify c[0..m): the worst at the root
        for (int j = i; j > 0 && before(&c[(j - 1) / 2], &c[j]); j = (j - 1) / 2) {
            samp_cand t = c[j];
            c[j] = c[(j - 1) / 2];
            c[(j - 1) / 2] = t;
        }
    for (int i = m; i < n; i++) {
        if (!before(&c[i], &c[0])) continue;
        samp_cand t = c[0];
        c[0] = c[i];
        c[i] = t;
        for (int j = 0;;) {   // sift the new root down
            int l = 2 * j + 1, r = l + 1, w = j;
            if (l < m && before(&c[w], &c[l])) w = l;
            if (r < m && before(&c[w], &c[r])) w = r;
            if (w == j) break;
            samp_cand u = c[j];
            c[j] = c[w];
            c[w] = u;
            j = w;
        }
    }
    qsort(c, (size_t)m, sizeof(samp_cand), cmp_cand);
}

// The top-p cut of c[0..n): the length of the shortest best-first prefix whose softmax mass reaches p.
static int top_p_cut(samp_cand *c, int n, int sorted, float p) {
    float mx = c[0].logit;
    for (int i = 1; i < n; i++) mx = c[i].logit > mx ? c[i].logit : mx;
    double z = 0;
    for (int i = 0; i < n; i++) z += exp((double)c[i].logit - mx);
    for (int m = sorted ? n : (n < 256 ? n : 256);; m = m * 4 < n ? m * 4 : n) {
        if (!sorted) select_top(c, n, m);
        double cum = 0;
        for (int i = 0; i < m; i++) {
            cum += exp((double)c[i].logit - mx) / z;
            if (cum >= p) return i + 1;
        }
        if (m == n) return n;
    }
}

int32_t samp_next(samp_state *s, const float *logits) {
    const samp_params *p = &s->p;
    int n = s->n_vocab;
    samp_cand *c = s->cand;
    if (p->temp <= 0 && (p->repeat_penalty == 1.0f || s->n_hist == 0)) return km_argmax(logits, n);
    for (int i = 0; i < n; i++) c[i].logit = logits[i], c[i].id = i;
    if (p->repeat_penalty != 1.0f && s->n_hist > 0) {
        memcpy(s->uniq, s->hist, sizeof(int32_t) * (size_t)s->n_hist);
        qsort(s->uniq, (size_t)s->n_hist, sizeof(int32_t), cmp_int);
        for (int i = 0; i < s->n_hist; i++) {
            int32_t id = s->uniq[i];
            if ((i > 0 && id == s->uniq[i - 1]) || id < 0 || id >= n) continue;
            c[id].logit = c[id].logit <= 0 ? c[id].logit * p->repeat_penalty : c[id].logit / p->repeat_penalty;
        }
    }
    if (p->temp <= 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (c[i].logit > c[best].logit) best = i;
        return c[best].id;
    }
    int sorted = 0;
    if (p->top_k > 0 && p->top_k < n) {
        select_top(c, n, p->top_k);
        n = p->top_k;
        sorted = 1;
    }
    if (p->top_p < 1.0f) n = top_p_cut(c, n, sorted, p->top_p);
    float mx = c[0].logit;
    for (int i = 1; i < n; i++) mx = c[i].logit > mx ? c[i].logit : mx;
    double z = 0;
    for (int i = 0; i < n; i++) z += exp(((double)c[i].logit - mx) / p->temp);
    double u = (double)rng_uniform(&s->r) * z, cum = 0;
    for (int i = 0; i < n; i++) {
        cum += exp(((double)c[i].logit - mx) / p->temp);
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id;
}
