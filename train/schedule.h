// schedule.h: learning-rate and weight-decay schedules, as pure functions of the optimizer step.
//
// `step` is the 0-based index of the update about to be taken (0 .. steps-1). Warmup (all types but
// bitnet's second stage): lr * (step + 1) / (warmup + 1) for step < warmup (nanoGPT's rule). Then:
//   constant  lr
//   cosine    min_lr + (lr - min_lr) * (1 + cos(pi * r)) / 2, r = (step - warmup) / (steps - warmup)
//   linear    lr + (min_lr - lr) * r
//   bitnet    the two-stage schedule of "The Era of 1-bit LLMs: Training Tips": stage 1 (step < stage2)
//             decays from lr toward min_lr over [warmup, steps]; at stage2 = round(stage2_start * steps) the
//             rate is cut to the lower peak lr_stage2, which decays to min_lr over [stage2, steps]. Both
//             stages use `decay` (linear, as in the paper, or cosine, as in the 2B4T report). Weight decay
//             is weight_decay in stage 1 and 0 in stage 2.
// Every other type keeps weight decay constant.
#ifndef TRIT_TRAIN_SCHEDULE_H
#define TRIT_TRAIN_SCHEDULE_H

#include <stdint.h>

typedef enum { SCHED_CONSTANT, SCHED_COSINE, SCHED_LINEAR, SCHED_BITNET } sched_type;

typedef struct {
    sched_type type;
    sched_type decay;        // bitnet: the shape of each stage's decay (SCHED_LINEAR or SCHED_COSINE)
    double lr, min_lr, lr_stage2, stage2_start, weight_decay;
    int64_t warmup, steps;
} sched;

double sched_lr(const sched *s, int64_t step);
double sched_wd(const sched *s, int64_t step);
// First step of bitnet's stage 2 (steps for other types).
int64_t sched_stage2(const sched *s);
// "constant", "cosine", "linear", "bitnet" -> type; -1 when unknown.
int sched_parse(const char *name, sched_type *out);
const char *sched_name(sched_type t);

#endif
