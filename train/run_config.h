// run_config.h: the run config of `trit train` (a JSON file; keys in docs/training.md).
//
// Every key is type- and range-checked, unknown keys are refused (keys starting with "_" are comments), and
// each error is one line naming the file and the key. Relative paths in the file (model, data, tokenizer,
// out_dir) are relative to the folder of the config file.
#ifndef TRIT_TRAIN_RUN_CONFIG_H
#define TRIT_TRAIN_RUN_CONFIG_H

#include <stdint.h>

#include "common/check.h"
#include "model/config.h"
#include "train/schedule.h"

typedef struct {
    char *path;                 // the config file
    char *text;                 // its text, stored in checkpoints
    bn_config model;            // "model": a config.json path or an inline object
    char *model_src;            // where the model config came from (for messages)
    char *data;                 // shard folder / file, or llm.c .bin
    char *tokenizer;            // tokenizer.json, or NULL
    char *out_dir;
    int batch_size, seq_len, grad_accum;
    int64_t steps;
    sched sched;                // lr, schedule type and its parameters, weight_decay
    double beta1, beta2, eps, clip, init_std;
    int decay_norms, decay_embeddings;
    uint64_t seed;
    int threads;                // 0: OpenMP's default
    int eval_every, eval_batches, ckpt_every, keep_checkpoints;
} runcfg;

// Loads and validates path. out_dir (may be NULL) overrides the file's "out_dir" (which is then optional).
int runcfg_load(runcfg *c, const char *path, const char *out_dir, tr_err *err);
void runcfg_free(runcfg *c);   // accepts NULL or zeroed

#endif
