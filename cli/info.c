// info.c: `trit info`: the tensors, dtypes and shapes of a safetensors file or checkpoint folder.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/gguf.h"
#include "common/json.h"
#include "common/safetensors.h"

static const char *usage =
    "usage: trit info FILE|DIR\n"
    "\n"
    "Lists every tensor of a safetensors file, a model.safetensors.index.json, or a folder holding\n"
    "model.safetensors or a sharded checkpoint: name, dtype, shape and parameter count, then totals.\n"
    "For a folder with config.json, a first line shows its model_type and architectures.\n"
    "A GGUF file (.gguf, versions 2 and 3): a summary line, every metadata key with its type and value\n"
    "(long strings and arrays abbreviated), then every tensor: name, ggml type, shape in ggml order\n"
    "(ne: row length first), parameters and bytes.\n";

static void format_shape(char *buf, size_t cap, const st_tensor *t) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

// "DIR/config.json: model_type X, architectures A, B" when the folder has a config naming either.
static int print_config(const char *dir, tr_err *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    cJSON *root = json_load(path, err);
    if (!root) return -1;
    const char *type = NULL;
    int rc = json_opt_string(root, "model_type", &type, path, err);
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (!rc && (type || cJSON_IsArray(arch))) {
        printf("%s:", path);
        if (type) printf(" model_type %s%s", type, cJSON_IsArray(arch) ? "," : "");
        if (cJSON_IsArray(arch)) {
            printf(" architectures");
            int k = 0;
            for (const cJSON *a = arch->child; a; a = a->next)
                if (cJSON_IsString(a)) printf("%s %s", k++ ? "," : "", a->valuestring);
        }
        printf("\n");
    }
    cJSON_Delete(root);
    return rc;
}

// A GGUF file: ends in .gguf or starts with "GGUF".
static int is_gguf(const char *path) {
    size_t n = strlen(path);
    char magic[4] = {0};
    FILE *fp = n >= 5 && !strcmp(path + n - 5, ".gguf") ? NULL : fopen(path, "rb");
    if (!fp) return n >= 5 && !strcmp(path + n - 5, ".gguf");
    int yes = fread(magic, 1, 4, fp) == 4 && !memcmp(magic, GGUF_MAGIC, 4);
    fclose(fp);
    return yes;
}

static void print_str(const gguf_str *s) {
    putchar('"');
    for (uint64_t i = 0; i < s->len && i < 60; i++) {
        unsigned char c = (unsigned char)s->s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\x%02x", c);
        else putchar(c);
    }
    printf(s->len > 60 ? "\"... (%llu bytes)" : "\"", (unsigned long long)s->len);
}

static void print_value(const gguf_value *v) {
    switch (v->type) {
    case GGUF_VAL_STRING: print_str(&v->str); break;
    case GGUF_VAL_FLOAT32: printf("%.9g", v->f32); break;
    case GGUF_VAL_FLOAT64: printf("%.17g", v->f64); break;
    case GGUF_VAL_BOOL: printf("%s", v->u ? "true" : "false"); break;
    case GGUF_VAL_INT8: case GGUF_VAL_INT16: case GGUF_VAL_INT32: case GGUF_VAL_INT64: printf("%lld", (long long)v->i); break;
    case GGUF_VAL_ARRAY:
        printf("[%s x %llu]", gguf_vtype_name(v->arr.elem), (unsigned long long)v->arr.n);
        for (uint64_t i = 0; i < v->arr.n && i < 8; i++) {
            printf(i ? ", " : " ");
            if (v->arr.elem == GGUF_VAL_STRING) print_str(gguf_arr_str(v, i));
            else if (v->arr.elem == GGUF_VAL_ARRAY) print_value(gguf_arr_val(v, i));
            else if (v->arr.elem == GGUF_VAL_FLOAT32 || v->arr.elem == GGUF_VAL_FLOAT64) printf("%.9g", gguf_arr_float(v, i));
            else if (v->arr.elem == GGUF_VAL_BOOL) printf("%s", gguf_arr_int(v, i) ? "true" : "false");
            else if (v->arr.elem == GGUF_VAL_UINT64) printf("%llu", (unsigned long long)gguf_arr_int(v, i));
            else printf("%lld", (long long)gguf_arr_int(v, i));
        }
        if (v->arr.n > 8) printf(", ...");
        break;
    default: printf("%llu", (unsigned long long)v->u);
    }
}

static int info_gguf(const char *path) {
    tr_err err = {{0}};
    gguf_file *f = NULL;
    if (gguf_open(&f, path, &err)) return cli_error("info", "%s", err.msg);
    printf("%s: GGUF v%u, %d metadata keys, %d tensors, alignment %u, data at byte %zu\n", path, gguf_version(f), gguf_n_kv(f),
           gguf_n_tensors(f), gguf_alignment(f), gguf_data_offset(f));
    int wk = 4, wn = 4, ws = 2, n = gguf_n_tensors(f);
    for (int i = 0; i < gguf_n_kv(f); i++) wk = (int)strlen(gguf_kv_at(f, i)->key) > wk ? (int)strlen(gguf_kv_at(f, i)->key) : wk;
    for (int i = 0; i < gguf_n_kv(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        printf("%-*s  %-7s  ", wk, kv->key, gguf_vtype_name(kv->val.type));
        print_value(&kv->val);
        printf("\n");
    }
    char (*shapes)[96] = tr_malloc(sizeof(*shapes) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int len = snprintf(shapes[i], sizeof(shapes[i]), "[");
        for (int d = 0; d < t->n_dims; d++) len += snprintf(shapes[i] + len, sizeof(shapes[i]) - (size_t)len, "%s%lld", d ? ", " : "", (long long)t->ne[d]);
        snprintf(shapes[i] + len, sizeof(shapes[i]) - (size_t)len, "]");
        wn = (int)strlen(t->name) > wn ? (int)strlen(t->name) : wn;
        ws = (int)strlen(shapes[i]) > ws ? (int)strlen(shapes[i]) : ws;
    }
    unsigned long long params = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        printf("%-*s  %-7s  %-*s  (%lld params, %zu bytes)\n", wn, t->name, gguf_type_name(t->type), ws, shapes[i], (long long)gguf_nelements(t), t->nbytes);
        params += (unsigned long long)gguf_nelements(t), bytes += t->nbytes;
    }
    printf("%d tensors, %llu parameters, %llu bytes\n", n, params, bytes);
    free(shapes);
    gguf_close(f);
    return 0;
}

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("info", "unknown flag '%s'", argv[i]);
        if (path) return cli_usage_error("info", "one FILE or DIR, got '%s' and '%s'", path, argv[i]);
        path = argv[i];
    }
    if (!path) return cli_usage_error("info", "missing FILE or DIR");
    if (is_gguf(path)) return info_gguf(path);

    tr_err err = {{0}};
    st_file *st = NULL;
    if (st_open(&st, path, &err)) return cli_error("info", "%s", err.msg);
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && print_config(path, &err)) {
        st_close(st);
        return cli_error("info", "%s", err.msg);
    }

    int n = st_count(st), wname = 4, wdtype = 4, wshape = 2;
    char (*shapes)[256] = tr_malloc(sizeof(*shapes) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_get(st, i);
        format_shape(shapes[i], sizeof(shapes[i]), t);
        int a = (int)strlen(t->name), b = (int)strlen(st_dtype_name(t->dtype)), c = (int)strlen(shapes[i]);
        wname = a > wname ? a : wname;
        wdtype = b > wdtype ? b : wdtype;
        wshape = c > wshape ? c : wshape;
    }
    unsigned long long params = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_get(st, i);
        size_t numel = st_numel(t);
        printf("%-*s  %-*s  %-*s  (%zu params)\n", wname, t->name, wdtype, st_dtype_name(t->dtype), wshape, shapes[i], numel);
        params += numel;
        bytes += t->nbytes;
    }
    printf("%d tensors, %llu parameters, %llu bytes\n", n, params, bytes);
    free(shapes);
    st_close(st);
    return 0;
}
