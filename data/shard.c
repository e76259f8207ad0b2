// shard.c: the .tzst token shard format: header encoding, atomic writer, validating reader.
#include "data/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/afile.h"
#include "data/mapfile.h"

// Tokens are stored little-endian and read in place.
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "trit shards assume a little-endian host");

const char *shard_split_name(uint32_t split) {
    return split == SHARD_TRAIN ? "train" : split == SHARD_VAL ? "val" : "?";
}

long shard_name_index(const char *name, const char *split) {
    size_t k = strlen(split);
    if (strncmp(name, split, k) || name[k] != '_') return -1;
    const char *p = name + k + 1;
    long v = 0;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > 100000000L) return -1;
        v = v * 10 + (*p - '0');
    }
    return strcmp(p, ".tzst") ? -1 : v;
}

uint32_t shard_width_for(int vocab_size) {
    return vocab_size <= 65536 ? 2 : 4;
}

uint64_t shard_fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

// Header layout (docs/formats.md): offsets in bytes, all little-endian.
static void encode_header(unsigned char h[SHARD_HEADER_SIZE], const shard_info *s) {
    memset(h, 0, SHARD_HEADER_SIZE);
    memcpy(h, SHARD_MAGIC, 8);
    put32(h + 8, s->version);
    put32(h + 12, SHARD_HEADER_SIZE);
    put32(h + 16, s->width);
    put32(h + 20, s->split);
    put32(h + 24, s->vocab_size);
    put32(h + 28, (uint32_t)s->eos);
    put32(h + 32, s->index);
    put32(h + 36, s->n_shards);
    put64(h + 40, s->n_tokens);
    put64(h + 48, s->n_docs);
    put64(h + 56, s->first_token);
    put64(h + 64, s->checksum);
    put64(h + 72, s->zsize);
}

// Decodes and validates a header against the file size.
static int decode_header(shard_info *s, const unsigned char *h, size_t file_size, const char *path, tr_err *err) {
    if (file_size < 8 || memcmp(h, SHARD_MAGIC, 8) != 0)
        return tr_fail(err, "%s: not a trit shard (bad magic; expected \"%s\")", path, SHARD_MAGIC);
    if (file_size < SHARD_HEADER_SIZE)
        return tr_fail(err, "%s: truncated: %zu bytes, shorter than the %d-byte header", path, file_size, SHARD_HEADER_SIZE);
    s->version = get32(h + 8);
    if (s->version != SHARD_VERSION)
        return tr_fail(err, "%s: unsupported shard version %u (this trit reads version %d)", path, s->version, SHARD_VERSION);
    uint32_t hsize = get32(h + 12);
    if (hsize != SHARD_HEADER_SIZE)
        return tr_fail(err, "%s: header size %u, expected %d for version %d", path, hsize, SHARD_HEADER_SIZE, SHARD_VERSION);
    s->width = get32(h + 16);
    s->split = get32(h + 20);
    s->vocab_size = get32(h + 24);
    s->eos = (int32_t)get32(h + 28);
    s->index = get32(h + 32);
    s->n_shards = get32(h + 36);
    s->n_tokens = get64(h + 40);
    s->n_docs = get64(h + 48);
    s->first_token = get64(h + 56);
    s->checksum = get64(h + 64);
    s->zsize = get64(h + 72);
    if (s->width != 2 && s->width != 4) return tr_fail(err, "%s: token width %u, expected 2 or 4", path, s->width);
    if (s->split != SHARD_TRAIN && s->split != SHARD_VAL)
        return tr_fail(err, "%s: split %u, expected 0 (train) or 1 (val)", path, s->split);
    if (s->vocab_size == 0 || (s->width == 2 && s->vocab_size > 65536))
        return tr_fail(err, "%s: vocab size %u does not fit token width %u", path, s->vocab_size, s->width);
    if (s->eos < 0 || (uint32_t)s->eos >= s->vocab_size)
        return tr_fail(err, "%s: EOS id %d is outside the vocabulary (vocab size %u)", path, s->eos, s->vocab_size);
    if (s->n_shards == 0 || s->index >= s->n_shards)
        return tr_fail(err, "%s: shard index %u of %u shards", path, s->index, s->n_shards);
    if (s->n_tokens == 0 || s->n_tokens > (SIZE_MAX / 4) || s->n_docs > s->n_tokens)
        return tr_fail(err, "%s: bad counts: %llu tokens, %llu documents", path, (unsigned long long)s->n_tokens,
                       (unsigned long long)s->n_docs);
    if (s->zsize != file_size - SHARD_HEADER_SIZE)
        return tr_fail(err, "%s: %s: the header says %llu compressed bytes follow, the file has %zu", path,
                       s->zsize > file_size - SHARD_HEADER_SIZE ? "truncated" : "trailing bytes",
                       (unsigned long long)s->zsize, file_size - SHARD_HEADER_SIZE);
    return 0;
}

int shard_write(const char *path, shard_info *info, const void *tokens, int zstd_level, tr_err *err) {
    CHECK(info->width == 2 || info->width == 4, "token width %u", info->width);
    CHECK(info->n_tokens > 0 && info->index < info->n_shards, "empty shard or index %u of %u", info->index, info->n_shards);
    size_t nbytes = (size_t)info->n_tokens * info->width;
    info->version = SHARD_VERSION;
    info->checksum = shard_fnv1a64(SHARD_FNV_INIT, tokens, nbytes);
    size_t cap = ZSTD_compressBound(nbytes);
    unsigned char *buf = tr_malloc(SHARD_HEADER_SIZE + cap);
    size_t z = ZSTD_compress(buf + SHARD_HEADER_SIZE, cap, tokens, nbytes, zstd_level ? zstd_level : 3);
    CHECK(!ZSTD_isError(z), "zstd: %s", ZSTD_getErrorName(z));
    info->zsize = z;
    encode_header(buf, info);

    tr_afile f;
    int rc = tr_afile_open(&f, path, err);
    if (!rc) {
        tr_afile_write(&f, buf, SHARD_HEADER_SIZE + z);
        rc = tr_afile_commit(&f, err);
    }
    free(buf);
    return rc;
}

int shard_read_info(const char *path, shard_info *info, tr_err *err) {
    mf_file f;
    if (mf_open(&f, path, err)) return -1;
    unsigned char h[SHARD_HEADER_SIZE] = {0};
    memcpy(h, f.data, f.size < SHARD_HEADER_SIZE ? f.size : SHARD_HEADER_SIZE);
    int rc = decode_header(info, h, f.size, path, err);
    mf_close(&f);
    return rc;
}

static int same_info(const shard_info *a, const shard_info *b) {
    return a->version == b->version && a->width == b->width && a->split == b->split && a->vocab_size == b->vocab_size &&
           a->eos == b->eos && a->index == b->index && a->n_shards == b->n_shards && a->n_tokens == b->n_tokens &&
           a->n_docs == b->n_docs && a->first_token == b->first_token && a->checksum == b->checksum && a->zsize == b->zsize;
}

static uint32_t max_id(const void *tokens, size_t n, uint32_t width) {
    uint32_t m = 0;
    if (width == 2) {
        const uint16_t *t = tokens;
        for (size_t i = 0; i < n; i++) m = t[i] > m ? t[i] : m;
    } else {
        const uint32_t *t = tokens;
        for (size_t i = 0; i < n; i++) m = t[i] > m ? t[i] : m;
    }
    return m;
}

static size_t first_at_least(const void *tokens, size_t n, uint32_t width, uint32_t v) {
    for (size_t i = 0; i < n; i++)
        if ((width == 2 ? ((const uint16_t *)tokens)[i] : ((const uint32_t *)tokens)[i]) >= v) return i;
    return n;
}

int shard_read_tokens(const char *path, const shard_info *expect, void *dst, uint32_t *max_out, tr_err *err) {
    mf_file f;
    if (mf_open(&f, path, err)) return -1;
    int rc = -1;
    shard_info s;
    unsigned char h[SHARD_HEADER_SIZE] = {0};
    memcpy(h, f.data, f.size < SHARD_HEADER_SIZE ? f.size : SHARD_HEADER_SIZE);
    if (decode_header(&s, h, f.size, path, err)) goto done;
    if (!same_info(&s, expect)) {
        tr_fail(err, "%s: the file changed while it was being read", path);
        goto done;
    }
    size_t nbytes = (size_t)s.n_tokens * s.width;
    const unsigned char *z = f.data + SHARD_HEADER_SIZE;
    unsigned long long content = ZSTD_getFrameContentSize(z, s.zsize);
    if (content == ZSTD_CONTENTSIZE_ERROR) {
        tr_fail(err, "%s: corrupt: the data after the header is not a zstd frame", path);
        goto done;
    }
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != nbytes) {
        tr_fail(err, "%s: corrupt: the zstd frame holds %llu bytes, the header says %llu tokens x %u bytes", path, content,
                (unsigned long long)s.n_tokens, s.width);
        goto done;
    }
    size_t got = ZSTD_decompress(dst, nbytes, z, s.zsize);
    if (ZSTD_isError(got)) {
        tr_fail(err, "%s: corrupt: zstd: %s", path, ZSTD_getErrorName(got));
        goto done;
    }
    if (got != nbytes) {
        tr_fail(err, "%s: corrupt: decompressed %zu bytes, the header says %zu", path, got, nbytes);
        goto done;
    }
    uint64_t sum = shard_fnv1a64(SHARD_FNV_INIT, dst, nbytes);
    if (sum != s.checksum) {
        tr_fail(err, "%s: checksum mismatch: the tokens hash to %016llx, the header says %016llx", path,
                (unsigned long long)sum, (unsigned long long)s.checksum);
        goto done;
    }
    uint32_t m = max_id(dst, s.n_tokens, s.width);
    if (m >= s.vocab_size) {
        size_t at = first_at_least(dst, s.n_tokens, s.width, s.vocab_size);
        uint32_t id = s.width == 2 ? ((const uint16_t *)dst)[at] : ((const uint32_t *)dst)[at];
        tr_fail(err, "%s: token %zu is %u, outside the vocabulary (vocab size %u in the header)", path, at, id, s.vocab_size);
        goto done;
    }
    if (max_out) *max_out = m;
    rc = 0;
done:
    mf_close(&f);
    return rc;
}

// The train / val split rule (shard.h).
void shard_compute_split(shard_split *out, const size_t *ends, size_t n_docs, double f) {
    CHECK(n_docs > 0 && f >= 0 && f < 1, "%zu documents, val fraction %g", n_docs, f);
    size_t n = ends[n_docs - 1];
    size_t cut = (size_t)((double)n * (1.0 - f));   // nanoGPT: data[:int(n * 0.9)]
    if (cut >= n) {
        *out = (shard_split){n, n, n_docs, 0};
        return;
    }
    // first document starting at or after cut: doc 0 starts at 0, doc k at ends[k - 1] + 1
    size_t lo = 0, hi = n_docs;   // answer in [lo, hi]; hi = none
    while (lo < hi) {
        size_t mid = (lo + hi) / 2, start = mid ? ends[mid - 1] + 1 : 0;
        if (start >= cut) hi = mid;
        else lo = mid + 1;
    }
    if (lo < n_docs) {   // whole documents: train = docs [0, lo), val = docs [lo, n_docs)
        size_t start = lo ? ends[lo - 1] + 1 : 0;
        *out = (shard_split){lo ? ends[lo - 1] : 0, start, lo, n_docs - lo};
    } else {             // the cut falls inside the last document: split it there
        *out = (shard_split){cut, cut, n_docs, 1};
    }
}
