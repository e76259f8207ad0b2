// loop.c: the training loop: setup (data, tokenizer, model, optimizer, resume), steps, evaluation, output.
#include "train/loop.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autograd/ag.h"
#include "common/progress.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "model/bitnet.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/plot.h"

typedef struct {
    const runcfg *c;
    const train_opts *o;
    dl_loader *train, *val;
    bn_model m;
    opt_adamw opt;
    ckpt_state st;
    char *tok_json;            // tokenizer.json text stored in checkpoints, or NULL
    ag_ctx ctx;
    int32_t *in, *tg;          // (B, T) one batch
    FILE *metrics;
    char metrics_path[4200];
    progress prog;
} trainer;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *read_file(const char *path, tr_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = tr_malloc(cap);
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) + 1 == cap) buf = tr_realloc(buf, cap *= 2);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        tr_fail(err, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

// Each split must hold a window of T+1 tokens, with ids inside the model's vocabulary.
static int check_split(const dl_loader *l, const char *split, const runcfg *c, tr_err *err) {
    size_t n = dl_num_tokens(l);
    if (n < (size_t)c->seq_len + 1)
        return tr_fail(err, "%s: the %s split has %zu tokens; seq_len %d needs at least %d", c->data, split, n, c->seq_len,
                       c->seq_len + 1);
    int mx = dl_max_token(l);
    if (mx >= c->model.vocab_size)
        return tr_fail(err, "%s: token id %d in the %s split is outside the model's vocabulary (vocab_size %d in %s)",
                       c->data, mx, split, c->model.vocab_size, c->model_src);
    return 0;
}

static int load_tokenizer(trainer *t, tr_err *err) {
    const runcfg *c = t->c;
    if (!c->tokenizer) return 0;
    tok_tokenizer *tok = NULL;
    char path[4096];
    if (tok_path(path, sizeof(path), c->tokenizer, err) || tok_load(&tok, path, err)) return -1;
    int v = tok_vocab_size(tok);
    tok_free(tok);
    if (v > c->model.vocab_size)
        return tr_fail(err, "%s: the tokenizer has %d ids but the model's vocab_size is %d (%s)", path, v,
                       c->model.vocab_size, c->model_src);
    free(t->tok_json);
    t->tok_json = read_file(path, err);
    return t->tok_json ? 0 : -1;
}

// The checkpoint's model must be the run config's model.
static int same_model(const bn_config *a, const bn_config *b, const char *ckpt, const char *src, tr_err *err) {
#define SAME(f, key)                                                                                                \
    if (a->f != b->f) return tr_fail(err, "%s: the checkpoint's %s is %g but %s says %g", ckpt, key, (double)a->f, src, (double)b->f)
    SAME(vocab_size, "vocab_size");
    SAME(hidden_size, "hidden_size");
    SAME(intermediate_size, "intermediate_size");
    SAME(n_layers, "num_hidden_layers");
    SAME(n_heads, "num_attention_heads");
    SAME(n_kv_heads, "num_key_value_heads");
    SAME(head_dim, "head_dim");
    SAME(max_pos, "max_position_embeddings");
    SAME(act, "hidden_act");
    SAME(tie_embeddings, "tie_word_embeddings");
    SAME(rope_theta, "rope_theta");
    SAME(rms_norm_eps, "rms_norm_eps");
#undef SAME
    return 0;
}

static int mkdir_p(const char *dir, tr_err *err) {
    char buf[4200];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char ch = *p;
            *p = '\0';
            if (mkdir(buf, 0777) && errno != EEXIST) return tr_fail(err, "%s: cannot create folder: %s", buf, strerror(errno));
            if (!ch) break;
            *p = ch;
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return tr_fail(err, "%s: not a folder", dir);
    return 0;
}

static int setup_model(trainer *t, tr_err *err) {
    const runcfg *c = t->c;
    opt_segment *segs = NULL;
    if (t->o->resume) {
        char *path = ckpt_resolve(t->o->resume), *tok = NULL;
        int rc = ckpt_read(path, &t->m, &t->st, &tok, err) || same_model(&t->m.cfg, &c->model, path, c->model_src, err);
        if (!rc && t->st.step >= c->steps)
            rc = tr_fail(err, "%s: already at step %lld, and %s asks for %lld steps", path, (long long)t->st.step, c->path,
                         (long long)c->steps);
        if (!rc) {
            int n = opt_model_segments(&segs, &t->m, c->decay_norms, c->decay_embeddings);
            opt_init(&t->opt, t->m.n_floats, segs, n, c->beta1, c->beta2, c->eps);
            rc = ckpt_read_optim(path, &t->opt, &t->m, err);
        }
        if (!rc && !t->tok_json) t->tok_json = tok, tok = NULL;   // keep the checkpoint's tokenizer
        free(tok);
        free(path);
        free(segs);
        return rc ? -1 : 0;
    }
    bn_model_init(&t->m, &c->model, 1);
    rng_seed(&t->st.rng, c->seed);
    uint64_t init_seed = rng_u64(&t->st.rng);
    t->st.data_seed = rng_u64(&t->st.rng);
    bn_model_init_weights(&t->m, init_seed, (float)c->init_std);
    int n = opt_model_segments(&segs, &t->m, c->decay_norms, c->decay_embeddings);
    opt_init(&t->opt, t->m.n_floats, segs, n, c->beta1, c->beta2, c->eps);
    free(segs);
    return 0;
}

static int setup(trainer *t, tr_err *err) {
    const runcfg *c = t->c;
    if (dl_open(&t->train, c->data, "train", err) || check_split(t->train, "train", c, err) ||
        dl_open(&t->val, c->data, "val", err) || check_split(t->val, "val", c, err) || load_tokenizer(t, err))
        return -1;
    char latest[4200];
    snprintf(latest, sizeof(latest), "%s/latest.h5", c->out_dir);
    if (!t->o->resume && access(latest, F_OK) == 0)
        return tr_fail(err, "%s: the folder already holds a run; resume it with --resume %s or choose another --out",
                       latest, c->out_dir);
    if (setup_model(t, err) || mkdir_p(c->out_dir, err)) return -1;
    snprintf(t->metrics_path, sizeof(t->metrics_path), "%s/metrics.jsonl", c->out_dir);
    if (metrics_open(&t->metrics, t->metrics_path, t->o->resume ? t->st.step : -1, err)) return -1;
    ag_init(&t->ctx, 1 << 20);
    size_t bt = (size_t)c->batch_size * c->seq_len;
    t->in = tr_malloc(sizeof(int32_t) * bt);
    t->tg = tr_malloc(sizeof(int32_t) * bt);
    progress_init(&t->prog, t->o->quiet);
    return 0;
}

static void teardown(trainer *t) {
    dl_close(t->train);
    dl_close(t->val);
    bn_model_free(&t->m);
    opt_free(&t->opt);
    free(t->tok_json);
    ag_free(&t->ctx);
    free(t->in);
    free(t->tg);
    if (t->metrics) fclose(t->metrics);
}

// Mean cross-entropy of rows B x T of t->in / t->tg (forward only when the context has grad disabled).
static ag_tensor *forward_loss(trainer *t, int B) {
    int T = t->c->seq_len, V = t->m.cfg.vocab_size, s2[2] = {B * T, V};
    ag_reset(&t->ctx);
    ag_tensor *logits = bn_forward(&t->ctx, &t->m, NULL, (const int *)t->in, B, T);
    return ag_cross_entropy(&t->ctx, ag_view(&t->ctx, logits, 2, s2), (const int *)t->tg, -100);
}

static double evaluate(trainer *t) {
    const runcfg *c = t->c;
    int B = c->batch_size, T = c->seq_len;
    size_t nw = dl_num_windows(t->val, T), rows = 0;
    double sum = 0;
    t->ctx.grad_enabled = 0;
    if (nw <= (size_t)c->eval_batches * B) {   // the whole split, in order
        for (size_t w = 0; w < nw; w += (size_t)B) {
            int nb = nw - w < (size_t)B ? (int)(nw - w) : B;
            for (int b = 0; b < nb; b++) dl_window(t->val, w + b, T, t->in + (size_t)b * T, t->tg + (size_t)b * T);
            sum += (double)forward_loss(t, nb)->data[0] * nb;
            rows += (size_t)nb;
        }
    } else {                                   // eval_batches random batches
        uint64_t seed = rng_u64(&t->st.rng);
        for (int k = 0; k < c->eval_batches; k++) {
            dl_batch(t->val, seed, (uint64_t)k, 0, B, T, t->in, t->tg);
            sum += (double)forward_loss(t, B)->data[0] * B;
            rows += (size_t)B;
        }
    }
    t->ctx.grad_enabled = 1;
    return sum / (double)rows;
}

// One optimizer step; returns the mean training loss over the micro-batches.
static double train_step(trainer *t, double *grad_norm, double *lr) {
    const runcfg *c = t->c;
    int B = c->batch_size, T = c->seq_len;
    const float seed_grad = 1.0f / (float)c->grad_accum;
    double loss = 0;
    bn_model_zero_grad(&t->m);
    for (int a = 0; a < c->grad_accum; a++) {
        dl_batch(t->train, t->st.data_seed, t->st.data_step++, 0, B, T, t->in, t->tg);
        ag_tensor *l = forward_loss(t, B);
        ag_backward_seed(&t->ctx, l, &seed_grad);
        loss += l->data[0];
    }
    *grad_norm = opt_grad_norm(bn_model_grad_ready(&t->m), t->m.n_floats);
    *lr = sched_lr(&c->sched, t->st.step);
    opt_step(&t->opt, t->m.data, t->m.grad, opt_clip_scale(*grad_norm, c->clip), *lr, sched_wd(&c->sched, t->st.step));
    t->st.step++;
    t->st.tokens += (uint64_t)B * T * c->grad_accum;
    return loss / c->grad_accum;
}

static void fmt_duration(char *buf, size_t cap, double s) {
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, cap, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60) snprintf(buf, cap, "%ldm%02lds", v / 60, v % 60);
    else snprintf(buf, cap, "%lds", v);
}

static void progress_line(trainer *t, int final, double loss, double lr, double tps, double eta_s) {
    char eta[32];
    fmt_duration(eta, sizeof(eta), eta_s);
    const char *fmt = "step %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s  ETA %s";
    long long s = (long long)t->st.step, n = (long long)t->c->steps;
    if (final) progress_done(&t->prog, fmt, s, n, loss, lr, tps, eta);
    else progress_update(&t->prog, fmt, s, n, loss, lr, tps, eta);
}

static int save(trainer *t, train_result *res, tr_err *err) {
    const runcfg *c = t->c;
    if (ckpt_save_in(c->out_dir, c->keep_checkpoints, &t->m, &t->opt, &t->st, c->text, t->tok_json, res->ckpt,
                     sizeof(res->ckpt), err))
        return -1;
    return 0;
}

static int plot(const trainer *t, tr_err *err) {
    metrics_row *rows = NULL;
    int n = 0;
    if (metrics_read(t->metrics_path, &rows, &n, err)) return -1;
    char path[4200], title[512];
    const char *name = strrchr(t->c->path, '/');
    snprintf(path, sizeof(path), "%s/loss.svg", t->c->out_dir);
    int v = n - 1;
    while (v >= 0 && !rows[v].has_val) v--;
    if (v >= 0) snprintf(title, sizeof(title), "%s: loss (val %.4f at step %lld)", name ? name + 1 : t->c->path, rows[v].val_loss, (long long)rows[v].step);
    else snprintf(title, sizeof(title), "%s: loss", name ? name + 1 : t->c->path);
    int rc = plot_loss_svg(path, rows, n, title, err);
    free(rows);
    return rc;
}

static int run_loop(trainer *t, train_result *res, tr_err *err) {
    const runcfg *c = t->c;
    double t_start = now(), train_time = 0;
    uint64_t tok0 = t->st.tokens;
    res->first_step = t->st.step;
    while (t->st.step < c->steps) {
        double t0 = now(), gnorm, lr;
        double loss = train_step(t, &gnorm, &lr);
        double dt = now() - t0;
        train_time += dt;
        if (!isfinite(loss))
            return tr_fail(err, "%s: the training loss is %g at step %lld (lr %.3g): the run diverged", c->path, loss,
                           (long long)t->st.step, lr);
        metrics_row row = {.step = t->st.step, .loss = loss, .lr = lr, .grad_norm = gnorm,
                           .tokens_per_s = (double)c->batch_size * c->seq_len * c->grad_accum / dt};
        int last = t->st.step == c->steps;
        int stop = !last && ((t->o->stop && *t->o->stop) || (t->o->stop_after > 0 && t->st.step >= t->o->stop_after));
        double done = (double)(t->st.step - res->first_step), elapsed = now() - t_start;
        int eval = last || (c->eval_every && t->st.step % c->eval_every == 0);
        progress_line(t, eval || stop, loss, lr, (double)(t->st.tokens - tok0) / train_time,
                      elapsed / done * (double)(c->steps - t->st.step));
        if (eval) {
            row.val_loss = evaluate(t);
            row.has_val = 1;
            res->val_loss = row.val_loss;
            res->has_val = 1;
            if (!t->o->quiet) fprintf(stderr, "step %lld: val_loss %.4f\n", (long long)t->st.step, row.val_loss);
        }
        if (metrics_append(t->metrics, &row, t->metrics_path, err)) return -1;
        res->loss = loss;
        if (last || stop || (c->ckpt_every && t->st.step % c->ckpt_every == 0)) {
            if (save(t, res, err)) return -1;
        }
        if (stop) {
            res->stopped = 1;
            break;
        }
    }
    res->step = t->st.step;
    res->seconds = now() - t_start;
    res->tokens_per_s = train_time > 0 ? (double)(t->st.tokens - tok0) / train_time : 0;
    return plot(t, err);
}

int train_run(const runcfg *c, const train_opts *opts, train_result *res, tr_err *err) {
    trainer t;
    memset(&t, 0, sizeof(t));
    memset(res, 0, sizeof(*res));
    t.c = c;
    t.o = opts;
    int rc = setup(&t, err);
    if (!rc) rc = run_loop(&t, res, err);
    if (rc) progress_clear(&t.prog);   // the error line must not share a line with the progress
    teardown(&t);
    return rc;
}
