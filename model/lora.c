// lora.c: loading peft LoRA adapters and applying them in the forward graph.
#include "model/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "common/safetensors.h"

// Parses "[base_model.model.]model.layers.N.<module>.lora_(A|B)[.default].weight".
static int parse_name(const char *name, int *layer, int *which, int *is_b) {
    const char *s = name;
    if (!strncmp(s, "base_model.model.", 17)) s += 17;
    int n = 0;
    if (sscanf(s, "model.layers.%d.%n", layer, &n) != 1 || n == 0) return -1;
    s += n;
    for (int k = 0; k < BN_N_LINEAR; k++) {
        size_t len = strlen(bn_linear_names[k]);
        if (strncmp(s, bn_linear_names[k], len) || s[len] != '.') continue;
        const char *t = s + len + 1;
        if (!strncmp(t, "lora_A", 6)) *is_b = 0;
        else if (!strncmp(t, "lora_B", 6)) *is_b = 1;
        else return -1;
        t += 6;
        if (!strcmp(t, ".weight") || !strcmp(t, ".default.weight")) {
            *which = k;
            return 0;
        }
        return -1;
    }
    return -1;
}

static int find_alpha(const char *dir, const st_file *st, float *alpha, tr_err *err) {
    char cfg[4096];
    snprintf(cfg, sizeof(cfg), "%s/adapter_config.json", dir);
    struct stat sb;
    if (stat(cfg, &sb) == 0) {
        cJSON *root = json_load(cfg, err);
        if (!root) return -1;
        double a = 0;
        int rc = json_get_double(root, "lora_alpha", &a, cfg, err);
        cJSON_Delete(root);
        if (rc) return -1;
        *alpha = (float)a;
        return 0;
    }
    const char *meta = st_meta(st, "lora_alpha");
    if (meta) {
        char *end = NULL;
        *alpha = strtof(meta, &end);
        if (end != meta && *end == '\0') return 0;
        return tr_fail(err, "%s: __metadata__ lora_alpha '%s' is not a number", st_path(st), meta);
    }
    return tr_fail(err, "%s: no LoRA alpha: pass --lora-alpha, or put adapter_config.json beside it", st_path(st));
}

int bn_lora_load(bn_lora *lo, const bn_config *cfg, const char *path, float alpha, int with_grad, tr_err *err) {
    memset(lo, 0, sizeof(*lo));
    char dir[4096], file[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof(dir), "%s", path);
        snprintf(file, sizeof(file), "%s/adapter_model.safetensors", path);
    } else {
        snprintf(file, sizeof(file), "%s", path);
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0'; else snprintf(dir, sizeof(dir), ".");
    }
    st_file *st = NULL;
    if (st_open(&st, file, err)) return -1;
    int L = cfg->n_layers, rc = -1;
    lo->n_layers = L;
    lo->slot = tr_malloc(sizeof(int) * (size_t)L * BN_N_LINEAR);
    for (int i = 0; i < L * BN_N_LINEAR; i++) lo->slot[i] = -1;
    lo->pairs = tr_calloc((size_t)L * BN_N_LINEAR, sizeof(*lo->pairs));
    const st_tensor **ta = tr_calloc((size_t)L * BN_N_LINEAR * 2, sizeof(*ta));   // [slot][A, B]
    if (alpha > 0) lo->alpha = alpha;
    else if (find_alpha(dir, st, &lo->alpha, err)) goto done;
    for (int i = 0; i < st_count(st); i++) {
        const st_tensor *t = st_get(st, i);
        int layer, which, is_b;
        if (parse_name(t->name, &layer, &which, &is_b)) {
            tr_fail(err, "%s: tensor '%s' is not a LoRA A/B weight of a BitNet projection", t->file, t->name);
            goto done;
        }
        if (layer < 0 || layer >= L) {
            tr_fail(err, "%s: tensor '%s' names layer %d but the model has %d layers", t->file, t->name, layer, L);
            goto done;
        }
        int s = layer * BN_N_LINEAR + which;
        if (ta[2 * s + is_b]) {
            tr_fail(err, "%s: tensor '%s' appears twice (as '%s')", t->file, t->name, ta[2 * s + is_b]->name);
            goto done;
        }
        ta[2 * s + is_b] = t;
    }
    // Shapes, then one slab for all pairs.
    size_t total = 0;
    for (int s = 0; s < L * BN_N_LINEAR; s++) {
        const st_tensor *A = ta[2 * s], *B = ta[2 * s + 1];
        if (!A && !B) continue;
        if (!A || !B) {
            tr_fail(err, "%s: '%s' has no matching lora_%s", file, (A ? A : B)->name, A ? "B" : "A");
            goto done;
        }
        int out, in;
        bn_linear_shape(cfg, s % BN_N_LINEAR, &out, &in);
        int r = A->ndim == 2 ? (int)A->shape[0] : -1;
        if (r <= 0 || A->shape[1] != in || B->ndim != 2 || B->shape[0] != out || B->shape[1] != r) {
            tr_fail(err, "%s: LoRA shapes of '%s' / '%s' do not fit a (%d, %d) projection (want A (r, %d), B (%d, r))",
                    file, A->name, B->name, out, in, in, out);
            goto done;
        }
        total += (size_t)r * (in + out);
    }
    if (total == 0) {
        tr_fail(err, "%s: no LoRA tensors found", file);
        goto done;
    }
    lo->n_floats = total;
    lo->data = tr_alloc_aligned(total * sizeof(float));
    if (with_grad) lo->grad = tr_calloc(total, sizeof(float));
    size_t off = 0;
    for (int s = 0; s < L * BN_N_LINEAR; s++) {
        const st_tensor *A = ta[2 * s], *B = ta[2 * s + 1];
        if (!A) continue;
        struct bn_lora_pair *p = &lo->pairs[lo->n_pairs];
        p->layer = s / BN_N_LINEAR;
        p->which = s % BN_N_LINEAR;
        p->rank = (int)A->shape[0];
        p->scale = lo->alpha / (float)p->rank;
        p->a = lo->data + off;
        off += st_numel(A);
        p->b = lo->data + off;
        off += st_numel(B);
        snprintf(p->a_name, sizeof(p->a_name), "%s", A->name);
        snprintf(p->b_name, sizeof(p->b_name), "%s", B->name);
        if (st_read_f32(p->a, A, err) || st_read_f32(p->b, B, err)) goto done;
        lo->slot[s] = lo->n_pairs++;
    }
    rc = 0;
done:
    free(ta);
    st_close(st);
    if (rc) bn_lora_free(lo);
    return rc;
}

void bn_lora_free(bn_lora *lo) {
    if (!lo) return;
    free(lo->data);
    free(lo->grad);
    free(lo->pairs);
    free(lo->slot);
    memset(lo, 0, sizeof(*lo));
}

ag_tensor *bn_lora_apply(ag_ctx *ctx, const bn_lora *lo, int l, int which, ag_tensor *y, ag_tensor *x) {
    int s = lo->slot[l * BN_N_LINEAR + which];
    if (s < 0) return y;
    const struct bn_lora_pair *p = &lo->pairs[s];
    int in = ag_cols(x), out = ag_cols(y), sa[2] = {p->rank, in}, sb[2] = {out, p->rank};
    ag_tensor *a = ag_wrap(ctx, p->a, lo->grad ? lo->grad + (p->a - lo->data) : NULL, 2, sa);
    ag_tensor *b = ag_wrap(ctx, p->b, lo->grad ? lo->grad + (p->b - lo->data) : NULL, 2, sb);
    return ag_lora_add(ctx, y, x, a, b, p->scale);
}
