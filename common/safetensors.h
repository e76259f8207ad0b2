// safetensors.h: the Hugging Face safetensors container, memory-mapped.
//
// Layout (little-endian): u64 N, then N bytes of JSON header {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}, then the data section; offsets are
// relative to the data section. st_open validates everything before use: header length within the
// file, JSON well-formed, known dtype, shape product * dtype size == end - begin, offsets within the data
// section. A directory is read as model.safetensors, or as the shards listed by
// model.safetensors.index.json ({"weight_map": {"name": "shard file"}}).
#ifndef TRIT_SAFETENSORS_H
#define TRIT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_U8, ST_I8, ST_I16, ST_I32, ST_I64, ST_BOOL, ST_NDTYPES } st_dtype;

#define ST_MAX_DIMS 8

typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const void *data;   // points into the mapped file (read-only)
    const char *file;   // path of the file (shard) holding it, for error messages
} st_tensor;

typedef struct st_file st_file;   // one file, or all shards of a sharded checkpoint

// path: a .safetensors file, a model.safetensors.index.json, or a directory holding either.
int st_open(st_file **out, const char *path, tr_err *err);
void st_close(st_file *f);                                   // accepts NULL
int st_count(const st_file *f);
const st_tensor *st_get(const st_file *f, int i);            // in file order (shards in index order)
const st_tensor *st_find(const st_file *f, const char *name); // NULL when absent
const char *st_path(const st_file *f);                       // the path given to st_open
const char *st_meta(const st_file *f, const char *key);      // __metadata__ value or NULL

const char *st_dtype_name(st_dtype t);   // "F32", ...
size_t st_dtype_size(st_dtype t);
size_t st_numel(const st_tensor *t);
// Converts an F32/F16/BF16/F64 tensor to f32 (numel floats). Returns -1 (err names the tensor) otherwise.
int st_read_f32(float *out, const st_tensor *t, tr_err *err);

// Writer: collects tensors (pointers, not copies: keep the data alive until st_writer_write) and writes
// one file to a temporary name in the same folder, then renames it, so no half-written file is left.
typedef struct st_writer st_writer;
st_writer *st_writer_init(void);
void st_writer_free(st_writer *w);   // accepts NULL
void st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape, const void *data);
void st_writer_meta(st_writer *w, const char *key, const char *value);
int st_writer_write(const st_writer *w, const char *path, tr_err *err);

#endif
