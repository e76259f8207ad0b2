// optim.h: AdamW over a parameter slab, global-norm gradient clipping.
//
// The moments m and v are one slab each, parallel to the parameter slab (same length and offsets), so the
// same code serves the full model (bn_model.data / .grad) and, later, LoRA adapters. Per-tensor decisions
// (weight decay or not) come from a segment table built from bn_model.params.
//
// The update is PyTorch's torch.optim.AdamW (decoupled weight decay), in f32, for step t = 1, 2, ...:
//   g = grad * grad_scale
//   p = p * (1 - lr * wd)                    (decayed segments only)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with the scalars rounded to f32 where PyTorch rounds them, so it tracks torch to float rounding.
// Updates run on OpenMP threads; the result does not depend on the thread count.
#ifndef TRIT_TRAIN_OPTIM_H
#define TRIT_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "model/bitnet.h"

typedef struct {
    size_t offset, n;   // floats, into the slab
    int decay;          // 1: weight decay applies to this tensor
} opt_segment;

typedef struct {
    double beta1, beta2, eps;
    float *m, *v;         // (n) first and second moments
    size_t n;
    opt_segment *segs;
    int n_segs;
    int64_t t;            // AdamW steps taken (bias correction uses t after the increment)
} opt_adamw;

// Segments for a model: every parameter; decay on 2-D tensors (linears, embeddings, LM head), none on norms.
// decay_norms / decay_embeddings override the two choices. Returns the number of segments (*out: free it).
int opt_model_segments(opt_segment **out, const bn_model *m, int decay_norms, int decay_embeddings);

// Zeroed moments for a slab of n floats. segs is copied.
void opt_init(opt_adamw *o, size_t n, const opt_segment *segs, int n_segs, double beta1, double beta2, double eps);
void opt_free(opt_adamw *o);   // accepts NULL or zeroed

// Global L2 norm of grad (n floats), summed in double over fixed 64k-element blocks in a fixed order, so it
// is the same for every thread count.
double opt_grad_norm(const float *grad, size_t n);

// PyTorch's clip_grad_norm_ factor: max_norm / (norm + 1e-6) when that is below 1, else 1 (and 1 when
// max_norm <= 0, clipping off).
float opt_clip_scale(double norm, double max_norm);

// One AdamW step on data (n) with gradients grad * grad_scale; increments o->t.
void opt_step(opt_adamw *o, float *data, const float *grad, float grad_scale, double lr, double weight_decay);

#endif
