// main.c: `trit <command>`: dispatch, help, and the message helpers shared by the subcommands.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"grad", cmd_grad, "forward + backward of a Hugging Face BitNet checkpoint on a batch: logits, loss, gradients"},
    {"info", cmd_info, "list the tensors (and GGUF metadata) of a safetensors file, checkpoint folder or GGUF file"},
    {"train", cmd_train, "train a BitNet b1.58 model from scratch on token shards (run config JSON), or resume"},
    {"sample", cmd_sample, "generate text with a training checkpoint (.h5) to try a freshly trained model"},
    {"tokenizer", cmd_tokenizer, "train a byte-level BPE tokenizer.json on text; encode, decode, info"},
    {"tokenize", cmd_tokenize, "JSONL texts -> JSONL token ids with a tokenizer.json (Hugging Face BPE)"},
    {"shard", cmd_shard, "text (.txt, .jsonl) -> zstd token shards with a train/val split; --verify shards"},
    {"export", cmd_export, "checkpoint -> GGUF (I2_S, TQ2_0, TQ1_0, F16) with tokenizer, or a Hugging Face folder"},
    {"synth", cmd_synth, "a random model of any config in an export's exact layout (GGUF or Hugging Face)"},
    {"run", cmd_run, "generate text (or chat) with a BitNet GGUF on trit's ternary kernels"},
    {"bench-run", cmd_bench_run, "prefill / decode tokens per second of a GGUF, like llama-bench (one JSON line)"},
};

static void usage(FILE *out) {
    fprintf(out, "trit: train, fine-tune, export and run BitNet b1.58 models\n\nusage: trit <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "this message; `trit CMD --help` for one command");
}

int cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "trit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "trit %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `trit %s --help`)\n", cmd);
    return 2;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc >= 3) {   // trit help CMD
            for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, hargv);
                }
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "trit: unknown command '%s' (see `trit help`)\n", argv[1]);
    return 2;
}
