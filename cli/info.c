// info.c: `trit info`: the tensors, dtypes and shapes of a safetensors file or checkpoint folder.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/safetensors.h"

static const char *usage =
    "usage: trit info FILE|DIR\n"
    "\n"
    "Lists every tensor of a safetensors file, a model.safetensors.index.json, or a folder holding\n"
    "model.safetensors or a sharded checkpoint: name, dtype, shape and parameter count, then totals.\n"
    "For a folder with config.json, a first line shows its model_type and architectures.\n";

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
