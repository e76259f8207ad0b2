// test_qgemm.c: the integer training GEMMs (kernels/qgemm.h): every SIMD path equals the scalar reference
// bit for bit, and the scalar reference equals an independent computation from the unpacked matrices.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "kernels/qgemm.h"
#include "tests/harness.h"

// Independent reference: C[i][j] = ((float)(sum_k A[i][k] B[k][j] - corr[j]) * rs[i]) * alpha (+ C).
static void naive(float *C, const int32_t *A, const int32_t *B, const int32_t *corr, const float *rs, float alpha,
                  int acc, int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += A[(size_t)i * K + k] * B[(size_t)k * N + j];
            float v = ((float)(s - corr[j]) * (rs ? rs[i] : 1.0f)) * alpha;
            C[(size_t)i * N + j] = acc ? C[(size_t)i * N + j] + v : v;
        }
}

// Runs one shape on every supported path; counts cases per path in runs[] and mismatching ones in fails[]
// (printing the first few mismatches).
static int runs[3], fails[3];

static void one_case(qg_kind kind, int M, int N, int K, int accumulate, int with_rs, rng *r) {
    int gs = kind == QG_U8S8 ? 4 : 2, lda = (K + gs - 1) / gs * gs + 3 * gs;   // padded, with slack
    int32_t *Ai = calloc((size_t)M * K, 4), *Bi = calloc((size_t)K * N, 4), *corr = calloc(N, 4);
    void *A = calloc((size_t)M * lda, kind == QG_U8S8 ? 1 : 2);
    int8_t *W = calloc((size_t)N * K + 1, 1), *S = calloc((size_t)K * N + 1, 1);
    float *rs = malloc(sizeof(float) * M), *C0 = malloc(sizeof(float) * M * N), *C1 = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M; i++) rs[i] = 0.5f + rng_uniform(r);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            if (kind == QG_U8S8) {
                uint8_t v = (uint8_t)rng_below(r, 256);
                ((uint8_t *)A)[(size_t)i * lda + k] = v;
                Ai[(size_t)i * K + k] = v;
            } else {
                int lim = K <= 256 ? 32767 : 8191;   // keeps every int32 sum exact (no overflow)
                int16_t v = (int16_t)((int)rng_below(r, 2 * lim + 1) - lim);
                ((int16_t *)A)[(size_t)i * lda + k] = v;
                Ai[(size_t)i * K + k] = v;
            }
        }
    qg_packed p = {0};
    int offset = 128;
    if (kind == QG_U8S8) {   // W (N, K) in [-64, 64], mostly ternary
        for (int j = 0; j < N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < K; k++) {
                int v = rng_below(r, 8) == 0 ? (int)rng_below(r, 129) - 64 : (int)rng_below(r, 3) - 1;
                W[(size_t)j * K + k] = (int8_t)v;
                Bi[(size_t)k * N + j] = v;
                sum += v;
            }
            corr[j] = offset * sum;
        }
        qg_pack_s8_rows(&p, NULL, W, N, K, K, offset);
    } else {   // S (K, N) int8, widened
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++) {
                int v = (int)rng_below(r, 256) - 128;
                S[(size_t)k * N + j] = (int8_t)v;
                Bi[(size_t)k * N + j] = v;
            }
        qg_pack_s8_pairs(&p, NULL, S, K, N, N);
    }
    for (size_t i = 0; i < (size_t)M * N; i++) C0[i] = rng_normal(r);
    memcpy(C1, C0, sizeof(float) * M * N);
    naive(C0, Ai, Bi, corr, with_rs ? rs : NULL, 0.37f, accumulate, M, N, K);
    char name[160];
    for (qg_isa isa = QG_SCALAR; isa <= QG_AVX512; isa++) {
        if (!qg_isa_supported(isa)) continue;
        float *C2 = malloc(sizeof(float) * M * N);
        memcpy(C2, C1, sizeof(float) * M * N);
        p.isa = isa;
        if (kind == QG_S16 && (M + K) % 2) {   // the same A stored group-major (groups, M): strided reads
            int G = (K + 1) / 2;
            uint32_t *Ag = calloc((size_t)G * M, 4);
            for (int g = 0; g < G; g++)
                for (int i = 0; i < M; i++) memcpy(&Ag[(size_t)g * M + i], (int16_t *)A + (size_t)i * lda + 2 * g, 4);
            qg_gemm_strided(C2, N, Ag, 4, 4 * (size_t)M, &p, M, with_rs ? rs : NULL, 0.37f, accumulate);
            free(Ag);
        } else {
            qg_gemm(C2, N, A, lda, &p, M, with_rs ? rs : NULL, 0.37f, accumulate);
        }
        snprintf(name, sizeof(name), "qgemm %s %s M=%d N=%d K=%d acc=%d rs=%d threads=%d", kind == QG_U8S8 ? "u8s8" : "s16",
                 qg_isa_name(isa), M, N, K, accumulate, with_rs, omp_get_max_threads());
        size_t bad = 0;
        for (size_t i = 0; i < (size_t)M * N; i++) bad += memcmp(&C2[i], &C0[i], 4) != 0;
        runs[isa]++;
        if (bad && fails[isa]++ < 5) t_check(0, name, "%zu of %d values differ from the reference", bad, M * N);
        free(C2);
    }
    qg_packed_free(&p);
    free(Ai), free(Bi), free(corr), free(A), free(W), free(S), free(rs), free(C0), free(C1);
}

int main(void) {
    rng r;
    rng_seed(&r, 7);
    const int Ms[] = {1, 5, 7, 13, 50}, Ns[] = {1, 17, 64, 65, 130}, Ks[] = {1, 3, 4, 7, 33, 130};
    for (int kind = 0; kind < 2; kind++)
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            memset(runs, 0, sizeof(runs));
            memset(fails, 0, sizeof(fails));
            for (int a = 0; a < 5; a++)
                for (int b = 0; b < 5; b++)
                    for (int c = 0; c < 6; c++) one_case((qg_kind)kind, Ms[a], Ns[b], Ks[c], (a + b + c) % 2, (a + c) % 3 != 0, &r);
            // Larger shapes that the threads split by rows and by panels.
            one_case((qg_kind)kind, 300, 200, 520, 1, 1, &r);
            one_case((qg_kind)kind, 64, 1, 1000, 0, 1, &r);
            for (qg_isa isa = QG_SCALAR; isa <= QG_AVX512; isa++) {
                char name[128];
                snprintf(name, sizeof(name), "qgemm %s %s, %d threads: %d shapes equal the reference",
                         kind == QG_U8S8 ? "u8s8" : "s16", qg_isa_name(isa), threads, runs[isa]);
                if (runs[isa]) t_check(fails[isa] == 0, name, "%d of %d shapes differ", fails[isa], runs[isa]);
            }
        }
    // Packing in parts (blocks of rows, in any order) writes exactly what packing the whole matrix writes.
    int bad_parts = 0, shapes = 0;
    const int Ns2[] = {1, 63, 64, 130, 200}, Ks2[] = {1, 3, 8, 37, 130};
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) {
            int N = Ns2[a], K = Ks2[b];
            int8_t *w = malloc((size_t)N * K);
            for (int i = 0; i < N * K; i++) w[i] = (int8_t)((int)rng_below(&r, 3) - 1);
            qg_packed whole = {0}, parts = {0};
            // u8 x s8: W (N, K) rows in panels, the last panel first
            qg_pack_s8_rows(&whole, NULL, w, N, K, K, 128);
            qg_pack_begin(&parts, NULL, QG_U8S8, K, N);
            for (int j0 = (N - 1) / QG_NR * QG_NR; j0 >= 0; j0 -= QG_NR)
                qg_pack_s8_rows_part(&parts, w + (size_t)j0 * K, j0, N - j0 < QG_NR ? N - j0 : QG_NR, K, 128);
            size_t bytes = qg_pack_bytes(QG_U8S8, K, N);
            bad_parts += memcmp(whole.lanes, parts.lanes, bytes) != 0;
            // s16 pairs: S (N, K) rows in blocks of 2, 6 and the rest, backwards
            qg_packed whole2 = {0}, parts2 = {0};
            qg_pack_s8_pairs(&whole2, NULL, w, N, K, K);
            qg_pack_begin(&parts2, NULL, QG_S16, N, K);
            int cuts[] = {0, 2, 8, N};
            for (int c = 2; c >= 0; c--)
                if (cuts[c] < N && cuts[c] < cuts[c + 1])
                    qg_pack_s8_pairs_part(&parts2, w + (size_t)cuts[c] * K, cuts[c], (cuts[c + 1] < N ? cuts[c + 1] : N) - cuts[c], K);
            bad_parts += memcmp(whole2.lanes, parts2.lanes, qg_pack_bytes(QG_S16, N, K)) != 0;
            shapes += 2;
            qg_packed_free(&whole), qg_packed_free(&parts), qg_packed_free(&whole2), qg_packed_free(&parts2);
            free(w);
        }
    t_check(bad_parts == 0, "packing in parts = packing whole (u8 x s8 rows by panels, s16 row pairs by blocks)", "%d of %d differ",
            bad_parts, shapes);
    printf("# paths on this CPU: best %s\n", qg_isa_name(qg_best_isa()));
    return t_done();
}
