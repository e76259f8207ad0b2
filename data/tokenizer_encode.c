// tokenizer_encode.c: encoding (added tokens, pre-tokenization, BPE merges) and decoding.
//
// Follows Hugging Face tokenizers step by step: AddedVocabulary::extract_and_normalize (leftmost-longest
// matches of the non-normalized added tokens, then of the normalized ones in what is left, with
// single_word / lstrip / rstrip), the pre-tokenizer on each remaining piece, then BPE::merge_word with
// ignore_merges and Word::merge_all's priority queue (lowest rank first, leftmost on ties). All state
// lives in a per-call work struct, so one tokenizer serves many threads.
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"

typedef struct {
    int32_t id, prev, next, alive;
} sym;

typedef struct {
    uint64_t key;    // rank << 32 | position of the left symbol: the heap's order
    int32_t new_id;
} cand;

typedef struct {
    tok_split_work sw;
    tok_spans pieces;
    sym *sym;
    size_t sym_cap;
    cand *heap;
    size_t heap_n, heap_cap;
    pcre2_match_data *md;   // for the single_word check
} work;

static void heap_push(work *w, uint64_t key, int32_t new_id) {
    if (w->heap_n == w->heap_cap) w->heap = tr_realloc(w->heap, (w->heap_cap = w->heap_cap ? 2 * w->heap_cap : 64) * sizeof(cand));
    size_t i = w->heap_n++;
    while (i > 0 && w->heap[(i - 1) / 2].key > key) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = (cand){key, new_id};
}

static cand heap_pop(work *w) {
    cand top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->heap[c + 1].key < w->heap[c].key) c++;
        if (w->heap[c].key >= last.key) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static void push_pair(const tok_tokenizer *t, work *w, int32_t left_pos) {
    const sym *s = w->sym;
    uint64_t *v = tok_u64map_find(&t->merges, tok_pair_key(s[left_pos].id, s[s[left_pos].next].id));
    if (v) heap_push(w, (*v >> 32) << 32 | (uint32_t)left_pos, (int32_t)(uint32_t)*v);
}

// BPE of one pre-token (raw bytes).
static void bpe_piece(const tok_tokenizer *t, const uint8_t *p, size_t n, work *w, tok_ids *out) {
    if (t->ignore_merges || n == 1) {
        int32_t id = n == 1 ? t->byte_id[p[0]] : tok_strmap_get(&t->raw, p, n);
        if (id >= 0) {
            tok_ids_push(out, id);
            return;
        }
    }
    if (w->sym_cap < n) w->sym = tr_realloc(w->sym, (w->sym_cap = 2 * n) * sizeof(sym));
    sym *s = w->sym;
    int32_t m = 0;
    int unk = 0;   // an unknown-byte symbol waiting to be added (fused when fuse_unk)
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[p[i]];
        if (id >= 0) {
            if (unk) s[m++].id = t->unk_id, unk = 0;
            s[m++].id = id;
        } else if (t->unk_id >= 0) {
            if (unk && !t->fuse_unk) s[m++].id = t->unk_id;
            unk = 1;
        }   // no unk_token: the byte is dropped, as Hugging Face does
    }
    if (unk) s[m++].id = t->unk_id;
    for (int32_t i = 0; i < m; i++) s[i] = (sym){s[i].id, i - 1, i + 1 < m ? i + 1 : -1, 1};
    w->heap_n = 0;
    for (int32_t i = 0; i + 1 < m; i++) push_pair(t, w, i);
    while (w->heap_n) {
        cand c = heap_pop(w);
        int32_t pos = (int32_t)(uint32_t)c.key, nx = s[pos].next;
        if (!s[pos].alive || nx < 0) continue;
        uint64_t *v = tok_u64map_find(&t->merges, tok_pair_key(s[pos].id, s[nx].id));
        if (!v || (int32_t)(uint32_t)*v != c.new_id) continue;   // a stale entry
        s[pos].id = c.new_id;
        s[nx].alive = 0;
        s[pos].next = s[nx].next;
        if (s[pos].next >= 0) s[s[pos].next].prev = pos;
        if (s[pos].prev >= 0) push_pair(t, w, s[pos].prev);
        if (s[pos].next >= 0) push_pair(t, w, pos);
    }
    for (int32_t i = m ? 0 : -1; i >= 0; i = s[i].next) tok_ids_push(out, s[i].id);
}

static void encode_plain(const tok_tokenizer *t, const char *s, size_t n, work *w, tok_ids *out) {
    w->pieces.n = 0;
    tok_pretok_split(&t->pretok, s, n, &w->sw, &w->pieces);
    for (size_t i = 0; i < w->pieces.n; i++) bpe_piece(t, (const uint8_t *)w->pieces.v[i].p, w->pieces.v[i].n, w, out);
}

// Leftmost-longest match at or after `from`: the added token's index (and its span), or -1.
static int trie_find(const tok_trie *tr, const uint8_t *s, size_t n, size_t from, size_t *ms, size_t *me) {
    for (size_t i = from; i < n; i++) {
        int32_t node = tr->root[s[i]];
        if (node < 0) continue;
        int best = -1;
        for (size_t j = i;;) {
            if (tr->nodes[node].added >= 0) best = tr->nodes[node].added, *me = j + 1;
            if (++j >= n) break;
            for (node = tr->nodes[node].first_child; node >= 0 && tr->nodes[node].byte != s[j];) node = tr->nodes[node].next_sibling;
            if (node < 0) break;
        }
        if (best >= 0) {
            *ms = i;
            return best;
        }
    }
    return -1;
}

// The character ending at s[end) / starting at s[0], or 0 when that byte is not valid UTF-8.
static int char_before(const uint8_t *s, size_t end, uint32_t *cp) {
    for (int k = 1; k <= 4 && (size_t)k <= end; k++)
        if (tok_utf8_len(s + end - k, (size_t)k) == k) {
            *cp = tok_utf8_decode(s + end - k, k);
            return k;
        }
    return 0;
}

static int char_at(const uint8_t *s, size_t n, uint32_t *cp) {
    int l = tok_utf8_len(s, n);
    if (l) *cp = tok_utf8_decode(s, l);
    return l;
}

static int is_word(const tok_tokenizer *t, work *w, uint32_t cp) {
    char buf[4];
    if (!w->md) w->md = pcre2_match_data_create(1, NULL);
    return pcre2_match(t->word_re, (PCRE2_SPTR)buf, (size_t)tok_utf8_encode(cp, buf), 0, 0, w->md, NULL) >= 0;
}

// Level 0: added tokens matched in the raw text; level 1: the "normalized" ones; level 2: plain text.
static void encode_level(const tok_tokenizer *t, int level, const char *text, size_t n, work *w, tok_ids *out) {
    const tok_trie *tr = level < 2 ? &t->trie[level] : NULL;
    if (!tr || !tr->nodes) {
        if (level == 2) encode_plain(t, text, n, w, out);
        else encode_level(t, level + 1, text, n, w, out);
        return;
    }
    const uint8_t *s = (const uint8_t *)text;
    size_t pos = 0, done = 0, ms = 0, me = 0;
    uint32_t cp;
    for (int a; (a = trie_find(tr, s, n, pos, &ms, &me)) >= 0;) {
        const tok_added *ad = &t->added[a];
        pos = me;
        if (ad->single_word && ((ms > 0 && char_before(s, ms, &cp) && is_word(t, w, cp)) ||
                                (me < n && char_at(s + me, n - me, &cp) && is_word(t, w, cp))))
            continue;   // inside a word: not this token (and the match is consumed, as Aho-Corasick does)
        size_t start = ms, stop = me;
        for (int l; ad->lstrip && start > done && (l = char_before(s, start, &cp)) && tok_is_space(cp);) start -= (size_t)l;
        for (int l; ad->rstrip && stop < n && (l = char_at(s + stop, n - stop, &cp)) && tok_is_space(cp);) stop += (size_t)l;
        if (start > done) encode_level(t, level + 1, text + done, start - done, w, out);
        tok_ids_push(out, ad->id);
        done = stop;
        if (pos < stop) pos = stop;
    }
    if (done < n) encode_level(t, level + 1, text + done, n - done, w, out);
}

void tok_encode(const tok_tokenizer *t, const char *text, size_t len, tok_ids *out) {
    work w = {0};
    encode_level(t, 0, text, len, &w, out);
    tok_split_free(&w.sw);
    free(w.pieces.v);
    free(w.sym);
    free(w.heap);
    pcre2_match_data_free(w.md);
}

size_t tok_decode(const tok_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *cap) {
    size_t len = 0;
    for (size_t i = 0;; i++) {
        size_t l = i < n && ids[i] >= 0 && ids[i] < t->n_ids && t->dec[ids[i]] ? t->dec_len[ids[i]] : 0;
        if (len + l + 1 > *cap || !*out) {
            size_t c = *cap ? *cap : 64;
            while (len + l + 1 > c) c *= 2;
            *out = tr_realloc(*out, c);
            *cap = c;
        }
        if (i == n) break;
        if (l) memcpy(*out + len, t->dec[ids[i]], l);
        len += l;
    }
    (*out)[len] = '\0';
    return len;
}

size_t tok_token_bytes(const tok_tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (id < 0 || id >= t->n_ids || !t->dec[id]) return 0;
    size_t l = t->dec_len[id];
    memcpy(buf, t->dec[id], l < cap ? l : cap);
    return l;
}
