// engine.h: the BitNet b1.58 inference engine: a model read from a GGUF file, a KV cache, and the forward
// pass for prefill (a batch of tokens) and decode (one token), on trit's ternary kernels.
//
// Files: general.architecture "bitnet" (llama.cpp), "bitnet-b1.58" or "bitnet-25" (bitnet.cpp), with the keys
// <arch>.block_count, embedding_length, feed_forward_length, attention.head_count, attention.head_count_kv,
// attention.layer_norm_rms_epsilon, rope.freq_base, context_length; optional rope.dimension_count (must be
// the head size), attention.key_length / value_length (the head size; default embedding_length / heads),
// vocab_size (must match token_embd) and hidden_activation ("relu2" or "silu"; when absent relu2 for
// bitnet-b1.58 / bitnet-25 as bitnet.cpp runs them, silu for bitnet as llama.cpp runs it). Tensors (ggml
// ne order, C = embedding, I = feed-forward, D = head size, H / Hkv = heads):
//   token_embd.weight [C, V] F32/F16/BF16/Q8_0      output_norm.weight [C]     output.weight [C, V] (optional:
//   else the head is token_embd)    blk.N.attn_norm [C], attn_q [C, H*D], attn_k / attn_v [C, Hkv*D],
//   attn_sub_norm [H*D], attn_output [H*D, C], ffn_norm [C], ffn_gate / ffn_up [C, I], ffn_sub_norm [I],
//   ffn_down [I, C] (all .weight), and optional blk.N.{attn_q,...,ffn_down}.scale [1] that multiply the
//   projection's output (llama.cpp). Linears are I2_S, TQ2_0, TQ1_0, or F16/F32/BF16 holding ternary values
//   times one scale; they are converted once at load to the kernels' panel layout (kernels/ternary.h) and
//   their file pages are released. Norms are F32/F16/BF16. Everything else is read in place from the mapping.
//
// Semantics (trit's training graph, Hugging Face BitNet): pre-norm blocks; q, k, v BitLinear (per-token int8
// activations, ternary weights, per-tensor scale); RoPE in the NEOX / rotate_half layout with rope.freq_base;
// causal GQA attention, softmax in f32; attn_sub_norm before attn_output; FFN down(ffn_sub_norm(act(gate) *
// up)); final norm; LM head in float (F32/F16/BF16 weights x f32 activations; a Q8_0 head x int16
// activations per row, exact int32 block sums: not llama.cpp's int8 per 32-block, which moves logits by
// ~5e-3). Up to the LM head the floats are bit for bit the training graph's (docs/inference.md says why
// that matters: the int8 quantizers make the forward chaotic): the same expressions, the same summation
// orders (q.k and P.V as single FMA chains, like OpenBLAS's sgemm), glibc's expf, and an f32 KV cache (f16
// alone moved logits by ~2e-2). The cache is one allocation per context: for each layer and kv head, the
// keys in blocks of 16 positions, each block transposed (D, 16), and the values (n_ctx, D): both fill
// memory in position order; 154 KB per position for the 2B4T shapes (30 layers, 5 kv heads of 128), 629 MB
// for 4096 positions, touched as positions fill.
#ifndef TRIT_KERNELS_ENGINE_H
#define TRIT_KERNELS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/check.h"
#include "common/gguf.h"
#include "kernels/quants.h"
#include "kernels/ternary.h"

typedef enum { ENG_ACT_RELU2 = 0, ENG_ACT_SILU = 1 } eng_act;

// The seven projections of a block, in file order: attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,
// ffn_down.
enum { ENG_Q, ENG_K, ENG_V, ENG_O, ENG_GATE, ENG_UP, ENG_DOWN, ENG_N_LINEAR };
extern const char *const eng_linear_names[ENG_N_LINEAR];   // "attn_q", ..., "ffn_down"

typedef struct {
    char arch[32];
    int n_layers, n_embd, n_ff, n_heads, n_kv_heads, head_dim, n_vocab, n_ctx_train;
    float eps, rope_theta;
    eng_act act;
    int act_from_key;   // 1: <arch>.hidden_activation was present; 0: the architecture's default
} eng_hparams;

typedef struct {
    float *attn_norm, *attn_sub_norm, *ffn_norm, *ffn_sub_norm;   // (C), (H*D), (C), (I): f32 copies
    tk_mat lin[ENG_N_LINEAR];                                     // panel layout, scale tensors folded in
} eng_layer;

typedef struct {
    eng_hparams hp;
    const gguf_file *file;          // must outlive the model
    const gguf_tensor *tok_embd;    // (V, C) in the file
    const gguf_tensor *head;        // output.weight, or tok_embd when tied
    int tied;
    float *output_norm;             // (C)
    eng_layer *layers;              // (n_layers)
    tk_pool codes;                  // the linears' panels, one allocation of huge pages
    uint32_t linear_type;           // file type of the linears (GGUF_TYPE_*; the first layer's attn_q)
    tk_isa isa;                     // kernel path; tk_isa_best() at load, tests may change it
    double load_s;                  // wall time of eng_model_load
} eng_model;

// Reads, validates and converts the model of an open GGUF file. Errors read "PATH: problem" (unknown
// architecture, missing key or tensor, a shape that does not match the hparams, a type the engine cannot
// use, linear values that are not ternary). On error nothing is left allocated.
int eng_model_load(eng_model *m, const gguf_file *g, tr_err *err);
void eng_model_free(eng_model *m);   // accepts a zeroed model

// Bytes of weights one decoded token reads: every linear's panels, the norms, the LM head, one embedding row.
size_t eng_decode_bytes(const eng_model *m);
// GB/s at which the current OpenMP threads stream the linears' panels and the LM head (each thread a
// contiguous share of every matrix, best of reps): the bandwidth bound of decode, on the model's own memory.
double eng_read_bandwidth(const eng_model *m, int reps);
const char *eng_act_name(eng_act a);

// A context: the KV cache for n_ctx positions and the scratch for batches of up to n_batch tokens.
typedef struct {
    const eng_model *m;
    int n_ctx, n_batch, n_past;   // n_past: positions filled in the cache
    float *kv;                    // (L, 2, Hkv) planes: keys (n_ctx / 16 blocks, D, 16), values (n_ctx, D)
    float *rope;                  // (n_ctx, D/2, 2): cos, sin of pos * theta^(-2i/D)
    float *x, *h, *q, *k, *v, *att, *gate, *up;   // (n_batch, C | C | H*D | Hkv*D | Hkv*D | H*D | I | I)
    float *scores;                // (threads, 2, ld_scores): attention scores of a pair of heads, SiLU scratch
    int ld_scores;                // max(n_ctx, I)
    int threads;                  // omp_get_max_threads() at init: the forward uses at most these
    struct eng_team *team;        // the forward's thread team (kernels/engine_impl.h)
    tk_act act;                   // int8 activations of the current input (memory: act_mem, not tk_act_free)
    void *act_mem;
    size_t bytes;                 // allocated
    void *scratch;
} eng_ctx;

// n_ctx >= 1 positions, n_batch >= 1 tokens per internal step (longer inputs are split).
void eng_ctx_init(eng_ctx *c, const eng_model *m, int n_ctx, int n_batch);
void eng_ctx_free(eng_ctx *c);   // accepts a zeroed context
size_t eng_ctx_bytes(const eng_ctx *c);   // memory allocated: KV cache, RoPE table, scratch

// Runs ids[0..n) at positions n_past .. n_past + n - 1 and appends their keys and values to the cache.
// logits: NULL, or (1, V) for the last token (all == 0), or (n, V) for every token (all == 1). Errors
// (an id outside the vocabulary, a full context) return -1 and change nothing.
int eng_forward(eng_ctx *c, const int32_t *ids, int n, float *logits, int all, tr_err *err);
// Drops cached positions from n_past on (0 <= n_past <= c->n_past), e.g. 0 to start a new sequence.
void eng_truncate(eng_ctx *c, int n_past);

#endif
