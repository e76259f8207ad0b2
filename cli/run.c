// run.c: `trit run MODEL.gguf`: generate text with the inference engine (kernels/engine.h), streaming;
// `trit bench-run MODEL.gguf`: prefill and decode speed, like llama-bench. The chat mode is in cli/chat.c.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "common/rng.h"
#include "kernels/vmath.h"

static const char *usage =
    "usage: trit run MODEL.gguf [-p TEXT] [-n N] [--temp T] [--top-k K] [--top-p P] [--repeat-penalty R]\n"
    "                [--repeat-last-n N] [--seed S] [--threads N] [--ctx N] [--chat [--system TEXT]]\n"
    "                [--chat-template bitnet|llama3|plain] [--tokenizer FILE] [--prompt-ids IDS] [--ids]\n"
    "                [--show-prompt] [-q]\n"
    "                [--lora ADAPTER.gguf]\n"
    "\n"
    "Runs a BitNet b1.58 GGUF (llama.cpp's \"bitnet\", bitnet.cpp's \"bitnet-b1.58\" / \"bitnet-25\"; linears\n"
    "I2_S, TQ2_0, TQ1_0 or ternary F16/F32/BF16) on trit's ternary kernels. The prompt is echoed, then the\n"
    "continuation is streamed to stdout; generation stops at end-of-text / end-of-turn or after N tokens.\n"
    "Prompts start with BOS when the file's tokenizer.ggml.add_bos_token says so.\n"
    "  -p, --prompt TEXT      text to continue (default: none: BOS, or end-of-text)\n"
    "  -n N                   tokens to generate (default 256)\n"
    "  --temp T               temperature (default 0.8); 0 = greedy\n"
    "  --top-k K              keep the K most likely tokens (default 40; 0 = all)\n"
    "  --top-p P              then the most likely ones whose probability reaches P (default 0.95; 1 = all)\n"
    "  --repeat-penalty R     divide (multiply, if negative) the logits of recent tokens by R (default 1 = off)\n"
    "  --repeat-last-n N      how many recent tokens the penalty looks at (default 64)\n"
    "  --seed S               sampling seed (default 1234); the same seed gives the same text\n"
    "  --threads N            OpenMP threads (default: all cores)\n"
    "  --ctx N                context size in tokens (default: the model's context_length, at most 4096)\n"
    "  --chat                 a conversation: each line of stdin is a user turn, formatted with the model's\n"
    "                         chat template (tokenizer.chat_template: the BitNet 2B-4T \"User: ...<|eot_id|>\n"
    "                         Assistant: \" style or Llama 3 headers; otherwise plain \"User:\" / \"Assistant:\"\n"
    "                         lines); the KV cache is kept across turns. -p gives the first turn.\n"
    "  --system TEXT          with --chat: a system message\n"
    "  --chat-template NAME   with --chat: bitnet, llama3 or plain instead of recognizing the file's template\n"
    "  --tokenizer FILE       a tokenizer.json instead of the file's (\"llama3\": the one `make deps` installs)\n"
    "  --prompt-ids IDS       the prompt as comma-separated token ids (used as given: no BOS added)\n"
    "  --ids                  print the generated token ids instead of text\n"
    "  --show-prompt          print the tokens that run as the prompt (each chat turn) on stderr, as text\n"
    "  -q, --quiet            no statistics line on stderr\n"
    "  --lora ADAPTER.gguf    reserved for LoRA adapters (not supported yet)\n";

static const char *bench_usage =
    "usage: trit bench-run MODEL.gguf [--prompt-tokens P] [--gen-tokens G] [--threads T] [--reps R]\n"
    "\n"
    "Measures the engine like llama-bench: a prefill of P random tokens, then G greedy decode steps, R times\n"
    "(after a warm-up), and prints one JSON line with the medians: prefill_tokens_per_s, decode_tokens_per_s,\n"
    "peak_rss_mb, load_s, the bytes of weights one decoded token reads (decode_bytes_per_token), the speed\n"
    "at which this process streams those same bytes with T threads just before and after each repetition\n"
    "(read_gb_per_s: the bandwidth bound), and decode_of_bandwidth = bytes per token * decode tokens/s /\n"
    "read_gb_per_s of the same repetition. decode_kv_bytes_per_token: the cached keys and values a decoded\n"
    "token reads on average besides the weights (not in the bound).\n"
    "  --prompt-tokens P      default 128\n"
    "  --gen-tokens G         default 128\n"
    "  --threads T            OpenMP threads (default: all cores)\n"
    "  --reps R               repetitions (default 3)\n";

double run_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_long(const char *v, long lo, long hi, long *out) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (!v[0] || *end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

static int parse_float(const char *v, float lo, float hi, float *out) {
    char *end = NULL;
    float x = strtof(v, &end);
    if (!v[0] || *end || !(x >= lo && x <= hi)) return -1;
    *out = x;
    return 0;
}

static int parse_args(run_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    a->n = 256;
    a->sp = samp_defaults();
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (a->model) return cli_usage_error("run", "one model expected, got '%s' and '%s'", a->model, f);
            a->model = f;
            continue;
        }
        if (!strcmp(f, "--chat")) a->chat = 1;
        else if (!strcmp(f, "--ids")) a->print_ids = 1;
        else if (!strcmp(f, "--show-prompt")) a->show_prompt = 1;
        else if (!strcmp(f, "-q") || !strcmp(f, "--quiet")) a->quiet = 1;
        else {
            if (i + 1 >= argc) return cli_usage_error("run", "flag %s needs a value", f);
            const char *v = argv[++i];
            long x;
            float y;
            if (!strcmp(f, "-p") || !strcmp(f, "--prompt")) a->prompt = v;
            else if (!strcmp(f, "--prompt-ids")) a->prompt_ids = v;
            else if (!strcmp(f, "--tokenizer")) a->tokenizer = v;
            else if (!strcmp(f, "--system")) a->system = v;
            else if (!strcmp(f, "--chat-template")) {
                if (strcmp(v, "bitnet") && strcmp(v, "llama3") && strcmp(v, "plain"))
                    return cli_usage_error("run", "--chat-template wants bitnet, llama3 or plain, got '%s'", v);
                a->chat_template = v;
            } else if (!strcmp(f, "--lora")) a->lora = v;
            else if (!strcmp(f, "-n")) {
                if (parse_long(v, 0, 1 << 30, &x)) return cli_usage_error("run", "-n wants a token count >= 0, got '%s'", v);
                a->n = (int)x;
            } else if (!strcmp(f, "--ctx")) {
                if (parse_long(v, 1, 1 << 24, &x)) return cli_usage_error("run", "--ctx wants a positive token count, got '%s'", v);
                a->ctx = (int)x;
            } else if (!strcmp(f, "--threads")) {
                if (parse_long(v, 1, 4096, &x)) return cli_usage_error("run", "--threads wants a positive integer, got '%s'", v);
                a->threads = (int)x;
            } else if (!strcmp(f, "--temp")) {
                if (parse_float(v, 0, 1e6f, &y)) return cli_usage_error("run", "--temp wants a number >= 0, got '%s'", v);
                a->sp.temp = y;
            } else if (!strcmp(f, "--top-k")) {
                if (parse_long(v, 0, 1 << 30, &x)) return cli_usage_error("run", "--top-k wants an integer >= 0, got '%s'", v);
                a->sp.top_k = (int)x;
            } else if (!strcmp(f, "--top-p")) {
                if (parse_float(v, 1e-9f, 1, &y)) return cli_usage_error("run", "--top-p wants a number in (0, 1], got '%s'", v);
                a->sp.top_p = y;
            } else if (!strcmp(f, "--repeat-penalty")) {
                if (parse_float(v, 1e-6f, 1e6f, &y)) return cli_usage_error("run", "--repeat-penalty wants a positive number, got '%s'", v);
                a->sp.repeat_penalty = y;
            } else if (!strcmp(f, "--repeat-last-n")) {
                if (parse_long(v, 0, 1 << 20, &x)) return cli_usage_error("run", "--repeat-last-n wants an integer >= 0, got '%s'", v);
                a->sp.repeat_last_n = (int)x;
            } else if (!strcmp(f, "--seed")) {
                char *end = NULL;
                a->sp.seed = strtoull(v, &end, 10);
                if (!v[0] || *end || v[0] == '-') return cli_usage_error("run", "--seed wants an integer >= 0, got '%s'", v);
            } else return cli_usage_error("run", "unknown flag '%s'", f);
        }
    }
    if (!a->model) return cli_usage_error("run", "a model (MODEL.gguf) is required");
    if (a->lora) return cli_usage_error("run", "--lora %s: LoRA adapters are not supported yet", a->lora);
    if (a->prompt && a->prompt_ids) return cli_usage_error("run", "give -p or --prompt-ids, not both");
    if ((a->system || a->chat_template) && !a->chat) return cli_usage_error("run", "--system and --chat-template need --chat");
    if (a->chat && (a->prompt_ids || a->print_ids)) return cli_usage_error("run", "--chat works with text: no --prompt-ids or --ids");
    return 0;
}

// ---- the session ----

static void add_stop(run_session *r, int id) {
    for (int i = 0; i < r->n_stop; i++)
        if (r->stop[i] == id) return;
    if (id >= 0 && id < r->m.hp.n_vocab && r->n_stop < 8) r->stop[r->n_stop++] = id;
}

static int session_open(run_session *r, const run_args *a, tr_err *err) {
    memset(r, 0, sizeof(*r));
    r->a = a;
    if (gguf_open(&r->g, a->model, err) || eng_model_load(&r->m, r->g, err)) return -1;
    const eng_hparams *hp = &r->m.hp;
    if (a->tokenizer) {
        char path[4096];
        if (tok_path(path, sizeof(path), a->tokenizer, err) || tok_load(&r->tok, path, err)) return -1;
    } else if (gguf_find(r->g, "tokenizer.ggml.model")) {
        if (tok_load_gguf(&r->tok, r->g, err)) return -1;
    } else if (!(a->prompt_ids && a->print_ids))
        return tr_fail(err, "%s: holds no tokenizer (tokenizer.ggml.* keys); pass --tokenizer FILE, or --prompt-ids with --ids", a->model);
    if (r->tok && tok_vocab_size(r->tok) > hp->n_vocab)
        return tr_fail(err, "%s: the tokenizer has %d ids but the model's vocabulary has %d", a->tokenizer ? a->tokenizer : a->model,
                       tok_vocab_size(r->tok), hp->n_vocab);
    if (gguf_find(r->g, "tokenizer.ggml.add_bos_token") && gguf_get_bool(r->g, "tokenizer.ggml.add_bos_token", &r->add_bos, err)) return -1;
    uint32_t id;
    const char *keys[2] = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"};
    for (int k = 0; k < 2; k++)
        if (gguf_find(r->g, keys[k])) {
            if (gguf_get_u32(r->g, keys[k], &id, err)) return -1;
            add_stop(r, (int)id);
        }
    if (r->tok) {
        add_stop(r, tok_eos(r->tok));
        add_stop(r, tok_find(r->tok, "<|eot_id|>"));
        add_stop(r, tok_find(r->tok, "<|end_of_text|>"));
    }
    int n_ctx = a->ctx ? a->ctx : hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (n_ctx > hp->n_ctx_train)
        return tr_fail(err, "%s: --ctx %d is more than the model's context_length %d", a->model, n_ctx, hp->n_ctx_train);
    eng_ctx_init(&r->c, &r->m, n_ctx, 512);
    samp_init(&r->s, &a->sp, hp->n_vocab);
    r->logits = tr_malloc(sizeof(float) * (size_t)hp->n_vocab);
    return 0;
}

static void session_close(run_session *r) {
    free(r->logits);
    tok_ids_free(&r->hist);
    samp_free(&r->s);
    eng_ctx_free(&r->c);
    tok_free(r->tok);
    eng_model_free(&r->m);
    gguf_close(r->g);
}

int run_feed(run_session *r, const int32_t *ids, int n, tr_err *err) {
    if (eng_forward(&r->c, ids, n, r->logits, 0, err)) return -1;
    for (int i = 0; i < n; i++) {
        samp_accept(&r->s, ids[i]);
        tok_ids_push(&r->hist, ids[i]);
    }
    return 0;
}

// A full context: keep the BOS (when prompts start with one) and the newer half of the other tokens, and
// run them again from position 0.
static int shift_context(run_session *r, tr_err *err) {
    int n_keep = r->add_bos && r->hist.n && r->hist.ids[0] == tok_bos(r->tok) ? 1 : 0;
    size_t tail = (size_t)(r->c.n_ctx - n_keep) / 2;
    memmove(r->hist.ids + n_keep, r->hist.ids + r->hist.n - tail, tail * sizeof(int32_t));
    r->hist.n = (size_t)n_keep + tail;
    eng_truncate(&r->c, 0);
    return eng_forward(&r->c, r->hist.ids, (int)r->hist.n, r->logits, 0, err);
}

void run_show(const run_session *r, const int32_t *ids, size_t n) {
    if (!r->a->show_prompt) return;
    fprintf(stderr, "trit run: prompt: %zu tokens: ", n);
    if (!r->tok) {
        for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
    } else {
        char *text = NULL;
        size_t cap = 0, len = tok_decode(r->tok, ids, n, &text, &cap);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)text[i];
            if (ch == '\n') fputs("\\n", stderr);
            else if (ch == '\\') fputs("\\\\", stderr);
            else if (ch < 0x20 || ch == 0x7f) fprintf(stderr, "\\x%02x", ch);
            else fputc(ch, stderr);
        }
        free(text);
    }
    fputc('\n', stderr);
}

// Bytes at the end of p that start a UTF-8 character not yet complete (0 when the text ends whole).
static size_t incomplete_tail(const unsigned char *p, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = p[n - back];
        if ((c & 0xC0) == 0x80) continue;   // a continuation byte: look further back
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;   // stray continuation bytes: write them as they are
}

static void emit_token(run_session *r, int32_t id) {
    if (r->a->print_ids) {
        printf("%s%d", r->n_gen ? " " : "", id);
        fflush(stdout);
        return;
    }
    char buf[256];
    size_t n = tok_token_bytes(r->tok, id, buf, sizeof(buf));
    n = n < sizeof(buf) ? n : sizeof(buf);
    for (size_t i = 0; i < n; i++) {
        if (r->n_pending == sizeof(r->pending)) run_flush(r);
        r->pending[r->n_pending++] = buf[i];
    }
    size_t keep = incomplete_tail((const unsigned char *)r->pending, r->n_pending);
    fwrite(r->pending, 1, r->n_pending - keep, stdout);
    memmove(r->pending, r->pending + r->n_pending - keep, keep);
    r->n_pending = keep;
    fflush(stdout);
}

void run_flush(run_session *r) {
    fwrite(r->pending, 1, r->n_pending, stdout);
    r->n_pending = 0;
    fflush(stdout);
}

int run_generate(run_session *r, int max_new, int32_t *stop_tok, int *full, tr_err *err) {
    *stop_tok = -1;
    *full = 0;
    int n = 0;
    while (n < max_new) {
        int32_t id = samp_next(&r->s, r->logits);
        for (int i = 0; i < r->n_stop; i++)
            if (id == r->stop[i]) *stop_tok = id;
        if (*stop_tok >= 0) break;
        emit_token(r, id);
        r->n_gen++, n++;
        if (n == max_new) break;
        if (r->c.n_past >= r->c.n_ctx) {
            if (r->a->chat) {
                *full = 1;
                break;
            }
            if (shift_context(r, err)) return -1;
        }
        double t0 = run_now();
        if (run_feed(r, &id, 1, err)) return -1;
        r->t_decode += run_now() - t0, r->n_decode++;
    }
    return n;
}

// The prompt's token ids: --prompt-ids as given, or BOS (when the file asks) + the encoded text.
static int prompt_ids(tok_ids *ids, const run_session *r, tr_err *err) {
    const run_args *a = r->a;
    if (a->prompt_ids) {
        for (const char *p = a->prompt_ids; *p;) {
            char *end = NULL;
            long v = strtol(p, &end, 10);
            if (end == p || v < 0 || v >= r->m.hp.n_vocab || (*end && *end != ','))
                return tr_fail(err, "--prompt-ids: '%s' is not a list of token ids below %d", a->prompt_ids, r->m.hp.n_vocab);
            tok_ids_push(ids, (int32_t)v);
            p = *end ? end + 1 : end;
        }
    } else {
        if (r->add_bos && tok_bos(r->tok) >= 0) tok_ids_push(ids, tok_bos(r->tok));
        if (a->prompt) tok_encode(r->tok, a->prompt, strlen(a->prompt), ids);
    }
    if (ids->n == 0) {   // nothing to condition on: start from BOS, or end-of-text
        int start = r->tok && tok_bos(r->tok) >= 0 ? tok_bos(r->tok) : r->n_stop ? r->stop[0] : -1;
        if (start < 0) return tr_fail(err, "%s: an empty prompt needs a BOS or end-of-text token", a->model);
        tok_ids_push(ids, start);
    }
    return 0;
}

static int run(const run_args *a, tr_err *err) {
    run_session r;
    tok_ids ids = {0};
    int rc = session_open(&r, a, err);
    if (!rc && a->chat) rc = run_chat(&r, err);
    else if (!rc) rc = prompt_ids(&ids, &r, err);
    if (!rc && !a->chat) {
        run_show(&r, ids.ids, ids.n);
        if (a->prompt && !a->print_ids) fputs(a->prompt, stdout);
        fflush(stdout);
        double t0 = run_now();
        rc = run_feed(&r, ids.ids, (int)ids.n, err);
        r.t_prompt = run_now() - t0, r.n_prompt = (int)ids.n;
        int32_t stop;
        int full;
        if (!rc) rc = run_generate(&r, a->n, &stop, &full, err) < 0 ? -1 : 0;
        run_flush(&r);
        putchar('\n');
        fflush(stdout);
        if (!rc && full) fprintf(stderr, "trit run: stopped: the context of %d tokens is full (--ctx)\n", r.c.n_ctx);
    }
    if (!rc && !a->quiet)
        fprintf(stderr, "trit run: %s: loaded in %.2f s; prompt %d tokens at %.1f tokens/s; generated %d tokens at %.1f tokens/s\n", a->model,
                r.m.load_s, r.n_prompt, r.t_prompt > 0 ? r.n_prompt / r.t_prompt : 0, r.n_gen, r.t_decode > 0 ? r.n_decode / r.t_decode : 0);
    tok_ids_free(&ids);
    session_close(&r);
    return rc;
}

int cmd_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    run_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    if (a.threads) omp_set_num_threads(a.threads);
    tr_err err = {{0}};
    if (run(&a, &err)) return cli_error("run", "%s", err.msg);
    return 0;
}

// ---- bench-run ----

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static int bench(const char *path, int P, int G, int reps, int threads, tr_err *err) {
    gguf_file *g = NULL;
    eng_model m;
    if (gguf_open(&g, path, err) || eng_model_load(&m, g, err)) {
        gguf_close(g);
        return -1;
    }
    int V = m.hp.n_vocab, rc = 0;
    if (P + G > m.hp.n_ctx_train) fprintf(stderr, "trit bench-run: note: %d tokens exceed the model's context_length %d\n", P + G, m.hp.n_ctx_train);
    eng_ctx c;
    eng_ctx_init(&c, &m, P + G, P);
    int32_t *ids = tr_malloc(sizeof(int32_t) * (size_t)P);
    float *logits = tr_malloc(sizeof(float) * (size_t)V);
    rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < P; i++) ids[i] = (int32_t)rng_below(&r, (uint64_t)V);
    double *tp = tr_malloc(sizeof(double) * (size_t)reps), *td = tr_malloc(sizeof(double) * (size_t)reps);
    double *bw = tr_malloc(sizeof(double) * (size_t)reps), *eff = tr_malloc(sizeof(double) * (size_t)reps);
    double bytes = (double)eng_decode_bytes(&m), rss_mb = 0;
    // the f32 keys and values a decoded token reads besides the weights, on average over positions P+1 .. P+G
    double kv_bytes = 2.0 * sizeof(float) * m.hp.n_layers * m.hp.n_kv_heads * m.hp.head_dim * (P + (G + 1) / 2.0);
    for (int rep = -1; rep < reps && !rc; rep++) {   // rep -1: warm-up (page faults, caches)
        // the bandwidth bound, read just before and after each repetition: on shared machines it moves
        double bw0 = rep >= 0 ? eng_read_bandwidth(&m, 1) : 0;
        eng_truncate(&c, 0);
        double t0 = run_now();
        rc = eng_forward(&c, ids, rep < 0 ? (P < 16 ? P : 16) : P, logits, 0, err);
        double t1 = run_now();
        for (int i = 0; i < (rep < 0 ? 2 : G) && !rc; i++) {
            int32_t best = km_argmax(logits, V);
            rc = eng_forward(&c, &best, 1, logits, 0, err);
        }
        double t2 = run_now();
        if (rep < 0) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            rss_mb = ru.ru_maxrss / 1024.0;
            continue;
        }
        tp[rep] = P / (t1 - t0), td[rep] = G / (t2 - t1);
        bw[rep] = (bw0 + eng_read_bandwidth(&m, 1)) / 2;
        eff[rep] = bytes * td[rep] * 1e-9 / bw[rep];
    }
    if (!rc) {
        double *v[4] = {tp, td, bw, eff};
        for (int i = 0; i < 4; i++) qsort(v[i], (size_t)reps, sizeof(double), cmp_double);
        double dec = td[reps / 2], dec_gbs = bytes * dec * 1e-9;
        const char *slash = strrchr(path, '/');
        printf("{\"bench\": \"run\", \"impl\": \"trit\", \"model\": \"%s\", \"linears\": \"%s\", \"head\": \"%s\", \"isa\": \"%s\", \"threads\": %d, "
               "\"prompt_tokens\": %d, \"gen_tokens\": %d, \"reps\": %d, \"load_s\": %.2f, \"prefill_tokens_per_s\": %.2f, "
               "\"decode_tokens_per_s\": %.2f, \"peak_rss_mb\": %.0f, \"decode_bytes_per_token\": %.0f, \"decode_kv_bytes_per_token\": %.0f, "
               "\"decode_gb_per_s\": %.2f, "
               "\"read_gb_per_s\": %.2f, \"decode_of_bandwidth\": %.3f}\n",
               slash ? slash + 1 : path, gguf_type_name(m.linear_type), gguf_type_name(m.head->type), tk_isa_name(m.isa), threads, P, G, reps,
               m.load_s, tp[reps / 2], dec, rss_mb, bytes, kv_bytes, dec_gbs, bw[reps / 2], eff[reps / 2]);
    }
    free(tp), free(td), free(bw), free(eff), free(ids), free(logits);
    eng_ctx_free(&c);
    eng_model_free(&m);
    gguf_close(g);
    return rc;
}

int cmd_bench_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(bench_usage, stdout);
        return 0;
    }
    const char *model = NULL;
    long P = 128, G = 128, T = 0, R = 3;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (model) return cli_usage_error("bench-run", "one model expected, got '%s' and '%s'", model, f);
            model = f;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("bench-run", "flag %s needs a value", f);
        const char *v = argv[++i];
        long *dst = !strcmp(f, "--prompt-tokens") ? &P : !strcmp(f, "--gen-tokens") ? &G : !strcmp(f, "--threads") ? &T : !strcmp(f, "--reps") ? &R : NULL;
        if (!dst) return cli_usage_error("bench-run", "unknown flag '%s'", f);
        if (parse_long(v, dst == &T || dst == &R || dst == &P ? 1 : 0, 1 << 20, dst))
            return cli_usage_error("bench-run", "%s wants a %s integer, got '%s'", f, dst == &G ? "non-negative" : "positive", v);
    }
    if (!model) return cli_usage_error("bench-run", "a model (MODEL.gguf) is required");
    if (T) omp_set_num_threads((int)T);
    tr_err err = {{0}};
    if (bench(model, (int)P, (int)G, (int)R, omp_get_max_threads(), &err)) return cli_error("bench-run", "%s", err.msg);
    return 0;
}
