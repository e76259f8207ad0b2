// run_config.c: reading and validating `trit train` run configs.
#include "train/run_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

static const char *const known_keys[] = {
    "model", "data", "tokenizer", "out_dir", "batch_size", "seq_len", "grad_accum", "steps", "lr", "schedule",
    "warmup_steps", "min_lr", "lr_stage2", "stage2_start", "decay", "betas", "eps", "weight_decay", "decay_norms",
    "decay_embeddings", "clip", "init_std", "seed", "threads", "eval_every", "eval_batches", "ckpt_every",
    "keep_checkpoints"};

// Lexically cleans path in place: drops "." components and folds "name/.." ("configs/../build" -> "build").
static void clean_path(char *path) {
    char **parts = tr_malloc(sizeof(char *) * (strlen(path) / 2 + 2));   // at most one per 2 bytes
    int n = 0, abs = path[0] == '/';
    char *copy = tr_strdup(path), *save = NULL;
    for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (!strcmp(p, ".")) continue;
        if (!strcmp(p, "..") && n > 0 && strcmp(parts[n - 1], "..")) n--;
        else if (!(abs && n == 0 && !strcmp(p, ".."))) parts[n++] = p;
    }
    char *o = path;
    if (abs) *o++ = '/';
    for (int i = 0; i < n; i++) o += sprintf(o, "%s%s", i ? "/" : "", parts[i]);
    if (o == path) *o++ = '.';
    *o = '\0';
    free(copy);
    free(parts);
}

// rel resolved against the folder of the config file (absolute paths are kept), then cleaned.
static char *resolve(const char *config_path, const char *rel) {
    const char *slash = strrchr(config_path, '/');
    size_t dn = rel[0] == '/' || !slash ? 0 : (size_t)(slash - config_path) + 1, n = dn + strlen(rel) + 2;
    char *out = tr_malloc(n);
    snprintf(out, n, "%.*s%s", (int)dn, config_path, rel);
    clean_path(out);
    return out;
}

// An integer key in [lo, hi]; *out keeps its default when the key is absent and not required.
static int int_key(const cJSON *o, const char *key, int required, int lo, int hi, int *out, const char *path, tr_err *err) {
    if ((required ? json_get_int : json_opt_int)(o, key, out, path, err)) return -1;
    if (*out < lo || *out > hi) {
        if (hi == 2147483647) return tr_fail(err, "%s: key '%s' must be >= %d (got %d)", path, key, lo, *out);
        return tr_fail(err, "%s: key '%s' must be in [%d, %d] (got %d)", path, key, lo, hi, *out);
    }
    return 0;
}

// A number key > lo (lo_open) or >= lo, and < hi when hi is finite.
static int num_key(const cJSON *o, const char *key, int required, double lo, int lo_open, double hi, double *out,
                   const char *path, tr_err *err) {
    if ((required ? json_get_double : json_opt_double)(o, key, out, path, err)) return -1;
    int ok = (lo_open ? *out > lo : *out >= lo) && (isinf(hi) || *out < hi) && isfinite(*out);
    if (ok) return 0;
    if (isinf(hi)) return tr_fail(err, "%s: key '%s' must be %s %g (got %g)", path, key, lo_open ? ">" : ">=", lo, *out);
    return tr_fail(err, "%s: key '%s' must be in %s%g, %g) (got %g)", path, key, lo_open ? "(" : "[", lo, hi, *out);
}

static int check_keys(const cJSON *root, const char *path, tr_err *err) {
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (it->string[0] == '_') continue;   // comments
        int found = 0;
        for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]) && !found; i++) found = !strcmp(it->string, known_keys[i]);
        if (!found) return tr_fail(err, "%s: unknown key '%s' (the keys are listed in docs/training.md)", path, it->string);
    }
    return 0;
}

static int read_model(runcfg *c, const cJSON *root, const char *path, tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!v) return tr_fail(err, "%s: key 'model' is missing (a config.json path or an object of its keys)", path);
    if (cJSON_IsString(v)) {
        c->model_src = resolve(path, v->valuestring);
        return bn_config_load(&c->model, c->model_src, err);
    }
    if (!cJSON_IsObject(v)) return tr_fail(err, "%s: key 'model' must be a config.json path or an object", path);
    size_t n = strlen(path) + 16;
    c->model_src = tr_malloc(n);
    snprintf(c->model_src, n, "%s (model)", path);
    return bn_config_parse(&c->model, v, c->model_src, err);
}

static int read_path(char **out, const cJSON *root, const char *key, int required, const char *path, tr_err *err) {
    const char *s = NULL;
    if ((required ? json_get_string : json_opt_string)(root, key, &s, path, err)) return -1;
    if (s && !*s) return tr_fail(err, "%s: key '%s' is an empty path", path, key);
    if (s) *out = !strcmp(key, "tokenizer") && !strcmp(s, "llama3") ? tr_strdup(s) : resolve(path, s);
    return 0;
}

static int read_betas(runcfg *c, const cJSON *root, const char *path, tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "betas");
    c->beta1 = 0.9;
    c->beta2 = 0.95;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
        return tr_fail(err, "%s: key 'betas' must be an array of two numbers, e.g. [0.9, 0.95]", path);
    c->beta1 = cJSON_GetArrayItem(v, 0)->valuedouble;
    c->beta2 = cJSON_GetArrayItem(v, 1)->valuedouble;
    if (!(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1))
        return tr_fail(err, "%s: key 'betas' must hold two numbers in [0, 1) (got [%g, %g])", path, c->beta1, c->beta2);
    return 0;
}

static int read_schedule(runcfg *c, const cJSON *root, const char *path, tr_err *err) {
    sched *s = &c->sched;
    const char *type = "cosine", *shape = "linear";
    int warmup = 0;
    if (num_key(root, "lr", 1, 0, 1, INFINITY, &s->lr, path, err) || json_opt_string(root, "schedule", &type, path, err))
        return -1;
    if (sched_parse(type, &s->type))
        return tr_fail(err, "%s: key 'schedule' is '%s', expected constant, cosine, linear or bitnet", path, type);
    s->min_lr = 0.1 * s->lr;
    s->lr_stage2 = s->lr * 2.0 / 3.0;
    s->stage2_start = 0.5;
    s->weight_decay = 0.1;
    s->steps = c->steps;
    if (int_key(root, "warmup_steps", 0, 0, 2147483647, &warmup, path, err) ||
        num_key(root, "min_lr", 0, 0, 0, INFINITY, &s->min_lr, path, err) ||
        num_key(root, "weight_decay", 0, 0, 0, INFINITY, &s->weight_decay, path, err))
        return -1;
    s->warmup = warmup;
    if (warmup >= c->steps && s->type != SCHED_CONSTANT)
        return tr_fail(err, "%s: key 'warmup_steps' (%d) must be below 'steps' (%lld)", path, warmup, (long long)c->steps);
    static const char *const bitnet_only[] = {"lr_stage2", "stage2_start", "decay"};
    if (s->type != SCHED_BITNET) {
        for (int i = 0; i < 3; i++)
            if (cJSON_GetObjectItemCaseSensitive(root, bitnet_only[i]))
                return tr_fail(err, "%s: key '%s' only applies to schedule bitnet (schedule is %s)", path, bitnet_only[i], type);
        return 0;
    }
    if (num_key(root, "lr_stage2", 0, 0, 1, INFINITY, &s->lr_stage2, path, err) ||
        num_key(root, "stage2_start", 0, 0, 1, 1, &s->stage2_start, path, err) ||
        json_opt_string(root, "decay", &shape, path, err))
        return -1;
    if (strcmp(shape, "linear") && strcmp(shape, "cosine"))
        return tr_fail(err, "%s: key 'decay' is '%s', expected linear or cosine", path, shape);
    sched_parse(shape, &s->decay);
    if (sched_stage2(s) <= s->warmup)
        return tr_fail(err, "%s: stage 2 starts at step %lld, inside the %d warmup steps", path, (long long)sched_stage2(s), warmup);
    return 0;
}

static int parse(runcfg *c, const cJSON *root, const char *path, const char *out_dir, tr_err *err) {
    if (!cJSON_IsObject(root)) return tr_fail(err, "%s: expected a JSON object", path);
    int steps = 0;
    double seed = 1337;
    c->grad_accum = 1;
    c->eps = 1e-8;
    c->clip = 1.0;
    c->init_std = 0.02;
    c->decay_embeddings = 1;
    c->eval_batches = 200;
    c->keep_checkpoints = 3;
    if (check_keys(root, path, err) || read_model(c, root, path, err) || read_path(&c->data, root, "data", 1, path, err) ||
        read_path(&c->tokenizer, root, "tokenizer", 0, path, err) ||
        read_path(&c->out_dir, root, "out_dir", out_dir == NULL, path, err) ||
        int_key(root, "steps", 1, 1, 2147483647, &steps, path, err) ||
        int_key(root, "batch_size", 1, 1, 1 << 20, &c->batch_size, path, err) ||
        int_key(root, "seq_len", 1, 1, 1 << 24, &c->seq_len, path, err) ||
        int_key(root, "grad_accum", 0, 1, 1 << 20, &c->grad_accum, path, err))
        return -1;
    c->steps = steps;
    if (out_dir) {
        free(c->out_dir);
        c->out_dir = tr_strdup(out_dir);
    }
    if (c->seq_len > c->model.max_pos)
        return tr_fail(err, "%s: seq_len %d exceeds max_position_embeddings %d of the model (%s)", path, c->seq_len,
                       c->model.max_pos, c->model_src);
    if (read_schedule(c, root, path, err) || read_betas(c, root, path, err) ||
        num_key(root, "eps", 0, 0, 1, INFINITY, &c->eps, path, err) ||
        num_key(root, "clip", 0, 0, 0, INFINITY, &c->clip, path, err) ||
        num_key(root, "init_std", 0, 0, 1, INFINITY, &c->init_std, path, err) ||
        json_opt_bool(root, "decay_norms", &c->decay_norms, path, err) ||
        json_opt_bool(root, "decay_embeddings", &c->decay_embeddings, path, err) ||
        num_key(root, "seed", 0, 0, 0, 9007199254740992.0, &seed, path, err) ||
        int_key(root, "threads", 0, 0, 4096, &c->threads, path, err) ||
        int_key(root, "eval_every", 0, 0, 2147483647, &c->eval_every, path, err) ||
        int_key(root, "eval_batches", 0, 1, 2147483647, &c->eval_batches, path, err) ||
        int_key(root, "ckpt_every", 0, 0, 2147483647, &c->ckpt_every, path, err) ||
        int_key(root, "keep_checkpoints", 0, 0, 2147483647, &c->keep_checkpoints, path, err))
        return -1;
    if (seed != floor(seed)) return tr_fail(err, "%s: key 'seed' must be an integer (got %g)", path, seed);
    c->seed = (uint64_t)seed;
    return 0;
}

int runcfg_load(runcfg *c, const char *path, const char *out_dir, tr_err *err) {
    memset(c, 0, sizeof(*c));
    cJSON *root = json_load(path, err);
    if (!root) return -1;
    c->path = tr_strdup(path);
    c->text = cJSON_PrintUnformatted(root);
    int rc = parse(c, root, path, out_dir, err);
    cJSON_Delete(root);
    if (rc) runcfg_free(c);
    return rc;
}

void runcfg_free(runcfg *c) {
    if (!c) return;
    free(c->path);
    free(c->text);
    free(c->model_src);
    free(c->data);
    free(c->tokenizer);
    free(c->out_dir);
    memset(c, 0, sizeof(*c));
}
