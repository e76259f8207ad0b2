// test_safetensors.c: safetensors round trips (all dtypes, scalars, empty tensors, shards), f16/bf16
// conversions, every header validation error, the JSON getters, and the writer's no-half-file promise.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/f16.h"
#include "common/json.h"
#include "common/safetensors.h"
#include "tests/harness.h"

static void write_text(const char *path, const char *s) { t_write_file(path, s, strlen(s)); }

// A safetensors file by hand: u64 header length (len_field, or strlen(hdr) when < 0), hdr, data_bytes zeros.
static void write_raw(const char *path, const char *hdr, long long len_field, size_t data_bytes) {
    size_t h = strlen(hdr), n = 8 + h + data_bytes;
    unsigned char *b = calloc(1, n);
    unsigned long long len = len_field < 0 ? (unsigned long long)h : (unsigned long long)len_field;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
    memcpy(b + 8, hdr, h);
    t_write_file(path, b, n);
    free(b);
}

// st_open(path) must fail with one line that starts with `who` and contains `word`.
static void expect_fail(const char *name, const char *path, const char *who, const char *word) {
    tr_err err = {{0}};
    st_file *f = (st_file *)1;
    int rc = st_open(&f, path, &err);
    int ok = rc == -1 && f == NULL && !strncmp(err.msg, who, strlen(who)) && strstr(err.msg, word) && !strchr(err.msg, '\n');
    t_check(ok, name, "rc %d, message '%s' (want it to start with '%s' and contain '%s')", rc, err.msg, who, word);
    if (rc == 0) st_close(f);
}

static int shape_is(const st_tensor *t, int nd, const int64_t *s) {
    if (!t || t->ndim != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (t->shape[i] != s[i]) return 0;
    return 1;
}

static void test_roundtrip(void) {
    float f32[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    uint16_t f16[5], bf16[4];
    float f16v[5] = {1, -2.5f, 65504, 0.5f, -0.0f}, bf16v[4] = {1, 3.140625f, -256, 0};
    for (int i = 0; i < 5; i++) f16[i] = f32_to_f16(f16v[i]);
    for (int i = 0; i < 4; i++) bf16[i] = f32_to_bf16(bf16v[i]);
    double f64[3] = {0.25, -1e10, 3};
    uint8_t u8[4] = {0, 1, 200, 255}, bools[3] = {1, 0, 1};
    int8_t i8[6] = {-128, -1, 0, 1, 2, 127};
    int16_t i16[3] = {-32768, 5, 32767};
    int32_t i32[4] = {-7, 0, 1 << 30, 42};
    int64_t i64[2] = {-(1LL << 40), 1LL << 62};
    float scalar = 2.75f, big[1] = {9};
    struct { const char *name; st_dtype dt; int nd; int64_t shape[ST_MAX_DIMS]; const void *data; } c[] = {
        {"w.f32", ST_F32, 2, {2, 3}, f32},       {"w.f16", ST_F16, 1, {5}, f16},     {"w.bf16", ST_BF16, 2, {2, 2}, bf16},
        {"w.f64", ST_F64, 1, {3}, f64},          {"w.u8", ST_U8, 1, {4}, u8},        {"w.i8", ST_I8, 3, {1, 2, 3}, i8},
        {"w.i16", ST_I16, 1, {3}, i16},          {"w.i32", ST_I32, 2, {2, 2}, i32},  {"w.i64", ST_I64, 1, {2}, i64},
        {"w.bool", ST_BOOL, 1, {3}, bools},      {"scalar", ST_F32, 0, {0}, &scalar}, {"empty", ST_F32, 2, {0, 4}, NULL},
        {"eight \"dims\"", ST_F32, 8, {1, 1, 1, 1, 1, 1, 1, 1}, big},
    };
    int nc = (int)(sizeof(c) / sizeof(c[0]));
    st_writer *w = st_writer_init();
    for (int i = 0; i < nc; i++) st_writer_add(w, c[i].name, c[i].dt, c[i].nd, c[i].shape, c[i].data);
    st_writer_meta(w, "format", "pt");
    st_writer_meta(w, "note", "a \"quoted\" \\ value\nwith a newline");
    tr_err err = {{0}};
    const char *path = t_tmp("rt.safetensors");
    t_check(st_writer_write(w, path, &err) == 0, "roundtrip: write", "%s", err.msg);
    st_writer_free(w);

    st_file *f = NULL;
    if (!t_check(st_open(&f, path, &err) == 0, "roundtrip: open", "%s", err.msg)) return;
    t_check(st_count(f) == nc, "roundtrip: count", "%d tensors, want %d", st_count(f), nc);
    int order = 1, same = 1;
    for (int i = 0; i < nc && i < st_count(f); i++) {
        const st_tensor *t = st_get(f, i), *u = st_find(f, c[i].name);
        order &= !strcmp(t->name, c[i].name) && t == u;
        size_t bytes = st_dtype_size(c[i].dt);
        for (int d = 0; d < c[i].nd; d++) bytes *= (size_t)c[i].shape[d];
        same &= t->dtype == c[i].dt && shape_is(t, c[i].nd, c[i].shape) && t->nbytes == bytes &&
                (bytes == 0 || !memcmp(t->data, c[i].data, bytes)) && !strcmp(t->file, path);
    }
    t_check(order, "roundtrip: insertion order and st_find", "tensors out of order or not found");
    t_check(same, "roundtrip: dtypes, shapes and bytes", "a tensor differs");
    const st_tensor *s = st_find(f, "scalar"), *e = st_find(f, "empty");
    t_check(s && s->ndim == 0 && st_numel(s) == 1 && s->nbytes == 4, "roundtrip: 0-dim scalar", "bad scalar");
    t_check(e && st_numel(e) == 0 && e->nbytes == 0, "roundtrip: empty tensor", "bad empty tensor");
    t_check(st_find(f, "nope") == NULL, "roundtrip: st_find of an absent name", "found something");
    t_check(!strcmp(st_path(f), path), "roundtrip: st_path", "%s", st_path(f));
    const char *note = st_meta(f, "note"), *fmt = st_meta(f, "format");
    t_check(fmt && !strcmp(fmt, "pt") && note && !strcmp(note, "a \"quoted\" \\ value\nwith a newline") &&
                st_meta(f, "nope") == NULL,
            "roundtrip: __metadata__ with escapes", "format '%s' note '%s'", fmt ? fmt : "(null)", note ? note : "(null)");

    float out[8];
    int okf = st_read_f32(out, st_find(f, "w.f16"), &err) == 0;
    for (int i = 0; i < 5; i++) okf &= out[i] == f16v[i];
    t_check(okf, "st_read_f32: F16", "got %g %g %g", out[0], out[1], out[2]);
    okf = st_read_f32(out, st_find(f, "w.bf16"), &err) == 0;
    for (int i = 0; i < 4; i++) okf &= out[i] == bf16v[i];
    t_check(okf, "st_read_f32: BF16", "got %g %g", out[0], out[1]);
    okf = st_read_f32(out, st_find(f, "w.f64"), &err) == 0 && out[0] == 0.25f && out[1] == -1e10f && out[2] == 3;
    t_check(okf, "st_read_f32: F64", "got %g %g %g", out[0], out[1], out[2]);
    okf = st_read_f32(out, st_find(f, "w.f32"), &err) == 0 && !memcmp(out, f32, sizeof(f32));
    t_check(okf, "st_read_f32: F32", "got %g", out[0]);
    int rc = st_read_f32(out, st_find(f, "w.i32"), &err);
    t_check(rc == -1 && strstr(err.msg, "w.i32") && strstr(err.msg, "I32") && !strncmp(err.msg, path, strlen(path)),
            "st_read_f32: I32 is refused", "rc %d '%s'", rc, err.msg);
    st_close(f);

    // The header is padded with spaces so the data section starts on an 8-byte boundary.
    FILE *fp = fopen(path, "rb");
    unsigned char len8[8] = {0};
    size_t got = fp ? fread(len8, 1, 8, fp) : 0;
    if (fp) fclose(fp);
    unsigned long long n = 0;
    for (int i = 0; i < 8; i++) n |= (unsigned long long)len8[i] << (8 * i);
    t_check(got == 8 && n % 8 == 0, "writer: header padded to 8 bytes", "header length %llu", n);
}

// The exact bytes of a small file, as the Hugging Face writer lays it out.
static void test_layout(void) {
    float v[2] = {1, 2};
    int64_t shape = 2;
    st_writer *w = st_writer_init();
    st_writer_add(w, "a", ST_F32, 1, &shape, v);
    st_writer_meta(w, "format", "pt");
    tr_err err = {{0}};
    const char *path = t_tmp("layout.safetensors");
    int rc = st_writer_write(w, path, &err);
    st_writer_free(w);
    const char *want = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    char buf[256] = {0};
    FILE *fp = fopen(path, "rb");
    size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    if (fp) fclose(fp);
    size_t h = strlen(want), hp = (h + 7) / 8 * 8;
    int ok = rc == 0 && n == 8 + hp + 8 && (unsigned char)buf[0] == hp && !memcmp(buf + 8, want, h);
    for (size_t i = h; ok && i < hp; i++) ok = buf[8 + i] == ' ';
    ok = ok && !memcmp(buf + 8 + hp, v, 8);
    t_check(ok, "writer: exact Hugging Face layout", "rc %d, %zu bytes, header '%.*s'", rc, n, (int)(n > 8 ? n - 8 : 0), buf + 8);
}

static void test_f16(void) {
    struct { float f; uint16_t h; } c[] = {
        {1.0f, 0x3c00}, {-2.5f, 0xc100}, {65504.0f, 0x7bff}, {0.0f, 0x0000}, {-0.0f, 0x8000},
        {6e-8f, 0x0001},                         // nearest subnormal to 6e-8 is 2^-24 = 5.96e-8
        {0x1p-14f, 0x0400}, {0x1.ff8p-15f, 0x03ff}, {0x1p-25f, 0x0000},   // 2^-25 ties to even: 0
        {0x1.8p-24f, 0x0002}, {0x1.4p-23f, 0x0002},                      // 1.5 and 2.5 x 2^-24 tie to even
        {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x3p-11f, 0x3c02},            // normal ties to even
        {65519.0f, 0x7bff}, {65520.0f, 0x7c00}, {1e10f, 0x7c00},          // overflow rounds to inf
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00}, {1e-10f, 0x0000},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        uint16_t h = f32_to_f16(c[i].f);
        if (h != c[i].h) {
            bad++;
            printf("# f32_to_f16(%a) = 0x%04x, want 0x%04x\n", (double)c[i].f, h, c[i].h);
        }
    }
    t_check(!bad, "f16: f32_to_f16 spot values", "%d wrong", bad);
    t_check(f16_to_f32(0x0001) == 0x1p-24f && f16_to_f32(0x03ff) == 0x1.ff8p-15f && f16_to_f32(0x7bff) == 65504.0f &&
                f16_to_f32(0xc100) == -2.5f && isinf(f16_to_f32(0xfc00)) && f16_to_f32(0xfc00) < 0 &&
                signbit(f16_to_f32(0x8000)) && f16_to_f32(0x3555) == 0x1.554p-2f,
            "f16: f16_to_f32 spot values", "wrong");
    uint16_t hn = f32_to_f16(NAN);
    t_check((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) && isnan(f16_to_f32(hn)) && isnan(f16_to_f32(0x7c01)),
            "f16: nan stays nan", "0x%04x", hn);
    int rt = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        if (isnan(f)) rt += !isnan(f16_to_f32(f32_to_f16(f)));
        else rt += f32_to_f16(f) != h;
    }
    t_check(!rt, "f16: all 65536 values round-trip", "%d differ", rt);

    struct { uint32_t bits; uint16_t h; } b[] = {
        {0x3f800000, 0x3f80}, {0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81},   // ties to even
        {0xc0200000, 0xc020}, {0x7f800000, 0x7f80}, {0xff800000, 0xff80}, {0x7f7fffff, 0x7f80},   // max rounds to inf
        {0x00000001, 0x0000}, {0x80000000, 0x8000},
    };
    bad = 0;
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        float f;
        memcpy(&f, &b[i].bits, 4);
        uint16_t h = f32_to_bf16(f);
        if (h != b[i].h) {
            bad++;
            printf("# f32_to_bf16(0x%08x) = 0x%04x, want 0x%04x\n", b[i].bits, h, b[i].h);
        }
    }
    t_check(!bad, "bf16: f32_to_bf16 spot values and ties", "%d wrong", bad);
    uint16_t bn = f32_to_bf16(NAN);
    t_check(bf16_to_f32(0x4049) == 3.140625f && bf16_to_f32(0xc020) == -2.5f && isnan(bf16_to_f32(bn)) &&
                isnan(bf16_to_f32(f32_to_bf16(-NAN))),
            "bf16: bf16_to_f32 and nan", "0x%04x", bn);
}

static void write_shard(const char *path, const char *n1, const char *n2, float v) {
    float d[4] = {v, v + 1, v + 2, v + 3};
    int64_t s2[2] = {2, 2}, s1 = 4;
    st_writer *w = st_writer_init();
    st_writer_add(w, n1, ST_F32, 2, s2, d);
    if (n2) st_writer_add(w, n2, ST_F32, 1, &s1, d);
    tr_err err = {{0}};
    if (st_writer_write(w, path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    st_writer_free(w);
}

static void test_sharded(void) {
    mkdir(t_tmp("sh"), 0755);
    write_shard(t_tmp("sh/model-00001-of-00002.safetensors"), "a.weight", "b.weight", 1);
    write_shard(t_tmp("sh/model-00002-of-00002.safetensors"), "c.weight", NULL, 10);
    write_text(t_tmp("sh/model.safetensors.index.json"),
               "{\"metadata\": {\"total_size\": 80}, \"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\","
               " \"c.weight\": \"model-00002-of-00002.safetensors\", \"b.weight\": \"model-00001-of-00002.safetensors\"}}");
    const char *paths[2] = {t_tmp("sh"), t_tmp("sh/model.safetensors.index.json")};
    const char *names[2] = {"sharded: open the folder", "sharded: open the index.json"};
    for (int k = 0; k < 2; k++) {
        st_file *f = NULL;
        tr_err err = {{0}};
        if (!t_check(st_open(&f, paths[k], &err) == 0, names[k], "%s", err.msg)) continue;
        const st_tensor *a = st_find(f, "a.weight"), *b = st_find(f, "b.weight"), *c = st_find(f, "c.weight");
        float out[4] = {0};
        int ok = st_count(f) == 3 && a && b && c && st_get(f, 0) == a && st_get(f, 1) == b && st_get(f, 2) == c &&
                 strstr(a->file, "00001-of") && strstr(c->file, "00002-of") && st_read_f32(out, c, &err) == 0 &&
                 out[0] == 10 && out[3] == 13;
        t_check(ok, k ? "sharded: index.json tensors from both shards" : "sharded: folder tensors from both shards",
                "count %d, c %s", st_count(f), c ? c->file : "missing");
        st_close(f);
    }
    // A folder with a single model.safetensors.
    mkdir(t_tmp("single"), 0755);
    write_shard(t_tmp("single/model.safetensors"), "x", NULL, 0);
    st_file *f = NULL;
    tr_err err = {{0}};
    int rc = st_open(&f, t_tmp("single"), &err);
    t_check(rc == 0 && st_count(f) == 1 && st_find(f, "x"), "folder with model.safetensors", "%s", err.msg);
    st_close(f);
}

#define T1(entry) "{\"t\":" entry "}"
#define F32_2 "\"dtype\":\"F32\",\"shape\":[2]"

static void test_errors(void) {
    const char *p;
    p = t_tmp("short.safetensors");
    t_write_file(p, "\x10\0\0\0\0", 5);
    expect_fail("error: file shorter than 8 bytes", p, p, "too short");
    p = t_tmp("hdrlen.safetensors");
    write_raw(p, T1("{" F32_2 ",\"data_offsets\":[0,8]}"), 100000, 8);
    expect_fail("error: header length past end of file", p, p, "header length 100000 runs past the end");
    p = t_tmp("json.safetensors");
    write_raw(p, "{\"t\":{\"dtype\":\"F32\",", -1, 0);
    expect_fail("error: malformed JSON header", p, p, "malformed JSON");
    p = t_tmp("stray.safetensors");
    write_raw(p, "{}xyz", -1, 0);
    expect_fail("error: stray bytes after the JSON header", p, p, "malformed JSON");
    p = t_tmp("notobj.safetensors");
    write_raw(p, "[1, 2]  ", -1, 0);
    expect_fail("error: header not an object", p, p, "not an object");
    p = t_tmp("dtype.safetensors");
    write_raw(p, T1("{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: unknown dtype", p, p, "unknown dtype 'Q4'");
    p = t_tmp("shape1.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":8,\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: shape not an array", p, p, "shape must be an array");
    p = t_tmp("shape2.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: negative dim", p, p, "non-negative integers");
    p = t_tmp("shape3.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: fractional dim", p, p, "non-negative integers");
    p = t_tmp("shape4.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: string dim", p, p, "non-negative integers");
    p = t_tmp("dims.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}"), -1, 8);
    expect_fail("error: more than ST_MAX_DIMS dims", p, p, "9 dims");
    p = t_tmp("off1.safetensors");
    write_raw(p, T1("{" F32_2 ",\"data_offsets\":[8,0]}"), -1, 8);
    expect_fail("error: data_offsets begin > end", p, p, "data_offsets must be [begin, end]");
    p = t_tmp("off2.safetensors");
    write_raw(p, T1("{" F32_2 ",\"data_offsets\":[0]}"), -1, 8);
    expect_fail("error: data_offsets not a pair", p, p, "data_offsets");
    p = t_tmp("off3.safetensors");
    write_raw(p, T1("{" F32_2 "}"), -1, 8);
    expect_fail("error: data_offsets missing", p, p, "data_offsets");
    p = t_tmp("past.safetensors");
    write_raw(p, "{\"t\":{" F32_2 ",\"data_offsets\":[4096,4104]}}", -1, 8);
    expect_fail("error: data past the end of the file", p, p, "tensor 't' data runs past the end of the file");
    p = t_tmp("size.safetensors");
    write_raw(p, T1("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}"), -1, 16);
    expect_fail("error: numel * dtype size != end - begin", p, p, "12 bytes");
    p = t_tmp("dup.safetensors");
    write_raw(p, "{\"t\":{" F32_2 ",\"data_offsets\":[0,8]},\"t\":{" F32_2 ",\"data_offsets\":[0,8]}}", -1, 8);
    expect_fail("error: duplicate name in one file", p, p, "twice");
    p = t_tmp("meta.safetensors");
    write_raw(p, "{\"__metadata__\":{\"n\":3}}", -1, 0);
    expect_fail("error: non-string __metadata__", p, p, "__metadata__");
    p = t_tmp("does-not-exist.safetensors");
    expect_fail("error: missing file", p, p, "cannot open");
    mkdir(t_tmp("empty-dir"), 0755);
    expect_fail("error: folder without a model", t_tmp("empty-dir"), t_tmp("empty-dir"), "no model.safetensors");

    // Sharded checkpoints.
    mkdir(t_tmp("dup"), 0755);
    write_shard(t_tmp("dup/s1.safetensors"), "a", "b", 0);
    write_shard(t_tmp("dup/s2.safetensors"), "b", NULL, 0);
    write_text(t_tmp("dup/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
    expect_fail("error: duplicate name across shards", t_tmp("dup"), t_tmp("dup/s2.safetensors"), "also in");
    mkdir(t_tmp("gone"), 0755);
    write_shard(t_tmp("gone/s1.safetensors"), "a", NULL, 0);
    write_text(t_tmp("gone/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}}");
    expect_fail("error: shard missing from disk", t_tmp("gone"), t_tmp("gone/s2.safetensors"), "cannot open shard");
    mkdir(t_tmp("absent"), 0755);
    write_shard(t_tmp("absent/s1.safetensors"), "a", NULL, 0);
    write_text(t_tmp("absent/model.safetensors.index.json"), "{\"weight_map\": {\"a\": \"s1.safetensors\", \"zz\": \"s1.safetensors\"}}");
    expect_fail("error: index name not in its shard", t_tmp("absent"), t_tmp("absent/model.safetensors.index.json"), "'zz'");
    mkdir(t_tmp("badshard"), 0755);
    write_raw(t_tmp("badshard/s1.safetensors"), "{\"t\":{\"dtype\":\"X\"", -1, 0);
    write_text(t_tmp("badshard/model.safetensors.index.json"), "{\"weight_map\": {\"t\": \"s1.safetensors\"}}");
    expect_fail("error: corrupt shard names the shard", t_tmp("badshard"), t_tmp("badshard/s1.safetensors"), "malformed JSON");
    mkdir(t_tmp("nowm"), 0755);
    write_text(t_tmp("nowm/model.safetensors.index.json"), "{\"metadata\": {}}");
    expect_fail("error: index without weight_map", t_tmp("nowm"), t_tmp("nowm/model.safetensors.index.json"), "weight_map");
    mkdir(t_tmp("badidx"), 0755);
    write_text(t_tmp("badidx/model.safetensors.index.json"), "{\"weight_map\": {\"a\": ");
    expect_fail("error: malformed index.json", t_tmp("badidx"), t_tmp("badidx/model.safetensors.index.json"), "malformed JSON");
}

static void test_json(void) {
    const char *p = t_tmp("bad.json");
    write_text(p, "{\n  \"a\": 1,\n  \"b\": [1, 2\n}\n");
    tr_err err = {{0}};
    cJSON *j = json_load(p, &err);
    t_check(!j && !strncmp(err.msg, p, strlen(p)) && strstr(err.msg, "malformed JSON near byte"), "json: malformed file",
            "'%s'", err.msg);
    cJSON_Delete(j);
    j = json_load(t_tmp("missing.json"), &err);
    t_check(!j && strstr(err.msg, "missing.json: cannot open"), "json: missing file", "'%s'", err.msg);

    p = t_tmp("config.json");
    write_text(p, "{\"hidden_size\": \"128\", \"layers\": 2, \"eps\": 1e-5, \"frac\": 1.5, \"tie\": true, \"act\": \"relu2\","
                  " \"head_dim\": null, \"big\": 3e10}");
    j = json_load(p, &err);
    if (!t_check(j != NULL, "json: load", "%s", err.msg)) return;
    int v = -1, b = -1;
    double d = 0;
    const char *s = NULL;
    int rc = json_get_int(j, "vocab_size", &v, p, &err);
    char want[600];
    snprintf(want, sizeof(want), "%s: key 'vocab_size' is missing", p);
    t_check(rc == -1 && !strcmp(err.msg, want), "json: missing key", "'%s'", err.msg);
    rc = json_get_int(j, "hidden_size", &v, p, &err);
    snprintf(want, sizeof(want), "%s: key 'hidden_size' must be an integer (got string)", p);
    t_check(rc == -1 && !strcmp(err.msg, want), "json: wrong type", "'%s'", err.msg);
    rc = json_get_int(j, "frac", &v, p, &err);
    t_check(rc == -1 && strstr(err.msg, "'frac' must be an integer"), "json: non-integral int refused", "'%s'", err.msg);
    rc = json_get_int(j, "big", &v, p, &err);
    t_check(rc == -1 && strstr(err.msg, "'big' must be an integer"), "json: int out of range refused", "'%s'", err.msg);
    t_check(json_get_int(j, "layers", &v, p, &err) == 0 && v == 2, "json: get_int", "%d", v);
    t_check(json_get_double(j, "eps", &d, p, &err) == 0 && d == 1e-5, "json: get_double", "%g", d);
    t_check(json_get_bool(j, "tie", &b, p, &err) == 0 && b == 1, "json: get_bool", "%d", b);
    t_check(json_get_string(j, "act", &s, p, &err) == 0 && !strcmp(s, "relu2"), "json: get_string", "%s", s ? s : "");
    rc = json_get_bool(j, "layers", &b, p, &err);
    t_check(rc == -1 && strstr(err.msg, "'layers' must be true or false (got number)"), "json: bool wrong type", "'%s'", err.msg);
    rc = json_get_string(j, "layers", &s, p, &err);
    t_check(rc == -1 && strstr(err.msg, "'layers' must be a string (got number)"), "json: string wrong type", "'%s'", err.msg);
    rc = json_get_double(j, "act", &d, p, &err);
    t_check(rc == -1 && strstr(err.msg, "'act' must be a number (got string)"), "json: double wrong type", "'%s'", err.msg);
    v = 77;
    t_check(json_opt_int(j, "absent", &v, p, &err) == 0 && v == 77 && json_opt_int(j, "head_dim", &v, p, &err) == 0 && v == 77,
            "json: opt_int leaves absent and null untouched", "%d", v);
    rc = json_opt_int(j, "hidden_size", &v, p, &err);
    t_check(rc == -1 && strstr(err.msg, "(got string)"), "json: opt_int wrong type", "'%s'", err.msg);
    rc = json_get_int(j, "head_dim", &v, p, &err);
    t_check(rc == -1 && strstr(err.msg, "(got null)"), "json: get_int of null", "'%s'", err.msg);
    cJSON_Delete(j);
}

static int has_tmp_file(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) found |= strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return found;
}

static void test_writer_errors(void) {
    float v = 1;
    int64_t one = 1;
    st_writer *w = st_writer_init();
    st_writer_add(w, "v", ST_F32, 1, &one, &v);
    tr_err err = {{0}};
    const char *p = t_tmp("nodir/out.safetensors");
    int rc = st_writer_write(w, p, &err);
    struct stat sb;
    t_check(rc == -1 && !strncmp(err.msg, p, strlen(p)) && stat(p, &sb) != 0 && stat(t_tmp("nodir"), &sb) != 0,
            "writer: missing folder leaves no file", "rc %d '%s'", rc, err.msg);
    rc = st_writer_write(w, t_tmp("ok.safetensors"), &err);
    t_check(rc == 0 && stat(t_tmp("ok.safetensors"), &sb) == 0 && !has_tmp_file(t_tmpdir()), "writer: no temp file left behind",
            "rc %d '%s'", rc, err.msg);
    rc = st_writer_write(w, t_tmp("ok.safetensors"), &err);   // overwrite in place
    t_check(rc == 0 && !has_tmp_file(t_tmpdir()), "writer: overwrite", "rc %d '%s'", rc, err.msg);
    st_writer_free(w);
}

int main(void) {
    test_roundtrip();
    test_layout();
    test_f16();
    test_sharded();
    test_errors();
    test_json();
    test_writer_errors();
    return t_done();
}
