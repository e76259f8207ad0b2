// run.h: what `trit run` (cli/run.c) and its chat mode (cli/chat.c) share: a loaded model with its
// tokenizer, KV cache and sampler, and the generation loop that streams text.
#ifndef TRIT_CLI_RUN_H
#define TRIT_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "common/gguf.h"
#include "data/tokenizer.h"
#include "kernels/engine.h"
#include "kernels/sample.h"

typedef struct {
    const char *model, *prompt, *prompt_ids, *tokenizer, *system, *chat_template, *lora;
    int n, ctx, threads, chat, print_ids, quiet, show_prompt;
    samp_params sp;
} run_args;

typedef struct {
    const run_args *a;
    gguf_file *g;
    eng_model m;
    eng_ctx c;
    tok_tokenizer *tok;   // NULL only with --prompt-ids and --ids
    int add_bos;          // prompts start with BOS
    int32_t stop[8];      // end-of-text / end-of-turn ids
    int n_stop;
    samp_state s;
    tok_ids hist;         // the tokens in the cache, in order (for shifting a full context)
    float *logits;        // (V) after the last forward
    char pending[64];     // bytes of an incomplete UTF-8 character, held back
    size_t n_pending;
    int n_prompt, n_gen, n_decode;   // statistics
    double t_prompt, t_decode;
} run_session;

double run_now(void);
// Runs ids (appending to the cache) and leaves the last token's logits in r->logits; each id goes into the
// sampler's repeat-penalty history.
int run_feed(run_session *r, const int32_t *ids, int n, tr_err *err);
// Samples up to max_new tokens from r->logits and streams them (text, or ids with --ids). Stops at an
// end-of-text / end-of-turn token (not printed; *stop_tok = its id, else -1). Every printed token is fed
// back, so the cache holds the whole conversation. A full context: in chat mode generation stops
// (*full = 1); otherwise the context shifts as llama.cpp's does: the BOS (if any) and the newer half of
// the tokens are kept and run again, and generation goes on. Returns the count, or -1.
int run_generate(run_session *r, int max_new, int32_t *stop_tok, int *full, tr_err *err);
// Writes held-back bytes (at the end of a reply).
void run_flush(run_session *r);
// With --show-prompt: one stderr line with the tokens about to run (count, then their text, escaped).
void run_show(const run_session *r, const int32_t *ids, size_t n);

// The chat loop (cli/chat.c): lines from stdin, one reply per line, the cache kept across turns.
int run_chat(run_session *r, tr_err *err);

#endif
