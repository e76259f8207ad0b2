// qgemm.c: packing, the scalar reference micro-kernel and the tiled, threaded driver of kernels/qgemm.h.
#include "kernels/qgemm.h"

#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "kernels/qgemm_ukr.h"

static int group_size(qg_kind kind) { return kind == QG_U8S8 ? 4 : 2; }

int qg_isa_supported(qg_isa isa) {
    switch (isa) {
    case QG_SCALAR: return 1;
    case QG_AVX2: return __builtin_cpu_supports("avx2");
    case QG_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    }
    return 0;
}

qg_isa qg_best_isa(void) {
    if (qg_isa_supported(QG_AVX512)) return QG_AVX512;
    if (qg_isa_supported(QG_AVX2)) return QG_AVX2;
    return QG_SCALAR;
}

const char *qg_isa_name(qg_isa isa) {
    static const char *names[] = {"scalar", "avx2", "avx512-vnni"};
    return isa <= QG_AVX512 ? names[isa] : "?";
}

static size_t lanes_count(qg_kind kind, int K, int N) {
    int gs = group_size(kind);
    return (size_t)((N + QG_NR - 1) / QG_NR) * ((K + gs - 1) / gs) * QG_NR;
}

size_t qg_pack_bytes(qg_kind kind, int K, int N) {
    return (lanes_count(kind, K, N) + (size_t)((N + QG_NR - 1) / QG_NR) * QG_NR) * sizeof(int32_t);
}

void qg_packed_free(qg_packed *p) {
    if (!p) return;
    free(p->owned);
    memset(p, 0, sizeof(*p));
}

// Sizes p for (K, N) of `kind` in mem (or its owned buffer, grown when needed); zeroes lanes and colcorr.
void qg_pack_begin(qg_packed *p, void *mem, qg_kind kind, int K, int N) {
    CHECK(K > 0 && N > 0, "qgemm: empty B (%d x %d)", K, N);
    int gs = group_size(kind);
    size_t bytes = qg_pack_bytes(kind, K, N);
    if (!mem) {
        if (bytes > p->owned_bytes) {
            free(p->owned);
            p->owned = tr_alloc_aligned(bytes);
            p->owned_bytes = bytes;
        }
        mem = p->owned;
    }
    CHECK(((uintptr_t)mem & 63) == 0, "qgemm: packing memory must be 64-byte aligned");
    p->kind = kind;
    p->isa = qg_best_isa();
    p->K = K;
    p->N = N;
    p->groups = (K + gs - 1) / gs;
    p->panels = (N + QG_NR - 1) / QG_NR;
    p->lanes = mem;
    p->colcorr = p->lanes + lanes_count(kind, K, N);
    // Zero what the packing loops leave alone: the columns past N in the last panel, and colcorr.
    int tail = N % QG_NR;
    if (tail)
        for (int g = 0; g < p->groups; g++)
            memset(p->lanes + ((size_t)(p->panels - 1) * p->groups + g) * QG_NR + tail, 0,
                   sizeof(int32_t) * (QG_NR - tail));
    memset(p->colcorr, 0, sizeof(int32_t) * (size_t)p->panels * QG_NR);
}

void qg_pack_s8_rows_part(const qg_packed *p, const int8_t *w, int j0, int nj, int ldw, int offset) {
    CHECK(p->kind == QG_U8S8 && j0 % QG_NR == 0 && j0 + nj <= p->N, "qgemm: rows [%d, %d) of %d to pack", j0, j0 + nj, p->N);
    int G = p->groups, K = p->K, full = K / 4;
    for (int j = j0; j < j0 + nj; j++) {
        const int8_t *row = w + (size_t)(j - j0) * ldw;
        int32_t sum = 0, big = 0;
        #pragma omp simd reduction(+ : sum) reduction(| : big)
        for (int k = 0; k < K; k++) {
            sum += row[k];
            big |= row[k] < -64 || row[k] > 64;
        }
        CHECK(!big, "qgemm: packed u8 x s8 weights must lie in [-64, 64] (row %d)", j);
        p->colcorr[j] = offset * sum;
    }
    // A panel at a time: each group's lanes are written in one contiguous run (the rows' 4-byte words read
    // across the panel's rows, whose lines stay in L1 for 16 groups), rather than a row at a time with every
    // store on another line.
    for (int pj = j0; pj < j0 + nj; pj += QG_NR) {
        int n = j0 + nj - pj < QG_NR ? j0 + nj - pj : QG_NR;
        int32_t *lanes = p->lanes + (size_t)(pj / QG_NR) * G * QG_NR;
        const int8_t *rows = w + (size_t)(pj - j0) * ldw;
        for (int g = 0; g < full; g++) {
            int32_t *restrict dst = lanes + (size_t)g * QG_NR;
            #pragma omp simd
            for (int jj = 0; jj < n; jj++) {
                int32_t v;
                memcpy(&v, rows + (size_t)jj * ldw + 4 * g, 4);
                dst[jj] = v;
            }
        }
        if (full < G)   // the last, partial group: zero padded
            for (int jj = 0; jj < n; jj++) {
                int8_t b[4] = {0, 0, 0, 0};
                memcpy(b, rows + (size_t)jj * ldw + 4 * full, (size_t)(K - 4 * full));
                memcpy(&lanes[(size_t)full * QG_NR + jj], b, 4);
            }
    }
}

void qg_pack_s8_rows(qg_packed *p, void *mem, const int8_t *w, int N, int K, int ldw, int offset) {
    qg_pack_begin(p, mem, QG_U8S8, K, N);
    #pragma omp parallel for schedule(static) if ((size_t)N * K >= 8192)
    for (int pn = 0; pn < p->panels; pn++) {
        int j0 = pn * QG_NR;
        qg_pack_s8_rows_part(p, w + (size_t)j0 * ldw, j0, N - j0 < QG_NR ? N - j0 : QG_NR, ldw, offset);
    }
}

void qg_pack_s8_pairs_part(const qg_packed *p, const int8_t *s, int k0, int nk, int lds) {
    CHECK(p->kind == QG_S16 && k0 % 2 == 0 && k0 + nk <= p->K, "qgemm: rows [%d, %d) of %d to pack", k0, k0 + nk, p->K);
    int G = p->groups, N = p->N;
    for (int g = k0 / 2; 2 * g < k0 + nk; g++) {
        const int8_t *r0 = s + (size_t)(2 * g - k0) * lds, *r1 = 2 * g + 1 < k0 + nk ? r0 + lds : NULL;
        for (int pn = 0; pn < p->panels; pn++) {
            uint32_t *restrict out = (uint32_t *)p->lanes + ((size_t)pn * G + g) * QG_NR;
            int j0 = pn * QG_NR, n = N - j0 < QG_NR ? N - j0 : QG_NR;
            if (r1) {
                #pragma omp simd
                for (int jj = 0; jj < n; jj++)
                    out[jj] = (uint16_t)(int16_t)r0[j0 + jj] | (uint32_t)(uint16_t)(int16_t)r1[j0 + jj] << 16;
            } else {
                #pragma omp simd
                for (int jj = 0; jj < n; jj++) out[jj] = (uint16_t)(int16_t)r0[j0 + jj];
            }
        }
    }
}

void qg_pack_s8_pairs(qg_packed *p, void *mem, const int8_t *s, int K, int N, int lds) {
    qg_pack_begin(p, mem, QG_S16, K, N);
    #pragma omp parallel for schedule(static) if ((size_t)N * K >= 8192)
    for (int g = 0; g < p->groups; g++) qg_pack_s8_pairs_part(p, s + (size_t)(2 * g) * lds, 2 * g, 2 * g + 1 < K ? 2 : 1, lds);
}

// ---- scalar reference ----

static int32_t lane_dot(qg_kind kind, uint32_t a, uint32_t b) {
    uint8_t ab[4], bb[4];
    memcpy(ab, &a, 4);
    memcpy(bb, &b, 4);
    if (kind == QG_U8S8) {
        int32_t s = 0;
        for (int e = 0; e < 4; e++) s += (int32_t)ab[e] * (int32_t)(int8_t)bb[e];
        return s;
    }
    int16_t a16[2], b16[2];
    memcpy(a16, ab, 4);
    memcpy(b16, bb, 4);
    return (int32_t)a16[0] * b16[0] + (int32_t)a16[1] * b16[1];
}

void qg_ukr_scalar(const qg_tile *t, qg_kind kind) {
    for (int i = 0; i < t->m; i++) {
        const uint8_t *arow = t->A + (size_t)i * t->lda;
        float rs = t->rowscale ? t->rowscale[i] : 1.0f;
        float *crow = t->C + (size_t)i * t->ldc;
        for (int j = 0; j < t->n; j++) {
            int32_t acc = 0;
            for (int g = 0; g < t->groups; g++) {
                uint32_t a;
                memcpy(&a, arow + t->ldg * (size_t)g, 4);
                acc += lane_dot(kind, a, (uint32_t)t->panel[(size_t)g * QG_NR + j]);
            }
            float v = ((float)(acc - t->colcorr[j]) * rs) * t->alpha;
            crow[j] = t->accumulate ? crow[j] + v : v;
        }
    }
}

// ---- driver ----

void qg_gemm(float *C, int ldc, const void *A, int lda, const qg_packed *B, int M, const float *rowscale, float alpha,
             int accumulate) {
    CHECK(lda >= B->groups * group_size(B->kind), "qgemm: lda %d < %d padded K", lda, B->groups * group_size(B->kind));
    size_t lda_bytes = (size_t)lda * (B->kind == QG_U8S8 ? 1 : 2);
    qg_gemm_strided(C, ldc, A, lda_bytes, 4, B, M, rowscale, alpha, accumulate);
}

void qg_gemm_strided(float *C, int ldc, const void *A, size_t a_row, size_t a_group, const qg_packed *B, int M,
                     const float *rowscale, float alpha, int accumulate) {
    if (M <= 0) return;
    CHECK(ldc >= B->N, "qgemm: ldc %d < N %d", ldc, B->N);
    CHECK(qg_isa_supported(B->isa), "qgemm: the %s path is not supported on this CPU", qg_isa_name(B->isa));
    int mr = B->isa == QG_AVX512 ? QG_MR_AVX512 : B->isa == QG_AVX2 ? QG_MR_AVX2 : 4;
    int row_tiles = (M + mr - 1) / mr, tiles = row_tiles * B->panels;
    double work = (double)M * B->N * B->groups;
    // A small B (in every core's L2): rows outer, so each thread reads (and writes) its own run of rows, the
    // rows the static splits of the surrounding ops gave it. A large B: panels outer, so a thread keeps one
    // panel of B in cache while it sweeps the rows of A.
    int rows_outer = (size_t)B->panels * B->groups * QG_NR * sizeof(int32_t) <= (256u << 10);
    #pragma omp parallel for schedule(static) if (work > 1e5 && tiles > 1)
    for (int tix = 0; tix < tiles; tix++) {
        int p = rows_outer ? tix % B->panels : tix / row_tiles;
        int r0 = (rows_outer ? tix / B->panels : tix % row_tiles) * mr;
        qg_tile t = {
            .C = C + (size_t)r0 * ldc + (size_t)p * QG_NR,
            .ldc = ldc,
            .A = (const uint8_t *)A + (size_t)r0 * a_row,
            .lda = a_row,
            .ldg = a_group,
            .panel = B->lanes + (size_t)p * B->groups * QG_NR,
            .colcorr = B->colcorr + (size_t)p * QG_NR,
            .rowscale = rowscale ? rowscale + r0 : NULL,
            .groups = B->groups,
            .m = M - r0 < mr ? M - r0 : mr,
            .n = B->N - p * QG_NR < QG_NR ? B->N - p * QG_NR : QG_NR,
            .alpha = alpha,
            .accumulate = accumulate,
        };
        if (B->isa == QG_AVX512) qg_ukr_avx512(&t, B->kind);
        else if (B->isa == QG_AVX2) qg_ukr_avx2(&t, B->kind);
        else qg_ukr_scalar(&t, B->kind);
    }
}
