// metrics.h: the run's metrics.jsonl, one JSON object per optimizer step:
//   {"step": 10, "loss": 2.71828183, "lr": 0.001, "tokens_per_s": 11883.2, "grad_norm": 0.53}
// plus "val_loss" on evaluation lines. Lines are flushed as they are written; a line cut short by a crash is
// skipped when the file is read back.
#ifndef TRIT_TRAIN_METRICS_H
#define TRIT_TRAIN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "common/check.h"

typedef struct {
    int64_t step;
    double loss, lr, tokens_per_s, grad_norm;
    double val_loss;     // valid when has_val
    int has_val;
} metrics_row;

// Opens path for appending. keep_until < 0 starts a new file; otherwise lines with step > keep_until (left by
// a run that went on past the checkpoint being resumed) are dropped first (rewritten atomically).
int metrics_open(FILE **out, const char *path, int64_t keep_until, tr_err *err);
// Appends one line and flushes. Returns -1 (err names path) when the write fails.
int metrics_append(FILE *f, const metrics_row *r, const char *path, tr_err *err);
// Reads every well-formed line (rows: free it). A missing file is an error.
int metrics_read(const char *path, metrics_row **rows, int *n, tr_err *err);

#endif
