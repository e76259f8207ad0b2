// engine.c: the context (KV cache, RoPE table, scratch) and the forward pass of kernels/engine.h, run by a
// thread team inside one OpenMP parallel region per batch (kernels/engine_team.c).
#include "kernels/engine.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/engine_impl.h"
#include "kernels/vmath.h"
#include "kernels/floatmm.h"

#define CHUNK_PANELS 32  // panels (64 rows each) a thread takes at once from its own share of a product (at most half of what is left)
#define STEAL_PANELS 1   // ... and from another thread's
#define HEAD_CHUNK 512   // LM-head rows a thread takes at once from its own share
#define HEAD_STEAL 64    // ... and from another thread's

// Floats in one plane of the KV cache: n_ctx positions rounded up to whole key blocks (kernels/engine_impl.h).
static size_t kv_plane_floats(const eng_ctx *c, int D) { return (size_t)(c->n_ctx + ENG_KBLK - 1) / ENG_KBLK * ENG_KBLK * (size_t)D; }

void eng_ctx_init(eng_ctx *c, const eng_model *m, int n_ctx, int n_batch) {
    CHECK(n_ctx >= 1 && n_batch >= 1, "context of %d positions, batches of %d", n_ctx, n_batch);
    const eng_hparams *hp = &m->hp;
    memset(c, 0, sizeof(*c));
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch = n_batch < n_ctx ? n_batch : n_ctx;
    c->threads = omp_get_max_threads();
    int C = hp->n_embd, D = hp->head_dim, QD = hp->n_heads * D, KVD = hp->n_kv_heads * D, I = hp->n_ff, half = D / 2;
    // The KV cache: one allocation, never read before it is written; planes of whole key blocks.
    size_t kv_floats = (size_t)hp->n_layers * 2 * hp->n_kv_heads * kv_plane_floats(c, D);
    c->kv = tr_alloc_aligned(sizeof(float) * kv_floats);
    // RoPE angles exactly as the training graph computes them (float inverse frequencies, float angles).
    c->rope = tr_malloc(sizeof(float) * (size_t)n_ctx * D);
    for (int i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf(hp->rope_theta, (float)(2 * i) / (float)D);
        for (int p = 0; p < n_ctx; p++) {
            float ang = (float)p * inv_freq;
            c->rope[((size_t)p * half + i) * 2] = cosf(ang);
            c->rope[((size_t)p * half + i) * 2 + 1] = sinf(ang);
        }
    }
    size_t nb = (size_t)n_batch, T = (size_t)c->threads, ls = (size_t)(n_ctx > I ? n_ctx : I);
    c->ld_scores = (int)ls;
    size_t sizes[9] = {nb * C, nb * C, nb * QD, nb * KVD, nb * KVD, nb * QD, nb * I, nb * (I > C ? I : C), 2 * T * ls};
    size_t total = 0;
    for (int i = 0; i < 9; i++) total += (sizes[i] + 15) / 16 * 16;
    c->scratch = tr_alloc_aligned(sizeof(float) * total);
    c->bytes = sizeof(float) * (kv_floats + (size_t)n_ctx * D + total);
    float *p = c->scratch, **bufs[9] = {&c->x, &c->h, &c->q, &c->k, &c->v, &c->att, &c->gate, &c->up, &c->scores};
    for (int i = 0; i < 9; i++) *bufs[i] = p, p += (sizes[i] + 15) / 16 * 16;
    c->team = eng_team_new(8 * hp->n_layers + 8, c->threads);
    // int8 activations for the widest input (C, H*D or I), filled by tk_act_row (the tk_act fields, our memory)
    int widest = QD > I ? QD : I;
    widest = widest > C ? widest : C;
    size_t ld = (size_t)(widest + 63) / 64 * 64, nblk = (size_t)(widest + TK_TQ_BLOCK - 1) / TK_TQ_BLOCK;
    c->act_mem = tr_alloc_aligned(nb * ld + sizeof(float) * nb * (2 + nblk));
    c->bytes += nb * ld + sizeof(float) * nb * (2 + nblk);
    c->act.q = c->act_mem;
    c->act.s = (float *)((char *)c->act_mem + nb * ld);
    c->act.sum = (int32_t *)(c->act.s + nb);
    c->act.bsum = c->act.sum + nb;
}

void eng_ctx_free(eng_ctx *c) {
    if (!c) return;
    free(c->kv);
    free(c->rope);
    free(c->scratch);
    eng_team_free(c->team);
    free(c->act_mem);
    memset(c, 0, sizeof(*c));
}

size_t eng_ctx_bytes(const eng_ctx *c) { return c->bytes; }

void eng_truncate(eng_ctx *c, int n_past) {
    CHECK(n_past >= 0 && n_past <= c->n_past, "truncate to %d of %d cached positions", n_past, c->n_past);
    c->n_past = n_past;
}

// ---- the pieces of a layer ----

typedef struct {   // one batch: N tokens at positions p0 .., as seen by one thread of the team
    eng_ctx *c;
    const eng_ops *ops;
    eng_worker w;
    int N, p0;
} fwd;

// Rows [*r0, *r1) of N this thread takes in a row-wise step: shared out when there are enough rows,
// else all on thread 0 (a decoded token's vectors are too short to split).
static void my_rows(const fwd *f, int N, int *r0, int *r1) {
    int nt = f->w.nt, t = f->w.tid;
    if (N < 2 * nt) *r0 = 0, *r1 = t == 0 ? N : 0;
    else *r0 = (int)((long)N * t / nt), *r1 = (int)((long)N * (t + 1) / nt);
}

// y (N, C) = x * rsqrt(mean(x^2) + eps) * w for rows [r0, r1) (y may be x); the training graph's code.
static void rmsnorm(float *y, const float *x, const float *w, int r0, int r1, int C, float eps) {
    for (int n = r0; n < r1; n++) {
        const float *xr = x + (size_t)n * C;
        float *yr = y + (size_t)n * C, ss = 0.0f;
        #pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += xr[i] * xr[i];
        float rs = 1.0f / sqrtf(ss / (float)C + eps);
        #pragma omp simd
        for (int i = 0; i < C; i++) yr[i] = w[i] * (xr[i] * rs);
    }
}

// Head h of x (N, heads, D) at positions p0.. rotated in place, pairs (i, i + D/2) (NEOX / rotate_half).
static void rope_head(const eng_ctx *c, float *x, int N, int heads, int h, int p0) {
    int D = c->m->hp.head_dim, half = D / 2;
    for (int n = 0; n < N; n++) {
        const float *cs = c->rope + (size_t)(p0 + n) * D;
        float *xr = x + ((size_t)n * heads + h) * D;
        #pragma omp simd
        for (int i = 0; i < half; i++) {
            float x1 = xr[i], x2 = xr[i + half], co = cs[2 * i], si = cs[2 * i + 1];
            xr[i] = x1 * co - x2 * si;
            xr[i + half] = x2 * co + x1 * si;
        }
    }
}

// Keys (which 0: blocks of ENG_KBLK positions, each (D, ENG_KBLK)) or values (1: (n_ctx, D)) of layer l, kv head g.
static float *kv_plane(const eng_ctx *c, int l, int which, int g) {
    const eng_hparams *hp = &c->m->hp;
    return c->kv + (((size_t)l * 2 + which) * hp->n_kv_heads + g) * kv_plane_floats(c, hp->head_dim);
}

// One phase: RoPE on the batch's queries and keys, and its keys and values into the cache; units are the H
// query heads and the Hkv kv heads.
static void rope_cache(fwd *f, int l) {
    eng_ctx *c = f->c;
    const eng_hparams *hp = &c->m->hp;
    int D = hp->head_dim, H = hp->n_heads, Hkv = hp->n_kv_heads;
    eng_cursor cur = {0};   // each thread its own run of heads (a claim of another thread's word costs a cache-line transfer)
    for (int r, u; eng_team_next(&f->w, &cur, (int[]){H + Hkv}, 1, 1, 1, &r, &u) > 0;) {
        if (u < H) {
            rope_head(c, c->q, f->N, H, u, f->p0);
            continue;
        }
        int g = u - H;
        rope_head(c, c->k, f->N, Hkv, g, f->p0);
        for (int n = 0; n < f->N; n++) {
            const float *k = c->k + ((size_t)n * Hkv + g) * D;
            int t = f->p0 + n;
            float *kb = kv_plane(c, l, 0, g) + (size_t)(t / ENG_KBLK) * ENG_KBLK * D + t % ENG_KBLK;
            for (int d = 0; d < D; d++) kb[(size_t)d * ENG_KBLK] = k[d];
            memcpy(kv_plane(c, l, 1, g) + (size_t)(f->p0 + n) * D, c->v + ((size_t)n * Hkv + g) * D, sizeof(float) * D);
        }
    }
    eng_team_end_phase(&f->w);
}

// One phase: att (N, H*D), query n (position p0 + n) of head h attending to positions 0 .. p0 + n of kv
// head h / rep; units are (n, pair of heads) when a kv head serves an even number of heads (the pair reads
// the cached keys and values once), else (n, h).
static void attention(fwd *f, int l) {
    eng_ctx *c = f->c;
    const eng_hparams *hp = &c->m->hp;
    int D = hp->head_dim, H = hp->n_heads, rep = H / hp->n_kv_heads, QD = H * D, nh = rep % 2 ? 1 : 2, units = H / nh;
    size_t ld = (size_t)c->ld_scores;
    float scale = 1.0f / sqrtf((float)D), *sc = c->scores + (size_t)f->w.tid * 2 * ld;
    // Each thread takes its own contiguous share of the units (consecutive heads of a kv head reuse its keys
    // and values from cache), then steals units from the back of the others' shares.
    eng_cursor cur = {0};
    for (int r, u; eng_team_next(&f->w, &cur, (int[]){f->N * units}, 1, 1, 1, &r, &u) > 0;) {
        int n = u / units, h = u % units * nh, len = f->p0 + n + 1;
        f->ops->scores(sc, ld, c->q + (size_t)n * QD + (size_t)h * D, nh, kv_plane(c, l, 0, h / rep), len, D, scale);
        for (int i = 0; i < nh; i++) f->ops->softmax(sc + i * ld, len);
        f->ops->mix(c->att + (size_t)n * QD + (size_t)h * D, sc, ld, nh, kv_plane(c, l, 1, h / rep), len, D);
    }
    eng_team_end_phase(&f->w);
}

// rows [r0, r1) of g (N, I) = act(g) * u: the training graph's formulas (relu(g)^2, g / (1 + expf(-g))), with
// scratch e (I) for exp(-g) of a row.
static void glu(const eng_ops *ops, float *g, const float *u, float *e, int r0, int r1, int I, eng_act act) {
    for (int n = r0; n < r1; n++) {
        float *gr = g + (size_t)n * I;
        const float *ur = u + (size_t)n * I;
        if (act == ENG_ACT_SILU) {
            #pragma omp simd
            for (int i = 0; i < I; i++) e[i] = -gr[i];
            ops->expv(e, e, I);
            #pragma omp simd
            for (int i = 0; i < I; i++) gr[i] = gr[i] / (1.0f + e[i]) * ur[i];
        } else {
            #pragma omp simd
            for (int i = 0; i < I; i++) gr[i] = (gr[i] > 0 ? gr[i] * gr[i] : 0.0f) * ur[i];
        }
    }
}

// One phase: y[i] = BitLinear(c->act, W[i]) for i < nw (<= ENG_TEAM_SLOTS). Each thread streams its own
// contiguous share of every matrix, then steals panels from the back of the others' shares.
static void linears(fwd *f, float *const *y, const tk_mat *const *W, int nw) {
    int panels[ENG_TEAM_SLOTS];
    for (int i = 0; i < nw; i++) panels[i] = W[i]->panels;
    eng_cursor cur = {0};
    // tk_matmul_panels: the exact integer sums, then the training graph's epilogue ((float)sum * (1 / s_x)) * s_w,
    // so the floats are bit for bit the training graph's (per-block TQ scales: tk_matmul's floats)
    for (int i, p0, k; (k = eng_team_next(&f->w, &cur, panels, nw, CHUNK_PANELS, STEAL_PANELS, &i, &p0)) > 0;)
        tk_matmul_panels(y[i], W[i]->M, &f->c->act, W[i], p0, p0 + k, f->c->m->isa);
    eng_team_end_phase(&f->w);
}

// y = rmsnorm(x) * w (y may be x), then its int8 activations in c->act: rows shared out over the team.
static void norm_quantize(fwd *f, float *y, const float *x, const float *w, int C) {
    tk_act *a = &f->c->act;
    int r0, r1, ld = (C + 63) / 64 * 64, nb = (C + TK_TQ_BLOCK - 1) / TK_TQ_BLOCK;
    my_rows(f, f->N, &r0, &r1);
    rmsnorm(y, x, w, r0, r1, C, f->c->m->hp.eps);
    for (int n = r0; n < r1; n++)
        tk_act_row(a->q + (size_t)n * ld, &a->s[n], &a->sum[n], a->bsum + (size_t)n * nb, y + (size_t)n * C, C, ld);
    if (f->w.tid == 0) a->N = f->N, a->K = C, a->ld = ld, a->nb = nb;   // read by the products after the barrier
    eng_team_sync(&f->w);
}

static void add_rows(fwd *f, float *x, const float *y, int C) {
    int r0, r1;
    my_rows(f, f->N, &r0, &r1);
    #pragma omp simd
    for (size_t i = (size_t)r0 * C; i < (size_t)r1 * C; i++) x[i] += y[i];
    if (f->N >= 2 * f->w.nt) eng_team_sync(&f->w);
}

static void layer_forward(fwd *f, int l) {
    eng_ctx *c = f->c;
    const eng_hparams *hp = &c->m->hp;
    const eng_layer *ly = &c->m->layers[l];
    int C = hp->n_embd, I = hp->n_ff, QD = hp->n_heads * hp->head_dim, N = f->N;
    // attention: x += o(attn_sub_norm(attn(rope(q), rope(k), v)))
    norm_quantize(f, c->h, c->x, ly->attn_norm, C);
    linears(f, (float *const[]){c->q, c->k, c->v}, (const tk_mat *const[]){&ly->lin[ENG_Q], &ly->lin[ENG_K], &ly->lin[ENG_V]}, 3);
    rope_cache(f, l);
    attention(f, l);
    norm_quantize(f, c->att, c->att, ly->attn_sub_norm, QD);
    linears(f, (float *const[]){c->h}, (const tk_mat *const[]){&ly->lin[ENG_O]}, 1);
    add_rows(f, c->x, c->h, C);
    // feed-forward: x += down(ffn_sub_norm(act(gate(h)) * up(h)))
    norm_quantize(f, c->h, c->x, ly->ffn_norm, C);
    linears(f, (float *const[]){c->gate, c->up}, (const tk_mat *const[]){&ly->lin[ENG_GATE], &ly->lin[ENG_UP]}, 2);
    int r0, r1;
    my_rows(f, N, &r0, &r1);
    glu(f->ops, c->gate, c->up, c->scores + (size_t)f->w.tid * 2 * c->ld_scores, r0, r1, I, hp->act);
    if (N >= 2 * f->w.nt) eng_team_sync(&f->w);
    norm_quantize(f, c->gate, c->gate, ly->ffn_sub_norm, I);
    linears(f, (float *const[]){c->h}, (const tk_mat *const[]){&ly->lin[ENG_DOWN]}, 1);
    add_rows(f, c->x, c->h, C);
}

// One phase: logits (n, V) of rows x[r0 .. r0 + n) after the final norm (thread 0 normalizes first, and
// rounds the rows to int16 for a Q8_0 head); vocabulary rows shared out as the products' panels are, each
// streamed once for all n rows.
static void lm_head(fwd *f, float *logits, int r0, int n) {
    eng_ctx *c = f->c;
    const eng_model *m = c->m;
    int C = m->hp.n_embd, V = m->hp.n_vocab;
    float *xn = c->h + (size_t)r0 * C;
    int16_t *x16 = (int16_t *)c->up;   // (n, C) int16 activations of a Q8_0 head (c->up, n_batch x max(I, C), is free)
    float *inv = c->gate;
    if (f->w.tid == 0) {
        rmsnorm(c->h, c->x, m->output_norm, r0, r0 + n, C, m->hp.eps);   // rows r0.. of h: xn
        for (int i = 0; m->head->type == GGUF_TYPE_Q8_0 && i < n; i++) inv[i] = km_q16_row(x16 + (size_t)i * C, xn + (size_t)i * C, C);
    }
    eng_team_sync(&f->w);
    size_t ldw = m->head->type == GGUF_TYPE_Q8_0 ? (size_t)C / TK_QK8_0 * sizeof(tk_block_q8_0) : (size_t)C * (m->head->type == GGUF_TYPE_F32 ? 4 : 2);
    eng_cursor cur = {0};   // our own share of the vocabulary rows, then stealing (as linears)
    for (int r, v0, k; (k = eng_team_next(&f->w, &cur, &V, 1, HEAD_CHUNK, HEAD_STEAL, &r, &v0)) > 0;) {
        const void *w = (const uint8_t *)m->head->data + (size_t)v0 * ldw;
        if (m->head->type != GGUF_TYPE_Q8_0) tk_matmul_float(logits + v0, V, xn, n, w, m->head->type, k, C, m->isa);
        else
            for (int v = 0; v < k; v++) f->ops->q8_row(logits + v0 + v, (size_t)V, (const tk_block_q8_0 *)w + (size_t)v * (C / TK_QK8_0), x16, inv, n, C);
    }
    eng_team_end_phase(&f->w);
}

// One batch of N tokens (N <= n_batch) at positions n_past ..: every thread of the team runs this.
static void batch_forward(fwd *f, const int32_t *ids, float *logits, int all, int last) {
    eng_ctx *c = f->c;
    const eng_model *m = c->m;
    int C = m->hp.n_embd;
    if (f->w.tid == 0) {
        eng_team_reset(c->team);
        for (int i = 0; i < f->N; i++) tk_dequant_rows(c->x + (size_t)i * C, m->tok_embd, ids[i], 1);
    }
    eng_team_sync(&f->w);
    f->w.ph = 0;
    for (int l = 0; l < m->hp.n_layers; l++) layer_forward(f, l);
    if (logits && all) lm_head(f, logits, 0, f->N);
    else if (logits && last) lm_head(f, logits, f->N - 1, 1);
}

int eng_forward(eng_ctx *c, const int32_t *ids, int n, float *logits, int all, tr_err *err) {
    const eng_model *m = c->m;
    int V = m->hp.n_vocab;
    if (n < 1) return tr_fail(err, "no tokens to run");
    if (n > c->n_ctx - c->n_past)
        return tr_fail(err, "the context is full: %d cached + %d new tokens exceed its %d positions", c->n_past, n, c->n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V) return tr_fail(err, "token %d (id %d) is outside the vocabulary [0, %d)", i, ids[i], V);
    const eng_ops *ops = eng_ops_for(m->isa);
    #pragma omp parallel num_threads(c->threads)
    {
        #pragma omp single
        c->team->n = omp_get_num_threads();   // (fewer than asked when eng_forward runs inside a parallel region)
        fwd f = {.c = c, .ops = ops, .w = {.team = c->team, .tid = omp_get_thread_num(), .nt = omp_get_num_threads()}};
        for (int b0 = 0; b0 < n; b0 += c->n_batch) {
            f.N = n - b0 < c->n_batch ? n - b0 : c->n_batch;
            f.p0 = c->n_past + b0;
            batch_forward(&f, ids + b0, logits ? logits + (all ? (size_t)b0 * V : 0) : NULL, all, b0 + f.N == n);
        }
    }
    c->n_past += n;
    return 0;
}
