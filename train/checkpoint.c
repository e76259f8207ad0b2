// checkpoint.c: training checkpoints in HDF5, written atomically, and the run folder's latest.h5 / pruning.
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/h5_io.h"

static int write_optim(hid_t f, const bn_model *m, const opt_adamw *o, const char *path, tr_err *err) {
    if (h5_make_group(f, "/optim", path, err) || h5_set_attr_i64(f, "/optim", "t", o->t, path, err)) return -1;
    char name[160];
    for (int i = 0; i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        snprintf(name, sizeof(name), "/optim/m/%s", p->name);
        if (h5_write_f32(f, name, p->ndim, p->shape, o->m + p->offset, path, err)) return -1;
        snprintf(name, sizeof(name), "/optim/v/%s", p->name);
        if (h5_write_f32(f, name, p->ndim, p->shape, o->v + p->offset, path, err)) return -1;
    }
    return 0;
}

static int write_state(hid_t f, const ckpt_state *s, const char *run_config, const char *path, tr_err *err) {
    if (h5_make_group(f, "/train", path, err) || h5_set_attr_i64(f, "/train", "step", s->step, path, err) ||
        h5_set_attr_u64s(f, "/train", "tokens", 1, &s->tokens, path, err) ||
        h5_set_attr_u64s(f, "/train", "data_seed", 1, &s->data_seed, path, err) ||
        h5_set_attr_u64s(f, "/train", "data_step", 1, &s->data_step, path, err) ||
        h5_set_attr_u64s(f, "/train", "rng_state", 4, s->rng.s, path, err) ||
        h5_set_attr_str(f, "/train", "run_config", run_config ? run_config : "{}", path, err) ||
        h5_set_attr_i64(f, "/", "step", s->step, path, err))
        return -1;
    return 0;
}

static void fault_kill_point(int64_t step, hid_t f) {
    const char *v = getenv("TRIT_FAULT_KILL_CKPT");
    if (!v || atoll(v) != step) return;
    H5Fflush(f, H5F_SCOPE_GLOBAL);   // the half-written file really is on disk
    raise(SIGKILL);
}

static int sync_path(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ckpt_write(const char *path, const bn_model *m, const opt_adamw *o, const ckpt_state *s, const char *run_config,
               const char *tokenizer_json, tr_err *err) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    hid_t f = h5_create(tmp, err);
    if (f < 0) return -1;
    int rc = h5_write_model(f, m, tmp, err);
    if (!rc) fault_kill_point(s->step, f);
    if (!rc && tokenizer_json) rc = h5_write_text(f, "/tokenizer/tokenizer.json", tokenizer_json, tmp, err);
    if (!rc) rc = write_optim(f, m, o, tmp, err);
    if (!rc) rc = write_state(f, s, run_config, tmp, err);
    if (H5Fclose(f) < 0 && !rc) rc = tr_fail(err, "%s: cannot finish writing (disk full?)", tmp);
    if (!rc && sync_path(tmp, O_RDONLY)) rc = tr_fail(err, "%s: fsync failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path)) rc = tr_fail(err, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int ckpt_read(const char *path, bn_model *m, ckpt_state *s, char **tokenizer_json, tr_err *err) {
    memset(s, 0, sizeof(*s));
    if (tokenizer_json) *tokenizer_json = NULL;
    hid_t f = h5_open(path, err);
    if (f < 0) return -1;
    int rc = 0;
    if (!h5_exists(f, "/train") || !h5_exists(f, "/optim"))
        rc = tr_fail(err, "%s: holds weights only (no /train and /optim): not a training checkpoint", path);
    if (!rc) rc = h5_get_attr_i64(f, "/train", "step", &s->step, path, err) ||
                  h5_get_attr_u64s(f, "/train", "tokens", 1, &s->tokens, path, err) ||
                  h5_get_attr_u64s(f, "/train", "data_seed", 1, &s->data_seed, path, err) ||
                  h5_get_attr_u64s(f, "/train", "data_step", 1, &s->data_step, path, err) ||
                  h5_get_attr_u64s(f, "/train", "rng_state", 4, s->rng.s, path, err);
    if (!rc && s->step < 0) rc = tr_fail(err, "%s: /train step is %lld", path, (long long)s->step);
    if (!rc && tokenizer_json && h5_exists(f, "/tokenizer/tokenizer.json"))
        rc = h5_read_text(f, "/tokenizer/tokenizer.json", tokenizer_json, path, err);
    if (!rc) rc = h5_read_model(m, f, path, 1, err);
    h5_close(f);
    if (rc && tokenizer_json) {
        free(*tokenizer_json);
        *tokenizer_json = NULL;
    }
    return rc ? -1 : 0;
}

int ckpt_read_optim(const char *path, opt_adamw *o, const bn_model *m, tr_err *err) {
    CHECK(o->n == m->n_floats, "optimizer slab of %zu floats for a model of %zu", o->n, m->n_floats);
    hid_t f = h5_open(path, err);
    if (f < 0) return -1;
    int64_t t = 0;
    int rc = h5_get_attr_i64(f, "/optim", "t", &t, path, err);
    if (!rc && t < 0) rc = tr_fail(err, "%s: /optim t is %lld", path, (long long)t);
    char name[160];
    for (int i = 0; !rc && i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        snprintf(name, sizeof(name), "/optim/m/%s", p->name);
        rc = h5_read_f32(f, name, p->ndim, p->shape, o->m + p->offset, path, err);
        snprintf(name, sizeof(name), "/optim/v/%s", p->name);
        if (!rc) rc = h5_read_f32(f, name, p->ndim, p->shape, o->v + p->offset, path, err);
    }
    h5_close(f);
    if (!rc) o->t = t;
    return rc;
}

// Step of a file name "ckpt_NNN.h5", or -1.
static long long ckpt_step_of(const char *name) {
    long long step;
    int n = -1;
    if (sscanf(name, "ckpt_%lld.h5%n", &step, &n) == 1 && n > 0 && name[n] == '\0' && step >= 0) return step;
    return -1;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

// Removes *.h5.tmp leftovers and all but the newest `keep` checkpoints of dir, never `current` (a run resumed
// from an older checkpoint may have newer ones beside it).
static void prune(const char *dir, int keep, long long current) {
    DIR *d = opendir(dir);
    if (!d) return;
    long long *steps = NULL;
    size_t n = 0, cap = 0;
    char p[4200];
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 7 && !strcmp(e->d_name + len - 7, ".h5.tmp") && !strncmp(e->d_name, "ckpt_", 5)) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
            continue;
        }
        long long s = ckpt_step_of(e->d_name);
        if (s < 0) continue;
        if (n == cap) steps = tr_realloc(steps, sizeof(long long) * (cap = cap ? 2 * cap : 16));
        steps[n++] = s;
    }
    closedir(d);
    if (keep > 0 && n > (size_t)keep) {
        qsort(steps, n, sizeof(long long), cmp_ll);
        size_t drop = n - (size_t)keep;
        for (size_t i = 0; i < n && drop > 0; i++) {
            if (steps[i] == current) continue;
            snprintf(p, sizeof(p), "%s/ckpt_%06lld.h5", dir, steps[i]);
            unlink(p);
            drop--;
        }
    }
    free(steps);
}

int ckpt_save_in(const char *dir, int keep, const bn_model *m, const opt_adamw *o, const ckpt_state *s,
                 const char *run_config, const char *tokenizer_json, char *written, size_t cap, tr_err *err) {
    char name[64], path[4200], link_tmp[4200], latest[4200];
    snprintf(name, sizeof(name), "ckpt_%06lld.h5", (long long)s->step);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (ckpt_write(path, m, o, s, run_config, tokenizer_json, err)) return -1;
    snprintf(link_tmp, sizeof(link_tmp), "%s/latest.h5.tmp", dir);
    snprintf(latest, sizeof(latest), "%s/latest.h5", dir);
    unlink(link_tmp);
    if (symlink(name, link_tmp) || rename(link_tmp, latest))
        return tr_fail(err, "%s: cannot point it at %s: %s", latest, name, strerror(errno));
    sync_path(dir, O_RDONLY | O_DIRECTORY);
    prune(dir, keep, (long long)s->step);
    if (written) snprintf(written, cap, "%s", path);
    return 0;
}

char *ckpt_resolve(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t n = strlen(path) + 16;
        char *out = tr_malloc(n);
        snprintf(out, n, "%s/latest.h5", path);
        return out;
    }
    return tr_strdup(path);
}
