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
// A single file is read whatever its name (a .tzst must hold the split asked for); in a folder, .tzst
// shards must form the whole split (indices 0..n-1, contiguous). .bin: llm.c files start with a 256 x
// int32 header (magic 20240520 version 1: uint16 tokens; magic 20240801 version 7: uint32 tokens);
// files without it are raw nanoGPT uint16 tokens, accepted only under the names train.bin / val.bin.
int dl_open(dl_loader **out, const char *path, const char *split, tr_err *err);
// Whether a folder holds any file of the split (a .tzst shard or a .bin by the names above); 1 for a file.
int dl_has_split(const char *path, const char *split);
// path read as raw little-endian uint16 tokens without a header whatever its name (nanoGPT prepare.py).
int dl_open_raw(dl_loader **out, const char *path, tr_err *err);
void dl_close(dl_loader *l);   // accepts NULL

size_t dl_num_tokens(const dl_loader *l);
int dl_max_token(const dl_loader *l);   // largest id in the split (to check against the vocabulary)
int32_t dl_token(const dl_loader *l, size_t i);
int dl_vocab_size(const dl_loader *l);  // from the shard headers; -1 for .bin files (unknown)
int dl_eos(const dl_loader *l);         // the EOS id between documents; -1 for .bin files (unknown)

// inputs, targets: (B, T). targets[b][t] = inputs[b][t + 1 of the window]. Needs dl_num_tokens > T.
// Window b starts at dl_window_start(seed, step, rank, b, dl_num_tokens - T): splitmix64 chained over
// the four values, mapped onto [0, n_starts) by a 64x64->128-bit multiply (docs/data.md).
uint64_t dl_window_start(uint64_t seed, uint64_t step, int rank, int b, size_t n_starts);
void dl_batch(const dl_loader *l, uint64_t seed, uint64_t step, int rank, int B, int T, int32_t *inputs, int32_t *targets);

// Sequential windows for evaluating the whole split: window i is tokens [i*T, i*T + T] (T + 1 tokens),
// so the inputs of consecutive windows do not overlap and every token after the first is a target
// exactly once. dl_num_windows = (dl_num_tokens - 1) / T whole windows.
size_t dl_num_windows(const dl_loader *l, int T);
void dl_window(const dl_loader *l, size_t i, int T, int32_t *inputs, int32_t *targets);

#endif
