#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int n_pass, n_fail;   // per test binary; this file is linked only into tests

int t_check(int ok, const char *name, const char *fmt, ...) {
    if (ok) {
        n_pass++;
        printf("PASS %s\n", name);
    } else {
        n_fail++;
        printf("FAIL %s: ", name);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
    return ok;
}

int t_done(void) {
    printf("# %d checks passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

double t_rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

const char *t_golden(const char *rel) {
    static char buf[4096];
    snprintf(buf, sizeof(buf), "tests/golden/%s", rel);
    return buf;
}
