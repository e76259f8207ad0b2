// synth.c: `trit synth --config CFG.json --format F -o PATH`: a model with random weights in an export's exact
// layout, for tests and benchmarks at any size (configs/bitnet-b1.58-2B-4T.json: the 2B4T shapes).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "export/export.h"
#include "model/config.h"

static const char *usage =
    "usage: trit synth --config CFG.json --format FORMAT -o PATH [--embed f16|q8_0] [--seed S]\n"
    "                  [--tokenizer FILE|llama3] [--no-tokenizer] [--name NAME] [--threads N]\n"
    "\n"
    "Writes a BitNet b1.58 model of the Hugging Face config CFG.json with random weights, in exactly the\n"
    "layout `trit export` writes: uniformly random ternary codes, per-tensor scales sqrt(1.5/K) (unit-RMS\n"
    "outputs), embeddings of RMS 1/sqrt(hidden), norms near 1. The file depends only on the seed.\n"
    "  --format F        gguf-i2_s, gguf-tq2_0, gguf-tq1_0, gguf-f16 (a .gguf file), hf-packed or hf-bf16\n"
    "                    (a Hugging Face folder)\n"
    "  -o PATH           the output file or folder\n"
    "  --embed E         GGUF token_embd (and output, when untied): f16 (default) or q8_0\n"
    "  --seed S          random seed (default 1)\n"
    "  --tokenizer FILE  tokenizer.json to include (default llama3, the 2B4T tokenizer `make deps` installs)\n"
    "  --no-tokenizer    include none\n"
    "  --name NAME       general.name (default: the config file's name)\n"
    "  --threads N       OpenMP threads (default: all cores)\n";

typedef struct {
    const char *config, *format, *out, *tokenizer, *name;
    ex_synth_opts o;
    int no_tokenizer, threads;
} synth_args;

static int parse_format(synth_args *a, const char *v) {
    if (!strncmp(v, "gguf-", 5) && !ex_type_parse(v + 5, &a->o.type)) a->o.kind = EX_SYN_GGUF;
    else if (!strcmp(v, "hf-packed")) a->o.kind = EX_SYN_HF, a->o.layout = EX_HF_PACKED;
    else if (!strcmp(v, "hf-bf16")) a->o.kind = EX_SYN_HF, a->o.layout = EX_HF_BF16;
    else return -1;
    a->format = v;
    return 0;
}

static int parse_args(synth_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    a->o.embed = GGUF_TYPE_F16;
    a->o.seed = 1;
    a->tokenizer = "llama3";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--no-tokenizer")) {
            a->no_tokenizer = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("synth", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "--config")) a->config = v;
        else if (!strcmp(f, "-o") || !strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--tokenizer")) a->tokenizer = v;
        else if (!strcmp(f, "--name")) a->name = v;
        else if (!strcmp(f, "--format")) {
            if (parse_format(a, v))
                return cli_usage_error("synth", "--format wants gguf-i2_s, gguf-tq2_0, gguf-tq1_0, gguf-f16, hf-packed or "
                                       "hf-bf16, got '%s'", v);
        } else if (!strcmp(f, "--embed")) {
            if (!strcmp(v, "f16")) a->o.embed = GGUF_TYPE_F16;
            else if (!strcmp(v, "q8_0")) a->o.embed = GGUF_TYPE_Q8_0;
            else return cli_usage_error("synth", "--embed wants f16 or q8_0, got '%s'", v);
        } else if (!strcmp(f, "--seed")) {
            a->o.seed = strtoull(v, &end, 10);
            if (*end || v[0] == '-' || !v[0]) return cli_usage_error("synth", "--seed wants an integer >= 0, got '%s'", v);
        } else if (!strcmp(f, "--threads")) {
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 4096) return cli_usage_error("synth", "--threads wants a positive integer, got '%s'", v);
            a->threads = (int)n;
        } else return cli_usage_error("synth", "unknown flag '%s'", f);
    }
    if (!a->config || !a->format || !a->out) return cli_usage_error("synth", "--config, --format and -o are required");
    return 0;
}

static int run(synth_args *a, tr_err *err) {
    bn_config c;
    if (bn_config_load(&c, a->config, err)) return -1;
    tok_tokenizer *tok = NULL;
    char *json = NULL, name[256], tpath[4096];
    if (!a->no_tokenizer) {
        if (tok_path(tpath, sizeof(tpath), a->tokenizer, err) || tok_load(&tok, tpath, err)) return -1;
        if (tok_vocab_size(tok) > c.vocab_size) {
            int n = tok_vocab_size(tok);
            tok_free(tok);
            return tr_fail(err, "%s: vocab_size is %d but the tokenizer %s has %d ids (pass --no-tokenizer or another "
                           "--tokenizer)", a->config, c.vocab_size, a->tokenizer, n);
        }
        if (a->o.kind == EX_SYN_HF && !(json = ex_read_text(tpath))) {
            tok_free(tok);
            return tr_fail(err, "%s: cannot read", tpath);
        }
    }
    const char *base = strrchr(a->config, '/') ? strrchr(a->config, '/') + 1 : a->config;
    snprintf(name, sizeof(name), "%s", base);
    if (strrchr(name, '.') && !strcmp(strrchr(name, '.'), ".json")) *strrchr(name, '.') = '\0';
    a->o.name = a->name ? a->name : name;
    a->o.tok = a->o.kind == EX_SYN_GGUF ? tok : NULL;
    a->o.tokenizer_json = json;
    double t0 = omp_get_wtime();
    int rc = ex_synth(&c, &a->o, a->config, a->out, err);
    if (!rc)
        printf("wrote %s: %s, random weights (seed %llu), %d layers x %d, vocab %d, %s, in %.1f s\n", a->out, a->format,
               (unsigned long long)a->o.seed, c.n_layers, c.hidden_size, c.vocab_size,
               tok ? "with tokenizer" : "no tokenizer", omp_get_wtime() - t0);
    tok_free(tok);
    free(json);
    return rc;
}

int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    synth_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    if (a.threads) omp_set_num_threads(a.threads);
    tr_err err = {{0}};
    if (run(&a, &err)) return cli_error("synth", "%s", err.msg);
    return 0;
}
