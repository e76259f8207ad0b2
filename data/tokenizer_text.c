// tokenizer_text.c: UTF-8, GPT-2's byte-level alphabet, and the pre-tokenizer (Split / ByteLevel steps).
//
// Regexes are run by PCRE2 (UTF + UCP, JIT when available). Hugging Face runs them with Oniguruma, whose
// \s is Unicode White_Space and whose \w is L|M|N|Pc; PCRE2's \s also matches U+180E and its \w lacks
// marks, so \s, \S, \w (and \W outside classes) are rewritten into explicit properties before compiling.
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"

int tok_utf8_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF;   // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;   // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
    } else return 0;
    if ((size_t)len > n || s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

uint32_t tok_utf8_decode(const uint8_t *s, int len) {
    switch (len) {
    case 1: return s[0];
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    default: return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    }
}

int tok_utf8_encode(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | cp >> 6); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

// bytes_to_unicode: printable bytes stand for themselves; the other 68 (0x00-0x20, 0x7F-0xA0, 0xAD)
// get U+0100.. in byte order.
static int byte_is_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t tok_byte_char(uint8_t b) {
    if (byte_is_printable(b)) return b;
    if (b <= 0x20) return 0x100 + b;
    if (b <= 0xA0) return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67;   // 0xAD
}

int tok_char_byte(uint32_t cp) {
    if (cp < 0x100) return byte_is_printable(cp) ? (int)cp : -1;
    if (cp < 0x100 + 33) return (int)(cp - 0x100);
    if (cp < 0x100 + 67) return (int)(cp - 0x100 - 33 + 0x7F);
    return cp == 0x100 + 67 ? 0xAD : -1;
}

int tok_is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void tok_spans_push(tok_spans *s, const char *p, size_t n) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = tr_realloc(s->v, s->cap * sizeof(tok_span));
    }
    s->v[s->n++] = (tok_span){p, n};
}

// Oniguruma's classes spelled for PCRE2 (see the file comment). Inside [...] only \s, \S and \w are
// rewritten (a negated class cannot nest).
static char *translate_regex(const char *pat) {
    size_t n = strlen(pat), o = 0;
    char *out = tr_malloc(24 * n + 1);
    int in_class = 0;
    for (size_t i = 0; i < n;) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            const char *rep = NULL;
            if (d == 's') rep = "\\p{White_Space}";
            else if (d == 'S') rep = "\\P{White_Space}";
            else if (d == 'w') rep = in_class ? "\\p{L}\\p{M}\\p{N}\\p{Pc}" : "[\\p{L}\\p{M}\\p{N}\\p{Pc}]";
            else if (d == 'W' && !in_class) rep = "[^\\p{L}\\p{M}\\p{N}\\p{Pc}]";
            if (rep) {
                memcpy(out + o, rep, strlen(rep));
                o += strlen(rep);
            } else {
                out[o++] = c;
                out[o++] = d;
            }
            i += 2;
        } else if (c == '[' && !in_class) {
            in_class = 1;
            out[o++] = pat[i++];
            if (i < n && pat[i] == '^') out[o++] = pat[i++];
            if (i < n && pat[i] == ']') out[o++] = pat[i++];   // a literal ] first in the class
        } else if (c == '[' && i + 1 < n && pat[i + 1] == ':') {   // [:alpha:] inside a class
            const char *end = strstr(pat + i + 2, ":]");
            size_t k = end ? (size_t)(end - pat) + 2 - i : n - i;
            memcpy(out + o, pat + i, k);
            o += k;
            i += k;
        } else {
            if (c == ']' && in_class) in_class = 0;
            out[o++] = pat[i++];
        }
    }
    out[o] = '\0';
    return out;
}

int tok_pretok_add_split(tok_pretok *pt, const char *pattern, int literal, int behavior, int invert, const char *path,
                         tr_err *err) {
    char *pcre = literal ? tr_strdup(pattern) : translate_regex(pattern);
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pcre, PCRE2_ZERO_TERMINATED, PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP),
                                   &code, &at, NULL);
    free(pcre);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        return tr_fail(err, "%s: pre_tokenizer regex '%.200s' does not compile: %s (at offset %zu)", path, pattern,
                       (const char *)msg, (size_t)at);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   // the interpreter runs it when JIT is unavailable
    pt->steps = tr_realloc(pt->steps, (size_t)(pt->n + 1) * sizeof(tok_prestep));
    pt->steps[pt->n++] = (tok_prestep){re, tr_strdup(pattern), behavior, invert, 0};
    return 0;
}

void tok_pretok_add_bytelevel(tok_pretok *pt, int add_prefix_space, int use_regex) {
    if (use_regex) CHECK(tok_pretok_add_split(pt, TOK_GPT2_REGEX, 0, TOK_ISOLATED, 0, "", NULL) == 0, "GPT-2 regex");
    else {
        pt->steps = tr_realloc(pt->steps, (size_t)(pt->n + 1) * sizeof(tok_prestep));
        pt->steps[pt->n++] = (tok_prestep){NULL, NULL, TOK_ISOLATED, 0, 0};
    }
    pt->steps[pt->n - 1].prefix_space = add_prefix_space;
}

void tok_pretok_free(tok_pretok *pt) {
    if (!pt) return;
    for (int i = 0; i < pt->n; i++) {
        pcre2_code_free(pt->steps[i].re);
        free(pt->steps[i].pattern);
    }
    free(pt->steps);
    memset(pt, 0, sizeof(*pt));
}

void tok_split_free(tok_split_work *w) {
    if (!w) return;
    pcre2_match_data_free(w->md);
    free(w->a.v);
    free(w->b.v);
    free(w->c.v);
    free(w->buf);
    free(w->flags);
    memset(w, 0, sizeof(*w));
}

static void piece_push(tok_split_work *w, const char *p, size_t n, int is_match) {
    tok_spans_push(&w->a, p, n);
    if (w->flags_cap < w->a.cap) {
        w->flags_cap = w->a.cap;
        w->flags = tr_realloc(w->flags, w->flags_cap * sizeof(int));
    }
    w->flags[w->a.n - 1] = is_match;
}

// Splits s[0..n) at the regex's matches: pieces (matches and the gaps between them) go to w->a with
// their match flags in w->flags, as Hugging Face's Pattern::find_matches lists them.
static void find_pieces(const tok_prestep *st, const char *s, size_t n, tok_split_work *w) {
    w->a.n = 0;
    size_t pos = 0, last = 0;
    while (pos <= n) {
        int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, w->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        CHECK(rc >= 0, "PCRE2 match error %d on pattern '%s'", rc, st->pattern);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
        size_t b = ov[0], e = ov[1];
        if (b > last) piece_push(w, s + last, b - last, 0);
        if (e > b) {
            piece_push(w, s + b, e - b, 1);
            pos = last = e;
        } else {   // an empty match keeps nothing; step over one character
            last = b;
            if (b >= n) break;
            int l = tok_utf8_len((const uint8_t *)s + b, n - b);
            pos = b + (l ? l : 1);
        }
    }
    if (last < n) piece_push(w, s + last, n - last, 0);
}

// Hugging Face's SplitDelimiterBehavior over the pieces in w->a, appending to out.
static void apply_behavior(int behavior, int invert, tok_split_work *w, tok_spans *out) {
    size_t k = w->a.n, base = out->n;
    const tok_span *v = w->a.v;
    int prev = 0;
    if (behavior == TOK_MERGED_NEXT) {   // walk backwards, then reverse what was added
        for (size_t j = k; j-- > 0;) {
            int m = w->flags[j] ^ invert;
            if (m && !prev && out->n > base) {
                tok_span *l = &out->v[out->n - 1];
                l->n += (size_t)(l->p - v[j].p);
                l->p = v[j].p;
            } else tok_spans_push(out, v[j].p, v[j].n);
            prev = m;
        }
        for (size_t a = base, b = out->n; a + 1 < b; a++, b--) {
            tok_span t = out->v[a];
            out->v[a] = out->v[b - 1];
            out->v[b - 1] = t;
        }
        return;
    }
    for (size_t j = 0; j < k; j++) {
        int m = w->flags[j] ^ invert;
        int merge = behavior == TOK_MERGED_PREV ? (m && !prev) : behavior == TOK_CONTIGUOUS ? (m == prev) : 0;
        if (behavior == TOK_REMOVED && m) {
        } else if (merge && out->n > base) {
            tok_span *l = &out->v[out->n - 1];
            l->n = (size_t)(v[j].p + v[j].n - l->p);
        } else tok_spans_push(out, v[j].p, v[j].n);
        prev = m;
    }
}

// One step over one piece: the ByteLevel prefix space, then the split.
static void run_step(const tok_prestep *st, tok_span in, tok_split_work *w, tok_spans *out) {
    if (st->prefix_space && in.p[0] != ' ') {
        char *d = w->buf + w->buf_len;
        d[0] = ' ';
        memcpy(d + 1, in.p, in.n);
        w->buf_len += in.n + 1;
        in = (tok_span){d, in.n + 1};
    }
    if (!st->re) {
        tok_spans_push(out, in.p, in.n);
        return;
    }
    find_pieces(st, in.p, in.n, w);
    apply_behavior(st->behavior, st->invert, w, out);
}

static void run_steps(const tok_pretok *pt, const char *s, size_t n, tok_split_work *w, tok_spans *out) {
    if (pt->n == 0) {
        tok_spans_push(out, s, n);
        return;
    }
    tok_spans *cur = &w->b, *nxt = &w->c;
    cur->n = 0;
    tok_spans_push(cur, s, n);
    for (int i = 0; i < pt->n; i++) {
        tok_spans *dst = i == pt->n - 1 ? out : nxt;
        if (dst == nxt) nxt->n = 0;
        for (size_t j = 0; j < cur->n; j++) run_step(&pt->steps[i], cur->v[j], w, dst);
        tok_spans *t = cur;
        cur = nxt;
        nxt = t;
    }
}

// Length of the valid UTF-8 run at s[0..n).
static size_t valid_run(const uint8_t *s, size_t n) {
    size_t i = 0;
    for (;;) {
        while (i + 8 <= n) {   // ASCII, 8 bytes at a time
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (x & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) return n;
        int l = tok_utf8_len(s + i, n - i);
        if (!l) return i;
        i += (size_t)l;
    }
}

void tok_pretok_split(const tok_pretok *pt, const char *text, size_t len, tok_split_work *w, tok_spans *out) {
    if (!w->md) w->md = pcre2_match_data_create(1, NULL);
    int prefix = 0;
    for (int i = 0; i < pt->n; i++) prefix |= pt->steps[i].prefix_space;
    if (prefix && w->buf_cap < 2 * len + 1) {   // each piece grows by at most one byte: no realloc mid-split
        free(w->buf);
        w->buf_cap = 2 * len + 1;
        w->buf = tr_malloc(w->buf_cap);
    }
    w->buf_len = 0;
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        size_t r = valid_run(s + i, len - i);
        if (r) run_steps(pt, text + i, r, w, out);
        i += r;
        if (i < len) tok_spans_push(out, text + i++, 1);   // one invalid byte, a pre-token of its own
    }
}
