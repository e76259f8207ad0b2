// mapfile.c: read-only whole-file mappings.
#include "data/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mf_open(mf_file *f, const char *path, tr_err *err) {
    f->data = NULL;
    f->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tr_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: is a directory, not a file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tr_fail(err, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tr_fail(err, "%s: cannot map: %s", path, strerror(e));
        }
        f->data = p;
        f->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void mf_close(mf_file *f) {
    if (f->data) munmap((void *)f->data, f->size);
    f->data = NULL;
    f->size = 0;
}
