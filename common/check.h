// check.h: fail-fast checks, checked allocation and error status for library code.
//
// CHECK(cond, fmt, ...) never compiles out: it prints file:line, the failed expression and a hint,
// then exits with status 1. It is for programmer errors and impossible states. Code that reads user
// input (files, configs, flags) instead returns -1 and fills a tr_err, which the CLI prints as one line.
#ifndef TRIT_CHECK_H
#define TRIT_CHECK_H

#include <stddef.h>

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) tr_die(__FILE__, __LINE__, #cond, __VA_ARGS__);        \
    } while (0)

void tr_die(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

// Error status for recoverable failures: functions return 0 on success, -1 with err->msg set.
typedef struct {
    char msg[1024];
} tr_err;

// Formats the message into err (if not NULL) and returns -1, so `return tr_fail(err, ...)` reads well.
int tr_fail(tr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// malloc/calloc/realloc that CHECK on failure; sizes in bytes. tr_alloc_aligned gives 64-byte alignment.
void *tr_malloc(size_t bytes);
void *tr_calloc(size_t count, size_t size);
void *tr_realloc(void *p, size_t bytes);
void *tr_alloc_aligned(size_t bytes);
// For big buffers streamed from memory (the engine's weights): 2 MiB aligned, and the kernel asked for
// transparent huge pages (honoured when /sys/kernel/mm/transparent_hugepage/enabled is madvise or always).
// One TLB entry and one prefetch stream per 2 MiB instead of per 4 KiB: decode reads its ternary panels
// 13-16% faster when the machine's bandwidth is high (docs/inference.md). Freed with free().
#define TR_HUGE_PAGE ((size_t)2 << 20)   // the x86-64 huge page tr_alloc_huge aligns to
void *tr_alloc_huge(size_t bytes);
char *tr_strdup(const char *s);

#endif
