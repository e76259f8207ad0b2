// cli.h: the `trit` subcommands. Each returns the process exit status; errors print one line
// "trit CMD: message" on stderr and return 1 (2 for a bad flag).
#ifndef TRIT_CLI_H
#define TRIT_CLI_H

int cmd_info(int argc, char **argv);
int cmd_grad(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_shard(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench_run(int argc, char **argv);

// Shared helpers (cli/main.c).
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));   // returns 1
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3))); // returns 2
int cli_wants_help(int argc, char **argv);

#endif
