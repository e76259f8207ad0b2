// ternary.c: activation quantization, the panel layout (conversions from the file formats), the scalar
// micro-kernel and the threaded driver of kernels/ternary.h.
#include "kernels/ternary.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quants.h"
#include "kernels/ternary_ukr.h"
#include "kernels/vmath.h"

// ---------------------------------------------------------------------------------------------------
// ISA selection

int tk_isa_supported(tk_isa isa) {
    switch (isa) {
    case TK_ISA_SCALAR: return 1;
    case TK_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case TK_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}

tk_isa tk_isa_best(void) {
    if (tk_isa_supported(TK_ISA_AVX512)) return TK_ISA_AVX512;
    if (tk_isa_supported(TK_ISA_AVX2)) return TK_ISA_AVX2;
    return TK_ISA_SCALAR;
}

const char *tk_isa_name(tk_isa isa) {
    static const char *names[TK_ISA_COUNT] = {"scalar", "avx2", "avx512-vnni"};
    return (unsigned)isa < TK_ISA_COUNT ? names[isa] : "?";
}

// ---------------------------------------------------------------------------------------------------
// Activations

float tk_quant_row(int8_t *q, const float *x, int K) { return km_q8_row(q, x, K); }

void tk_act_row(int8_t *q, float *s, int32_t *sum, int32_t *bsum, const float *x, int K, int ld) {
    *s = tk_quant_row(q, x, K);
    memset(q + K, 0, (size_t)(ld - K));
    int32_t total = 0;
    for (int b = 0, nb = (K + TK_TQ_BLOCK - 1) / TK_TQ_BLOCK; b < nb; b++) {
        int k0 = b * TK_TQ_BLOCK, k1 = k0 + TK_TQ_BLOCK < K ? k0 + TK_TQ_BLOCK : K, bs = 0;
        #pragma omp simd reduction(+ : bs)
        for (int k = k0; k < k1; k++) bs += q[k];
        bsum[b] = bs;
        total += bs;
    }
    *sum = total;
}

void tk_act_quantize(tk_act *a, const float *x, int N, int K) {
    CHECK(N >= 0 && K > 0, "tk_act_quantize: %d x %d", N, K);
    int ld = (K + 63) / 64 * 64, nb = (K + TK_TQ_BLOCK - 1) / TK_TQ_BLOCK;
    size_t qb = (size_t)N * ld, need = qb + (size_t)N * (2 + nb) * 4 + 64;
    if (need > a->cap) {
        free(a->mem);
        a->mem = tr_alloc_aligned(need);
        a->cap = need;
    }
    a->N = N, a->K = K, a->ld = ld, a->nb = nb;
    a->q = a->mem;
    a->s = (float *)((char *)a->mem + qb);
    a->sum = (int32_t *)(a->s + N);
    a->bsum = a->sum + N;
    #pragma omp parallel for schedule(static) if ((size_t)N * K > 65536)
    for (int n = 0; n < N; n++)
        tk_act_row(a->q + (size_t)n * ld, &a->s[n], &a->sum[n], a->bsum + (size_t)n * nb, x + (size_t)n * K, K, ld);
}

void tk_act_free(tk_act *a) {
    if (!a) return;
    free(a->mem);
    memset(a, 0, sizeof(*a));
}

// ---------------------------------------------------------------------------------------------------
// The panel layout

size_t tk_mat_codes_bytes(int M, int K) { return (size_t)((M + TK_PANEL - 1) / TK_PANEL) * (size_t)((K + 3) / 4) * 64; }

void tk_pool_init(tk_pool *p, size_t bytes) {
    *p = (tk_pool){.base = tr_alloc_huge(bytes), .cap = bytes};
    // Fault the huge pages in here, one write each, half per thread: left to the packing loops, the faults
    // (the kernel zeroing 2 MiB each) made 2B4T loads take up to 1.0-1.3 s instead of 0.3-0.5.
    long pages = (long)((bytes + TR_HUGE_PAGE - 1) / TR_HUGE_PAGE);
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < pages; i++) p->base[(size_t)i * TR_HUGE_PAGE] = 0;
}

void tk_pool_free(tk_pool *p) {
    if (!p) return;
    free(p->base);
    memset(p, 0, sizeof(*p));
}

static void mat_alloc(tk_mat *w, int M, int K, uint32_t type, tk_pool *pool) {
    CHECK(M > 0 && K > 0, "ternary matrix %d x %d", M, K);
    memset(w, 0, sizeof(*w));
    w->M = M, w->K = K, w->type = type;
    w->groups = (K + 3) / 4;
    w->panels = (M + TK_PANEL - 1) / TK_PANEL;
    size_t bytes = tk_mat_codes_bytes(M, K);
    if (!pool) {
        w->codes = tr_alloc_aligned(bytes);
        return;
    }
    CHECK(pool->cap - pool->used >= bytes, "ternary pool: %zu of %zu bytes used, a %d x %d matrix needs %zu more", pool->used, pool->cap, M, K,
          bytes);
    w->codes = pool->base + pool->used;   // 64-byte multiples from a 2 MiB aligned base
    w->pooled = 1;
    pool->used += bytes;
}

size_t tk_mat_bytes(const tk_mat *w) {
    size_t nb = (size_t)(w->K + TK_TQ_BLOCK - 1) / TK_TQ_BLOCK;
    return (size_t)w->panels * w->groups * 64 + (w->bscale ? (size_t)w->M * nb * sizeof(float) : 0);
}

// t + 1 in each byte of v (bytes -1, 0, 1 -> codes 0, 1, 2) without carries between bytes.
static inline uint32_t codes4(const int8_t *t) {
    uint32_t v;
    memcpy(&v, t, 4);
    return ((v & 0x7f7f7f7fu) + 0x01010101u) ^ (v & 0x80808080u);
}

// Packs panel p from rows[r] (r < 64: int8 values of row 64p + r, K of them; NULL past M). Lane j of
// group g holds the codes of rows j, 16 + j, 32 + j, 48 + j at k = 4g.. shifted by 0, 2, 4, 6.
static void pack_panel(tk_mat *w, int p, const int8_t *const *rows) {
    uint32_t *out = (uint32_t *)(w->codes + (size_t)p * w->groups * 64);   // (groups, 16) lanes
    int K = w->K, full = K / 4;
    static const int8_t zeros[4] = {0, 0, 0, 0};
    uint32_t bad = 0;
    for (int j = 0; j < 16; j++) {
        const int8_t *r[4];
        int step[4];   // 4, or 0 for a missing row (reads zeros)
        for (int s = 0; s < 4; s++) r[s] = rows[16 * s + j] ? rows[16 * s + j] : zeros, step[s] = rows[16 * s + j] ? 4 : 0;
        for (int g = 0; g < full; g++) {
            uint32_t c0 = codes4(r[0] + step[0] * g), c1 = codes4(r[1] + step[1] * g), c2 = codes4(r[2] + step[2] * g),
                     c3 = codes4(r[3] + step[3] * g);
            bad |= c0 | c1 | c2 | c3;
            out[(size_t)g * 16 + j] = c0 | c1 << 2 | c2 << 4 | c3 << 6;
        }
        if (full < w->groups) {   // the last, partial group: k past K reads 0 (code 1)
            uint32_t lane = 0;
            for (int s = 0; s < 4; s++) {
                int8_t tail[4] = {0, 0, 0, 0};
                if (step[s]) memcpy(tail, r[s] + 4 * full, (size_t)(K - 4 * full));
                uint32_t c = codes4(tail);
                bad |= c;
                lane |= c << (2 * s);
            }
            out[(size_t)full * 16 + j] = lane;
        }
    }
    if (!(bad & 0xfcfcfcfcu)) return;   // some byte was not -1, 0 or +1
    for (int m = 0; m < TK_PANEL; m++)
        for (int k = 0; rows[m] && k < K; k++)
            CHECK(rows[m][k] >= -1 && rows[m][k] <= 1, "ternary value %d at row %d, column %d is not -1, 0 or +1", rows[m][k],
                  TK_PANEL * p + m, k);
}

void tk_mat_from_ternary(tk_mat *w, const int8_t *t, int M, int K, float scale, tk_pool *pool) {
    mat_alloc(w, M, K, GGUF_TYPE_I8, pool);
    w->scale = scale;
    #pragma omp parallel for schedule(static) if ((size_t)M * K > 65536)
    for (int p = 0; p < w->panels; p++) {
        const int8_t *rows[TK_PANEL];
        for (int r = 0; r < TK_PANEL; r++) rows[r] = 64 * p + r < M ? t + (size_t)(64 * p + r) * K : NULL;
        pack_panel(w, p, rows);
    }
}

void tk_mat_to_ternary(int8_t *t, const tk_mat *w) {
    for (int m = 0; m < w->M; m++) {
        const uint8_t *panel = w->codes + (size_t)(m / TK_PANEL) * w->groups * 64;
        int s = (m % TK_PANEL) / 16, j = m % 16;
        for (int k = 0; k < w->K; k++) t[(size_t)m * w->K + k] = (int8_t)((panel[(size_t)(k / 4) * 64 + 4 * j + k % 4] >> (2 * s)) & 3) - 1;
    }
}

void tk_mat_free(tk_mat *w) {
    if (!w) return;
    if (!w->pooled) free(w->codes);
    free(w->bscale);
    memset(w, 0, sizeof(*w));
}

// Unpacks rows [r0, r0 + n) of a file-format tensor into t (n, K) and their block scales into d (n, nb).
static void unpack_rows(int8_t *t, float *d, const gguf_tensor *src, int r0, int n) {
    int64_t K = src->ne[0], nb = K / TK_TQ_BLOCK;
    for (int r = 0; r < n; r++) {
        int8_t *tr = t + (size_t)r * K;
        float *dr = d + (size_t)r * nb;
        const uint8_t *p = src->data;
        if (src->type == GGUF_TYPE_I2_S) tk_i2s_unpack(tr, p + (size_t)(r0 + r) * (size_t)(K / 4), K);
        else if (src->type == GGUF_TYPE_TQ2_0) tk_tq2_0_unpack(tr, dr, (const tk_block_tq2_0 *)p + (size_t)(r0 + r) * nb, K);
        else tk_tq1_0_unpack(tr, dr, (const tk_block_tq1_0 *)p + (size_t)(r0 + r) * nb, K);
    }
}

int tk_mat_from_tensor(tk_mat *w, const gguf_tensor *t, tk_pool *pool, const char *path, tr_err *err) {
    memset(w, 0, sizeof(*w));
    uint32_t ty = t->type;
    if (ty != GGUF_TYPE_I2_S && ty != GGUF_TYPE_TQ2_0 && ty != GGUF_TYPE_TQ1_0)
        return tr_fail(err, "%s: tensor '%s' is %s, want a ternary type (I2_S, TQ2_0 or TQ1_0)", path, t->name,
                       gguf_type_name(ty) ? gguf_type_name(ty) : "?");
    if (t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] <= 0 || t->ne[1] <= 0 || t->ne[0] > INT32_MAX / 8 || t->ne[1] > INT32_MAX / 8)
        return tr_fail(err, "%s: tensor '%s' must be a non-empty 2-D matrix, got [%lld, %lld, %lld, %lld]", path, t->name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    int K = (int)t->ne[0], M = (int)t->ne[1], nb = K / TK_TQ_BLOCK;
    if (ty == GGUF_TYPE_I2_S && K % 128)
        return tr_fail(err, "%s: tensor '%s' is I2_S with rows of %d elements, not a multiple of 128", path, t->name, K);
    float scale = ty == GGUF_TYPE_I2_S ? tk_i2s_scale(t->data, (int64_t)M * K) : 0.0f;
    if (!isfinite(scale)) return tr_fail(err, "%s: tensor '%s' has I2_S scale %g", path, t->name, scale);
    mat_alloc(w, M, K, ty, pool);
    float *d = ty == GGUF_TYPE_I2_S ? NULL : tr_malloc(sizeof(float) * (size_t)M * nb);
    #pragma omp parallel
    {
        int8_t *buf = tr_malloc((size_t)TK_PANEL * K);
        float *dbuf = tr_malloc(sizeof(float) * (size_t)TK_PANEL * (nb ? nb : 1));
        #pragma omp for schedule(static)
        for (int p = 0; p < w->panels; p++) {
            int r0 = p * TK_PANEL, n = M - r0 < TK_PANEL ? M - r0 : TK_PANEL;
            const int8_t *rows[TK_PANEL];
            unpack_rows(buf, dbuf, t, r0, n);
            for (int r = 0; r < TK_PANEL; r++) rows[r] = r < n ? buf + (size_t)r * K : NULL;
            pack_panel(w, p, rows);
            if (d) memcpy(d + (size_t)r0 * nb, dbuf, sizeof(float) * (size_t)n * nb);
        }
        free(buf);
        free(dbuf);
    }
    if (!d) {
        w->scale = scale;
        return 0;
    }
    for (size_t i = 0; i < (size_t)M * nb; i++)
        if (!isfinite(d[i])) {
            tr_fail(err, "%s: tensor '%s' row %zu block %zu has scale %g", path, t->name, i / (size_t)nb, i % (size_t)nb, d[i]);
            free(d);
            tk_mat_free(w);
            return -1;
        }
    // One scale if every block holding a non-zero value has the same d (all-zero blocks do not matter).
    int uniform = 1, have = 0;
    for (size_t i = 0; i < (size_t)M * nb && uniform; i++) {
        int m = (int)(i / (size_t)nb), b = (int)(i % (size_t)nb), s = (m % TK_PANEL) / 16, j = m % 16, nz = 0;
        const uint8_t *panel = w->codes + (size_t)(m / TK_PANEL) * w->groups * 64;
        for (int g = b * 64; g < (b + 1) * 64 && !nz; g++) {
            uint32_t v;
            memcpy(&v, panel + (size_t)g * 64 + 4 * j, 4);
            nz = ((v >> (2 * s)) & 0x03030303u) != 0x01010101u;   // some code is not 1 (value 0)
        }
        if (!nz) continue;
        if (!have) w->scale = d[i], have = 1;
        else if (memcmp(&w->scale, &d[i], sizeof(float)) != 0) uniform = 0;
    }
    if (uniform) free(d);
    else w->bscale = d, w->scale = 0.0f;
    return 0;
}

// ---------------------------------------------------------------------------------------------------
// Scalar micro-kernel (the reference the SIMD ones must equal)

void tk_ukr_scalar(int32_t *acc, const uint8_t *panel, const int8_t *x, size_t ldx, int nr, int ng) {
    for (int r = 0; r < nr; r++) {
        const int8_t *xr = x + (size_t)r * ldx;
        int32_t *a = acc + (size_t)r * TK_PANEL;
        for (int m = 0; m < TK_PANEL; m++) a[m] = 0;
        for (int g = 0; g < ng; g++) {
            const uint8_t *blk = panel + (size_t)g * 64;
            for (int s = 0; s < 4; s++)
                for (int j = 0; j < 16; j++) {
                    int32_t sum = 0;
                    for (int e = 0; e < 4; e++) sum += ((blk[4 * j + e] >> (2 * s)) & 3) * xr[4 * g + e];
                    a[16 * s + j] += sum;
                }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Driver

static int tile_rows(tk_isa isa) { return isa == TK_ISA_AVX512 ? 6 : 4; }

static tk_ukr_fn *ukr_for(tk_isa isa) {
    CHECK(tk_isa_supported(isa), "the %s path is not supported on this CPU", tk_isa_name(isa));
    return isa == TK_ISA_AVX512 ? tk_ukr_avx512 : isa == TK_ISA_AVX2 ? tk_ukr_avx2 : tk_ukr_scalar;
}

// One tile: token rows [n0, n0 + nr) x panel p. Writes floats to y, or the raw sums to isum (ld w->M).
// The epilogue loops take their operands in locals and restrict pointers, and `omp simd` (GCC's -O2 vectorizes
// loops of unknown trip count only when asked): they vectorize, with the scalar loops' results.
static void run_tile(float *y, int ldy, int32_t *isum, const tk_act *x, const tk_mat *w, tk_ukr_fn *ukr, int p, int n0, int nr) {
    int32_t acc[TK_NR_MAX * TK_PANEL];
    float accf[TK_NR_MAX * TK_PANEL];
    int m0 = p * TK_PANEL, mc = w->M - m0 < TK_PANEL ? w->M - m0 : TK_PANEL, M = w->M;
    const uint8_t *panel = w->codes + (size_t)p * w->groups * 64;
    const int8_t *xq = x->q + (size_t)n0 * x->ld;
    if (isum || !w->bscale) {
        ukr(acc, panel, xq, (size_t)x->ld, nr, w->groups);
        float scale = w->scale;
        for (int r = 0; r < nr; r++) {
            int n = n0 + r;
            const int32_t *restrict a = acc + (size_t)r * TK_PANEL;
            const int32_t sum = x->sum[n];
            if (isum) {
                int32_t *restrict o = isum + (size_t)n * M + m0;
                #pragma omp simd
                for (int m = 0; m < mc; m++) o[m] = a[m] - sum;
                continue;
            }
            const float inv = 1.0f / x->s[n];
            float *restrict yr = y + (size_t)n * ldy + m0;
            #pragma omp simd
            for (int m = 0; m < mc; m++) yr[m] = ((float)(a[m] - sum) * inv) * scale;
        }
        return;
    }
    int nb = x->nb;
    const float *bscale = w->bscale;
    for (int i = 0; i < nr * TK_PANEL; i++) accf[i] = 0.0f;
    for (int b = 0; b < nb; b++) {   // per-block scales: one integer sum per 256-block, combined in order
        ukr(acc, panel + (size_t)b * 64 * 64, xq + b * TK_TQ_BLOCK, (size_t)x->ld, nr, 64);
        for (int r = 0; r < nr; r++) {
            const int32_t bs = x->bsum[(size_t)(n0 + r) * nb + b];
            const int32_t *restrict a = acc + r * TK_PANEL;
            float *restrict af = accf + r * TK_PANEL;
            #pragma omp simd
            for (int m = 0; m < mc; m++) af[m] += (float)(a[m] - bs) * bscale[(size_t)(m0 + m) * nb + b];
        }
    }
    for (int r = 0; r < nr; r++) {
        const float inv = 1.0f / x->s[n0 + r];
        float *restrict yr = y + (size_t)(n0 + r) * ldy + m0;
        #pragma omp simd
        for (int m = 0; m < mc; m++) yr[m] = accf[r * TK_PANEL + m] * inv;
    }
}

static void check_shapes(const tk_act *x, const tk_mat *w, int ldy, int floats) {
    CHECK(x->K == w->K, "ternary product: activations have %d features, the matrix rows %d", x->K, w->K);
    CHECK(!floats || ldy >= w->M, "ternary product: ldy %d < M %d", ldy, w->M);
    CHECK(!w->bscale || w->K % TK_TQ_BLOCK == 0, "per-block scales need K a multiple of 256");
}

static void matmul(float *y, int ldy, int32_t *isum, const tk_act *x, const tk_mat *w, tk_isa isa) {
    check_shapes(x, w, ldy, !isum);
    if (x->N <= 0) return;
    tk_ukr_fn *ukr = ukr_for(isa);
    int mr = tile_rows(isa), row_tiles = (x->N + mr - 1) / mr, tiles = w->panels * row_tiles;
    double work = (double)x->N * w->M * w->K;
    // Panels outer, static: each thread takes a contiguous run of panels (one sequential stream from
    // memory, the fastest way to read DRAM in decode) and keeps each panel in cache while the token rows
    // stream past (prefill). Dynamic scheduling measured slower on an idle machine.
    #pragma omp parallel for schedule(static) if (work > 2e5 && tiles > 1)
    for (int t = 0; t < tiles; t++) {
        int p = t / row_tiles, n0 = (t % row_tiles) * mr;
        run_tile(y, ldy, isum, x, w, ukr, p, n0, x->N - n0 < mr ? x->N - n0 : mr);
    }
}

void tk_matmul(float *y, int ldy, const tk_act *x, const tk_mat *w, tk_isa isa) { matmul(y, ldy, NULL, x, w, isa); }

void tk_matmul_panels(float *y, int ldy, const tk_act *x, const tk_mat *w, int p0, int p1, tk_isa isa) {
    check_shapes(x, w, ldy, 1);
    CHECK(0 <= p0 && p0 <= p1 && p1 <= w->panels, "ternary product: panels [%d, %d) of %d", p0, p1, w->panels);
    tk_ukr_fn *ukr = ukr_for(isa);
    int mr = tile_rows(isa);
    for (int p = p0; p < p1; p++)   // panels outer, as in matmul
        for (int n0 = 0; n0 < x->N; n0 += mr) run_tile(y, ldy, NULL, x, w, ukr, p, n0, x->N - n0 < mr ? x->N - n0 : mr);
}

void tk_matmul_i32(int32_t *isum, const tk_act *x, const tk_mat *w, tk_isa isa) {
    CHECK(!w->bscale, "tk_matmul_i32 needs a matrix with one scale");
    matmul(NULL, 0, isum, x, w, isa);
}
