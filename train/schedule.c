// schedule.c: learning-rate and weight-decay schedules.
#include "train/schedule.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"constant", "cosine", "linear", "bitnet"};

int sched_parse(const char *name, sched_type *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, names[i])) {
            *out = (sched_type)i;
            return 0;
        }
    return -1;
}

const char *sched_name(sched_type t) { return (unsigned)t < 4 ? names[t] : "?"; }

// From peak at step `from` down to min_lr at step `to` (held at min_lr after), linear or cosine.
static double decay(sched_type shape, double peak, double min_lr, int64_t from, int64_t to, int64_t step) {
    if (step >= to || to <= from) return step >= to ? min_lr : peak;
    double r = (double)(step - from) / (double)(to - from);
    if (shape == SCHED_COSINE) return min_lr + 0.5 * (1.0 + cos(M_PI * r)) * (peak - min_lr);
    return peak + (min_lr - peak) * r;
}

int64_t sched_stage2(const sched *s) {
    return s->type == SCHED_BITNET ? (int64_t)llround(s->stage2_start * (double)s->steps) : s->steps;
}

double sched_lr(const sched *s, int64_t step) {
    int64_t s2 = sched_stage2(s);
    if (s->type == SCHED_BITNET && step >= s2) return decay(s->decay, s->lr_stage2, s->min_lr, s2, s->steps, step);
    if (step < s->warmup) return s->lr * (double)(step + 1) / (double)(s->warmup + 1);
    switch (s->type) {
    case SCHED_CONSTANT: return s->lr;
    case SCHED_COSINE: case SCHED_LINEAR: return decay(s->type, s->lr, s->min_lr, s->warmup, s->steps, step);
    default: return decay(s->decay, s->lr, s->min_lr, s->warmup, s->steps, step);
    }
}

double sched_wd(const sched *s, int64_t step) {
    return s->type == SCHED_BITNET && step >= sched_stage2(s) ? 0.0 : s->weight_decay;
}
