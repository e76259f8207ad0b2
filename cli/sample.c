// sample.c: `trit sample CKPT`: generate text with a training checkpoint's model (the autograd graph).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "data/tokenizer.h"
#include "model/h5_io.h"
#include "train/checkpoint.h"
#include "train/sampler.h"

static const char *usage =
    "usage: trit sample CKPT [--prompt TEXT] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]\n"
    "                   [--tokenizer FILE] [--threads N]\n"
    "\n"
    "Generates text with the model of a checkpoint written by `trit train` (a .h5 file, or a run folder:\n"
    "its latest.h5), on the autograd model with gradients off (the full forward pass over the context,\n"
    "the last max_position_embeddings tokens, for each token): a quick look before export. The prompt is\n"
    "echoed, then the continuation is streamed to stdout; generation stops early at end-of-text.\n"
    "  --prompt TEXT     text to continue (default: none; generation starts after an end-of-text token)\n"
    "  -n N              tokens to generate (default 256)\n"
    "  --temp T          temperature (default 0.8); 0 = greedy\n"
    "  --top-k K         sample among the K most likely tokens (default 0 = all)\n"
    "  --top-p P         then among the most likely tokens whose probability reaches P (default 1 = all)\n"
    "  --seed S          sampling seed (default 1234)\n"
    "  --tokenizer FILE  tokenizer.json to use instead of the one stored in the checkpoint (\"llama3\": the\n"
    "                    Llama 3 tokenizer installed by `make deps`)\n"
    "  --threads N       OpenMP threads (default: all cores)\n";

typedef struct {
    const char *ckpt, *prompt, *tokenizer;
    int n, top_k, threads;
    float temp, top_p;
    unsigned long long seed;
} sample_args;

static int parse_args(sample_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    a->prompt = "";
    a->n = 256;
    a->temp = 0.8f;
    a->top_p = 1.0f;
    a->seed = 1234;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (a->ckpt) return cli_usage_error("sample", "one checkpoint expected, got '%s' and '%s'", a->ckpt, f);
            a->ckpt = f;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("sample", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "--prompt")) a->prompt = v;
        else if (!strcmp(f, "--tokenizer")) a->tokenizer = v;
        else if (!strcmp(f, "-n")) {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 100000000) return cli_usage_error("sample", "-n wants a token count >= 0, got '%s'", v);
            a->n = (int)n;
        } else if (!strcmp(f, "--temp")) {
            a->temp = strtof(v, &end);
            if (*end || !(a->temp >= 0) || a->temp > 100) return cli_usage_error("sample", "--temp wants a number >= 0, got '%s'", v);
        } else if (!strcmp(f, "--top-k")) {
            long k = strtol(v, &end, 10);
            if (*end || k < 0 || k > 1 << 30) return cli_usage_error("sample", "--top-k wants an integer >= 0, got '%s'", v);
            a->top_k = (int)k;
        } else if (!strcmp(f, "--top-p")) {
            a->top_p = strtof(v, &end);
            if (*end || !(a->top_p > 0 && a->top_p <= 1)) return cli_usage_error("sample", "--top-p wants a number in (0, 1], got '%s'", v);
        } else if (!strcmp(f, "--seed")) {
            a->seed = strtoull(v, &end, 10);
            if (*end || v[0] == '-' || !v[0]) return cli_usage_error("sample", "--seed wants an integer >= 0, got '%s'", v);
        } else if (!strcmp(f, "--threads")) {
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 4096) return cli_usage_error("sample", "--threads wants a positive integer, got '%s'", v);
            a->threads = (int)n;
        } else return cli_usage_error("sample", "unknown flag '%s'", f);
    }
    if (!a->ckpt) return cli_usage_error("sample", "a checkpoint (CKPT) is required");
    return 0;
}

// The tokenizer stored in the checkpoint.
static int load_stored_tokenizer(tok_tokenizer **tok, const char *ckpt, tr_err *err) {
    hid_t f = h5_open(ckpt, err);
    if (f < 0) return -1;
    char *text = NULL;
    int rc = 0;
    if (!h5_exists(f, "/tokenizer/tokenizer.json"))
        rc = tr_fail(err, "%s: holds no tokenizer (/tokenizer/tokenizer.json); pass --tokenizer FILE", ckpt);
    else rc = h5_read_text(f, "/tokenizer/tokenizer.json", &text, ckpt, err);
    h5_close(f);
    if (rc) return -1;
    char label[4200];
    snprintf(label, sizeof(label), "%s: /tokenizer/tokenizer.json", ckpt);
    rc = tok_load_text(tok, text, strlen(text), label, err);
    free(text);
    return rc;
}

static int emit(int32_t id, void *ud) {
    char buf[256];
    size_t n = tok_token_bytes(ud, id, buf, sizeof(buf));
    fwrite(buf, 1, n < sizeof(buf) ? n : sizeof(buf), stdout);
    fflush(stdout);
    return 0;
}

static int run(const sample_args *a, tr_err *err) {
    char *path = ckpt_resolve(a->ckpt);
    bn_model m = {0};
    tok_tokenizer *tok = NULL;
    tok_ids ids = {0};
    int rc = h5_load_model(&m, path, 0, err);
    char tpath[4096];
    if (!rc && a->tokenizer) rc = tok_path(tpath, sizeof(tpath), a->tokenizer, err) || tok_load(&tok, tpath, err);
    else if (!rc) rc = load_stored_tokenizer(&tok, path, err);
    if (!rc && tok_vocab_size(tok) > m.cfg.vocab_size)
        rc = tr_fail(err, "%s: the tokenizer has %d ids but the model's vocab_size is %d", a->tokenizer ? a->tokenizer : path,
                     tok_vocab_size(tok), m.cfg.vocab_size);
    if (!rc) {
        tok_encode(tok, a->prompt, strlen(a->prompt), &ids);
        if (ids.n == 0) {
            int start = tok_eos(tok) >= 0 ? tok_eos(tok) : tok_bos(tok);
            if (start < 0) rc = tr_fail(err, "%s: an empty prompt needs a tokenizer with an end-of-text token", path);
            else tok_ids_push(&ids, start);
        }
    }
    if (!rc) {
        fputs(a->prompt, stdout);
        fflush(stdout);
        smp_params p = {.temperature = a->temp, .top_k = a->top_k, .top_p = a->top_p};
        smp_generate(&m, ids.ids, (int)ids.n, a->n, &p, a->seed, tok_eos(tok), emit, tok);
        putchar('\n');
    }
    tok_ids_free(&ids);
    tok_free(tok);
    bn_model_free(&m);
    free(path);
    return rc;
}

int cmd_sample(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    sample_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    if (a.threads) omp_set_num_threads(a.threads);
    tr_err err = {{0}};
    if (run(&a, &err)) return cli_error("sample", "%s", err.msg);
    return 0;
}
