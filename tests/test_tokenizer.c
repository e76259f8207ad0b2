// test_tokenizer.c: the Llama 3 tokenizer (tools/node/.../tokenizer.json from `make deps`) against
// Hugging Face's ids for the 341 strings of tests/golden/llama3-tokenizer/golden_ids.json, decoding back
// to the text, its metadata, many threads at once, and decode(encode(x)) == x on arbitrary bytes.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/rng.h"
#include "data/tokenizer.h"
#include "harness.h"

typedef struct {
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} gcase;

static int same_ids(const tok_ids *a, const int32_t *b, size_t n) {
    return a->n == n && (n == 0 || !memcmp(a->ids, b, n * sizeof(int32_t)));
}

static void golden(const tok_tokenizer *t, const gcase *c, int nc) {
    int bad = 0;
    char *dec = NULL;
    size_t cap = 0;
    for (int i = 0; i < nc; i++) {
        tok_ids ids = {0};
        tok_encode(t, c[i].text, c[i].len, &ids);
        size_t dl = tok_decode(t, ids.ids, ids.n, &dec, &cap);
        int ok_ids = same_ids(&ids, c[i].ids, c[i].n), ok_dec = dl == c[i].len && !memcmp(dec, c[i].text, dl);
        if (!ok_ids || !ok_dec) {
            bad++;
            size_t k = 0;
            while (k < ids.n && k < c[i].n && ids.ids[k] == c[i].ids[k]) k++;
            t_check(0, "llama3 golden case", "case %d '%.60s': %s (first difference at id %zu: got %d, want %d; %zu vs %zu ids)", i,
                    c[i].text, ok_ids ? "decode differs" : "ids differ", k, k < ids.n ? ids.ids[k] : -1,
                    k < c[i].n ? c[i].ids[k] : -1, ids.n, c[i].n);
        }
        tok_ids_free(&ids);
    }
    free(dec);
    if (!bad) t_check(1, "llama3 golden: all cases encode to Hugging Face's ids and decode back to the text", " ");
    printf("# %d of %d golden cases match\n", nc - bad, nc);
}

static void metadata(const tok_tokenizer *t) {
    t_check(tok_vocab_size(t) == 128256, "llama3 vocab size 128256", "got %d", tok_vocab_size(t));
    t_check(tok_bos(t) == 128000 && tok_eos(t) == 128001, "llama3 bos/eos", "got %d/%d", tok_bos(t), tok_eos(t));
    t_check(tok_find(t, "<|eot_id|>") == 128009 && tok_find(t, "user") == 882 && tok_find(t, "\xc4\xa0") == 220 &&
                tok_find(t, "no such token") == -1,
            "llama3 tok_find", "eot %d user %d space %d", tok_find(t, "<|eot_id|>"), tok_find(t, "user"), tok_find(t, "\xc4\xa0"));
    t_check(tok_token_type(t, 100) == 1 && tok_token_type(t, 128009) == 3 && tok_token_type(t, 128256) == 0, "llama3 token types",
            "%d %d %d", tok_token_type(t, 100), tok_token_type(t, 128009), tok_token_type(t, 128256));
    t_check(tok_n_merges(t) == 280147 && !strcmp(tok_merge(t, 0), "\xc4\xa0 \xc4\xa0"), "llama3 merges", "%d, first '%s'",
            tok_n_merges(t), tok_n_merges(t) ? tok_merge(t, 0) : "");
    const char *s = tok_token_str(t, 198);
    char b[8];
    size_t bl = tok_token_bytes(t, 198, b, sizeof(b));
    t_check(s && !strcmp(s, "\xc4\x8a") && bl == 1 && b[0] == '\n' && tok_token_bytes(t, 128009, b, sizeof(b)) == 10,
            "llama3 token strings and bytes", "198 = '%s', %zu bytes", s ? s : "(null)", bl);
    const char *re = tok_pretok_regex(t);
    t_check(re && !strncmp(re, "(?i:'s|'t|'re|'ve|'m|'ll|'d)|", 29), "llama3 pre-tokenizer regex", "%s", re ? re : "(null)");
    const char *ct = tok_chat_template(t);
    t_check(ct && strstr(ct, "<|start_header_id|>"), "llama3 chat template from tokenizer_config.json", "%.80s", ct ? ct : "(null)");
    // "This is a test sentence." from meta-llama/llama-models' tests
    tok_ids ids = {0};
    tok_encode(t, "This is a test sentence.", 24, &ids);
    int32_t want[] = {2028, 374, 264, 1296, 11914, 13};
    t_check(same_ids(&ids, want, 6), "llama3 'This is a test sentence.'", "got %zu ids", ids.n);
    tok_ids_free(&ids);
}

// Every golden case on 4 threads at once, 8 rounds: the same ids as one thread.
static void threads(const tok_tokenizer *t, const gcase *c, int nc) {
    int bad = 0;
#pragma omp parallel for num_threads(4) schedule(dynamic, 1) reduction(+ : bad)
    for (int k = 0; k < 8 * nc; k++) {
        tok_ids ids = {0};
        tok_encode(t, c[k % nc].text, c[k % nc].len, &ids);
        bad += !same_ids(&ids, c[k % nc].ids, c[k % nc].n);
        tok_ids_free(&ids);
    }
    t_check(bad == 0, "llama3 encode on 4 threads at once", "%d mismatches", bad);
}

// Random bytes: binary, random UTF-8 (all planes), and a mix with special tokens and invalid bytes.
static size_t random_text(rng *r, int kind, char *buf, size_t max) {
    size_t n = 0, want = 1 + rng_below(r, max - 16);
    static const char *words[] = {"the ", "<|eot_id|>", " \n\n", "'ll ", "123456", "\t", "  ", "é", "<|", "\r\n"};
    while (n < want) {
        int k = kind == 2 ? (int)rng_below(r, 3) : kind;
        if (k == 0) buf[n++] = (char)rng_below(r, 256);
        else if (k == 1) {
            uint32_t cp;
            do cp = (uint32_t)(rng_below(r, 4) == 0 ? rng_below(r, 0x110000) : rng_below(r, 4) == 0 ? rng_below(r, 0x3000) : rng_below(r, 0x80));
            while (cp >= 0xD800 && cp < 0xE000);
            char e[4];
            int l = cp < 0x80 ? (e[0] = (char)cp, 1) : 0;
            if (!l) {   // encode by hand: the test does not trust the library's encoder
                if (cp < 0x800) e[0] = (char)(0xC0 | cp >> 6), e[1] = (char)(0x80 | (cp & 63)), l = 2;
                else if (cp < 0x10000) e[0] = (char)(0xE0 | cp >> 12), e[1] = (char)(0x80 | ((cp >> 6) & 63)), e[2] = (char)(0x80 | (cp & 63)), l = 3;
                else e[0] = (char)(0xF0 | cp >> 18), e[1] = (char)(0x80 | ((cp >> 12) & 63)), e[2] = (char)(0x80 | ((cp >> 6) & 63)), e[3] = (char)(0x80 | (cp & 63)), l = 4;
            }
            memcpy(buf + n, e, (size_t)l);
            n += (size_t)l;
        } else {
            const char *w = words[rng_below(r, 10)];
            memcpy(buf + n, w, strlen(w));
            n += strlen(w);
        }
    }
    return n;
}

static void roundtrip(const tok_tokenizer *t, const char *name) {
    static const char *kinds[] = {"random binary", "random UTF-8", "mixed"};
    rng r;
    rng_seed(&r, 1234);
    char *buf = malloc(4096), *dec = NULL;
    size_t cap = 0;
    for (int kind = 0; kind < 3; kind++) {
        int bad = 0, first = -1;
        for (int i = 0; i < 300; i++) {
            size_t n = random_text(&r, kind, buf, 4000);
            tok_ids ids = {0};
            tok_encode(t, buf, n, &ids);
            size_t dl = tok_decode(t, ids.ids, ids.n, &dec, &cap);
            int ok = dl == n && !memcmp(dec, buf, n);
            for (size_t k = 0; k < ids.n; k++) ok &= ids.ids[k] >= 0 && ids.ids[k] < tok_vocab_size(t);
            if (!ok && first < 0) first = i;
            bad += !ok;
            tok_ids_free(&ids);
        }
        char label[128];
        snprintf(label, sizeof(label), "%s: decode(encode(x)) == x on 300 %s strings", name, kinds[kind]);
        t_check(bad == 0, label, "%d failures, first at %d", bad, first);
    }
    free(buf);
    free(dec);
}

int main(void) {
    char path[4096];
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    if (tok_path(path, sizeof(path), "llama3", &err) || tok_load(&t, path, &err)) {
        t_check(0, "load the Llama 3 tokenizer.json", "%s", err.msg);
        return t_done();
    }
    cJSON *g = json_load(t_golden("llama3-tokenizer/golden_ids.json"), &err);
    if (!t_check(g != NULL, "read golden_ids.json", "%s", err.msg)) return t_done();
    int nc = cJSON_GetArraySize(g);
    gcase *c = calloc((size_t)nc, sizeof(gcase));
    for (int i = 0; i < nc; i++) {
        const cJSON *o = cJSON_GetArrayItem(g, i), *ids = cJSON_GetObjectItem(o, "ids");
        c[i].text = cJSON_GetObjectItem(o, "text")->valuestring;
        c[i].len = strlen(c[i].text);
        c[i].n = (size_t)cJSON_GetArraySize(ids);
        c[i].ids = malloc((c[i].n + 1) * sizeof(int32_t));
        int k = 0;
        for (const cJSON *v = ids->child; v; v = v->next) c[i].ids[k++] = (int32_t)v->valuedouble;
    }
    t_check(nc == 341, "golden_ids.json has 341 cases", "got %d", nc);
    golden(t, c, nc);
    metadata(t);
    threads(t, c, nc);
    roundtrip(t, "llama3");
    for (int i = 0; i < nc; i++) free(c[i].ids);
    free(c);
    cJSON_Delete(g);
    tok_free(t);
    return t_done();
}
