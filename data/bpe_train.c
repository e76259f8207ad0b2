// bpe_train.c: counting pre-tokens and learning byte-level BPE merges (see bpe_train.h).
//
// Data: each distinct pre-token ("word") is a run of symbol ids with a count. Each pair has a count and
// a list of the words it occurs in (appended when the pair appears in a word, never pruned: a word
// that lost the pair merges nothing). A max-heap holds (count, left, right) entries; counts only ever
// drop for pairs that existed before a merge, so a popped entry whose count is stale is pushed back
// with the current count (lazy deletion), and the pairs a merge creates are pushed once it is done.
#include "data/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#include "data/textsrc.h"
#include "data/tokenizer_impl.h"

typedef struct {
    int64_t count;
    int32_t a, b;
} entry;

struct bpe_trainer {
    tok_pretok pretok;
    tok_split_work sw;
    tok_spans pieces;
    tok_strmap words;       // distinct pre-tokens (raw bytes); counts in count[entry]
    int64_t *count;
    size_t count_cap, n_pretokens;
    tok_strmap tokens;      // raw bytes -> id; entry i is token i
    int32_t (*merges)[3];   // left, right, result
    int n_merges, trained;
    // training state
    int32_t *sym;           // symbols of all words
    size_t *woff;           // (words.n) word w's symbols start at sym + woff[w]
    int32_t *wlen, *wstamp;
    tok_u64map pair_of;     // (a << 32 | b) -> pair index
    int64_t *pcount;
    int32_t *pa, *pb, *phead, *plast, *pstamp;
    size_t np, pcap;
    int32_t *occ_word, *occ_next;
    size_t nocc, occ_cap;
    entry *heap;
    size_t nheap, heap_cap;
    int32_t round;          // merges done; a pair that grew in this round has pstamp == round
    size_t *touched;        // pairs that grew in this round
    size_t ntouched, touched_cap;
};

bpe_trainer *bpe_trainer_init(void) {
    bpe_trainer *b = tr_calloc(1, sizeof(*b));
    CHECK(tok_pretok_add_split(&b->pretok, TOK_LLAMA3_REGEX, 0, TOK_ISOLATED, 0, "", NULL) == 0, "Llama 3 regex");
    return b;
}

void bpe_trainer_free(bpe_trainer *b) {
    if (!b) return;
    tok_pretok_free(&b->pretok);
    tok_split_free(&b->sw);
    free(b->pieces.v);
    tok_strmap_free(&b->words);
    free(b->count);
    tok_strmap_free(&b->tokens);
    free(b->merges);
    free(b->sym);
    free(b->woff);
    free(b->wlen);
    free(b->wstamp);
    tok_u64map_free(&b->pair_of);
    free(b->pcount);
    free(b->pa);
    free(b->pb);
    free(b->phead);
    free(b->plast);
    free(b->pstamp);
    free(b->occ_word);
    free(b->occ_next);
    free(b->heap);
    free(b->touched);
    free(b);
}

void bpe_trainer_add(bpe_trainer *b, const char *text, size_t len) {
    CHECK(!b->trained, "bpe_trainer_add after bpe_train");
    b->pieces.n = 0;
    tok_pretok_split(&b->pretok, text, len, &b->sw, &b->pieces);
    for (size_t i = 0; i < b->pieces.n; i++) {
        int added;
        size_t e = tok_strmap_add(&b->words, b->pieces.v[i].p, b->pieces.v[i].n, 0, &added);
        if (e >= b->count_cap) b->count = tr_realloc(b->count, (b->count_cap = b->count_cap ? 2 * b->count_cap : 4096) * sizeof(int64_t));
        if (added) b->count[e] = 0;
        b->count[e]++;
    }
    b->n_pretokens += b->pieces.n;
}

int bpe_trainer_add_files(bpe_trainer *b, const char *const *paths, int n_paths, int doc_per_file, tr_err *err) {
    ts_reader *r = NULL;
    ts_batch batch = {0};
    if (ts_open(&r, paths, n_paths, doc_per_file, err)) return -1;
    long got;
    while ((got = ts_next(r, &batch, 16u << 20, err)) > 0)
        for (size_t i = 0; i < batch.n; i++) bpe_trainer_add(b, batch.docs[i].text, batch.docs[i].len);
    ts_batch_free(&batch);
    ts_close(r);
    return got < 0 ? -1 : 0;
}

size_t bpe_n_pretokens(const bpe_trainer *b) { return b->n_pretokens; }
size_t bpe_n_words(const bpe_trainer *b) { return b->words.n; }
int bpe_vocab_size(const bpe_trainer *b) { return (int)b->tokens.n; }
int bpe_n_merges(const bpe_trainer *b) { return b->n_merges; }

void bpe_merge(const bpe_trainer *b, int i, int32_t *left, int32_t *right, int32_t *result) {
    CHECK(i >= 0 && i < b->n_merges, "merge %d of %d", i, b->n_merges);
    *left = b->merges[i][0], *right = b->merges[i][1], *result = b->merges[i][2];
}

const char *bpe_token(const bpe_trainer *b, int32_t id, size_t *len) {
    CHECK(id >= 0 && (size_t)id < b->tokens.n, "token %d of %zu", id, b->tokens.n);
    *len = b->tokens.len[id];
    return tok_strmap_key(&b->tokens, (size_t)id);
}

// ---- the heap: largest count first, then smaller left id, then smaller right id ----

static int before(entry x, entry y) {
    if (x.count != y.count) return x.count > y.count;
    return x.a != y.a ? x.a < y.a : x.b < y.b;
}

static void heap_push(bpe_trainer *b, entry e) {
    if (b->nheap == b->heap_cap) b->heap = tr_realloc(b->heap, (b->heap_cap = b->heap_cap ? 2 * b->heap_cap : 4096) * sizeof(entry));
    size_t i = b->nheap++;
    while (i > 0 && before(e, b->heap[(i - 1) / 2])) {
        b->heap[i] = b->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->heap[i] = e;
}

static entry heap_pop(bpe_trainer *b) {
    entry top = b->heap[0], last = b->heap[--b->nheap];
    size_t i = 0, n = b->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(b->heap[c + 1], b->heap[c])) c++;
        if (!before(b->heap[c], last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n) b->heap[i] = last;
    return top;
}

// ---- pairs ----

static size_t pair_get(bpe_trainer *b, int32_t x, int32_t y) {
    int added;
    uint64_t *v = tok_u64map_put(&b->pair_of, tok_pair_key(x, y), b->np, &added);
    if (added) {
        if (b->np == b->pcap) {
            b->pcap = b->pcap ? 2 * b->pcap : 4096;
            b->pcount = tr_realloc(b->pcount, b->pcap * sizeof(int64_t));
            b->pa = tr_realloc(b->pa, b->pcap * sizeof(int32_t));
            b->pb = tr_realloc(b->pb, b->pcap * sizeof(int32_t));
            b->phead = tr_realloc(b->phead, b->pcap * sizeof(int32_t));
            b->plast = tr_realloc(b->plast, b->pcap * sizeof(int32_t));
            b->pstamp = tr_realloc(b->pstamp, b->pcap * sizeof(int32_t));
        }
        size_t p = b->np++;
        b->pcount[p] = 0, b->pa[p] = x, b->pb[p] = y, b->phead[p] = -1, b->plast[p] = -1, b->pstamp[p] = -1;
    }
    return (size_t)*v;
}

// Adds d * count(w) to pair (x, y); a pair that grows records w among its words and is marked touched.
static void pair_add(bpe_trainer *b, int32_t x, int32_t y, int64_t d, int32_t w) {
    size_t p = pair_get(b, x, y);
    b->pcount[p] += d * b->count[w];
    if (d > 0 && b->pstamp[p] != b->round) {
        b->pstamp[p] = b->round;
        if (b->ntouched == b->touched_cap) b->touched = tr_realloc(b->touched, (b->touched_cap = b->touched_cap ? 2 * b->touched_cap : 1024) * sizeof(size_t));
        b->touched[b->ntouched++] = p;
    }
    if (d > 0 && b->plast[p] != w) {
        if (b->nocc == b->occ_cap) {
            b->occ_cap = b->occ_cap ? 2 * b->occ_cap : 1 << 16;
            b->occ_word = tr_realloc(b->occ_word, b->occ_cap * sizeof(int32_t));
            b->occ_next = tr_realloc(b->occ_next, b->occ_cap * sizeof(int32_t));
        }
        CHECK(b->nocc < INT32_MAX, "too many pair occurrences");
        b->occ_word[b->nocc] = w, b->occ_next[b->nocc] = b->phead[p];
        b->phead[p] = (int32_t)b->nocc++;
        b->plast[p] = w;
    }
}

static void setup(bpe_trainer *b) {
    // byte tokens in byte-level character order: the 256 code points that stand for bytes, ascending
    int32_t id_of_byte[256];
    for (uint32_t cp = 0x21; b->tokens.n < 256; cp++) {
        int by = tok_char_byte(cp);
        if (by < 0) continue;
        char c = (char)by;
        id_of_byte[by] = (int32_t)b->tokens.n;
        tok_strmap_add(&b->tokens, &c, 1, (int32_t)b->tokens.n, NULL);
    }
    size_t W = b->words.n, total = 0;
    CHECK(W < INT32_MAX, "too many distinct pre-tokens");
    b->woff = tr_malloc((W + 1) * sizeof(size_t));
    b->wlen = tr_malloc((W + 1) * sizeof(int32_t));
    b->wstamp = tr_malloc((W + 1) * sizeof(int32_t));
    for (size_t w = 0; w < W; w++) b->woff[w] = total, total += b->words.len[w];
    b->sym = tr_malloc((total + 1) * sizeof(int32_t));
    for (size_t w = 0; w < W; w++) {
        const uint8_t *s = (const uint8_t *)tok_strmap_key(&b->words, w);
        int32_t *y = b->sym + b->woff[w];
        CHECK(b->words.len[w] < INT32_MAX, "pre-token too long");
        b->wlen[w] = (int32_t)b->words.len[w];
        b->wstamp[w] = -1;
        for (int32_t i = 0; i < b->wlen[w]; i++) y[i] = id_of_byte[s[i]];
        for (int32_t i = 0; i + 1 < b->wlen[w]; i++) pair_add(b, y[i], y[i + 1], 1, (int32_t)w);
    }
    for (size_t p = 0; p < b->np; p++) heap_push(b, (entry){b->pcount[p], b->pa[p], b->pb[p]});
}

// Merges (x, y) -> z in word w (left to right, non-overlapping), updating the pair counts as Hugging
// Face's Word::merge reports changes: the pair before and the pair after each merged position.
static void merge_word(bpe_trainer *b, int32_t w, int32_t x, int32_t y, int32_t z, size_t merged) {
    int32_t *s = b->sym + b->woff[w], n = b->wlen[w], j = 0;
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == x && s[i + 1] == y) {
            if (j > 0) {
                if (pair_get(b, s[j - 1], x) != merged) pair_add(b, s[j - 1], x, -1, w);
                pair_add(b, s[j - 1], z, 1, w);
            }
            if (i + 2 < n) {
                if (pair_get(b, y, s[i + 2]) != merged) pair_add(b, y, s[i + 2], -1, w);
                pair_add(b, z, s[i + 2], 1, w);
            }
            s[j++] = z;
            i += 2;
        } else s[j++] = s[i++];
    }
    b->wlen[w] = j;
}

void bpe_train(bpe_trainer *b, int vocab) {
    CHECK(!b->trained && vocab >= 256, "bpe_train once, vocab >= 256 (got %d)", vocab);
    b->trained = 1;
    setup(b);
    size_t mcap = 0, cat_cap = 0;
    char *cat = NULL;
    while ((int)b->tokens.n < vocab && b->nheap) {
        entry e = heap_pop(b);
        size_t p = (size_t)*tok_u64map_find(&b->pair_of, tok_pair_key(e.a, e.b));
        if (b->pcount[p] != e.count) {   // stale: its count dropped since it was pushed
            if (b->pcount[p] > 0) heap_push(b, (entry){b->pcount[p], e.a, e.b});
            continue;
        }
        if (e.count <= 0) continue;
        size_t la = b->tokens.len[e.a], lb = b->tokens.len[e.b];
        if (la + lb > cat_cap) cat = tr_realloc(cat, cat_cap = 2 * (la + lb));
        memcpy(cat, tok_strmap_key(&b->tokens, (size_t)e.a), la);
        memcpy(cat + la, tok_strmap_key(&b->tokens, (size_t)e.b), lb);
        int32_t z = (int32_t)tok_strmap_add(&b->tokens, cat, la + lb, (int32_t)b->tokens.n, NULL);
        if (b->n_merges == (int)mcap) b->merges = tr_realloc(b->merges, (mcap = mcap ? 2 * mcap : 1024) * sizeof(*b->merges));
        b->merges[b->n_merges][0] = e.a, b->merges[b->n_merges][1] = e.b, b->merges[b->n_merges][2] = z;
        b->n_merges++;
        b->pcount[p] = 0;
        b->round++;
        b->ntouched = 0;
        for (int32_t o = b->phead[p]; o >= 0; o = b->occ_next[o]) {
            int32_t w = b->occ_word[o];
            if (b->wstamp[w] == b->round) continue;   // listed twice
            b->wstamp[w] = b->round;
            merge_word(b, w, e.a, e.b, z, p);
        }
        // The pairs that grew all hold z: push each once with its final count.
        for (size_t k = 0; k < b->ntouched; k++)
            if (b->pcount[b->touched[k]] > 0) heap_push(b, (entry){b->pcount[b->touched[k]], b->pa[b->touched[k]], b->pb[b->touched[k]]});
    }
    free(cat);
}
