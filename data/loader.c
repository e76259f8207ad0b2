// loader.c: one split of a token dataset in memory, and random / sequential windows over it.
//
// Sources: trit .tzst shards (decompressed into one array, every checksum verified, in parallel), llm.c
// .bin files (256 x int32 header: magic 20240520 version 1 with uint16 tokens, or magic 20240801
// version 7 with uint32 tokens) and nanoGPT's raw uint16 train.bin / val.bin. A single .bin file is
// memory-mapped; several are copied into one array.
#include "data/loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/mapfile.h"
#include "data/shard.h"

#define LLMC_HEADER_BYTES 1024   // 256 int32

struct dl_loader {
    const void *tok;      // (n,) ids, uint16 or uint32
    size_t n;
    uint32_t width;       // 2 or 4
    void *owned;          // tok when it is ours to free
    mf_file map;          // tok points into it for a single mapped .bin
    int max_token, vocab_size, eos;
};

// ---- listing folders ----

typedef struct {
    char **names;
    int n, cap;
} name_list;

static void names_free(name_list *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

// split.bin (nanoGPT), *_split.bin or *_split_*.bin (llm.c)
static int is_bin_name(const char *name, const char *split) {
    char mid[32], end[32], whole[32];
    snprintf(mid, sizeof(mid), "_%s_", split);
    snprintf(end, sizeof(end), "_%s.bin", split);
    snprintf(whole, sizeof(whole), "%s.bin", split);
    return !strcmp(name, whole) || ends_with(name, end) || (strstr(name, mid) && ends_with(name, ".bin"));
}

static int list_dir(name_list *out, const char *dir, const char *split, int tzst, tr_err *err) {
    memset(out, 0, sizeof(*out));
    DIR *d = opendir(dir);
    if (!d) return tr_fail(err, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (tzst ? shard_name_index(e->d_name, split) < 0 : !is_bin_name(e->d_name, split)) continue;
        if (out->n == out->cap) out->names = tr_realloc(out->names, (size_t)(out->cap = out->cap ? 2 * out->cap : 16) * sizeof(char *));
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        out->names[out->n] = tr_malloc(len);
        snprintf(out->names[out->n++], len, "%s%s%s", dir, ends_with(dir, "/") ? "" : "/", e->d_name);
    }
    closedir(d);
    if (out->n > 1) qsort(out->names, (size_t)out->n, sizeof(char *), cmp_names);
    return 0;
}

// ---- .tzst shards ----

// Reads every header, checks that they form one split (indices 0..n-1, same vocab and width, each shard
// starting where the previous ended), then decompresses all shards in parallel into one array.
static int load_tzst(dl_loader *l, char *const *paths, int n, const char *split, int whole_split, tr_err *err) {
    shard_info *info = tr_calloc((size_t)n, sizeof(shard_info));
    int rc = -1;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        shard_info *s = &info[i];
        if (shard_read_info(paths[i], s, err)) goto done;
        if (strcmp(shard_split_name(s->split), split)) {
            tr_fail(err, "%s: holds %s tokens, not %s", paths[i], shard_split_name(s->split), split);
            goto done;
        }
        if (i > 0 && (s->width != info[0].width || s->vocab_size != info[0].vocab_size || s->eos != info[0].eos)) {
            tr_fail(err, "%s: token width %u, vocab size %u, EOS %d differ from %s (%u, %u, %d)", paths[i], s->width,
                    s->vocab_size, s->eos, paths[0], info[0].width, info[0].vocab_size, info[0].eos);
            goto done;
        }
        if (whole_split && s->n_shards != info[0].n_shards) {
            tr_fail(err, "%s: shard %u of %u, but %s says the split has %u shards (a shard left from another run?)", paths[i],
                    s->index, s->n_shards, paths[0], info[0].n_shards);
            goto done;
        }
        if (whole_split && s->index != (uint32_t)i) {   // names are sorted: the first gap is the missing shard
            const char *slash = strrchr(paths[i], '/');
            tr_fail(err, "%.*s%s_%06d.tzst: missing (the %s split has %u shards)", slash ? (int)(slash - paths[i] + 1) : 0,
                    paths[i], split, i, split, s->n_shards);
            goto done;
        }
        if (whole_split && s->first_token != total) {
            tr_fail(err, "%s: starts at token %llu of the split, but the shards before it end at %zu (shards from different runs?)",
                    paths[i], (unsigned long long)s->first_token, total);
            goto done;
        }
        total += (size_t)s->n_tokens;
    }
    if (whole_split && info[0].n_shards != (uint32_t)n) {
        const char *slash = strrchr(paths[0], '/');
        tr_fail(err, "%.*s%s_%06d.tzst: missing (the %s split has %u shards)", slash ? (int)(slash - paths[0] + 1) : 0, paths[0],
                split, n, split, info[0].n_shards);
        goto done;
    }
    l->width = info[0].width;
    l->vocab_size = (int)info[0].vocab_size;
    l->eos = info[0].eos;
    l->n = total;
    l->owned = tr_alloc_aligned(total * l->width);
    l->tok = l->owned;

    tr_err *errs = tr_calloc((size_t)n, sizeof(tr_err));
    int *bad = tr_calloc((size_t)n, sizeof(int));
    uint32_t *maxes = tr_calloc((size_t)n, sizeof(uint32_t));
    size_t *offs = tr_calloc((size_t)n, sizeof(size_t));
    for (int i = 1; i < n; i++) offs[i] = offs[i - 1] + (size_t)info[i - 1].n_tokens;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++)
        bad[i] = shard_read_tokens(paths[i], &info[i], (char *)l->owned + offs[i] * l->width, &maxes[i], &errs[i]) != 0;
    rc = 0;
    uint32_t m = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (bad[i]) {
            if (err) *err = errs[i];
            rc = -1;
        }
        m = maxes[i] > m ? maxes[i] : m;
    }
    l->max_token = (int)m;
    free(errs);
    free(bad);
    free(maxes);
    free(offs);
done:
    free(info);
    return rc;
}

// ---- llm.c / nanoGPT .bin ----

typedef struct {
    size_t offset, n;   // token data: byte offset in the file, token count
    uint32_t width;
} bin_layout;

static int32_t rd32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static int is_raw_name(const char *path, int raw_ok) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return raw_ok || !strcmp(base, "train.bin") || !strcmp(base, "val.bin");
}

// raw_ok: read a file without the llm.c magic as raw uint16 whatever its name.
static int bin_layout_of(bin_layout *b, const mf_file *f, const char *path, int raw_ok, tr_err *err) {
    int32_t magic = f->size >= 4 ? rd32(f->data) : 0;
    if (magic == 20240520 || magic == 20240801) {
        if (f->size < LLMC_HEADER_BYTES)
            return tr_fail(err, "%s: truncated: %zu bytes, shorter than the llm.c 1024-byte header", path, f->size);
        int32_t version = rd32(f->data + 4), ntok = rd32(f->data + 8);
        int32_t want = magic == 20240520 ? 1 : 7;
        if (version != want)
            return tr_fail(err, "%s: llm.c shard version %d, expected %d for magic %d", path, version, want, magic);
        b->width = magic == 20240520 ? 2 : 4;
        b->offset = LLMC_HEADER_BYTES;
        if (ntok <= 0) return tr_fail(err, "%s: llm.c header says %d tokens", path, ntok);
        b->n = (size_t)ntok;
        size_t want_size = LLMC_HEADER_BYTES + b->n * b->width;
        if (f->size != want_size)
            return tr_fail(err, "%s: %s: the llm.c header says %zu tokens (%zu bytes), the file has %zu bytes", path,
                           f->size < want_size ? "truncated" : "trailing bytes", b->n, want_size, f->size);
        return 0;
    }
    if (!is_raw_name(path, raw_ok))
        return tr_fail(err, "%s: not a token file (no llm.c magic 20240520/20240801; raw nanoGPT uint16 files must be named train.bin or val.bin)",
                       path);
    if (f->size == 0) return tr_fail(err, "%s: empty token file", path);
    if (f->size % 2) return tr_fail(err, "%s: truncated: %zu bytes is not a whole number of uint16 tokens", path, f->size);
    b->width = 2;
    b->offset = 0;
    b->n = f->size / 2;
    return 0;
}

static void scan_max(dl_loader *l) {
    uint32_t m = 0;
    if (l->width == 2) {
        const uint16_t *t = l->tok;
#pragma omp parallel for reduction(max : m)
        for (size_t i = 0; i < l->n; i++) m = t[i] > m ? t[i] : m;
    } else {
        const uint32_t *t = l->tok;
#pragma omp parallel for reduction(max : m)
        for (size_t i = 0; i < l->n; i++) m = t[i] > m ? t[i] : m;
    }
    l->max_token = (int)(m > INT32_MAX ? INT32_MAX : m);
}

static int load_bin(dl_loader *l, char *const *paths, int n, int raw_ok, tr_err *err) {
    mf_file *maps = tr_calloc((size_t)n, sizeof(mf_file));
    bin_layout *lay = tr_calloc((size_t)n, sizeof(bin_layout));
    int rc = -1;
    for (int i = 0; i < n; i++) {
        if (mf_open(&maps[i], paths[i], err) || bin_layout_of(&lay[i], &maps[i], paths[i], raw_ok, err)) goto done;
        if (lay[i].width != lay[0].width) {
            tr_fail(err, "%s: %u-byte tokens, but %s has %u-byte tokens", paths[i], lay[i].width, paths[0], lay[0].width);
            goto done;
        }
        l->n += lay[i].n;
    }
    l->width = lay[0].width;
    if (n == 1) {   // map it: no copy
        l->map = maps[0];
        maps[0] = (mf_file){0};
        l->tok = l->map.data + lay[0].offset;
    } else {
        l->owned = tr_alloc_aligned(l->n * l->width);
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            memcpy((char *)l->owned + at * l->width, maps[i].data + lay[i].offset, lay[i].n * l->width);
            at += lay[i].n;
        }
        l->tok = l->owned;
    }
    scan_max(l);
    rc = 0;
done:
    for (int i = 0; i < n; i++) mf_close(&maps[i]);
    free(maps);
    free(lay);
    return rc;
}

// ---- opening ----

static int has_magic(const char *path, const char *magic) {
    FILE *fp = fopen(path, "rb");
    char buf[8] = {0};
    if (!fp) return 0;
    size_t got = fread(buf, 1, 8, fp);
    fclose(fp);
    return got == 8 && !memcmp(buf, magic, 8);
}

static int open_any(dl_loader **out, const char *path, const char *split, int raw_ok, tr_err *err) {
    *out = NULL;
    if (strcmp(split, "train") && strcmp(split, "val"))
        return tr_fail(err, "%s: unknown split '%s' (train or val)", path, split);
    struct stat st;
    if (stat(path, &st) != 0) return tr_fail(err, "%s: cannot open: no such file or folder", path);
    dl_loader *l = tr_calloc(1, sizeof(*l));
    l->vocab_size = l->eos = -1;
    name_list names = {0};
    int rc;
    if (S_ISDIR(st.st_mode)) {
        rc = list_dir(&names, path, split, 1, err);
        if (rc == 0 && names.n > 0) {
            rc = load_tzst(l, names.names, names.n, split, 1, err);
        } else if (rc == 0) {
            rc = list_dir(&names, path, split, 0, err);
            if (rc == 0 && names.n == 0)
                rc = tr_fail(err, "%s: no %s data (%s_*.tzst shards, llm.c *_%s*.bin or nanoGPT %s.bin)", path, split, split,
                             split, split);
            else if (rc == 0) rc = load_bin(l, names.names, names.n, raw_ok, err);
        }
    } else {
        char *one[1] = {(char *)path};
        rc = has_magic(path, SHARD_MAGIC) || ends_with(path, ".tzst") ? load_tzst(l, one, 1, split, 0, err)
                                                                        : load_bin(l, one, 1, raw_ok, err);
    }
    names_free(&names);
    if (rc) {
        dl_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

int dl_has_split(const char *path, const char *split) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return 1;
    int found = 0;
    for (int tzst = 1; tzst >= 0 && !found; tzst--) {
        name_list l;
        found = list_dir(&l, path, split, tzst, NULL) == 0 && l.n > 0;
        names_free(&l);
    }
    return found;
}

int dl_open(dl_loader **out, const char *path, const char *split, tr_err *err) {
    return open_any(out, path, split, 0, err);
}

int dl_open_raw(dl_loader **out, const char *path, tr_err *err) {
    return open_any(out, path, "train", 1, err);
}

void dl_close(dl_loader *l) {
    if (!l) return;
    free(l->owned);
    mf_close(&l->map);
    free(l);
}

size_t dl_num_tokens(const dl_loader *l) {
    return l->n;
}

int dl_max_token(const dl_loader *l) {
    return l->max_token;
}

int dl_vocab_size(const dl_loader *l) {
    return l->vocab_size;
}

int dl_eos(const dl_loader *l) {
    return l->eos;
}

int32_t dl_token(const dl_loader *l, size_t i) {
    CHECK(i < l->n, "token %zu of %zu", i, l->n);
    return l->width == 2 ? (int32_t)((const uint16_t *)l->tok)[i] : (int32_t)((const uint32_t *)l->tok)[i];
}

// ---- windows ----

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t dl_window_start(uint64_t seed, uint64_t step, int rank, int b, size_t n_starts) {
    uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ step);
    h = splitmix64(h ^ (uint64_t)(uint32_t)rank);
    h = splitmix64(h ^ (uint64_t)(uint32_t)b);
    return (uint64_t)(((unsigned __int128)h * n_starts) >> 64);
}

// inputs, targets: (T,) each, from the T + 1 tokens at start.
static void copy_window(const dl_loader *l, size_t start, int T, int32_t *inputs, int32_t *targets) {
    if (l->width == 2) {
        const uint16_t *t = (const uint16_t *)l->tok + start;
        for (int i = 0; i < T; i++) inputs[i] = t[i], targets[i] = t[i + 1];
    } else {
        const uint32_t *t = (const uint32_t *)l->tok + start;
        for (int i = 0; i < T; i++) inputs[i] = (int32_t)t[i], targets[i] = (int32_t)t[i + 1];
    }
}

void dl_batch(const dl_loader *l, uint64_t seed, uint64_t step, int rank, int B, int T, int32_t *inputs, int32_t *targets) {
    CHECK(B > 0 && T > 0, "B = %d, T = %d", B, T);
    CHECK(l->n > (size_t)T, "the split has %zu tokens, a window needs T + 1 = %d", l->n, T + 1);
    size_t n_starts = l->n - (size_t)T;   // windows [s, s + T] with s + T < n
    for (int b = 0; b < B; b++) {
        size_t s = (size_t)dl_window_start(seed, step, rank, b, n_starts);
        copy_window(l, s, T, inputs + (size_t)b * T, targets + (size_t)b * T);
    }
}

size_t dl_num_windows(const dl_loader *l, int T) {
    CHECK(T > 0, "T = %d", T);
    return l->n > 0 ? (l->n - 1) / (size_t)T : 0;
}

void dl_window(const dl_loader *l, size_t i, int T, int32_t *inputs, int32_t *targets) {
    CHECK(i < dl_num_windows(l, T), "window %zu of %zu (T = %d)", i, dl_num_windows(l, T), T);
    copy_window(l, i * (size_t)T, T, inputs, targets);
}
