// h5_io.h: trit's HDF5 model files (the weights part of a training checkpoint) <-> bn_model, plus the small
// HDF5 helpers the checkpoint code in train/ shares.
//
// Layout (docs/formats.md, "HDF5 checkpoints"): root attributes `format` = "trit-checkpoint" and
// `format_version` = 1; group /model with attribute `config_json` (the Hugging Face config.json text) and one
// f32 dataset per parameter under its Hugging Face name (/model/model.layers.0.self_attn.q_proj.weight, shape
// as in Hugging Face: (out, in) for linears, (C) for norms); optionally /tokenizer/tokenizer.json, the
// tokenizer.json text as a scalar UTF-8 string dataset. train/checkpoint.c adds /optim and /train.
// Everything reads back with h5py: f["model/model.norm.weight"][:], f["model"].attrs["config_json"].
//
// Readers validate before use and fail with "PATH: problem": not HDF5, a missing or unknown format, a newer
// format_version, a missing dataset, a wrong shape or type. HDF5's own error printing is switched off.
#ifndef TRIT_MODEL_H5_IO_H
#define TRIT_MODEL_H5_IO_H

#include <hdf5.h>
#include <stdint.h>

#include "common/check.h"
#include "model/bitnet.h"

#define H5IO_FORMAT "trit-checkpoint"
#define H5IO_VERSION 1

// Creates (truncates) path and writes the root format attributes. Returns the file id, or -1 with err set.
hid_t h5_create(const char *path, tr_err *err);
// Opens path read-only and validates the format attributes (a newer version is refused by name).
hid_t h5_open(const char *path, tr_err *err);
void h5_close(hid_t file);   // accepts a negative id

// /model: config_json attribute + one dataset per parameter of m (latent f32 weights).
int h5_write_model(hid_t file, const bn_model *m, const char *path, tr_err *err);
// Reads /model into m (allocated here with bn_model_init; gradients when with_grad). path is for messages.
int h5_read_model(bn_model *m, hid_t file, const char *path, int with_grad, tr_err *err);
// h5_open + h5_read_model + h5_close.
int h5_load_model(bn_model *m, const char *path, int with_grad, tr_err *err);

// ---- helpers; `name` is a path inside the file ("/optim/m/model.norm.weight"); missing groups are created
// on write; `path` (the file) is only used in messages ----
int h5_exists(hid_t file, const char *name);   // 1 if the object exists (every group on the way too)
// f32 dataset of shape (shape[0], ..., shape[ndim-1]).
int h5_write_f32(hid_t file, const char *name, int ndim, const int *shape, const float *data, const char *path,
                 tr_err *err);
// Reads a float dataset whose shape must be exactly `shape` into out (converted to f32).
int h5_read_f32(hid_t file, const char *name, int ndim, const int *shape, float *out, const char *path, tr_err *err);
// Scalar UTF-8 string dataset (any length).
int h5_write_text(hid_t file, const char *name, const char *text, const char *path, tr_err *err);
// Reads a string dataset into a new NUL-terminated buffer (free it). Missing dataset: -1 naming it.
int h5_read_text(hid_t file, const char *name, char **out, const char *path, tr_err *err);

// Attributes on the object `obj` ("/", "/model", "/train"; it must exist). Strings are variable-length UTF-8;
// integers are int64 / uint64 arrays. Readers fail naming the object and attribute when it is missing or of
// the wrong type or size.
int h5_set_attr_str(hid_t file, const char *obj, const char *attr, const char *value, const char *path, tr_err *err);
int h5_get_attr_str(hid_t file, const char *obj, const char *attr, char **out, const char *path, tr_err *err);
int h5_set_attr_i64(hid_t file, const char *obj, const char *attr, int64_t value, const char *path, tr_err *err);
int h5_get_attr_i64(hid_t file, const char *obj, const char *attr, int64_t *out, const char *path, tr_err *err);
int h5_set_attr_u64s(hid_t file, const char *obj, const char *attr, int n, const uint64_t *v, const char *path,
                     tr_err *err);
int h5_get_attr_u64s(hid_t file, const char *obj, const char *attr, int n, uint64_t *out, const char *path,
                     tr_err *err);
// Creates group `name` (and its parents) if missing.
int h5_make_group(hid_t file, const char *name, const char *path, tr_err *err);

#endif
