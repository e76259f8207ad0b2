// bpe_train.h: training a byte-level BPE tokenizer and writing it as a Hugging Face tokenizer.json.
//
// Text is pre-tokenized with the Llama 3 Split regex (invalid UTF-8 bytes are pre-tokens of their own)
// and each distinct pre-token is counted. Training starts from the 256 byte tokens (ids in GPT-2's
// byte-level order, as in GPT-2 and Llama 3: "!" is 0, "Ġ" (space) is 220) and repeatedly merges the most
// frequent adjacent pair, counting a pair once per occurrence in each pre-token times that pre-token's
// count; pair counts are updated incrementally from the words that hold the merged pair. Ties go to the
// pair with the smaller left id, then the smaller right id (Hugging Face's BpeTrainer order). A merge
// whose string already is a token adds no token, so the merges can outnumber the new tokens.
// The file written has the three special tokens <|begin_of_text|>, <|end_of_text|>, <|pad|> right after
// the last token (ids V, V+1, V+2 for a vocabulary of V tokens), and loads in Hugging Face tokenizers.
#ifndef TRIT_DATA_BPE_TRAIN_H
#define TRIT_DATA_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"

typedef struct bpe_trainer bpe_trainer;

bpe_trainer *bpe_trainer_init(void);
void bpe_trainer_free(bpe_trainer *b);   // accepts NULL

// Counts the pre-tokens of one document.
void bpe_trainer_add(bpe_trainer *b, const char *text, size_t len);
// Every document of the files, read as `trit shard` reads them (data/textsrc.h: .jsonl "text" fields;
// other files split at blank lines, or whole with doc_per_file). Errors name the file (and line).
int bpe_trainer_add_files(bpe_trainer *b, const char *const *paths, int n_paths, int doc_per_file, tr_err *err);

size_t bpe_n_pretokens(const bpe_trainer *b);   // pre-tokens counted
size_t bpe_n_words(const bpe_trainer *b);       // distinct ones

// Learns merges until there are `vocab` tokens (vocab >= 256) or no pair occurs any more. Call once.
void bpe_train(bpe_trainer *b, int vocab);
int bpe_vocab_size(const bpe_trainer *b);   // tokens learned so far (256 + new ones), specials excluded
int bpe_n_merges(const bpe_trainer *b);
// Merge i: left + right -> result (ids).
void bpe_merge(const bpe_trainer *b, int i, int32_t *left, int32_t *right, int32_t *result);
const char *bpe_token(const bpe_trainer *b, int32_t id, size_t *len);   // raw bytes of a token

// Writes the tokenizer.json (a temporary file renamed into place; nothing is left on error).
int bpe_write(const bpe_trainer *b, const char *path, tr_err *err);

#endif
