// test_engine_ops.c: the engine's attention pieces and Q8_0 LM-head rows (kernels/engine_impl.h) on every ISA
// path this CPU runs, against the scalar path: scores and mix bit for bit (the same FMA chains) on odd head
// sizes and key counts, and against an independent double-precision computation; softmax bit for bit; q8_row (int16 activations)
// against its definition and against the float product.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/engine_impl.h"
#include "kernels/vmath.h"
#include "tests/harness.h"

static void fill(float *x, size_t n, rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r);
}

int main(void) {
    rng r;
    rng_seed(&r, 11);
    const int Ds[] = {8, 16, 40, 64, 80, 128, 192, 256}, ns[] = {1, 7, 16, 33, 64, 100, 257};
    const int ldk = 304;   // key positions (whole blocks of ENG_KBLK)
    // two query rows (heads sharing a kv head: scores and mix take one or two at once), scores of ld 320
    float *q = malloc(sizeof(float) * 2 * 256), *kT = malloc(sizeof(float) * 256 * ldk), *v = malloc(sizeof(float) * 300 * 256);
    float *kb = malloc(sizeof(float) * 256 * ldk);
    float *p = malloc(sizeof(float) * 2 * 320), *want = malloc(sizeof(float) * 2 * 320), *got = malloc(sizeof(float) * 2 * 320);
    fill(q, 2 * 256, &r), fill(kT, (size_t)256 * ldk, &r), fill(v, (size_t)300 * 256, &r);
    for (int i = 0; i < 2 * 320; i++) p[i] = rng_uniform(&r);
    for (int isa = 0; isa < TK_ISA_COUNT; isa++) {
        if (!tk_isa_supported((tk_isa)isa)) continue;
        const eng_ops *ops = eng_ops_for((tk_isa)isa);
        int bad_s = 0, bad_m = 0, cases = 0;
        double worst_ref = 0;
        for (size_t a = 0; a < sizeof(Ds) / sizeof(Ds[0]); a++)
            for (size_t b = 0; b < sizeof(ns) / sizeof(ns[0]); b++)
                for (int nq = 1; nq <= 2; nq++) {
                    int D = Ds[a], n = ns[b];
                    cases++;
                    for (int t = 0; t < ldk; t++)   // the keys kT (D, ldk) in the cache's blocked layout, written out here
                        for (int d = 0; d < D; d++) kb[(size_t)(t / ENG_KBLK) * ENG_KBLK * D + (size_t)d * ENG_KBLK + t % ENG_KBLK] = kT[(size_t)d * ldk + t];
                    eng_ops_scalar.scores(want, 320, q, nq, kb, n, D, 0.125f);
                    for (int t = 0; t < 2 * 320; t++) got[t] = -1.0f;
                    ops->scores(got, 320, q, nq, kb, n, D, 0.125f);
                    for (int i = 0; i < nq; i++)   // nothing written past n, nor to a row past nq
                        bad_s += memcmp(got + i * 320, want + i * 320, sizeof(float) * n) != 0 || got[i * 320 + n] != -1.0f;
                    bad_s += nq == 1 && got[320] != -1.0f;
                    for (int i = 0; i < nq; i++)
                        for (int t = 0; t < n; t++) {   // the scalar path against doubles
                            double s = 0, m = 0;
                            for (int d = 0; d < D; d++) {
                                double term = (double)q[i * D + d] * kT[(size_t)d * ldk + t];
                                s += term, m += fabs(term);
                            }
                            worst_ref = fmax(worst_ref, fabs(s * 0.125 - want[i * 320 + t]) / (m * 0.125));
                        }
                    eng_ops_scalar.mix(want, p, 320, nq, v, n, D);
                    for (int t = 0; t < 2 * 320; t++) got[t] = -1.0f;
                    ops->mix(got, p, 320, nq, v, n, D);
                    bad_m += memcmp(got, want, sizeof(float) * nq * D) != 0 || got[nq * D] != -1.0f;
                    for (int i = 0; i < nq; i++)
                        for (int d = 0; d < D; d++) {
                            double s = 0, m = 0;
                            for (int t = 0; t < n; t++) {
                                double term = (double)p[i * 320 + t] * v[(size_t)t * D + d];
                                s += term, m += fabs(term);
                            }
                            worst_ref = fmax(worst_ref, fabs(s - want[i * D + d]) / m);
                        }
                }
        char name[160];
        snprintf(name, sizeof(name), "%s: attention scores and mix = scalar bit for bit (%d head sizes x key counts x 1-2 heads)", tk_isa_name((tk_isa)isa), cases);
        t_check(!bad_s && !bad_m, name, "%d score and %d mix cases differ", bad_s, bad_m);
        snprintf(name, sizeof(name), "%s: scores and mix against double precision (worst %.1e of sum |terms|)", tk_isa_name((tk_isa)isa), worst_ref);
        t_check(worst_ref < 1e-6, name, "worst relative error %.3e", worst_ref);

        // expv = expf bit for bit on every 1021st float (all signs and ranges) and the edges
        {
            enum { B = 4096 };
            static float xs[B], got_e[B];
            long bad = 0, count = 0;
            float edges[] = {0.0f, -0.0f, 88.72283f, 88.72284f, -103.97208f, -103.97209f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f};
            for (uint64_t u = 0; u < (1ull << 32);) {
                int nb = 0;
                for (; nb < B && u < (1ull << 32); u += 1021) {
                    uint32_t b = (uint32_t)u;
                    memcpy(&xs[nb++], &b, 4);
                }
                if (u >= (1ull << 32))
                    for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) xs[nb++] = edges[e];
                ops->expv(got_e, xs, nb);
                for (int i = 0; i < nb; i++) {
                    float want_e = expf(xs[i]);
                    bad += memcmp(&want_e, &got_e[i], 4) != 0 && !(isnan(want_e) && isnan(got_e[i]));
                }
                count += nb;
            }
            snprintf(name, sizeof(name), "%s: expv = expf bit for bit (%ld floats)", tk_isa_name((tk_isa)isa), count);
            t_check(bad == 0, name, "%ld differ", bad);
        }

        // softmax = the scalar path bit for bit (lengths around the 16-lane steps, scores of several ranges: exp
        // underflowing to 0, ties at the maximum), and against double precision; nothing written past n
        {
            static const int lens[] = {1, 2, 7, 15, 16, 17, 31, 32, 33, 64, 65, 100, 255, 256, 257};
            float xs[260], sw[261], sg[261];
            int bad = 0, cases = 0;
            double worst_sm = 0;
            for (size_t a = 0; a < sizeof(lens) / sizeof(lens[0]); a++)
                for (int range = 0; range < 4; range++) {
                    int n = lens[a];
                    float spread = range == 0 ? 1.0f : range == 1 ? 10.0f : range == 2 ? 60.0f : 0.0f;   // 0: all equal
                    for (int t = 0; t < n; t++) xs[t] = spread * rng_normal(&r);
                    if (n > 3 && range < 3) xs[n / 2] = xs[1];   // a tie (at the maximum when xs[1] is largest)
                    memcpy(sw, xs, sizeof(float) * n), memcpy(sg, xs, sizeof(float) * n);
                    sw[n] = sg[n] = -7.0f;
                    eng_ops_scalar.softmax(sw, n);
                    ops->softmax(sg, n);
                    bad += memcmp(sw, sg, sizeof(float) * (n + 1)) != 0;
                    double mx = xs[0], z = 0;
                    for (int t = 1; t < n; t++) mx = fmax(mx, xs[t]);
                    for (int t = 0; t < n; t++) z += exp((double)xs[t] - mx);
                    for (int t = 0; t < n; t++) worst_sm = fmax(worst_sm, fabs(sw[t] - exp((double)xs[t] - mx) / z));
                    cases++;
                }
            snprintf(name, sizeof(name), "%s: softmax = scalar bit for bit (%d lengths x ranges), within %.1e of double", tk_isa_name((tk_isa)isa),
                     cases, worst_sm);
            t_check(bad == 0 && worst_sm < 1e-6, name, "%d cases differ, worst error %.3e", bad, worst_sm);
        }

        // Q8_0 rows against N = 1, 3, 5 activation rows, K = 32 .. 2560: the int16 definition to float rounding,
        // and the float product of the dequantized weights to the int16 step
        const int Ks[] = {32, 96, 2560};
        double worst = 0, worst_f = 0;
        for (size_t a = 0; a < 3; a++) {
            int K = Ks[a], N = 5;
            float *w = malloc(sizeof(float) * K), *x = malloc(sizeof(float) * (size_t)N * K), y[5 * 3], inv[5];
            int16_t *x16 = malloc(sizeof(int16_t) * (size_t)N * K);
            fill(w, (size_t)K, &r), fill(x, (size_t)N * K, &r);
            tk_block_q8_0 *wq = malloc(sizeof(tk_block_q8_0) * (size_t)(K / 32));
            tk_q8_0_quantize(wq, w, K);
            tk_q8_0_dequantize(w, wq, K);   // the exact weights the row holds
            for (int n = 0; n < N; n++) inv[n] = km_q16_row(x16 + (size_t)n * K, x + (size_t)n * K, K);
            for (int Nn = 1; Nn <= N; Nn += 2) {
                ops->q8_row(y, 3, wq, x16, inv, Nn, K);
                for (int n = 0; n < Nn; n++) {
                    double s = 0, m = 0, sf = 0;
                    for (int k = 0; k < K; k++) {
                        s += (double)w[k] * x16[(size_t)n * K + k] * inv[n], m += fabs((double)w[k] * x[(size_t)n * K + k]);
                        sf += (double)w[k] * x[(size_t)n * K + k];
                    }
                    worst = fmax(worst, fabs(y[n * 3] - s) / m), worst_f = fmax(worst_f, fabs(y[n * 3] - sf) / m);
                }
            }
            free(w), free(x), free(x16), free(wq);
        }
        snprintf(name, sizeof(name), "%s: Q8_0 LM-head rows = dequantized weights . int16 activations (worst %.1e of sum |w x|)",
                 tk_isa_name((tk_isa)isa), worst);
        t_check(worst < 1e-6, name, "worst error %.3e", worst);
        snprintf(name, sizeof(name), "%s: ... within the int16 step of the float product (worst %.1e of sum |w x|)", tk_isa_name((tk_isa)isa),
                 worst_f);
        t_check(worst_f < 1e-4, name, "worst error %.3e", worst_f);
    }
    free(q), free(kT), free(kb), free(v), free(p), free(want), free(got);
    return t_done();
}
