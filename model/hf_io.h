// hf_io.h: Hugging Face checkpoints (config.json + safetensors) <-> bn_model.
//
// Latent checkpoints hold f32/f16/bf16 linear weights. Packed checkpoints (quantization_mode offline)
// hold each linear as uint8 (ceil(out/4), in): row i*P + p of the ternary weight in bits 2i..2i+1 of
// packed row p, code = value + 1, plus a one-element `weight_scale` that multiplies (autobitlinear) or
// divides (bitlinear). Packed weights are used as stored, never re-quantized.
#ifndef TRIT_MODEL_HF_IO_H
#define TRIT_MODEL_HF_IO_H

#include "model/bitnet.h"

// dir holds config.json and model.safetensors (or a sharded index). with_grad allocates gradients for a
// latent model (a packed model has no trainable base tensors and never gets them).
int bn_model_load_hf(bn_model *m, const char *dir, int with_grad, tr_err *err);

// Unpacks one packed linear: codes (ceil(out/4), in) -> w (out, in) = (code - 1) * mul.
// Returns -1 and names the bad byte when a code is 3.
int bn_unpack_ternary(float *w, const unsigned char *packed, int out, int in, float mul, const char *what, tr_err *err);

#endif
