// loop.h: the training loop of `trit train`: batches from the loader, forward/backward with gradient
// accumulation, global-norm clipping, AdamW with scheduled lr / weight decay, evaluation, checkpoints,
// metrics.jsonl, a progress line and the loss plot.
//
// In the run folder (out_dir): ckpt_STEP.h5 and latest.h5 (train/checkpoint.h), metrics.jsonl
// (train/metrics.h), loss.svg (train/plot.h). Evaluation (every eval_every steps and after the last step)
// runs with gradients disabled over the whole validation split when it has at most eval_batches * batch_size
// windows of seq_len + 1 tokens, else over eval_batches random batches drawn with the trainer's RNG.
// A resumed run continues bit-exactly: same thread count, same config => the same weights and losses.
#ifndef TRIT_TRAIN_LOOP_H
#define TRIT_TRAIN_LOOP_H

#include <signal.h>
#include <stdint.h>

#include "common/check.h"
#include "train/run_config.h"

typedef struct {
    const char *resume;                 // checkpoint file or run folder (its latest.h5), or NULL
    int quiet;                          // no progress output
    volatile sig_atomic_t *stop;        // when set to nonzero (e.g. by SIGINT), checkpoint and stop; may be NULL
    int64_t stop_after;                 // > 0: checkpoint and stop after this step (resume later)
} train_opts;

typedef struct {
    int64_t first_step, step;           // steps done before this run and at its end
    double loss, val_loss;              // last training loss and last validation loss (when has_val)
    int has_val;
    double tokens_per_s, seconds;       // training throughput (evaluation excluded) and wall time of this run
    int stopped;                        // stopped early (*opts->stop or stop_after)
    char ckpt[4200];                    // the last checkpoint written
} train_result;

// Runs the training described by c (fresh, or resumed from opts->resume). Fresh runs refuse an out_dir that
// already holds a run (latest.h5). Errors: -1 with a one-line message naming the file and the problem.
int train_run(const runcfg *c, const train_opts *opts, train_result *res, tr_err *err);

#endif
