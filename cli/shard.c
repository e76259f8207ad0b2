// shard.c: `trit shard`: text (.txt, .jsonl) -> zstd token shards with a train/val split; --verify.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/tokenizer.h"

static const char *usage =
    "usage: trit shard --tokenizer FILE --out DIR [--val-fraction F] [--doc-per-file] INPUTS...\n"
    "       trit shard --verify PATH\n"
    "\n"
    "Tokenizes INPUTS and writes zstd token shards DIR/train_000000.tzst ..., DIR/val_000000.tzst ... and\n"
    "DIR/shards.json (docs/data.md, docs/formats.md). A .jsonl input holds one {\"text\": ...} per line; any\n"
    "other input is text whose documents are separated by blank lines. EOS goes between documents.\n"
    "  --tokenizer FILE    a Hugging Face tokenizer.json with an EOS token, or llama3 (installed by make deps)\n"
    "  --out DIR           output folder (created if missing; shards of an earlier run there are replaced)\n"
    "  --val-fraction F    share of the tokens for validation, 0 <= F < 1 (default 0.1): the last documents\n"
    "                      in input order; a cut inside the last document splits it there (nanoGPT style)\n"
    "  --doc-per-file      each text file is one document (kept byte for byte)\n"
    "  --shard-tokens N    tokens per shard file (default 100000000)\n"
    "  --level L           zstd compression level 1..19 (default 3)\n"
    "  --threads N         OpenMP threads (default: all cores); the output does not depend on it\n"
    "  --quiet             no progress line\n"
    "  --verify PATH       read a shard folder (or a shard, llm.c / nanoGPT .bin) and check every shard:\n"
    "                      header, size, checksum, ids below the vocabulary; prints one line per split\n";

typedef struct {
    const char *tokenizer, *out, *verify;
    const char **inputs;
    int n_inputs;
    shard_build_opts o;
    int threads;
} shard_args;

static int parse_int(const char *v, long lo, long hi, long *out) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

static int parse_args(shard_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    a->o.val_fraction = 0.1;
    a->inputs = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strncmp(f, "--", 2) != 0) {
            a->inputs[a->n_inputs++] = f;
            continue;
        }
        if (!strcmp(f, "--doc-per-file")) {
            a->o.doc_per_file = 1;
            continue;
        }
        if (!strcmp(f, "--quiet")) {
            a->o.quiet = 1;
            continue;
        }
        if (!strcmp(f, "--")) {   // everything after is an input
            while (++i < argc) a->inputs[a->n_inputs++] = argv[i];
            break;
        }
        if (i + 1 >= argc) return cli_usage_error("shard", "flag %s needs a value", f);
        const char *v = argv[++i];
        long x;
        if (!strcmp(f, "--tokenizer")) a->tokenizer = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--verify")) a->verify = v;
        else if (!strcmp(f, "--val-fraction")) {
            char *end = NULL;
            a->o.val_fraction = strtod(v, &end);
            if (!*v || *end || !isfinite(a->o.val_fraction) || a->o.val_fraction < 0 || a->o.val_fraction >= 1)
                return cli_usage_error("shard", "--val-fraction wants a number with 0 <= F < 1, got '%s'", v);
        } else if (!strcmp(f, "--shard-tokens")) {
            if (parse_int(v, 1, 1L << 40, &x)) return cli_usage_error("shard", "--shard-tokens wants a positive integer, got '%s'", v);
            a->o.shard_tokens = (size_t)x;
        } else if (!strcmp(f, "--level")) {
            if (parse_int(v, 1, 19, &x)) return cli_usage_error("shard", "--level wants an integer from 1 to 19, got '%s'", v);
            a->o.zstd_level = (int)x;
        } else if (!strcmp(f, "--threads")) {
            if (parse_int(v, 1, 4096, &x)) return cli_usage_error("shard", "--threads wants a positive integer, got '%s'", v);
            a->threads = (int)x;
        } else return cli_usage_error("shard", "unknown flag '%s'", f);
    }
    if (a->verify) {
        if (a->tokenizer || a->out || a->n_inputs) return cli_usage_error("shard", "--verify takes only a path");
        return 0;
    }
    if (!a->tokenizer || !a->out) return cli_usage_error("shard", "--tokenizer and --out are required");
    if (a->n_inputs == 0) return cli_usage_error("shard", "no input files");
    return 0;
}

static void thousands(char *buf, size_t cap, size_t v) {
    char raw[32];
    int n = snprintf(raw, sizeof(raw), "%zu", v), k = 0;
    for (int i = 0; i < n && (size_t)k + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = raw[i];
    }
    buf[k] = 0;
}

static int build(const shard_args *a) {
    tr_err err = {{0}};
    char tpath[4096];
    tok_tokenizer *tok = NULL;
    if (tok_path(tpath, sizeof(tpath), a->tokenizer, &err) || tok_load(&tok, tpath, &err)) return cli_error("shard", "%s", err.msg);
    shard_build_opts o = a->o;
    o.out_dir = a->out;
    o.tokenizer_path = tpath;
    shard_build_stats st;
    int rc = shard_build(tok, a->inputs, a->n_inputs, &o, &st, &err);
    tok_free(tok);
    if (rc) return cli_error("shard", "%s", err.msg);
    char t0[32], t1[32];
    thousands(t0, sizeof(t0), st.tokens[0]);
    thousands(t1, sizeof(t1), st.tokens[1]);
    printf("%s: train %s tokens (%zu document%s, %u shard%s), val %s tokens (%zu document%s, %u shard%s); "
           "%.2f MB of text in %.2f s (%.2f MB/s)\n",
           a->out, t0, st.docs[0], st.docs[0] == 1 ? "" : "s", st.shards[0], st.shards[0] == 1 ? "" : "s", t1, st.docs[1],
           st.docs[1] == 1 ? "" : "s", st.shards[1], st.shards[1] == 1 ? "" : "s", (double)st.bytes_in / 1e6, st.seconds,
           st.seconds > 0 ? (double)st.bytes_in / 1e6 / st.seconds : 0.0);
    return 0;
}

static int verify(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return cli_error("shard", "%s: cannot open: no such file or folder", path);
    int is_dir = S_ISDIR(st.st_mode);
    const char *splits[2] = {"train", "val"};
    int checked = 0;
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !is_dir) break;
        if (k == 1 && !dl_has_split(path, "val")) {
            printf("val: none\n");
            break;
        }
        tr_err err = {{0}};
        dl_loader *l = NULL;
        const char *split = splits[k];
        char label[4200];
        snprintf(label, sizeof(label), "%s", split);
        if (!is_dir) {   // a single file: a shard holds the split its header names; a .bin is just tokens
            shard_info info;
            tr_err ignore;
            snprintf(label, sizeof(label), "%s", path);
            if (shard_read_info(path, &info, &ignore) == 0) {
                split = shard_split_name(info.split);
                snprintf(label, sizeof(label), "%s: %s split", path, split);
            }
        }
        if (dl_open(&l, path, split, &err)) return cli_error("shard", "%s", err.msg);
        char n[32];
        thousands(n, sizeof(n), dl_num_tokens(l));
        printf("%s: %s tokens, largest id %d", label, n, dl_max_token(l));
        if (dl_vocab_size(l) > 0) printf(", vocab size %d, EOS %d", dl_vocab_size(l), dl_eos(l));
        printf(", checksums ok\n");
        dl_close(l);
        checked++;
    }
    return checked ? 0 : 1;
}

int cmd_shard(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    shard_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc == 0) {
        if (a.threads) omp_set_num_threads(a.threads);
        rc = a.verify ? verify(a.verify) : build(&a);
    }
    free(a.inputs);
    return rc;
}
