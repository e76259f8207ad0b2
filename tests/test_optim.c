// test_optim.c: AdamW against PyTorch (tests/golden/adamw), gradient norm and clipping, per-tensor weight
// decay, and the learning-rate / weight-decay schedules at known points.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/safetensors.h"
#include "model/bitnet.h"
#include "tests/harness.h"
#include "train/optim.h"
#include "train/schedule.h"

static const float *tensor(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    if (!t) {
        fprintf(stderr, "golden tensor %s missing\n", name);
        exit(1);
    }
    return t->data;
}

// Two tensors in one slab (w: 8 x 5 decayed at offset 0, n: 7 not decayed at offset 48, padding between),
// stepped like tests/ref/make_adamw_golden.py steps torch.optim.AdamW with clip_grad_norm_.
static void test_adamw_vs_torch(void) {
    st_file *f = NULL;
    tr_err err;
    if (st_open(&f, t_golden("adamw/adamw.safetensors"), &err)) {
        t_check(0, "adamw golden", "%s", err.msg);
        return;
    }
    const float *w0 = tensor(f, "w0"), *n0 = tensor(f, "n0"), *gw = tensor(f, "grad_w"), *gn = tensor(f, "grad_n");
    const double *lr = (const double *)tensor(f, "lr"), *norms = (const double *)tensor(f, "grad_norm");
    enum { NW = 40, NN = 7, OFF = 48, SLAB = 64 };
    float data[SLAB], grad[SLAB];
    memset(data, 0, sizeof(data));
    memcpy(data, w0, sizeof(float) * NW);
    memcpy(data + OFF, n0, sizeof(float) * NN);
    opt_segment segs[2] = {{0, NW, 1}, {OFF, NN, 0}};
    opt_adamw o;
    opt_init(&o, SLAB, segs, 2, 0.9, 0.99, 1e-8);
    double worst_norm = 0;
    int clipped = 0;
    for (int s = 0; s < 6; s++) {
        memset(grad, 0, sizeof(grad));
        memcpy(grad, gw + s * NW, sizeof(float) * NW);
        memcpy(grad + OFF, gn + s * NN, sizeof(float) * NN);
        double norm = opt_grad_norm(grad, SLAB);
        worst_norm = fmax(worst_norm, fabs(norm - norms[s]) / norms[s]);
        float scale = opt_clip_scale(norm, 1.0);
        clipped += scale < 1.0f;
        opt_step(&o, data, grad, scale, lr[s], 0.1);
    }
    t_check(worst_norm < 1e-6, "grad norm equals torch's clip_grad_norm_ total", "rel err %g", worst_norm);
    t_check(clipped > 0 && clipped < 6, "golden steps both clip and do not clip", "%d of 6 clipped", clipped);
    double ew = t_rel_l2(data, tensor(f, "w"), NW), en = t_rel_l2(data + OFF, tensor(f, "n"), NN);
    double emw = t_rel_l2(o.m, tensor(f, "m_w"), NW), evw = t_rel_l2(o.v, tensor(f, "v_w"), NW);
    double emn = t_rel_l2(o.m + OFF, tensor(f, "m_n"), NN), evn = t_rel_l2(o.v + OFF, tensor(f, "v_n"), NN);
    t_check(ew < 1e-6 && en < 1e-6, "AdamW weights equal torch.optim.AdamW after 6 steps", "rel err w %g n %g", ew, en);
    t_check(emw < 1e-6 && evw < 1e-6 && emn < 1e-6 && evn < 1e-6, "AdamW moments equal torch's exp_avg / exp_avg_sq",
            "rel err m_w %g v_w %g m_n %g v_n %g", emw, evw, emn, evn);
    t_check(o.t == 6, "step counter", "t = %lld", (long long)o.t);
    // The padding between the tensors is no segment: untouched.
    int pad_ok = 1;
    for (int i = NW; i < OFF; i++) pad_ok &= data[i] == 0.0f;
    t_check(pad_ok, "AdamW leaves floats outside the segments alone", "padding changed");
    opt_free(&o);
    st_close(f);
}

// Weight decay only where the segment says so: with zero gradients, AdamW just shrinks decayed tensors.
static void test_decay_segments(void) {
    bn_config c = {.vocab_size = 20, .hidden_size = 8, .intermediate_size = 12, .n_layers = 1, .n_heads = 2,
                   .n_kv_heads = 1, .head_dim = 4, .max_pos = 16, .rms_norm_eps = 1e-5f, .rope_theta = 1e4,
                   .tie_embeddings = 0, .bos_id = -1, .eos_id = -1};
    bn_model m;
    bn_model_init(&m, &c, 1);
    bn_model_init_weights(&m, 3, 0.02f);
    static const int dn[3] = {0, 0, 1}, de[3] = {1, 0, 1};
    static const char *const names[3] = {"default decay: linears, embeddings, LM head; no norms",
                                         "decay_embeddings false: linears only", "decay_norms: every tensor"};
    for (int variant = 0; variant < 3; variant++) {
        opt_segment *segs;
        int n = opt_model_segments(&segs, &m, dn[variant], de[variant]);
        opt_adamw o;
        opt_init(&o, m.n_floats, segs, n, 0.9, 0.95, 1e-8);
        float *before = malloc(sizeof(float) * m.n_floats);
        memcpy(before, m.data, sizeof(float) * m.n_floats);
        bn_model_zero_grad(&m);
        opt_step(&o, m.data, m.grad, 1.0f, 0.5, 0.1);   // keep factor 1 - 0.05
        int ok = 1;
        for (int i = 0; i < m.n_params; i++) {
            const bn_param *p = &m.params[i];
            int want_decay = p->kind == BN_P_LINEAR || (p->kind == BN_P_NORM ? dn[variant] : de[variant]);
            float expect = want_decay ? before[p->offset] * 0.95f : before[p->offset];
            if (fabsf(m.data[p->offset] - expect) > 1e-7f * fabsf(expect) + 1e-12f) {
                ok = 0;
                fprintf(stderr, "%s: %g -> %g, want %g\n", p->name, before[p->offset], m.data[p->offset], expect);
            }
        }
        t_check(ok, names[variant], "a tensor decayed wrongly");
        memcpy(m.data, before, sizeof(float) * m.n_floats);
        free(before);
        free(segs);
        opt_free(&o);
    }
    bn_model_free(&m);
}

static void test_grad_norm(void) {
    size_t n = 3 * 65536 + 123;
    float *g = malloc(sizeof(float) * n);
    rng r;
    rng_seed(&r, 5);
    double ref = 0;
    for (size_t i = 0; i < n; i++) g[i] = rng_normal(&r), ref += (double)g[i] * g[i];
    ref = sqrt(ref);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    double a = opt_grad_norm(g, n);
    omp_set_num_threads(2);
    double b = opt_grad_norm(g, n);
    omp_set_num_threads(threads);
    t_check(a == b, "grad norm is the same on 1 and 2 threads", "%.17g vs %.17g", a, b);
    t_check(fabs(a - ref) < 1e-9 * ref, "grad norm equals a plain double sum", "%.17g vs %.17g", a, ref);
    t_check(opt_clip_scale(2.0, 1.0) < 0.5f && opt_clip_scale(2.0, 1.0) > 0.4999f, "clip scale max/(norm+1e-6)", "%g",
            opt_clip_scale(2.0, 1.0));
    t_check(opt_clip_scale(0.5, 1.0) == 1.0f && opt_clip_scale(5.0, 0) == 1.0f, "no clipping below max or when off", "scale != 1");
    free(g);
}

static int near(double a, double b) { return fabs(a - b) <= 1e-12 + 1e-9 * fabs(b); }

static void test_schedules(void) {
    sched s = {.type = SCHED_COSINE, .lr = 1e-3, .min_lr = 1e-4, .warmup = 100, .steps = 2000, .weight_decay = 0.1};
    t_check(near(sched_lr(&s, 0), 1e-3 / 101) && near(sched_lr(&s, 99), 1e-3 * 100 / 101), "warmup (step+1)/(warmup+1)",
            "%g %g", sched_lr(&s, 0), sched_lr(&s, 99));
    t_check(near(sched_lr(&s, 100), 1e-3) && near(sched_lr(&s, 1050), 5.5e-4) && near(sched_lr(&s, 2000), 1e-4) &&
                near(sched_lr(&s, 5000), 1e-4),
            "cosine: peak, midpoint (lr+min)/2, min at the end and after", "%g %g %g", sched_lr(&s, 100), sched_lr(&s, 1050),
            sched_lr(&s, 2000));
    t_check(near(sched_lr(&s, 575), 1e-4 + 0.9e-3 * 0.5 * (1 + cos(M_PI * 0.25))), "cosine at a quarter", "%g",
            sched_lr(&s, 575));
    s.type = SCHED_LINEAR;
    t_check(near(sched_lr(&s, 1050), 5.5e-4) && near(sched_lr(&s, 575), 1e-3 - 0.25 * 0.9e-3), "linear decay", "%g %g",
            sched_lr(&s, 1050), sched_lr(&s, 575));
    s.type = SCHED_CONSTANT;
    t_check(near(sched_lr(&s, 1999), 1e-3) && near(sched_wd(&s, 1999), 0.1), "constant after warmup", "%g",
            sched_lr(&s, 1999));
    // bitnet: 1.5e-3 -> 1e-3 at the halfway point, linear to 0; weight decay 0.1 then 0.
    sched b = {.type = SCHED_BITNET, .decay = SCHED_LINEAR, .lr = 1.5e-3, .min_lr = 0, .lr_stage2 = 1e-3,
               .stage2_start = 0.5, .warmup = 0, .steps = 1000, .weight_decay = 0.1};
    t_check(sched_stage2(&b) == 500, "bitnet stage 2 at half the steps", "%lld", (long long)sched_stage2(&b));
    t_check(near(sched_lr(&b, 0), 1.5e-3) && near(sched_lr(&b, 499), 1.5e-3 * (1 - 499.0 / 1000)),
            "bitnet stage 1 decays linearly over the whole run", "%g %g", sched_lr(&b, 0), sched_lr(&b, 499));
    t_check(near(sched_lr(&b, 500), 1e-3) && near(sched_lr(&b, 750), 0.5e-3) && near(sched_lr(&b, 1000), 0),
            "bitnet stage 2: cut to lr_stage2, linear to min_lr", "%g %g %g", sched_lr(&b, 500), sched_lr(&b, 750),
            sched_lr(&b, 1000));
    t_check(sched_wd(&b, 499) == 0.1 && sched_wd(&b, 500) == 0.0, "bitnet weight decay 0.1 then 0", "%g %g",
            sched_wd(&b, 499), sched_wd(&b, 500));
    b.decay = SCHED_COSINE;
    t_check(near(sched_lr(&b, 750), 0.5e-3) && near(sched_lr(&b, 625), 0.5e-3 * (1 + cos(M_PI * 0.25))),
            "bitnet with cosine stages", "%g", sched_lr(&b, 625));
    sched_type t;
    t_check(sched_parse("bitnet", &t) == 0 && t == SCHED_BITNET && sched_parse("cosin", &t) == -1, "schedule names", "parse failed");
}

int main(void) {
    test_adamw_vs_torch();
    test_decay_segments();
    test_grad_norm();
    test_schedules();
    return t_done();
}
