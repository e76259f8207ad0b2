// tokenizer_gguf.c: a byte-level BPE tokenizer <-> the tokenizer.ggml.* metadata of a GGUF file (llama.cpp's
// keys), so that a GGUF is self-contained and trit reads the tokenizers of GGUFs that others wrote.
//
// Written keys: tokenizer.ggml.model "gpt2"; .pre "llama-bpe" (the Llama 3 regex), "gpt2" (GPT-2's) or
// "default"; .tokens (vocab form, "[PAD<id>]" for holes in the id space); .token_type (1 normal, 3 control,
// 4 user-defined, 5 unused); .merges ("a b" in rank order); .bos/.eos_token_id, .padding_token_id
// (<|pad|>), .add_bos_token; tokenizer.chat_template. Two trit keys make the round trip exact whatever
// the regex: tokenizer.trit.pre_regex (the Split regex) and tokenizer.trit.ignore_merges.
// Reading rebuilds the tokenizer.json that these keys describe and loads it with tok_load_root, so every
// check of tokenizer.c applies; without the trit keys, .pre picks the regex and llama-bpe implies
// ignore_merges, as llama.cpp does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"

static const char *pre_name(const char *regex) {
    if (regex && !strcmp(regex, TOK_LLAMA3_REGEX)) return "llama-bpe";
    if (regex && !strcmp(regex, TOK_GPT2_REGEX)) return "gpt2";
    return "default";
}

void tok_write_gguf(const tok_tokenizer *t, gguf_writer *w, int add_bos) {
    int n = t->n_ids;
    const char **tokens = tr_malloc(sizeof(char *) * (size_t)n);
    char **holes = tr_calloc((size_t)n, sizeof(char *));
    int32_t *types = tr_malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int ty = tok_token_type(t, i);
        types[i] = ty;
        tokens[i] = tok_token_str(t, i);
        if (!tokens[i]) {
            holes[i] = tr_malloc(32);
            snprintf(holes[i], 32, "[PAD%d]", i);
            tokens[i] = holes[i];
        }
    }
    const char **merges = tr_malloc(sizeof(char *) * (size_t)(t->n_merges + 1));
    for (int i = 0; i < t->n_merges; i++) merges[i] = tok_merge(t, i);
    gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_set_str(w, "tokenizer.ggml.pre", pre_name(t->regex));
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", tokens, (size_t)n);
    gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_VAL_INT32, types, (size_t)n);
    gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, (size_t)t->n_merges);
    if (t->bos >= 0) gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)t->bos);
    if (t->eos >= 0) gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)t->eos);
    int pad = tok_find(t, "<|pad|>");
    if (pad >= 0) gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)pad);
    gguf_set_bool(w, "tokenizer.ggml.add_bos_token", add_bos && t->bos >= 0);
    if (t->chat_template) gguf_set_str(w, "tokenizer.chat_template", t->chat_template);
    if (t->regex) gguf_set_str(w, "tokenizer.trit.pre_regex", t->regex);
    gguf_set_bool(w, "tokenizer.trit.ignore_merges", t->ignore_merges);
    for (int i = 0; i < n; i++) free(holes[i]);
    free(holes), free(tokens), free(types), free(merges);
}

// The pre_tokenizer object of a tokenizer.json for a Split regex (NULL: ByteLevel with GPT-2's regex).
static cJSON *pretokenizer_json(const char *regex) {
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddBoolToObject(bl, "add_prefix_space", 0);
    cJSON_AddBoolToObject(bl, "trim_offsets", 1);
    cJSON_AddBoolToObject(bl, "use_regex", regex == NULL);
    if (!regex) return bl;
    cJSON *split = cJSON_CreateObject(), *pat = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON_AddStringToObject(pat, "Regex", regex);
    cJSON_AddItemToObject(split, "pattern", pat);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddBoolToObject(split, "invert", 0);
    cJSON *seq = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(seq, "type", "Sequence");
    cJSON_AddItemToArray(list, split);
    cJSON_AddItemToArray(list, bl);
    cJSON_AddItemToObject(seq, "pretokenizers", list);
    return seq;
}

// The tokenizer.json equivalent of the metadata, or NULL with err set.
static cJSON *json_of_gguf(const gguf_file *g, int *bos, int *eos, const char **tmpl, tr_err *err) {
    const char *path = gguf_path(g), *model = NULL, *pre = "default", *regex = NULL;
    const gguf_value *tokens, *types = NULL, *merges = NULL;
    if (gguf_get_str(g, "tokenizer.ggml.model", &model, err)) return NULL;
    if (strcmp(model, "gpt2")) {
        tr_fail(err, "%s: tokenizer.ggml.model is '%s'; trit reads byte-level BPE ('gpt2') tokenizers only", path, model);
        return NULL;
    }
    if (gguf_opt_str(g, "tokenizer.ggml.pre", &pre, err) || gguf_opt_str(g, "tokenizer.trit.pre_regex", &regex, err) ||
        gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_VAL_STRING, &tokens, err))
        return NULL;
    if (gguf_find(g, "tokenizer.ggml.token_type") &&
        gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_VAL_COUNT, &types, err))
        return NULL;
    if (gguf_find(g, "tokenizer.ggml.merges") && gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_VAL_STRING, &merges, err))
        return NULL;
    if (types && types->arr.n != tokens->arr.n) {
        tr_fail(err, "%s: tokenizer.ggml.token_type has %llu entries for %llu tokens", path,
                (unsigned long long)types->arr.n, (unsigned long long)tokens->arr.n);
        return NULL;
    }
    int ignore_merges = !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3");
    const gguf_value *im = gguf_find(g, "tokenizer.trit.ignore_merges");
    if (im && gguf_get_bool(g, "tokenizer.trit.ignore_merges", &ignore_merges, err)) return NULL;
    if (!regex) {
        if (!strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3")) regex = TOK_LLAMA3_REGEX;
        else if (strcmp(pre, "gpt2") && strcmp(pre, "default")) {
            tr_fail(err, "%s: tokenizer.ggml.pre '%s' is not one trit knows (llama-bpe, gpt2, default)", path, pre);
            return NULL;
        }
    }
    uint32_t u;
    *bos = *eos = -1;
    if (gguf_find(g, "tokenizer.ggml.bos_token_id")) {
        if (gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &u, err)) return NULL;
        *bos = (int)u;
    }
    if (gguf_find(g, "tokenizer.ggml.eos_token_id")) {
        if (gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &u, err)) return NULL;
        *eos = (int)u;
    }
    *tmpl = NULL;
    if (gguf_opt_str(g, "tokenizer.chat_template", tmpl, err)) return NULL;

    cJSON *root = cJSON_CreateObject(), *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *m = cJSON_AddObjectToObject(root, "model"), *vocab = cJSON_CreateObject(), *mlist = cJSON_CreateArray();
    cJSON_AddStringToObject(m, "type", "BPE");
    cJSON_AddBoolToObject(m, "ignore_merges", ignore_merges);
    for (uint64_t i = 0; i < tokens->arr.n; i++) {
        const char *s = gguf_arr_str(tokens, i)->s;
        int64_t ty = types ? gguf_arr_int(types, i) : 1;
        if (ty == 5) continue;   // unused: a hole in the id space
        if (ty == 3 || ty == 4) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", s);
            cJSON_AddBoolToObject(a, "single_word", 0);
            cJSON_AddBoolToObject(a, "lstrip", 0);
            cJSON_AddBoolToObject(a, "rstrip", 0);
            cJSON_AddBoolToObject(a, "normalized", ty == 4);
            cJSON_AddBoolToObject(a, "special", ty == 3);
            cJSON_AddItemToArray(added, a);
        } else {
            cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber((double)i));
        }
    }
    for (uint64_t i = 0; merges && i < merges->arr.n; i++)
        cJSON_AddItemToArray(mlist, cJSON_CreateString(gguf_arr_str(merges, i)->s));
    cJSON_AddItemToObject(m, "vocab", vocab);
    cJSON_AddItemToObject(m, "merges", mlist);
    cJSON_AddItemToObject(root, "pre_tokenizer", pretokenizer_json(regex));
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    return root;
}

int tok_load_gguf(tok_tokenizer **out, const gguf_file *g, tr_err *err) {
    *out = NULL;
    int bos, eos;
    const char *tmpl;
    cJSON *root = json_of_gguf(g, &bos, &eos, &tmpl, err);
    if (!root) return -1;
    int rc = tok_load_root(out, root, gguf_path(g), 0, err);
    cJSON_Delete(root);
    if (rc) return -1;
    tok_tokenizer *t = *out;
    int n = t->n_ids;
    if (bos >= n || eos >= n) {
        tok_free(t);
        *out = NULL;
        return tr_fail(err, "%s: tokenizer.ggml.%s_token_id %d is outside the %d tokens", gguf_path(g),
                       bos >= n ? "bos" : "eos", bos >= n ? bos : eos, n);
    }
    if (bos >= 0) t->bos = bos;
    if (eos >= 0) t->eos = eos;
    free(t->chat_template);
    t->chat_template = tmpl ? tr_strdup(tmpl) : NULL;
    return 0;
}
