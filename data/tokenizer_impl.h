// tokenizer_impl.h: private to data/tokenizer*.c and data/bpe_train.c. Hash maps, UTF-8 and byte-level
// helpers, the pre-tokenizer (Split / ByteLevel steps run with PCRE2), and the tokenizer struct itself.
// Nothing outside data/ includes this file; the public interface is data/tokenizer.h.
#ifndef TRIT_DATA_TOKENIZER_IMPL_H
#define TRIT_DATA_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "data/tokenizer.h"

// ---- hash maps (tokenizer_map.c) ----

uint64_t tok_hash(const void *key, size_t len);

// Byte strings -> int32. Keys are copied (NUL-terminated) into the map's pool; entries keep insertion
// order, so entry i is the i-th distinct key added.
typedef struct {
    uint64_t *slot;      // (cap) 0 = empty, else (hash high 32 bits << 32) | (entry index + 1)
    size_t cap;          // power of two
    uint32_t *off, *len; // (n) key of entry i = pool + off[i], len[i] bytes
    int32_t *val;        // (n)
    size_t n, ncap;
    char *pool;
    size_t pool_len, pool_cap;
} tok_strmap;
void tok_strmap_free(tok_strmap *m);
long tok_strmap_find(const tok_strmap *m, const void *key, size_t len);   // entry index or -1
// Entry index of key, adding it with value val when absent (*added tells which).
size_t tok_strmap_add(tok_strmap *m, const void *key, size_t len, int32_t val, int *added);
static inline const char *tok_strmap_key(const tok_strmap *m, size_t i) { return m->pool + m->off[i]; }
static inline int32_t tok_strmap_get(const tok_strmap *m, const void *key, size_t len) {
    long i = tok_strmap_find(m, key, len);
    return i < 0 ? -1 : m->val[i];
}

// uint64 -> uint64 (key UINT64_MAX is reserved).
typedef struct {
    uint64_t *kv;   // (2 * cap) key, value pairs; key UINT64_MAX = empty
    size_t cap, n;
} tok_u64map;
void tok_u64map_free(tok_u64map *m);
uint64_t *tok_u64map_find(const tok_u64map *m, uint64_t key);   // pointer to the value or NULL
uint64_t *tok_u64map_put(tok_u64map *m, uint64_t key, uint64_t init, int *added);
static inline uint64_t tok_pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

// ---- UTF-8 and the byte-level alphabet (tokenizer_text.c) ----

// Length of the valid UTF-8 character at s[0..n) (1..4), or 0 when s[0] does not start one
// (bad lead byte, bad continuation, overlong form, surrogate, above U+10FFFF, truncated).
int tok_utf8_len(const uint8_t *s, size_t n);
// Code point of a valid character at s (tok_utf8_len(s) > 0).
uint32_t tok_utf8_decode(const uint8_t *s, int len);
int tok_utf8_encode(uint32_t cp, char *out);   // 1..4 bytes
// GPT-2's bytes_to_unicode: the code point standing for byte b, and back (-1 when cp stands for no byte).
uint32_t tok_byte_char(uint8_t b);
int tok_char_byte(uint32_t cp);
int tok_is_space(uint32_t cp);   // Unicode White_Space (Rust's \s, Oniguruma's \s)

// ---- pre-tokenizer (tokenizer_text.c) ----

typedef struct { const char *p; size_t n; } tok_span;
typedef struct { tok_span *v; size_t n, cap; } tok_spans;
void tok_spans_push(tok_spans *s, const char *p, size_t n);

enum { TOK_REMOVED, TOK_ISOLATED, TOK_MERGED_PREV, TOK_MERGED_NEXT, TOK_CONTIGUOUS };

typedef struct {
    pcre2_code *re;      // NULL: no split (a ByteLevel step with use_regex false)
    char *pattern;       // as written in tokenizer.json
    int behavior, invert, prefix_space;
} tok_prestep;

typedef struct {
    tok_prestep *steps;
    int n;
} tok_pretok;

#define TOK_GPT2_REGEX "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define TOK_LLAMA3_REGEX                                                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

// Adds a Split step (literal: the pattern is a plain string) or a ByteLevel step (regex: GPT-2's or none).
// Errors ("PATH: pre_tokenizer regex '...' does not compile: ...") name path.
int tok_pretok_add_split(tok_pretok *pt, const char *pattern, int literal, int behavior, int invert, const char *path,
                         tr_err *err);
void tok_pretok_add_bytelevel(tok_pretok *pt, int add_prefix_space, int use_regex);
void tok_pretok_free(tok_pretok *pt);

// Per-call scratch for splitting (one per thread; zero-initialize, free with tok_split_free).
typedef struct {
    pcre2_match_data *md;
    tok_spans a;         // pieces of one regex split
    tok_spans b, c;      // ping-pong lists between steps
    char *buf;           // copies with a prefix space
    size_t buf_len, buf_cap;
    int *flags;          // match flags of the pieces of one split
    size_t flags_cap;
} tok_split_work;
void tok_split_free(tok_split_work *w);
// Pre-tokens of text[0..len) appended to out (pointing into text or w->buf, valid until the next call
// with w): maximal valid UTF-8 runs go through the steps; each byte of invalid UTF-8 is a pre-token of its own.
void tok_pretok_split(const tok_pretok *pt, const char *text, size_t len, tok_split_work *w, tok_spans *out);

// ---- the tokenizer (tokenizer.c loads it, tokenizer_encode.c runs it) ----

typedef struct {
    char *content;
    size_t len;
    int32_t id;
    uint8_t special, single_word, lstrip, rstrip, normalized;
} tok_added;

// A byte trie over added-token contents, for leftmost-longest matching.
typedef struct {
    int32_t root[256];                  // child node of the root per byte, -1 none
    struct tok_trie_node { int32_t first_child, next_sibling, added; uint8_t byte; } *nodes;
    int n_nodes, cap;
} tok_trie;

struct tok_tokenizer {
    char *path;
    int n_ids;                 // largest id + 1
    tok_strmap vocab;          // model.vocab, vocab form -> id
    tok_strmap raw;            // model.vocab tokens made only of byte-level characters, raw bytes -> id
    int32_t *vocab_entry;      // (n_ids) entry index in vocab, -1 for none
    const char **dec;          // (n_ids) bytes a token decodes to (NULL for a hole)
    uint32_t *dec_len;         // (n_ids)
    char *dec_pool;            // storage for dec strings that are not in raw's pool
    int32_t byte_id[256];      // id of the one-byte token of each byte, -1 when absent
    tok_u64map merges;         // (left << 32 | right) -> (rank << 32 | merged id)
    char *merge_pool;          // "a b" strings in rank order
    uint32_t *merge_off;       // (n_merges)
    int n_merges;
    tok_added *added;
    int n_added;
    int32_t *added_of_id;      // (n_ids) index into added, -1 for none
    tok_strmap added_map;      // content -> index into added
    tok_trie trie[2];          // [0] added tokens matched in the raw text, [1] the "normalized" ones
    pcre2_code *word_re;       // Rust's \w, for single_word added tokens
    tok_pretok pretok;
    const char *regex;         // the first Split regex (for GGUF), or GPT-2's when ByteLevel splits
    int ignore_merges, fuse_unk;
    int32_t unk_id;
    int32_t bos, eos;
    char *chat_template;
};

// bos, eos and the chat template from the file, its post_processor and (with_config) tokenizer_config.json
// beside it.
int tok_load_meta(tok_tokenizer *t, const cJSON *root, int with_config, tr_err *err);   // tokenizer_meta.c
// A tokenizer from a parsed tokenizer.json (path names it in messages; read_config: look for
// tokenizer_config.json beside path). tok_load is json_load + this.
int tok_load_root(tok_tokenizer **out, const cJSON *root, const char *path, int read_config, tr_err *err);

#endif
