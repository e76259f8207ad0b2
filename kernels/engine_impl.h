// engine_impl.h: the per-ISA pieces of the engine's attention (private to kernels/engine*.c; tests compare
// every path with the scalar one).
//
//   scores  sc[i * ldsc + t] = scale * (q[i * D ..] . K[t]) for query rows i < nq (heads that share the kv
//           head) and t < n, each dot product one fused multiply-add chain over d = 0 .. D-1 in order; keys in
//           blocks of ENG_KBLK positions, each block transposed (D, ENG_KBLK):
//           K[t][d] = kb[(t / ENG_KBLK) * ENG_KBLK * D + d * ENG_KBLK + t % ENG_KBLK]. A vector of 16 keys is
//           one aligned load, and a head's keys up to position n are one contiguous run of memory (a plain
//           (D, n_ctx) transpose reads D separate rows, which the prefetchers follow poorly). Each key vector
//           loaded serves two query rows at once: decode reads the cache once per pair of heads.
//   mix     out[i * D + d] = sum over t = 0 .. n-1 in order of p[i * ldp + t] * V[t][d] for i < np, one fused
//           multiply-add chain per (i, d); V (n, D) rows, each row loaded once per pair of rows of p
//   expv    y (n) = expf(x) bit for bit (y may be x): glibc's expf (2.28+: a 32-entry 2^(k/32) table and a
//           cubic in double precision, as its FMA build computes it), vectorized. The softmax and SiLU of the
//           training graph call expf; the engine must round exactly as it does (see below).
//   softmax p (n) = softmax(p) in place (n >= 1), in this order: m = max p; p = expf(p - m); p *= 1 / km_sum(p)
//           (kernels/vmath.h's fixed summation order): the same bits on every path, the fused vector one
//           included. The training graph's attention and the engine's both call it.
//   q8_row  y[n * ldy] = inv[n] * sum_b d_b * (sum_{k in b} q_k * x[n * K + k]) for n < N: one Q8_0 row
//           (K / 32 blocks) of an LM head against N rows of int16 activations x (N, K) (km_q16_row: x / inv
//           rounded, |x| <= 32767), each block's sum exact in int32. int16 per row is 256 times finer than
//           llama.cpp's int8 per 32-block (logits move by ~1e-5 relative, not ~5e-3), and twice as fast
//           as float activations, which need a widening and a conversion per weight.
// scores and mix use exactly the orders OpenBLAS's sgemm uses for the training graph's q k^T and P V (one FMA chain
// along the inner dimension), so every path returns the same bits, and the same bits as the training graph.
// The softmax between them is scalar (expf, in the training graph's order): the int8 quantizers after
// attention make the forward chaotic (a value moved across a rounding tie cascades), so the engine keeps
// its floats identical to the training graph's wherever the cost allows.
#ifndef TRIT_KERNELS_ENGINE_IMPL_H
#define TRIT_KERNELS_ENGINE_IMPL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/quants.h"
#include "kernels/ternary.h"

#define ENG_KBLK 16   // positions per block of the key cache

typedef struct {
    void (*scores)(float *sc, size_t ldsc, const float *q, int nq, const float *kb, int n, int D, float scale);
    void (*mix)(float *out, const float *p, size_t ldp, int np, const float *v, int n, int D);
    void (*expv)(float *y, const float *x, int n);
    void (*softmax)(float *p, int n);
    void (*q8_row)(float *y, size_t ldy, const tk_block_q8_0 *w, const int16_t *x, const float *inv, int N, int K);
} eng_ops;

const eng_ops *eng_ops_for(tk_isa isa);   // CHECKs that the CPU runs the path
// softmax in the order above with a given expv: the scalar and AVX2 paths (kernels/engine_ops.c).
void eng_softmax_with(float *p, int n, void (*expv)(float *y, const float *x, int n));


extern const eng_ops eng_ops_scalar, eng_ops_avx2, eng_ops_avx512;   // kernels/engine_ops.c, engine_x86.c

// The thread team of one forward (kernels/engine_team.c): all of a forward runs inside one OpenMP parallel
// region, in phases that end at a barrier which spins a few microseconds, then sleeps. A phase's work is a set
// of ranges (slots) of units, zeroed at the start of each batch. A thread takes units from the front of its
// own range in large pieces (a long sequential read of the weights) and, when done, takes small pieces from
// the back of the others' ranges: work stealing, so a thread slowed by another process does less.
#define ENG_TEAM_SLOTS 4   // ranges per phase and thread

typedef struct eng_team {
    _Atomic int arrived, gen, sleepers;
    int n;                      // threads in the team (set while no thread is at the barrier)
    _Atomic uint64_t *work;     // (max_phases, slots): units taken from the back << 32 | from the front
    int max_phases, slots;
} eng_team;

typedef struct {                // one thread's view of the team
    eng_team *team;
    int tid, nt, ph;            // thread, team size, current phase
} eng_worker;

eng_team *eng_team_new(int max_phases, int max_threads);
void eng_team_free(eng_team *t);   // accepts NULL
void eng_team_reset(eng_team *t);   // every range untouched: one thread, while the others wait at the barrier
void eng_team_sync(eng_worker *w);                 // the barrier
void eng_team_end_phase(eng_worker *w);            // the next phase, after the barrier
// The work sharing of every phase (products, LM head, attention, RoPE and the cache): nr ranges of units
// (range i: units[i], nr <= ENG_TEAM_SLOTS), each split into one contiguous share per thread (share o of
// range i is slot i * nt + o). A thread first takes pieces of up to `chunk` units, and at most half of what is left, from the
// front of its own share of every range (a long sequential read whose last pieces are short, so a thread
// done early steals rather than waits), then pieces of up to `steal` from the back of the other threads' shares,
// nearest thread first. Each call returns the next piece's size (0: nothing is left for this thread), its
// range in *range and its first unit in *start. cur starts zeroed, one per phase.
typedef struct {
    int pass, i;
} eng_cursor;
int eng_team_next(eng_worker *w, eng_cursor *cur, const int *units, int nr, int chunk, int steal, int *range, int *start);

#endif
