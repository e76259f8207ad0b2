// tokenizer_map.c: open-addressing hash maps for the tokenizer and the BPE trainer (see tokenizer_impl.h).
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"

static inline uint64_t mix64(uint64_t x) {   // splitmix64's finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// 8 bytes at a time, multiply-xorshift; good enough for token strings, not for adversaries.
uint64_t tok_hash(const void *key, size_t len) {
    const uint8_t *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ mix64(w)) * 0x9fb21c651e98df25ull;
        p += 8;
        len -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++) w |= (uint64_t)p[i] << (8 * i);
    return mix64(h ^ w ^ 0x2545f4914f6cdd1dull);
}

void tok_strmap_free(tok_strmap *m) {
    if (!m) return;
    free(m->slot);
    free(m->off);
    free(m->len);
    free(m->val);
    free(m->pool);
    memset(m, 0, sizeof(*m));
}

long tok_strmap_find(const tok_strmap *m, const void *key, size_t len) {
    if (!m->cap) return -1;
    uint64_t h = tok_hash(key, len), tag = h >> 32;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        uint64_t s = m->slot[i];
        if (!s) return -1;
        if (s >> 32 == tag) {
            size_t e = (uint32_t)s - 1;
            if (m->len[e] == len && !memcmp(m->pool + m->off[e], key, len)) return (long)e;
        }
    }
}

static void strmap_rehash(tok_strmap *m, size_t cap) {
    free(m->slot);
    m->slot = tr_calloc(cap, sizeof(uint64_t));
    m->cap = cap;
    for (size_t e = 0; e < m->n; e++) {
        uint64_t h = tok_hash(m->pool + m->off[e], m->len[e]);
        size_t i = h & (cap - 1);
        while (m->slot[i]) i = (i + 1) & (cap - 1);
        m->slot[i] = (h >> 32) << 32 | (e + 1);
    }
}

size_t tok_strmap_add(tok_strmap *m, const void *key, size_t len, int32_t val, int *added) {
    long found = tok_strmap_find(m, key, len);
    if (added) *added = found < 0;
    if (found >= 0) return (size_t)found;
    if (2 * (m->n + 1) > m->cap) strmap_rehash(m, m->cap ? 2 * m->cap : 64);
    if (m->n == m->ncap) {
        m->ncap = m->ncap ? 2 * m->ncap : 64;
        m->off = tr_realloc(m->off, m->ncap * sizeof(uint32_t));
        m->len = tr_realloc(m->len, m->ncap * sizeof(uint32_t));
        m->val = tr_realloc(m->val, m->ncap * sizeof(int32_t));
    }
    CHECK(m->pool_len + len + 1 < UINT32_MAX && m->n < UINT32_MAX - 1, "string map over 4 GiB");
    if (m->pool_len + len + 1 > m->pool_cap) {
        while (m->pool_len + len + 1 > m->pool_cap) m->pool_cap = m->pool_cap ? 2 * m->pool_cap : 4096;
        m->pool = tr_realloc(m->pool, m->pool_cap);
    }
    size_t e = m->n++;
    m->off[e] = (uint32_t)m->pool_len;
    m->len[e] = (uint32_t)len;
    m->val[e] = val;
    memcpy(m->pool + m->pool_len, key, len);
    m->pool[m->pool_len + len] = '\0';
    m->pool_len += len + 1;
    uint64_t h = tok_hash(key, len);
    size_t i = h & (m->cap - 1);
    while (m->slot[i]) i = (i + 1) & (m->cap - 1);
    m->slot[i] = (h >> 32) << 32 | (e + 1);
    return e;
}

void tok_u64map_free(tok_u64map *m) {
    if (!m) return;
    free(m->kv);
    memset(m, 0, sizeof(*m));
}

uint64_t *tok_u64map_find(const tok_u64map *m, uint64_t key) {
    if (!m->cap) return NULL;
    for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->kv[2 * i] == key) return &m->kv[2 * i + 1];
        if (m->kv[2 * i] == UINT64_MAX) return NULL;
    }
}

static void u64map_grow(tok_u64map *m) {
    size_t old = m->cap, cap = old ? 2 * old : 64;
    uint64_t *kv = tr_malloc(2 * cap * sizeof(uint64_t));
    for (size_t i = 0; i < cap; i++) kv[2 * i] = UINT64_MAX;
    for (size_t j = 0; j < old; j++) {
        uint64_t k = m->kv[2 * j];
        if (k == UINT64_MAX) continue;
        size_t i = mix64(k) & (cap - 1);
        while (kv[2 * i] != UINT64_MAX) i = (i + 1) & (cap - 1);
        kv[2 * i] = k;
        kv[2 * i + 1] = m->kv[2 * j + 1];
    }
    free(m->kv);
    m->kv = kv;
    m->cap = cap;
}

uint64_t *tok_u64map_put(tok_u64map *m, uint64_t key, uint64_t init, int *added) {
    CHECK(key != UINT64_MAX, "reserved key");
    uint64_t *v = tok_u64map_find(m, key);
    if (added) *added = v == NULL;
    if (v) return v;
    if (2 * (m->n + 1) > m->cap) u64map_grow(m);
    size_t i = mix64(key) & (m->cap - 1);
    while (m->kv[2 * i] != UINT64_MAX) i = (i + 1) & (m->cap - 1);
    m->kv[2 * i] = key;
    m->kv[2 * i + 1] = init;
    m->n++;
    return &m->kv[2 * i + 1];
}
