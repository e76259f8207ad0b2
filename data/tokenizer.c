// tokenizer.c: loading a Hugging Face tokenizer.json (byte-level BPE): model.vocab and model.merges,
// added_tokens, the pre-tokenizer; validation with errors that name the file. Encoding and decoding
// are in tokenizer_encode.c; bos/eos, the chat template and the accessors in tokenizer_meta.c.
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "data/tokenizer_impl.h"

void tok_ids_push(tok_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->ids = tr_realloc(v->ids, v->cap * sizeof(int32_t));
    }
    v->ids[v->n++] = id;
}

void tok_ids_free(tok_ids *v) {
    if (!v) return;
    free(v->ids);
    memset(v, 0, sizeof(*v));
}

void tok_free(tok_tokenizer *t) {
    if (!t) return;
    free(t->path);
    tok_strmap_free(&t->vocab);
    tok_strmap_free(&t->raw);
    free(t->vocab_entry);
    free(t->dec);
    free(t->dec_len);
    tok_u64map_free(&t->merges);
    free(t->merge_pool);
    free(t->merge_off);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->added_of_id);
    tok_strmap_free(&t->added_map);
    for (int k = 0; k < 2; k++) free(t->trie[k].nodes);
    pcre2_code_free(t->word_re);
    tok_pretok_free(&t->pretok);
    free(t->chat_template);
    free(t);
}

static const char *type_of(const cJSON *v) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(v, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

static int is_null(const cJSON *v) { return !v || cJSON_IsNull(v); }

// ---- model.vocab ----

static int load_vocab(tok_tokenizer *t, const cJSON *vocab, int *max_id, const char *path, tr_err *err) {
    if (!cJSON_IsObject(vocab))
        return tr_fail(err, "%s: model.vocab is missing (a BPE tokenizer.json has model.vocab and model.merges)", path);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(d >= 0 && d < 2147483647.0 && d == (double)(int32_t)d))
            return tr_fail(err, "%s: model.vocab['%.100s'] must be a non-negative integer id", path, e->string);
        int added;
        tok_strmap_add(&t->vocab, e->string, strlen(e->string), (int32_t)d, &added);
        if (!added) return tr_fail(err, "%s: token '%.100s' appears twice in model.vocab", path, e->string);
        if ((int)d > *max_id) *max_id = (int)d;
    }
    return 0;
}

// vocab_entry (id -> vocab entry), the raw-bytes map of byte-level tokens, and the one-byte tokens.
static int index_vocab(tok_tokenizer *t, const char *path, tr_err *err) {
    t->vocab_entry = tr_malloc((size_t)t->n_ids * sizeof(int32_t));
    for (int i = 0; i < t->n_ids; i++) t->vocab_entry[i] = -1;
    char *bytes = tr_malloc(1024);
    size_t cap = 1024;
    for (size_t e = 0; e < t->vocab.n; e++) {
        int32_t id = t->vocab.val[e];
        if (t->vocab_entry[id] >= 0)
            return free(bytes), tr_fail(err, "%s: model.vocab gives id %d to both '%.100s' and '%.100s'", path, id,
                                        tok_strmap_key(&t->vocab, (size_t)t->vocab_entry[id]), tok_strmap_key(&t->vocab, e));
        t->vocab_entry[id] = (int32_t)e;
        const uint8_t *s = (const uint8_t *)tok_strmap_key(&t->vocab, e);
        size_t n = t->vocab.len[e], k = 0;
        if (n > cap) bytes = tr_realloc(bytes, cap = n);
        int ok = 1;
        for (size_t i = 0; i < n && ok;) {
            int l = tok_utf8_len(s + i, n - i), b = l ? tok_char_byte(tok_utf8_decode(s + i, l)) : -1;
            if (b < 0) ok = 0;
            else bytes[k++] = (char)b;
            i += (size_t)(l ? l : 1);
        }
        if (ok && n) tok_strmap_add(&t->raw, bytes, k, id, NULL);   // a bijection: no two tokens collide
    }
    free(bytes);
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = tok_strmap_get(&t->raw, &c, 1);
    }
    return 0;
}

// ---- model.merges ----

static int load_merges(tok_tokenizer *t, const cJSON *merges, const char *path, tr_err *err) {
    if (!cJSON_IsArray(merges)) return tr_fail(err, "%s: model.merges is missing or not a list", path);
    int n = cJSON_GetArraySize(merges), i = 0;
    size_t pool_cap = 4096, pool_len = 0, cat_cap = 256;
    t->merge_pool = tr_malloc(pool_cap);
    t->merge_off = tr_malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    char *cat = tr_malloc(cat_cap);
    for (const cJSON *m = merges->child; m; m = m->next, i++) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(m)) {   // "a b": exactly one space, as Hugging Face requires
            const char *sp = strchr(m->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == m->valuestring || !sp[1])
                return free(cat), tr_fail(err, "%s: merge %d '%.200s' is not two tokens separated by one space", path, i,
                                          m->valuestring);
            a = m->valuestring, la = (size_t)(sp - a), b = sp + 1, lb = strlen(b);
        } else if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
            a = m->child->valuestring, la = strlen(a), b = m->child->next->valuestring, lb = strlen(b);
        } else return free(cat), tr_fail(err, "%s: merge %d must be a string \"a b\" or a pair [\"a\", \"b\"]", path, i);
        int32_t ia = tok_strmap_get(&t->vocab, a, la), ib = tok_strmap_get(&t->vocab, b, lb);
        if (ia < 0 || ib < 0)
            return free(cat), tr_fail(err, "%s: merge %d '%.*s %.*s' names a token that is not in the vocabulary ('%.*s')",
                                      path, i, (int)la, a, (int)lb, b, ia < 0 ? (int)la : (int)lb, ia < 0 ? a : b);
        if (la + lb + 2 > cat_cap) cat = tr_realloc(cat, cat_cap = 2 * (la + lb + 2));
        memcpy(cat, a, la);
        memcpy(cat + la, b, lb);
        int32_t ic = tok_strmap_get(&t->vocab, cat, la + lb);
        if (ic < 0)
            return free(cat), tr_fail(err, "%s: merge %d '%.*s %.*s': the merged token '%.*s%.*s' is not in the vocabulary",
                                      path, i, (int)la, a, (int)lb, b, (int)la, a, (int)lb, b);
        // A repeated pair takes the later rank, as Hugging Face's merge map does.
        *tok_u64map_put(&t->merges, tok_pair_key(ia, ib), 0, NULL) = (uint64_t)i << 32 | (uint32_t)ic;
        if (pool_len + la + lb + 2 > pool_cap) {
            while (pool_len + la + lb + 2 > pool_cap) pool_cap *= 2;
            t->merge_pool = tr_realloc(t->merge_pool, pool_cap);
        }
        CHECK(pool_len < UINT32_MAX, "merges over 4 GiB");
        t->merge_off[i] = (uint32_t)pool_len;
        memcpy(t->merge_pool + pool_len, a, la);
        t->merge_pool[pool_len + la] = ' ';
        memcpy(t->merge_pool + pool_len + la + 1, b, lb);
        t->merge_pool[pool_len + la + 1 + lb] = '\0';
        pool_len += la + lb + 2;
    }
    t->n_merges = n;
    free(cat);
    return 0;
}

// ---- added_tokens ----

static void trie_add(tok_trie *tr, const char *s, size_t n, int32_t added) {
    if (!tr->nodes)
        for (int b = 0; b < 256; b++) tr->root[b] = -1;
    int32_t node = -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t child = node < 0 ? tr->root[b] : tr->nodes[node].first_child;
        if (node >= 0)
            while (child >= 0 && tr->nodes[child].byte != b) child = tr->nodes[child].next_sibling;
        if (child < 0) {
            if (tr->n_nodes == tr->cap) tr->nodes = tr_realloc(tr->nodes, (size_t)(tr->cap = tr->cap ? 2 * tr->cap : 256) * sizeof(*tr->nodes));
            child = tr->n_nodes++;
            tr->nodes[child] = (struct tok_trie_node){-1, -1, -1, b};
            if (node < 0) tr->root[b] = child;
            else {
                tr->nodes[child].next_sibling = tr->nodes[node].first_child;
                tr->nodes[node].first_child = child;
            }
        }
        node = child;
    }
    tr->nodes[node].added = added;
}

static int opt_flag(const cJSON *o, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int load_added(tok_tokenizer *t, const cJSON *list, int *max_id, const char *path, tr_err *err) {
    if (is_null(list)) return 0;
    if (!cJSON_IsArray(list)) return tr_fail(err, "%s: added_tokens must be a list", path);
    t->added = tr_calloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(tok_added));
    int i = 0;
    for (const cJSON *o = list->child; o; o = o->next, i++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *c = cJSON_GetObjectItemCaseSensitive(o, "content");
        double d = cJSON_IsNumber(id) ? id->valuedouble : -1;
        if (!(d >= 0 && d < 2147483647.0 && d == (double)(int32_t)d) || !cJSON_IsString(c) || !c->valuestring[0])
            return tr_fail(err, "%s: added_tokens[%d] needs an integer \"id\" >= 0 and a non-empty \"content\"", path, i);
        tok_added *a = &t->added[t->n_added];
        a->content = tr_strdup(c->valuestring);
        a->len = strlen(a->content);
        a->id = (int32_t)d;
        a->special = (uint8_t)opt_flag(o, "special", 0);
        a->single_word = (uint8_t)opt_flag(o, "single_word", 0);
        a->lstrip = (uint8_t)opt_flag(o, "lstrip", 0);
        a->rstrip = (uint8_t)opt_flag(o, "rstrip", 0);
        a->normalized = (uint8_t)opt_flag(o, "normalized", !a->special);
        t->n_added++;
        int fresh;
        tok_strmap_add(&t->added_map, a->content, a->len, t->n_added - 1, &fresh);
        if (!fresh) return tr_fail(err, "%s: added token '%.100s' appears twice in added_tokens", path, a->content);
        if (a->id > *max_id) *max_id = a->id;
    }
    return 0;
}

static int index_added(tok_tokenizer *t, const char *path, tr_err *err) {
    t->added_of_id = tr_malloc((size_t)t->n_ids * sizeof(int32_t));
    for (int i = 0; i < t->n_ids; i++) t->added_of_id[i] = -1;
    int need_word = 0;
    for (int i = 0; i < t->n_added; i++) {
        const tok_added *a = &t->added[i];
        if (t->added_of_id[a->id] >= 0)
            return tr_fail(err, "%s: added_tokens gives id %d to both '%.100s' and '%.100s'", path, a->id,
                           t->added[t->added_of_id[a->id]].content, a->content);
        t->added_of_id[a->id] = i;
        trie_add(&t->trie[a->normalized], a->content, a->len, i);
        need_word |= a->single_word;
    }
    if (need_word) {   // Rust regex's \w: Alphabetic, marks, decimal digits, connector punctuation, joiners
        int code;
        PCRE2_SIZE at;
        t->word_re = pcre2_compile((PCRE2_SPTR) "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]", PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &code, &at, NULL);
        CHECK(t->word_re, "word class regex");
    }
    return 0;
}

// ---- normalizer, pre_tokenizer, decoder ----

static int load_pretok_one(tok_tokenizer *t, const cJSON *p, int *bytelevel, const char *path, tr_err *err) {
    const char *ty = type_of(p);
    if (!ty) return tr_fail(err, "%s: pre_tokenizer without a \"type\"", path);
    if (*bytelevel) return tr_fail(err, "%s: pre_tokenizer step '%s' after ByteLevel is not supported", path, ty);
    if (!strcmp(ty, "ByteLevel")) {
        *bytelevel = 1;
        tok_pretok_add_bytelevel(&t->pretok, opt_flag(p, "add_prefix_space", 1), opt_flag(p, "use_regex", 1));
        if (!t->regex && t->pretok.steps[t->pretok.n - 1].re) t->regex = t->pretok.steps[t->pretok.n - 1].pattern;
        return 0;
    }
    if (strcmp(ty, "Split"))
        return tr_fail(err, "%s: pre_tokenizer type '%s' is not supported (byte-level BPE: Split and ByteLevel)", path, ty);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern"), *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex"),
                *str = cJSON_GetObjectItemCaseSensitive(pat, "String"), *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
    if (!cJSON_IsString(re) && !cJSON_IsString(str))
        return tr_fail(err, "%s: Split pre_tokenizer needs a pattern {\"Regex\": ...} or {\"String\": ...}", path);
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    int b = -1;
    for (int k = 0; k < 5; k++)
        if (cJSON_IsString(beh) && !strcmp(beh->valuestring, names[k])) b = k;
    if (b < 0) return tr_fail(err, "%s: Split pre_tokenizer has an unknown behavior", path);
    int literal = !cJSON_IsString(re);
    if (tok_pretok_add_split(&t->pretok, literal ? str->valuestring : re->valuestring, literal, b, opt_flag(p, "invert", 0),
                             path, err))
        return -1;
    if (!t->regex && !literal) t->regex = t->pretok.steps[t->pretok.n - 1].pattern;
    return 0;
}

static int load_pipeline(tok_tokenizer *t, const cJSON *root, const char *path, tr_err *err) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!is_null(norm)) {
        const char *ty = type_of(norm);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
        if (!ty || strcmp(ty, "Sequence") || cJSON_GetArraySize(list) != 0)
            return tr_fail(err, "%s: normalizer '%s' is not supported (byte-level BPE files have none)", path, ty ? ty : "?");
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    int bytelevel = 0;
    if (!is_null(pre) && type_of(pre) && !strcmp(type_of(pre), "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        for (const cJSON *p = cJSON_IsArray(list) ? list->child : NULL; p; p = p->next)
            if (load_pretok_one(t, p, &bytelevel, path, err)) return -1;
    } else if (!is_null(pre) && load_pretok_one(t, pre, &bytelevel, path, err)) return -1;
    if (!bytelevel) return tr_fail(err, "%s: pre_tokenizer has no ByteLevel step: trit reads byte-level BPE only", path);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (!is_null(dec) && (!type_of(dec) || strcmp(type_of(dec), "ByteLevel")))
        return tr_fail(err, "%s: decoder '%s' is not supported (byte-level BPE decodes with ByteLevel)", path,
                       type_of(dec) ? type_of(dec) : "?");
    return 0;
}

static int load_model_flags(tok_tokenizer *t, const cJSON *model, const char *path, tr_err *err) {
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (!is_null(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
        return tr_fail(err, "%s: model.dropout is not supported (use null)", path);
    if (opt_flag(model, "byte_fallback", 0)) return tr_fail(err, "%s: model.byte_fallback is not supported", path);
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, affix[k]);
        if (!is_null(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
            return tr_fail(err, "%s: model.%s is not supported (byte-level BPE has none)", path, affix[k]);
    }
    t->ignore_merges = opt_flag(model, "ignore_merges", 0);
    t->fuse_unk = opt_flag(model, "fuse_unk", 0);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    t->unk_id = cJSON_IsString(unk) ? tok_strmap_get(&t->vocab, unk->valuestring, strlen(unk->valuestring)) : -1;
    return 0;
}

// What each id decodes to: byte-level tokens to their bytes, other vocab strings as they are (the
// ByteLevel decoder's fallback), added tokens to their content.
static void index_decode(tok_tokenizer *t) {
    t->dec = tr_calloc((size_t)t->n_ids, sizeof(char *));
    t->dec_len = tr_calloc((size_t)t->n_ids, sizeof(uint32_t));
    for (size_t e = 0; e < t->vocab.n; e++) {
        int32_t id = t->vocab.val[e];
        t->dec[id] = tok_strmap_key(&t->vocab, e);
        t->dec_len[id] = t->vocab.len[e];
    }
    for (size_t e = 0; e < t->raw.n; e++) {
        int32_t id = t->raw.val[e];
        t->dec[id] = tok_strmap_key(&t->raw, e);
        t->dec_len[id] = t->raw.len[e];
    }
    for (int i = 0; i < t->n_added; i++) {
        t->dec[t->added[i].id] = t->added[i].content;
        t->dec_len[t->added[i].id] = (uint32_t)t->added[i].len;
    }
}

int tok_load(tok_tokenizer **out, const char *path, tr_err *err) {
    *out = NULL;
    cJSON *root = json_load(path, err);
    if (!root) return -1;
    int rc = tok_load_root(out, root, path, 1, err);
    cJSON_Delete(root);
    return rc;
}

int tok_load_text(tok_tokenizer **out, const char *json, size_t len, const char *label, tr_err *err) {
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) return tr_fail(err, "%s: malformed JSON near byte %zu", label, end ? (size_t)(end - json) : (size_t)0);
    int rc = tok_load_root(out, root, label, 0, err);
    cJSON_Delete(root);
    return rc;
}

int tok_load_root(tok_tokenizer **out, const cJSON *root, const char *path, int read_config, tr_err *err) {
    *out = NULL;
    tok_tokenizer *t = tr_calloc(1, sizeof(*t));
    t->path = tr_strdup(path);
    t->bos = t->eos = t->unk_id = -1;
    int max_id = -1, rc = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) {
        tr_fail(err, "%s: key 'model' is missing (not a Hugging Face tokenizer.json?)", path);
        goto done;
    }
    const char *ty = type_of(model);
    if (ty && strcmp(ty, "BPE")) {
        tr_fail(err, "%s: model.type is '%s'; trit reads BPE tokenizers only", path, ty);
        goto done;
    }
    if (load_vocab(t, cJSON_GetObjectItemCaseSensitive(model, "vocab"), &max_id, path, err) ||
        load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), &max_id, path, err))
        goto done;
    t->n_ids = max_id + 1;
    if (index_vocab(t, path, err) || index_added(t, path, err) ||
        load_merges(t, cJSON_GetObjectItemCaseSensitive(model, "merges"), path, err) ||
        load_model_flags(t, model, path, err) || load_pipeline(t, root, path, err))
        goto done;
    index_decode(t);
    rc = tok_load_meta(t, root, read_config, err);
done:
    if (rc) tok_free(t);
    else *out = t;
    return rc;
}
