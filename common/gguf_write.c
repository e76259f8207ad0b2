// gguf_write.c: the GGUF writer. KVs are deep copies; tensors are pointers to the caller's data. The file
// is written to PATH.tmp.PID beside PATH, synced, and renamed, so no half-written file is ever left.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/afile.h"
#include "common/gguf.h"

typedef struct {
    char *key;
    gguf_value val;
} wkv;

typedef struct {
    char *name;
    uint32_t type;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    size_t nbytes;
    const void *data;
} wtensor;

struct gguf_writer {
    wkv *kv;
    int n_kv, cap_kv;
    wtensor *t;
    int n_t, cap_t;
};

static size_t scalar_size(gguf_vtype t) {
    static const uint8_t sizes[GGUF_VAL_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < GGUF_VAL_COUNT ? sizes[t] : 0;
}

static void *memdup(const void *p, size_t n) {
    void *q = tr_malloc(n);
    if (n) memcpy(q, p, n);
    return q;
}

static void copy_value(gguf_value *dst, const gguf_value *src, int depth) {
    CHECK((unsigned)src->type < GGUF_VAL_COUNT, "unknown value type %u", (unsigned)src->type);
    CHECK(depth < 8, "arrays nested deeper than 8 levels");
    *dst = *src;
    if (src->type == GGUF_VAL_BOOL) CHECK(src->u <= 1, "bool value %llu", (unsigned long long)src->u);
    if (src->type == GGUF_VAL_STRING) dst->str.s = memdup(src->str.s, (size_t)src->str.len + 1);
    if (src->type != GGUF_VAL_ARRAY) return;
    gguf_vtype e = src->arr.elem;
    size_t n = (size_t)src->arr.n;
    CHECK((unsigned)e < GGUF_VAL_COUNT, "unknown array element type %u", (unsigned)e);
    CHECK(n == 0 || src->arr.items, "array of %zu elements without items", n);
    if (scalar_size(e)) {
        dst->arr.items = memdup(src->arr.items, n * scalar_size(e));
        if (e == GGUF_VAL_BOOL)
            for (size_t i = 0; i < n; i++) CHECK(((const uint8_t *)src->arr.items)[i] <= 1, "bool element %zu is not 0 or 1", i);
    } else if (e == GGUF_VAL_STRING) {
        const gguf_str *s = src->arr.items;
        gguf_str *d = tr_malloc(sizeof(*d) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) d[i] = (gguf_str){memdup(s[i].s, (size_t)s[i].len + 1), s[i].len};
        dst->arr.items = d;
    } else {
        const gguf_value *s = src->arr.items;
        gguf_value *d = tr_malloc(sizeof(*d) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            CHECK(s[i].type == GGUF_VAL_ARRAY, "element %zu of an array of arrays is %u", i, (unsigned)s[i].type);
            copy_value(&d[i], &s[i], depth + 1);
        }
        dst->arr.items = d;
    }
}

static void free_value(gguf_value *v) {
    if (v->type == GGUF_VAL_STRING) free((char *)v->str.s);
    if (v->type != GGUF_VAL_ARRAY) return;
    if (v->arr.elem == GGUF_VAL_STRING)
        for (uint64_t i = 0; i < v->arr.n; i++) free((char *)((const gguf_str *)v->arr.items)[i].s);
    if (v->arr.elem == GGUF_VAL_ARRAY)
        for (uint64_t i = 0; i < v->arr.n; i++) free_value((gguf_value *)v->arr.items + i);
    free((void *)v->arr.items);
}

gguf_writer *gguf_writer_init(void) { return tr_calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free_value(&w->kv[i].val);
    }
    for (int i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

void gguf_set_val(gguf_writer *w, const char *key, const gguf_value *v) {
    CHECK(key && key[0], "empty metadata key");
    gguf_value copy;
    copy_value(&copy, v, 0);
    for (int i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, key)) {
            free_value(&w->kv[i].val);
            w->kv[i].val = copy;
            return;
        }
    if (w->n_kv == w->cap_kv) w->kv = tr_realloc(w->kv, sizeof(*w->kv) * (size_t)(w->cap_kv = 2 * w->cap_kv + 16));
    w->kv[w->n_kv++] = (wkv){tr_strdup(key), copy};
}

#define SETTER(fn, ctype, vt, field)                                          \
    void fn(gguf_writer *w, const char *key, ctype v) {                     \
        gguf_value x = {.type = vt};                                        \
        x.field = v;                                                        \
        gguf_set_val(w, key, &x);                                           \
    }
SETTER(gguf_set_u8, uint8_t, GGUF_VAL_UINT8, u)
SETTER(gguf_set_i8, int8_t, GGUF_VAL_INT8, i)
SETTER(gguf_set_u16, uint16_t, GGUF_VAL_UINT16, u)
SETTER(gguf_set_i16, int16_t, GGUF_VAL_INT16, i)
SETTER(gguf_set_u32, uint32_t, GGUF_VAL_UINT32, u)
SETTER(gguf_set_i32, int32_t, GGUF_VAL_INT32, i)
SETTER(gguf_set_u64, uint64_t, GGUF_VAL_UINT64, u)
SETTER(gguf_set_i64, int64_t, GGUF_VAL_INT64, i)
SETTER(gguf_set_f32, float, GGUF_VAL_FLOAT32, f32)
SETTER(gguf_set_f64, double, GGUF_VAL_FLOAT64, f64)
#undef SETTER

void gguf_set_bool(gguf_writer *w, const char *key, int v) {
    gguf_value x = {.type = GGUF_VAL_BOOL, .u = v != 0};
    gguf_set_val(w, key, &x);
}

void gguf_set_str(gguf_writer *w, const char *key, const char *v) {
    gguf_value x = {.type = GGUF_VAL_STRING, .str = {v, strlen(v)}};
    gguf_set_val(w, key, &x);
}

void gguf_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *values, size_t n) {
    CHECK(scalar_size(elem) > 0, "gguf_set_arr wants a scalar element type, got %u (use gguf_set_arr_str / gguf_set_val)", (unsigned)elem);
    gguf_value x = {.type = GGUF_VAL_ARRAY, .arr = {elem, n, values}};
    gguf_set_val(w, key, &x);
}

void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, size_t n) {
    gguf_str *s = tr_malloc(sizeof(*s) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) s[i] = (gguf_str){strs[i], strlen(strs[i])};
    gguf_value x = {.type = GGUF_VAL_ARRAY, .arr = {GGUF_VAL_STRING, n, s}};
    gguf_set_val(w, key, &x);
    free(s);
}

void gguf_add_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne, const void *data) {
    CHECK(name && strlen(name) < 64, "tensor name '%s' must be 1..63 bytes (llama.cpp's limit)", name ? name : "(null)");
    CHECK(gguf_type_name(type), "tensor '%s': unknown type %u", name, type);
    CHECK(n_dims >= 1 && n_dims <= GGUF_MAX_DIMS, "tensor '%s': %d dims", name, n_dims);
    for (int i = 0; i < w->n_t; i++) CHECK(strcmp(w->t[i].name, name) != 0, "tensor '%s' added twice", name);
    wtensor t = {.name = tr_strdup(name), .type = type, .n_dims = n_dims, .data = data};
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    uint64_t nbytes;
    CHECK(gguf_nbytes(&nbytes, type, n_dims, t.ne) == 0, "tensor '%s': shape does not fit type %s (block size %u)", name,
          gguf_type_name(type), gguf_blck_size(type));
    CHECK(nbytes == 0 || data, "tensor '%s' has no data", name);
    t.nbytes = (size_t)nbytes;
    if (w->n_t == w->cap_t) w->t = tr_realloc(w->t, sizeof(*w->t) * (size_t)(w->cap_t = 2 * w->cap_t + 16));
    w->t[w->n_t++] = t;
}

// ---------------------------------------------------------------------------------------------------
// Serialization of the metadata and tensor infos into one buffer

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 65536;
        b->p = tr_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }   // little-endian host (gguf.c checks)
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }

static void put_str(buf *b, const char *s, uint64_t len) {
    put_u64(b, len);
    put(b, s, (size_t)len);
}

static void put_value(buf *b, const gguf_value *v) {
    size_t sz = scalar_size(v->type);
    if (sz) {
        put(b, v->type == GGUF_VAL_FLOAT32 ? (const void *)&v->f32 : v->type == GGUF_VAL_FLOAT64 ? (const void *)&v->f64
                                                                                                  : (const void *)&v->u,
            sz);   // the low bytes of u / i are the value
    } else if (v->type == GGUF_VAL_STRING) {
        put_str(b, v->str.s, v->str.len);
    } else {
        put_u32(b, v->arr.elem);
        put_u64(b, v->arr.n);
        size_t es = scalar_size(v->arr.elem);
        if (es) put(b, v->arr.items, (size_t)v->arr.n * es);
        for (uint64_t i = 0; !es && i < v->arr.n; i++) {
            if (v->arr.elem == GGUF_VAL_STRING) put_str(b, ((const gguf_str *)v->arr.items)[i].s, ((const gguf_str *)v->arr.items)[i].len);
            else put_value(b, (const gguf_value *)v->arr.items + i);
        }
    }
}

static uint64_t align_up(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

static uint32_t writer_alignment(const gguf_writer *w) {
    for (int i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, "general.alignment")) {
            const gguf_value *v = &w->kv[i].val;
            CHECK(v->type == GGUF_VAL_UINT32 && v->u && !(v->u & (v->u - 1)), "general.alignment must be a UINT32 power of two");
            return (uint32_t)v->u;
        }
    return GGUF_DEFAULT_ALIGNMENT;
}

int gguf_writer_write(const gguf_writer *w, const char *path, tr_err *err) {
    uint32_t align = writer_alignment(w);
    buf b = {0};
    put(&b, GGUF_MAGIC, 4);
    put_u32(&b, GGUF_VERSION);
    put_u64(&b, (uint64_t)w->n_t);
    put_u64(&b, (uint64_t)w->n_kv);
    for (int i = 0; i < w->n_kv; i++) {
        put_str(&b, w->kv[i].key, strlen(w->kv[i].key));
        put_u32(&b, w->kv[i].val.type);
        put_value(&b, &w->kv[i].val);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(&b, t->name, strlen(t->name));
        put_u32(&b, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&b, (uint64_t)t->ne[d]);
        put_u32(&b, t->type);
        put_u64(&b, off);
        off = align_up(off + t->nbytes, align);
    }
    static const unsigned char zeros[4096] = {0};
    CHECK(align <= sizeof(zeros), "alignment %u is larger than %zu", align, sizeof(zeros));
    put(&b, zeros, (size_t)(align_up(b.n, align) - b.n));

    tr_afile f;
    int rc = tr_afile_open(&f, path, err);
    if (rc) goto done;
    tr_afile_write(&f, b.p, b.n);
    for (int i = 0; i < w->n_t; i++) {
        size_t n = w->t[i].nbytes;
        tr_afile_write(&f, w->t[i].data, n);
        tr_afile_write(&f, zeros, (size_t)(align_up(n, align) - n));
    }
    rc = tr_afile_commit(&f, err);
done:
    free(b.p);
    return rc;
}
