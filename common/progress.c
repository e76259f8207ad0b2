// progress.c: a status line on stderr, redrawn in place on a terminal, throttled plain lines otherwise.
#include "common/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, int quiet) {
    p->t0 = p->last = progress_now();
    p->plain_every = 10.0;
    p->tty = isatty(STDERR_FILENO);
    p->drawn = 0;
    p->quiet = quiet;
}

double progress_elapsed(const progress *p) {
    return progress_now() - p->t0;
}

static void print_line(progress *p, int final, const char *fmt, va_list ap) {
    if (p->tty) fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    if (p->tty) fputs("\033[K", stderr);   // clear what a longer previous line left
    if (final || !p->tty) fputc('\n', stderr);
    p->drawn = p->tty && !final;
    fflush(stderr);
}

int progress_update(progress *p, const char *fmt, ...) {
    if (p->quiet) return 0;
    double now = progress_now();
    if (now - p->last < (p->tty ? 0.1 : p->plain_every)) return 0;
    p->last = now;
    va_list ap;
    va_start(ap, fmt);
    print_line(p, 0, fmt, ap);
    va_end(ap);
    return 1;
}

void progress_done(progress *p, const char *fmt, ...) {
    if (p->quiet) return;
    p->last = progress_now();
    va_list ap;
    va_start(ap, fmt);
    print_line(p, 1, fmt, ap);
    va_end(ap);
}

void progress_clear(progress *p) {
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->drawn = 0;
}
