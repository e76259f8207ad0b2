// h5_io.c: HDF5 model files <-> bn_model, and typed HDF5 helpers that name the file and object on error.
#include "model/h5_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

// HDF5 prints an error stack on every failed call unless told not to; trit reports errors itself.
static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static void shape_str(char *buf, size_t cap, int ndim, const hsize_t *dims) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

hid_t h5_create(const char *path, tr_err *err) {
    quiet();
    errno = 0;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        tr_fail(err, "%s: cannot create: %s", path, errno ? strerror(errno) : "HDF5 error");
        return -1;
    }
    if (h5_set_attr_str(f, "/", "format", H5IO_FORMAT, path, err) ||
        h5_set_attr_i64(f, "/", "format_version", H5IO_VERSION, path, err)) {
        H5Fclose(f);
        return -1;
    }
    return f;
}

hid_t h5_open(const char *path, tr_err *err) {
    quiet();
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        tr_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    fclose(fp);
    if (H5Fis_hdf5(path) <= 0) {
        tr_fail(err, "%s: not an HDF5 file (bad signature or truncated)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        tr_fail(err, "%s: cannot open as HDF5 (damaged or truncated file)", path);
        return -1;
    }
    if (H5Aexists(f, "format") <= 0) {
        H5Fclose(f);
        tr_fail(err, "%s: not a trit checkpoint (no 'format' attribute on /)", path);
        return -1;
    }
    char *format = NULL;
    int64_t version = 0;
    int rc = h5_get_attr_str(f, "/", "format", &format, path, err);
    if (!rc && strcmp(format, H5IO_FORMAT)) rc = tr_fail(err, "%s: format is '%s', expected '%s'", path, format, H5IO_FORMAT);
    if (!rc) rc = h5_get_attr_i64(f, "/", "format_version", &version, path, err);
    if (!rc && (version < 1 || version > H5IO_VERSION))
        rc = tr_fail(err, "%s: format_version %lld is not one this trit reads (1..%d)", path, (long long)version, H5IO_VERSION);
    free(format);
    if (rc) {
        H5Fclose(f);
        return -1;
    }
    return f;
}

void h5_close(hid_t file) {
    if (file >= 0) H5Fclose(file);
}

int h5_exists(hid_t file, const char *name) {
    char buf[1024];
    if (!strcmp(name, "/")) return 1;
    snprintf(buf, sizeof(buf), "%s", name);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return 0;
            if (c == '\0') return 1;
            *p = c;
        }
    }
}

int h5_make_group(hid_t file, const char *name, const char *path, tr_err *err) {
    if (h5_exists(file, name)) return 0;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return tr_fail(err, "%s: cannot create group %s", path, name);
    H5Gclose(g);
    return 0;
}

// Creates dataset `name` (intermediate groups too) of file type ftype over space.
static hid_t create_dataset(hid_t file, const char *name, hid_t ftype, hid_t space) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return d;
}

int h5_write_f32(hid_t file, const char *name, int ndim, const int *shape, const float *data, const char *path,
                 tr_err *err) {
    hsize_t dims[8];
    CHECK(ndim >= 1 && ndim <= 8, "rank %d", ndim);
    for (int i = 0; i < ndim; i++) dims[i] = (hsize_t)shape[i];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t d = create_dataset(file, name, H5T_IEEE_F32LE, space);
    herr_t w = d >= 0 ? H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    return w < 0 ? tr_fail(err, "%s: cannot write dataset %s (disk full?)", path, name) : 0;
}

int h5_read_f32(hid_t file, const char *name, int ndim, const int *shape, float *out, const char *path, tr_err *err) {
    if (!h5_exists(file, name)) return tr_fail(err, "%s: missing dataset %s", path, name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return tr_fail(err, "%s: %s is not a dataset", path, name);
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    int rc = 0;
    hsize_t dims[8], want[8];
    int nd = H5Sget_simple_extent_ndims(space);
    for (int i = 0; i < ndim; i++) want[i] = (hsize_t)shape[i];
    if (H5Tget_class(type) != H5T_FLOAT) {
        rc = tr_fail(err, "%s: dataset %s is not a float dataset", path, name);
    } else if (nd != ndim || nd > 8 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 ||
               memcmp(dims, want, sizeof(hsize_t) * (size_t)ndim)) {
        char got[96] = "?", exp[96];
        if (nd >= 0 && nd <= 8) {
            H5Sget_simple_extent_dims(space, dims, NULL);
            shape_str(got, sizeof(got), nd, dims);
        }
        shape_str(exp, sizeof(exp), ndim, want);
        rc = tr_fail(err, "%s: dataset %s has shape %s, expected %s", path, name, got, exp);
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        rc = tr_fail(err, "%s: cannot read dataset %s (damaged file?)", path, name);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(d);
    return rc;
}

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

// Reads a string attribute (is_attr) or dataset `id`, fixed or variable length, into a new buffer.
static int read_string(hid_t id, int is_attr, char **out) {
    hid_t type = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    int rc = -1;
    *out = NULL;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) {
        if (H5Tis_variable_str(type) > 0) {
            hid_t mt = vlen_str_type();
            char *s = NULL;
            herr_t r = is_attr ? H5Aread(id, mt, &s) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
            if (r >= 0 && s) {
                *out = tr_strdup(s);
                rc = 0;
            }
            if (s) H5free_memory(s);
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(type);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n);
            char *s = tr_calloc(n + 1, 1);
            herr_t r = is_attr ? H5Aread(id, mt, s) : H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
            if (r >= 0) {
                *out = s;
                rc = 0;
            } else free(s);
            H5Tclose(mt);
        }
    }
    if (type >= 0) H5Tclose(type);
    return rc;
}

int h5_write_text(hid_t file, const char *name, const char *text, const char *path, tr_err *err) {
    hid_t t = vlen_str_type(), space = H5Screate(H5S_SCALAR);
    hid_t d = create_dataset(file, name, t, space);
    herr_t w = d >= 0 ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
    return w < 0 ? tr_fail(err, "%s: cannot write dataset %s (disk full?)", path, name) : 0;
}

int h5_read_text(hid_t file, const char *name, char **out, const char *path, tr_err *err) {
    if (!h5_exists(file, name)) return tr_fail(err, "%s: missing dataset %s", path, name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return tr_fail(err, "%s: %s is not a dataset", path, name);
    int rc = read_string(d, 0, out);
    H5Dclose(d);
    return rc ? tr_fail(err, "%s: dataset %s is not a string", path, name) : 0;
}

// Opens attribute attr of obj for reading; -1 with a message naming both when absent.
static hid_t open_attr(hid_t file, const char *obj, const char *attr, const char *path, tr_err *err) {
    if (!h5_exists(file, obj)) {
        tr_fail(err, "%s: missing group %s", path, obj);
        return -1;
    }
    if (H5Aexists_by_name(file, obj, attr, H5P_DEFAULT) <= 0) {
        tr_fail(err, "%s: missing attribute '%s' on %s", path, attr, obj);
        return -1;
    }
    hid_t a = H5Aopen_by_name(file, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) tr_fail(err, "%s: cannot open attribute '%s' on %s", path, attr, obj);
    return a;
}

// Writes attribute attr on obj (replacing an old one): n elements (n == 0: scalar) of mtype stored as ftype.
static int write_attr(hid_t file, const char *obj, const char *attr, hid_t ftype, hid_t mtype, int n, const void *v,
                      const char *path, tr_err *err) {
    if (H5Aexists_by_name(file, obj, attr, H5P_DEFAULT) > 0) H5Adelete_by_name(file, obj, attr, H5P_DEFAULT);
    hsize_t dim = (hsize_t)n;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate_by_name(file, obj, attr, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = a >= 0 ? H5Awrite(a, mtype, v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    return w < 0 ? tr_fail(err, "%s: cannot write attribute '%s' on %s", path, attr, obj) : 0;
}

int h5_set_attr_str(hid_t file, const char *obj, const char *attr, const char *value, const char *path, tr_err *err) {
    hid_t t = vlen_str_type();
    int rc = write_attr(file, obj, attr, t, t, 0, &value, path, err);
    H5Tclose(t);
    return rc;
}

int h5_get_attr_str(hid_t file, const char *obj, const char *attr, char **out, const char *path, tr_err *err) {
    hid_t a = open_attr(file, obj, attr, path, err);
    if (a < 0) return -1;
    int rc = read_string(a, 1, out);
    H5Aclose(a);
    return rc ? tr_fail(err, "%s: attribute '%s' on %s is not a string", path, attr, obj) : 0;
}

int h5_set_attr_i64(hid_t file, const char *obj, const char *attr, int64_t value, const char *path, tr_err *err) {
    return write_attr(file, obj, attr, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &value, path, err);
}

// Reads n integers (n == 0: one scalar) of attribute attr into out through mtype.
static int read_int_attr(hid_t file, const char *obj, const char *attr, hid_t mtype, int n, void *out,
                         const char *path, tr_err *err) {
    hid_t a = open_attr(file, obj, attr, path, err);
    if (a < 0) return -1;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    int rc = 0;
    if (H5Tget_class(type) != H5T_INTEGER) rc = tr_fail(err, "%s: attribute '%s' on %s is not an integer", path, attr, obj);
    else if (count != (n ? n : 1))
        rc = tr_fail(err, "%s: attribute '%s' on %s has %lld values, expected %d", path, attr, obj, (long long)count, n ? n : 1);
    else if (H5Aread(a, mtype, out) < 0) rc = tr_fail(err, "%s: cannot read attribute '%s' on %s", path, attr, obj);
    H5Tclose(type);
    H5Sclose(space);
    H5Aclose(a);
    return rc;
}

int h5_get_attr_i64(hid_t file, const char *obj, const char *attr, int64_t *out, const char *path, tr_err *err) {
    return read_int_attr(file, obj, attr, H5T_NATIVE_INT64, 0, out, path, err);
}

int h5_set_attr_u64s(hid_t file, const char *obj, const char *attr, int n, const uint64_t *v, const char *path,
                     tr_err *err) {
    return write_attr(file, obj, attr, H5T_STD_U64LE, H5T_NATIVE_UINT64, n, v, path, err);
}

int h5_get_attr_u64s(hid_t file, const char *obj, const char *attr, int n, uint64_t *out, const char *path,
                     tr_err *err) {
    return read_int_attr(file, obj, attr, H5T_NATIVE_UINT64, n, out, path, err);
}

// ---- the model ----

int h5_write_model(hid_t file, const bn_model *m, const char *path, tr_err *err) {
    CHECK(!m->ternary, "an HDF5 model file holds latent f32 weights, not a packed model");
    cJSON *cfg = bn_config_to_json(&m->cfg);
    char *text = cJSON_Print(cfg);
    cJSON_Delete(cfg);
    int rc = h5_make_group(file, "/model", path, err) || h5_set_attr_str(file, "/model", "config_json", text, path, err);
    free(text);
    char name[160];
    for (int i = 0; !rc && i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        snprintf(name, sizeof(name), "/model/%s", p->name);
        rc = h5_write_f32(file, name, p->ndim, p->shape, m->data + p->offset, path, err);
    }
    return rc ? -1 : 0;
}

int h5_read_model(bn_model *m, hid_t file, const char *path, int with_grad, tr_err *err) {
    memset(m, 0, sizeof(*m));
    char *text = NULL;
    if (h5_get_attr_str(file, "/model", "config_json", &text, path, err)) return -1;
    char label[1200];
    snprintf(label, sizeof(label), "%s (/model config_json)", path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return tr_fail(err, "%s: malformed JSON", label);
    bn_config cfg;
    int rc = bn_config_parse(&cfg, root, label, err);
    cJSON_Delete(root);
    if (rc) return -1;
    if (cfg.offline) return tr_fail(err, "%s: quantization_mode offline, but HDF5 files hold latent f32 weights", label);
    bn_model_init(m, &cfg, with_grad);
    char name[160];
    for (int i = 0; i < m->n_params; i++) {
        const bn_param *p = &m->params[i];
        snprintf(name, sizeof(name), "/model/%s", p->name);
        if (h5_read_f32(file, name, p->ndim, p->shape, m->data + p->offset, path, err)) {
            bn_model_free(m);
            return -1;
        }
    }
    return 0;
}

int h5_load_model(bn_model *m, const char *path, int with_grad, tr_err *err) {
    hid_t f = h5_open(path, err);
    if (f < 0) return -1;
    int rc = h5_read_model(m, f, path, with_grad, err);
    h5_close(f);
    return rc;
}
