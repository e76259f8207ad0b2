// textsrc.h: documents from input files, in input order, a batch at a time.
//
// A .jsonl file holds one JSON object per line with a string field "text" (blank lines are skipped;
// other fields are ignored). Any other file is text: documents are separated by one or more blank
// lines (lines of spaces, tabs and CRs only); a document runs from the start of its first line to the
// end of its last line, without that line's "\n" / "\r\n"; inner lines are kept byte for byte. With
// doc_per_file, a text file is one document, byte for byte. Empty documents are skipped.
#ifndef TRIT_DATA_TEXTSRC_H
#define TRIT_DATA_TEXTSRC_H

#include <stddef.h>

#include "common/check.h"

typedef struct {
    const char *text;   // valid until the next ts_next / ts_close
    size_t len;
} ts_doc;

typedef struct {
    ts_doc *docs;
    size_t n, cap;
    size_t bytes;              // sum of len
    char *own;                 // storage for decoded .jsonl texts
    size_t own_len, own_cap;
} ts_batch;                    // zero it before first use
void ts_batch_free(ts_batch *b);

typedef struct ts_reader ts_reader;

// Maps every input up front, so a missing or unreadable file fails before any work: "PATH: cannot open: ...".
int ts_open(ts_reader **out, const char *const *paths, int n_paths, int doc_per_file, tr_err *err);
void ts_close(ts_reader *r);   // accepts NULL

// Replaces b's contents with the next documents, about max_bytes of text (always at least one document
// unless the input is exhausted). Returns the number of documents (0 at the end), or -1 with err set:
// "PATH: line N: malformed JSON near column C", "PATH: line N: no \"text\" field", ...
long ts_next(ts_reader *r, ts_batch *b, size_t max_bytes, tr_err *err);

size_t ts_bytes_done(const ts_reader *r);    // input bytes consumed so far
size_t ts_bytes_total(const ts_reader *r);   // size of all inputs

#endif
