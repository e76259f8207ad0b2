// train.c: `trit train CONFIG.json`: train a BitNet b1.58 model from scratch, or resume a run.
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/loop.h"
#include "train/run_config.h"

static const char *usage =
    "usage: trit train CONFIG.json [--out DIR] [--resume CKPT] [--stop-after STEP] [--threads N] [--quiet]\n"
    "\n"
    "Trains a BitNet b1.58 model from scratch as the run config says (model, data, batch, schedule, ...;\n"
    "every key is described in docs/training.md), or resumes a run bit-exactly. The run folder gets\n"
    "ckpt_STEP.h5 checkpoints and latest.h5 (HDF5: weights, AdamW moments, step, RNG and loader state,\n"
    "configs, tokenizer), metrics.jsonl (one line per step, val_loss on evaluation steps) and loss.svg.\n"
    "  --out DIR       run folder (instead of the config's out_dir)\n"
    "  --resume CKPT   continue from a checkpoint: a .h5 file, or a run folder (its latest.h5)\n"
    "  --stop-after STEP  write a checkpoint and stop after step STEP (continue later with --resume)\n"
    "  --threads N     OpenMP threads (instead of the config's threads; default: all cores)\n"
    "  --quiet         no progress line\n"
    "Ctrl-C stops after the current step and writes a checkpoint to resume from.\n";

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig) {
    stop_flag = 1;
    signal(sig, SIG_DFL);   // a second Ctrl-C ends the process at once
}

typedef struct {
    const char *config, *out, *resume;
    int threads, quiet;
    long long stop_after;
} train_args;

static int parse_args(train_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (a->config) return cli_usage_error("train", "one config file expected, got '%s' and '%s'", a->config, f);
            a->config = f;
            continue;
        }
        if (!strcmp(f, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("train", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--resume")) a->resume = v;
        else if (!strcmp(f, "--stop-after")) {
            a->stop_after = strtoll(v, &end, 10);
            if (*end || a->stop_after <= 0) return cli_usage_error("train", "--stop-after wants a step number >= 1, got '%s'", v);
        } else if (!strcmp(f, "--threads")) {
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 4096) return cli_usage_error("train", "--threads wants a positive integer, got '%s'", v);
            a->threads = (int)n;
        } else return cli_usage_error("train", "unknown flag '%s'", f);
    }
    if (!a->config) return cli_usage_error("train", "a run config (CONFIG.json) is required");
    return 0;
}

static void human(char *buf, size_t cap, double v) {
    if (v >= 1e9) snprintf(buf, cap, "%.2fG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, cap, "%.1fk", v / 1e3);
    else snprintf(buf, cap, "%.0f", v);
}

int cmd_train(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    train_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    tr_err err = {{0}};
    runcfg c;
    if (runcfg_load(&c, a.config, a.out, &err)) return cli_error("train", "%s", err.msg);
    int threads = a.threads ? a.threads : c.threads;
    if (threads) omp_set_num_threads(threads);
    train_opts o = {.resume = a.resume, .quiet = a.quiet, .stop = &stop_flag, .stop_after = a.stop_after};
    train_result r;
    signal(SIGINT, on_sigint);
    rc = train_run(&c, &o, &r, &err);
    signal(SIGINT, SIG_DFL);
    if (rc) {
        runcfg_free(&c);
        return cli_error("train", "%s", err.msg);
    }
    char tokens[32];
    human(tokens, sizeof(tokens), (double)(r.step - r.first_step) * c.batch_size * c.seq_len * c.grad_accum);
    printf("%s steps %lld..%lld (%s tokens) in %.1f s on %d threads: %.0f tokens/s; loss %.4f",
           r.stopped ? "stopped after" : "trained", (long long)r.first_step + 1, (long long)r.step, tokens, r.seconds,
           omp_get_max_threads(), r.tokens_per_s, r.loss);
    if (r.has_val) printf(", val_loss %.4f", r.val_loss);
    putchar('\n');
    printf("checkpoint %s (%s/latest.h5), metrics %s/metrics.jsonl, plot %s/loss.svg\n", r.ckpt, c.out_dir, c.out_dir,
           c.out_dir);
    if (r.stopped)
        printf("resume with: trit train %s --resume %s%s%s\n", a.config, c.out_dir, a.out ? " --out " : "", a.out ? a.out : "");
    runcfg_free(&c);
    return 0;
}
