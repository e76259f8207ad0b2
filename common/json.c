// json.c: whole-file JSON loading with cJSON and typed getters whose messages name the file and key.
// A key whose value is null counts as absent for the _opt getters (Hugging Face configs write
// "head_dim": null and the like) and as the wrong type for the required ones.
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *json_load(const char *path, tr_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = tr_malloc(cap);
    for (;;) {
        if (len + 1 >= cap) buf = tr_realloc(buf, cap *= 2);
        size_t got = fread(buf + len, 1, cap - 1 - len, fp);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(fp), e = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        tr_fail(err, "%s: cannot read: %s", path, strerror(e));
        return NULL;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        size_t at = strlen(buf);
        free(buf);
        tr_fail(err, "%s: malformed JSON near byte %zu (a NUL byte)", path, at);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(buf, &end, 1);
    if (!root) {
        size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        free(buf);
        tr_fail(err, "%s: malformed JSON near byte %zu", path, at);
        return NULL;
    }
    free(buf);
    return root;
}

static const char *type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsBool(v)) return "bool";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "invalid";
}

// Finds key in obj: 1 found (*v set), 0 absent (or null when null_is_absent).
static int lookup(const cJSON *obj, const char *key, const cJSON **v, int null_is_absent) {
    *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (*v && null_is_absent && cJSON_IsNull(*v)) *v = NULL;
    return *v != NULL;
}

static int missing(const char *key, const char *path, tr_err *err) {
    return tr_fail(err, "%s: key '%s' is missing", path, key);
}

static int as_int(const cJSON *v, const char *key, int *out, const char *path, tr_err *err) {
    if (!cJSON_IsNumber(v)) return tr_fail(err, "%s: key '%s' must be an integer (got %s)", path, key, type_name(v));
    double d = v->valuedouble;
    if (!(d == floor(d)) || d < -2147483648.0 || d > 2147483647.0)
        return tr_fail(err, "%s: key '%s' must be an integer (got %g)", path, key, d);
    *out = (int)d;
    return 0;
}

static int as_double(const cJSON *v, const char *key, double *out, const char *path, tr_err *err) {
    if (!cJSON_IsNumber(v)) return tr_fail(err, "%s: key '%s' must be a number (got %s)", path, key, type_name(v));
    *out = v->valuedouble;
    return 0;
}

static int as_bool(const cJSON *v, const char *key, int *out, const char *path, tr_err *err) {
    if (!cJSON_IsBool(v)) return tr_fail(err, "%s: key '%s' must be true or false (got %s)", path, key, type_name(v));
    *out = cJSON_IsTrue(v);
    return 0;
}

static int as_string(const cJSON *v, const char *key, const char **out, const char *path, tr_err *err) {
    if (!cJSON_IsString(v) || !v->valuestring)
        return tr_fail(err, "%s: key '%s' must be a string (got %s)", path, key, type_name(v));
    *out = v->valuestring;
    return 0;
}

int json_get_int(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 0) ? as_int(v, key, out, path, err) : missing(key, path, err);
}

int json_get_double(const cJSON *obj, const char *key, double *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 0) ? as_double(v, key, out, path, err) : missing(key, path, err);
}

int json_get_bool(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 0) ? as_bool(v, key, out, path, err) : missing(key, path, err);
}

int json_get_string(const cJSON *obj, const char *key, const char **out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 0) ? as_string(v, key, out, path, err) : missing(key, path, err);
}

int json_opt_int(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 1) ? as_int(v, key, out, path, err) : 0;
}

int json_opt_double(const cJSON *obj, const char *key, double *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 1) ? as_double(v, key, out, path, err) : 0;
}

int json_opt_bool(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 1) ? as_bool(v, key, out, path, err) : 0;
}

int json_opt_string(const cJSON *obj, const char *key, const char **out, const char *path, tr_err *err) {
    const cJSON *v;
    return lookup(obj, key, &v, 1) ? as_string(v, key, out, path, err) : 0;
}
