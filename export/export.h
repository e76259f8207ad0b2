// export.h: trit models -> GGUF files (llama.cpp's "bitnet", bitnet.cpp's "bitnet-b1.58") and Hugging Face
// folders, trit's own GGUF exports read back into a model, and random models of any config in the same
// layouts (`trit synth`). docs/export.md describes the files; docs/formats.md ("GGUF as trit exports it")
// has the keys and tensor names the inference engine reads.
//
// Linears are ternary with one scale per tensor: a latent weight W becomes t = clamp(round(W / s), -1, 1)
// with s = mean|W| (the absmean quantizer of training, autograd/bitlinear.c, bit for bit); a model that
// already holds ternary values (a packed Hugging Face checkpoint, an imported GGUF) keeps them: t = sign(W),
// s = max|W|, never re-quantized.
//
// GGUF types of the linears (ex_type):
//   EX_I2_S   bitnet.cpp's I2_S (36), x86 layout, arch "bitnet-b1.58", general.file_type 40. K % 128.
//   EX_TQ2_0  ggml TQ2_0 (35), arch "bitnet", file type 37. K % 256.
//   EX_TQ1_0  ggml TQ1_0 (34), arch "bitnet", file type 36. K % 256.
//   EX_F16    F16 values t * s (as llama.cpp's own BitNet converter writes), arch "bitnet", file type 1.
// Embeddings (token_embd, and output when untied) are F16 or Q8_0 (C % 32); norms are F32.
#ifndef TRIT_EXPORT_EXPORT_H
#define TRIT_EXPORT_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/gguf.h"
#include "common/safetensors.h"
#include "data/tokenizer.h"
#include "model/bitnet.h"

typedef enum { EX_I2_S, EX_TQ2_0, EX_TQ1_0, EX_F16, EX_NTYPES } ex_type;

// "i2_s", "tq2_0", "tq1_0", "f16" <-> ex_type. Parse returns -1 for an unknown name.
int ex_type_parse(const char *s, ex_type *out);
const char *ex_type_name(ex_type t);
uint32_t ex_type_ggml(ex_type t);        // GGUF_TYPE_I2_S, ...
uint32_t ex_type_file_type(ex_type t);   // general.file_type: 40, 37, 36, 1
const char *ex_type_arch(ex_type t);     // "bitnet-b1.58" for I2_S, else "bitnet"
int ex_type_row_multiple(ex_type t);     // 128, 256, 256, 1: what K (ne[0]) must divide by

// ---------------------------------------------------------------------------------------------------
// The tensors of a GGUF export, in file order: token_embd, then per block attn_norm, attn_q, attn_k, attn_v,
// attn_sub_norm, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_sub_norm, ffn_down, then output_norm and,
// for an untied LM head, output. Each entry names the Hugging Face parameter it comes from.

typedef enum { EX_T_EMBED, EX_T_NORM, EX_T_LINEAR, EX_T_OUTPUT } ex_kind;
enum { EX_NORM_ATTN, EX_NORM_ATTN_SUB, EX_NORM_FFN, EX_NORM_FFN_SUB, EX_NORM_FINAL };   // ex_tensor.index of norms

typedef struct {
    char name[64];   // GGUF name, e.g. "blk.3.ffn_down.weight"
    char hf[96];     // Hugging Face name, e.g. "model.layers.3.mlp.down_proj.weight"
    ex_kind kind;
    int layer;       // -1 outside the blocks
    int index;       // BN_Q..BN_DOWN for linears, EX_NORM_* for norms
    int rows, cols;  // PyTorch (out, in); norms (cols, rows = 1). GGUF ne = [cols, rows]
} ex_tensor;

// Fills *out (free it) with the tensors of a model of config c; returns their count.
int ex_plan(ex_tensor **out, const bn_config *c);

// The float parameter of m that a plan entry stores (rows * cols floats).
const float *ex_param(const bn_model *m, const ex_tensor *t);

// Checks that every linear's row length fits `type` and the embedding rows fit `embed` (GGUF_TYPE_F16 or
// GGUF_TYPE_Q8_0). Errors name `what` (the source file) and the tensor:
// "m.h5: tensor blk.0.ffn_down.weight (model.layers.0.mlp.down_proj.weight) has rows of 344 elements; TQ2_0
// needs a multiple of 256 (use --type f16, or a model whose sizes are multiples of 256)".
int ex_check_dims(const bn_config *c, ex_type type, uint32_t embed, const char *what, tr_err *err);

// general.* and <arch>.* keys of a model of config c: architecture, name, file_type, quantization_version 2,
// alignment 32, context_length, embedding_length, block_count, feed_forward_length, attention.head_count,
// attention.head_count_kv, attention.key_length, attention.value_length, attention.layer_norm_rms_epsilon,
// rope.freq_base, rope.dimension_count, vocab_size, hidden_activation ("relu2" / "silu").
void ex_gguf_meta(gguf_writer *w, const bn_config *c, ex_type type, const char *name);

// The tokenizer's tokenizer.ggml.* keys (tok_write_gguf), its token list padded with unused "[PAD<id>]"
// entries up to the model's vocab_size (llama.cpp sizes the vocabulary by the token list). Fails when the
// tokenizer has more ids than vocab_size; `what` names the tokenizer in the message.
int ex_gguf_tokenizer(gguf_writer *w, const tok_tokenizer *tok, int vocab_size, int add_bos, const char *what,
                      tr_err *err);

// ---------------------------------------------------------------------------------------------------
// Quantization and packing

// Ternary codes come from ag_ternarize (autograd/ag.h), training's own quantizer.
// Bytes of one linear of `rows` x `cols` in `type`, and its packing from t (rows * cols) and scale.
size_t ex_linear_nbytes(ex_type type, int rows, int cols);
void ex_pack_linear(void *dst, ex_type type, const int8_t *t, int rows, int cols, float scale);

// Bytes of an embedding matrix (rows x cols floats) as F16 or Q8_0, and its conversion.
size_t ex_embed_nbytes(uint32_t embed, int rows, int cols);
void ex_pack_embed(void *dst, uint32_t embed, const float *x, int rows, int cols);

// Reads a ternary linear of a GGUF back: t (rows * cols) and the scale. I2_S: its f32 scale. TQ2_0 / TQ1_0:
// every block holding a non-zero weight must carry the same d (what trit writes), which is the scale. F16,
// BF16, F32: every value must be 0 or +-s for one s. Errors name the file and the tensor.
int ex_read_ternary(int8_t *t, float *scale, const gguf_file *g, const gguf_tensor *x, tr_err *err);

// ---------------------------------------------------------------------------------------------------
// Writers

typedef struct {
    ex_type type;
    uint32_t embed;      // GGUF_TYPE_F16 or GGUF_TYPE_Q8_0: token_embd (and output when untied)
    const char *name;    // general.name
    int add_bos;         // tokenizer.ggml.add_bos_token
} ex_gguf_opts;

// The model m as GGUF at path (temporary file + rename). tok may be NULL (no tokenizer keys). `what` names
// the source in errors.
int ex_write_gguf(const bn_model *m, const tok_tokenizer *tok, const ex_gguf_opts *o, const char *path,
                  const char *what, tr_err *err);

// Hugging Face folder layouts: EX_HF_PACKED is the microsoft/bitnet-b1.58-2B-4T layout (linears U8
// [ceil(out/4), in] + F32 weight_scale (1), everything else BF16, quantization_config autobitlinear /
// offline); EX_HF_BF16 the -bf16 layout (every tensor BF16, quantization_mode online).
typedef enum { EX_HF_PACKED, EX_HF_BF16 } ex_hf_layout;

// Writes config.json, model.safetensors and (tokenizer_json not NULL) tokenizer.json into dir, through a
// temporary folder beside it renamed into place. An existing dir is replaced only when it holds nothing
// but those files (a previous export); otherwise the export fails naming it.
int ex_write_hf(const bn_model *m, const char *tokenizer_json, ex_hf_layout layout, const char *dir, tr_err *err);

// The folder writer under ex_write_hf and `trit synth`: config.json (c in `layout`, torch_dtype bfloat16),
// the tensors of w as model.safetensors, tokenizer.json when not NULL; temporary folder, then rename.
int ex_hf_write_dir(const bn_config *c, ex_hf_layout layout, const st_writer *w, const char *tokenizer_json,
                    const char *dir, tr_err *err);

// Packs one linear (out, in) as Hugging Face's pack_weights: row i*P + p in bits 2i..2i+1 of packed row p,
// P = ceil(out/4), code = t + 1. dst: P * in bytes.
void ex_pack_hf(uint8_t *dst, const int8_t *t, int out, int in);

// ---------------------------------------------------------------------------------------------------
// Sources

// A model to export and its tokenizer.json text (NULL when the source holds none).
typedef struct {
    bn_model model;
    char *tokenizer_json;
    char path[4096];   // the file the model was read from (for messages)
    int is_gguf;       // read from a GGUF: its tokenizer is in the file's metadata (tok_load_gguf)
    int add_bos;       // whether prompts start with BOS: 1 for Hugging Face folders (the published models),
                       // 0 for trit checkpoints (trained without BOS), a GGUF's tokenizer.ggml.add_bos_token
} ex_source;

// path: a trit HDF5 checkpoint (.h5), a run folder (its latest.h5), a Hugging Face folder (config.json +
// safetensors, latent or packed; tokenizer.json beside it is taken when present) or a GGUF (ex_load_gguf).
int ex_source_load(ex_source *s, const char *path, tr_err *err);
void ex_source_free(ex_source *s);   // accepts a zeroed source

// A whole file as a NUL-terminated string (free it), or NULL with errno set.
char *ex_read_text(const char *path);


// Reads a BitNet GGUF (arch bitnet, bitnet-b1.58 or bitnet-25, ternary linears of any type ex_read_ternary
// takes; embeddings F32/F16/BF16/Q8_0) into m as a ternary model (m->ternary = 1). The config comes from
// the hparam keys; <arch>.hidden_activation defaults to relu2 for bitnet.cpp's arches and silu for "bitnet".
// The tokenizer is not read here (tok_load_gguf).
int ex_load_gguf(bn_model *m, const char *path, tr_err *err);

// ---------------------------------------------------------------------------------------------------
// Synthetic models

typedef enum { EX_SYN_GGUF, EX_SYN_HF } ex_syn_kind;

typedef struct {
    ex_syn_kind kind;
    ex_type type;           // EX_SYN_GGUF
    ex_hf_layout layout;    // EX_SYN_HF
    uint32_t embed;         // EX_SYN_GGUF: GGUF_TYPE_F16 or GGUF_TYPE_Q8_0
    uint64_t seed;
    const tok_tokenizer *tok;   // EX_SYN_GGUF: tokenizer keys (NULL: none); prompts start with BOS
    const char *tokenizer_json; // EX_SYN_HF: tokenizer.json text (NULL: none)
    const char *name;
} ex_synth_opts;

// Writes a model of config c with random weights in the exact layout: linears with uniformly random ternary
// codes and scales s ~ 1/sqrt(K) (so a projection of unit-RMS inputs has unit RMS), embeddings ~ U with RMS
// 1, norms ~ 1 + U(-0.1, 0.1). Generated tensor by tensor, straight into the packed bytes (no float copy of
// the model); the bytes depend only on the seed, not on the thread count. cfg_path names c in errors.
int ex_synth(const bn_config *c, const ex_synth_opts *o, const char *cfg_path, const char *path, tr_err *err);

#endif
