// harness.h: the tiny test harness. Each check prints one line, "PASS name" or "FAIL name: why";
// tests/run.sh counts those lines over every test binary and script. t_done() returns the exit status.
#ifndef TRIT_TEST_HARNESS_H
#define TRIT_TEST_HARNESS_H

#include <stddef.h>

// Records one named check; prints PASS/FAIL (with the formatted detail on failure). Returns ok.
int t_check(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int t_done(void);   // prints a summary line for this binary; 0 if nothing failed, 1 otherwise

// Relative L2 error ||a - b|| / ||b|| (b is the reference); 0 when both are zero.
double t_rel_l2(const float *a, const float *b, size_t n);

// Path of the repository root's tests/golden folder entry (e.g. t_golden("hf-tiny-bitnet/x")).
const char *t_golden(const char *rel);

// This test binary's temporary folder (/tmp/trit-test-XXXXXX, made on first use, removed by t_done unless
// TRIT_KEEP_TMP is set), and a path in it (a ring of 8 buffers, so a few can be live at once).
const char *t_tmpdir(void);
const char *t_tmp(const char *rel);
// Writes n bytes to path; a failure ends the test binary (it cannot go on without its input).
void t_write_file(const char *path, const void *data, size_t n);

#endif
