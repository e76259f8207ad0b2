// test_claim.c: common/claim.h, the two-ended work ranges of the engine's team and the BitLinear backward.
// Alone: the owner's pieces from the front (capped at `want` and, with parts, at a share of what is left),
// helpers' from the back, every unit handed out once. Under threads: owners and helpers racing on several
// ranges still hand out every unit exactly once.
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/claim.h"
#include "tests/harness.h"

int main(void) {
    // the owner alone, len 20, want 8, parts 2: 8 (20 left), 6 (12 left), 3, 2, 1
    _Atomic uint64_t r = 0;
    int got[8] = {0}, n = 0, start = -1, next = 0, k, in_order = 1;
    while ((k = tr_claim_part(&r, 20, 8, 2, 0, &start)) > 0 && n < 8) {
        in_order &= start == next;
        next = start + k;
        got[n++] = k;
    }
    t_check(in_order && n == 5 && got[0] == 8 && got[1] == 6 && got[2] == 3 && got[3] == 2 && got[4] == 1,
            "owner pieces of a 20-unit range, want 8, halves: 8 6 3 2 1 from the front", "%d pieces: %d %d %d %d %d", n, got[0], got[1],
            got[2], got[3], got[4]);

    // without parts the pieces stay at want; a helper from the back meets the owner without overlap
    atomic_store(&r, 0);
    int a = tr_claim(&r, 10, 4, 0, &start), s1 = start;
    int b = tr_claim(&r, 10, 3, 1, &start), s2 = start;
    int c = tr_claim(&r, 10, 4, 0, &start), s3 = start;
    int d = tr_claim(&r, 10, 4, 1, &start);
    t_check(a == 4 && s1 == 0 && b == 3 && s2 == 7 && c == 3 && s3 == 4 && d == 0, "front 4, back 3, front gets the 3 left between, then none",
            "%d@%d %d@%d %d@%d %d", a, s1, b, s2, c, s3, d);

    // racing: 4 threads, 6 ranges of 1..1000 units; thread t owns range t % 6 first (pieces of 16, parts 2),
    // then steals 1-3 units at a time from the back of every range; every unit is taken exactly once
    enum { R = 6 };
    static const int lens[R] = {1, 7, 64, 333, 1000, 129};
    static _Atomic int seen[R][1000];
    static _Atomic uint64_t ranges[R];
    int bad = 0;
    for (int rep = 0; rep < 50; rep++) {
        memset(seen, 0, sizeof(seen));
        for (int i = 0; i < R; i++) atomic_store(&ranges[i], 0);
        #pragma omp parallel num_threads(4)
        {
            int t = omp_get_thread_num(), s, kk;
            for (int own = t % R; own < R; own += 4)
                while ((kk = tr_claim_part(&ranges[own], lens[own], 16, 2, 0, &s)) > 0)
                    for (int u = s; u < s + kk; u++) atomic_fetch_add(&seen[own][u], 1);
            for (int i = 0; i < R; i++)
                while ((kk = tr_claim(&ranges[i], lens[i], 1 + (t + i) % 3, 1, &s)) > 0)
                    for (int u = s; u < s + kk; u++) atomic_fetch_add(&seen[i][u], 1);
        }
        for (int i = 0; i < R; i++)
            for (int u = 0; u < lens[i]; u++) bad += atomic_load(&seen[i][u]) != 1;
    }
    t_check(bad == 0, "4 threads racing owners and helpers over 6 ranges, 50 times: every unit taken exactly once", "%d units taken 0 or 2+ times",
            bad);
    return t_done();
}
