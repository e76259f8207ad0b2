// afile.c: atomic file writes (afile.h).
#include "common/afile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tr_afile_open(tr_afile *f, const char *path, tr_err *err) {
    memset(f, 0, sizeof(*f));
    size_t len = strlen(path) + 32;
    f->tmp = tr_malloc(len);
    snprintf(f->tmp, len, "%s.tmp.%d", path, (int)getpid());
    f->path = path;
    f->fp = fopen(f->tmp, "wb");
    if (!f->fp) {
        int e = errno;
        free(f->tmp);
        f->tmp = NULL;
        return tr_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int tr_afile_write(tr_afile *f, const void *p, size_t n) {
    if (f->failed) return -1;
    if (n && fwrite(p, 1, n, f->fp) != n) {
        f->failed = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int tr_afile_commit(tr_afile *f, tr_err *err) {
    int e = f->failed;
    if (!e && (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0)) e = errno;
    if (fclose(f->fp) != 0 && !e) e = errno;
    f->fp = NULL;
    int rc = 0;
    if (e) rc = tr_fail(err, "%s: write failed: %s", f->path, strerror(e));
    else if (rename(f->tmp, f->path) != 0) rc = tr_fail(err, "%s: cannot rename %s into place: %s", f->path, f->tmp, strerror(errno));
    if (rc) unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    return rc;
}

void tr_afile_abort(tr_afile *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    memset(f, 0, sizeof(*f));
}

int tr_write_file(const char *path, const void *data, size_t n, tr_err *err) {
    tr_afile f;
    if (tr_afile_open(&f, path, err)) return -1;
    tr_afile_write(&f, data, n);
    return tr_afile_commit(&f, err);
}
