// engine_team.c: the thread team that runs one engine forward inside a single OpenMP parallel region
// (kernels/engine_impl.h): a barrier that spins briefly, then sleeps on a futex, and per-phase work counters.
//
// Why not one OpenMP region per operation: a decoded token is ~300 dependent steps (7 products, attention,
// norms per layer) of 10-300 us each. libgomp's regions end in barriers whose waiting threads spin for
// milliseconds (GOMP_SPINCOUNT) before they sleep; when another process holds one of the cores, the waiter
// spins on the core the late thread needs, and decode slowed from ~20 to under 1 token/s in our runs. Here a
// waiter spins for a few microseconds (enough when both threads run), then sleeps, giving its core back.
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/claim.h"
#include "kernels/engine_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN 4000   // pause iterations (~20-60 us) before a waiter sleeps

eng_team *eng_team_new(int max_phases, int max_threads) {
    eng_team *t = tr_calloc(1, sizeof(eng_team));
    t->slots = ENG_TEAM_SLOTS * max_threads;
    t->max_phases = max_phases;
    t->work = tr_calloc((size_t)max_phases * t->slots, sizeof(*t->work));
    return t;
}

void eng_team_free(eng_team *t) {
    if (!t) return;
    free(t->work);
    free(t);
}

void eng_team_reset(eng_team *t) {
    for (size_t i = 0; i < (size_t)t->max_phases * t->slots; i++) atomic_store_explicit(&t->work[i], 0, memory_order_relaxed);
}

static long futex(_Atomic int *addr, int op, int val) { return syscall(SYS_futex, (int *)addr, op, val, NULL, NULL, 0); }

void eng_team_sync(eng_worker *w) {
    eng_team *t = w->team;
    if (t->n == 1) return;
    int g = atomic_load_explicit(&t->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->arrived, 1, memory_order_acq_rel) == t->n - 1) {   // the last one in
        atomic_store_explicit(&t->arrived, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
        if (atomic_load(&t->sleepers)) futex(&t->gen, FUTEX_WAKE_PRIVATE, INT_MAX);
        return;
    }
    for (int i = 0; i < SPIN; i++) {
        if (atomic_load_explicit(&t->gen, memory_order_acquire) != g) return;
        CPU_RELAX();
    }
    atomic_fetch_add(&t->sleepers, 1);
    while (atomic_load_explicit(&t->gen, memory_order_acquire) == g) futex(&t->gen, FUTEX_WAIT_PRIVATE, g);
    atomic_fetch_sub(&t->sleepers, 1);
}

static _Atomic uint64_t *slot_word(eng_worker *w, int slot) {
    CHECK(w->ph < w->team->max_phases && slot < w->team->slots, "engine team: phase %d of %d, slot %d of %d", w->ph, w->team->max_phases, slot,
          w->team->slots);
    return &w->team->work[(size_t)w->ph * w->team->slots + slot];
}

int eng_team_next(eng_worker *w, eng_cursor *cur, const int *units, int nr, int chunk, int steal, int *range, int *start) {
    int nt = w->nt;
    for (; cur->pass < nt; cur->pass++, cur->i = 0)
        for (; cur->i < nr; cur->i++) {
            int o = (w->tid + cur->pass) % nt, a = (int)((long)units[cur->i] * o / nt), len = (int)((long)units[cur->i] * (o + 1) / nt) - a, s;
            // own share: pieces of up to `chunk`, at most half of what is left (the last ones short, so that a
            // thread done early steals instead of waiting on them); others' shares: `steal` from the back
            _Atomic uint64_t *word = slot_word(w, cur->i * nt + o);
            int k = cur->pass ? tr_claim(word, len, steal, 1, &s) : tr_claim_part(word, len, chunk, 2, 0, &s);
            if (k > 0) {
                *range = cur->i, *start = a + s;
                return k;
            }
        }
    return 0;
}

void eng_team_end_phase(eng_worker *w) {
    w->ph++;
    eng_team_sync(w);
}
