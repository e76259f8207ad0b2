#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void tr_die(const char *file, int line, const char *expr, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "trit: %s:%d: check failed: %s: ", file, line, expr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

int tr_fail(tr_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return -1;
}

void *tr_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    CHECK(p != NULL, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *tr_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    CHECK(p != NULL, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *tr_realloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    CHECK(q != NULL, "out of memory reallocating to %zu bytes", bytes);
    return q;
}

void *tr_alloc_aligned(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    CHECK(posix_memalign(&p, 64, rounded ? rounded : 64) == 0, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *tr_alloc_huge(size_t bytes) {
    size_t rounded = (bytes + TR_HUGE_PAGE - 1) / TR_HUGE_PAGE * TR_HUGE_PAGE;
    void *p = NULL;
    CHECK(posix_memalign(&p, TR_HUGE_PAGE, rounded ? rounded : TR_HUGE_PAGE) == 0, "out of memory allocating %zu bytes", bytes);
#ifdef MADV_HUGEPAGE
    madvise(p, rounded ? rounded : TR_HUGE_PAGE, MADV_HUGEPAGE);   // advice only: without huge pages it still works
#endif
    return p;
}

char *tr_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = tr_malloc(n);
    memcpy(d, s, n);
    return d;
}
