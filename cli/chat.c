// chat.c: `trit run --chat`: a conversation on stdin/stdout with the model's chat template, the KV cache kept
// across turns (each turn runs only its new tokens).
//
// Templates are known formats, picked by recognizing the file's tokenizer.chat_template (or --chat-template):
//   bitnet  (microsoft/bitnet-b1.58-2B-4T)  <BOS>System: S<|eot_id|>User: U<|eot_id|>Assistant: A<|eot_id|>...
//   llama3  (Llama 3 headers)  <BOS><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>
//           <|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
//   plain   (no template, or one not recognized)  S\nUser: U\nAssistant: A\n... (BOS when the file asks)
// A reply ends at the end-of-turn token, which goes into the cache as the template has it; a reply cut at
// -n tokens gets the template's end-of-turn text appended instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run.h"

typedef enum { TPL_BITNET, TPL_LLAMA3, TPL_PLAIN } tpl_kind;
static const char *tpl_names[] = {"bitnet", "llama3", "plain"};

static tpl_kind recognize(const char *tmpl) {
    if (!tmpl) return TPL_PLAIN;
    if (strstr(tmpl, "<|start_header_id|>")) return TPL_LLAMA3;
    if (strstr(tmpl, "Assistant:") && strstr(tmpl, "<|eot_id|>")) return TPL_BITNET;
    return TPL_PLAIN;
}

// Appends s to a growing string.
static void cat(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = tr_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

// The text of one user turn (and, on the first, the system message), up to where the reply begins.
static char *turn_text(tpl_kind k, const char *system, const char *user, int first) {
    char *b = NULL;
    size_t len = 0, cap = 0;
    cat(&b, &len, &cap, "");
    if (k == TPL_BITNET) {
        if (first && system) cat(&b, &len, &cap, "System: "), cat(&b, &len, &cap, system), cat(&b, &len, &cap, "<|eot_id|>");
        cat(&b, &len, &cap, "User: "), cat(&b, &len, &cap, user), cat(&b, &len, &cap, "<|eot_id|>Assistant: ");
    } else if (k == TPL_LLAMA3) {
        if (first && system)
            cat(&b, &len, &cap, "<|start_header_id|>system<|end_header_id|>\n\n"), cat(&b, &len, &cap, system), cat(&b, &len, &cap, "<|eot_id|>");
        cat(&b, &len, &cap, "<|start_header_id|>user<|end_header_id|>\n\n"), cat(&b, &len, &cap, user);
        cat(&b, &len, &cap, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    } else {
        if (first && system) cat(&b, &len, &cap, system), cat(&b, &len, &cap, "\n");
        cat(&b, &len, &cap, "User: "), cat(&b, &len, &cap, user), cat(&b, &len, &cap, "\nAssistant:");
    }
    return b;
}

// Leading and trailing whitespace removed in place (Llama 3's template trims messages; so do the others).
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

static int feed_text(run_session *r, const char *text, int bos, tr_err *err) {
    tok_ids ids = {0};
    if (bos) tok_ids_push(&ids, tok_bos(r->tok));
    tok_encode(r->tok, text, strlen(text), &ids);
    run_show(r, ids.ids, ids.n);
    double t0 = run_now();
    int rc = ids.n ? run_feed(r, ids.ids, (int)ids.n, err) : 0;
    r->t_prompt += run_now() - t0, r->n_prompt += (int)ids.n;
    tok_ids_free(&ids);
    return rc;
}

int run_chat(run_session *r, tr_err *err) {
    const run_args *a = r->a;
    tpl_kind k = TPL_PLAIN;
    if (a->chat_template) {
        for (int i = 0; i < 3; i++)
            if (!strcmp(a->chat_template, tpl_names[i])) k = (tpl_kind)i;
    } else k = recognize(tok_chat_template(r->tok));
    int bos = tok_bos(r->tok) >= 0 && (k != TPL_PLAIN || r->add_bos), interactive = isatty(0), first = 1, rc = 0;
    char *sys = a->system ? trim(tr_strdup(a->system)) : NULL, *line = NULL;
    size_t cap = 0;
    if (interactive) fprintf(stderr, "trit run: chat (%s template); one message per line, end with Ctrl-D\n", tpl_names[k]);
    while (!rc) {
        char *user;
        if (first && a->prompt) {
            free(line);
            line = tr_strdup(a->prompt);
            cap = strlen(line) + 1;
            user = trim(line);
        }
        else {
            if (interactive) fputs("> ", stderr);
            if (getline(&line, &cap, stdin) < 0) break;
            user = trim(line);
            if (!*user) continue;
        }
        char *text = turn_text(k, sys, user, first);
        rc = feed_text(r, text, first && bos, err);
        free(text);
        first = 0;
        if (rc) break;
        int32_t stop;
        int full;
        if (run_generate(r, a->n, &stop, &full, err) < 0) rc = -1;
        run_flush(r);
        putchar('\n');
        fflush(stdout);
        if (rc) break;
        if (full) rc = tr_fail(err, "the context of %d tokens is full; a larger --ctx gives a longer conversation", r->c.n_ctx);
        else if (stop >= 0) rc = run_feed(r, &stop, 1, err);   // the end-of-turn token, as the template has it
        else rc = feed_text(r, k == TPL_PLAIN ? "\n" : "<|eot_id|>", 0, err);
    }
    free(line);
    free(sys);
    return rc;
}
