// config.h: a BitNet b1.58 model configuration, read from a Hugging Face config.json (BitNetConfig keys).
#ifndef TRIT_MODEL_CONFIG_H
#define TRIT_MODEL_CONFIG_H

#include <cjson/cJSON.h>

#include "common/check.h"

typedef enum { BN_ACT_RELU2, BN_ACT_SILU } bn_act;

// How a packed checkpoint's weight_scale is applied (quantization_config.linear_class).
typedef enum {
    BN_AUTOBITLINEAR,   // W = (code - 1) * weight_scale  (microsoft/bitnet-b1.58-2B-4T)
    BN_BITLINEAR        // W = (code - 1) / weight_scale
} bn_linear_class;

typedef struct {
    int vocab_size, hidden_size, intermediate_size, n_layers, n_heads, n_kv_heads, head_dim;
    int max_pos;             // max_position_embeddings
    bn_act act;              // hidden_act
    float rms_norm_eps;
    double rope_theta;
    int tie_embeddings;      // tie_word_embeddings
    int bos_id, eos_id;      // -1 when absent
    bn_linear_class linear_class;
    int offline;             // quantization_mode "offline": linears are stored packed
} bn_config;

// Reads and validates PATH (a config.json); errors name the file and the key.
int bn_config_load(bn_config *c, const char *path, tr_err *err);
int bn_config_parse(bn_config *c, const cJSON *root, const char *path, tr_err *err);
// Checks the derived constraints (heads divide, even head_dim, positive sizes).
int bn_config_validate(const bn_config *c, const char *path, tr_err *err);
// Writes the config as Hugging Face config.json keys (caller frees with cJSON_Delete).
cJSON *bn_config_to_json(const bn_config *c);
const char *bn_act_name(bn_act a);

#endif
