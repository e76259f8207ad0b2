// loader.h: random training windows from token shards (trit zstd shards or llm.c / nanoGPT .bin).
//
// A loader holds one split (train or val) of a dataset: every token of that split in one contiguous
// in-memory stream (uint16 or uint32 ids). A batch is B windows of T+1 consecutive tokens; window b of
// step s starts at a position that is a pure function of (seed, step, rank, b), so a run is
// deterministic and its exact position in the stream is (seed, step): that pair is the loader state a
// checkpoint stores. Reading never modifies the loader, so one loader serves many threads.
#ifndef TRIT_DATA_LOADER_H
#define TRIT_DATA_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"

typedef struct dl_loader dl_loader;

// path: a folder written by `trit shard` (its train_*.tzst / val_*.tzst shards), one shard file, or an
// llm.c / nanoGPT uint16 .bin (a file, or a folder of *_train_*.bin / *_val_*.bin or train.bin / val.bin).
// split: "train" or "val". Errors name the file and the problem (bad magic, checksum, truncation).
int dl_open(dl_loader **out, const char *path, const char *split, tr_err *err);
void dl_close(dl_loader *l);   // accepts NULL

size_t dl_num_tokens(const dl_loader *l);
int dl_max_token(const dl_loader *l);   // largest id in the split (to check against the vocabulary)
int32_t dl_token(const dl_loader *l, size_t i);

// inputs, targets: (B, T). targets[b][t] = inputs[b][t + 1 of the window]. Needs dl_num_tokens > T.
void dl_batch(const dl_loader *l, uint64_t seed, uint64_t step, int rank, int B, int T, int32_t *inputs, int32_t *targets);

// Number of whole non-overlapping windows of T+1 tokens (for evaluating the whole split) and window i.
size_t dl_num_windows(const dl_loader *l, int T);
void dl_window(const dl_loader *l, size_t i, int T, int32_t *inputs, int32_t *targets);

#endif
