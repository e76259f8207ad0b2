#include "harness.h"

#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int n_pass, n_fail;   // per test binary; this file is linked only into tests
static char tmpdir[64];      // t_tmpdir, made on first use

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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int t_done(void) {
    if (tmpdir[0] && !getenv("TRIT_KEEP_TMP")) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("# %d checks passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

const char *t_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/trit-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tmpdir;
}

const char *t_tmp(const char *rel) {
    static char ring[8][512];
    static int k;
    char *b = ring[k++ % 8];
    snprintf(b, sizeof(ring[0]), "%s/%s", t_tmpdir(), rel);
    return b;
}

void t_write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
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
