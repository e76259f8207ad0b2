// test_tokenizer_gguf.c: tokenizers through GGUF metadata (data/tokenizer_gguf.c). The Llama 3 tokenizer
// and a trained one are written as tokenizer.ggml.* keys, read back, and must encode the golden texts and
// random text exactly as the tokenizer.json they came from; a foreign file without trit's keys reads the
// way llama.cpp does; bad metadata gets a one-line error naming the file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/rng.h"
#include "data/bpe_train.h"
#include "data/tokenizer.h"
#include "harness.h"

// Texts: the golden strings plus random printable and random byte strings.
static char **texts;
static size_t *lens;
static int n_texts;

static void load_texts(void) {
    tr_err err;
    cJSON *root = json_load("tests/golden/llama3-tokenizer/golden_ids.json", &err);
    if (!t_check(root != NULL, "golden texts load", "%s", err.msg)) return;
    int n = cJSON_GetArraySize(root);
    texts = calloc((size_t)n + 200, sizeof(char *));
    lens = calloc((size_t)n + 200, sizeof(size_t));
    for (const cJSON *c = root->child; c; c = c->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");
        texts[n_texts] = strdup(t->valuestring);
        lens[n_texts++] = strlen(t->valuestring);
    }
    cJSON_Delete(root);
    rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < 200; i++) {
        size_t len = 1 + rng_below(&r, 120);
        char *s = malloc(len + 1);
        for (size_t k = 0; k < len; k++) s[k] = i % 2 ? (char)(32 + rng_below(&r, 95)) : (char)(1 + rng_below(&r, 255));
        s[len] = 0;
        texts[n_texts] = s;
        lens[n_texts++] = len;
    }
}

static int same_encoding(const tok_tokenizer *a, const tok_tokenizer *b, int *first_bad) {
    for (int i = 0; i < n_texts; i++) {
        tok_ids x = {0}, y = {0};
        tok_encode(a, texts[i], lens[i], &x);
        tok_encode(b, texts[i], lens[i], &y);
        int same = x.n == y.n && (x.n == 0 || !memcmp(x.ids, y.ids, x.n * sizeof(int32_t)));
        tok_ids_free(&x);
        tok_ids_free(&y);
        if (!same) {
            *first_bad = i;
            return 0;
        }
    }
    return 1;
}

// Writes t's metadata (plus general.architecture) to NAME.gguf in t_tmpdir(), optionally without trit's keys.
static const char *write_gguf(const tok_tokenizer *t, const char *name, int trit_keys, const char *pre_override) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s.gguf", t_tmpdir(), name);
    gguf_writer *w = gguf_writer_init();
    gguf_set_str(w, "general.architecture", "bitnet");
    tok_write_gguf(t, w, 1);
    if (pre_override) gguf_set_str(w, "tokenizer.ggml.pre", pre_override);
    if (!trit_keys) {   // rebuild without the two trit keys: copy every other key from a first file
        tr_err err;
        char p2[600];
        snprintf(p2, sizeof(p2), "%s.full", path);
        gguf_writer_write(w, p2, &err);
        gguf_writer_free(w);
        gguf_file *f = NULL;
        gguf_open(&f, p2, &err);
        w = gguf_writer_init();
        for (int i = 0; i < gguf_n_kv(f); i++) {
            const gguf_kv *kv = gguf_kv_at(f, i);
            if (strncmp(kv->key, "tokenizer.trit.", 15)) gguf_set_val(w, kv->key, &kv->val);
        }
        gguf_writer_write(w, path, &err);
        gguf_writer_free(w);
        gguf_close(f);
        return path;
    }
    tr_err err;
    if (gguf_writer_write(w, path, &err)) printf("# %s\n", err.msg);
    gguf_writer_free(w);
    return path;
}

static tok_tokenizer *read_gguf(const char *path, tr_err *err) {
    gguf_file *f = NULL;
    if (gguf_open(&f, path, err)) return NULL;
    tok_tokenizer *t = NULL;
    tok_load_gguf(&t, f, err);
    gguf_close(f);
    return t;
}

static void round_trip(const char *label, const tok_tokenizer *t, int trit_keys) {
    tr_err err = {{0}};
    char name[128];
    snprintf(name, sizeof(name), "%s round trip%s", label, trit_keys ? "" : " (without trit keys, as llama.cpp reads it)");
    tok_tokenizer *u = read_gguf(write_gguf(t, label, trit_keys, NULL), &err);
    if (!t_check(u != NULL, name, "%s", err.msg)) return;
    int bad = -1;
    int ok = tok_vocab_size(u) == tok_vocab_size(t) && tok_bos(u) == tok_bos(t) && tok_eos(u) == tok_eos(t) &&
             tok_n_merges(u) == tok_n_merges(t);
    for (int i = 0; ok && i < tok_vocab_size(t); i++) {
        const char *a = tok_token_str(t, i), *b = tok_token_str(u, i);
        ok = (!a && !b) || (a && b && !strcmp(a, b) && tok_token_type(t, i) == tok_token_type(u, i));
    }
    const char *ta = tok_chat_template(t), *tb = tok_chat_template(u);
    ok = ok && ((!ta && !tb) || (ta && tb && !strcmp(ta, tb)));
    char what[300];
    snprintf(what, sizeof(what), "%s: same vocabulary, types, bos/eos, merges, chat template", name);
    t_check(ok, what, "differ (%d vs %d tokens)", tok_vocab_size(u), tok_vocab_size(t));
    snprintf(what, sizeof(what), "%s: same ids on %d texts", name, n_texts);
    t_check(same_encoding(t, u, &bad), what, "text %d encodes differently", bad);
    tok_free(u);
}

static void expect_error(const char *name, const tok_tokenizer *t, const char *key, const char *value, const char *want) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.gguf", t_tmpdir(), name);
    gguf_writer *w = gguf_writer_init();
    tok_write_gguf(t, w, 0);
    if (!strcmp(key, "token_type")) {
        int32_t one = 1;
        gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_VAL_INT32, &one, 1);
    } else if (!strcmp(key, "eos")) {
        gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 1u << 30);
    } else {
        gguf_set_str(w, key, value);
    }
    tr_err err = {{0}};
    gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    tok_tokenizer *u = read_gguf(path, &err);
    t_check(!u && strstr(err.msg, name) && strstr(err.msg, want), name, "got '%s'", u ? "(loaded)" : err.msg);
    tok_free(u);
}

int main(void) {
    load_texts();
    char path[4096];
    tr_err err = {{0}};
    tok_tokenizer *llama = NULL;
    if (t_check(tok_path(path, sizeof(path), "llama3", &err) == 0 && tok_load(&llama, path, &err) == 0, "llama3 loads",
                "%s", err.msg)) {
        round_trip("llama3", llama, 1);
        round_trip("llama3-foreign", llama, 0);
    }
    // A trained tokenizer (no ignore_merges, its own specials).
    bpe_trainer *bt = bpe_trainer_init();
    const char *corpus = "data/corpus/tinyshakespeare.txt";
    tok_tokenizer *trained = NULL;
    const char *tj = t_tmp("trained.json");
    if (t_check(bpe_trainer_add_files(bt, &corpus, 1, 0, &err) == 0 && (bpe_train(bt, 600), 1) &&
                    bpe_write(bt, tj, &err) == 0 && tok_load(&trained, tj, &err) == 0,
                "trained tokenizer", "%s", err.msg)) {
        round_trip("trained", trained, 1);
        expect_error("bad-model", trained, "tokenizer.ggml.model", "llama", "tokenizer.ggml.model is 'llama'");
        tok_tokenizer *u = read_gguf(write_gguf(trained, "bad-pre", 0, "falcon"), &err);
        t_check(!u && strstr(err.msg, "bad-pre.gguf: tokenizer.ggml.pre 'falcon'"), "bad-pre", "got '%s'", u ? "(loaded)" : err.msg);
        tok_free(u);
        expect_error("bad-types", trained, "token_type", NULL, "token_type has 1 entries");
        expect_error("bad-eos", trained, "eos", NULL, "eos_token_id");
    }
    bpe_trainer_free(bt);
    tok_free(trained);
    tok_free(llama);
    for (int i = 0; i < n_texts; i++) free(texts[i]);
    free(texts), free(lens);
    return t_done();
}
