// json.h: loading JSON files with cJSON, and typed getters whose errors name the file and the key.
#ifndef TRIT_JSON_H
#define TRIT_JSON_H

#include <cjson/cJSON.h>

#include "common/check.h"

// Reads and parses a whole file. Errors: "PATH: cannot open ...", "PATH: malformed JSON near byte N".
cJSON *json_load(const char *path, tr_err *err);

// Getters: return 0 and store the value, or -1 with "PATH: key 'K' is missing" / "... must be a number".
// `path` is only used in messages. The _opt variants leave *out untouched when the key is absent.
int json_get_int(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err);
int json_get_double(const cJSON *obj, const char *key, double *out, const char *path, tr_err *err);
int json_get_bool(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err);
int json_get_string(const cJSON *obj, const char *key, const char **out, const char *path, tr_err *err);
int json_opt_int(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err);
int json_opt_double(const cJSON *obj, const char *key, double *out, const char *path, tr_err *err);
int json_opt_bool(const cJSON *obj, const char *key, int *out, const char *path, tr_err *err);
int json_opt_string(const cJSON *obj, const char *key, const char **out, const char *path, tr_err *err);

#endif
