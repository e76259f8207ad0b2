// mapfile.h: a whole file mapped read-only (input text, llm.c / nanoGPT .bin token files, shards).
#ifndef TRIT_DATA_MAPFILE_H
#define TRIT_DATA_MAPFILE_H

#include <stddef.h>

#include "common/check.h"

typedef struct {
    const unsigned char *data;   // NULL for an empty file
    size_t size;
} mf_file;

// Errors: "PATH: cannot open: ...", "PATH: is a directory", "PATH: cannot map: ...".
int mf_open(mf_file *f, const char *path, tr_err *err);
void mf_close(mf_file *f);   // accepts a zeroed struct

#endif
