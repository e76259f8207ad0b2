// test_engine_sample.c: next-token sampling (kernels/sample.h): greedy, the repeat penalty's llama.cpp rule,
// top-k, top-p and temperature against the exact distributions they define (frequencies over many draws),
// and determinism given the seed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/sample.h"
#include "tests/harness.h"

#define DRAWS 40000

static samp_params params(float temp, int top_k, float top_p) {
    samp_params p = samp_defaults();
    p.temp = temp, p.top_k = top_k, p.top_p = top_p, p.seed = 7;
    return p;
}

// Frequencies of DRAWS samples against the probabilities want (V): the largest absolute difference.
static double freq_error(const samp_params *p, const float *logits, const double *want, int V) {
    samp_state s;
    samp_init(&s, p, V);
    int *count = calloc((size_t)V, sizeof(int));
    for (int i = 0; i < DRAWS; i++) count[samp_next(&s, logits)]++;
    double worst = 0;
    for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)count[v] / DRAWS - want[v]));
    free(count);
    samp_free(&s);
    return worst;
}

// softmax(logits / temp) over the ids in keep (others 0)
static void softmax_over(double *out, const float *logits, int V, float temp, const int *keep) {
    double z = 0;
    for (int v = 0; v < V; v++) z += keep[v] ? exp(logits[v] / temp) : 0;
    for (int v = 0; v < V; v++) out[v] = keep[v] ? exp(logits[v] / temp) / z : 0;
}

int main(void) {
    const int V = 6;
    // probabilities at temperature 1: about 0.47, 0.26, 0.17, 0.064, 0.026, 0.0087
    float logits[6] = {0.5f, -0.1f, -0.5f, -1.5f, -2.4f, -3.5f};
    double want[6];
    int all[6] = {1, 1, 1, 1, 1, 1};
    char name[200];

    // greedy: the argmax, the lowest id on ties
    samp_params g = params(0.0f, 40, 0.95f);
    samp_state s;
    samp_init(&s, &g, V);
    int ok = samp_next(&s, logits) == 0;
    float tie[6] = {1, 3, 2, 3, 0, -1};
    ok &= samp_next(&s, tie) == 1;
    t_check(ok, "temperature 0: argmax, lowest id on ties", "got %d and %d", samp_next(&s, logits), samp_next(&s, tie));
    samp_free(&s);

    // repeat penalty: positive logits divided, negative multiplied, once per distinct token of the last N
    samp_params rp = g;
    rp.repeat_penalty = 2.0f, rp.repeat_last_n = 3;
    samp_init(&s, &rp, V);
    samp_accept(&s, 0);   // 0.5 -> 0.25, still ahead of -0.1
    int a1 = samp_next(&s, logits);
    float l2[6] = {0.5f, 0.3f, -0.5f, -1.5f, -2.4f, -3.5f};   // 0.5 -> 0.25 < 0.3
    int a2 = samp_next(&s, l2);
    samp_accept(&s, 0);   // a repeated token is penalized once, not twice
    int a3 = samp_next(&s, (float[6]){0.5f, 0.2f, -0.5f, -1.5f, -2.4f, -3.5f});   // 0.25 > 0.2
    samp_accept(&s, 4), samp_accept(&s, 5), samp_accept(&s, 5);   // 0 left the window of 3
    int a4 = samp_next(&s, l2);
    float neg[6] = {-1.0f, -1.5f, -3.0f, -3.0f, -3.0f, -3.0f};   // 5 in history: -3 * 2; and 1 is not
    samp_accept(&s, 0);   // -1 -> -2 < -1.5
    int a5 = samp_next(&s, neg);
    samp_free(&s);
    t_check(a1 == 0 && a2 == 1 && a3 == 0 && a4 == 0 && a5 == 1, "repeat penalty: llama.cpp's rule over the last N distinct tokens",
            "argmax %d %d %d %d %d, want 0 1 0 0 1", a1, a2, a3, a4, a5);

    // full distribution at temperature 1 and 0.5
    softmax_over(want, logits, V, 1.0f, all);
    double e = freq_error(&(samp_params){.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .repeat_penalty = 1.0f, .seed = 3}, logits, want, V);
    snprintf(name, sizeof(name), "temperature 1, no top-k / top-p: frequencies = softmax (max error %.4f)", e);
    t_check(e < 0.01, name, "max frequency error %.4f", e);
    softmax_over(want, logits, V, 0.5f, all);
    e = freq_error(&(samp_params){.temp = 0.5f, .top_k = 0, .top_p = 1.0f, .repeat_penalty = 1.0f, .seed = 4}, logits, want, V);
    snprintf(name, sizeof(name), "temperature 0.5: frequencies = softmax(logits / 0.5) (max error %.4f)", e);
    t_check(e < 0.01, name, "max frequency error %.4f", e);

    // top-k 2: the two best, renormalized
    int k2[6] = {1, 1, 0, 0, 0, 0};
    softmax_over(want, logits, V, 1.0f, k2);
    e = freq_error(&(samp_params){.temp = 1.0f, .top_k = 2, .top_p = 1.0f, .repeat_penalty = 1.0f, .seed = 5}, logits, want, V);
    snprintf(name, sizeof(name), "top-k 2: only the two best, renormalized (max error %.4f)", e);
    t_check(e < 0.01, name, "max frequency error %.4f", e);

    // top-p 0.8: 0.47 + 0.26 = 0.73 < 0.8, + 0.17 reaches it: three tokens; the cut uses the temperature-1
    // probabilities, then temperature 2 flattens the survivors
    int p3[6] = {1, 1, 1, 0, 0, 0};
    softmax_over(want, logits, V, 2.0f, p3);
    e = freq_error(&(samp_params){.temp = 2.0f, .top_k = 0, .top_p = 0.8f, .repeat_penalty = 1.0f, .seed = 6}, logits, want, V);
    snprintf(name, sizeof(name), "top-p 0.8 (cut before the temperature), temperature 2 (max error %.4f)", e);
    t_check(e < 0.01, name, "max frequency error %.4f", e);
    // top-k then top-p on the k survivors: 2 best renormalized (0.64, 0.36): 0.6 keeps one
    int p1[6] = {1, 0, 0, 0, 0, 0};
    softmax_over(want, logits, V, 1.0f, p1);
    e = freq_error(&(samp_params){.temp = 1.0f, .top_k = 2, .top_p = 0.6f, .repeat_penalty = 1.0f, .seed = 8}, logits, want, V);
    t_check(e == 0, "top-k 2 then top-p 0.6: the best token only", "max frequency error %.4f", e);

    // a large vocabulary through the partial sort of top-p (no top-k): the kept set is exact
    int BV = 5000;
    float *big = malloc(sizeof(float) * BV);
    double *bw = malloc(sizeof(double) * BV);
    int *keep = calloc((size_t)BV, sizeof(int));
    for (int v = 0; v < BV; v++) big[v] = -0.002f * (float)((v * 7919) % BV);   // a permutation of a ramp
    double z = 0, cum = 0;
    for (int v = 0; v < BV; v++) z += exp(big[v]);
    int *by_rank = malloc(sizeof(int) * BV);   // rank r is the id with (v * 7919) % BV == r
    for (int v = 0; v < BV; v++) by_rank[(v * 7919) % BV] = v;
    for (int r = 0; r < BV && cum < 0.9; r++) keep[by_rank[r]] = 1, cum += exp(big[by_rank[r]]) / z;
    free(by_rank);
    softmax_over(bw, big, BV, 1.0f, keep);
    samp_params pb = {.temp = 1.0f, .top_k = 0, .top_p = 0.9f, .repeat_penalty = 1.0f, .seed = 9};
    samp_init(&s, &pb, BV);
    int outside = 0;
    for (int i = 0; i < 300; i++) outside += !keep[samp_next(&s, big)];
    samp_free(&s);
    t_check(outside == 0, "top-p 0.9 over 5000 tokens: every draw inside the exact nucleus", "%d draws outside", outside);
    free(big), free(bw), free(keep);

    // determinism: the same seed repeats the sequence, another seed does not
    int seq[3][64];
    for (int run = 0; run < 3; run++) {
        samp_params d = {.temp = 1.0f, .top_k = 0, .top_p = 1.0f, .repeat_penalty = 1.0f, .seed = run == 2 ? 99 : 42};
        samp_init(&s, &d, V);
        for (int i = 0; i < 64; i++) seq[run][i] = samp_next(&s, logits);
        samp_free(&s);
    }
    t_check(!memcmp(seq[0], seq[1], sizeof(seq[0])) && memcmp(seq[0], seq[2], sizeof(seq[0])), "same seed, same tokens; another seed, others",
            "sequences do not behave");
    return t_done();
}
