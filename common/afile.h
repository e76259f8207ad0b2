// afile.h: files written atomically. tr_afile_open creates PATH.tmp.PID in PATH's folder; writes go there;
// tr_afile_commit flushes, fsyncs and renames it over PATH only when every write succeeded, and otherwise
// removes it, so PATH is either the complete new file or untouched. Errors name PATH:
// "PATH: cannot write: No such file or directory".
#ifndef TRIT_AFILE_H
#define TRIT_AFILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/check.h"

typedef struct {
    FILE *fp;
    char *tmp;         // the temporary name
    const char *path;  // the final name (not copied: keep it alive until commit or abort)
    int failed;        // the first failed write's errno, or 0
} tr_afile;

int tr_afile_open(tr_afile *f, const char *path, tr_err *err);
// Writes n bytes (n may be 0); a failure is remembered and reported by commit. Returns 0 or -1.
int tr_afile_write(tr_afile *f, const void *p, size_t n);
int tr_afile_commit(tr_afile *f, tr_err *err);
void tr_afile_abort(tr_afile *f);   // removes the temporary file; accepts an unopened (zeroed) tr_afile

// The whole of data[0..n) as PATH, atomically.
int tr_write_file(const char *path, const void *data, size_t n, tr_err *err);

#endif
