// test_tokenizer_train.c: the BPE trainer against a known answer and against a naive trainer that
// recounts every pair from scratch after each merge (same tie-break), on random corpora; the written
// tokenizer.json (byte tokenizer, specials, round trips through tok_load); input and output errors.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rng.h"
#include "data/bpe_train.h"
#include "data/tokenizer.h"
#include "harness.h"

// Byte ids in GPT-2's byte-level order, computed independently of the library: printable bytes
// 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF come first in byte order, then the other 68 in byte order.
static int32_t byte_id(uint8_t b) {
    int id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < 256; c++) {
            int printable = (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
            if (printable != !pass) continue;
            if (c == b) return id;
            id++;
        }
    return -1;
}

// ---- the naive reference trainer ----

typedef struct {
    char *s;
    size_t n;
} str;

typedef struct {
    int64_t key, count;
} pc;

static int cmp_pc(const void *a, const void *b) {
    int64_t x = ((const pc *)a)->key, y = ((const pc *)b)->key;
    return x < y ? -1 : x > y;
}

// words: symbol arrays (modified), counts; returns the number of merges written to m (left, right, result).
static int naive_train(int32_t **w, int *wn, const int64_t *count, int W, int vocab, int32_t (*m)[3]) {
    str *tok = calloc((size_t)vocab + 1, sizeof(str));
    int nt = 256, nm = 0;
    for (int b = 0; b < 256; b++) {
        tok[byte_id((uint8_t)b)].s = malloc(1);
        tok[byte_id((uint8_t)b)].s[0] = (char)b;
        tok[byte_id((uint8_t)b)].n = 1;
    }
    size_t total = 0;
    for (int i = 0; i < W; i++) total += (size_t)wn[i];
    pc *p = malloc((total + 1) * sizeof(pc));
    while (nt < vocab) {
        size_t np = 0;
        for (int i = 0; i < W; i++)
            for (int k = 0; k + 1 < wn[i]; k++) p[np++] = (pc){(int64_t)w[i][k] << 32 | w[i][k + 1], count[i]};
        qsort(p, np, sizeof(pc), cmp_pc);
        int64_t best = -1, bc = 0;
        for (size_t i = 0; i < np;) {   // sorted by (a, b): the first maximal count is the tie-break winner
            size_t j = i;
            int64_t c = 0;
            while (j < np && p[j].key == p[i].key) c += p[j++].count;
            if (c > bc) bc = c, best = p[i].key;
            i = j;
        }
        if (best < 0) break;
        int32_t a = (int32_t)(best >> 32), b = (int32_t)(best & 0xffffffff), z = -1;
        str s = {malloc(tok[a].n + tok[b].n), tok[a].n + tok[b].n};
        memcpy(s.s, tok[a].s, tok[a].n);
        memcpy(s.s + tok[a].n, tok[b].s, tok[b].n);
        for (int t = 0; t < nt && z < 0; t++)
            if (tok[t].n == s.n && !memcmp(tok[t].s, s.s, s.n)) z = t;
        if (z < 0) tok[z = nt++] = s;
        else free(s.s);
        m[nm][0] = a, m[nm][1] = b, m[nm][2] = z, nm++;
        for (int i = 0; i < W; i++) {
            int j = 0;
            for (int k = 0; k < wn[i];) {
                if (k + 1 < wn[i] && w[i][k] == a && w[i][k + 1] == b) w[i][j++] = z, k += 2;
                else w[i][j++] = w[i][k++];
            }
            wn[i] = j;
        }
    }
    for (int t = 0; t < nt; t++) free(tok[t].s);
    free(tok);
    free(p);
    return nm;
}

static void against_naive(void) {
    rng r;
    rng_seed(&r, 7);
    int bad = 0, dup = 0, total = 0;
    for (int run = 0; run < 40; run++) {
        int W = 5 + (int)rng_below(&r, 60), letters = 2 + (int)rng_below(&r, 4), vocab = 256 + 5 + (int)rng_below(&r, 80);
        int32_t **w = malloc((size_t)W * sizeof(int32_t *));
        int *wn = malloc((size_t)W * sizeof(int));
        int64_t *count = malloc((size_t)W * sizeof(int64_t));
        bpe_trainer *b = bpe_trainer_init();
        char word[32];
        int nw = 0;
        for (int i = 0; i < W; i++) {
            int n = 1 + (int)rng_below(&r, 14), c = 1 + (int)rng_below(&r, 5), seen = -1;
            for (int k = 0; k < n; k++) word[k] = (char)('a' + rng_below(&r, (uint64_t)letters));
            for (int j = 0; j < nw && seen < 0; j++)   // distinct words for the reference; counts add up
                if (wn[j] == n) {
                    int same = 1;
                    for (int k = 0; k < n; k++) same &= w[j][k] == byte_id((uint8_t)word[k]);
                    if (same) seen = j;
                }
            if (seen < 0) {
                w[nw] = malloc((size_t)n * sizeof(int32_t));
                for (int k = 0; k < n; k++) w[nw][k] = byte_id((uint8_t)word[k]);
                wn[nw] = n, count[nw] = 0, seen = nw++;
            }
            count[seen] += c;
            for (int k = 0; k < c; k++) bpe_trainer_add(b, word, (size_t)n);   // one letter run: one pre-token
        }
        int32_t (*m)[3] = malloc((size_t)vocab * 4 * sizeof(*m));
        int nm = naive_train(w, wn, count, nw, vocab, m);
        bpe_train(b, vocab);
        int ok = bpe_n_merges(b) == nm;
        for (int i = 0; ok && i < nm; i++) {
            int32_t x, y, z;
            bpe_merge(b, i, &x, &y, &z);
            ok = x == m[i][0] && y == m[i][1] && z == m[i][2];
            dup += z < 256 + i;
        }
        if (!ok && !bad++) printf("# run %d: %d merges vs %d from the naive trainer\n", run, bpe_n_merges(b), nm);
        total += nm;
        bpe_trainer_free(b);
        for (int i = 0; i < nw; i++) free(w[i]);
        free(w);
        free(wn);
        free(count);
        free(m);
    }
    t_check(bad == 0, "trainer = naive recount-everything trainer on 40 random corpora", "%d runs differ", bad);
    printf("# %d merges compared, %d of them re-made an existing token\n", total, dup);
}

// The classic example: "aaabdaaabac" as one pre-token.
static void known_answer(void) {
    bpe_trainer *b = bpe_trainer_init();
    bpe_trainer_add(b, "aaabdaaabac", 11);
    bpe_train(b, 260);
    int32_t a = byte_id('a'), bb = byte_id('b'), c = byte_id('c');
    int32_t want[4][3] = {{a, a, 256}, {a, bb, 257}, {256, 257, 258}, {a, c, 259}}, got[4][3] = {{0}};
    for (int i = 0; i < 4 && i < bpe_n_merges(b); i++) bpe_merge(b, i, &got[i][0], &got[i][1], &got[i][2]);
    size_t n;
    const char *s = bpe_n_merges(b) == 4 ? bpe_token(b, 258, &n) : "";
    t_check(bpe_n_merges(b) == 4 && !memcmp(got, want, sizeof(want)) && n == 4 && !memcmp(s, "aaab", 4),
            "aaabdaaabac: aa, ab (tie: smaller left id), aa+ab, ac", "%d merges", bpe_n_merges(b));
    bpe_trainer_free(b);
}

static void roundtrip(const tok_tokenizer *t, const char *name) {
    rng r;
    rng_seed(&r, 99);
    char buf[2048], *dec = NULL;
    size_t cap = 0;
    int bad = 0;
    for (int i = 0; i < 600; i++) {
        size_t n = rng_below(&r, sizeof(buf));
        static const char mix[] = "ab \n\xc3\xa9\xe4\xb8\xad\xf0\x9f<|>";   // pieces of UTF-8 and of specials
        for (size_t k = 0; k < n; k++)   // binary, printable ASCII, and a mix
            buf[k] = i % 3 == 0 ? (char)rng_below(&r, 256) : i % 3 == 1 ? (char)(32 + rng_below(&r, 95)) : mix[rng_below(&r, sizeof(mix) - 1)];
        tok_ids ids = {0};
        tok_encode(t, buf, n, &ids);
        size_t dl = tok_decode(t, ids.ids, ids.n, &dec, &cap);
        bad += dl != n || memcmp(dec, buf, n);
        tok_ids_free(&ids);
    }
    free(dec);
    t_check(bad == 0, name, "%d of 600 strings do not round-trip", bad);
}

static void written_files(void) {
    tr_err err = {{0}};
    const char *corpus[] = {"data/corpus/tinyshakespeare.txt"};
    // vocab 256: a pure byte tokenizer
    bpe_trainer *b = bpe_trainer_init();
    const char *path = t_tmp("bytes.json");
    int rc = bpe_trainer_add_files(b, corpus, 1, 0, &err);
    if (!rc) bpe_train(b, 256), rc = bpe_write(b, path, &err);
    bpe_trainer_free(b);
    tok_tokenizer *t = NULL;
    if (!rc) rc = tok_load(&t, path, &err);
    tok_ids ids = {0};
    if (t) tok_encode(t, "Hi!", 3, &ids);
    t_check(!rc && tok_vocab_size(t) == 259 && tok_n_merges(t) == 0 && tok_bos(t) == 256 && tok_eos(t) == 257 &&
                tok_find(t, "<|pad|>") == 258 && ids.n == 3 && ids.ids[0] == byte_id('H') && ids.ids[2] == byte_id('!'),
            "--vocab 256: a byte tokenizer with <|begin_of_text|> 256, <|end_of_text|> 257, <|pad|> 258", "%s", err.msg);
    tok_ids_free(&ids);
    if (t) roundtrip(t, "byte tokenizer: decode(encode(x)) == x on 600 random strings");
    tok_free(t);
    // vocab 2000 on the corpus: loads, specials at 2000..2002, frequent words are single tokens
    b = bpe_trainer_init();
    path = t_tmp("tok2000.json");
    rc = bpe_trainer_add_files(b, corpus, 1, 0, &err);
    if (!rc) bpe_train(b, 2000), rc = bpe_write(b, path, &err);
    bpe_trainer_free(b);
    t = NULL;
    if (!rc) rc = tok_load(&t, path, &err);
    if (t) tok_encode(t, " the king", 9, &ids);
    t_check(!rc && tok_vocab_size(t) == 2003 && tok_n_merges(t) == 1744 && tok_bos(t) == 2000 && tok_eos(t) == 2001 && ids.n == 2 &&
                tok_token_type(t, 2002) == 3 && tok_token_type(t, 1999) == 1,
            "--vocab 2000: 1744 merges, specials 2000-2002, ' the king' is 2 tokens", "%s (%zu ids)", err.msg, ids.n);
    tok_ids_free(&ids);
    if (t) roundtrip(t, "2000-token tokenizer: decode(encode(x)) == x on 600 random strings");
    tok_free(t);
}

static void errors(void) {
    tr_err err = {{0}};
    const char *bad = t_tmp("bad.jsonl"), *text = "{\"text\": \"fine\"}\n{\"text\": 3}\n";
    t_write_file(bad, text, strlen(text));
    const char *in[] = {bad};
    bpe_trainer *b = bpe_trainer_init();
    int rc = bpe_trainer_add_files(b, in, 1, 0, &err);
    t_check(rc == -1 && strstr(err.msg, bad) && strstr(err.msg, "line 2"), "error: a .jsonl line without a text string", "%s", err.msg);
    const char *missing[] = {"/nonexistent/corpus.txt"};
    rc = bpe_trainer_add_files(b, missing, 1, 0, &err);
    t_check(rc == -1 && strstr(err.msg, "/nonexistent/corpus.txt: cannot open"), "error: a missing input file", "%s", err.msg);
    bpe_train(b, 300);
    const char *path = t_tmp("nodir/tok.json");
    rc = bpe_write(b, path, &err);
    t_check(rc == -1 && strstr(err.msg, path) && access(path, F_OK) != 0, "error: output folder missing, nothing written", "%s",
            err.msg);
    bpe_trainer_free(b);
}

int main(void) {
    known_answer();
    against_naive();
    written_files();
    errors();
    return t_done();
}
