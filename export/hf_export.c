// hf_export.c: a bn_model -> a Hugging Face folder (config.json, model.safetensors, tokenizer.json) in the
// packed layout of microsoft/bitnet-b1.58-2B-4T or the bf16 latent layout of its -bf16 twin. The folder is
// built under a temporary name beside the destination and renamed into place.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/f16.h"
#include "autograd/ag.h"
#include "export/export.h"

// The files an export writes; an existing destination holding only these is a previous export.
static const char *const hf_files[] = {"config.json", "model.safetensors", "tokenizer.json"};
enum { N_HF_FILES = sizeof(hf_files) / sizeof(hf_files[0]) };

static int write_text(const char *path, const char *text, tr_err *err) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return tr_fail(err, "%s: cannot write: %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, fp) == n && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int e = errno;
    if (fclose(fp) != 0 && ok) ok = 0, e = errno;
    return ok ? 0 : tr_fail(err, "%s: write failed: %s", path, strerror(e));
}

static void remove_files(const char *dir) {
    char p[4352];
    for (int i = 0; i < N_HF_FILES; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, hf_files[i]);
        unlink(p);
    }
    rmdir(dir);
}

// 1 when dir exists and holds nothing but an export's files, 0 when it does not exist, -1 (err) otherwise.
static int previous_export(const char *dir, tr_err *err) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return tr_fail(err, "%s: exists and is not a folder", dir);
    DIR *d = opendir(dir);
    if (!d) return tr_fail(err, "%s: cannot read: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 1;
    while (rc == 1 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int known = 0;
        for (int i = 0; i < N_HF_FILES; i++) known |= !strcmp(e->d_name, hf_files[i]);
        if (!known)
            rc = tr_fail(err, "%s: exists and holds '%s', which is not from an export; pick another output folder", dir,
                         e->d_name);
    }
    closedir(d);
    return rc;
}

int ex_hf_write_dir(const bn_config *c, ex_hf_layout layout, const st_writer *w, const char *tokenizer_json,
                    const char *dir, tr_err *err) {
    int old = previous_export(dir, err);
    if (old < 0) return -1;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    char tmp[4096], old_dir[4096], p[4352];
    snprintf(tmp, sizeof(tmp), "%.*s.tmp.%d", (int)len, dir, (int)getpid());
    snprintf(old_dir, sizeof(old_dir), "%.*s.old.%d", (int)len, dir, (int)getpid());
    if (mkdir(tmp, 0755) != 0) return tr_fail(err, "%s: cannot create the folder %s: %s", dir, tmp, strerror(errno));

    bn_config hc = *c;
    hc.offline = layout == EX_HF_PACKED;
    hc.linear_class = BN_AUTOBITLINEAR;
    cJSON *json = bn_config_to_json(&hc);
    cJSON_AddStringToObject(json, "torch_dtype", "bfloat16");
    char *text = cJSON_Print(json);
    cJSON_Delete(json);
    snprintf(p, sizeof(p), "%s/config.json", tmp);
    int rc = write_text(p, text, err);
    free(text);
    snprintf(p, sizeof(p), "%s/model.safetensors", tmp);
    if (!rc) rc = st_writer_write(w, p, err);
    snprintf(p, sizeof(p), "%s/tokenizer.json", tmp);
    if (!rc && tokenizer_json) rc = write_text(p, tokenizer_json, err);
    if (!rc && old && rename(dir, old_dir) != 0)
        rc = tr_fail(err, "%s: cannot move the previous export aside: %s", dir, strerror(errno));
    if (!rc && rename(tmp, dir) != 0) {
        rc = tr_fail(err, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
        if (old) rename(old_dir, dir);
    }
    if (rc) remove_files(tmp);
    else if (old) remove_files(old_dir);
    return rc;
}

static uint16_t *to_bf16(const float *x, size_t n) {
    uint16_t *h = tr_malloc(sizeof(uint16_t) * (n ? n : 1));
    #pragma omp parallel for if (n > 65536)
    for (size_t i = 0; i < n; i++) h[i] = f32_to_bf16(x[i]);
    return h;
}

int ex_write_hf(const bn_model *m, const char *tokenizer_json, ex_hf_layout layout, const char *dir, tr_err *err) {
    if (layout == EX_HF_BF16 && m->ternary)
        return tr_fail(err, "%s: the model holds stored ternary weights, not latent ones; the bf16 layout would "
                       "re-quantize them with other scales (export --format hf-packed)", dir);
    const bn_config *c = &m->cfg;
    ex_tensor *plan;
    int n = ex_plan(&plan, c);
    void **bufs = tr_calloc((size_t)n * 2, sizeof(void *));
    char (*scale_names)[112] = tr_calloc((size_t)n, sizeof(*scale_names));
    st_writer *w = st_writer_init();
    for (int i = 0; i < n; i++) {
        const ex_tensor *p = &plan[i];
        const float *x = ex_param(m, p);
        size_t cnt = (size_t)p->rows * p->cols;
        int64_t shape[2] = {p->rows, p->cols};
        if (p->kind == EX_T_NORM) shape[0] = p->cols;
        if (p->kind != EX_T_LINEAR || layout == EX_HF_BF16) {
            bufs[2 * i] = to_bf16(x, cnt);
            st_writer_add(w, p->hf, ST_BF16, p->kind == EX_T_NORM ? 1 : 2, shape, bufs[2 * i]);
            continue;
        }
        int8_t *t = tr_malloc(cnt);
        float *scale = tr_malloc(sizeof(float));
        *scale = ag_ternarize(t, x, cnt, m->ternary);
        int64_t pshape[2] = {(p->rows + 3) / 4, p->cols}, one = 1;
        bufs[2 * i] = tr_malloc((size_t)pshape[0] * p->cols);
        ex_pack_hf(bufs[2 * i], t, p->rows, p->cols);
        free(t);
        bufs[2 * i + 1] = scale;
        snprintf(scale_names[i], sizeof(scale_names[i]), "%s_scale", p->hf);   // "...weight" -> "...weight_scale"
        st_writer_add(w, p->hf, ST_U8, 2, pshape, bufs[2 * i]);
        st_writer_add(w, scale_names[i], ST_F32, 1, &one, scale);
    }
    st_writer_meta(w, "format", "pt");
    int rc = ex_hf_write_dir(c, layout, w, tokenizer_json, dir, err);
    st_writer_free(w);
    for (int i = 0; i < 2 * n; i++) free(bufs[i]);
    free(bufs);
    free(scale_names);
    free(plan);
    return rc;
}
