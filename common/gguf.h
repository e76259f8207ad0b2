// gguf.h: the GGUF container (llama.cpp / ggml model files, versions 2 and 3): a memory-mapped reader that
// validates everything before use, and a writer that writes a temporary file and renames it.
//
// Layout (little-endian; docs/formats.md has it byte by byte):
//   "GGUF", u32 version, u64 n_tensors, u64 n_kv
//   n_kv x   { string key, u32 value type, value }           string = u64 length + bytes (no NUL)
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset }
//   zero padding to the alignment (key general.alignment, u32, default 32), then the data section;
//   each tensor's data starts at data section + offset, offset a multiple of the alignment.
// ne[0] is the row length (fastest varying). Value types: see gguf_vtype; arrays hold one element type
// and may nest.
//
// gguf_open checks: magic, version 2 or 3, counts against the file size, every string and array inside
// the file, known value types, bool values 0 or 1, no duplicate keys or tensor names, general.alignment
// a UINT32 power of two, n_dims <= 4, known tensor types, ne[0] a multiple of the type's block size,
// sizes without overflow, offsets aligned, data ranges inside the file and not overlapping.
// Errors read "PATH: problem" (tr_err), e.g. "m.gguf: tensor 'x' has unknown type 23".
#ifndef TRIT_GGUF_H
#define TRIT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

// Metadata value types (the ids stored in the file).
typedef enum {
    GGUF_VAL_UINT8 = 0,
    GGUF_VAL_INT8 = 1,
    GGUF_VAL_UINT16 = 2,
    GGUF_VAL_INT16 = 3,
    GGUF_VAL_UINT32 = 4,
    GGUF_VAL_INT32 = 5,
    GGUF_VAL_FLOAT32 = 6,
    GGUF_VAL_BOOL = 7,
    GGUF_VAL_STRING = 8,
    GGUF_VAL_ARRAY = 9,
    GGUF_VAL_UINT64 = 10,
    GGUF_VAL_INT64 = 11,
    GGUF_VAL_FLOAT64 = 12,
    GGUF_VAL_COUNT
} gguf_vtype;

// ggml tensor types. Every standard ggml type is known by size, so a foreign file's tensors are sized
// right; trit computes with F32, F16, BF16, Q8_0, TQ1_0, TQ2_0 and I2_S. I2_S (36) is bitnet.cpp's
// 2-bit ternary type: n/4 bytes of codes then a 32-byte tail whose first 4 bytes are the f32 scale.
typedef enum {
    GGUF_TYPE_F32 = 0,
    GGUF_TYPE_F16 = 1,
    GGUF_TYPE_Q4_0 = 2,
    GGUF_TYPE_Q4_1 = 3,
    GGUF_TYPE_Q5_0 = 6,
    GGUF_TYPE_Q5_1 = 7,
    GGUF_TYPE_Q8_0 = 8,
    GGUF_TYPE_Q8_1 = 9,
    GGUF_TYPE_Q2_K = 10,
    GGUF_TYPE_Q3_K = 11,
    GGUF_TYPE_Q4_K = 12,
    GGUF_TYPE_Q5_K = 13,
    GGUF_TYPE_Q6_K = 14,
    GGUF_TYPE_Q8_K = 15,
    GGUF_TYPE_IQ2_XXS = 16,
    GGUF_TYPE_IQ2_XS = 17,
    GGUF_TYPE_IQ3_XXS = 18,
    GGUF_TYPE_IQ1_S = 19,
    GGUF_TYPE_IQ4_NL = 20,
    GGUF_TYPE_IQ3_S = 21,
    GGUF_TYPE_IQ2_S = 22,
    GGUF_TYPE_IQ4_XS = 23,
    GGUF_TYPE_I8 = 24,
    GGUF_TYPE_I16 = 25,
    GGUF_TYPE_I32 = 26,
    GGUF_TYPE_I64 = 27,
    GGUF_TYPE_F64 = 28,
    GGUF_TYPE_IQ1_M = 29,
    GGUF_TYPE_BF16 = 30,
    GGUF_TYPE_TQ1_0 = 34,
    GGUF_TYPE_TQ2_0 = 35,
    GGUF_TYPE_I2_S = 36,
    GGUF_TYPE_MXFP4 = 39,
    GGUF_TYPE_NVFP4 = 40,
    GGUF_TYPE_COUNT = 41
} gguf_type;

// Type traits: name ("TQ2_0"; NULL for an unknown id), elements per block and bytes per block
// (0 for unknown ids; I2_S reports 1 and 1, its size is special: see gguf_nbytes).
const char *gguf_type_name(uint32_t type);
uint32_t gguf_blck_size(uint32_t type);
uint32_t gguf_type_size(uint32_t type);
const char *gguf_vtype_name(uint32_t vtype);   // "UINT32", ...; "?" for an unknown id

// Bytes of a tensor of `type` with ne[0..n_dims): (ne0 / blck) * type_size * ne1 * ne2 * ne3, or
// n/4 + 32 for I2_S. Returns 0 and stores the size, or -1 (unknown type, ne0 not a multiple of the
// block size, or overflow).
int gguf_nbytes(uint64_t *out, uint32_t type, int n_dims, const int64_t *ne);

// A string from the file: NUL-terminated copy plus its length (it may hold NUL bytes).
typedef struct {
    const char *s;
    uint64_t len;
} gguf_str;

// A metadata value. Arrays: `items` holds `n` elements of `elem`: packed little-endian scalars (read
// them with gguf_arr_int / gguf_arr_float, they may be unaligned), gguf_str[] for STRING, gguf_value[]
// for nested ARRAY.
typedef struct gguf_value {
    gguf_vtype type;
    union {
        uint64_t u;   // UINT8, UINT16, UINT32, UINT64, BOOL (0 or 1)
        int64_t i;    // INT8, INT16, INT32, INT64
        float f32;    // FLOAT32
        double f64;   // FLOAT64
        gguf_str str; // STRING
        struct {
            gguf_vtype elem;
            uint64_t n;
            const void *items;
        } arr;        // ARRAY
    };
} gguf_value;

typedef struct {
    const char *key;
    gguf_value val;
} gguf_kv;

typedef struct {
    const char *name;
    uint32_t type;          // gguf_type
    int n_dims;             // 0..4
    int64_t ne[GGUF_MAX_DIMS]; // ne[0] = row length; dims past n_dims are 1
    uint64_t offset;        // from the start of the data section
    size_t nbytes;
    const void *data;       // into the mapped file (read-only)
} gguf_tensor;

int64_t gguf_nelements(const gguf_tensor *t);

// ---------------------------------------------------------------------------------------------------
// Reader

typedef struct gguf_file gguf_file;

int gguf_open(gguf_file **out, const char *path, tr_err *err);
void gguf_close(gguf_file *f);   // accepts NULL
const char *gguf_path(const gguf_file *f);
uint32_t gguf_version(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
size_t gguf_data_offset(const gguf_file *f);   // file offset of the data section

int gguf_n_kv(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, int i);             // in file order
const gguf_value *gguf_find(const gguf_file *f, const char *key);  // NULL when absent

// Typed getters: 0 and the value, or -1 with "PATH: key 'K' is missing" / "... is STRING, want an
// unsigned integer" / "... value 70000 does not fit UINT16". Integers convert between widths when the
// value fits; floats accept FLOAT32 and FLOAT64. The _opt forms return 0 and leave *out alone when the
// key is absent. Strings point into the file's storage (valid until gguf_close).
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, tr_err *err);
int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out, tr_err *err);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out, tr_err *err);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, tr_err *err);
int gguf_get_bool(const gguf_file *f, const char *key, int *out, tr_err *err);
int gguf_get_str(const gguf_file *f, const char *key, const char **out, tr_err *err);
// An array whose elements are `elem` (GGUF_VAL_COUNT: any element type).
int gguf_get_arr(const gguf_file *f, const char *key, gguf_vtype elem, const gguf_value **out, tr_err *err);
int gguf_opt_u32(const gguf_file *f, const char *key, uint32_t *out, tr_err *err);
int gguf_opt_f32(const gguf_file *f, const char *key, float *out, tr_err *err);
int gguf_opt_str(const gguf_file *f, const char *key, const char **out, tr_err *err);

// Array elements (CHECKed: i < n and the element type fits the accessor).
int64_t gguf_arr_int(const gguf_value *arr, uint64_t i);     // any integer or BOOL element (UINT64 > 2^63 wraps)
double gguf_arr_float(const gguf_value *arr, uint64_t i);    // FLOAT32 or FLOAT64 element
const gguf_str *gguf_arr_str(const gguf_value *arr, uint64_t i);
const gguf_value *gguf_arr_val(const gguf_value *arr, uint64_t i);   // nested arrays

int gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int i);               // in file order
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);  // NULL when absent

// ---------------------------------------------------------------------------------------------------
// Writer: collects KVs (copied) and tensors (pointers: keep the data alive until gguf_writer_write),
// in insertion order. Setting a key twice replaces its value in place. general.alignment, if set
// (UINT32, a power of two), sets the alignment; default 32. Misuse (unknown type, ne0 not a multiple of
// the block size, a tensor name added twice or longer than 63 bytes) is a CHECK failure.

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_init(void);
void gguf_writer_free(gguf_writer *w);   // accepts NULL
void gguf_set_u8(gguf_writer *w, const char *key, uint8_t v);
void gguf_set_i8(gguf_writer *w, const char *key, int8_t v);
void gguf_set_u16(gguf_writer *w, const char *key, uint16_t v);
void gguf_set_i16(gguf_writer *w, const char *key, int16_t v);
void gguf_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_set_i64(gguf_writer *w, const char *key, int64_t v);
void gguf_set_f32(gguf_writer *w, const char *key, float v);
void gguf_set_f64(gguf_writer *w, const char *key, double v);
void gguf_set_bool(gguf_writer *w, const char *key, int v);
void gguf_set_str(gguf_writer *w, const char *key, const char *v);
// An array of n scalars of type elem (not STRING or ARRAY), from host-order values: uint8_t[] for
// UINT8, int32_t[] for INT32, float[] for FLOAT32, uint8_t 0/1 for BOOL, ... Copied.
void gguf_set_arr(gguf_writer *w, const char *key, gguf_vtype elem, const void *values, size_t n);
void gguf_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, size_t n);
// Any value, deep-copied, nested arrays included (e.g. one read by gguf_open).
void gguf_set_val(gguf_writer *w, const char *key, const gguf_value *v);
void gguf_add_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne, const void *data);
// Writes PATH.tmp.PID in PATH's folder and renames it to PATH; on error nothing is left behind.
int gguf_writer_write(const gguf_writer *w, const char *path, tr_err *err);

#endif
