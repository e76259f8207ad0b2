// shard.h: trit token shards (.tzst) and the shard builder (`trit shard`).
//
// A shard is one slice of a split's token stream: an 80-byte little-endian header (magic "TRITSHRD",
// version, token width, split, vocab size, EOS id, shard index and count, token and document counts,
// offset of its first token in the split, FNV-1a-64 checksum of the uncompressed tokens, compressed
// size), then one zstd frame holding the tokens as little-endian uint16 (width 2, vocabularies up to
// 65536 ids) or uint32 (width 4). The exact layout is in docs/formats.md.
//
// The builder turns text documents into a folder train_000000.tzst ..., val_000000.tzst ... plus
// shards.json (a manifest for humans): each split is its documents' tokens with EOS between consecutive
// documents; the split rule is in docs/data.md and shard_split below.
#ifndef TRIT_DATA_SHARD_H
#define TRIT_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "data/tokenizer.h"

#define SHARD_MAGIC "TRITSHRD"
#define SHARD_VERSION 1
#define SHARD_HEADER_SIZE 80
#define SHARD_DEFAULT_TOKENS 100000000u   // tokens per shard unless told otherwise
#define SHARD_FNV_INIT 0xcbf29ce484222325ull

typedef enum { SHARD_TRAIN = 0, SHARD_VAL = 1 } shard_split_id;

typedef struct {
    uint32_t version;       // SHARD_VERSION
    uint32_t width;         // bytes per token: 2 or 4
    uint32_t split;         // SHARD_TRAIN or SHARD_VAL
    uint32_t vocab_size;    // every id is < vocab_size
    int32_t eos;            // the EOS id written between documents
    uint32_t index;         // this shard's number within its split, 0-based
    uint32_t n_shards;      // number of shards in the split
    uint64_t n_tokens;      // tokens in this shard (> 0)
    uint64_t n_docs;        // documents (or document parts) that start in this shard
    uint64_t first_token;   // position of this shard's first token in the split's stream
    uint64_t checksum;      // FNV-1a-64 of the n_tokens * width uncompressed bytes
    uint64_t zsize;         // bytes of the zstd frame after the header
} shard_info;

const char *shard_split_name(uint32_t split);   // "train", "val"
// The shard number in a file name "SPLIT_NNNNNN.tzst" (any number of digits), or -1 for other names.
long shard_name_index(const char *name, const char *split);
uint32_t shard_width_for(int vocab_size);       // 2 when every id fits 16 bits, else 4

// FNV-1a-64 over n bytes, continuing from h (start with SHARD_FNV_INIT).
uint64_t shard_fnv1a64(uint64_t h, const void *data, size_t n);

// Writes one shard to path (a temporary name in the same folder, then renamed): info supplies version,
// width, split, vocab_size, eos, index, n_shards, n_tokens, n_docs and first_token; the checksum and
// zsize are computed (and stored back into *info). tokens: n_tokens ids at info->width bytes each.
int shard_write(const char *path, shard_info *info, const void *tokens, int zstd_level, tr_err *err);

// Reads and validates a header: magic, version, width, split, vocab, counts, and the file size against
// zsize (truncation). Errors: "PATH: not a trit shard (bad magic)", "PATH: truncated: ...", ...
int shard_read_info(const char *path, shard_info *info, tr_err *err);

// Decompresses the tokens of a shard whose header is `expect` (as read by shard_read_info) into dst
// (expect->n_tokens * expect->width bytes), checking the header again, the decompressed size, the
// checksum and that every id is < vocab_size. *max_id gets the largest id (may be NULL).
int shard_read_tokens(const char *path, const shard_info *expect, void *dst, uint32_t *max_id, tr_err *err);

// ---- the builder ----

// Where the split between train and val falls. docs_end[i]: end of document i in the stream of all
// documents joined by EOS (document i spans [start_i, docs_end[i]) and start_{i+1} = docs_end[i] + 1);
// n_tokens = docs_end[n_docs - 1]. The cut is c = floor(n_tokens * (1 - val_fraction)); val starts at
// the first document that starts at or after c, whole; when c falls inside the last document (a
// single document, say) that document is split at c. The EOS between the last train document and the
// first val document belongs to neither. Outputs: train = [0, train_end), val = [val_begin, n_tokens),
// and the number of documents (or parts) in each.
typedef struct {
    size_t train_end, val_begin;
    size_t train_docs, val_docs;
} shard_split;
void shard_compute_split(shard_split *out, const size_t *docs_end, size_t n_docs, double val_fraction);

typedef struct {
    const char *out_dir;          // created if missing
    const char *tokenizer_path;   // recorded in shards.json with its FNV-1a-64
    double val_fraction;          // in [0, 1); 0 writes no val split
    size_t shard_tokens;          // tokens per shard (0: SHARD_DEFAULT_TOKENS)
    int doc_per_file;             // .txt: each file is one document (else blank lines separate)
    int zstd_level;               // 0: 3
    int quiet;                    // no progress line
    size_t piece_bytes;           // 0: 1 MB; documents longer than this are tokenized in pieces (tests set it small)
} shard_build_opts;

typedef struct {
    size_t bytes_in;                  // text bytes tokenized
    size_t tokens[2], docs[2];        // per split (train, val)
    uint32_t shards[2];
    size_t pieces;                    // texts tokenized separately (documents, or pieces of long ones)
    double seconds;
} shard_build_stats;

// Tokenizes the inputs (.jsonl: one {"text": ...} per line; other files: text) on OpenMP threads, and
// writes the shards and shards.json into opts->out_dir. The output does not depend on the thread count.
// On error nothing is left in out_dir (shards are staged in a temporary folder and moved at the end).
int shard_build(const tok_tokenizer *tok, const char *const *inputs, int n_inputs, const shard_build_opts *opts,
                shard_build_stats *stats, tr_err *err);

#endif
