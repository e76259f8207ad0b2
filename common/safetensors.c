// safetensors.c: memory-mapped safetensors reader (one file, a folder, or a sharded checkpoint) that
// validates every header field before use, and an atomic writer (temp file + rename).
#include "common/safetensors.h"

#include "common/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/afile.h"
#include "common/f16.h"
#include "common/json.h"

static const char *dtype_names[ST_NDTYPES] = {"F32", "F16", "BF16", "F64", "U8", "I8", "I16", "I32", "I64", "BOOL"};
static const size_t dtype_sizes[ST_NDTYPES] = {4, 2, 2, 8, 1, 1, 2, 4, 8, 1};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < ST_NDTYPES ? dtype_names[t] : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < ST_NDTYPES ? dtype_sizes[t] : 0; }

size_t st_numel(const st_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->shape[i];
    return n;
}

// ---------------------------------------------------------------------------------------------------
// Reader

typedef struct {
    char *path;
    void *map;
    size_t size;
} st_shard;

struct st_file {
    char *path;
    st_shard *shards;
    int n_shards, cap_shards;
    st_tensor *t;
    int n, cap;
    const st_tensor **sorted;   // by name, for st_find
    char **meta;                // key, value, key, value, ...
    int n_meta, cap_meta;
};

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = tr_malloc(a + b + 2);
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return tr_strdup(".");
    if (slash == path) return tr_strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = tr_malloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// A JSON number that is an integer in [0, 2^53]: stores it and returns 1.
static int get_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int parse_tensor(st_file *f, const st_shard *sh, const cJSON *c, const unsigned char *data, size_t dsize,
                        size_t data_start, tr_err *err) {
    const char *path = sh->path, *name = c->string;
    if (!cJSON_IsObject(c)) return tr_fail(err, "%s: tensor '%s': header entry must be an object", path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(c, "dtype");
    if (!cJSON_IsString(jd)) return tr_fail(err, "%s: tensor '%s' has no dtype string", path, name);
    int dt = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(jd->valuestring, dtype_names[i])) dt = i;
    if (dt < 0) return tr_fail(err, "%s: tensor '%s' has unknown dtype '%s'", path, name, jd->valuestring);

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(c, "shape");
    if (!cJSON_IsArray(js)) return tr_fail(err, "%s: tensor '%s' shape must be an array of non-negative integers", path, name);
    int nd = cJSON_GetArraySize(js);
    if (nd > ST_MAX_DIMS) return tr_fail(err, "%s: tensor '%s' has %d dims (at most %d supported)", path, name, nd, ST_MAX_DIMS);
    st_tensor t = {.dtype = (st_dtype)dt, .ndim = nd, .file = sh->path};
    uint64_t numel = 1, bytes;
    int k = 0;
    for (const cJSON *e = js->child; e; e = e->next, k++) {
        uint64_t d;
        if (!get_uint(e, &d))
            return tr_fail(err, "%s: tensor '%s' shape must be an array of non-negative integers (dim %d is not)", path, name, k);
        if (__builtin_mul_overflow(numel, d, &numel)) return tr_fail(err, "%s: tensor '%s' shape is too large", path, name);
        t.shape[k] = (int64_t)d;
    }
    if (__builtin_mul_overflow(numel, (uint64_t)dtype_sizes[dt], &bytes))
        return tr_fail(err, "%s: tensor '%s' shape is too large", path, name);

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
    uint64_t begin, end;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !get_uint(jo->child, &begin) ||
        !get_uint(jo->child->next, &end) || begin > end)
        return tr_fail(err, "%s: tensor '%s' data_offsets must be [begin, end] with 0 <= begin <= end", path, name);
    if (end > dsize)
        return tr_fail(err, "%s: tensor '%s' data runs past the end of the file (offset %llu > %zu)", path, name,
                       (unsigned long long)(data_start + end), data_start + dsize);
    if (bytes != end - begin)
        return tr_fail(err, "%s: tensor '%s' is %s with %llu elements (%llu bytes) but data_offsets [%llu, %llu] hold %llu bytes",
                       path, name, dtype_names[dt], (unsigned long long)numel, (unsigned long long)bytes,
                       (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin));
    t.nbytes = (size_t)bytes;
    t.data = data + begin;
    t.name = tr_strdup(name);
    if (f->n == f->cap) f->t = tr_realloc(f->t, sizeof(*f->t) * (size_t)(f->cap = f->cap ? 2 * f->cap : 64));
    f->t[f->n++] = t;
    return 0;
}

static int parse_header(st_file *f, const st_shard *sh, tr_err *err) {
    const unsigned char *p = sh->map;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)p[i] << (8 * i);
    if (n > sh->size - 8)
        return tr_fail(err, "%s: header length %llu runs past the end of the file (%zu bytes); truncated or not safetensors",
                       sh->path, (unsigned long long)n, sh->size);
    char *hdr = tr_malloc((size_t)n + 1);   // a NUL-terminated copy: the parser never reads the mapping
    memcpy(hdr, p + 8, (size_t)n);
    hdr[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    int rc = 0;
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + n ? (size_t)(end - hdr) : 0;
        rc = tr_fail(err, "%s: malformed JSON header near byte %zu", sh->path, 8 + at);
        goto done;
    }
    for (const char *q = end; q && q < hdr + n; q++)   // only padding may follow the JSON
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != '\0') {
            rc = tr_fail(err, "%s: malformed JSON header: stray bytes after it at byte %zu", sh->path, 8 + (size_t)(q - hdr));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = tr_fail(err, "%s: malformed JSON header: not an object", sh->path);
        goto done;
    }
    size_t data_start = 8 + (size_t)n;
    for (const cJSON *c = root->child; c && !rc; c = c->next) {
        if (strcmp(c->string, "__metadata__") != 0) {
            rc = parse_tensor(f, sh, c, p + data_start, sh->size - data_start, data_start, err);
            continue;
        }
        if (!cJSON_IsObject(c)) rc = tr_fail(err, "%s: __metadata__ must be an object of strings", sh->path);
        for (const cJSON *m = c->child; m && !rc; m = m->next) {
            if (!cJSON_IsString(m)) {
                rc = tr_fail(err, "%s: __metadata__ value '%s' must be a string", sh->path, m->string);
                break;
            }
            if (f->n_meta + 2 > f->cap_meta) f->meta = tr_realloc(f->meta, sizeof(char *) * (size_t)(f->cap_meta = 2 * f->cap_meta + 8));
            f->meta[f->n_meta++] = tr_strdup(m->string);
            f->meta[f->n_meta++] = tr_strdup(m->valuestring);
        }
    }
done:
    cJSON_Delete(root);
    free(hdr);
    return rc;
}

// Maps one file and parses its header. via: the index that listed it (for messages), or NULL.
static int load_file(st_file *f, const char *path, const char *via, tr_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (via) return tr_fail(err, "%s: cannot open shard listed in %s: %s", path, via, strerror(errno));
        return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return tr_fail(err, "%s: file is too short for safetensors (%zu bytes, the header length alone takes 8)", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return tr_fail(err, "%s: cannot map: %s", path, strerror(e));
    if (f->n_shards == f->cap_shards)
        f->shards = tr_realloc(f->shards, sizeof(*f->shards) * (size_t)(f->cap_shards = 2 * f->cap_shards + 4));
    st_shard *sh = &f->shards[f->n_shards++];
    *sh = (st_shard){tr_strdup(path), map, size};
    return parse_header(f, sh, err);
}

static int by_name(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x < y ? -1 : x > y);
}

// Sorts the tensors by name for st_find and rejects duplicate names.
static int build_index(st_file *f, tr_err *err) {
    f->sorted = tr_malloc(sizeof(*f->sorted) * (size_t)(f->n ? f->n : 1));
    for (int i = 0; i < f->n; i++) f->sorted[i] = &f->t[i];
    qsort(f->sorted, (size_t)f->n, sizeof(*f->sorted), by_name);
    for (int i = 1; i < f->n; i++) {
        const st_tensor *a = f->sorted[i - 1], *b = f->sorted[i];   // a comes first in file order
        if (strcmp(a->name, b->name) != 0) continue;
        if (a->file == b->file) return tr_fail(err, "%s: tensor '%s' appears twice in the header", b->file, b->name);
        return tr_fail(err, "%s: tensor '%s' is also in %s", b->file, b->name, a->file);
    }
    return 0;
}

static int load_index(st_file *f, const char *index, tr_err *err) {
    cJSON *root = json_load(index, err);
    if (!root) return -1;
    int rc = 0;
    char *dir = dir_of(index);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        rc = tr_fail(err, "%s: key 'weight_map' is missing or not an object", index);
        goto done;
    }
    for (const cJSON *e = wm->child; e && !rc; e = e->next) {   // open each shard once, in order of first mention
        if (!cJSON_IsString(e) || !e->valuestring[0]) {
            rc = tr_fail(err, "%s: weight_map entry '%s' must be a shard file name", index, e->string);
            break;
        }
        int seen = 0;
        for (const cJSON *d = wm->child; d != e && !seen; d = d->next) seen = !strcmp(d->valuestring, e->valuestring);
        if (seen) continue;
        char *shard = join(dir, e->valuestring);
        rc = load_file(f, shard, index, err);
        free(shard);
    }
    if (!rc) rc = build_index(f, err);
    for (const cJSON *e = wm->child; e && !rc; e = e->next) {   // every listed tensor is in its shard
        char *shard = join(dir, e->valuestring);
        const st_tensor *t = st_find(f, e->string);
        if (!t || strcmp(t->file, shard) != 0)
            rc = tr_fail(err, "%s: tensor '%s' is listed for shard %s, which does not hold it", index, e->string, shard);
        free(shard);
    }
done:
    free(dir);
    cJSON_Delete(root);
    return rc;
}

int st_open(st_file **out, const char *path, tr_err *err) {
    *out = NULL;
    st_file *f = tr_calloc(1, sizeof(*f));
    f->path = tr_strdup(path);
    struct stat sb;
    size_t len = strlen(path);
    int rc;
    if (stat(path, &sb) != 0) {
        rc = tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        char *single = join(path, "model.safetensors"), *index = join(path, "model.safetensors.index.json");
        if (is_file(single)) rc = load_file(f, single, NULL, err) || build_index(f, err) ? -1 : 0;
        else if (is_file(index)) rc = load_index(f, index, err);
        else rc = tr_fail(err, "%s: folder has no model.safetensors or model.safetensors.index.json", path);
        free(single);
        free(index);
    } else if (len >= 5 && !strcmp(path + len - 5, ".json")) {
        rc = load_index(f, path, err);
    } else {
        rc = load_file(f, path, NULL, err) || build_index(f, err) ? -1 : 0;
    }
    if (rc) {
        st_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void st_close(st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_shards; i++) {
        munmap(f->shards[i].map, f->shards[i].size);
        free(f->shards[i].path);
    }
    for (int i = 0; i < f->n; i++) free((char *)f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) free(f->meta[i]);
    free(f->shards);
    free(f->t);
    free(f->sorted);
    free(f->meta);
    free(f->path);
    free(f);
}

int st_count(const st_file *f) { return f->n; }

const st_tensor *st_get(const st_file *f, int i) {
    CHECK(i >= 0 && i < f->n, "tensor index %d out of range [0, %d)", i, f->n);
    return &f->t[i];
}

const st_tensor *st_find(const st_file *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->sorted[mid]->name, name);
        if (c == 0) return f->sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const char *st_path(const st_file *f) { return f->path; }

const char *st_meta(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i += 2)
        if (!strcmp(f->meta[i], key)) return f->meta[i + 1];
    return NULL;
}

int st_read_f32(float *out, const st_tensor *t, tr_err *err) {
    size_t n = st_numel(t);
    const unsigned char *p = t->data;   // mapped data need not be aligned: read element by element
    switch (t->dtype) {
    case ST_F32: memcpy(out, p, n * sizeof(float)); return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            out[i] = t->dtype == ST_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (float)d;
        }
        return 0;
    default:
        return tr_fail(err, "%s: tensor '%s' has dtype %s, not a float type (F32, F16, BF16, F64)", t->file, t->name,
                       st_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------------------------------------------
// Writer

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const void *data;
} st_wtensor;

struct st_writer {
    st_wtensor *t;
    int n, cap;
    char **meta;   // key, value, ...
    int n_meta, cap_meta;
};

st_writer *st_writer_init(void) { return tr_calloc(1, sizeof(st_writer)); }

void st_writer_free(st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

void st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape, const void *data) {
    CHECK(name && strcmp(name, "__metadata__") != 0, "bad tensor name");
    CHECK((unsigned)dtype < ST_NDTYPES, "tensor '%s': bad dtype %d", name, (int)dtype);
    CHECK(ndim >= 0 && ndim <= ST_MAX_DIMS, "tensor '%s': %d dims (at most %d)", name, ndim, ST_MAX_DIMS);
    st_wtensor t = {.name = tr_strdup(name), .dtype = dtype, .ndim = ndim, .data = data};
    size_t bytes = dtype_sizes[dtype];
    for (int i = 0; i < ndim; i++) {
        CHECK(shape[i] >= 0, "tensor '%s': negative dim %lld", name, (long long)shape[i]);
        t.shape[i] = shape[i];
        CHECK(!__builtin_mul_overflow(bytes, (size_t)shape[i], &bytes), "tensor '%s' is too large", name);
    }
    CHECK(bytes == 0 || data, "tensor '%s' has no data", name);
    t.nbytes = bytes;
    if (w->n == w->cap) w->t = tr_realloc(w->t, sizeof(*w->t) * (size_t)(w->cap = w->cap ? 2 * w->cap : 64));
    w->t[w->n++] = t;
}

void st_writer_meta(st_writer *w, const char *key, const char *value) {
    for (int i = 0; i < w->n_meta; i += 2)
        if (!strcmp(w->meta[i], key)) {
            free(w->meta[i + 1]);
            w->meta[i + 1] = tr_strdup(value);
            return;
        }
    if (w->n_meta + 2 > w->cap_meta) w->meta = tr_realloc(w->meta, sizeof(char *) * (size_t)(w->cap_meta = 2 * w->cap_meta + 8));
    w->meta[w->n_meta++] = tr_strdup(key);
    w->meta[w->n_meta++] = tr_strdup(value);
}

typedef struct {
    char *p;
    size_t n, cap;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 4096;
        b->p = tr_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(strbuf *b, unsigned long long v) {
    char tmp[32];
    sb_put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%llu", v));
}

static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            sb_put(b, e, (size_t)snprintf(e, sizeof(e), "\\u%04x", c));
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

// The header JSON: __metadata__ first, then the tensors in insertion order, space-padded to 8 bytes.
static void build_header(const st_writer *w, strbuf *b) {
    sb_puts(b, "{");
    if (w->n_meta) {
        sb_puts(b, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i += 2) {
            if (i) sb_puts(b, ",");
            sb_json_string(b, w->meta[i]);
            sb_puts(b, ":");
            sb_json_string(b, w->meta[i + 1]);
        }
        sb_puts(b, "}");
    }
    unsigned long long off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        if (i || w->n_meta) sb_puts(b, ",");
        sb_json_string(b, t->name);
        sb_puts(b, ":{\"dtype\":\"");
        sb_puts(b, dtype_names[t->dtype]);
        sb_puts(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_puts(b, ",");
            sb_u64(b, (unsigned long long)t->shape[d]);
        }
        sb_puts(b, "],\"data_offsets\":[");
        sb_u64(b, off);
        sb_puts(b, ",");
        sb_u64(b, off += t->nbytes);
        sb_puts(b, "]}");
    }
    sb_puts(b, "}");
    while (b->n % 8) sb_puts(b, " ");
}

static int by_wname(const void *a, const void *b) {
    return strcmp((*(const st_wtensor *const *)a)->name, (*(const st_wtensor *const *)b)->name);
}

int st_writer_write(const st_writer *w, const char *path, tr_err *err) {
    const st_wtensor **s = tr_malloc(sizeof(*s) * (size_t)(w->n ? w->n : 1));
    for (int i = 0; i < w->n; i++) s[i] = &w->t[i];
    qsort(s, (size_t)w->n, sizeof(*s), by_wname);
    for (int i = 1; i < w->n; i++) CHECK(strcmp(s[i - 1]->name, s[i]->name) != 0, "tensor '%s' added twice", s[i]->name);
    free(s);

    strbuf hdr = {0};
    build_header(w, &hdr);
    tr_afile f;
    int rc = tr_afile_open(&f, path, err);
    if (rc) goto done;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.n >> (8 * i));
    tr_afile_write(&f, len8, 8);
    tr_afile_write(&f, hdr.p, hdr.n);
    for (int i = 0; i < w->n; i++) tr_afile_write(&f, w->t[i].data, w->t[i].nbytes);
    rc = tr_afile_commit(&f, err);
done:
    free(hdr.p);
    return rc;
}
