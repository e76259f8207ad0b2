// shard_build.c: text documents -> token stream (parallel, deterministic) -> train/val .tzst shards.
//
// Inputs are read in chunks of about CHUNK_BYTES of text; the documents of a chunk are tokenized on
// OpenMP threads (a document longer than PIECE_BYTES is cut into pieces at line starts that are
// pre-token boundaries, see safe_cut) and appended in input order, EOS between documents. The whole
// stream is kept (at the shard token width: what the loader holds later anyway), the split computed,
// and the shards compressed in parallel into a staging folder, then renamed into place.
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/progress.h"
#include "data/mapfile.h"
#include "data/shard.h"
#include "data/textsrc.h"

#define CHUNK_BYTES (4u << 20)
#define PIECE_BYTES (1u << 20)

// ---- the token stream ----

typedef struct {
    unsigned char *p;   // (n,) ids at `width` bytes each
    size_t n, cap;
    uint32_t width;
    size_t *ends;       // (n_docs,) end of each document in the stream (exclusive)
    size_t n_docs, docs_cap;
} stream;

static void stream_push(stream *s, const int32_t *ids, size_t n, uint32_t vocab) {
    if (s->n + n > s->cap) {
        while (s->n + n > s->cap) s->cap = s->cap ? 2 * s->cap : 1 << 20;
        s->p = tr_realloc(s->p, s->cap * s->width);
    }
    for (size_t i = 0; i < n; i++) {
        CHECK(ids[i] >= 0 && (uint32_t)ids[i] < vocab, "the tokenizer produced id %d for a vocabulary of %u", ids[i], vocab);
        if (s->width == 2) ((uint16_t *)s->p)[s->n + i] = (uint16_t)ids[i];
        else ((uint32_t *)s->p)[s->n + i] = (uint32_t)ids[i];
    }
    s->n += n;
}

static void stream_end_doc(stream *s) {
    if (s->n_docs == s->docs_cap) s->ends = tr_realloc(s->ends, (s->docs_cap = s->docs_cap ? 2 * s->docs_cap : 1024) * sizeof(size_t));
    s->ends[s->n_docs++] = s->n;
}

// ---- cutting long documents ----

// A cut just after a "\n" followed by printable non-space ASCII is a pre-token boundary for the GPT-2
// and Llama 3 pre-tokenizer regexes (every alternative that can hold a newline ends at the end of the
// newline run, and none starts with a newline continuing into the next line's first character).
// Returns the first such cut at or after `from`, or len.
static size_t safe_cut(const char *s, size_t len, size_t from) {
    for (size_t i = from ? from - 1 : 0; i + 1 < len;) {
        const char *nl = memchr(s + i, '\n', len - 1 - i);
        if (!nl) break;
        i = (size_t)(nl - s) + 1;
        if (s[i] > ' ' && s[i] < 0x7f) return i;
    }
    return len;
}

// Cutting is used only when the tokenizer really encodes such pieces independently of each other.
static int cuts_are_safe(const tok_tokenizer *tok) {
    static const char *const a[] = {"He said:\n", "1 2\n", "  x \n", "word\n", "end.\r\n", "tab\t\n"};
    static const char *const b[] = {"Hello there.", "3 4", "(y) z", "'s ok", "-- dash", "\xc3\xa9t\xc3\xa9 <|x|>"};
    int ok = 1;
    tok_ids whole = {0}, parts = {0};
    char buf[64];
    for (size_t i = 0; i < sizeof(a) / sizeof(a[0]) && ok; i++)
        for (size_t j = 0; j < sizeof(b) / sizeof(b[0]) && ok; j++) {
            snprintf(buf, sizeof(buf), "%s%s", a[i], b[j]);
            whole.n = parts.n = 0;
            tok_encode(tok, buf, strlen(buf), &whole);
            tok_encode(tok, a[i], strlen(a[i]), &parts);
            tok_encode(tok, b[j], strlen(b[j]), &parts);
            ok = whole.n == parts.n && !memcmp(whole.ids, parts.ids, whole.n * sizeof(int32_t));
        }
    tok_ids_free(&whole);
    tok_ids_free(&parts);
    return ok;
}

typedef struct {
    const char *text;
    size_t len;
    int first, last;   // first / last piece of its document
} piece;

// ---- reading and tokenizing all inputs ----

typedef struct {
    piece *pieces;
    size_t n, cap;
    tok_ids *out;      // one id list per piece, reused across chunks
    size_t out_cap;
} chunk_work;

static void add_piece(chunk_work *w, const char *text, size_t len, int first, int last) {
    if (w->n == w->cap) w->pieces = tr_realloc(w->pieces, (w->cap = w->cap ? 2 * w->cap : 256) * sizeof(piece));
    w->pieces[w->n++] = (piece){text, len, first, last};
}

static int tokenize_inputs(stream *s, const tok_tokenizer *tok, const char *const *inputs, int n_inputs,
                           const shard_build_opts *o, shard_build_stats *st, tr_err *err) {
    ts_reader *r = NULL;
    if (ts_open(&r, inputs, n_inputs, o->doc_per_file, err)) return -1;
    uint32_t vocab = (uint32_t)tok_vocab_size(tok);
    int32_t eos = tok_eos(tok);
    int can_cut = cuts_are_safe(tok);
    size_t piece = o->piece_bytes ? o->piece_bytes : PIECE_BYTES;
    ts_batch batch = {0};
    chunk_work w = {0};
    progress pr;
    progress_init(&pr, o->quiet);
    long got;
    int rc = 0;
    double total_mb = (double)ts_bytes_total(r) / 1e6;
    while ((got = ts_next(r, &batch, CHUNK_BYTES, err)) > 0) {
        w.n = 0;
        for (size_t d = 0; d < batch.n; d++) {
            const char *t = batch.docs[d].text;
            size_t len = batch.docs[d].len, at = 0;
            while (at < len) {
                size_t end = can_cut && len - at > piece ? safe_cut(t, len, at + piece) : len;
                add_piece(&w, t + at, end - at, at == 0, end == len);
                at = end;
            }
        }
        if (w.n > w.out_cap) {
            w.out = tr_realloc(w.out, w.n * sizeof(tok_ids));
            memset(w.out + w.out_cap, 0, (w.n - w.out_cap) * sizeof(tok_ids));
            w.out_cap = w.n;
        }
#pragma omp parallel for schedule(dynamic, 1)
        for (size_t i = 0; i < w.n; i++) {
            w.out[i].n = 0;
            tok_encode(tok, w.pieces[i].text, w.pieces[i].len, &w.out[i]);
        }
        for (size_t i = 0; i < w.n; i++) {
            if (w.pieces[i].first && s->n_docs > 0) stream_push(s, &eos, 1, vocab);
            stream_push(s, w.out[i].ids, w.out[i].n, vocab);
            if (w.pieces[i].last) stream_end_doc(s);
        }
        st->bytes_in += batch.bytes;
        st->pieces += w.n;
        double t = progress_elapsed(&pr);
        progress_update(&pr, "shard: read %.1f of %.1f MB, %zu documents, %zu tokens, %.2f MB/s", (double)ts_bytes_done(r) / 1e6,
                        total_mb, s->n_docs, s->n, t > 0 ? (double)st->bytes_in / 1e6 / t : 0.0);
    }
    progress_clear(&pr);   // the caller prints the summary (or the error) on a line of its own
    if (got < 0) rc = -1;
    for (size_t i = 0; i < w.out_cap; i++) tok_ids_free(&w.out[i]);
    free(w.out);
    free(w.pieces);
    ts_batch_free(&batch);
    ts_close(r);
    return rc;
}

// ---- writing ----

typedef struct {
    uint32_t split;
    size_t begin, end;   // token range in the stream
    shard_info info;
    char name[64];
} shard_job;

// Deletes the staging folder and what is in it.
static void remove_staging(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static int mkdir_p(const char *dir, tr_err *err) {
    char *p = tr_strdup(dir);
    int rc = 0;
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == '\0') {
            char c = *q;
            *q = '\0';
            struct stat st;
            if (stat(p, &st) != 0) {
                if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = tr_fail(err, "%s: cannot create folder: %s", p, strerror(errno));
            } else if (!S_ISDIR(st.st_mode)) {
                rc = tr_fail(err, "%s: exists and is not a folder", p);
            }
            *q = c;
            if (rc || c == '\0') break;
        }
    }
    free(p);
    return rc;
}

static char *hex64(char buf[17], uint64_t v) {
    snprintf(buf, 17, "%016llx", (unsigned long long)v);
    return buf;
}

static int write_manifest(const char *path, const shard_build_opts *o, const char *const *inputs, int n_inputs,
                          const tok_tokenizer *tok, const shard_job *jobs, int n_jobs, const shard_build_stats *st,
                          uint32_t width, tr_err *err) {
    char hx[17];
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "trit-shards");
    cJSON_AddNumberToObject(m, "version", SHARD_VERSION);
    if (o->tokenizer_path) {
        cJSON_AddStringToObject(m, "tokenizer", o->tokenizer_path);
        mf_file f;
        if (mf_open(&f, o->tokenizer_path, NULL) == 0) {
            cJSON_AddStringToObject(m, "tokenizer_fnv1a64", hex64(hx, shard_fnv1a64(SHARD_FNV_INIT, f.data, f.size)));
            mf_close(&f);
        }
    }
    cJSON_AddNumberToObject(m, "vocab_size", tok_vocab_size(tok));
    cJSON_AddNumberToObject(m, "eos", tok_eos(tok));
    cJSON_AddNumberToObject(m, "token_width", width);
    cJSON_AddNumberToObject(m, "val_fraction", o->val_fraction);
    cJSON_AddNumberToObject(m, "shard_tokens", (double)(o->shard_tokens ? o->shard_tokens : SHARD_DEFAULT_TOKENS));
    cJSON_AddBoolToObject(m, "doc_per_file", o->doc_per_file != 0);
    cJSON *in = cJSON_AddArrayToObject(m, "inputs");
    for (int i = 0; i < n_inputs; i++) cJSON_AddItemToArray(in, cJSON_CreateString(inputs[i]));
    cJSON_AddNumberToObject(m, "input_text_bytes", (double)st->bytes_in);
    for (uint32_t sp = 0; sp < 2; sp++) {
        cJSON *s = cJSON_AddObjectToObject(m, shard_split_name(sp));
        cJSON_AddNumberToObject(s, "tokens", (double)st->tokens[sp]);
        cJSON_AddNumberToObject(s, "documents", (double)st->docs[sp]);
        cJSON *arr = cJSON_AddArrayToObject(s, "shards");
        for (int j = 0; j < n_jobs; j++) {
            if (jobs[j].split != sp) continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "file", jobs[j].name);
            cJSON_AddNumberToObject(e, "tokens", (double)jobs[j].info.n_tokens);
            cJSON_AddNumberToObject(e, "documents", (double)jobs[j].info.n_docs);
            cJSON_AddStringToObject(e, "fnv1a64", hex64(hx, jobs[j].info.checksum));
            cJSON_AddItemToArray(arr, e);
        }
    }
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    int rc = 0;
    FILE *fp = fopen(path, "wb");
    if (!fp) rc = tr_fail(err, "%s: cannot create: %s", path, strerror(errno));
    else {
        int bad = fputs(text, fp) < 0 || fputc('\n', fp) == EOF;
        if (fclose(fp) != 0) bad = 1;
        if (bad) rc = tr_fail(err, "%s: write failed: %s", path, strerror(errno));
    }
    free(text);
    return rc;
}

// Number of documents starting before position x of the stream (doc 0 starts at 0, doc k at ends[k-1]+1).
static size_t docs_before(const stream *s, size_t x) {
    size_t lo = 0, hi = s->n_docs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2, start = mid ? s->ends[mid - 1] + 1 : 0;
        if (start < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// Documents (or parts) of the split that start in [a, b) of the stream.
static size_t docs_starting(const stream *s, const shard_split *sp, uint32_t split, size_t a, size_t b) {
    if (split == SHARD_TRAIN) return docs_before(s, b < sp->train_end ? b : sp->train_end) - docs_before(s, a);
    // val: its first part starts at val_begin (a whole document or the tail of the last one), then whole documents
    size_t lo = a > sp->val_begin + 1 ? a : sp->val_begin + 1;
    return (a <= sp->val_begin && sp->val_begin < b) + (b > lo ? docs_before(s, b) - docs_before(s, lo) : 0);
}

static int write_shards(const stream *s, const shard_split *sp, const tok_tokenizer *tok, const char *const *inputs,
                        int n_inputs, const shard_build_opts *o, shard_build_stats *st, tr_err *err) {
    size_t per = o->shard_tokens ? o->shard_tokens : SHARD_DEFAULT_TOKENS;
    size_t range[2][2] = {{0, sp->train_end}, {sp->val_begin, s->n}};
    int n_jobs = 0;
    for (int k = 0; k < 2; k++) n_jobs += (int)((range[k][1] - range[k][0] + per - 1) / per);
    shard_job *jobs = tr_calloc((size_t)n_jobs, sizeof(shard_job));
    int j = 0;
    for (uint32_t k = 0; k < 2; k++) {
        uint32_t count = (uint32_t)((range[k][1] - range[k][0] + per - 1) / per);
        st->shards[k] = count;
        for (uint32_t i = 0; i < count; i++, j++) {
            shard_job *jb = &jobs[j];
            jb->split = k;
            jb->begin = range[k][0] + (size_t)i * per;
            jb->end = jb->begin + per < range[k][1] ? jb->begin + per : range[k][1];
            jb->info = (shard_info){.width = s->width, .split = k, .vocab_size = (uint32_t)tok_vocab_size(tok),
                                    .eos = tok_eos(tok), .index = i, .n_shards = count, .n_tokens = jb->end - jb->begin,
                                    .first_token = jb->begin - range[k][0]};
            jb->info.n_docs = docs_starting(s, sp, k, jb->begin, jb->end);
            snprintf(jb->name, sizeof(jb->name), "%s_%06u.tzst", shard_split_name(k), i);
        }
    }
    if (mkdir_p(o->out_dir, err)) {
        free(jobs);
        return -1;
    }
    size_t dlen = strlen(o->out_dir) + 64;
    char *stage = tr_malloc(dlen), *from = tr_malloc(dlen + 64), *to = tr_malloc(dlen + 64);
    snprintf(stage, dlen, "%s/.shard-staging-%d", o->out_dir, (int)getpid());
    int rc = 0;
    if (mkdir(stage, 0777) != 0) {
        rc = tr_fail(err, "%s: cannot create folder: %s", stage, strerror(errno));
        goto out;
    }
    tr_err *errs = tr_calloc((size_t)n_jobs, sizeof(tr_err));
    int *bad = tr_calloc((size_t)n_jobs, sizeof(int));
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n_jobs; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", stage, jobs[i].name);
        bad[i] = shard_write(path, &jobs[i].info, s->p + jobs[i].begin * s->width, o->zstd_level, &errs[i]) != 0;
    }
    for (int i = 0; i < n_jobs && !rc; i++)
        if (bad[i]) rc = tr_fail(err, "%s", errs[i].msg);
    free(errs);
    free(bad);
    snprintf(from, dlen + 64, "%s/shards.json", stage);
    if (!rc) rc = write_manifest(from, o, inputs, n_inputs, tok, jobs, n_jobs, st, s->width, err);
    if (rc) {
        remove_staging(stage);
        goto out;
    }
    // Move the new set into place, then drop shards of an earlier run that the new set does not overwrite.
    for (int i = 0; i <= n_jobs && !rc; i++) {
        const char *name = i < n_jobs ? jobs[i].name : "shards.json";
        snprintf(from, dlen + 64, "%s/%s", stage, name);
        snprintf(to, dlen + 64, "%s/%s", o->out_dir, name);
        if (rename(from, to) != 0) rc = tr_fail(err, "%s: cannot move %s into place: %s", to, from, strerror(errno));
    }
    remove_staging(stage);
    DIR *d = rc ? NULL : opendir(o->out_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        for (uint32_t k = 0; k < 2; k++) {
            long idx = shard_name_index(e->d_name, shard_split_name(k));
            if (idx < 0) continue;
            char want[64];
            snprintf(want, sizeof(want), "%s_%06u.tzst", shard_split_name(k), (unsigned)idx);
            if ((uint32_t)idx >= st->shards[k] || strcmp(want, e->d_name)) {
                snprintf(to, dlen + 64, "%s/%s", o->out_dir, e->d_name);
                unlink(to);
            }
        }
    }
    if (d) closedir(d);
out:
    free(stage);
    free(from);
    free(to);
    free(jobs);
    return rc;
}

int shard_build(const tok_tokenizer *tok, const char *const *inputs, int n_inputs, const shard_build_opts *o,
                shard_build_stats *st, tr_err *err) {
    memset(st, 0, sizeof(*st));
    CHECK(n_inputs > 0 && o->out_dir, "no inputs or no output folder");
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return tr_fail(err, "%s: val fraction %g is outside [0, 1)", o->out_dir, o->val_fraction);
    if (tok_eos(tok) < 0)
        return tr_fail(err, "%s: the tokenizer has no EOS token (<|end_of_text|> or an eos_token) to put between documents",
                       o->tokenizer_path ? o->tokenizer_path : "tokenizer");
    double t0 = progress_now();
    stream s = {.width = shard_width_for(tok_vocab_size(tok))};
    int rc = tokenize_inputs(&s, tok, inputs, n_inputs, o, st, err);
    char what[4200];
    snprintf(what, sizeof(what), n_inputs == 1 ? "%s" : "%s (and %d more inputs)", inputs[0], n_inputs - 1);
    if (!rc && s.n_docs == 0) rc = tr_fail(err, "%s: no documents: the input is empty or blank", what);
    shard_split sp;
    if (!rc) {
        shard_compute_split(&sp, s.ends, s.n_docs, o->val_fraction);
        if (sp.train_end == 0)
            rc = tr_fail(err, "%s: %zu tokens are too few: with val fraction %g the train split would be empty", what, s.n,
                         o->val_fraction);
        else if (o->val_fraction > 0 && sp.val_begin == s.n)
            rc = tr_fail(err, "%s: %zu tokens are too few: val fraction %g leaves the val split empty (0 turns it off)", what,
                         s.n, o->val_fraction);
    }
    if (!rc) {
        st->tokens[0] = sp.train_end;
        st->tokens[1] = s.n - sp.val_begin;
        st->docs[0] = sp.train_docs;
        st->docs[1] = sp.val_docs;
        rc = write_shards(&s, &sp, tok, inputs, n_inputs, o, st, err);
    }
    st->seconds = progress_now() - t0;
    free(s.p);
    free(s.ends);
    return rc;
}
