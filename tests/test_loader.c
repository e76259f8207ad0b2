// test_loader.c: dl_open over .tzst folders and llm.c / nanoGPT .bin files, the determinism of dl_batch
// (a pure function of seed, step, rank), sequential windows, and every broken input named.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/shard.h"
#include "harness.h"

// A path in the subfolder `sub` of the test's folder ("" for the folder itself).
static const char *path_in(const char *sub, const char *name) {
    char rel[256];
    snprintf(rel, sizeof(rel), "%s%s%s", sub, *sub ? "/" : "", name);
    return t_tmp(rel);
}

static void mkdir_in(const char *sub) {
    if (mkdir(t_tmp(sub), 0755) != 0) {
        perror(t_tmp(sub));
        exit(1);
    }
}

static uint32_t id_at(size_t i, uint32_t vocab) {
    return (uint32_t)((i * 2654435761u) >> 5) % vocab;
}

// Writes the stream id_at(0..n) of one split as shards of `per` tokens into the subfolder `sub`.
static int write_split(const char *sub, uint32_t split, size_t n, size_t per, uint32_t width, uint32_t vocab, tr_err *err) {
    uint32_t count = (uint32_t)((n + per - 1) / per);
    void *buf = malloc(per * width);
    for (uint32_t s = 0; s < count; s++) {
        size_t a = s * per, m = a + per < n ? per : n - a;
        for (size_t i = 0; i < m; i++) {
            if (width == 2) ((uint16_t *)buf)[i] = (uint16_t)id_at(a + i, vocab);
            else ((uint32_t *)buf)[i] = id_at(a + i, vocab);
        }
        shard_info info = {.width = width, .split = split, .vocab_size = vocab, .eos = 0, .index = s, .n_shards = count,
                           .n_tokens = m, .n_docs = 1, .first_token = a};
        char name[64];
        snprintf(name, sizeof(name), "%s_%06u.tzst", shard_split_name(split), s);
        if (shard_write(path_in(sub, name), &info, buf, 1, err)) {
            free(buf);
            return -1;
        }
    }
    free(buf);
    return 0;
}

static int stream_matches(const dl_loader *l, uint32_t vocab) {
    for (size_t i = 0; i < dl_num_tokens(l); i++)
        if ((uint32_t)dl_token(l, i) != id_at(i, vocab)) return 0;
    return 1;
}

static void test_tzst_folder(void) {
    tr_err err = {{0}};
    mkdir_in("ds");
    int ok = write_split("ds", SHARD_TRAIN, 25000, 10000, 2, 5000, &err) == 0 && write_split("ds", SHARD_VAL, 3000, 10000, 2, 5000, &err) == 0;
    dl_loader *tr = NULL, *va = NULL;
    ok = ok && dl_open(&tr, path_in("ds", ""), "train", &err) == 0 && dl_open(&va, path_in("ds", ""), "val", &err) == 0;
    if (!t_check(ok, "open a shard folder", "%s", err.msg)) return;
    uint32_t m = 0;
    for (size_t i = 0; i < 25000; i++) m = id_at(i, 5000) > m ? id_at(i, 5000) : m;
    t_check(dl_num_tokens(tr) == 25000 && stream_matches(tr, 5000) && dl_max_token(tr) == (int)m && dl_vocab_size(tr) == 5000 &&
                dl_eos(tr) == 0,
            "train split: three shards make one stream", "%zu tokens, max %d", dl_num_tokens(tr), dl_max_token(tr));
    t_check(dl_num_tokens(va) == 3000 && stream_matches(va, 5000), "val split", "%zu tokens", dl_num_tokens(va));

    // dl_batch: windows of the stream, a pure function of (seed, step, rank)
    enum { B = 16, T = 64 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    dl_batch(tr, 42, 7, 0, B, T, x, y);
    int contiguous = 1;
    for (int b = 0; b < B; b++) {
        size_t s = (size_t)dl_window_start(42, 7, 0, b, 25000 - T);
        for (int t = 0; t < T; t++)
            contiguous &= x[b * T + t] == dl_token(tr, s + t) && y[b * T + t] == dl_token(tr, s + t + 1);
    }
    t_check(contiguous, "dl_batch: window b is tokens [s, s + T] at dl_window_start(seed, step, rank, b)", "mismatch");
    dl_batch(tr, 42, 3, 0, B, T, x2, y2);   // another step in between must not matter
    dl_batch(tr, 42, 7, 0, B, T, x2, y2);
    t_check(!memcmp(x, x2, sizeof(x)) && !memcmp(y, y2, sizeof(y)), "dl_batch: same (seed, step, rank) gives the same batch",
            "differs");
    int differ_step, differ_rank, differ_seed;
    dl_batch(tr, 42, 8, 0, B, T, x2, y2);
    differ_step = memcmp(x, x2, sizeof(x)) != 0;
    dl_batch(tr, 42, 7, 1, B, T, x2, y2);
    differ_rank = memcmp(x, x2, sizeof(x)) != 0;
    dl_batch(tr, 43, 7, 0, B, T, x2, y2);
    differ_seed = memcmp(x, x2, sizeof(x)) != 0;
    t_check(differ_step && differ_rank && differ_seed, "dl_batch: step, rank and seed each change the batch", "%d %d %d",
            differ_step, differ_rank, differ_seed);
    // a reopened loader (a resumed run) gives the same batch
    dl_loader *again = NULL;
    if (dl_open(&again, path_in("ds", ""), "train", &err) == 0) {
        dl_batch(again, 42, 7, 0, B, T, x2, y2);
        t_check(!memcmp(x, x2, sizeof(x)), "dl_batch: a reopened loader resumes identically", "differs");
        dl_close(again);
    }
    // every start in [0, n - T) is reachable, including both ends, and nothing past them
    size_t lo = SIZE_MAX, hi = 0, n_starts = 100;
    int seen[100] = {0};
    for (uint64_t step = 0; step < 20000; step++) {
        size_t s = (size_t)dl_window_start(1, step, 0, 0, n_starts);
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
        if (s < n_starts) seen[s] = 1;
    }
    int all = 1;
    for (int i = 0; i < 100; i++) all &= seen[i];
    t_check(lo == 0 && hi == n_starts - 1 && all, "window starts cover [0, n - T) and stay inside", "lo %zu hi %zu", lo, hi);

    // sequential windows: every token after the first is a target exactly once
    size_t nw = dl_num_windows(va, T);
    int ok_w = nw == (3000 - 1) / T;
    for (size_t i = 0; i < nw && ok_w; i++) {
        dl_window(va, i, T, x2, y2);
        for (int t = 0; t < T; t++) ok_w &= x2[t] == dl_token(va, i * T + t) && y2[t] == dl_token(va, i * T + t + 1);
    }
    t_check(ok_w, "dl_window: windows [i*T, i*T + T] over the whole split", "%zu windows", nw);
    dl_close(tr);
    dl_close(va);
}

static void test_width4(void) {
    tr_err err = {{0}};
    mkdir_in("w4");
    dl_loader *l = NULL;
    int ok = write_split("w4", SHARD_TRAIN, 5000, 2000, 4, 128256, &err) == 0 && dl_open(&l, path_in("w4", ""), "train", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 5000 && stream_matches(l, 128256) && dl_vocab_size(l) == 128256,
            "4-byte tokens (Llama 3 vocabulary)", "%s", err.msg);
    // one shard file given directly
    dl_loader *one = NULL;
    ok = dl_open(&one, path_in("w4", "train_000001.tzst"), "train", &err) == 0;
    t_check(ok && dl_num_tokens(one) == 2000 && (uint32_t)dl_token(one, 0) == id_at(2000, 128256), "a single shard file", "%s",
            err.msg);
    dl_close(l);
    dl_close(one);
}

// Expects dl_open(path, split) to fail with a message containing `want` (and the file's name).
static void expect_open_error(const char *name, const char *path, const char *split, const char *want) {
    tr_err err = {{0}};
    dl_loader *l = NULL;
    int rc = dl_open(&l, path, split, &err);
    t_check(rc == -1 && l == NULL && strstr(err.msg, want), name, "rc %d, message '%s', want '%s'", rc, err.msg, want);
    dl_close(l);
}

static void test_broken_folders(void) {
    tr_err err = {{0}};
    mkdir_in("gap");
    write_split("gap", SHARD_TRAIN, 30000, 10000, 2, 5000, &err);
    unlink(path_in("gap", "train_000001.tzst"));
    expect_open_error("a missing shard is named", path_in("gap", ""), "train", "gap/train_000001.tzst: missing (the train split has 3");
    unlink(path_in("gap", "train_000002.tzst"));
    expect_open_error("a missing last shard is named", path_in("gap", ""), "train", "gap/train_000001.tzst: missing");

    mkdir_in("stale");   // a 2-shard set plus a shard left from a 3-shard run
    write_split("stale", SHARD_TRAIN, 30000, 10000, 2, 5000, &err);
    write_split("stale", SHARD_TRAIN, 15000, 10000, 2, 5000, &err);
    expect_open_error("a shard left from another run is named", path_in("stale", ""), "train", "train_000002.tzst: shard 2 of 3, but");

    mkdir_in("corrupt");
    write_split("corrupt", SHARD_TRAIN, 30000, 10000, 2, 5000, &err);
    FILE *fp = fopen(path_in("corrupt", "train_000002.tzst"), "r+b");
    fseek(fp, 64, SEEK_SET);   // the checksum field
    fputc(0x77, fp);
    fclose(fp);
    expect_open_error("a checksum error in the third shard is named", path_in("corrupt", ""), "train",
                      "train_000002.tzst: checksum mismatch");

    expect_open_error("no val shards", path_in("w4", ""), "val", "no val data");
    expect_open_error("a shard of the other split", path_in("w4", "train_000000.tzst"), "val", "holds train tokens, not val");
    expect_open_error("unknown split", path_in("w4", ""), "test", "unknown split 'test'");
    expect_open_error("missing path", path_in("", "nothing-here"), "train", "nothing-here: cannot open");
}

// llm.c .bin: 256 x int32 header, then tokens.
static void write_llmc(const char *path, int32_t magic, int32_t version, int32_t ntok_header, size_t n, uint32_t width) {
    size_t bytes = 1024 + n * width;
    unsigned char *b = calloc(1, bytes);
    int32_t h[3] = {magic, version, ntok_header};
    memcpy(b, h, sizeof(h));
    for (size_t i = 0; i < n; i++) {
        uint32_t v = id_at(i, 50257);
        if (width == 2) ((uint16_t *)(b + 1024))[i] = (uint16_t)v;
        else ((uint32_t *)(b + 1024))[i] = v;
    }
    t_write_file(path, b, bytes);
    free(b);
}

static void test_bin(void) {
    tr_err err = {{0}};
    mkdir_in("llmc");
    write_llmc(path_in("llmc", "tiny_shakespeare_val.bin"), 20240520, 1, 4000, 4000, 2);
    dl_loader *l = NULL;
    int ok = dl_open(&l, path_in("llmc", "tiny_shakespeare_val.bin"), "val", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 4000 && stream_matches(l, 50257) && dl_vocab_size(l) == -1,
            "llm.c uint16 .bin (mapped)", "%s", err.msg);
    dl_close(l);
    // a folder of llm.c shards: *_train_NNNNNN.bin, concatenated in name order
    size_t n0 = 3000;
    write_llmc(path_in("llmc", "fw_train_000000.bin"), 20240520, 1, (int32_t)n0, n0, 2);
    write_llmc(path_in("llmc", "fw_train_000001.bin"), 20240520, 1, 2000, 2000, 2);
    ok = dl_open(&l, path_in("llmc", ""), "train", &err) == 0;
    int cat = ok && dl_num_tokens(l) == 5000;
    for (size_t i = 0; cat && i < 2000; i++) cat = (uint32_t)dl_token(l, n0 + i) == id_at(i, 50257);
    t_check(cat, "a folder of llm.c .bin shards in name order", "%s", err.msg);
    dl_close(l);
    ok = dl_open(&l, path_in("llmc", ""), "val", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 4000, "a folder's *_val.bin", "%s", err.msg);
    dl_close(l);
    write_llmc(path_in("llmc", "l3_val.bin"), 20240801, 7, 1000, 1000, 4);
    ok = dl_open(&l, path_in("llmc", "l3_val.bin"), "val", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 1000 && stream_matches(l, 50257), "llm.c Llama 3 .bin (uint32, magic 20240801)", "%s",
            err.msg);
    dl_close(l);

    write_llmc(path_in("llmc", "short.bin"), 20240520, 1, 5000, 4000, 2);
    expect_open_error("llm.c .bin truncated", path_in("llmc", "short.bin"), "train", "short.bin: truncated: the llm.c header says 5000");
    write_llmc(path_in("llmc", "v2.bin"), 20240520, 2, 100, 100, 2);
    expect_open_error("llm.c .bin wrong version", path_in("llmc", "v2.bin"), "train", "v2.bin: llm.c shard version 2");

    // nanoGPT: raw uint16, only as train.bin / val.bin (or dl_open_raw)
    mkdir_in("nano");
    uint16_t raw[3001];
    for (int i = 0; i < 3001; i++) raw[i] = (uint16_t)id_at((size_t)i, 50257);
    t_write_file(path_in("nano", "train.bin"), raw, 3000 * 2);
    t_write_file(path_in("nano", "val.bin"), raw, 500 * 2);
    t_write_file(path_in("nano", "tokens.bin"), raw, 100 * 2);
    t_write_file(path_in("nano", "odd.bin"), raw, 101);
    ok = dl_open(&l, path_in("nano", ""), "train", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 3000 && stream_matches(l, 50257) && dl_max_token(l) > 0, "nanoGPT raw train.bin in a folder",
            "%s", err.msg);
    dl_close(l);
    ok = dl_open(&l, path_in("nano", "val.bin"), "val", &err) == 0;
    t_check(ok && dl_num_tokens(l) == 500, "nanoGPT raw val.bin", "%s", err.msg);
    dl_close(l);
    expect_open_error("a raw file under another name is refused", path_in("nano", "tokens.bin"), "train",
                      "tokens.bin: not a token file");
    ok = dl_open_raw(&l, path_in("nano", "tokens.bin"), &err) == 0;
    t_check(ok && dl_num_tokens(l) == 100, "dl_open_raw reads any name", "%s", err.msg);
    dl_close(l);
    tr_err e2 = {{0}};
    t_check(dl_open_raw(&l, path_in("nano", "odd.bin"), &e2) == -1 && strstr(e2.msg, "odd.bin: truncated"),
            "a raw file of an odd size", "'%s'", e2.msg);
}

// dl_batch on a split shorter than T + 1 tokens is a programming error: it CHECKs (exit 1, a message).
// Run in a fresh process (this binary with --short-split): OpenMP does not survive a bare fork.
static int short_split_child(const char *path) {
    tr_err err = {{0}};
    dl_loader *l = NULL;
    if (dl_open(&l, path, "val", &err)) return 2;
    int32_t x[600], y[600];
    dl_batch(l, 1, 0, 0, 1, 500, x, y);   // 500 tokens, a window needs 501
    return 0;
}

static void test_short_split(const char *self) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s --short-split %s 2>%s", self, path_in("nano", "val.bin"), path_in("", "short.err"));
    int status = system(cmd);
    FILE *fp = fopen(path_in("", "short.err"), "r");
    char msg[512] = {0};
    if (fp) {
        if (!fgets(msg, sizeof(msg), fp)) msg[0] = 0;
        fclose(fp);
    }
    t_check(WIFEXITED(status) && WEXITSTATUS(status) == 1 && strstr(msg, "check failed") && strstr(msg, "a window needs T + 1 = 501"),
            "dl_batch with fewer than T + 1 tokens fails a CHECK", "status %d, '%s'", status, msg);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--short-split")) return short_split_child(argv[2]);
    test_tzst_folder();
    test_width4();
    test_broken_folders();
    test_bin();
    test_short_split(argv[0]);
    return t_done();
}
