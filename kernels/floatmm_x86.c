// floatmm_x86.c: AVX2 and AVX-512 tiles of kernels/floatmm_ukr.h, compiled per function with target
// attributes and chosen at run time.
//
// Float tiles keep one accumulator per (W row, x row) pair and reduce horizontally at the end (their
// order differs from the scalar one). Q8_0 tiles follow the exact lane order of floatmm.h: a block's 32
// products summed 4 at a time into 8 int32 lanes (vpdpbusd on |w| and x with w's sign, or vpmaddubsw +
// vpmaddwd; exact because |x| <= 127), scaled by d_w * d_x and added to the even- or odd-block half.
// Rows past nr / nc re-read row 0 (valid memory) and are not stored.
#include <immintrin.h>
#include <string.h>

#include "common/f16.h"
#include "common/gguf.h"
#include "kernels/floatmm_ukr.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")))
#define T256 __attribute__((target("avx2,f16c,fma")))
#define INLINE __attribute__((always_inline)) static inline

// ---- float tiles ----

T512 INLINE __m512 wload512(const uint8_t *row, const uint32_t wtype, int k) {
    if (wtype == GGUF_TYPE_F32) return _mm512_loadu_ps(row + 4 * (size_t)k);
    __m256i h = _mm256_loadu_si256((const __m256i *)(row + 2 * (size_t)k));
    if (wtype == GGUF_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

T256 INLINE __m256 wload256(const uint8_t *row, const uint32_t wtype, int k) {
    if (wtype == GGUF_TYPE_F32) return _mm256_loadu_ps((const float *)(row + 4 * (size_t)k));
    __m128i h = _mm_loadu_si128((const __m128i *)(row + 2 * (size_t)k));
    if (wtype == GGUF_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static float wscalar(const uint8_t *row, uint32_t wtype, int k) {   // the row tail past the last full vector
    float f;
    uint16_t h;
    if (wtype == GGUF_TYPE_F32) {
        memcpy(&f, row + 4 * (size_t)k, 4);
        return f;
    }
    memcpy(&h, row + 2 * (size_t)k, 2);
    return wtype == GGUF_TYPE_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

// R W rows x C x rows, R * C accumulators.
T512 INLINE void ftile512(float *out, const uint8_t *w, size_t ldw, const uint32_t wtype, int nr, const float *x, size_t ldx, int nc,
                          int K, const int R, const int C) {
    const uint8_t *wr[8];
    const float *xc[4];
    for (int r = 0; r < R; r++) wr[r] = w + (r < nr ? r : 0) * ldw;
    for (int c = 0; c < C; c++) xc[c] = x + (c < nc ? c : 0) * ldx;
    __m512 acc[8][4];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 4
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 xv[4];
        #pragma GCC unroll 4
        for (int c = 0; c < C; c++) xv[c] = _mm512_loadu_ps(xc[c] + k);
        #pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 wv = wload512(wr[r], wtype, k);
            #pragma GCC unroll 4
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_fmadd_ps(wv, xv[c], acc[r][c]);
        }
    }
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            float s = _mm512_reduce_add_ps(acc[r][c]);
            for (int kk = k; kk < K; kk++) s += xc[c][kk] * wscalar(wr[r], wtype, kk);
            out[c * nr + r] = s;
        }
}

// One W row x one x row (decode): eight accumulators over k, 256 weights an iteration. One sequential
// stream per thread reads DRAM far faster than several interleaved rows, and the fewer instructions per
// weight byte, the more cache lines the core keeps in flight (this reads ~20% faster than 4 accumulators
// over 64 weights, and about as fast as a bare streaming read).
T512 INLINE float frow512(const uint8_t *w, const uint32_t wtype, const float *x, int K) {
    __m512 a[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 256 <= K; k += 256)
        #pragma GCC unroll 16
        for (int i = 0; i < 16; i++) a[i % 8] = _mm512_fmadd_ps(wload512(w, wtype, k + 16 * i), _mm512_loadu_ps(x + k + 16 * i), a[i % 8]);
    for (; k + 16 <= K; k += 16) a[0] = _mm512_fmadd_ps(wload512(w, wtype, k), _mm512_loadu_ps(x + k), a[0]);
    for (int i = 0; i < 4; i++) a[i] = _mm512_add_ps(a[i], a[i + 4]);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])));
    for (; k < K; k++) s += x[k] * wscalar(w, wtype, k);
    return s;
}

// Rows r < nr of w against one x row: one call streams a thread's run of rows (decode).
#define FROWS(frow, T)                                                  \
    for (int r = 0; r < nr; r++) out[r] = frow((const uint8_t *)w + r * ldw, T, x, K)

T512 void tk_fdot_avx512(float *out, const void *w, size_t ldw, uint32_t wtype, int nr, const float *x, size_t ldx, int nc, int K) {
    const uint8_t *wb = w;
    if (nc == 1 && wtype == GGUF_TYPE_F16) FROWS(frow512, GGUF_TYPE_F16);
    else if (nc == 1 && wtype == GGUF_TYPE_BF16) FROWS(frow512, GGUF_TYPE_BF16);
    else if (nc == 1) FROWS(frow512, GGUF_TYPE_F32);
    else if (wtype == GGUF_TYPE_F16) ftile512(out, wb, ldw, GGUF_TYPE_F16, nr, x, ldx, nc, K, 4, 4);
    else if (wtype == GGUF_TYPE_BF16) ftile512(out, wb, ldw, GGUF_TYPE_BF16, nr, x, ldx, nc, K, 4, 4);
    else ftile512(out, wb, ldw, GGUF_TYPE_F32, nr, x, ldx, nc, K, 4, 4);
}

// AVX2: 4 W rows x 1 x row at a time.
T256 INLINE void ftile256(float *out, const uint8_t *w, size_t ldw, const uint32_t wtype, int nr, const float *x, int K) {
    const uint8_t *wr[4];
    for (int r = 0; r < 4; r++) wr[r] = w + (r < nr ? r : 0) * ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 xv = _mm256_loadu_ps(x + k);
        a0 = _mm256_fmadd_ps(wload256(wr[0], wtype, k), xv, a0);
        a1 = _mm256_fmadd_ps(wload256(wr[1], wtype, k), xv, a1);
        a2 = _mm256_fmadd_ps(wload256(wr[2], wtype, k), xv, a2);
        a3 = _mm256_fmadd_ps(wload256(wr[3], wtype, k), xv, a3);
    }
    __m256 acc[4] = {a0, a1, a2, a3};
    for (int r = 0; r < nr; r++) {
        float v[8], s = 0.0f;
        _mm256_storeu_ps(v, acc[r]);
        s = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
        for (int kk = k; kk < K; kk++) s += x[kk] * wscalar(wr[r], wtype, kk);
        out[r] = s;
    }
}

T256 INLINE float frow256(const uint8_t *w, const uint32_t wtype, const float *x, int K) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        a0 = _mm256_fmadd_ps(wload256(w, wtype, k), _mm256_loadu_ps(x + k), a0);
        a1 = _mm256_fmadd_ps(wload256(w, wtype, k + 8), _mm256_loadu_ps(x + k + 8), a1);
        a2 = _mm256_fmadd_ps(wload256(w, wtype, k + 16), _mm256_loadu_ps(x + k + 16), a2);
        a3 = _mm256_fmadd_ps(wload256(w, wtype, k + 24), _mm256_loadu_ps(x + k + 24), a3);
    }
    for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(wload256(w, wtype, k), _mm256_loadu_ps(x + k), a0);
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    float s = ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
    for (; k < K; k++) s += x[k] * wscalar(w, wtype, k);
    return s;
}

T256 void tk_fdot_avx2(float *out, const void *w, size_t ldw, uint32_t wtype, int nr, const float *x, size_t ldx, int nc, int K) {
    if (nc == 1 && wtype == GGUF_TYPE_F16) FROWS(frow256, GGUF_TYPE_F16);
    else if (nc == 1 && wtype == GGUF_TYPE_BF16) FROWS(frow256, GGUF_TYPE_BF16);
    else if (nc == 1) FROWS(frow256, GGUF_TYPE_F32);
    else
        for (int c = 0; c < nc; c++)
            for (int r0 = 0; r0 < nr; r0 += 4) {
                const uint8_t *wb = (const uint8_t *)w + r0 * ldw;
                int n = nr - r0 < 4 ? nr - r0 : 4;
                float *o = out + c * nr + r0;
                if (wtype == GGUF_TYPE_F16) ftile256(o, wb, ldw, GGUF_TYPE_F16, n, x + c * ldx, K);
                else if (wtype == GGUF_TYPE_BF16) ftile256(o, wb, ldw, GGUF_TYPE_BF16, n, x + c * ldx, K);
                else ftile256(o, wb, ldw, GGUF_TYPE_F32, n, x + c * ldx, K);
            }
}

// ---- Q8_0 tiles ----

// Two consecutive blocks' qs in one zmm (block b in lanes 0..31, b + 1 in 32..63).
T512 INLINE __m512i q2load(const tk_block_q8_0 *b) {
    __m256i lo = _mm256_loadu_si256((const __m256i *)b[0].qs), hi = _mm256_loadu_si256((const __m256i *)b[1].qs);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// [d[0] x 8, d[1] x 8] from two consecutive floats.
T512 INLINE __m512 pair_scale(const float *d) {
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)d))));   // 8 bytes, unaligned
}

#define QCHUNK 64   // blocks whose scales are converted to f32 up front

T512 INLINE void qtile512(float *out, const tk_block_q8_0 *w, size_t ldw, int nr, const tk_block_q8_0 *x, size_t ldx, int nc, int nb,
                          const int R, const int C) {
    const tk_block_q8_0 *wr[8], *xc[4];
    for (int r = 0; r < R; r++) wr[r] = w + (r < nr ? r : 0) * ldw;
    for (int c = 0; c < C; c++) xc[c] = x + (c < nc ? c : 0) * ldx;
    const __m512i zero = _mm512_setzero_si512();
    __m512 acc[8][4];
    float dw[8][QCHUNK + 1], dx[4][QCHUNK + 1];
    #pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        #pragma GCC unroll 4
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_ps();
    for (int b0 = 0; b0 < nb; b0 += QCHUNK) {
        int b1 = nb - b0 < QCHUNK ? nb : b0 + QCHUNK;
        for (int b = b0; b < b1; b++) {
            for (int r = 0; r < R; r++) dw[r][b - b0] = _cvtsh_ss(wr[r][b].d);
            for (int c = 0; c < C; c++) dx[c][b - b0] = _cvtsh_ss(xc[c][b].d);
        }
        for (int b = b0; b < b1; b += 2) {
            int pair = b + 1 < b1;
            __m512i xv[4];
            __m512 xd[4];
            #pragma GCC unroll 4
            for (int c = 0; c < C; c++) {
                if (pair) xv[c] = q2load(xc[c] + b), xd[c] = pair_scale(&dx[c][b - b0]);
                else xv[c] = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)xc[c][b].qs)), xd[c] = _mm512_set1_ps(dx[c][b - b0]);
            }
            #pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                __m512i wv = pair ? q2load(wr[r] + b) : _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)wr[r][b].qs));
                __m512 wd = pair ? pair_scale(&dw[r][b - b0]) : _mm512_set1_ps(dw[r][b - b0]);
                __m512i wabs = _mm512_abs_epi8(wv);
                __mmask64 neg = _mm512_movepi8_mask(wv);
                #pragma GCC unroll 4
                for (int c = 0; c < C; c++) {
                    __m512i xs = _mm512_mask_sub_epi8(xv[c], neg, zero, xv[c]);
                    __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, wabs, xs));
                    __m512 prod = _mm512_mul_ps(_mm512_mul_ps(wd, xd[c]), p);
                    acc[r][c] = pair ? _mm512_add_ps(acc[r][c], prod) : _mm512_mask_add_ps(acc[r][c], 0x00ff, acc[r][c], prod);
                }
            }
        }
    }
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            float a[16];
            _mm512_storeu_ps(a, acc[r][c]);
            out[c * nr + r] = tk_q8_reduce(a);
        }
}

T512 void tk_qdot_avx512(float *out, const tk_block_q8_0 *w, size_t ldw, int nr, const tk_block_q8_0 *x, size_t ldx, int nc, int nb) {
    if (nc == 1 && nr == 1) qtile512(out, w, ldw, nr, x, ldx, nc, nb, 1, 1);   // decode: one stream per thread
    else qtile512(out, w, ldw, nr, x, ldx, nc, nb, 4, 4);
}

// AVX2: one (W row, x row) pair at a time, even and odd blocks in two accumulators.
T256 INLINE __m256 qblock256(const tk_block_q8_0 *wb, const tk_block_q8_0 *xb) {
    __m256i wv = _mm256_loadu_si256((const __m256i *)wb->qs), xv = _mm256_loadu_si256((const __m256i *)xb->qs);
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)), _mm256_set1_epi16(1));
    __m256 s = _mm256_set1_ps(_cvtsh_ss(wb->d) * _cvtsh_ss(xb->d));
    return _mm256_mul_ps(s, _mm256_cvtepi32_ps(p));
}

T256 void tk_qdot_avx2(float *out, const tk_block_q8_0 *w, size_t ldw, int nr, const tk_block_q8_0 *x, size_t ldx, int nc, int nb) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            const tk_block_q8_0 *wr = w + r * ldw, *xr = x + c * ldx;
            __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
            int b = 0;
            for (; b + 1 < nb; b += 2) {
                even = _mm256_add_ps(even, qblock256(wr + b, xr + b));
                odd = _mm256_add_ps(odd, qblock256(wr + b + 1, xr + b + 1));
            }
            if (b < nb) even = _mm256_add_ps(even, qblock256(wr + b, xr + b));
            float a[16];
            _mm256_storeu_ps(a, even);
            _mm256_storeu_ps(a + 8, odd);
            out[c * nr + r] = tk_q8_reduce(a);
        }
}
