// test_shard_build.c: the shard builder end to end in-process: the shards hold exactly the documents'
// tokens (each encoded whole) joined by EOS and split by the documented rule; pieces of long documents
// encode exactly as the whole; the bytes do not depend on the thread count; shard boundaries, counts,
// the manifest, and replacing an earlier run's shards.
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "data/bpe_train.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/textsrc.h"
#include "data/tokenizer.h"
#include "harness.h"

// The expected stream: every document (textsrc) encoded whole, EOS between; ends[] as in shard.h.
static tok_ids expected_stream(const tok_tokenizer *tok, const char *const *paths, int n, int per_file, size_t **ends,
                               size_t *n_docs) {
    tok_ids all = {0};
    ts_reader *r = NULL;
    tr_err err;
    *n_docs = 0;
    *ends = NULL;
    if (ts_open(&r, paths, n, per_file, &err)) return all;
    ts_batch b = {0};
    size_t cap = 0;
    while (ts_next(r, &b, 1 << 20, &err) > 0)
        for (size_t i = 0; i < b.n; i++) {
            if (*n_docs) tok_ids_push(&all, tok_eos(tok));
            tok_encode(tok, b.docs[i].text, b.docs[i].len, &all);
            if (*n_docs == cap) *ends = realloc(*ends, (cap = cap ? 2 * cap : 1024) * sizeof(size_t));
            (*ends)[(*n_docs)++] = all.n;
        }
    ts_batch_free(&b);
    ts_close(r);
    return all;
}

static int split_equals(const char *out, const char *split, const int32_t *want, size_t n) {
    dl_loader *l = NULL;
    tr_err err = {{0}};
    if (dl_open(&l, out, split, &err)) {
        printf("# %s\n", err.msg);
        return n == 0;
    }
    int ok = dl_num_tokens(l) == n;
    for (size_t i = 0; ok && i < n; i++) ok = dl_token(l, i) == want[i];
    if (!ok) printf("# %s: %zu tokens, want %zu\n", split, dl_num_tokens(l), n);
    dl_close(l);
    return ok;
}

static int files_equal(const char *a, const char *b) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
    return system(cmd) == 0;
}

// Builds `out` from the inputs and checks it against the whole-document encoding.
static void check_build(const char *name, const tok_tokenizer *tok, const char *const *in, int n, int per_file, double f,
                        size_t shard_tokens, size_t piece, const char *out, size_t min_pieces) {
    shard_build_opts o = {.out_dir = out, .val_fraction = f, .shard_tokens = shard_tokens, .doc_per_file = per_file,
                          .quiet = 1, .piece_bytes = piece};
    shard_build_stats st;
    tr_err err = {{0}};
    if (shard_build(tok, in, n, &o, &st, &err) != 0) {
        t_check(0, name, "build: %s", err.msg);
        return;
    }
    size_t *ends, n_docs;
    tok_ids all = expected_stream(tok, in, n, per_file, &ends, &n_docs);
    shard_split sp;
    shard_compute_split(&sp, ends, n_docs, f);
    int ok = split_equals(out, "train", all.ids, sp.train_end) && split_equals(out, "val", all.ids + sp.val_begin, all.n - sp.val_begin);
    ok = ok && st.tokens[0] == sp.train_end && st.tokens[1] == all.n - sp.val_begin && st.docs[0] == sp.train_docs &&
         st.docs[1] == sp.val_docs;
    size_t per = shard_tokens ? shard_tokens : SHARD_DEFAULT_TOKENS;
    ok = ok && st.shards[0] == (sp.train_end + per - 1) / per && st.shards[1] == (all.n - sp.val_begin + per - 1) / per;
    // header document counts add up to the split's, and the manifest agrees
    size_t docs[2] = {0, 0};
    for (int k = 0; k < 2 && ok; k++)
        for (uint32_t i = 0; i < st.shards[k]; i++) {
            char fname[300];
            snprintf(fname, sizeof(fname), "%s/%s_%06u.tzst", out, shard_split_name((uint32_t)k), i);
            shard_info info;
            ok = ok && shard_read_info(fname, &info, &err) == 0 && info.vocab_size == (uint32_t)tok_vocab_size(tok) &&
                 info.eos == tok_eos(tok) && info.n_tokens == (i + 1 < st.shards[k] ? per : info.n_tokens);
            docs[k] += info.n_docs;
        }
    ok = ok && docs[0] == sp.train_docs && docs[1] == sp.val_docs;
    char mpath[300];
    snprintf(mpath, sizeof(mpath), "%s/shards.json", out);
    cJSON *m = json_load(mpath, &err);
    const cJSON *tr = cJSON_GetObjectItem(m, "train"), *va = cJSON_GetObjectItem(m, "val");
    ok = ok && m && cJSON_GetObjectItem(tr, "tokens")->valuedouble == (double)sp.train_end &&
         cJSON_GetObjectItem(va, "documents")->valuedouble == (double)sp.val_docs &&
         cJSON_GetArraySize(cJSON_GetObjectItem(tr, "shards")) == (int)st.shards[0] &&
         cJSON_GetObjectItem(m, "eos")->valueint == tok_eos(tok);
    cJSON_Delete(m);
    t_check(ok && st.pieces >= min_pieces, name, "%zu pieces (want >= %zu); shards differ from the whole-document encoding (%zu documents, %zu tokens): %s", st.pieces,
            min_pieces, n_docs, all.n, err.msg);
    tok_ids_free(&all);
    free(ends);
}

static void run_suite(const char *label, const tok_tokenizer *tok) {
    char name[200], out[200], out2[200];
    const char *shk[1] = {"data/corpus/tinyshakespeare.txt"};
    const char *mix[3] = {"data/corpus/tinystories_sample.txt", t_tmp("docs.jsonl"), t_tmp("small.txt")};

    snprintf(name, sizeof(name), "%s: tinyshakespeare as one document, 90/10 inside it", label);
    snprintf(out, sizeof(out), "%s/%s-shk", t_tmpdir(), label);
    check_build(name, tok, shk, 1, 1, 0.1, 0, 0, out, 1);

    // many pieces: cuts every ~2 KB must give the whole document's ids
    snprintf(name, sizeof(name), "%s: a long document tokenized in pieces equals the whole", label);
    snprintf(out2, sizeof(out2), "%s/%s-shk-pieces", t_tmpdir(), label);
    check_build(name, tok, shk, 1, 1, 0.1, 0, 2000, out2, 400);
    snprintf(name, sizeof(name), "%s: pieces give byte-identical shards", label);
    char a[300], b[300];
    snprintf(a, sizeof(a), "%s/train_000000.tzst", out);
    snprintf(b, sizeof(b), "%s/train_000000.tzst", out2);
    t_check(files_equal(a, b), name, "%s and %s differ", a, b);

    snprintf(name, sizeof(name), "%s: text + jsonl inputs, whole-document split, several shards", label);
    snprintf(out, sizeof(out), "%s/%s-mix", t_tmpdir(), label);
    check_build(name, tok, mix, 3, 0, 0.2, 20000, 0, out, 4000);

    // the thread count does not change a byte
    omp_set_num_threads(1);
    snprintf(out2, sizeof(out2), "%s/%s-mix-1thread", t_tmpdir(), label);
    shard_build_opts o = {.out_dir = out2, .val_fraction = 0.2, .shard_tokens = 20000, .quiet = 1, .piece_bytes = 3000};
    shard_build_stats st;
    tr_err err = {{0}};
    int ok = shard_build(tok, mix, 3, &o, &st, &err) == 0;
    omp_set_num_threads(2);
    for (int k = 0; k < 2 && ok; k++)
        for (uint32_t i = 0; i < st.shards[k]; i++) {
            snprintf(a, sizeof(a), "%s/%s_%06u.tzst", out, shard_split_name((uint32_t)k), i);
            snprintf(b, sizeof(b), "%s/%s_%06u.tzst", out2, shard_split_name((uint32_t)k), i);
            ok = ok && files_equal(a, b);
        }
    snprintf(name, sizeof(name), "%s: 1 and 2 threads write identical shards", label);
    t_check(ok && st.shards[0] > 1, name, "%s", err.msg);

    // a second run with fewer shards into the same folder replaces the first run's shards
    o = (shard_build_opts){.out_dir = out, .val_fraction = 0.2, .quiet = 1};
    ok = shard_build(tok, mix, 3, &o, &st, &err) == 0;
    snprintf(a, sizeof(a), "%s/train_000001.tzst", out);
    dl_loader *l = NULL;
    ok = ok && access(a, F_OK) != 0 && dl_open(&l, out, "train", &err) == 0 && dl_num_tokens(l) == st.tokens[0];
    dl_close(l);
    snprintf(name, sizeof(name), "%s: rebuilding into a folder drops the old run's extra shards", label);
    t_check(ok && st.shards[0] == 1, name, "%s", err.msg);
}

static void write_text(const char *path, const char *s) { t_write_file(path, s, strlen(s)); }

int main(void) {
    omp_set_num_threads(2);
    write_text(t_tmp("docs.jsonl"), "{\"text\": \"First JSON document.\\nTwo lines.\"}\n\n{\"text\": \"caf\\u00e9 \\ud83d\\ude00 <|end_of_text|> x\"}\n"
                                  "{\"text\": \"third\", \"id\": 7}\n");
    write_text(t_tmp("small.txt"), "A last small text document.\n\nAnd one more, the very last.\n");

    // a BPE trained here on the corpus (600 tokens), and the Llama 3 tokenizer from `make deps`
    bpe_trainer *bt = bpe_trainer_init();
    const char *corpus[1] = {"data/corpus/tinyshakespeare.txt"};
    tr_err err = {{0}};
    tok_tokenizer *tok = NULL;
    int ok = bpe_trainer_add_files(bt, corpus, 1, 0, &err) == 0;
    if (ok) {
        bpe_train(bt, 600);
        ok = bpe_write(bt, t_tmp("bpe600.json"), &err) == 0 && tok_load(&tok, t_tmp("bpe600.json"), &err) == 0;
    }
    bpe_trainer_free(bt);
    if (t_check(ok, "train a 600-token BPE for the tests", "%s", err.msg)) run_suite("bpe600", tok);
    tok_free(tok);

    char path[4096];
    tok = NULL;
    ok = tok_path(path, sizeof(path), "llama3", &err) == 0 && tok_load(&tok, path, &err) == 0;
    if (t_check(ok, "load the Llama 3 tokenizer (make deps installs it)", "%s", err.msg)) run_suite("llama3", tok);
    tok_free(tok);
    return t_done();
}
