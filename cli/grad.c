// grad.c: `trit grad`: one forward + backward of a Hugging Face BitNet checkpoint on a batch.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/safetensors.h"
#include "model/hf_io.h"
#include "model/lora.h"

static const char *usage =
    "usage: trit grad --model DIR --batch IN.safetensors --out OUT.safetensors\n"
    "                 [--lora ADAPTER --lora-alpha X] [--threads N]\n"
    "\n"
    "Runs the BitNet b1.58 model in DIR (config.json + safetensors, latent or packed) on the batch's\n"
    "input_ids and labels (int32, B x T; label -100 is ignored) and writes logits (B, T, V), loss (1)\n"
    "and grad.<name> for every trainable tensor under its Hugging Face name.\n"
    "  --lora ADAPTER   peft LoRA weights (.safetensors, or a folder with adapter_config.json): the base\n"
    "                   is frozen and the LoRA tensors are trained, named as in the file\n"
    "  --lora-alpha X   LoRA alpha (scale alpha/r); default: adapter_config.json or the file's metadata\n"
    "  --threads N      OpenMP threads (default: all cores)\n";

// Reads an int32 (or int64) B x T tensor into a new int array.
static int read_ids(int **out, const st_file *st, const char *name, int *B, int *T, tr_err *err) {
    const st_tensor *t = st_find(st, name);
    if (!t) return tr_fail(err, "%s: missing tensor '%s' (int32, B x T)", st_path(st), name);
    if ((t->dtype != ST_I32 && t->dtype != ST_I64) || t->ndim != 2 || t->shape[0] <= 0 || t->shape[1] <= 0)
        return tr_fail(err, "%s: tensor '%s' must be a non-empty int32 B x T matrix, got %s with %d dims", t->file, name,
                       st_dtype_name(t->dtype), t->ndim);
    if (*B && (t->shape[0] != *B || t->shape[1] != *T))
        return tr_fail(err, "%s: tensor '%s' is %lld x %lld but input_ids is %d x %d", t->file, name,
                       (long long)t->shape[0], (long long)t->shape[1], *B, *T);
    *B = (int)t->shape[0];
    *T = (int)t->shape[1];
    size_t n = (size_t)*B * *T;
    int *v = tr_malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++)
        v[i] = t->dtype == ST_I32 ? ((const int32_t *)t->data)[i] : (int)((const int64_t *)t->data)[i];
    *out = v;
    return 0;
}

static int check_range(const int *v, size_t n, int V, int allow_ignore, const char *file, const char *name, tr_err *err) {
    for (size_t i = 0; i < n; i++)
        if ((v[i] < 0 || v[i] >= V) && !(allow_ignore && v[i] == -100))
            return tr_fail(err, "%s: %s[%zu] = %d is outside the vocabulary [0, %d)", file, name, i, v[i], V);
    return 0;
}

typedef struct {
    const char *model, *batch, *out, *lora;
    float lora_alpha;
    int threads;
} grad_args;

static int parse_args(grad_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (i + 1 >= argc) return cli_usage_error("grad", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "--model")) a->model = v;
        else if (!strcmp(f, "--batch")) a->batch = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--lora")) a->lora = v;
        else if (!strcmp(f, "--lora-alpha")) {
            a->lora_alpha = strtof(v, &end);
            if (*end || !(a->lora_alpha > 0)) return cli_usage_error("grad", "--lora-alpha wants a positive number, got '%s'", v);
        } else if (!strcmp(f, "--threads")) {
            a->threads = (int)strtol(v, &end, 10);
            if (*end || a->threads <= 0) return cli_usage_error("grad", "--threads wants a positive integer, got '%s'", v);
        } else return cli_usage_error("grad", "unknown flag '%s'", f);
    }
    if (!a->model || !a->batch || !a->out) return cli_usage_error("grad", "--model, --batch and --out are required");
    if (a->lora_alpha > 0 && !a->lora) return cli_usage_error("grad", "--lora-alpha needs --lora");
    return 0;
}

static int run(const grad_args *a, tr_err *err) {
    bn_model m = {0};
    bn_lora lora = {0};
    st_file *batch = NULL;
    st_writer *w = NULL;
    int *ids = NULL, *labels = NULL, B = 0, T = 0, rc = -1;
    ag_ctx ctx = {0};
    if (bn_model_load_hf(&m, a->model, a->lora == NULL, err)) goto done;
    if (a->lora && bn_lora_load(&lora, &m.cfg, a->lora, a->lora_alpha, 1, err)) goto done;
    if (st_open(&batch, a->batch, err) || read_ids(&ids, batch, "input_ids", &B, &T, err) ||
        read_ids(&labels, batch, "labels", &B, &T, err))
        goto done;
    int V = m.cfg.vocab_size;
    size_t N = (size_t)B * T;
    if (check_range(ids, N, V, 0, a->batch, "input_ids", err) || check_range(labels, N, V, 1, a->batch, "labels", err))
        goto done;

    ag_init(&ctx, 64u << 20);
    ag_tensor *logits = bn_forward(&ctx, &m, a->lora ? &lora : NULL, ids, B, T);
    int sl[2] = {(int)N, V};
    ag_tensor *loss = ag_cross_entropy(&ctx, ag_view(&ctx, logits, 2, sl), labels, -100);
    if (loss->grad) ag_backward(&ctx, loss);

    w = st_writer_init();
    int64_t shape3[3] = {B, T, V}, one = 1;
    st_writer_add(w, "logits", ST_F32, 3, shape3, logits->data);
    st_writer_add(w, "loss", ST_F32, 1, &one, loss->data);
    char (*names)[200] = tr_malloc(sizeof(*names) * (size_t)(m.n_params + 2 * lora.n_pairs + 1));
    int k = 0;
    for (int i = 0; m.grad && i < m.n_params; i++, k++) {
        const bn_param *p = &m.params[i];
        int64_t s[2] = {p->shape[0], p->shape[1]};
        snprintf(names[k], sizeof(names[k]), "grad.%s", p->name);
        st_writer_add(w, names[k], ST_F32, p->ndim, s, m.grad + p->offset);
    }
    for (int i = 0; i < lora.n_pairs; i++) {
        const struct bn_lora_pair *p = &lora.pairs[i];
        int out, in;
        bn_linear_shape(&m.cfg, p->which, &out, &in);
        int64_t sa[2] = {p->rank, in}, sb[2] = {out, p->rank};
        snprintf(names[k], sizeof(names[k]), "grad.%s", p->a_name);
        st_writer_add(w, names[k++], ST_F32, 2, sa, lora.grad + (p->a - lora.data));
        snprintf(names[k], sizeof(names[k]), "grad.%s", p->b_name);
        st_writer_add(w, names[k++], ST_F32, 2, sb, lora.grad + (p->b - lora.data));
    }
    rc = st_writer_write(w, a->out, err);
    if (rc == 0)
        printf("loss %.6f over %d x %d tokens; wrote logits, loss and %d gradients to %s\n", loss->data[0], B, T, k, a->out);
    free(names);
done:
    st_writer_free(w);
    ag_free(&ctx);
    free(ids);
    free(labels);
    st_close(batch);
    bn_lora_free(&lora);
    bn_model_free(&m);
    return rc;
}

int cmd_grad(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    grad_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    if (a.threads) omp_set_num_threads(a.threads);
    tr_err err = {{0}};
    if (run(&a, &err)) return cli_error("grad", "%s", err.msg);
    return 0;
}
