// test_shard.c: the .tzst format (layout, round trip, every corruption named), the train/val split
// rule, and reading documents from .txt / .jsonl inputs.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "data/textsrc.h"
#include "harness.h"

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, fp) != *n) *n = 0;
    fclose(fp);
    return b;
}

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_fnv(void) {
    // published FNV-1a-64 test vectors
    t_check(shard_fnv1a64(SHARD_FNV_INIT, "", 0) == 0xcbf29ce484222325ull, "fnv1a64 of \"\"", "wrong");
    t_check(shard_fnv1a64(SHARD_FNV_INIT, "a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a64 of \"a\"", "wrong");
    t_check(shard_fnv1a64(SHARD_FNV_INIT, "foobar", 6) == 0x85944171f73967e8ull, "fnv1a64 of \"foobar\"", "wrong");
    uint64_t h = shard_fnv1a64(SHARD_FNV_INIT, "foo", 3);
    t_check(shard_fnv1a64(h, "bar", 3) == 0x85944171f73967e8ull, "fnv1a64 continues across calls", "wrong");
}

static shard_info make_info(uint32_t width, uint32_t vocab, size_t n) {
    return (shard_info){.width = width, .split = SHARD_VAL, .vocab_size = vocab, .eos = (int32_t)vocab - 1, .index = 1,
                        .n_shards = 3, .n_tokens = n, .n_docs = 7, .first_token = 12345};
}

static void test_roundtrip(uint32_t width, uint32_t vocab) {
    size_t n = 100003;
    void *ids = malloc(n * width), *back = malloc(n * width);
    uint32_t want_max = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)((i * 2654435761u) >> 7) % vocab;
        want_max = v > want_max ? v : want_max;
        if (width == 2) ((uint16_t *)ids)[i] = (uint16_t)v;
        else ((uint32_t *)ids)[i] = v;
    }
    const char *path = t_tmp(width == 2 ? "rt2.tzst" : "rt4.tzst");
    shard_info w = make_info(width, vocab, n), r;
    tr_err err = {{0}};
    char name[64];
    snprintf(name, sizeof(name), "shard round trip, width %u", width);
    int ok = shard_write(path, &w, ids, 3, &err) == 0 && shard_read_info(path, &r, &err) == 0;
    uint32_t m = 0;
    ok = ok && shard_read_tokens(path, &r, back, &m, &err) == 0;
    ok = t_check(ok && !memcmp(ids, back, n * width) && m == want_max, name, "%s (max %u vs %u)", err.msg, m, want_max);
    if (ok) {
        t_check(r.version == 1 && r.width == width && r.split == SHARD_VAL && r.vocab_size == vocab && r.eos == (int32_t)vocab - 1 &&
                    r.index == 1 && r.n_shards == 3 && r.n_tokens == n && r.n_docs == 7 && r.first_token == 12345 &&
                    r.checksum == shard_fnv1a64(SHARD_FNV_INIT, ids, n * width) && r.zsize == w.zsize,
                width == 2 ? "shard header fields, width 2" : "shard header fields, width 4", "header fields differ");
        // the documented byte layout
        size_t size;
        unsigned char *b = read_all(path, &size);
        t_check(!memcmp(b, "TRITSHRD", 8) && le32(b + 8) == 1 && le32(b + 12) == 80 && le32(b + 16) == width &&
                    le32(b + 20) == 1 && le32(b + 24) == vocab && le32(b + 28) == vocab - 1 && le32(b + 32) == 1 &&
                    le32(b + 36) == 3 && le64(b + 40) == n && le64(b + 48) == 7 && le64(b + 56) == 12345 &&
                    le64(b + 64) == r.checksum && le64(b + 72) == size - 80 && le32(b + 80) == 0xFD2FB528u,
                "shard header byte layout", "a field is not where docs/formats.md says");
        free(b);
    }
    free(ids);
    free(back);
}

// Writes a small valid shard, applies `edit` to its bytes and expects reading to fail mentioning `want`.
static void expect_corrupt(const char *name, void (*edit)(unsigned char *b, size_t *n), const char *want) {
    uint16_t ids[5000];
    for (int i = 0; i < 5000; i++) ids[i] = (uint16_t)((i * 7919) % 1000);
    const char *path = t_tmp("bad.tzst");
    shard_info w = make_info(2, 1000, 5000), r;
    tr_err err = {{0}};
    if (shard_write(path, &w, ids, 3, &err)) {
        t_check(0, name, "write: %s", err.msg);
        return;
    }
    size_t n;
    unsigned char *b = read_all(path, &n);
    unsigned char *big = malloc(n + 16);
    memcpy(big, b, n);
    edit(big, &n);
    t_write_file(path, big, n);
    uint16_t back[5000];
    memset(&err, 0, sizeof(err));
    int rc = shard_read_info(path, &r, &err);
    if (rc == 0) rc = shard_read_tokens(path, &r, back, NULL, &err);
    t_check(rc == -1 && strstr(err.msg, path) && strstr(err.msg, want), name, "rc %d, message '%s', want '%s'", rc, err.msg, want);
    free(b);
    free(big);
}

static void e_magic(unsigned char *b, size_t *n) { (void)n; b[0] = 'X'; }
static void e_version(unsigned char *b, size_t *n) { (void)n; b[8] = 2; }
static void e_width(unsigned char *b, size_t *n) { (void)n; b[16] = 3; }
static void e_truncate(unsigned char *b, size_t *n) { (void)b; *n -= 10; }
static void e_header_only(unsigned char *b, size_t *n) { (void)b; *n = 40; }
static void e_trailing(unsigned char *b, size_t *n) { b[*n] = 0; *n += 1; }
static void e_checksum(unsigned char *b, size_t *n) { (void)n; b[64] ^= 1; }
static void e_frame(unsigned char *b, size_t *n) { (void)n; b[80] ^= 0xff; }
static void e_payload(unsigned char *b, size_t *n) { b[*n / 2 + 40] ^= 0x5a; }
static void e_vocab(unsigned char *b, size_t *n) { (void)n; b[24] = 0x10; b[25] = 0x01; b[28] = 0; }   // vocab 272 < ids up to 999
static void e_count(unsigned char *b, size_t *n) { (void)n; b[40] ^= 2; }

static void test_corrupt(void) {
    expect_corrupt("corrupt shard: bad magic", e_magic, "bad magic");
    expect_corrupt("corrupt shard: wrong version", e_version, "version 2");
    expect_corrupt("corrupt shard: bad token width", e_width, "token width 3");
    expect_corrupt("corrupt shard: truncated", e_truncate, "truncated");
    expect_corrupt("corrupt shard: truncated inside the header", e_header_only, "truncated");
    expect_corrupt("corrupt shard: trailing bytes", e_trailing, "trailing bytes");
    expect_corrupt("corrupt shard: checksum", e_checksum, "checksum mismatch");
    expect_corrupt("corrupt shard: not a zstd frame", e_frame, "corrupt");
    expect_corrupt("corrupt shard: flipped compressed byte", e_payload, "");
    expect_corrupt("corrupt shard: ids >= vocab size", e_vocab, "outside the vocabulary");
    expect_corrupt("corrupt shard: token count", e_count, "corrupt");
    tr_err err = {{0}};
    shard_info r;
    t_check(shard_read_info(t_tmp("none.tzst"), &r, &err) == -1 && strstr(err.msg, "none.tzst: cannot open"),
            "missing shard file", "'%s'", err.msg);
}

static void test_split_rule(void) {
    shard_split s;
    size_t one[1] = {1115394};   // tinyshakespeare as one document of bytes: nanoGPT's int(n * 0.9)
    shard_compute_split(&s, one, 1, 0.1);
    t_check(s.train_end == 1003854 && s.val_begin == 1003854 && s.train_docs == 1 && s.val_docs == 1,
            "split: one document is cut at int(n * 0.9)", "%zu %zu %zu %zu", s.train_end, s.val_begin, s.train_docs, s.val_docs);
    // ten documents of 9 tokens + EOS between: n = 99; cut = int(99 * 0.8) = 79 lies in doc 7 ([70, 79)) -> EOS at 79;
    // the first document starting at or after 79 is doc 8 at 80.
    size_t ends[10];
    for (int i = 0; i < 10; i++) ends[i] = (size_t)(10 * i + 9);
    shard_compute_split(&s, ends, 10, 0.2);
    t_check(s.train_end == 79 && s.val_begin == 80 && s.train_docs == 8 && s.val_docs == 2, "split: whole documents",
            "%zu %zu %zu %zu", s.train_end, s.val_begin, s.train_docs, s.val_docs);
    shard_compute_split(&s, ends, 10, 0.25);   // cut = int(74.25) = 74 inside doc 7 -> val from doc 8
    t_check(s.train_end == 79 && s.val_begin == 80 && s.val_docs == 2, "split: a cut inside a document moves to the next",
            "%zu %zu", s.train_end, s.val_begin);
    shard_compute_split(&s, ends, 10, 0.3);    // cut = int(69.3) = 69 = EOS after doc 6 -> val from doc 7
    t_check(s.train_end == 69 && s.val_begin == 70 && s.train_docs == 7 && s.val_docs == 3, "split: a cut on an EOS",
            "%zu %zu", s.train_end, s.val_begin);
    shard_compute_split(&s, ends, 10, 0.05);   // cut = int(94.05) = 94 inside the last document (90..99)
    t_check(s.train_end == 94 && s.val_begin == 94 && s.train_docs == 10 && s.val_docs == 1,
            "split: a cut inside the last document splits it", "%zu %zu", s.train_end, s.val_begin);
    shard_compute_split(&s, ends, 10, 0.0);
    t_check(s.train_end == 99 && s.val_begin == 99 && s.val_docs == 0, "split: fraction 0 keeps everything in train", "%zu",
            s.train_end);
    size_t tiny[1] = {3};
    shard_compute_split(&s, tiny, 1, 0.9);     // cut = int(0.3) = 0
    t_check(s.train_end == 0, "split: too few tokens leave train empty (the builder reports it)", "%zu", s.train_end);
}

static void test_names(void) {
    t_check(shard_name_index("train_000000.tzst", "train") == 0 && shard_name_index("val_000012.tzst", "val") == 12 &&
                shard_name_index("train_1234567.tzst", "train") == 1234567 && shard_name_index("train_.tzst", "train") < 0 &&
                shard_name_index("val_000000.tzst", "train") < 0 && shard_name_index("train_000000.tzst.tmp.1", "train") < 0 &&
                shard_name_index("train_00x.tzst", "train") < 0,
            "shard file names", "mismatch");
}

// ---- text sources ----

// Reads every document of the inputs in batches of max_bytes; joins them as "[doc]" for comparison.
static char *read_docs(const char *const *paths, int n, int per_file, size_t max_bytes, tr_err *err, long *batches) {
    ts_reader *r;
    if (ts_open(&r, paths, n, per_file, err)) return NULL;
    ts_batch b = {0};
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    long got;
    *batches = 0;
    while ((got = ts_next(r, &b, max_bytes, err)) > 0) {
        (*batches)++;
        for (size_t i = 0; i < b.n; i++) {
            while (len + b.docs[i].len + 3 > cap) out = realloc(out, cap *= 2);
            out[len++] = '[';
            memcpy(out + len, b.docs[i].text, b.docs[i].len);
            len += b.docs[i].len;
            out[len++] = ']';
            out[len] = 0;
        }
    }
    ts_batch_free(&b);
    ts_close(r);
    if (got < 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_textsrc(void) {
    const char *txt = "\n\nfirst line\r\nsecond line\r\n \t\r\n\nnext doc\n  indented\n\n\n\nlast, no newline";
    t_write_file(t_tmp("a.txt"), txt, strlen(txt));
    const char *jl = "{\"text\": \"j1 \\u00e9\\n\\\"q\\\"\", \"id\": 3}\n\n   \n{\"meta\": 1, \"text\": \"j2\"}\r\n{\"text\": \"\"}\n"
                     "{\"text\":\"j3\"}";
    t_write_file(t_tmp("b.jsonl"), jl, strlen(jl));
    t_write_file(t_tmp("empty.txt"), "", 0);
    const char *paths[3] = {t_tmp("a.txt"), t_tmp("empty.txt"), t_tmp("b.jsonl")};
    tr_err err = {{0}};
    long batches;
    char *got = read_docs(paths, 3, 0, 1 << 20, &err, &batches);
    const char *want = "[first line\r\nsecond line][next doc\n  indented][last, no newline][j1 \xc3\xa9\n\"q\"][j2][j3]";
    t_check(got && !strcmp(got, want) && batches == 1, "text: blank lines separate documents; jsonl \"text\" decoded",
            "got '%s' (%ld batches) %s", got ? got : "", batches, err.msg);
    free(got);
    got = read_docs(paths, 3, 0, 1, &err, &batches);
    t_check(got && !strcmp(got, want) && batches == 6, "text: small batches give the same documents in order", "got '%s' %ld",
            got ? got : "", batches);
    free(got);
    got = read_docs(paths, 2, 1, 1 << 20, &err, &batches);
    char want2[256];
    snprintf(want2, sizeof(want2), "[%s]", txt);
    t_check(got && !strcmp(got, want2), "text: --doc-per-file keeps the file byte for byte", "got '%s'", got ? got : "");
    free(got);

    struct {
        const char *name, *content, *want;
    } bad[] = {
        {"jsonl malformed JSON names the line", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", "bad.jsonl: line 2: malformed JSON"},
        {"jsonl without text names the line", "\n{\"text\": \"ok\"}\n\n{\"body\": \"x\"}\n", "bad.jsonl: line 4: no \"text\" field"},
        {"jsonl non-string text", "{\"text\": 12}\n", "bad.jsonl: line 1: \"text\" must be a string"},
        {"jsonl not an object", "[\"text\"]\n", "bad.jsonl: line 1: no \"text\" field"},
        {"jsonl trailing garbage", "{\"text\": \"a\"} x\n", "bad.jsonl: line 1: malformed JSON near column 15"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t_write_file(t_tmp("bad.jsonl"), bad[i].content, strlen(bad[i].content));
        const char *p[1] = {t_tmp("bad.jsonl")};
        memset(&err, 0, sizeof(err));
        got = read_docs(p, 1, 0, 1 << 20, &err, &batches);
        t_check(!got && strstr(err.msg, bad[i].want), bad[i].name, "message '%s', want '%s'", err.msg, bad[i].want);
        free(got);
    }
    const char *missing[2] = {t_tmp("a.txt"), t_tmp("nope.txt")};
    ts_reader *r = NULL;
    t_check(ts_open(&r, missing, 2, 0, &err) == -1 && strstr(err.msg, "nope.txt: cannot open"), "text: missing input named",
            "'%s'", err.msg);
    const char *d[1] = {t_tmpdir()};
    t_check(ts_open(&r, d, 1, 0, &err) == -1 && strstr(err.msg, "is a directory"), "text: a folder as input", "'%s'", err.msg);
}

int main(void) {
    test_fnv();
    test_roundtrip(2, 65536);
    test_roundtrip(4, 128256);
    test_corrupt();
    test_split_rule();
    test_names();
    test_textsrc();
    return t_done();
}
