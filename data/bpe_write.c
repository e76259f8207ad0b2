// bpe_write.c: a trained byte-level BPE as a complete Hugging Face tokenizer.json (see bpe_train.h).
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/afile.h"
#include "data/bpe_train.h"
#include "data/tokenizer_impl.h"

static const char *specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"};

// Raw bytes in the byte-level alphabet (GPT-2's bytes_to_unicode), NUL-terminated.
static char *byte_level(const char *raw, size_t n) {
    char *s = tr_malloc(2 * n + 1), *o = s;
    for (size_t i = 0; i < n; i++) o += tok_utf8_encode(tok_byte_char((uint8_t)raw[i]), o);
    *o = '\0';
    return s;
}

static cJSON *token_string(const bpe_trainer *b, int32_t id) {
    size_t n;
    const char *raw = bpe_token(b, id, &n);
    char *s = byte_level(raw, n);
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

static cJSON *model_json(const bpe_trainer *b) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddNullToObject(m, "dropout");
    cJSON_AddNullToObject(m, "unk_token");
    cJSON_AddNullToObject(m, "continuing_subword_prefix");
    cJSON_AddNullToObject(m, "end_of_word_suffix");
    cJSON_AddFalseToObject(m, "fuse_unk");
    cJSON_AddFalseToObject(m, "byte_fallback");
    cJSON_AddFalseToObject(m, "ignore_merges");
    cJSON *vocab = cJSON_AddObjectToObject(m, "vocab");
    for (int32_t id = 0; id < bpe_vocab_size(b); id++) {
        cJSON *s = token_string(b, id);
        cJSON_AddNumberToObject(vocab, s->valuestring, id);
        cJSON_Delete(s);
    }
    cJSON *merges = cJSON_AddArrayToObject(m, "merges");
    for (int i = 0; i < bpe_n_merges(b); i++) {
        int32_t l, r, z;
        bpe_merge(b, i, &l, &r, &z);
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, token_string(b, l));
        cJSON_AddItemToArray(pair, token_string(b, r));
        cJSON_AddItemToArray(merges, pair);
    }
    return m;
}

static cJSON *tokenizer_json(const bpe_trainer *b) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int k = 0; k < 3; k++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", bpe_vocab_size(b) + k);
        cJSON_AddStringToObject(a, "content", specials[k]);
        cJSON_AddFalseToObject(a, "single_word");
        cJSON_AddFalseToObject(a, "lstrip");
        cJSON_AddFalseToObject(a, "rstrip");
        cJSON_AddFalseToObject(a, "normalized");
        cJSON_AddTrueToObject(a, "special");
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", TOK_LLAMA3_REGEX);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddFalseToObject(split, "invert");
    cJSON_AddItemToArray(steps, split);
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddTrueToObject(bl, "trim_offsets");
    cJSON_AddFalseToObject(bl, "use_regex");
    cJSON_AddItemToArray(steps, bl);
    cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    cJSON_AddTrueToObject(dec, "add_prefix_space");
    cJSON_AddTrueToObject(dec, "trim_offsets");
    cJSON_AddTrueToObject(dec, "use_regex");
    cJSON_AddItemToObject(root, "model", model_json(b));
    return root;
}

int bpe_write(const bpe_trainer *b, const char *path, tr_err *err) {
    cJSON *root = tokenizer_json(b);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    CHECK(text, "out of memory printing tokenizer.json");
    size_t n = strlen(text);
    text[n] = '\n';   // replaces the NUL: the file ends with a newline
    int rc = tr_write_file(path, text, n + 1, err);
    free(text);
    return rc;
}
