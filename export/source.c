// source.c: what `trit export` reads: an HDF5 checkpoint, a run folder, a Hugging Face folder or a GGUF,
// and the tokenizer.json text that comes with it.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export.h"
#include "model/h5_io.h"
#include "model/hf_io.h"

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *ex_read_text(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *s = tr_malloc(cap);
    while ((got = fread(s + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (n + 1 == cap) s = tr_realloc(s, cap *= 2);
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    return s;
}

static int has_magic(const char *path, const char *magic, size_t n) {
    char buf[8] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    size_t got = fread(buf, 1, n, fp);
    fclose(fp);
    return got == n && !memcmp(buf, magic, n);
}

static int load_h5(ex_source *s, tr_err *err) {
    if (h5_load_model(&s->model, s->path, 0, err)) return -1;
    hid_t f = h5_open(s->path, err);
    if (f < 0) return -1;
    int rc = 0;
    if (h5_exists(f, "/tokenizer/tokenizer.json"))
        rc = h5_read_text(f, "/tokenizer/tokenizer.json", &s->tokenizer_json, s->path, err);
    h5_close(f);
    return rc;
}

static int load_hf(ex_source *s, const char *dir, tr_err *err) {
    if (bn_model_load_hf(&s->model, dir, 0, err)) return -1;
    char p[4200];
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    if (is_file(p) && !(s->tokenizer_json = ex_read_text(p))) return tr_fail(err, "%s: cannot read: %s", p, strerror(errno));
    s->add_bos = 1;
    return 0;
}

static int load_gguf(ex_source *s, tr_err *err) {
    if (ex_load_gguf(&s->model, s->path, err)) return -1;
    gguf_file *g = NULL;
    if (gguf_open(&g, s->path, err)) return -1;
    int rc = gguf_find(g, "tokenizer.ggml.add_bos_token") ? gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &s->add_bos, err) : 0;
    gguf_close(g);
    return rc;
}

int ex_source_load(ex_source *s, const char *path, tr_err *err) {
    memset(s, 0, sizeof(*s));
    struct stat st;
    if (stat(path, &st) != 0) return tr_fail(err, "%s: %s", path, strerror(errno));
    char p[4200];
    int rc;
    if (S_ISDIR(st.st_mode)) {
        snprintf(p, sizeof(p), "%s/config.json", path);
        if (is_file(p)) {
            snprintf(s->path, sizeof(s->path), "%s", path);
            rc = load_hf(s, path, err);
        } else {
            snprintf(s->path, sizeof(s->path), "%s/latest.h5", path);
            if (!is_file(s->path))
                return tr_fail(err, "%s: a folder without config.json (Hugging Face) or latest.h5 (a trit run)", path);
            rc = load_h5(s, err);
        }
    } else {
        snprintf(s->path, sizeof(s->path), "%s", path);
        s->is_gguf = has_magic(path, GGUF_MAGIC, 4);
        rc = s->is_gguf ? load_gguf(s, err) : load_h5(s, err);
    }
    if (rc) ex_source_free(s);
    return rc;
}

void ex_source_free(ex_source *s) {
    if (!s) return;
    bn_model_free(&s->model);
    free(s->tokenizer_json);
    memset(s, 0, sizeof(*s));
}

