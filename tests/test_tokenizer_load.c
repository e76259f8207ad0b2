// test_tokenizer_load.c: tokenizer.json features on small hand-made files (expected values from Hugging
// Face tokenizers' own tests and docs), pre-tokenizer details, and every load error naming the file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/tokenizer.h"
#include "data/tokenizer_impl.h"   // white-box: the pre-tokenizer
#include "harness.h"

// A byte-level BPE file: the 256 byte tokens (ids 0..255 in byte order), then `extra` (ids 256..).
static cJSON *base(const char **extra, int n_extra) {
    cJSON *root = cJSON_Parse(
        "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Sequence\","
        " \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+|\\\\w+|[^\\\\s\\\\w]+\"}, \"behavior\":"
        " \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},"
        " \"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"merges\": []}}");
    cJSON *vocab = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(root, "model"), "vocab");
    for (int b = 0; b < 256; b++) {
        char s[4] = {0};
        tok_utf8_encode(tok_byte_char((uint8_t)b), s);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    for (int i = 0; i < n_extra; i++) cJSON_AddNumberToObject(vocab, extra[i], 256 + i);
    return root;
}

static const char *save(cJSON *root, const char *name) {
    const char *p = t_tmp(name);
    char *s = cJSON_Print(root);
    t_write_file(p, s, strlen(s));
    free(s);
    cJSON_Delete(root);
    return p;
}

static void set(cJSON *obj, const char *key, const char *json) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, cJSON_Parse(json));
}

static cJSON *model(cJSON *root) { return cJSON_GetObjectItemCaseSensitive(root, "model"); }

static tok_tokenizer *load(const char *path) {
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    if (tok_load(&t, path, &err)) printf("# load %s: %s\n", path, err.msg);
    return t;
}

// Encodes text and compares with the expected ids (terminated by -1).
static void expect_ids(const tok_tokenizer *t, const char *text, const int32_t *want, const char *name) {
    tok_ids ids = {0};
    if (t) tok_encode(t, text, strlen(text), &ids);
    size_t n = 0;
    while (want[n] >= 0) n++;
    int ok = t && ids.n == n && !memcmp(ids.ids, want, n * sizeof(int32_t));
    char got[256] = "";
    for (size_t i = 0, k = 0; i < ids.n && k < 200; i++) k += (size_t)snprintf(got + k, 256 - k, "%d ", ids.ids[i]);
    t_check(ok, name, "got [%s]", got);
    tok_ids_free(&ids);
}

static void merges_and_ignore_merges(void) {
    const char *extra[] = {"ab", "bc", "abc"};
    cJSON *r = base(extra, 3);
    set(model(r), "merges", "[\"b c\", \"a b\"]");
    tok_tokenizer *t = load(save(r, "strings.json"));
    int32_t bpe[] = {'a', 257, -1}, whole[] = {258, -1};
    expect_ids(t, "abc", bpe, "merges as \"a b\" strings: b c first, then nothing merges a + bc");
    tok_free(t);
    r = base(extra, 3);
    set(model(r), "merges", "[[\"b\", \"c\"], [\"a\", \"b\"]]");
    t = load(save(r, "pairs.json"));
    expect_ids(t, "abc", bpe, "merges as [\"a\", \"b\"] pairs");
    tok_free(t);
    r = base(extra, 3);
    set(model(r), "merges", "[[\"b\", \"c\"], [\"a\", \"b\"]]");
    cJSON_AddTrueToObject(model(r), "ignore_merges");
    t = load(save(r, "ignore.json"));
    expect_ids(t, "abc", whole, "ignore_merges: a pre-token found in the vocabulary is one token");
    r = base(extra, 3);
    set(model(r), "merges", "[[\"a\", \"b\"]]");
    tok_free(t);
    t = load(save(r, "rank.json"));
    int32_t ab_a[] = {256, 'a', -1};
    expect_ids(t, "aba", ab_a, "a merge applies at its leftmost position first");
    tok_free(t);
}

static void added_tokens(void) {
    // Hugging Face's added_vocabulary.rs tests, on byte-level BPE: single_word, then lstrip + rstrip.
    cJSON *r = base(NULL, 0);
    set(r, "added_tokens", "[{\"id\": 256, \"content\": \"<mask>\", \"single_word\": true, \"lstrip\": false, \"rstrip\": false,"
                           " \"normalized\": false, \"special\": false}]");
    tok_tokenizer *t = load(save(r, "single.json"));
    const char *text = "<mask> My name <mask> A<mask> <mask>ony <mask>";
    tok_ids ids = {0};
    if (t) tok_encode(t, text, strlen(text), &ids);
    int masks = 0;
    for (size_t i = 0; i < ids.n; i++) masks += ids.ids[i] == 256;
    t_check(t && masks == 3 && ids.n == strlen(text) - 3 * 5, "single_word: only the 3 free-standing <mask> match", "%d masks", masks);
    tok_ids_free(&ids);
    tok_free(t);

    r = base(NULL, 0);
    set(r, "added_tokens", "[{\"id\": 256, \"content\": \"<mask>\", \"single_word\": true, \"lstrip\": true, \"rstrip\": true,"
                           " \"normalized\": false, \"special\": true}]");
    t = load(save(r, "strip.json"));
    text = "Hi <mask> there\t<mask>\t<mask>\xe2\x80\x80";   // U+2000 is white space
    if (t) tok_encode(t, text, strlen(text), &ids);
    char *dec = NULL;
    size_t cap = 0;
    if (t) tok_decode(t, ids.ids, ids.n, &dec, &cap);
    t_check(t && !strcmp(dec, "Hi<mask>there<mask><mask>"), "lstrip / rstrip take the white space around the token",
            "decoded to '%s'", dec ? dec : "");
    tok_ids_free(&ids);
    t_check(t && tok_token_type(t, 256) == 3 && tok_find(t, "<mask>") == 256 && tok_vocab_size(t) == 257,
            "added token: type, tok_find, vocab size", "type %d", t ? tok_token_type(t, 256) : -1);
    tok_free(t);

    // Leftmost-longest: "<a><ab>" with tokens "<a", "<a>" and "<ab>"; a non-special token decodes to its text.
    r = base(NULL, 0);
    set(r, "added_tokens", "[{\"id\": 300, \"content\": \"<a\", \"special\": false}, {\"id\": 301, \"content\": \"<a>\"},"
                           " {\"id\": 302, \"content\": \"<ab>\", \"special\": true}]");
    t = load(save(r, "longest.json"));
    int32_t want[] = {301, 302, 300, 'x', -1};
    expect_ids(t, "<a><ab><ax", want, "added tokens: leftmost-longest matches");
    t_check(t && tok_vocab_size(t) == 303 && tok_token_type(t, 280) == 5 && !tok_token_str(t, 280) && tok_token_type(t, 300) == 4,
            "a hole in the id space", "vocab %d", t ? tok_vocab_size(t) : -1);
    tok_free(t);
    free(dec);
}

static void unk_and_meta(void) {
    // A vocabulary without the byte 'z': with unk_token (fused) it becomes <unk>, without it is dropped.
    cJSON *r = base(NULL, 0);
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(model(r), "vocab"), "z");
    cJSON_AddNumberToObject(cJSON_GetObjectItemCaseSensitive(model(r), "vocab"), "<unk>", 'z');
    cJSON_AddStringToObject(model(r), "unk_token", "<unk>");
    cJSON_AddTrueToObject(model(r), "fuse_unk");
    set(r, "post_processor", "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}},"
                             " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"</s>\", \"type_id\": 0}}],"
                             " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [300]}, \"</s>\": {\"id\": \"</s>\", \"ids\": [301]}}}");
    set(r, "added_tokens", "[{\"id\": 300, \"content\": \"<s>\", \"special\": true}, {\"id\": 301, \"content\": \"</s>\", \"special\": true}]");
    tok_tokenizer *t = load(save(r, "unk.json"));
    int32_t fused[] = {'a', 'z', 'b', -1};
    expect_ids(t, "azzb", fused, "unk_token with fuse_unk: a run of unknown bytes is one <unk>");
    t_check(t && tok_bos(t) == 300 && tok_eos(t) == 301, "bos / eos from the TemplateProcessing post_processor", "%d %d",
            t ? tok_bos(t) : -9, t ? tok_eos(t) : -9);
    tok_free(t);
    // tokenizer_config.json beside the file wins over the post_processor.
    r = base(NULL, 0);
    set(r, "added_tokens", "[{\"id\": 300, \"content\": \"<s>\", \"special\": true}, {\"id\": 301, \"content\": \"</s>\", \"special\": true}]");
    mkdir(t_tmp("cfg"), 0755);
    const char *cfg = "{\"bos_token\": {\"content\": \"</s>\"}, \"eos_token\": \"<s>\", \"chat_template\": [{\"name\": \"tool\", \"template\": \"T\"},"
                      " {\"name\": \"default\", \"template\": \"{{ messages }}\"}]}";
    t_write_file(t_tmp("cfg/tokenizer_config.json"), cfg, strlen(cfg));
    t = load(save(r, "cfg/tokenizer.json"));
    t_check(t && tok_bos(t) == 301 && tok_eos(t) == 300 && tok_chat_template(t) && !strcmp(tok_chat_template(t), "{{ messages }}"),
            "bos / eos / chat template from tokenizer_config.json", " ");
    tok_free(t);
}

// Pre-tokenizer pieces, joined with '|'.
static void expect_split(tok_pretok *pt, const char *text, size_t n, const char *want, const char *name) {
    tok_split_work w = {0};
    tok_spans out = {0};
    tok_pretok_split(pt, text, n, &w, &out);
    char got[512] = "";
    size_t k = 0;
    for (size_t i = 0; i < out.n && k + out.v[i].n + 2 < sizeof(got); i++) {
        if (i) got[k++] = '|';
        memcpy(got + k, out.v[i].p, out.v[i].n);
        k += out.v[i].n;
    }
    got[k] = '\0';
    t_check(!strcmp(got, want), name, "got '%s', want '%s'", got, want);
    free(out.v);
    tok_split_free(&w);
}

static void pretokenizer(void) {
    // Hugging Face's SplitDelimiterBehavior docs: "the-final--countdown" split on "-".
    static const char *want[] = {"the|final|countdown", "the|-|final|-|-|countdown", "the-|final-|-|countdown",
                                 "the|-final|-|-countdown", "the|-|final|--|countdown"};
    static const char *names[] = {"Split Removed", "Split Isolated", "Split MergedWithPrevious", "Split MergedWithNext",
                                  "Split Contiguous"};
    for (int b = 0; b < 5; b++) {
        tok_pretok pt = {0};
        CHECK(tok_pretok_add_split(&pt, "-", 1, b, 0, "x", NULL) == 0, "literal");
        expect_split(&pt, "the-final--countdown", 20, want[b], names[b]);
        tok_pretok_free(&pt);
    }
    tok_pretok pt = {0};
    CHECK(tok_pretok_add_split(&pt, "-", 0, TOK_REMOVED, 1, "x", NULL) == 0, "regex");
    expect_split(&pt, "the-final--countdown", 20, "-|-|-", "Split Removed, inverted");
    tok_pretok_free(&pt);
    // GPT-2: ByteLevel with its own regex and a prefix space.
    tok_pretok_add_bytelevel(&pt, 1, 1);
    expect_split(&pt, "Hello world's  end", 18, " Hello| world|'s| | end", "ByteLevel add_prefix_space + GPT-2 regex");
    tok_pretok_free(&pt);
    // \s is Unicode White_Space as in Oniguruma: U+180E (Mongolian vowel separator) is not space.
    CHECK(tok_pretok_add_split(&pt, "\\s+", 0, TOK_ISOLATED, 0, "x", NULL) == 0, "regex");
    expect_split(&pt, "a\xe1\xa0\x8e" "b\xc2\x85" "c", 8, "a\xe1\xa0\x8e" "b|\xc2\x85|c", "\\s is White_Space: U+180E no, U+0085 yes");
    tok_pretok_free(&pt);
    // Invalid UTF-8: each bad byte is a pre-token; the valid runs around it are split on their own.
    CHECK(tok_pretok_add_split(&pt, TOK_LLAMA3_REGEX, 0, TOK_ISOLATED, 0, "x", NULL) == 0, "regex");
    expect_split(&pt, "ab\xff" "cd \xe4\xb8 x", 10, "ab|\xff|cd| |\xe4|\xb8| x", "invalid UTF-8 bytes are pre-tokens of their own");
    tok_pretok_free(&pt);
}

// A broken file: tok_load fails with a message naming the file and containing `what`.
static void expect_error(cJSON *root, const char *raw, const char *what, const char *name) {
    const char *path;
    if (root) path = save(root, "bad.json");
    else {
        path = t_tmp("bad.json");
        t_write_file(path, raw, strlen(raw));
    }
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    int rc = tok_load(&t, path, &err);
    t_check(rc == -1 && !t && strstr(err.msg, path) && strstr(err.msg, what), name, "rc %d, message '%s'", rc, err.msg);
    tok_free(t);
}

static void errors(void) {
    const char *extra[] = {"ab"};
    expect_error(NULL, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,", "malformed JSON", "error: malformed JSON");
    cJSON *r = base(NULL, 0);
    set(model(r), "type", "\"Unigram\"");
    expect_error(r, NULL, "model.type is 'Unigram'", "error: model.type not BPE");
    r = base(NULL, 0);
    set(model(r), "merges", "[\"a q\", \"q\"]");
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(model(r), "vocab"), "q");
    expect_error(r, NULL, "merge 0 'a q' names a token that is not in the vocabulary ('q')", "error: a merge naming a missing token");
    r = base(NULL, 0);
    set(model(r), "merges", "[[\"a\", \"b\"]]");
    expect_error(r, NULL, "merge 0 'a b': the merged token 'ab' is not in the vocabulary", "error: a merge whose result is missing");
    r = base(extra, 1);
    set(model(r), "merges", "[\"ab\"]");
    expect_error(r, NULL, "merge 0 'ab' is not two tokens separated by one space", "error: a malformed merge");
    r = base(extra, 1);
    set(cJSON_GetObjectItemCaseSensitive(model(r), "vocab"), "ab", "7");
    expect_error(r, NULL, "model.vocab gives id 7 to both", "error: duplicate ids in model.vocab");
    r = base(NULL, 0);
    set(r, "added_tokens", "[{\"id\": 300, \"content\": \"<x>\"}, {\"id\": 300, \"content\": \"<y>\"}]");
    expect_error(r, NULL, "added_tokens gives id 300 to both '<x>' and '<y>'", "error: duplicate ids in added_tokens");
    r = base(NULL, 0);
    set(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "pre_tokenizer"), "pretokenizers"), 0), "pattern",
        "{\"Regex\": \"(a|b\"}");
    expect_error(r, NULL, "pre_tokenizer regex '(a|b' does not compile", "error: a bad regex");
    r = base(NULL, 0);
    cJSON_DeleteItemFromObjectCaseSensitive(model(r), "vocab");
    expect_error(r, NULL, "model.vocab is missing", "error: missing vocab");
    r = base(NULL, 0);
    set(model(r), "vocab", "{\"a\": -1}");
    expect_error(r, NULL, "model.vocab['a'] must be a non-negative integer id", "error: a negative id");
    r = base(NULL, 0);
    set(r, "normalizer", "{\"type\": \"NFC\"}");
    expect_error(r, NULL, "normalizer 'NFC' is not supported", "error: a normalizer");
    r = base(NULL, 0);
    set(r, "pre_tokenizer", "{\"type\": \"Whitespace\"}");
    expect_error(r, NULL, "pre_tokenizer type 'Whitespace' is not supported", "error: a pre-tokenizer that is not byte-level");
    r = base(NULL, 0);
    cJSON_DeleteItemFromObjectCaseSensitive(r, "model");
    expect_error(r, NULL, "key 'model' is missing", "error: no model");
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    t_check(tok_load(&t, "/nonexistent/tokenizer.json", &err) == -1 && strstr(err.msg, "/nonexistent/tokenizer.json: cannot open"),
            "error: a missing file", "%s", err.msg);
}

int main(void) {
    merges_and_ignore_merges();
    added_tokens();
    unk_and_meta();
    pretokenizer();
    errors();
    return t_done();
}
