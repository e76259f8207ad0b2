// export.c: `trit export CKPT -o OUT`: a checkpoint -> GGUF (I2_S, TQ2_0, TQ1_0, F16) or a Hugging Face folder.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/gguf.h"
#include "export/export.h"

static const char *usage =
    "usage: trit export CKPT -o OUT [--type i2_s|tq2_0|tq1_0|f16] [--embed f16|q8_0]\n"
    "                   [--format gguf|hf-packed|hf-bf16] [--tokenizer FILE|llama3] [--no-tokenizer]\n"
    "                   [--name NAME] [--add-bos 0|1] [--threads N]\n"
    "\n"
    "Writes the model of CKPT as one self-contained GGUF (weights, hparams, tokenizer) or as a Hugging Face\n"
    "folder. CKPT: a checkpoint of `trit train` (.h5, or a run folder: its latest.h5), a Hugging Face folder\n"
    "(config.json + safetensors, latent or packed), or a GGUF (trit's, llama.cpp's or bitnet.cpp's BitNet).\n"
    "Latent weights are quantized as in training (per tensor: s = mean|W|, t = clamp(round(W/s), -1, 1));\n"
    "stored ternary weights (packed checkpoints, GGUFs) are kept as they are. docs/export.md has the details.\n"
    "  -o OUT            the .gguf file, or the folder for --format hf-*\n"
    "  --type T          the linears (GGUF): tq2_0 (default; llama.cpp arch \"bitnet\", rows % 256), tq1_0\n"
    "                    (likewise, 1.69 bits), i2_s (bitnet.cpp arch \"bitnet-b1.58\", rows % 128), f16 (t * s)\n"
    "  --embed E         token_embd (and output, when untied) as f16 (default) or q8_0\n"
    "  --format F        gguf (default); hf-packed (U8 codes + weight_scale, as microsoft/bitnet-b1.58-2B-4T;\n"
    "                    `hf` is the same) or hf-bf16 (bf16 latent weights, as its -bf16 twin)\n"
    "  --tokenizer FILE  tokenizer.json to embed (\"llama3\": the Llama 3 tokenizer `make deps` installs);\n"
    "                    default: the one stored in the checkpoint, or tokenizer.json beside a HF config\n"
    "  --no-tokenizer    write no tokenizer (llama.cpp and `trit run` then cannot load the GGUF)\n"
    "  --name NAME       general.name (default: the checkpoint's name)\n"
    "  --add-bos 0|1     tokenizer.ggml.add_bos_token (default: 1 for Hugging Face models, 0 for trit's,\n"
    "                    which train without BOS; a GGUF's own setting)\n"
    "  --threads N       OpenMP threads (default: all cores)\n";

typedef struct {
    const char *ckpt, *out, *tokenizer, *name, *format;
    ex_type type;
    uint32_t embed;
    int no_tokenizer, add_bos, threads;
} export_args;

static int parse_args(export_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    a->type = EX_TQ2_0;
    a->embed = GGUF_TYPE_F16;
    a->format = "gguf";
    a->add_bos = -1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (f[0] != '-') {
            if (a->ckpt) return cli_usage_error("export", "one checkpoint expected, got '%s' and '%s'", a->ckpt, f);
            a->ckpt = f;
            continue;
        }
        if (!strcmp(f, "--no-tokenizer")) {
            a->no_tokenizer = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("export", "flag %s needs a value", f);
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "-o") || !strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--tokenizer")) a->tokenizer = v;
        else if (!strcmp(f, "--name")) a->name = v;
        else if (!strcmp(f, "--type")) {
            if (ex_type_parse(v, &a->type)) return cli_usage_error("export", "--type wants i2_s, tq2_0, tq1_0 or f16, got '%s'", v);
        } else if (!strcmp(f, "--embed")) {
            if (!strcmp(v, "f16")) a->embed = GGUF_TYPE_F16;
            else if (!strcmp(v, "q8_0")) a->embed = GGUF_TYPE_Q8_0;
            else return cli_usage_error("export", "--embed wants f16 or q8_0, got '%s'", v);
        } else if (!strcmp(f, "--format")) {
            if (!strcmp(v, "hf")) v = "hf-packed";
            if (strcmp(v, "gguf") && strcmp(v, "hf-packed") && strcmp(v, "hf-bf16"))
                return cli_usage_error("export", "--format wants gguf, hf-packed or hf-bf16, got '%s'", v);
            a->format = v;
        } else if (!strcmp(f, "--add-bos")) {
            if (strcmp(v, "0") && strcmp(v, "1")) return cli_usage_error("export", "--add-bos wants 0 or 1, got '%s'", v);
            a->add_bos = v[0] == '1';
        } else if (!strcmp(f, "--threads")) {
            long n = strtol(v, &end, 10);
            if (*end || n <= 0 || n > 4096) return cli_usage_error("export", "--threads wants a positive integer, got '%s'", v);
            a->threads = (int)n;
        } else return cli_usage_error("export", "unknown flag '%s'", f);
    }
    if (!a->ckpt) return cli_usage_error("export", "a checkpoint (CKPT) is required");
    if (!a->out) return cli_usage_error("export", "-o OUT is required");
    if (a->no_tokenizer && a->tokenizer) return cli_usage_error("export", "--tokenizer and --no-tokenizer exclude each other");
    return 0;
}

// general.name: the checkpoint's file or folder name without .h5 / .gguf (a run folder's name for latest.h5).
static void default_name(char *out, size_t cap, const char *ckpt) {
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", ckpt);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && (!strcmp(dot, ".h5") || !strcmp(dot, ".gguf"))) *dot = '\0';
}

// The tokenizer the export embeds: --tokenizer, the checkpoint's own, or none (*tok NULL, *json NULL).
static int load_tokenizer(tok_tokenizer **tok, char **json, const export_args *a, const ex_source *s, int gguf,
                          tr_err *err) {
    *tok = NULL;
    *json = NULL;
    if (a->no_tokenizer) return 0;
    if (a->tokenizer) {
        char path[4096];
        if (tok_path(path, sizeof(path), a->tokenizer, err) || tok_load(tok, path, err)) return -1;
        if (!gguf && !(*json = ex_read_text(path))) return tr_fail(err, "%s: cannot read", path);
        return 0;
    }
    if (s->tokenizer_json) {
        if (gguf && tok_load_text(tok, s->tokenizer_json, strlen(s->tokenizer_json), s->path, err)) return -1;
        if (!gguf) *json = tr_strdup(s->tokenizer_json);
        return 0;
    }
    if (s->is_gguf && gguf) {
        gguf_file *g = NULL;
        if (gguf_open(&g, s->path, err)) return -1;
        int rc = gguf_find(g, "tokenizer.ggml.model") ? tok_load_gguf(tok, g, err) : 0;
        gguf_close(g);
        if (rc || *tok) return rc;
    }
    return tr_fail(err, "%s: holds no tokenizer%s; pass --tokenizer FILE (or llama3), or --no-tokenizer", s->path,
                   s->is_gguf && !gguf ? ".json for a Hugging Face folder" : "");
}

static int run(const export_args *a, tr_err *err) {
    double t0 = omp_get_wtime();
    ex_source s;
    if (ex_source_load(&s, a->ckpt, err)) return -1;
    int gguf = !strcmp(a->format, "gguf"), rc;
    tok_tokenizer *tok = NULL;
    char *json = NULL, name[256];
    rc = load_tokenizer(&tok, &json, a, &s, gguf, err);
    if (!rc && tok && tok_vocab_size(tok) > s.model.cfg.vocab_size)
        rc = tr_fail(err, "%s: the tokenizer has %d ids but the model's vocab_size is %d (%s)",
                     a->tokenizer ? a->tokenizer : s.path, tok_vocab_size(tok), s.model.cfg.vocab_size, s.path);
    if (!rc && gguf) {
        size_t n = strlen(s.path);
        default_name(name, sizeof(name), n > 10 && !strcmp(s.path + n - 10, "/latest.h5") ? a->ckpt : s.path);
        ex_gguf_opts o = {a->type, a->embed, a->name ? a->name : name, a->add_bos >= 0 ? a->add_bos : s.add_bos};
        rc = ex_write_gguf(&s.model, tok, &o, a->out, s.path, err);
    } else if (!rc) {
        rc = ex_write_hf(&s.model, json, !strcmp(a->format, "hf-bf16") ? EX_HF_BF16 : EX_HF_PACKED, a->out, err);
    }
    if (!rc) {
        struct stat st;
        char p[4200];
        snprintf(p, sizeof(p), gguf ? "%s" : "%s/model.safetensors", a->out);
        double mb = stat(p, &st) == 0 ? (double)st.st_size / 1e6 : 0;
        printf("wrote %s: %s%s, %d layers, %s, %.1f MB in %.1f s\n", a->out, gguf ? "GGUF " : a->format,
               gguf ? ex_type_name(a->type) : "", s.model.cfg.n_layers,
               tok ? "with tokenizer" : json ? "with tokenizer.json" : "no tokenizer", mb, omp_get_wtime() - t0);
        if (gguf && !s.model.cfg.tie_embeddings && a->type != EX_I2_S)
            printf("note: the LM head is untied (output.weight); llama.cpp's bitnet architecture refuses that tensor, "
                   "trit and bitnet.cpp read it\n");
    }
    tok_free(tok);
    free(json);
    ex_source_free(&s);
    return rc;
}

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return 0;
    }
    export_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc;
    if (a.threads) omp_set_num_threads(a.threads);
    tr_err err = {{0}};
    if (run(&a, &err)) return cli_error("export", "%s", err.msg);
    return 0;
}
