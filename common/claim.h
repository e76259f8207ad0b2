// claim.h: lock-free claiming of work from both ends of a range, for work stealing between threads.
//
// A range of len units is one 64-bit word: units taken from its back << 32 | units taken from its front,
// zero at the start. The owner takes pieces from the front (a long sequential run); helpers take pieces
// from the back, so the two meet without overlapping.
#ifndef TRIT_CLAIM_H
#define TRIT_CLAIM_H

#include <stdatomic.h>
#include <stdint.h>

// Takes up to `want` units of the range at r (len units), from its front or its back: returns the count (0 when
// the range is used up) and the first unit in *start. With parts > 1, a piece is also at most 1 / parts of what
// is left (rounded up): the owner's pieces shrink as the range runs out, so a helper that comes to steal finds
// work instead of waiting on the owner's last long piece.
static inline int tr_claim_part(_Atomic uint64_t *r, int len, int want, int parts, int from_back, int *start) {
    uint64_t v = atomic_load_explicit(r, memory_order_relaxed);
    for (;;) {
        int front = (int)(v & 0xffffffffu), back = (int)(v >> 32), left = len - front - back;
        if (left <= 0) return 0;
        int k = want < left ? want : left;
        if (parts > 1 && k > (left + parts - 1) / parts) k = (left + parts - 1) / parts;
        uint64_t nv = from_back ? v + ((uint64_t)k << 32) : v + (uint64_t)k;
        if (atomic_compare_exchange_weak_explicit(r, &v, nv, memory_order_relaxed, memory_order_relaxed)) {
            *start = from_back ? len - back - k : front;
            return k;
        }
    }
}

static inline int tr_claim(_Atomic uint64_t *r, int len, int want, int from_back, int *start) {
    return tr_claim_part(r, len, want, 1, from_back, start);
}

#endif
