// checkpoint.h: training checkpoints (HDF5): model weights via model/h5_io, plus the AdamW moments, the step,
// the trainer RNG, the loader state, the run config and the tokenizer, so a run resumes bit-exactly and a
// checkpoint is self-contained for `trit sample` and export.
//
// Layout (docs/formats.md "HDF5 checkpoints"), on top of h5_io's root attributes, /model and /tokenizer:
//   /optim               attrs t (int64, AdamW steps taken)
//   /optim/m/<hf name>   f32, the first moment, same shape as /model/<hf name>
//   /optim/v/<hf name>   f32, the second moment
//   /train               attrs step (int64), tokens (uint64[1]), data_seed (uint64[1]), data_step (uint64[1]),
//                        rng_state (uint64[4], xoshiro256**), run_config (the run config JSON text)
//   / (root)             attr step (int64), a copy for a quick look
//
// Writes go to PATH.tmp, are flushed and fsync'ed, then renamed over PATH, so a crash never leaves a broken
// checkpoint under its final name. In a run folder, ckpt_STEP.h5 (STEP zero-padded to 6 digits) is written
// and latest.h5, a symbolic link to it, is swapped atomically (link to a temporary name, then rename).
//
// Fault injection for tests: when the environment variable TRIT_FAULT_KILL_CKPT is set to a step number,
// the writer of that step's checkpoint kills its own process with SIGKILL halfway through the temporary file
// (after /model is written and flushed, before /optim), as a power cut or `kill -9` would.
#ifndef TRIT_TRAIN_CHECKPOINT_H
#define TRIT_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "common/check.h"
#include "common/rng.h"
#include "model/bitnet.h"
#include "train/optim.h"

typedef struct {
    int64_t step;          // optimizer steps completed
    uint64_t tokens;       // training tokens consumed
    uint64_t data_seed;    // loader state: training batch i is dl_batch(train, data_seed, i, ...)
    uint64_t data_step;    // training batches drawn so far
    rng rng;               // the trainer's RNG (random validation batches)
} ckpt_state;

// Writes a checkpoint to path (atomically). tokenizer_json may be NULL (no /tokenizer group).
int ckpt_write(const char *path, const bn_model *m, const opt_adamw *o, const ckpt_state *s, const char *run_config,
               const char *tokenizer_json, tr_err *err);

// Reads the model (allocated here, with gradients), the training state and, when tokenizer_json is not NULL,
// the tokenizer text (NULL when the checkpoint has none). A weights-only file (no /train) is refused.
int ckpt_read(const char *path, bn_model *m, ckpt_state *s, char **tokenizer_json, tr_err *err);
// Reads the moments into o, which must be opt_init'ed for m; checks that o->t matches.
int ckpt_read_optim(const char *path, opt_adamw *o, const bn_model *m, tr_err *err);

// In run folder dir: writes dir/ckpt_STEP.h5, points dir/latest.h5 at it, removes leftover *.h5.tmp files
// and all but the newest `keep` checkpoints (keep 0: keep all). The written path goes to written (cap bytes).
int ckpt_save_in(const char *dir, int keep, const bn_model *m, const opt_adamw *o, const ckpt_state *s,
                 const char *run_config, const char *tokenizer_json, char *written, size_t cap, tr_err *err);

// The checkpoint a path names: a folder means its latest.h5; a file is itself. Returns a new string.
char *ckpt_resolve(const char *path);

#endif
