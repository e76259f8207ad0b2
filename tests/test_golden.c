// test_golden.c: `trit grad` against Hugging Face transformers' own outputs (tests/golden/hf-tiny-bitnet)
// and against goldens of other shapes made by the PyTorch reference (tests/golden/*/, see its README).
// Tolerances (norm-based, see tests/golden/README.md): logits 5e-3, loss 2e-3, gradients 2e-2;
// LoRA logits 1e-2 and gradients 5e-2.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/safetensors.h"
#include "tests/harness.h"

static const char *trit_bin(void) {
    const char *t = getenv("TRIT");
    return t ? t : "./trit";
}

// Runs `trit grad` with extra arguments; returns the opened output or NULL.
static st_file *run_grad(const char *dir, const char *model, const char *extra) {
    char cmd[8192], out[4096];
    snprintf(out, sizeof(out), "%s/out-%s.safetensors", t_tmpdir(), model);
    snprintf(cmd, sizeof(cmd), "%s grad --model %s/%s --batch %s/batch.safetensors --out %s %s > %s 2>&1", trit_bin(),
             dir, model, dir, out, extra, t_tmp("log"));
    if (system(cmd) != 0) {
        char log[4096];
        snprintf(log, sizeof(log), "cat %s", t_tmp("log"));
        if (system(log)) {}
        return NULL;
    }
    st_file *f = NULL;
    tr_err err;
    if (st_open(&f, out, &err)) printf("# %s\n", err.msg);
    return f;
}

// Compares tensor `got_name` of `got` with `ref_name` of `ref`; relative L2 (or absolute for the loss).
static void compare(const char *label, const st_file *got, const char *got_name, const st_file *ref,
                    const char *ref_name, double tol, int absolute) {
    const st_tensor *g = got ? st_find(got, got_name) : NULL, *r = st_find(ref, ref_name);
    char name[512];
    snprintf(name, sizeof(name), "%s %s", label, got_name);
    if (!g || !r) {
        t_check(0, name, "%s missing", !g ? "output tensor" : "reference tensor");
        return;
    }
    if (st_numel(g) != st_numel(r)) {
        t_check(0, name, "size %zu vs reference %zu", st_numel(g), st_numel(r));
        return;
    }
    size_t n = st_numel(g);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    tr_err err;
    st_read_f32(a, g, &err);
    st_read_f32(b, r, &err);
    double e = absolute ? fabs((double)a[0] - b[0]) : t_rel_l2(a, b, n);
    t_check(e <= tol, name, "%s error %.3g > %.3g", absolute ? "absolute" : "relative L2", e, tol);
    free(a), free(b);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void check_dir(const char *dir) {
    char path[4096], label[256];
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    snprintf(path, sizeof(path), "%s/reference.safetensors", dir);
    st_file *ref = NULL;
    tr_err err;
    if (!t_check(st_open(&ref, path, &err) == 0, base, "%s", err.msg)) return;

    // Latent model: logits, loss and every gradient.
    st_file *got = run_grad(dir, "latent", "");
    snprintf(label, sizeof(label), "%s latent", base);
    t_check(got != NULL, label, "trit grad failed");
    compare(label, got, "logits", ref, "logits", 5e-3, 0);
    compare(label, got, "loss", ref, "loss", 2e-3, 1);
    int n_grads = 0;
    for (int i = 0; i < st_count(ref); i++) {
        const char *nm = st_get(ref, i)->name;
        if ((strncmp(nm, "grad.model.", 11) && strncmp(nm, "grad.lm_head.", 13)) || strstr(nm, ".lora_")) continue;
        compare(label, got, nm, ref, nm, 2e-2, 0);
        n_grads++;
    }
    t_check(n_grads > 0 && got && st_count(got) == n_grads + 2, label,
            "expected logits, loss and %d gradients, got %d tensors", n_grads, got ? st_count(got) : 0);
    st_close(got);

    // Packed models: logits only (no trainable base tensors).
    const char *packed[2][2] = {{"packed", "logits_packed"}, {"packed-autobitlinear", "logits_packed_autobitlinear"}};
    for (int k = 0; k < 2; k++) {
        snprintf(label, sizeof(label), "%s %s", base, packed[k][0]);
        got = run_grad(dir, packed[k][0], "");
        compare(label, got, "logits", ref, packed[k][1], 5e-3, 0);
        t_check(got && st_count(got) == 2, label, "a packed model must write only logits and loss");
        st_close(got);
    }

    // LoRA on the latent model, base frozen.
    char extra[4096];
    snprintf(extra, sizeof(extra), "--lora %s/lora-init.safetensors", dir);
    snprintf(label, sizeof(label), "%s lora", base);
    got = run_grad(dir, "latent", extra);
    compare(label, got, "logits", ref, "lora_logits", 1e-2, 0);
    compare(label, got, "loss", ref, "lora_loss", 2e-3, 1);
    int n_lora = 0;
    for (int i = 0; i < st_count(ref); i++) {
        const char *nm = st_get(ref, i)->name;
        if (!strstr(nm, ".lora_")) continue;
        compare(label, got, nm, ref, nm, 5e-2, 0);
        n_lora++;
    }
    t_check(n_lora > 0 && got && st_count(got) == n_lora + 2, label, "expected only LoRA gradients");
    st_close(got);

    // A peft adapter folder as saved by peft (hf-tiny-bitnet only).
    snprintf(path, sizeof(path), "%s/peft-adapter", dir);
    if (exists(path)) {
        snprintf(extra, sizeof(extra), "--lora %s", path);
        snprintf(label, sizeof(label), "%s peft-adapter", base);
        got = run_grad(dir, "latent", extra);
        snprintf(path, sizeof(path), "%s/peft-adapter/logits_with_adapter.safetensors", dir);
        st_file *pref = NULL;
        if (t_check(st_open(&pref, path, &err) == 0, label, "%s", err.msg)) {
            compare(label, got, "logits", pref, st_get(pref, 0)->name, 1e-2, 0);
            st_close(pref);
        }
        st_close(got);
    }
    st_close(ref);
}

int main(void) {
    const char *dirs[] = {"tests/golden/hf-tiny-bitnet", "tests/golden/odd-gqa3", "tests/golden/mha5"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) check_dir(dirs[i]);
    return t_done();
}
