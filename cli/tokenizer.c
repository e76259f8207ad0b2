// tokenizer.c: `trit tokenizer` (train a byte-level BPE tokenizer.json; encode, decode, info) and
// `trit tokenize` (JSONL texts -> JSONL ids, on all cores).
#include <cjson/cJSON.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/afile.h"
#include "data/bpe_train.h"
#include "data/mapfile.h"
#include "data/tokenizer.h"

static const char *tokenizer_usage =
    "usage: trit tokenizer train --vocab N --out TOKENIZER.json [--doc-per-file] FILES...\n"
    "       trit tokenizer encode --tokenizer FILE [TEXT]     (TEXT or standard input -> ids)\n"
    "       trit tokenizer decode --tokenizer FILE [IDS...]   (ids or standard input -> text)\n"
    "       trit tokenizer info --tokenizer FILE\n"
    "\n"
    "train: learns a byte-level BPE (Llama 3 pre-tokenizer regex, GPT-2 byte alphabet) on the documents of\n"
    "FILES (.jsonl: the \"text\" field of each line; other files: documents separated by blank lines, or\n"
    "whole files with --doc-per-file) and writes a Hugging Face tokenizer.json: N tokens (the 256 bytes plus\n"
    "N-256 merges; --vocab 256 gives a pure byte tokenizer) and the special tokens <|begin_of_text|>,\n"
    "<|end_of_text|>, <|pad|> with ids N, N+1, N+2.\n"
    "FILE: a tokenizer.json (Hugging Face byte-level BPE), or `llama3` for the Llama 3 tokenizer that\n"
    "`make deps` installs. Special tokens written in TEXT are encoded as special tokens; no BOS is added.\n";

static const char *tokenize_usage =
    "usage: trit tokenize --tokenizer FILE --jsonl IN.jsonl [--out OUT.jsonl] [--threads N]\n"
    "\n"
    "Reads lines {\"text\": ...} and writes one line {\"ids\": [...]} per input line (no BOS added; blank\n"
    "lines are skipped), to standard output or OUT.jsonl. FILE: a tokenizer.json, or `llama3`.\n"
    "  --threads N   OpenMP threads (default: all cores)\n";

static int load(tok_tokenizer **t, const char *spec, tr_err *err) {
    char path[4096];
    return tok_path(path, sizeof(path), spec, err) || tok_load(t, path, err) ? -1 : 0;
}

static int train(int argc, char **argv) {
    const char *out = NULL, **files = calloc((size_t)argc, sizeof(char *));
    int vocab = 0, nf = 0, per_file = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--doc-per-file")) per_file = 1;
        else if (!strcmp(argv[i], "--vocab") || !strcmp(argv[i], "--out")) {
            if (i + 1 >= argc) return free(files), cli_usage_error("tokenizer", "flag %s needs a value", argv[i]);
            char *end;
            if (argv[i][2] == 'o') out = argv[++i];
            else if ((vocab = (int)strtol(argv[++i], &end, 10)) < 256 || *end || vocab > 1 << 30)
                return free(files), cli_usage_error("tokenizer", "--vocab wants an integer from 256 to 2^30, got '%s'", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) return free(files), cli_usage_error("tokenizer", "unknown flag '%s'", argv[i]);
        else files[nf++] = argv[i];
    }
    if (!vocab || !out || !nf) return free(files), cli_usage_error("tokenizer", "train needs --vocab, --out and input files");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tr_err err = {{0}};
    bpe_trainer *b = bpe_trainer_init();
    int rc = bpe_trainer_add_files(b, files, nf, per_file, &err);
    if (!rc) {
        bpe_train(b, vocab);
        rc = bpe_write(b, out, &err);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc) {
        int v = bpe_vocab_size(b);
        printf("trained %d tokens (256 bytes + %d merges) on %zu pre-tokens (%zu distinct) in %.2f s; wrote %s "
               "(specials <|begin_of_text|> %d, <|end_of_text|> %d, <|pad|> %d)\n",
               v, bpe_n_merges(b), bpe_n_pretokens(b), bpe_n_words(b), (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
               out, v, v + 1, v + 2);
        if (v < vocab) printf("note: the text has no pair left to merge after %d tokens (asked for %d)\n", v, vocab);
    }
    bpe_trainer_free(b);
    free(files);
    return rc ? cli_error("tokenizer", "%s", err.msg) : 0;
}

// Reads all of standard input (for encode / decode without arguments).
static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0, got;
    char *s = malloc(cap);
    while ((got = fread(s + n, 1, cap - n - 1, stdin)) > 0)
        if ((n += got) + 1 == cap) s = realloc(s, cap *= 2);
    s[n] = '\0';
    *len = n;
    return s;
}

// encode, decode, info: --tokenizer FILE, then the text / ids (arguments or standard input).
static int encode_decode_info(const char *sub, int argc, char **argv) {
    const char *spec = NULL;
    int first = argc;   // first positional argument
    for (int i = 1; i < argc && first == argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) spec = argv[++i];
        else if (!strcmp(argv[i], "--tokenizer")) return cli_usage_error("tokenizer", "flag --tokenizer needs a value");
        else if (argv[i][0] == '-' && argv[i][1] && !(argv[i][1] >= '0' && argv[i][1] <= '9'))
            return cli_usage_error("tokenizer", "unknown flag '%s'", argv[i]);
        else first = i;
    }
    if (!spec) return cli_usage_error("tokenizer", "%s needs --tokenizer FILE", sub);
    if (!strcmp(sub, "info") && first < argc) return cli_usage_error("tokenizer", "info takes no arguments");
    tr_err err = {{0}};
    tok_tokenizer *t = NULL;
    if (load(&t, spec, &err)) return cli_error("tokenizer", "%s", err.msg);
    int rc = 0;
    if (!strcmp(sub, "info")) {
        const char *re = tok_pretok_regex(t), *ct = tok_chat_template(t);
        printf("vocab size %d, %d merges, bos %d, eos %d\npre-tokenizer regex: %s\nchat template: %s\n", tok_vocab_size(t),
               tok_n_merges(t), tok_bos(t), tok_eos(t), re ? re : "(none)", ct ? "yes (tokenizer_config.json)" : "none");
        tok_free(t);
        return 0;
    }
    // The input: the arguments (joined by spaces) or standard input.
    size_t n = 0;
    char *in;
    if (first == argc) in = read_stdin(&n);
    else {
        for (int i = first; i < argc; i++) n += strlen(argv[i]) + 1;
        in = malloc(n);
        n = 0;
        for (int i = first; i < argc; i++) n += (size_t)sprintf(in + n, i > first ? " %s" : "%s", argv[i]);
    }
    tok_ids ids = {0};
    if (!strcmp(sub, "encode")) {
        tok_encode(t, in, n, &ids);
        for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", ids.ids[i]);
        printf("\n");
    } else {   // decode: integers separated by spaces, commas or newlines
        char *s = in, *end, *out = NULL;
        for (;;) {
            while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r' || *s == ',') s++;
            if (!*s) break;
            long v = strtol(s, &end, 10);
            if (end == s) {
                rc = cli_usage_error("tokenizer", "decode wants integer ids, got '%.20s'", s);
                break;
            }
            if (v < 0 || v >= tok_vocab_size(t) || !tok_token_str(t, (int)v)) {
                rc = cli_error("tokenizer", "%s: id %ld is not a token (vocabulary size %d)", spec, v, tok_vocab_size(t));
                break;
            }
            tok_ids_push(&ids, (int32_t)v);
            s = end;
        }
        size_t cap = 0, len = tok_decode(t, ids.ids, ids.n, &out, &cap);
        if (!rc) fwrite(out, 1, len, stdout);
        free(out);
    }
    tok_ids_free(&ids);
    free(in);
    tok_free(t);
    return rc;
}

// ---- trit tokenize ----

typedef struct {
    const char *p;   // the line, without its "\n"
    size_t n, no;    // length, 1-based line number
} jline;

// The "text" of one JSONL line: 0 and a cJSON tree to free, or -1 with "PATH: line N: problem".
static int parse_line(const jline *l, const char *path, cJSON **root, const char **text, tr_err *err) {
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(l->p, l->n, &end, 0);
    if (!*root) return tr_fail(err, "%s: line %zu: malformed JSON near column %zu", path, l->no, end ? (size_t)(end - l->p) + 1 : 1);
    while (end < l->p + l->n && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
    if (end != l->p + l->n) return tr_fail(err, "%s: line %zu: malformed JSON near column %zu (text after the object)", path, l->no, (size_t)(end - l->p) + 1);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(*root, "text");
    if (!cJSON_IsString(t)) return tr_fail(err, "%s: line %zu: no \"text\" string", path, l->no);
    *text = t->valuestring;
    return 0;
}

static size_t put_ids(char *o, const tok_ids *ids) {   // {"ids": [1, 2, 3]}\n
    size_t k = (size_t)sprintf(o, "{\"ids\": [");
    for (size_t i = 0; i < ids->n; i++) {
        if (i) o[k++] = ',', o[k++] = ' ';
        char d[12];
        int m = 0;
        for (uint32_t v = (uint32_t)ids->ids[i]; m == 0 || v; v /= 10) d[m++] = (char)('0' + v % 10);
        while (m) o[k++] = d[--m];
    }
    return k + (size_t)sprintf(o + k, "]}\n");
}

static int tokenize(const char *spec, const char *in_path, const char *out_path, tr_err *err) {
    tok_tokenizer *t = NULL;
    mf_file in = {0};
    jline *lines = NULL;
    size_t nl = 0, cap = 0;
    FILE *out = NULL;
    tr_afile af = {0};
    int rc = -1;
    if (load(&t, spec, err) || mf_open(&in, in_path, err)) goto done;
    for (size_t pos = 0, no = 1; pos < in.size; no++) {   // non-blank lines
        const char *p = (const char *)in.data + pos, *nlp = memchr(p, '\n', in.size - pos);
        size_t n = nlp ? (size_t)(nlp - p) : in.size - pos, k = 0;
        pos += n + 1;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == n) continue;
        if (nl == cap) lines = realloc(lines, (cap = cap ? 2 * cap : 1024) * sizeof(jline));
        lines[nl++] = (jline){p, n, no};
    }
    size_t bad = nl;   // every line is checked before anything is written
#pragma omp parallel for schedule(dynamic, 256) reduction(min : bad)
    for (size_t i = 0; i < nl; i++) {
        cJSON *root;
        const char *text;
        if (parse_line(&lines[i], in_path, &root, &text, NULL)) bad = i < bad ? i : bad;
        cJSON_Delete(root);
    }
    if (bad < nl) {
        cJSON *root;
        const char *text;
        parse_line(&lines[bad], in_path, &root, &text, err);
        cJSON_Delete(root);
        goto done;
    }
    if (out_path && tr_afile_open(&af, out_path, err)) goto done;
    out = out_path ? af.fp : stdout;
    enum { BLOCK = 4096 };
    tok_ids *ids = calloc(BLOCK, sizeof(tok_ids));
    char *buf = NULL;
    size_t bcap = 0;
    for (size_t b0 = 0; b0 < nl; b0 += BLOCK) {
        size_t nb = nl - b0 < BLOCK ? nl - b0 : BLOCK, need = 0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : need)
        for (size_t i = 0; i < nb; i++) {
            cJSON *root;
            const char *text;
            ids[i].n = 0;
            CHECK(parse_line(&lines[b0 + i], in_path, &root, &text, NULL) == 0, "line checked above");
            tok_encode(t, text, strlen(text), &ids[i]);
            cJSON_Delete(root);
            need += 16 + 12 * ids[i].n;
        }
        if (need > bcap) buf = realloc(buf, bcap = need);
        size_t k = 0;
        for (size_t i = 0; i < nb; i++) k += put_ids(buf + k, &ids[i]);
        fwrite(buf, 1, k, out);
    }
    for (size_t i = 0; i < BLOCK; i++) tok_ids_free(&ids[i]);
    free(ids);
    free(buf);
    rc = 0;
    if (out_path) {
        if (ferror(out)) af.failed = errno ? errno : EIO;
        rc = tr_afile_commit(&af, err);
    } else if (fflush(out) != 0 || ferror(out)) {
        rc = tr_fail(err, "standard output: cannot write: %s", strerror(errno));
    }
done:
    tr_afile_abort(&af);   // nothing left behind on an error (a no-op after the commit)
    free(lines);
    mf_close(&in);
    tok_free(t);
    return rc;
}

int cmd_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(tokenize_usage, stdout);
        return 0;
    }
    const char *spec = NULL, *in = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (i + 1 >= argc) return cli_usage_error("tokenize", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end;
        if (!strcmp(f, "--tokenizer")) spec = v;
        else if (!strcmp(f, "--jsonl")) in = v;
        else if (!strcmp(f, "--out")) out = v;
        else if (!strcmp(f, "--threads")) {
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 4096) return cli_usage_error("tokenize", "--threads wants a positive integer, got '%s'", v);
            omp_set_num_threads((int)n);
        } else return cli_usage_error("tokenize", "unknown flag '%s'", f);
    }
    if (!spec || !in) return cli_usage_error("tokenize", "--tokenizer and --jsonl are required");
    tr_err err = {{0}};
    return tokenize(spec, in, out, &err) ? cli_error("tokenize", "%s", err.msg) : 0;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(tokenizer_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode") || !strcmp(argv[1], "decode") || !strcmp(argv[1], "info"))
        return encode_decode_info(argv[1], argc - 1, argv + 1);
    return cli_usage_error("tokenizer", "unknown subcommand '%s' (train, encode, decode, info)", argv[1]);
}
