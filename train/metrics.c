// metrics.c: metrics.jsonl writing, reading and trimming for resume.
#include "train/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

// Parses one line; 0 on success, -1 for a malformed or cut-short line.
static int parse_line(const char *line, metrics_row *r) {
    cJSON *o = cJSON_Parse(line);
    if (!o) return -1;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step"), *loss = cJSON_GetObjectItemCaseSensitive(o, "loss");
    int rc = -1;
    if (cJSON_IsNumber(step) && cJSON_IsNumber(loss)) {
        memset(r, 0, sizeof(*r));
        r->step = (int64_t)step->valuedouble;
        r->loss = loss->valuedouble;
        const cJSON *v;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "lr"))) r->lr = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "tokens_per_s"))) r->tokens_per_s = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "grad_norm"))) r->grad_norm = v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "val_loss"))) r->val_loss = v->valuedouble, r->has_val = 1;
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

// Calls fn(line, ud) for every line of path; returns -1 with err when the file cannot be read.
static int each_line(const char *path, void (*fn)(const char *line, void *ud), void *ud, tr_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) fn(line, ud);
    int bad = ferror(f);
    free(line);
    fclose(f);
    return bad ? tr_fail(err, "%s: read error", path) : 0;
}

typedef struct {
    FILE *out;
    int64_t keep_until;
} trim_ctx;

static void trim_line(const char *line, void *ud) {
    trim_ctx *t = ud;
    metrics_row r;
    if (parse_line(line, &r) == 0 && r.step <= t->keep_until) fputs(line, t->out);
}

int metrics_open(FILE **out, const char *path, int64_t keep_until, tr_err *err) {
    *out = NULL;
    if (keep_until >= 0) {
        FILE *probe = fopen(path, "r");
        if (probe) {
            fclose(probe);
            char tmp[4200];
            snprintf(tmp, sizeof(tmp), "%s.tmp", path);
            trim_ctx t = {fopen(tmp, "w"), keep_until};
            if (!t.out) return tr_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
            int rc = each_line(path, trim_line, &t, err);
            if (fclose(t.out) && !rc) rc = tr_fail(err, "%s: write error", tmp);
            if (!rc && rename(tmp, path)) rc = tr_fail(err, "%s: cannot rename: %s", tmp, strerror(errno));
            if (rc) {
                remove(tmp);
                return -1;
            }
        }
    }
    *out = fopen(path, keep_until >= 0 ? "a" : "w");
    if (!*out) return tr_fail(err, "%s: cannot open for writing: %s", path, strerror(errno));
    return 0;
}

int metrics_append(FILE *f, const metrics_row *r, const char *path, tr_err *err) {
    fprintf(f, "{\"step\": %lld, \"loss\": %.9g, \"lr\": %.9g, \"tokens_per_s\": %.1f, \"grad_norm\": %.6g",
            (long long)r->step, r->loss, r->lr, r->tokens_per_s, r->grad_norm);
    if (r->has_val) fprintf(f, ", \"val_loss\": %.9g", r->val_loss);
    fputs("}\n", f);
    if (fflush(f) || ferror(f)) return tr_fail(err, "%s: write error (disk full?)", path);
    return 0;
}

typedef struct {
    metrics_row *rows;
    int n, cap;
} read_ctx;

static void read_line(const char *line, void *ud) {
    read_ctx *c = ud;
    metrics_row r;
    if (parse_line(line, &r)) return;
    if (c->n == c->cap) c->rows = tr_realloc(c->rows, sizeof(metrics_row) * (size_t)(c->cap = c->cap ? 2 * c->cap : 256));
    c->rows[c->n++] = r;
}

int metrics_read(const char *path, metrics_row **rows, int *n, tr_err *err) {
    read_ctx c = {0};
    if (each_line(path, read_line, &c, err)) {
        free(c.rows);
        return -1;
    }
    *rows = c.rows;
    *n = c.n;
    return 0;
}
