// gguf.c: the GGUF type table, and the memory-mapped reader that validates a whole file before use.
// The writer is in gguf_write.c.
#include "common/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian files with memcpy: port it before building on a big-endian host"
#endif

// ---------------------------------------------------------------------------------------------------
// Types

typedef struct {
    const char *name;
    uint32_t blck, size;   // elements and bytes per block
} type_traits;

static const type_traits traits[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_F32] = {"F32", 1, 4},           [GGUF_TYPE_F16] = {"F16", 1, 2},
    [GGUF_TYPE_Q4_0] = {"Q4_0", 32, 18},       [GGUF_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [GGUF_TYPE_Q5_0] = {"Q5_0", 32, 22},       [GGUF_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [GGUF_TYPE_Q8_0] = {"Q8_0", 32, 34},       [GGUF_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [GGUF_TYPE_Q2_K] = {"Q2_K", 256, 84},      [GGUF_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [GGUF_TYPE_Q4_K] = {"Q4_K", 256, 144},     [GGUF_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [GGUF_TYPE_Q6_K] = {"Q6_K", 256, 210},     [GGUF_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [GGUF_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [GGUF_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [GGUF_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [GGUF_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [GGUF_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},   [GGUF_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [GGUF_TYPE_IQ2_S] = {"IQ2_S", 256, 82},    [GGUF_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [GGUF_TYPE_I8] = {"I8", 1, 1},             [GGUF_TYPE_I16] = {"I16", 1, 2},
    [GGUF_TYPE_I32] = {"I32", 1, 4},           [GGUF_TYPE_I64] = {"I64", 1, 8},
    [GGUF_TYPE_F64] = {"F64", 1, 8},           [GGUF_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [GGUF_TYPE_BF16] = {"BF16", 1, 2},         [GGUF_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [GGUF_TYPE_TQ2_0] = {"TQ2_0", 256, 66},    [GGUF_TYPE_I2_S] = {"I2_S", 1, 1},
    [GGUF_TYPE_MXFP4] = {"MXFP4", 32, 17},     [GGUF_TYPE_NVFP4] = {"NVFP4", 64, 36},
};

const char *gguf_type_name(uint32_t type) { return type < GGUF_TYPE_COUNT ? traits[type].name : NULL; }
uint32_t gguf_blck_size(uint32_t type) { return type < GGUF_TYPE_COUNT ? traits[type].blck : 0; }
uint32_t gguf_type_size(uint32_t type) { return type < GGUF_TYPE_COUNT ? traits[type].size : 0; }

static const char *vtype_names[GGUF_VAL_COUNT] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                                  "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
static const uint8_t vtype_sizes[GGUF_VAL_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};   // 0: not a scalar

const char *gguf_vtype_name(uint32_t vtype) { return vtype < GGUF_VAL_COUNT ? vtype_names[vtype] : "?"; }

int gguf_nbytes(uint64_t *out, uint32_t type, int n_dims, const int64_t *ne) {
    uint32_t blck = gguf_blck_size(type);
    if (blck == 0 || n_dims < 0 || n_dims > GGUF_MAX_DIMS) return -1;
    uint64_t n = 1, rows = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0 || __builtin_mul_overflow(n, (uint64_t)ne[d], &n) || n > (uint64_t)INT64_MAX) return -1;
        if (d > 0) rows *= (uint64_t)ne[d];
    }
    if (type == GGUF_TYPE_I2_S) {   // bitnet.cpp: 2-bit codes of the whole tensor, then a 32-byte tail
        if (n % 4) return -1;
        *out = n / 4 + 32;
        return 0;
    }
    uint64_t ne0 = n_dims > 0 ? (uint64_t)ne[0] : 1, row;
    if (ne0 % blck) return -1;
    if (__builtin_mul_overflow(ne0 / blck, (uint64_t)traits[type].size, &row) || __builtin_mul_overflow(row, rows, out))
        return -1;
    return 0;
}

int64_t gguf_nelements(const gguf_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

// ---------------------------------------------------------------------------------------------------
// Reader state: the mapping, the parsed KVs and tensor infos, and a pool for the copied strings

typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    alignas(16) unsigned char data[];
} pool_chunk;

struct gguf_file {
    char *path;
    void *map;
    size_t size, data_off;
    uint32_t version, alignment;
    gguf_kv *kv;
    int n_kv;
    gguf_tensor *t;
    int n_t;
    const gguf_kv **kv_sorted;       // by key, for gguf_find
    const gguf_tensor **t_sorted;    // by name, for gguf_find_tensor
    pool_chunk *pool;
};

static void *pool_alloc(gguf_file *f, size_t bytes) {
    bytes = (bytes + 15) & ~(size_t)15;
    if (!f->pool || f->pool->cap - f->pool->used < bytes) {
        size_t cap = bytes > (1u << 20) ? bytes : (1u << 20);
        pool_chunk *c = tr_malloc(sizeof(*c) + cap);
        c->next = f->pool, c->used = 0, c->cap = cap;
        f->pool = c;
    }
    void *p = f->pool->data + f->pool->used;
    f->pool->used += bytes;
    return p;
}

// A cursor over the mapped file. `what` names the item being read, for messages.
typedef struct {
    gguf_file *f;
    const unsigned char *p;
    size_t size, pos;
    char what[200];
    tr_err *err;
} rd;

static int need(rd *r, uint64_t n) {
    if (n <= r->size - r->pos) return 0;
    return tr_fail(r->err, "%s: truncated: %s at byte %zu needs %llu bytes, but the file ends at byte %zu", r->f->path,
                   r->what, r->pos, (unsigned long long)n, r->size);
}

static uint64_t get_le(rd *r, int bytes) {   // after need()
    uint64_t v = 0;
    memcpy(&v, r->p + r->pos, (size_t)bytes);
    r->pos += (size_t)bytes;
    return v;
}

static int read_str(rd *r, gguf_str *out) {
    if (need(r, 8)) return -1;
    uint64_t n = get_le(r, 8);
    if (need(r, n)) return -1;
    char *s = pool_alloc(r->f, (size_t)n + 1);
    memcpy(s, r->p + r->pos, (size_t)n);
    s[n] = '\0';
    r->pos += (size_t)n;
    out->s = s, out->len = n;
    return 0;
}

static int read_value(rd *r, gguf_value *v, uint32_t type, int depth) {
    if (type >= GGUF_VAL_COUNT) return tr_fail(r->err, "%s: %s has unknown value type %u", r->f->path, r->what, type);
    v->type = (gguf_vtype)type;
    size_t esz = vtype_sizes[type];
    if (esz) {
        if (need(r, esz)) return -1;
        uint64_t raw = get_le(r, (int)esz);
        switch (type) {
        case GGUF_VAL_INT8: v->i = (int8_t)raw; break;
        case GGUF_VAL_INT16: v->i = (int16_t)raw; break;
        case GGUF_VAL_INT32: v->i = (int32_t)raw; break;
        case GGUF_VAL_INT64: v->i = (int64_t)raw; break;
        case GGUF_VAL_FLOAT32: memcpy(&v->f32, &raw, 4); break;
        case GGUF_VAL_FLOAT64: memcpy(&v->f64, &raw, 8); break;
        case GGUF_VAL_BOOL:
            if (raw > 1) return tr_fail(r->err, "%s: %s: bool value %llu is not 0 or 1", r->f->path, r->what, (unsigned long long)raw);
            /* fall through */
        default: v->u = raw;
        }
        return 0;
    }
    if (type == GGUF_VAL_STRING) return read_str(r, &v->str);

    if (need(r, 12)) return -1;   // array: u32 element type, u64 count, elements
    uint32_t elem = (uint32_t)get_le(r, 4);
    uint64_t n = get_le(r, 8);
    if (elem >= GGUF_VAL_COUNT) return tr_fail(r->err, "%s: %s is an array of unknown value type %u", r->f->path, r->what, elem);
    if (depth >= 8) return tr_fail(r->err, "%s: %s: arrays nested deeper than 8 levels", r->f->path, r->what);
    v->arr.elem = (gguf_vtype)elem;
    v->arr.n = n;
    size_t min = vtype_sizes[elem] ? vtype_sizes[elem] : elem == GGUF_VAL_STRING ? 8 : 12;   // bytes per element, at least
    if (n > (r->size - r->pos) / min)
        return tr_fail(r->err, "%s: truncated: %s holds %llu %s elements, more than the %zu bytes left in the file", r->f->path,
                       r->what, (unsigned long long)n, vtype_names[elem], r->size - r->pos);
    if (vtype_sizes[elem]) {   // scalars stay in the mapping
        v->arr.items = r->p + r->pos;
        if (elem == GGUF_VAL_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (r->p[r->pos + i] > 1)
                    return tr_fail(r->err, "%s: %s: bool element %llu is %u, not 0 or 1", r->f->path, r->what,
                                   (unsigned long long)i, r->p[r->pos + i]);
        r->pos += (size_t)n * min;
        return 0;
    }
    if (elem == GGUF_VAL_STRING) {
        gguf_str *s = pool_alloc(r->f, sizeof(*s) * (size_t)n);
        for (uint64_t i = 0; i < n; i++)
            if (read_str(r, &s[i])) return -1;
        v->arr.items = s;
        return 0;
    }
    gguf_value *a = pool_alloc(r->f, sizeof(*a) * (size_t)n);
    for (uint64_t i = 0; i < n; i++)
        if (read_value(r, &a[i], GGUF_VAL_ARRAY, depth + 1)) return -1;
    v->arr.items = a;
    return 0;
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

static int by_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int read_kvs(rd *r, uint64_t n_kv) {
    gguf_file *f = r->f;
    f->kv = tr_calloc((size_t)n_kv ? (size_t)n_kv : 1, sizeof(*f->kv));
    for (uint64_t i = 0; i < n_kv; i++, f->n_kv++) {
        gguf_str key;
        snprintf(r->what, sizeof(r->what), "the key of metadata entry %llu", (unsigned long long)i);
        if (read_str(r, &key)) return -1;
        f->kv[i].key = key.s;
        snprintf(r->what, sizeof(r->what), "the type of key '%.100s'", key.s);
        if (need(r, 4)) return -1;
        uint32_t type = (uint32_t)get_le(r, 4);
        snprintf(r->what, sizeof(r->what), "key '%.100s'", key.s);
        if (read_value(r, &f->kv[i].val, type, 0)) return -1;
    }
    f->kv_sorted = tr_malloc(sizeof(*f->kv_sorted) * (size_t)(f->n_kv ? f->n_kv : 1));
    for (int i = 0; i < f->n_kv; i++) f->kv_sorted[i] = &f->kv[i];
    qsort(f->kv_sorted, (size_t)f->n_kv, sizeof(*f->kv_sorted), by_key);
    for (int i = 1; i < f->n_kv; i++)
        if (!strcmp(f->kv_sorted[i - 1]->key, f->kv_sorted[i]->key))
            return tr_fail(r->err, "%s: key '%s' appears twice", f->path, f->kv_sorted[i]->key);
    return 0;
}

static int read_tensor_info(rd *r, gguf_tensor *t, uint64_t i) {
    const char *path = r->f->path;
    gguf_str name;
    snprintf(r->what, sizeof(r->what), "the name of tensor info %llu", (unsigned long long)i);
    if (read_str(r, &name)) return -1;
    t->name = name.s;
    snprintf(r->what, sizeof(r->what), "the info of tensor '%.100s'", name.s);
    if (need(r, 4)) return -1;
    uint32_t n_dims = (uint32_t)get_le(r, 4);
    if (n_dims > GGUF_MAX_DIMS) return tr_fail(r->err, "%s: tensor '%s' has %u dims (at most %d)", path, name.s, n_dims, GGUF_MAX_DIMS);
    if (need(r, 8ull * n_dims + 12)) return -1;
    t->n_dims = (int)n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t v = d < (int)n_dims ? get_le(r, 8) : 1;
        if (v > (uint64_t)INT64_MAX) return tr_fail(r->err, "%s: tensor '%s' dim %d is negative or too large", path, name.s, d);
        t->ne[d] = (int64_t)v;
    }
    t->type = (uint32_t)get_le(r, 4);
    t->offset = get_le(r, 8);
    uint64_t nbytes;
    if (!gguf_type_name(t->type)) return tr_fail(r->err, "%s: tensor '%s' has unknown type %u", path, name.s, t->type);
    if (gguf_nbytes(&nbytes, t->type, t->n_dims, t->ne) || nbytes > SIZE_MAX) {
        uint32_t blck = t->type == GGUF_TYPE_I2_S ? 4 : gguf_blck_size(t->type);
        int64_t n0 = t->type == GGUF_TYPE_I2_S ? t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] : t->ne[0];
        if (n0 % blck)
            return tr_fail(r->err, "%s: tensor '%s' is %s with %s%lld elements, not a multiple of its block size %u", path,
                           name.s, gguf_type_name(t->type), t->type == GGUF_TYPE_I2_S ? "" : "rows of ", (long long)n0, blck);
        return tr_fail(r->err, "%s: tensor '%s' has a shape too large to address", path, name.s);
    }
    t->nbytes = (size_t)nbytes;
    return 0;
}

// Alignment, data section, per-tensor ranges and overlaps, then the by-name index.
static int place_tensors(rd *r) {
    gguf_file *f = r->f;
    const gguf_value *al = gguf_find(f, "general.alignment");
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (al) {
        if (al->type != GGUF_VAL_UINT32 || al->u == 0 || (al->u & (al->u - 1)))
            return tr_fail(r->err, "%s: general.alignment must be a UINT32 power of two, got %s %llu", f->path,
                           vtype_names[al->type], (unsigned long long)al->u);
        f->alignment = (uint32_t)al->u;
    }
    f->data_off = (r->pos + f->alignment - 1) / f->alignment * f->alignment;
    size_t avail = f->data_off <= f->size ? f->size - f->data_off : 0;
    const gguf_tensor **o = tr_malloc(sizeof(*o) * (size_t)(f->n_t ? f->n_t : 1));
    int rc = 0;
    for (int i = 0; i < f->n_t && !rc; i++) {
        gguf_tensor *t = &f->t[i];
        o[i] = t;
        if (t->offset % f->alignment)
            rc = tr_fail(r->err, "%s: tensor '%s' offset %llu is not a multiple of the alignment %u", f->path, t->name,
                         (unsigned long long)t->offset, f->alignment);
        else if (t->offset > avail || t->nbytes > avail - t->offset)
            rc = tr_fail(r->err, "%s: tensor '%s' data [%llu, %llu) runs past the end of the file (%zu bytes)", f->path, t->name,
                         (unsigned long long)(f->data_off + t->offset), (unsigned long long)(f->data_off + t->offset + t->nbytes), f->size);
        else
            t->data = (const unsigned char *)f->map + f->data_off + t->offset;
    }
    if (!rc) {
        qsort(o, (size_t)f->n_t, sizeof(*o), by_offset);
        const gguf_tensor *prev = NULL;
        for (int i = 0; i < f->n_t && !rc; i++) {
            if (o[i]->nbytes == 0) continue;
            if (prev && prev->offset + prev->nbytes > o[i]->offset)
                rc = tr_fail(r->err, "%s: tensors '%s' and '%s' overlap (data at offsets %llu and %llu, %zu bytes)", f->path,
                             prev->name, o[i]->name, (unsigned long long)prev->offset, (unsigned long long)o[i]->offset, prev->nbytes);
            prev = o[i];
        }
    }
    free(o);
    if (rc) return rc;
    f->t_sorted = tr_malloc(sizeof(*f->t_sorted) * (size_t)(f->n_t ? f->n_t : 1));
    for (int i = 0; i < f->n_t; i++) f->t_sorted[i] = &f->t[i];
    qsort(f->t_sorted, (size_t)f->n_t, sizeof(*f->t_sorted), by_name);
    for (int i = 1; i < f->n_t; i++)
        if (!strcmp(f->t_sorted[i - 1]->name, f->t_sorted[i]->name))
            return tr_fail(r->err, "%s: tensor '%s' appears twice", f->path, f->t_sorted[i]->name);
    return 0;
}

static int parse(gguf_file *f, tr_err *err) {
    rd r = {.f = f, .p = f->map, .size = f->size, .err = err};
    if (f->size < 4 || memcmp(f->map, GGUF_MAGIC, 4) != 0) {
        unsigned char m[4] = {0};
        memcpy(m, f->map, f->size < 4 ? f->size : 4);
        return tr_fail(err, "%s: not a GGUF file (starts with bytes %02x %02x %02x %02x, want \"GGUF\")", f->path, m[0], m[1], m[2], m[3]);
    }
    r.pos = 4;
    snprintf(r.what, sizeof(r.what), "the header");
    if (need(&r, 20)) return -1;
    f->version = (uint32_t)get_le(&r, 4);
    if (f->version != 2 && f->version != 3) {
        if (f->version == 1) return tr_fail(err, "%s: GGUF version 1 is not supported (versions 2 and 3 are)", f->path);
        if ((f->version & 0xffff) == 0) return tr_fail(err, "%s: big-endian GGUF (version %u byte-swapped) is not supported", f->path,
                                                       __builtin_bswap32(f->version));
        return tr_fail(err, "%s: unsupported GGUF version %u (versions 2 and 3 are)", f->path, f->version);
    }
    uint64_t n_t = get_le(&r, 8), n_kv = get_le(&r, 8);
    uint64_t room = f->size - 24;   // every KV takes at least 13 bytes, every tensor info 24
    if (n_t > room / 24 || n_kv > room / 13 || n_t * 24 + n_kv * 13 > room)
        return tr_fail(err, "%s: header claims %llu tensors and %llu metadata keys, more than its %zu bytes can hold (truncated or corrupt)",
                       f->path, (unsigned long long)n_t, (unsigned long long)n_kv, f->size);
    if (read_kvs(&r, n_kv)) return -1;
    f->t = tr_calloc((size_t)n_t ? (size_t)n_t : 1, sizeof(*f->t));
    for (uint64_t i = 0; i < n_t; i++, f->n_t++)
        if (read_tensor_info(&r, &f->t[i], i)) return -1;
    return place_tensors(&r);
}

int gguf_open(gguf_file **out, const char *path, tr_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: not a regular file", path);
    }
    if (sb.st_size < 24) {
        unsigned char m[4] = {0};
        ssize_t got = read(fd, m, 4);
        close(fd);
        if (got == 4 && memcmp(m, GGUF_MAGIC, 4) == 0)
            return tr_fail(err, "%s: truncated: %lld bytes, a GGUF header takes 24", path, (long long)sb.st_size);
        return tr_fail(err, "%s: not a GGUF file (%lld bytes, too short for a GGUF header)", path, (long long)sb.st_size);
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return tr_fail(err, "%s: cannot map: %s", path, strerror(e));
    gguf_file *f = tr_calloc(1, sizeof(*f));
    f->path = tr_strdup(path);
    f->map = map;
    f->size = (size_t)sb.st_size;
    if (parse(f, err)) {
        gguf_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    while (f->pool) {
        pool_chunk *next = f->pool->next;
        free(f->pool);
        f->pool = next;
    }
    free(f->kv);
    free(f->t);
    free(f->kv_sorted);
    free(f->t_sorted);
    free(f->path);
    free(f);
}

const char *gguf_path(const gguf_file *f) { return f->path; }
uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
size_t gguf_data_offset(const gguf_file *f) { return f->data_off; }
int gguf_n_kv(const gguf_file *f) { return f->n_kv; }
int gguf_n_tensors(const gguf_file *f) { return f->n_t; }

const gguf_kv *gguf_kv_at(const gguf_file *f, int i) {
    CHECK(i >= 0 && i < f->n_kv, "key index %d out of range [0, %d)", i, f->n_kv);
    return &f->kv[i];
}

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int i) {
    CHECK(i >= 0 && i < f->n_t, "tensor index %d out of range [0, %d)", i, f->n_t);
    return &f->t[i];
}

const gguf_value *gguf_find(const gguf_file *f, const char *key) {
    int lo = 0, hi = f->kv_sorted ? f->n_kv - 1 : -1;   // kv_sorted is NULL while the KVs are parsed
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->kv_sorted[mid]->key, key);
        if (c == 0) return &f->kv_sorted[mid]->val;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    int lo = 0, hi = f->n_t - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->t_sorted[mid]->name, name);
        if (c == 0) return f->t_sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------------------
// Typed getters

static int lookup(const gguf_file *f, const char *key, const gguf_value **v, tr_err *err) {
    *v = gguf_find(f, key);
    return *v ? 0 : tr_fail(err, "%s: key '%s' is missing", f->path, key);
}

static int is_unsigned(gguf_vtype t) {
    return t == GGUF_VAL_UINT8 || t == GGUF_VAL_UINT16 || t == GGUF_VAL_UINT32 || t == GGUF_VAL_UINT64;
}

static int is_signed(gguf_vtype t) {
    return t == GGUF_VAL_INT8 || t == GGUF_VAL_INT16 || t == GGUF_VAL_INT32 || t == GGUF_VAL_INT64;
}

// An integer value within [lo, hi] (hi <= INT64_MAX unless lo == 0), as uint64 bits.
static int get_int(const gguf_file *f, const char *key, int64_t lo, uint64_t hi, const char *want, uint64_t *out, tr_err *err) {
    const gguf_value *v;
    if (lookup(f, key, &v, err)) return -1;
    if (is_unsigned(v->type)) {
        if (v->u > hi) return tr_fail(err, "%s: key '%s' value %llu does not fit %s", f->path, key, (unsigned long long)v->u, want);
        *out = v->u;
        return 0;
    }
    if (is_signed(v->type)) {
        if (v->i < lo || (v->i >= 0 && (uint64_t)v->i > hi))
            return tr_fail(err, "%s: key '%s' value %lld does not fit %s", f->path, key, (long long)v->i, want);
        *out = (uint64_t)v->i;
        return 0;
    }
    return tr_fail(err, "%s: key '%s' is %s, want an integer (%s)", f->path, key, vtype_names[v->type], want);
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, tr_err *err) {
    uint64_t v;
    if (get_int(f, key, 0, UINT32_MAX, "UINT32", &v, err)) return -1;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, tr_err *err) {
    return get_int(f, key, 0, UINT64_MAX, "UINT64", out, err);
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, tr_err *err) {
    uint64_t v;
    if (get_int(f, key, INT64_MIN, INT64_MAX, "INT64", &v, err)) return -1;
    *out = (int64_t)v;
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, tr_err *err) {
    const gguf_value *v;
    if (lookup(f, key, &v, err)) return -1;
    if (v->type == GGUF_VAL_FLOAT32) *out = v->f32;
    else if (v->type == GGUF_VAL_FLOAT64) *out = (float)v->f64;
    else return tr_fail(err, "%s: key '%s' is %s, want FLOAT32", f->path, key, vtype_names[v->type]);
    return 0;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out, tr_err *err) {
    const gguf_value *v;
    if (lookup(f, key, &v, err)) return -1;
    if (v->type != GGUF_VAL_BOOL) return tr_fail(err, "%s: key '%s' is %s, want BOOL", f->path, key, vtype_names[v->type]);
    *out = (int)v->u;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, const char **out, tr_err *err) {
    const gguf_value *v;
    if (lookup(f, key, &v, err)) return -1;
    if (v->type != GGUF_VAL_STRING) return tr_fail(err, "%s: key '%s' is %s, want STRING", f->path, key, vtype_names[v->type]);
    *out = v->str.s;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_value **out, tr_err *err) {
    const gguf_value *v;
    if (lookup(f, key, &v, err)) return -1;
    if (v->type != GGUF_VAL_ARRAY)
        return tr_fail(err, "%s: key '%s' is %s, want an array%s%s", f->path, key, vtype_names[v->type],
                       elem < GGUF_VAL_COUNT ? " of " : "", elem < GGUF_VAL_COUNT ? vtype_names[elem] : "");
    if (elem < GGUF_VAL_COUNT && v->arr.elem != elem)
        return tr_fail(err, "%s: key '%s' is an array of %s, want an array of %s", f->path, key, vtype_names[v->arr.elem], vtype_names[elem]);
    *out = v;
    return 0;
}

int gguf_opt_u32(const gguf_file *f, const char *key, uint32_t *out, tr_err *err) {
    return gguf_find(f, key) ? gguf_get_u32(f, key, out, err) : 0;
}

int gguf_opt_f32(const gguf_file *f, const char *key, float *out, tr_err *err) {
    return gguf_find(f, key) ? gguf_get_f32(f, key, out, err) : 0;
}

int gguf_opt_str(const gguf_file *f, const char *key, const char **out, tr_err *err) {
    return gguf_find(f, key) ? gguf_get_str(f, key, out, err) : 0;
}

// ---------------------------------------------------------------------------------------------------
// Array elements

static const unsigned char *elem_at(const gguf_value *a, uint64_t i) {
    CHECK(a->type == GGUF_VAL_ARRAY && i < a->arr.n, "array element %llu of %llu", (unsigned long long)i,
          a->type == GGUF_VAL_ARRAY ? (unsigned long long)a->arr.n : 0ull);
    return (const unsigned char *)a->arr.items + i * vtype_sizes[a->arr.elem];
}

int64_t gguf_arr_int(const gguf_value *a, uint64_t i) {
    const unsigned char *p = elem_at(a, i);
    uint64_t u = 0;
    memcpy(&u, p, vtype_sizes[a->arr.elem]);
    switch (a->arr.elem) {
    case GGUF_VAL_INT8: return (int8_t)u;
    case GGUF_VAL_INT16: return (int16_t)u;
    case GGUF_VAL_INT32: return (int32_t)u;
    case GGUF_VAL_UINT8: case GGUF_VAL_UINT16: case GGUF_VAL_UINT32: case GGUF_VAL_UINT64: case GGUF_VAL_INT64:
    case GGUF_VAL_BOOL: return (int64_t)u;
    default: CHECK(0, "gguf_arr_int on an array of %s", vtype_names[a->arr.elem]);
    }
}

double gguf_arr_float(const gguf_value *a, uint64_t i) {
    const unsigned char *p = elem_at(a, i);
    if (a->arr.elem == GGUF_VAL_FLOAT32) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    CHECK(a->arr.elem == GGUF_VAL_FLOAT64, "gguf_arr_float on an array of %s", vtype_names[a->arr.elem]);
    double d;
    memcpy(&d, p, 8);
    return d;
}

const gguf_str *gguf_arr_str(const gguf_value *a, uint64_t i) {
    CHECK(a->type == GGUF_VAL_ARRAY && a->arr.elem == GGUF_VAL_STRING && i < a->arr.n, "gguf_arr_str: not a string array or index out of range");
    return (const gguf_str *)a->arr.items + i;
}

const gguf_value *gguf_arr_val(const gguf_value *a, uint64_t i) {
    CHECK(a->type == GGUF_VAL_ARRAY && a->arr.elem == GGUF_VAL_ARRAY && i < a->arr.n, "gguf_arr_val: not a nested array or index out of range");
    return (const gguf_value *)a->arr.items + i;
}
