// config.c: BitNetConfig keys <-> bn_config.
#include "model/config.h"

#include <string.h>

#include "common/json.h"

const char *bn_act_name(bn_act a) { return a == BN_ACT_SILU ? "silu" : "relu2"; }

// bos/eos may be a number, an array of numbers (generation eos lists) or null.
static int token_id(const cJSON *root, const char *key, int *out, const char *path, tr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = -1;
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    if (!cJSON_IsNumber(v)) return tr_fail(err, "%s: key '%s' must be a token id", path, key);
    *out = v->valueint;
    return 0;
}

static int parse_quant(bn_config *c, const cJSON *root, const char *path, tr_err *err) {
    c->linear_class = BN_AUTOBITLINEAR;
    c->offline = 0;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quantization_config");
    if (!q || cJSON_IsNull(q)) return 0;
    if (!cJSON_IsObject(q)) return tr_fail(err, "%s: quantization_config must be an object", path);
    const char *method = NULL, *cls = NULL, *mode = NULL;
    if (json_opt_string(q, "quant_method", &method, path, err) || json_opt_string(q, "linear_class", &cls, path, err) ||
        json_opt_string(q, "quantization_mode", &mode, path, err))
        return -1;
    if (method && strcmp(method, "bitnet"))
        return tr_fail(err, "%s: quantization_config.quant_method '%s' is not 'bitnet'", path, method);
    if (cls) {
        if (!strcmp(cls, "autobitlinear")) c->linear_class = BN_AUTOBITLINEAR;
        else if (!strcmp(cls, "bitlinear")) c->linear_class = BN_BITLINEAR;
        else return tr_fail(err, "%s: unknown quantization_config.linear_class '%s' (expected bitlinear or autobitlinear)", path, cls);
    }
    if (mode) {
        if (!strcmp(mode, "offline")) c->offline = 1;
        else if (!strcmp(mode, "online")) c->offline = 0;
        else return tr_fail(err, "%s: unknown quantization_config.quantization_mode '%s' (expected online or offline)", path, mode);
    } else if (cls) {
        c->offline = 1;   // transformers' BitNetQuantConfig defaults to offline
    }
    int offline_flag = -1;
    if (json_opt_bool(q, "offline_quantization", &offline_flag, path, err)) return -1;
    if (offline_flag >= 0) c->offline = offline_flag;
    return 0;
}

int bn_config_parse(bn_config *c, const cJSON *root, const char *path, tr_err *err) {
    memset(c, 0, sizeof(*c));
    if (!cJSON_IsObject(root)) return tr_fail(err, "%s: expected a JSON object", path);
    const char *act = NULL;
    double eps = 1e-5;
    c->rope_theta = 10000.0;
    c->max_pos = 2048;
    c->tie_embeddings = 0;
    c->head_dim = 0;
    if (json_get_int(root, "vocab_size", &c->vocab_size, path, err) ||
        json_get_int(root, "hidden_size", &c->hidden_size, path, err) ||
        json_get_int(root, "intermediate_size", &c->intermediate_size, path, err) ||
        json_get_int(root, "num_hidden_layers", &c->n_layers, path, err) ||
        json_get_int(root, "num_attention_heads", &c->n_heads, path, err) ||
        json_get_string(root, "hidden_act", &act, path, err) ||
        json_opt_double(root, "rms_norm_eps", &eps, path, err) ||
        json_opt_double(root, "rope_theta", &c->rope_theta, path, err) ||
        json_opt_int(root, "max_position_embeddings", &c->max_pos, path, err) ||
        json_opt_bool(root, "tie_word_embeddings", &c->tie_embeddings, path, err) ||
        json_opt_int(root, "head_dim", &c->head_dim, path, err))
        return -1;
    c->n_kv_heads = c->n_heads;
    if (json_opt_int(root, "num_key_value_heads", &c->n_kv_heads, path, err)) return -1;
    c->rms_norm_eps = (float)eps;
    if (!strcmp(act, "relu2")) c->act = BN_ACT_RELU2;
    else if (!strcmp(act, "silu") || !strcmp(act, "swish")) c->act = BN_ACT_SILU;
    else return tr_fail(err, "%s: unknown hidden_act '%s' (expected relu2 or silu)", path, act);
    if (token_id(root, "bos_token_id", &c->bos_id, path, err) || token_id(root, "eos_token_id", &c->eos_id, path, err))
        return -1;
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(root, "attention_bias");
    if (cJSON_IsTrue(bias)) return tr_fail(err, "%s: attention_bias true is not supported (BitNet has no biases)", path);
    if (c->head_dim == 0 && c->n_heads > 0) c->head_dim = c->hidden_size / c->n_heads;
    if (parse_quant(c, root, path, err)) return -1;
    return bn_config_validate(c, path, err);
}

int bn_config_validate(const bn_config *c, const char *path, tr_err *err) {
    if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->intermediate_size <= 0 || c->n_layers <= 0 ||
        c->n_heads <= 0 || c->n_kv_heads <= 0)
        return tr_fail(err, "%s: sizes must be positive (vocab %d, hidden %d, intermediate %d, layers %d, heads %d, kv heads %d)",
                       path, c->vocab_size, c->hidden_size, c->intermediate_size, c->n_layers, c->n_heads, c->n_kv_heads);
    if (c->n_heads % c->n_kv_heads)
        return tr_fail(err, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", path, c->n_heads, c->n_kv_heads);
    if (c->head_dim * c->n_heads != c->hidden_size)
        return tr_fail(err, "%s: head_dim %d x %d heads != hidden_size %d", path, c->head_dim, c->n_heads, c->hidden_size);
    if (c->head_dim % 2) return tr_fail(err, "%s: head_dim %d must be even for RoPE", path, c->head_dim);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
        return tr_fail(err, "%s: rms_norm_eps and rope_theta must be positive", path);
    if (c->max_pos <= 0) return tr_fail(err, "%s: max_position_embeddings must be positive", path);
    return 0;
}

int bn_config_load(bn_config *c, const char *path, tr_err *err) {
    cJSON *root = json_load(path, err);
    if (!root) return -1;
    int rc = bn_config_parse(c, root, path, err);
    cJSON_Delete(root);
    return rc;
}

cJSON *bn_config_to_json(const bn_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("BitNetForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", "bitnet");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_pos);
    cJSON_AddNumberToObject(o, "rms_norm_eps", c->rms_norm_eps);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    cJSON_AddStringToObject(o, "hidden_act", bn_act_name(c->act));
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_embeddings);
    if (c->bos_id >= 0) cJSON_AddNumberToObject(o, "bos_token_id", c->bos_id);
    if (c->eos_id >= 0) cJSON_AddNumberToObject(o, "eos_token_id", c->eos_id);
    cJSON_AddBoolToObject(o, "attention_bias", 0);
    cJSON *q = cJSON_AddObjectToObject(o, "quantization_config");
    cJSON_AddStringToObject(q, "quant_method", "bitnet");
    cJSON_AddStringToObject(q, "linear_class", c->linear_class == BN_BITLINEAR ? "bitlinear" : "autobitlinear");
    cJSON_AddStringToObject(q, "quantization_mode", c->offline ? "offline" : "online");
    return o;
}
