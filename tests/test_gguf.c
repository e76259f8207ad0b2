// test_gguf.c: the GGUF container (common/gguf.h). The writer's bytes against a hand-assembled file; a
// round trip of every value type, nested arrays, alignment and every tensor type trit computes with; the
// typed getters; and every validation error, on files built byte by byte: one line naming the file.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/gguf.h"
#include "tests/harness.h"

// ---- a byte builder for hand-made files ----

typedef struct {
    unsigned char p[1 << 16];
    size_t n;
} bb;

static void raw(bb *b, const void *s, size_t n) { memcpy(b->p + b->n, s, n), b->n += n; }
static void u32(bb *b, uint32_t v) { raw(b, &v, 4); }
static void u64(bb *b, uint64_t v) { raw(b, &v, 8); }
static void str(bb *b, const char *s) { u64(b, strlen(s)), raw(b, s, strlen(s)); }
static void head(bb *b, uint32_t version, uint64_t n_t, uint64_t n_kv) { b->n = 0, raw(b, "GGUF", 4), u32(b, version), u64(b, n_t), u64(b, n_kv); }
static void kv_u32(bb *b, const char *key, uint32_t v) { str(b, key), u32(b, GGUF_VAL_UINT32), u32(b, v); }
static void tinfo(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    str(b, name), u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) u64(b, ne[d]);
    u32(b, type), u64(b, off);
}
static void pad(bb *b, size_t a) {
    while (b->n % a) b->p[b->n++] = 0;
}
static void zeros(bb *b, size_t n) { memset(b->p + b->n, 0, n), b->n += n; }

static void save(const bb *b, const char *path) { t_write_file(path, b->p, b->n); }

static size_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

// gguf_open must fail with one line that starts with "PATH: " and contains `word`.
static void expect_fail(const char *name, const char *path, const char *word) {
    gguf_file *f = (gguf_file *)1;
    tr_err err = {{0}};
    int rc = gguf_open(&f, path, &err);
    int ok = rc == -1 && f == NULL && !strncmp(err.msg, path, strlen(path)) && !strncmp(err.msg + strlen(path), ": ", 2) &&
             strstr(err.msg, word) && !strchr(err.msg, '\n');
    t_check(ok, name, "rc %d, message '%s' (want '%s: ...%s...')", rc, err.msg, path, word);
    if (rc == 0) gguf_close(f);
}

// ---- the writer's exact bytes ----

static void test_writer_bytes(void) {
    gguf_writer *w = gguf_writer_init();
    gguf_set_u32(w, "a", 7);
    float data[3] = {1, 2, 3};
    int64_t ne[1] = {3};
    gguf_add_tensor(w, "t", GGUF_TYPE_F32, 1, ne, data);
    gguf_add_tensor(w, "u", GGUF_TYPE_F32, 1, ne, data);
    tr_err err = {{0}};
    int rc = gguf_writer_write(w, t_tmp("w.gguf"), &err);
    gguf_writer_free(w);
    bb b;
    head(&b, 3, 2, 1);
    kv_u32(&b, "a", 7);
    uint64_t n3[1] = {3};
    tinfo(&b, "t", 1, n3, GGUF_TYPE_F32, 0);
    tinfo(&b, "u", 1, n3, GGUF_TYPE_F32, 32);   // 12 bytes, padded to 32
    pad(&b, 32);
    raw(&b, data, 12), pad(&b, 32), raw(&b, data, 12), pad(&b, 32);
    FILE *fp = fopen(t_tmp("w.gguf"), "rb");
    unsigned char got[512];
    size_t n = fp ? fread(got, 1, sizeof(got), fp) : 0;
    if (fp) fclose(fp);
    t_check(rc == 0 && n == b.n && !memcmp(got, b.p, n), "writer bytes equal a hand-assembled GGUF v3 file", "rc %d, %zu vs %zu bytes, %s", rc,
            n, b.n, err.msg);
}

// ---- round trip ----

static int value_eq(const gguf_value *a, const gguf_value *b);

static int arr_eq(const gguf_value *a, const gguf_value *b) {
    if (a->arr.elem != b->arr.elem || a->arr.n != b->arr.n) return 0;
    for (uint64_t i = 0; i < a->arr.n; i++) {
        if (a->arr.elem == GGUF_VAL_STRING) {
            const gguf_str *x = gguf_arr_str(a, i), *y = gguf_arr_str(b, i);
            if (x->len != y->len || memcmp(x->s, y->s, (size_t)x->len)) return 0;
        } else if (a->arr.elem == GGUF_VAL_ARRAY) {
            if (!value_eq(gguf_arr_val(a, i), gguf_arr_val(b, i))) return 0;
        } else if (a->arr.elem == GGUF_VAL_FLOAT32 || a->arr.elem == GGUF_VAL_FLOAT64) {
            if (gguf_arr_float(a, i) != gguf_arr_float(b, i)) return 0;
        } else if (gguf_arr_int(a, i) != gguf_arr_int(b, i)) {
            return 0;
        }
    }
    return 1;
}

static int value_eq(const gguf_value *a, const gguf_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case GGUF_VAL_STRING: return a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, (size_t)a->str.len);
    case GGUF_VAL_ARRAY: return arr_eq(a, b);
    case GGUF_VAL_FLOAT32: return a->f32 == b->f32;
    case GGUF_VAL_FLOAT64: return a->f64 == b->f64;
    default: return a->u == b->u;
    }
}

static void test_round_trip(void) {
    gguf_writer *w = gguf_writer_init();
    gguf_set_str(w, "general.architecture", "bitnet");
    gguf_set_u32(w, "general.alignment", 64);
    gguf_set_u8(w, "v.u8", 250);
    gguf_set_i8(w, "v.i8", -100);
    gguf_set_u16(w, "v.u16", 65000);
    gguf_set_i16(w, "v.i16", -30000);
    gguf_set_u32(w, "v.u32", 4000000000u);
    gguf_set_i32(w, "v.i32", -2000000000);
    gguf_set_u64(w, "v.u64", 18000000000000000000ull);
    gguf_set_i64(w, "v.i64", -9000000000000000000ll);
    gguf_set_f32(w, "v.f32", 1.5f);
    gguf_set_f64(w, "v.f64", -2.25);
    gguf_set_bool(w, "v.bool", 1);
    gguf_set_str(w, "v.str", "héllo");
    gguf_set_u32(w, "v.replaced", 1);
    gguf_set_u32(w, "v.replaced", 2);   // replaces in place
    int32_t ints[5] = {-1, 0, 1, 2147483647, -2147483647 - 1};
    float floats[3] = {0.5f, -1e30f, 3.0f};
    uint8_t bools[3] = {1, 0, 1};
    const char *strs[4] = {"a", "", "Ġthe", "\xe2\x82\xac"};
    gguf_set_arr(w, "a.i32", GGUF_VAL_INT32, ints, 5);
    gguf_set_arr(w, "a.f32", GGUF_VAL_FLOAT32, floats, 3);
    gguf_set_arr(w, "a.bool", GGUF_VAL_BOOL, bools, 3);
    gguf_set_arr(w, "a.empty", GGUF_VAL_UINT64, NULL, 0);
    gguf_set_arr_str(w, "a.str", strs, 4);
    gguf_str nul = {"a\0b", 3};   // strings may hold NUL bytes
    gguf_value nulv = {.type = GGUF_VAL_STRING, .str = nul};
    gguf_set_val(w, "v.nul", &nulv);
    gguf_value inner[2] = {{.type = GGUF_VAL_ARRAY, .arr = {GGUF_VAL_INT32, 2, ints}},
                           {.type = GGUF_VAL_ARRAY, .arr = {GGUF_VAL_STRING, 0, NULL}}};
    gguf_value nested = {.type = GGUF_VAL_ARRAY, .arr = {GGUF_VAL_ARRAY, 2, inner}};
    gguf_set_val(w, "a.nested", &nested);

    static float f32[2 * 3 * 2 * 2];
    static uint16_t f16[2 * 64], bf16[64];
    static uint8_t q8[34 * 2 * 3], tq2[66 * 2], tq1[54 * 3], i2s[128 * 2 / 4 + 32];
    for (size_t i = 0; i < sizeof(f32) / 4; i++) f32[i] = (float)i;
    for (size_t i = 0; i < sizeof(q8); i++) q8[i] = (uint8_t)(i * 7), i < sizeof(tq2) ? tq2[i] = (uint8_t)i : 0, i < sizeof(tq1) ? tq1[i] = (uint8_t)(3 * i) : 0;
    for (size_t i = 0; i < sizeof(i2s); i++) i2s[i] = (uint8_t)(i + 1);
    struct {
        const char *name;
        uint32_t type;
        int nd;
        int64_t ne[4];
        const void *data;
        size_t bytes;
    } ts[] = {
        {"t.f32.4d", GGUF_TYPE_F32, 4, {2, 3, 2, 2}, f32, sizeof(f32)}, {"t.f16", GGUF_TYPE_F16, 2, {64, 2}, f16, sizeof(f16)},
        {"t.bf16", GGUF_TYPE_BF16, 1, {64}, bf16, sizeof(bf16)},       {"t.q8_0", GGUF_TYPE_Q8_0, 2, {64, 3}, q8, sizeof(q8)},
        {"t.tq2_0", GGUF_TYPE_TQ2_0, 2, {256, 2}, tq2, sizeof(tq2)},  {"t.tq1_0", GGUF_TYPE_TQ1_0, 3, {256, 3, 1}, tq1, sizeof(tq1)},
        {"t.i2_s", GGUF_TYPE_I2_S, 2, {128, 2}, i2s, sizeof(i2s)},    {"t.empty", GGUF_TYPE_F32, 2, {0, 5}, NULL, 0},
    };
    int nts = (int)(sizeof(ts) / sizeof(ts[0]));
    for (int i = 0; i < nts; i++) gguf_add_tensor(w, ts[i].name, ts[i].type, ts[i].nd, ts[i].ne, ts[i].data);
    tr_err err = {{0}};
    int rc = gguf_writer_write(w, t_tmp("rt.gguf"), &err);
    t_check(rc == 0, "writer writes every value and tensor type", "%s", err.msg);

    gguf_file *f = NULL;
    rc = gguf_open(&f, t_tmp("rt.gguf"), &err);
    if (!t_check(rc == 0, "reader opens the writer's file", "%s", err.msg)) {
        gguf_writer_free(w);
        return;
    }
    t_check(gguf_version(f) == 3 && gguf_alignment(f) == 64 && gguf_data_offset(f) % 64 == 0, "version 3, general.alignment 64",
            "version %u alignment %u data at %zu", gguf_version(f), gguf_alignment(f), gguf_data_offset(f));
    // every KV, in order, equal to what was set (the replaced key keeps its first position)
    const char *order[] = {"general.architecture", "general.alignment", "v.u8", "v.i8", "v.u16", "v.i16", "v.u32", "v.i32", "v.u64", "v.i64",
                           "v.f32", "v.f64", "v.bool", "v.str", "v.replaced", "a.i32", "a.f32", "a.bool", "a.empty", "a.str", "v.nul", "a.nested"};
    int nk = (int)(sizeof(order) / sizeof(order[0])), kv_ok = gguf_n_kv(f) == nk;
    for (int i = 0; kv_ok && i < nk; i++) kv_ok = !strcmp(gguf_kv_at(f, i)->key, order[i]);
    const gguf_value *v = gguf_find(f, "v.i64"), *s = gguf_find(f, "v.str"), *rp = gguf_find(f, "v.replaced");
    kv_ok = kv_ok && v && v->type == GGUF_VAL_INT64 && v->i == -9000000000000000000ll && s && !strcmp(s->str.s, "héllo") && rp->u == 2;
    const gguf_value *vn = gguf_find(f, "v.nul");
    kv_ok = kv_ok && vn && vn->str.len == 3 && !memcmp(vn->str.s, "a\0b", 3);
    const gguf_value *u8 = gguf_find(f, "v.u8"), *i8 = gguf_find(f, "v.i8"), *f32v = gguf_find(f, "v.f32"), *f64v = gguf_find(f, "v.f64");
    kv_ok = kv_ok && u8->u == 250 && i8->i == -100 && f32v->f32 == 1.5f && f64v->f64 == -2.25 && gguf_find(f, "v.bool")->u == 1 &&
            gguf_find(f, "v.u64")->u == 18000000000000000000ull && gguf_find(f, "v.i16")->i == -30000;
    t_check(kv_ok, "every scalar KV reads back in order", "n_kv %d", gguf_n_kv(f));

    const gguf_value *a;
    int arr_ok = !gguf_get_arr(f, "a.i32", GGUF_VAL_INT32, &a, &err) && a->arr.n == 5 && gguf_arr_int(a, 4) == -2147483647 - 1 &&
                 gguf_arr_int(a, 3) == 2147483647;
    arr_ok = arr_ok && !gguf_get_arr(f, "a.f32", GGUF_VAL_FLOAT32, &a, &err) && gguf_arr_float(a, 1) == -1e30f;
    arr_ok = arr_ok && !gguf_get_arr(f, "a.bool", GGUF_VAL_BOOL, &a, &err) && gguf_arr_int(a, 0) == 1 && gguf_arr_int(a, 1) == 0;
    arr_ok = arr_ok && !gguf_get_arr(f, "a.empty", GGUF_VAL_UINT64, &a, &err) && a->arr.n == 0;
    arr_ok = arr_ok && !gguf_get_arr(f, "a.str", GGUF_VAL_STRING, &a, &err) && a->arr.n == 4 && !strcmp(gguf_arr_str(a, 2)->s, "Ġthe") &&
             gguf_arr_str(a, 1)->len == 0;
    arr_ok = arr_ok && !gguf_get_arr(f, "a.nested", GGUF_VAL_ARRAY, &a, &err) && value_eq(a, &nested);
    t_check(arr_ok, "arrays of every kind read back (ints, floats, bools, empty, strings, nested)", "%s", err.msg);

    int t_ok = gguf_n_tensors(f) == nts;
    for (int i = 0; t_ok && i < nts; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, ts[i].name);
        t_ok = t && t == gguf_tensor_at(f, i) && t->type == ts[i].type && t->n_dims == ts[i].nd && t->nbytes == ts[i].bytes &&
               t->offset % 64 == 0 && ((size_t)((const char *)t->data - (const char *)gguf_tensor_at(f, 0)->data) % 64) == 0 &&
               (ts[i].bytes == 0 || !memcmp(t->data, ts[i].data, ts[i].bytes));
        for (int d = 0; t_ok && d < 4; d++) t_ok = t->ne[d] == (d < ts[i].nd ? ts[i].ne[d] : 1);
        if (!t_ok) printf("# tensor %s differs\n", ts[i].name);
    }
    t_check(t_ok && !gguf_find_tensor(f, "nope"), "tensors read back: type, shape, size (I2_S n/4 + 32), aligned offsets, data", "see above");
    t_check(gguf_nelements(gguf_find_tensor(f, "t.f32.4d")) == 24, "gguf_nelements", "wrong count");

    // rewriting the file through gguf_set_val copies every value, nested arrays included
    gguf_writer *w2 = gguf_writer_init();
    for (int i = 0; i < gguf_n_kv(f); i++) gguf_set_val(w2, gguf_kv_at(f, i)->key, &gguf_kv_at(f, i)->val);
    rc = gguf_writer_write(w2, t_tmp("rt2.gguf"), &err);
    gguf_file *f2 = NULL;
    int copy_ok = rc == 0 && gguf_open(&f2, t_tmp("rt2.gguf"), &err) == 0 && gguf_n_kv(f2) == gguf_n_kv(f);
    for (int i = 0; copy_ok && i < gguf_n_kv(f); i++) copy_ok = value_eq(&gguf_kv_at(f, i)->val, &gguf_kv_at(f2, i)->val);
    t_check(copy_ok, "KVs copied with gguf_set_val round trip", "%s", err.msg);
    gguf_close(f2);
    gguf_writer_free(w2);

    // typed getters
    uint32_t u;
    uint64_t u64v;
    int64_t i64;
    float fl;
    int bl;
    const char *sv;
    int g_ok = !gguf_get_u32(f, "v.u8", &u, &err) && u == 250 && !gguf_get_u32(f, "v.u16", &u, &err) && u == 65000 &&
               !gguf_get_u64(f, "v.u64", &u64v, &err) && !gguf_get_i64(f, "v.i32", &i64, &err) && i64 == -2000000000 &&
               !gguf_get_f32(f, "v.f64", &fl, &err) && fl == -2.25f && !gguf_get_bool(f, "v.bool", &bl, &err) && bl == 1 &&
               !gguf_get_str(f, "general.architecture", &sv, &err) && !strcmp(sv, "bitnet");
    t_check(g_ok, "typed getters convert between integer widths and float precisions", "%s", err.msg);
    t_check(gguf_get_u32(f, "missing.key", &u, &err) == -1 && strstr(err.msg, "rt.gguf: key 'missing.key' is missing"), "getter: missing key",
            "%s", err.msg);
    t_check(gguf_get_u32(f, "v.i8", &u, &err) == -1 && strstr(err.msg, "value -100 does not fit UINT32"), "getter: negative into UINT32", "%s", err.msg);
    t_check(gguf_get_u32(f, "v.u64", &u, &err) == -1 && strstr(err.msg, "does not fit UINT32"), "getter: UINT64 too large for UINT32", "%s", err.msg);
    t_check(gguf_get_i64(f, "v.u64", &i64, &err) == -1 && strstr(err.msg, "does not fit INT64"), "getter: UINT64 too large for INT64", "%s", err.msg);
    t_check(gguf_get_u32(f, "v.str", &u, &err) == -1 && strstr(err.msg, "is STRING, want an integer"), "getter: string where an integer belongs",
            "%s", err.msg);
    t_check(gguf_get_f32(f, "v.u32", &fl, &err) == -1 && strstr(err.msg, "is UINT32, want FLOAT32"), "getter: integer where a float belongs", "%s", err.msg);
    t_check(gguf_get_str(f, "v.u32", &sv, &err) == -1 && strstr(err.msg, "want STRING"), "getter: integer where a string belongs", "%s", err.msg);
    t_check(gguf_get_bool(f, "v.u8", &bl, &err) == -1 && strstr(err.msg, "want BOOL"), "getter: integer where a bool belongs", "%s", err.msg);
    t_check(gguf_get_arr(f, "a.i32", GGUF_VAL_STRING, &a, &err) == -1 && strstr(err.msg, "is an array of INT32, want an array of STRING"),
            "getter: array of the wrong element type", "%s", err.msg);
    t_check(gguf_get_arr(f, "v.u32", GGUF_VAL_COUNT, &a, &err) == -1 && strstr(err.msg, "want an array"), "getter: scalar where an array belongs",
            "%s", err.msg);
    u = 99;
    fl = 9;
    sv = "x";
    t_check(!gguf_opt_u32(f, "nope", &u, &err) && u == 99 && !gguf_opt_f32(f, "nope", &fl, &err) && fl == 9 && !gguf_opt_str(f, "nope", &sv, &err) &&
                !strcmp(sv, "x") && !gguf_opt_u32(f, "v.u16", &u, &err) && u == 65000 && gguf_opt_str(f, "v.u8", &sv, &err) == -1,
            "optional getters leave absent keys alone and still check types", "%s", err.msg);
    gguf_close(f);
    gguf_writer_free(w);
}

// ---- bad files ----

// A small valid file: 2 KVs, 2 tensors (F32 [4] at 0, F32 [4] at 32). Its byte offsets are fixed below.
static void valid(bb *b) {
    head(b, 3, 2, 2);
    kv_u32(b, "k.a", 1);
    str(b, "k.s"), u32(b, GGUF_VAL_STRING), str(b, "hello");
    uint64_t ne[1] = {4};
    tinfo(b, "t0", 1, ne, GGUF_TYPE_F32, 0);
    tinfo(b, "t1", 1, ne, GGUF_TYPE_F32, 32);
    pad(b, 32);
    zeros(b, 48);
}

static void one_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off, size_t data) {
    head(b, 3, 1, 0);
    tinfo(b, name, n_dims, ne, type, off);
    pad(b, 32);
    zeros(b, data);
}

static void test_bad_files(void) {
    bb b;
    valid(&b);
    save(&b, t_tmp("valid.gguf"));
    gguf_file *f = NULL;
    tr_err err = {{0}};
    int rc = gguf_open(&f, t_tmp("valid.gguf"), &err);
    t_check(rc == 0 && gguf_n_tensors(f) == 2, "the base file of the error cases is valid", "%s", err.msg);
    size_t data_end = rc == 0 ? gguf_data_offset(f) + 32 + 16 : 0;
    gguf_close(f);

    // every truncation that cuts into the header, the infos or a tensor's data fails cleanly
    int bad = 0;
    for (size_t n = 0; n < data_end; n++) {
        bb t = b;
        t.n = n;
        save(&t, t_tmp("trunc.gguf"));
        f = (gguf_file *)1;
        rc = gguf_open(&f, t_tmp("trunc.gguf"), &err);
        if (rc != -1 || f || strncmp(err.msg, t_tmp("trunc.gguf"), strlen(t_tmp("trunc.gguf"))) || strchr(err.msg, '\n')) {
            if (bad++ < 3) printf("# truncated to %zu bytes: rc %d '%s'\n", n, rc, err.msg);
            if (rc == 0) gguf_close(f);
        }
    }
    t_check(bad == 0 && data_end > 100, "every truncation fails with one line naming the file", "%d of %zu lengths did not", bad, data_end);
    bb t = b;
    t.n = 40;
    save(&t, t_tmp("trunc.gguf"));
    expect_fail("truncated inside a KV", t_tmp("trunc.gguf"), "truncated");
    t.n = data_end - 1;
    save(&t, t_tmp("trunc.gguf"));
    expect_fail("truncated inside tensor data", t_tmp("trunc.gguf"), "tensor 't1' data [");

    t = b, memcpy(t.p, "GGUX", 4), save(&t, t_tmp("magic.gguf"));
    expect_fail("wrong magic", t_tmp("magic.gguf"), "not a GGUF file");
    save(&(bb){.n = 3, .p = "GGU"}, t_tmp("tiny.gguf"));
    expect_fail("file of 3 bytes", t_tmp("tiny.gguf"), "not a GGUF file");
    t = b, t.p[4] = 1, save(&t, t_tmp("v1.gguf"));
    expect_fail("version 1", t_tmp("v1.gguf"), "version 1 is not supported");
    t = b, t.p[4] = 4, save(&t, t_tmp("v4.gguf"));
    expect_fail("version 4", t_tmp("v4.gguf"), "unsupported GGUF version 4");
    t = b, t.p[4] = 0, t.p[7] = 3, save(&t, t_tmp("be.gguf"));
    expect_fail("big-endian file", t_tmp("be.gguf"), "big-endian");
    t = b, t.p[8 + 5] = 1, save(&t, t_tmp("counts.gguf"));   // n_tensors = 2 + 2^40
    expect_fail("tensor count larger than the file", t_tmp("counts.gguf"), "more than its");
    t = b, t.p[16 + 7] = 0x10, save(&t, t_tmp("kvcount.gguf"));
    expect_fail("KV count larger than the file", t_tmp("kvcount.gguf"), "metadata keys");

    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, 13), u32(&t, 0), save(&t, t_tmp("vtype.gguf"));
    expect_fail("unknown value type", t_tmp("vtype.gguf"), "key 'k' has unknown value type 13");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_ARRAY), u32(&t, 99), u64(&t, 0), save(&t, t_tmp("atype.gguf"));
    expect_fail("array of unknown type", t_tmp("atype.gguf"), "array of unknown value type 99");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_BOOL), raw(&t, "\2", 1), save(&t, t_tmp("bool.gguf"));
    expect_fail("bool value 2", t_tmp("bool.gguf"), "bool value 2 is not 0 or 1");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_ARRAY), u32(&t, GGUF_VAL_BOOL), u64(&t, 2), raw(&t, "\1\3", 2), save(&t, t_tmp("bools.gguf"));
    expect_fail("bool array element 3", t_tmp("bools.gguf"), "bool element 1 is 3");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_STRING), u64(&t, 1000), raw(&t, "abc", 3), save(&t, t_tmp("strlen.gguf"));
    expect_fail("string running past the end", t_tmp("strlen.gguf"), "truncated: key 'k'");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_ARRAY), u32(&t, GGUF_VAL_UINT32), u64(&t, 1ull << 40), save(&t, t_tmp("arrlen.gguf"));
    expect_fail("array longer than the file", t_tmp("arrlen.gguf"), "1099511627776 UINT32 elements");
    head(&t, 3, 0, 1), str(&t, "k"), u32(&t, GGUF_VAL_ARRAY);
    for (int d = 0; d < 10; d++) u32(&t, GGUF_VAL_ARRAY), u64(&t, 1);   // each level: element type, count
    u32(&t, GGUF_VAL_UINT8), u64(&t, 0);
    save(&t, t_tmp("deep.gguf"));
    expect_fail("arrays nested 10 deep", t_tmp("deep.gguf"), "nested deeper than 8");
    head(&t, 3, 0, 2), kv_u32(&t, "k", 1), kv_u32(&t, "k", 2), save(&t, t_tmp("dupkey.gguf"));
    expect_fail("duplicate key", t_tmp("dupkey.gguf"), "key 'k' appears twice");

    uint64_t ne4[1] = {4}, ne5[5] = {1, 1, 1, 1, 4};
    head(&t, 3, 1, 1), str(&t, "general.alignment"), u32(&t, GGUF_VAL_UINT64), u64(&t, 32), tinfo(&t, "t", 1, ne4, 0, 0), pad(&t, 32), zeros(&t, 16);
    save(&t, t_tmp("align64.gguf"));
    expect_fail("general.alignment of type UINT64", t_tmp("align64.gguf"), "general.alignment must be a UINT32 power of two");
    head(&t, 3, 1, 1), kv_u32(&t, "general.alignment", 48), tinfo(&t, "t", 1, ne4, 0, 0), pad(&t, 48), zeros(&t, 16);
    save(&t, t_tmp("align48.gguf"));
    expect_fail("general.alignment 48", t_tmp("align48.gguf"), "power of two, got UINT32 48");
    head(&t, 3, 1, 1), kv_u32(&t, "general.alignment", 0), tinfo(&t, "t", 1, ne4, 0, 0), zeros(&t, 16), save(&t, t_tmp("align0.gguf"));
    expect_fail("general.alignment 0", t_tmp("align0.gguf"), "power of two");

    one_tensor(&t, "t", 5, ne5, GGUF_TYPE_F32, 0, 16), save(&t, t_tmp("dims.gguf"));
    expect_fail("5 dims", t_tmp("dims.gguf"), "tensor 't' has 5 dims (at most 4)");
    one_tensor(&t, "blk.0.x", 1, ne4, 31, 0, 16), save(&t, t_tmp("type31.gguf"));
    expect_fail("removed tensor type 31", t_tmp("type31.gguf"), "tensor 'blk.0.x' has unknown type 31");
    one_tensor(&t, "t", 1, ne4, 1000, 0, 16), save(&t, t_tmp("type1000.gguf"));
    expect_fail("unknown tensor type 1000", t_tmp("type1000.gguf"), "unknown type 1000");
    uint64_t ne100[2] = {100, 2};
    one_tensor(&t, "w", 2, ne100, GGUF_TYPE_TQ2_0, 0, 256), save(&t, t_tmp("blk.gguf"));
    expect_fail("TQ2_0 rows of 100", t_tmp("blk.gguf"), "tensor 'w' is TQ2_0 with rows of 100 elements, not a multiple of its block size 256");
    uint64_t ne6[2] = {6, 1};
    one_tensor(&t, "w", 2, ne6, GGUF_TYPE_I2_S, 0, 64), save(&t, t_tmp("i2s.gguf"));
    expect_fail("I2_S of 6 elements", t_tmp("i2s.gguf"), "not a multiple of its block size 4");
    uint64_t neg[2] = {4, 1ull << 63};
    one_tensor(&t, "t", 2, neg, GGUF_TYPE_F32, 0, 16), save(&t, t_tmp("neg.gguf"));
    expect_fail("dimension 2^63", t_tmp("neg.gguf"), "dim 1 is negative or too large");
    uint64_t big[2] = {1ull << 40, 1ull << 40};
    one_tensor(&t, "t", 2, big, GGUF_TYPE_F32, 0, 16), save(&t, t_tmp("big.gguf"));
    expect_fail("shape overflowing 64 bits", t_tmp("big.gguf"), "too large");
    one_tensor(&t, "t", 1, ne4, GGUF_TYPE_F32, 8, 32), save(&t, t_tmp("unaligned.gguf"));
    expect_fail("offset not aligned", t_tmp("unaligned.gguf"), "offset 8 is not a multiple of the alignment 32");
    one_tensor(&t, "t", 1, ne4, GGUF_TYPE_F32, 64, 32), save(&t, t_tmp("past.gguf"));
    expect_fail("data past the end", t_tmp("past.gguf"), "tensor 't' data [");
    head(&t, 3, 2, 0);
    tinfo(&t, "t0", 1, ne4, GGUF_TYPE_F32, 0), tinfo(&t, "t1", 1, ne4, GGUF_TYPE_F32, 0), pad(&t, 32), zeros(&t, 32);
    save(&t, t_tmp("overlap.gguf"));
    expect_fail("overlapping tensors", t_tmp("overlap.gguf"), "tensors 't0' and 't1' overlap");
    head(&t, 3, 2, 0);
    tinfo(&t, "t0", 1, ne4, GGUF_TYPE_F32, 0), tinfo(&t, "t0", 1, ne4, GGUF_TYPE_F32, 32), pad(&t, 32), zeros(&t, 64);
    save(&t, t_tmp("duptensor.gguf"));
    expect_fail("duplicate tensor name", t_tmp("duptensor.gguf"), "tensor 't0' appears twice");
    expect_fail("missing file", t_tmp("nope.gguf"), "cannot open");
    expect_fail("a folder", t_tmpdir(), "not a regular file");

    // version 2 is read like version 3
    t = b, t.p[4] = 2, save(&t, t_tmp("v2.gguf"));
    rc = gguf_open(&f, t_tmp("v2.gguf"), &err);
    t_check(rc == 0 && gguf_version(f) == 2, "version 2 reads", "%s", err.msg);
    if (rc == 0) gguf_close(f);
}

// ---- the writer never leaves a half-written file ----

static void test_writer_errors(void) {
    gguf_writer *w = gguf_writer_init();
    gguf_set_str(w, "general.architecture", "x");
    tr_err err = {{0}};
    int rc = gguf_writer_write(w, t_tmp("no/such/dir/out.gguf"), &err);
    t_check(rc == -1 && strstr(err.msg, "no/such/dir/out.gguf: cannot write"), "writing into a missing folder fails, naming the file", "%s", err.msg);
    bb b;
    valid(&b);
    save(&b, t_tmp("over.gguf"));
    rc = gguf_writer_write(w, t_tmp("over.gguf"), &err);
    gguf_file *f = NULL;
    int ok = rc == 0 && gguf_open(&f, t_tmp("over.gguf"), &err) == 0 && gguf_n_tensors(f) == 0 && gguf_n_kv(f) == 1;
    gguf_close(f);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp", t_tmpdir());
    FILE *p = popen(cmd, "r");
    int tmps = -1;
    if (p && fscanf(p, "%d", &tmps) != 1) tmps = -1;
    if (p) pclose(p);
    t_check(ok && tmps == 0 && file_size(t_tmp("over.gguf")) > 0, "writing over a file replaces it, no temporary left", "%s (%d temp files)", err.msg, tmps);
    gguf_writer_free(w);
}

int main(void) {
    test_writer_bytes();
    test_round_trip();
    test_bad_files();
    test_writer_errors();
    return t_done();
}
