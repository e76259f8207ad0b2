// textsrc.c: documents from .txt (blank-line separated, or one per file) and .jsonl ("text" field) files.
#include "data/textsrc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "data/mapfile.h"

struct ts_reader {
    int n, doc_per_file;
    const char **paths;
    mf_file *files;
    size_t total;      // bytes of all inputs
    size_t done;       // bytes of finished files
    int cur;           // file being read
    size_t pos;        // offset in it
    size_t line;       // 1-based number of the line at pos (.jsonl)
};

void ts_batch_free(ts_batch *b) {
    free(b->docs);
    free(b->own);
    memset(b, 0, sizeof(*b));
}

void ts_close(ts_reader *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) mf_close(&r->files[i]);
    free(r->files);
    free(r->paths);
    free(r);
}

int ts_open(ts_reader **out, const char *const *paths, int n_paths, int doc_per_file, tr_err *err) {
    *out = NULL;
    ts_reader *r = tr_calloc(1, sizeof(*r));
    r->n = n_paths;
    r->doc_per_file = doc_per_file;
    r->paths = tr_calloc((size_t)n_paths, sizeof(*r->paths));
    r->files = tr_calloc((size_t)n_paths, sizeof(*r->files));
    r->line = 1;
    for (int i = 0; i < n_paths; i++) {
        r->paths[i] = paths[i];
        if (mf_open(&r->files[i], paths[i], err)) {
            ts_close(r);
            return -1;
        }
        r->total += r->files[i].size;
    }
    *out = r;
    return 0;
}

size_t ts_bytes_done(const ts_reader *r) {
    return r->done + (r->cur < r->n ? r->pos : 0);
}

size_t ts_bytes_total(const ts_reader *r) {
    return r->total;
}

static int is_jsonl(const char *path) {
    size_t n = strlen(path);
    return n >= 6 && !strcmp(path + n - 6, ".jsonl");
}

// A document pointing into a mapped file, or (text == NULL until ts_next ends) into b->own.
static void add_doc(ts_batch *b, const char *text, size_t len) {
    if (b->n == b->cap) b->docs = tr_realloc(b->docs, (b->cap = b->cap ? 2 * b->cap : 1024) * sizeof(ts_doc));
    b->docs[b->n++] = (ts_doc){text, len};
    b->bytes += len;
}

static void add_owned(ts_batch *b, const char *s, size_t len) {
    if (b->own_len + len > b->own_cap) {
        while (b->own_len + len > b->own_cap) b->own_cap = b->own_cap ? 2 * b->own_cap : 1 << 20;
        b->own = tr_realloc(b->own, b->own_cap);
    }
    memcpy(b->own + b->own_len, s, len);
    add_doc(b, NULL, len);   // owned texts lie in b->own in document order; ts_next sets the pointers
    b->own_len += len;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\v' && s[i] != '\f') return 0;
    return 1;
}

// Length of the line at s (up to and without '\n'), and the offset after its terminator.
static size_t line_at(const char *s, size_t n, size_t *next) {
    const char *nl = memchr(s, '\n', n);
    size_t len = nl ? (size_t)(nl - s) : n;
    *next = nl ? len + 1 : n;
    return len;
}

// Text: the next blank-line separated document from r->pos, or none at the end of the file.
static void next_text_doc(ts_reader *r, const char *s, size_t n, ts_batch *b) {
    size_t pos = r->pos, next, start = 0, end = 0;
    int in_doc = 0;
    while (pos < n) {
        size_t len = line_at(s + pos, n - pos, &next);
        if (blank(s + pos, len)) {
            if (in_doc) break;
        } else {
            if (!in_doc) start = pos;
            in_doc = 1;
            end = pos + len;
            if (len && s[end - 1] == '\r') end--;
        }
        pos += next;
    }
    r->pos = pos;
    if (in_doc) add_doc(b, s + start, end - start);
}

// .jsonl: the next non-blank line's "text", or an error naming the file and line.
static int next_jsonl_doc(ts_reader *r, const char *s, size_t n, ts_batch *b, tr_err *err) {
    const char *path = r->paths[r->cur];
    while (r->pos < n) {
        size_t next, len = line_at(s + r->pos, n - r->pos, &next);
        const char *line = s + r->pos;
        size_t lineno = r->line;
        r->pos += next;
        r->line++;
        if (blank(line, len)) continue;
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
        if (root && end && !blank(end, (size_t)(line + len - end))) {   // trailing garbage: point at it
            cJSON_Delete(root);
            root = NULL;
            while (*end == ' ' || *end == '\t') end++;
        }
        if (!root) {
            size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
            return tr_fail(err, "%s: line %zu: malformed JSON near column %zu", path, lineno, col);
        }
        const cJSON *t = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "text") : NULL;
        if (!t) {
            cJSON_Delete(root);
            return tr_fail(err, "%s: line %zu: no \"text\" field (each line must be an object {\"text\": \"...\"})", path, lineno);
        }
        if (!cJSON_IsString(t) || !t->valuestring) {
            cJSON_Delete(root);
            return tr_fail(err, "%s: line %zu: \"text\" must be a string", path, lineno);
        }
        size_t tl = strlen(t->valuestring);
        if (tl) add_owned(b, t->valuestring, tl);
        cJSON_Delete(root);
        if (tl) return 0;
    }
    return 0;
}

long ts_next(ts_reader *r, ts_batch *b, size_t max_bytes, tr_err *err) {
    b->n = 0;
    b->bytes = 0;
    b->own_len = 0;
    for (int i = 0; i < r->cur && i < r->n; i++) mf_close(&r->files[i]);   // the previous batch is done with them
    while (r->cur < r->n && (b->n == 0 || b->bytes < max_bytes)) {
        const mf_file *f = &r->files[r->cur];
        const char *s = (const char *)f->data;
        if (r->pos >= f->size) {   // next file; the finished one stays mapped until the batch is used
            r->done += f->size;
            r->cur++;
            r->pos = 0;
            r->line = 1;
            continue;
        }
        if (is_jsonl(r->paths[r->cur])) {
            if (next_jsonl_doc(r, s, f->size, b, err)) return -1;
        } else if (r->doc_per_file) {
            add_doc(b, s, f->size);
            r->pos = f->size;
        } else {
            next_text_doc(r, s, f->size, b);
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->docs[i].text) {
            b->docs[i].text = b->own + off;
            off += b->docs[i].len;
        }
    return (long)b->n;
}
