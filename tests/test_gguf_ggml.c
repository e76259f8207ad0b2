// test_gguf_ggml.c: trit's GGUF files and block layouts against ggml's own code: libggml-base.so of the
// llama.cpp build that `make deps` installs (node-llama-cpp's prebuilt binaries), loaded with dlopen.
//   - ggml's gguf reader reads a file trit wrote (every value type, arrays, tensors, offsets, data), and
//     trit's reader reads a file ggml wrote;
//   - trit's TQ1_0, TQ2_0 and Q8_0 blocks are byte-identical to ggml's quantize_row_*_ref, and ggml's
//     dequantize_row_* reads trit's blocks back to the same values;
//   - fp16 / bf16 conversions and every type's block size and bytes agree with ggml's tables.
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/f16.h"
#include "common/gguf.h"
#include "common/rng.h"
#include "kernels/quants.h"
#include "tests/harness.h"

#define LIBGGML "tools/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"

// The slice of ggml.h / gguf.h this test calls (ggml-org/llama.cpp, the release node-llama-cpp bundles).
struct ggml_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
};
struct gguf_init_params {
    bool no_alloc;
    void **ctx;
};
static struct {
    size_t (*type_size)(int);
    int64_t (*blck_size)(int);
    void (*q_tq1)(const float *, void *, int64_t), (*q_tq2)(const float *, void *, int64_t), (*q_q8)(const float *, void *, int64_t);
    void (*dq_tq1)(const void *, float *, int64_t), (*dq_tq2)(const void *, float *, int64_t), (*dq_q8)(const void *, float *, int64_t);
    void (*h2f)(const uint16_t *, float *, int64_t), (*f2h)(const float *, uint16_t *, int64_t), (*f2bf)(const float *, uint16_t *, int64_t);
    void *(*init_from_file)(const char *, struct gguf_init_params);
    void (*gfree)(void *);
    int64_t (*n_kv)(const void *), (*find_key)(const void *, const char *), (*n_tensors)(const void *), (*find_tensor)(const void *, const char *);
    int (*kv_type)(const void *, int64_t), (*arr_type)(const void *, int64_t), (*tensor_type)(const void *, int64_t);
    size_t (*arr_n)(const void *, int64_t), (*tensor_offset)(const void *, int64_t), (*tensor_size)(const void *, int64_t), (*data_offset)(const void *),
        (*alignment)(const void *);
    const void *(*arr_data)(const void *, int64_t);
    const char *(*arr_str)(const void *, int64_t, size_t), *(*val_str)(const void *, int64_t);
    uint32_t (*val_u32)(const void *, int64_t);
    int32_t (*val_i32)(const void *, int64_t);
    uint64_t (*val_u64)(const void *, int64_t);
    float (*val_f32)(const void *, int64_t);
    double (*val_f64)(const void *, int64_t);
    bool (*val_bool)(const void *, int64_t);
    int8_t (*val_i8)(const void *, int64_t);
    void *(*init_empty)(void);
    void (*set_u32)(void *, const char *, uint32_t), (*set_i16)(void *, const char *, int16_t), (*set_f64)(void *, const char *, double),
        (*set_str)(void *, const char *, const char *), (*set_bool)(void *, const char *, bool);
    void (*set_arr_data)(void *, const char *, int, const void *, size_t), (*set_arr_str)(void *, const char *, const char **, size_t);
    void (*add_tensor)(void *, const void *);
    bool (*write_to_file)(const void *, const char *, bool);
    void *(*ggml_init)(struct ggml_init_params);
    void *(*new_tensor)(void *, int, int, const int64_t *), *(*set_name)(void *, const char *), *(*get_data)(const void *);
    void (*ggml_free)(void *);
} g;

static int load_ggml(void) {
    void *h = dlopen(LIBGGML, RTLD_NOW | RTLD_LOCAL);
    if (!h) return 0;
    int ok = 1;
#define SYM(field, name) ok &= (*(void **)&g.field = dlsym(h, name)) != NULL
    SYM(type_size, "ggml_type_size"), SYM(blck_size, "ggml_blck_size");
    SYM(q_tq1, "quantize_row_tq1_0_ref"), SYM(q_tq2, "quantize_row_tq2_0_ref"), SYM(q_q8, "quantize_row_q8_0_ref");
    SYM(dq_tq1, "dequantize_row_tq1_0"), SYM(dq_tq2, "dequantize_row_tq2_0"), SYM(dq_q8, "dequantize_row_q8_0");
    SYM(h2f, "ggml_fp16_to_fp32_row"), SYM(f2h, "ggml_fp32_to_fp16_row"), SYM(f2bf, "ggml_fp32_to_bf16_row_ref");
    SYM(init_from_file, "gguf_init_from_file"), SYM(gfree, "gguf_free"), SYM(n_kv, "gguf_get_n_kv"), SYM(find_key, "gguf_find_key");
    SYM(n_tensors, "gguf_get_n_tensors"), SYM(find_tensor, "gguf_find_tensor"), SYM(kv_type, "gguf_get_kv_type");
    SYM(arr_type, "gguf_get_arr_type"), SYM(tensor_type, "gguf_get_tensor_type"), SYM(arr_n, "gguf_get_arr_n");
    SYM(tensor_offset, "gguf_get_tensor_offset"), SYM(tensor_size, "gguf_get_tensor_size"), SYM(data_offset, "gguf_get_data_offset");
    SYM(alignment, "gguf_get_alignment"), SYM(arr_data, "gguf_get_arr_data"), SYM(arr_str, "gguf_get_arr_str"), SYM(val_str, "gguf_get_val_str");
    SYM(val_u32, "gguf_get_val_u32"), SYM(val_i32, "gguf_get_val_i32"), SYM(val_u64, "gguf_get_val_u64"), SYM(val_f32, "gguf_get_val_f32");
    SYM(val_f64, "gguf_get_val_f64"), SYM(val_bool, "gguf_get_val_bool"), SYM(val_i8, "gguf_get_val_i8");
    SYM(init_empty, "gguf_init_empty"), SYM(set_u32, "gguf_set_val_u32"), SYM(set_i16, "gguf_set_val_i16"), SYM(set_f64, "gguf_set_val_f64");
    SYM(set_str, "gguf_set_val_str"), SYM(set_bool, "gguf_set_val_bool"), SYM(set_arr_data, "gguf_set_arr_data");
    SYM(set_arr_str, "gguf_set_arr_str"), SYM(add_tensor, "gguf_add_tensor"), SYM(write_to_file, "gguf_write_to_file");
    SYM(ggml_init, "ggml_init"), SYM(new_tensor, "ggml_new_tensor"), SYM(set_name, "ggml_set_name"), SYM(get_data, "ggml_get_data");
    SYM(ggml_free, "ggml_free");
#undef SYM
    return ok;
}

static void random_ternary(int8_t *t, int64_t n, rng *r) {
    for (int64_t i = 0; i < n; i++) t[i] = (int8_t)((int)rng_below(r, 3) - 1);
    for (int64_t b = 0; b < n / 256; b++) t[b * 256 + 17] = 1;   // ggml's d is the block absmax: keep a non-zero per block
}

static void test_layouts(rng *r) {
    enum { N = 256 * 16 };
    static int8_t t[N];
    static float x[N], back[N], want[N];
    static uint8_t ours[N / 32 * 34], theirs[N / 32 * 34];
    random_ternary(t, N, r);
    float scale = 1.4140625f;   // exact in fp16
    for (int i = 0; i < N; i++) x[i] = t[i] * scale;

    tk_tq2_0_pack((tk_block_tq2_0 *)ours, t, N, scale);
    g.q_tq2(x, theirs, N);
    t_check(!memcmp(ours, theirs, N / 256 * 66), "TQ2_0 blocks equal ggml's quantize_row_tq2_0_ref", "bytes differ");
    g.dq_tq2(ours, back, N);
    t_check(!memcmp(back, x, sizeof(x)), "ggml's dequantize_row_tq2_0 reads trit's TQ2_0 back", "values differ");

    tk_tq1_0_pack((tk_block_tq1_0 *)ours, t, N, scale);
    g.q_tq1(x, theirs, N);
    t_check(!memcmp(ours, theirs, N / 256 * 54), "TQ1_0 blocks equal ggml's quantize_row_tq1_0_ref", "bytes differ");
    g.dq_tq1(ours, back, N);
    t_check(!memcmp(back, x, sizeof(x)), "ggml's dequantize_row_tq1_0 reads trit's TQ1_0 back", "values differ");

    for (int i = 0; i < N; i++) x[i] = rng_normal(r) * (i % 97 == 0 ? 100.0f : 1.0f);
    for (int i = 0; i < 32; i++) x[i] = 0.0f;   // an all-zero block: d = 0
    tk_q8_0_quantize((tk_block_q8_0 *)ours, x, N);
    g.q_q8(x, theirs, N);
    int at = -1;
    for (int i = 0; i < N / 32 * 34 && at < 0; i++)
        if (ours[i] != theirs[i]) at = i;
    t_check(at < 0, "Q8_0 blocks equal ggml's quantize_row_q8_0_ref", "byte %d: 0x%02x vs ggml 0x%02x", at, at >= 0 ? ours[at] : 0,
            at >= 0 ? theirs[at] : 0);
    g.dq_q8(ours, back, N);
    tk_q8_0_dequantize(want, (const tk_block_q8_0 *)ours, N);
    t_check(!memcmp(back, want, sizeof(back)), "ggml's dequantize_row_q8_0 equals trit's", "values differ");

    // fp16: every bit pattern to f32 (NaNs compared as NaN); random and edge floats to fp16 and bf16
    static uint16_t h[65536], h2[N];
    static float hf[65536];
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    g.h2f(h, hf, 65536);
    int bad = 0;
    for (int i = 0; i < 65536; i++) {
        float a = f16_to_f32(h[i]);
        bad += a != a ? hf[i] == hf[i] : memcmp(&a, &hf[i], 4) != 0;
    }
    t_check(bad == 0, "fp16 -> f32 equals ggml for all 65536 values", "%d differ", bad);
    for (int i = 0; i < N; i++) {
        uint32_t u = (uint32_t)rng_u64(r);
        memcpy(&x[i], &u, 4);
        if (x[i] != x[i]) x[i] = 0;        // NaN payloads may differ; NaN-ness is checked above
        if (i % 3 == 0) x[i] = rng_normal(r) * 1e-5f;   // around the fp16 subnormals
    }
    g.f2h(x, h2, N);
    bad = 0;
    for (int i = 0; i < N; i++) bad += f32_to_f16(x[i]) != h2[i];
    t_check(bad == 0, "f32 -> fp16 equals ggml (round to nearest even, subnormals, overflow)", "%d of %d differ", bad, N);
    g.f2bf(x, h2, N);
    bad = 0;
    for (int i = 0; i < N; i++) bad += f32_to_bf16(x[i]) != h2[i];
    t_check(bad == 0, "f32 -> bf16 equals ggml", "%d of %d differ", bad, N);

    bad = 0;
    for (int ty = 0; ty < GGUF_TYPE_COUNT; ty++) {
        int64_t gb = g.blck_size(ty);
        size_t gs = g.type_size(ty);
        if (ty == GGUF_TYPE_I2_S) continue;   // bitnet.cpp's id; upstream ggml removed 36
        int same = gb == 0 ? gguf_type_name(ty) == NULL : (gguf_blck_size(ty) == (uint32_t)gb && gguf_type_size(ty) == gs);
        if (!same && bad++ < 3) printf("# type %d: ggml %lld/%zu, trit %u/%u\n", ty, (long long)gb, gs, gguf_blck_size(ty), gguf_type_size(ty));
    }
    t_check(bad == 0, "block size and bytes of every ggml type id 0..40 agree with ggml", "%d differ", bad);
}

// trit writes, ggml reads.
static void test_ggml_reads_trit(const char *path) {
    gguf_writer *w = gguf_writer_init();
    gguf_set_str(w, "general.architecture", "bitnet");
    gguf_set_u32(w, "general.alignment", 64);
    gguf_set_u32(w, "bitnet.block_count", 30);
    gguf_set_i8(w, "x.i8", -5);
    gguf_set_u64(w, "x.u64", 1ull << 40);
    gguf_set_f32(w, "x.f32", 1e-5f);
    gguf_set_f64(w, "x.f64", 0.1);
    gguf_set_bool(w, "x.bool", 1);
    int32_t ids[3] = {7, -1, 128000};
    const char *toks[3] = {"!", "Ġthe", ""};
    gguf_set_arr(w, "x.ids", GGUF_VAL_INT32, ids, 3);
    gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    static uint8_t tq2[66 * 3], q8[34 * 8];
    static float norm[100];
    for (size_t i = 0; i < sizeof(tq2); i++) tq2[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof(q8); i++) q8[i] = (uint8_t)(i * 5);
    for (int i = 0; i < 100; i++) norm[i] = (float)i;
    int64_t ne_w[2] = {256, 3}, ne_n[1] = {100}, ne_q[2] = {64, 4};
    gguf_add_tensor(w, "blk.0.attn_q.weight", GGUF_TYPE_TQ2_0, 2, ne_w, tq2);
    gguf_add_tensor(w, "output_norm.weight", GGUF_TYPE_F32, 1, ne_n, norm);
    gguf_add_tensor(w, "token_embd.weight", GGUF_TYPE_Q8_0, 2, ne_q, q8);
    tr_err err = {{0}};
    int rc = gguf_writer_write(w, path, &err);
    gguf_writer_free(w);
    void *c = rc ? NULL : g.init_from_file(path, (struct gguf_init_params){true, NULL});
    if (!t_check(c != NULL, "ggml's gguf_init_from_file opens a file trit wrote", "%s", err.msg)) return;
    int64_t k;
    int ok = g.n_kv(c) == 10 && g.alignment(c) == 64;
    ok = ok && (k = g.find_key(c, "general.architecture")) >= 0 && !strcmp(g.val_str(c, k), "bitnet");
    ok = ok && (k = g.find_key(c, "bitnet.block_count")) >= 0 && g.val_u32(c, k) == 30;
    ok = ok && (k = g.find_key(c, "x.i8")) >= 0 && g.val_i8(c, k) == -5;
    ok = ok && (k = g.find_key(c, "x.u64")) >= 0 && g.val_u64(c, k) == 1ull << 40;
    ok = ok && (k = g.find_key(c, "x.f32")) >= 0 && g.val_f32(c, k) == 1e-5f;
    ok = ok && (k = g.find_key(c, "x.f64")) >= 0 && g.val_f64(c, k) == 0.1;
    ok = ok && (k = g.find_key(c, "x.bool")) >= 0 && g.val_bool(c, k);
    ok = ok && (k = g.find_key(c, "x.ids")) >= 0 && g.arr_type(c, k) == GGUF_VAL_INT32 && g.arr_n(c, k) == 3 &&
         !memcmp(g.arr_data(c, k), ids, sizeof(ids));
    ok = ok && (k = g.find_key(c, "tokenizer.ggml.tokens")) >= 0 && g.arr_n(c, k) == 3 && !strcmp(g.arr_str(c, k, 1), "Ġthe") &&
         !strcmp(g.arr_str(c, k, 2), "");
    t_check(ok, "ggml reads every KV trit wrote (scalars, arrays, strings, alignment)", "mismatch");
    gguf_file *f = NULL;
    ok = g.n_tensors(c) == 3 && gguf_open(&f, path, &err) == 0 && g.data_offset(c) == gguf_data_offset(f);
    for (int i = 0; ok && i < 3; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int64_t id = g.find_tensor(c, t->name);
        ok = id == i && g.tensor_type(c, id) == (int)t->type && g.tensor_offset(c, id) == t->offset && g.tensor_size(c, id) == t->nbytes;
    }
    t_check(ok, "ggml finds trit's tensors at the same offsets, types and sizes", "%s", err.msg);
    gguf_close(f);
    g.gfree(c);
}

// ggml writes, trit reads.
static void test_trit_reads_ggml(const char *path) {
    void *gc = g.init_empty();
    g.set_str(gc, "general.architecture", "bitnet");
    g.set_u32(gc, "bitnet.context_length", 4096);
    g.set_i16(gc, "x.i16", -1234);
    g.set_f64(gc, "x.f64", -0.5);
    g.set_bool(gc, "x.bool", false);
    float fl[4] = {1, 2, 3, 4.5f};
    const char *strs[2] = {"a", "b c"};
    g.set_arr_data(gc, "x.f32s", GGUF_VAL_FLOAT32, fl, 4);
    g.set_arr_str(gc, "x.strs", strs, 2);
    void *ctx = g.ggml_init((struct ggml_init_params){1 << 20, NULL, false});
    struct {
        const char *name;
        int type;
        int nd;
        int64_t ne[2];
    } ts[] = {{"a.f16", GGUF_TYPE_F16, 2, {64, 2}}, {"b.tq1", GGUF_TYPE_TQ1_0, 1, {512}}, {"c.bf16", GGUF_TYPE_BF16, 2, {5, 3}},
              {"d.tq2", GGUF_TYPE_TQ2_0, 2, {256, 2}}};
    void *tens[4];
    for (int i = 0; i < 4; i++) {
        tens[i] = g.new_tensor(ctx, ts[i].type, ts[i].nd, ts[i].ne);
        g.set_name(tens[i], ts[i].name);
        uint8_t *d = g.get_data(tens[i]);
        for (int j = 0; j < 256; j++) d[j] = (uint8_t)(j * (i + 3));
        g.add_tensor(gc, tens[i]);
    }
    int wrote = g.write_to_file(gc, path, false);
    gguf_file *f = NULL;
    tr_err err = {{0}};
    int rc = wrote ? gguf_open(&f, path, &err) : -1;
    if (!t_check(rc == 0, "trit opens a file ggml's gguf_write_to_file wrote", "%s", wrote ? err.msg : "ggml could not write")) goto done;
    const char *arch;
    uint32_t ctxlen;
    int64_t i16;
    float f64;
    int b;
    const gguf_value *a, *s;
    int ok = !gguf_get_str(f, "general.architecture", &arch, &err) && !strcmp(arch, "bitnet") &&
             !gguf_get_u32(f, "bitnet.context_length", &ctxlen, &err) && ctxlen == 4096 && !gguf_get_i64(f, "x.i16", &i16, &err) &&
             i16 == -1234 && gguf_find(f, "x.i16")->type == GGUF_VAL_INT16 && !gguf_get_f32(f, "x.f64", &f64, &err) && f64 == -0.5f &&
             !gguf_get_bool(f, "x.bool", &b, &err) && b == 0 && !gguf_get_arr(f, "x.f32s", GGUF_VAL_FLOAT32, &a, &err) &&
             gguf_arr_float(a, 3) == 4.5 && !gguf_get_arr(f, "x.strs", GGUF_VAL_STRING, &s, &err) && !strcmp(gguf_arr_str(s, 1)->s, "b c");
    t_check(ok, "trit reads every KV ggml wrote", "%s", err.msg);
    ok = gguf_n_tensors(f) == 4;
    for (int i = 0; ok && i < 4; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, ts[i].name);
        ok = t && (int)t->type == ts[i].type && t->n_dims == ts[i].nd && t->ne[0] == ts[i].ne[0] && t->ne[1] == (ts[i].nd > 1 ? ts[i].ne[1] : 1) &&
             !memcmp(t->data, g.get_data(tens[i]), t->nbytes < 256 ? t->nbytes : 256);
    }
    t_check(ok, "trit reads ggml's tensors (F16, TQ1_0, BF16, TQ2_0): shapes, types and data", "mismatch");
    gguf_close(f);
done:
    g.gfree(gc);
    g.ggml_free(ctx);
}

int main(void) {
    if (!load_ggml()) {
        t_check(0, "ggml peer", "cannot load %s (run `make deps`): %s", LIBGGML, dlerror() ? dlerror() : "missing symbols");
        return t_done();
    }
    rng r;
    rng_seed(&r, 3);
    test_layouts(&r);
    test_ggml_reads_trit(t_tmp("trit.gguf"));
    test_trit_reads_ggml(t_tmp("ggml.gguf"));
    return t_done();
}
