#!/usr/bin/python3
"""make_golden.py: writes tests/golden/<name>/ golden data for trit's tests.

  /usr/bin/python3 tests/ref/make_golden.py [--out tests/golden] [--only NAME ...]
                                            [--hf-src /work/shared/golden/hf-tiny-bitnet]

* hf-tiny-bitnet/: Hugging Face transformers' own outputs (shipped in --hf-src), copied into the folder layout
  below. Values are copied, never recomputed.
* odd-gqa3/, mha5/: shapes the shipped data does not cover, computed with the PyTorch re-implementation in
  bench/bitnet_torch.py (validated against Hugging Face's outputs by bench/check_torch_ref.py).

Layout of each folder:
  latent/{config.json,model.safetensors}                F32 latent weights, autobitlinear/online
  packed/{config.json,model.safetensors}                bitlinear/offline: uint8 packed + weight_scale = 1/mean|W|
  packed-autobitlinear/{config.json,model.safetensors}  autobitlinear/offline: weight_scale = mean|W|
  lora-init.safetensors   peft in-memory names ...lora_A.default.weight (r,in) / lora_B (out,r);
                          __metadata__ {"lora_alpha": "..."}
  batch.safetensors       input_ids, labels (int32 BxT; labels are the next tokens, -100 = ignored)
  reference.safetensors   logits, loss[1], grad.<param>, logits_packed, logits_packed_autobitlinear,
                          lora_logits, lora_loss[1], grad.<lora name>

Robustness: the int8 activation quantizer and the ternary weight quantizer are discontinuous. An input that
lands within float32 rounding of a tie (x*s near k+0.5, |W|/mean|W| near 0.5) flips one code under another
summation order, and the flip cascades through the later quantizers of that token and, through attention, of
the later tokens: logits move by up to ~1e-2 and single gradients by a few 1e-2, around the test tolerances.
So the seed of each generated shape is chosen (starting from the seed in SHAPES, which is already the chosen
one) such that, relative to the tolerances of tests/golden/README.md, every output moves by at most MAX_SCORE
(10%) between (a) float32 and float64, (b) the packed-autobitlinear and the latent logits, and (c) float64 and
PROBES float64 runs in which every quantizer input carries a relative noise of PROBE_NOISE = 3e-7 (about the
float32-vs-float64 error of those inputs, measured: median 2e-7 relative, 4e-6 absolute on x*s ~ 36). An
independent float32 implementation is then very likely to land within a small fraction of the tolerances.
(At 1e-6 relative noise no seed of odd-gqa3 among 250 stays within tolerance every time: that shape is
intrinsically more chaotic than mha5.) The chosen seed and its score are in reference.safetensors' metadata.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import bitnet_torch as bt  # noqa: E402

SHAPES = {
    "odd-gqa3": dict(
        config=dict(vocab_size=300, hidden_size=96, intermediate_size=200, num_hidden_layers=3,
                    num_attention_heads=3, num_key_value_heads=1, hidden_act="silu", rms_norm_eps=1e-6,
                    rope_theta=10000.0, tie_word_embeddings=False, max_position_embeddings=64,
                    bos_token_id=1, eos_token_id=2),
        B=2, T=17, r=3, alpha=6.0, seed=1038),
    "mha5": dict(
        config=dict(vocab_size=130, hidden_size=80, intermediate_size=132, num_hidden_layers=2,
                    num_attention_heads=5, num_key_value_heads=5, hidden_act="relu2", rms_norm_eps=1e-5,
                    rope_theta=500000.0, tie_word_embeddings=True, max_position_embeddings=64,
                    bos_token_id=1, eos_token_id=2),
        B=3, T=9, r=2, alpha=8.0, seed=2003),
}

# Seed selection (see the module docstring): accept a seed only if every probe stays within MAX_SCORE of the
# test tolerances.
MAX_SCORE = 0.1
PROBES = 6
PROBE_NOISE = 3e-7
MAX_SEEDS = 300
LORA_A_INIT = "uniform(-1/sqrt(in), 1/sqrt(in)) (peft's default A init)"
LORA_B_STD = 0.02


def fmt_num(x):
    return "%g" % x


def write_model(d, cfg, tensors):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=1)
        f.write("\n")
    bt.st_save(os.path.join(d, "model.safetensors"), tensors, {"format": "pt"})


def compute_all(cfg, latent, lora, r, alpha, ids, labels, dtype):
    """Every reference output for one weight set, in dtype."""
    out = {}
    m = bt.BitNetForCausalLM(cfg).load_tensors(latent).to(dtype)
    out["logits"], loss, grads = bt.run_grad(m, ids, labels)
    out["loss"] = np.array([loss], dtype=np.float32)
    out.update(grads)
    for lc, key in (("bitlinear", "logits_packed"), ("autobitlinear", "logits_packed_autobitlinear")):
        st, pcfg = bt.pack_state(latent, cfg, lc)
        pm = bt.BitNetForCausalLM(pcfg).load_tensors(st).to(dtype)
        with torch.no_grad():
            out[key] = pm(ids)[0].float().numpy()
    lm = bt.BitNetForCausalLM(cfg).load_tensors(latent).add_lora(r, alpha, lora).to(dtype)
    out["lora_logits"], lloss, lgrads = bt.run_grad(lm, ids, labels)
    out["lora_loss"] = np.array([lloss], dtype=np.float32)
    out.update(lgrads)
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def make_weights(cfg, spec, seed):
    g = torch.Generator().manual_seed(seed)
    model = bt.BitNetForCausalLM(cfg).init_weights(g, std=0.02, norm_noise=0.1)
    latent = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    lora = {}
    for name, lin in model.linears():
        a = (torch.rand(spec["r"], lin.in_features, generator=g) * 2 - 1) / np.sqrt(lin.in_features)
        b = LORA_B_STD * torch.randn(lin.out_features, spec["r"], generator=g)
        lora[name + ".lora_A.default.weight"] = a.numpy()
        lora[name + ".lora_B.default.weight"] = b.numpy()
    B, T, V = spec["B"], spec["T"], cfg.vocab_size
    seq = torch.randint(0, V, (B, T + 1), generator=g)
    ids = seq[:, :T].to(torch.int32).numpy().copy()
    labels = seq[:, 1:].to(torch.int32).numpy().copy()
    # a few ignored positions: the first label of row 0, one in the middle of the last row, the end of row 1
    labels[0, 0] = -100
    labels[B - 1, T // 2] = -100
    labels[1 % B, T - 1] = -100
    return latent, lora, ids, labels


def tolerance(key):
    """The test tolerances of tests/golden/README.md (loss: absolute; the rest: relative L2)."""
    if key.endswith("loss"):
        return 2e-3
    if key == "lora_logits":
        return 1e-2
    if key.startswith("logits"):
        return 5e-3
    return 5e-2 if ".lora_" in key else 2e-2


def score(got, want):
    """(worst error / tolerance over every output, the key where it happens)."""
    worst = (0.0, "")
    for k in want:
        e = abs(float(got[k][0] - want[k][0])) if k.endswith("loss") else bt.rel_l2(got[k], want[k])
        worst = max(worst, (e / tolerance(k), k))
    return worst


def robustness(cfg, spec, latent, lora, ids, labels):
    """The float32 reference and its robustness score: the worst (error / tolerance) of (a) float32 against
    float64, (b) packed-autobitlinear logits against latent logits, (c) PROBES float64 runs whose quantizer
    inputs carry a relative noise of PROBE_NOISE (another implementation's float32 rounding), against float64."""
    args = (cfg, latent, lora, spec["r"], spec["alpha"], ids, labels)
    f32 = compute_all(*args, torch.float32)
    f64 = compute_all(*args, torch.float64)
    s, k = score(f32, f64)
    worst = (s, k + " (float32 vs float64)")
    e = bt.rel_l2(f32["logits_packed_autobitlinear"], f32["logits"]) / tolerance("logits")
    worst = max(worst, (e, "logits_packed_autobitlinear vs logits"))
    for p in range(PROBES):
        bt.set_quant_noise(PROBE_NOISE, seed=p)
        try:
            s, k = score(compute_all(*args, torch.float64), f64)
        finally:
            bt.set_quant_noise(None)
        worst = max(worst, (s, k + " (noise probe %d)" % p))
        if worst[0] > MAX_SCORE:
            break
    return f32, worst[0], worst[1]


def make_shape(name, spec, out_dir):
    cfg = bt.BitNetConfig.from_dict(dict(spec["config"], quantization_config={
        "quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}))
    seed = spec["seed"]
    for attempt in range(MAX_SEEDS):
        latent, lora, ids, labels = make_weights(cfg, spec, seed)
        ref, worst, where = robustness(cfg, spec, latent, lora, ids, labels)
        if worst <= MAX_SCORE:
            break
        print("%s: seed %d rejected: %s moves by %.2f of its tolerance (a rounding near a tie)"
              % (name, seed, where, worst))
        seed += 1
    else:
        raise SystemExit("%s: no robust seed found" % name)

    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    write_model(os.path.join(d, "latent"), cfg, latent)
    for lc, sub in (("bitlinear", "packed"), ("autobitlinear", "packed-autobitlinear")):
        st, pcfg = bt.pack_state(latent, cfg, lc)
        write_model(os.path.join(d, sub), pcfg, st)
    bt.st_save(os.path.join(d, "lora-init.safetensors"), lora,
               {"lora_alpha": fmt_num(spec["alpha"]), "r": str(spec["r"])})
    bt.st_save(os.path.join(d, "batch.safetensors"), {"input_ids": ids, "labels": labels})
    meta = {
        "what": "bench/bitnet_torch.py (PyTorch re-implementation of HF BitNetForCausalLM) fp32: online-QAT "
                "logits/loss/grads (STE), offline packed logits (bitlinear, autobitlinear), LoRA r=%d alpha=%s "
                "logits/loss/grads (base frozen)" % (spec["r"], fmt_num(spec["alpha"])),
        "generator": "tests/ref/make_golden.py", "seed": str(seed), "torch": torch.__version__,
        "robustness": "worst error/tolerance %.3f (%s) over float32 vs float64 and %d float64 runs with "
                      "%.0e relative noise on the quantizer inputs" % (worst, where, PROBES, PROBE_NOISE),
    }
    bt.st_save(os.path.join(d, "reference.safetensors"), ref, meta)
    size = sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(d) for f in fs)
    print("%s: seed %d, loss %.6f, lora_loss %.6f, robustness: worst error/tolerance %.3f (%s), "
          "%d tensors in reference, %.2f MB" % (name, seed, ref["loss"][0], ref["lora_loss"][0], worst, where,
                                                len(ref), size / 1e6))


def copy_hf(src, out_dir):
    """tests/golden/hf-tiny-bitnet/ from the shipped Hugging Face files: values copied as they are."""
    d = os.path.join(out_dir, "hf-tiny-bitnet")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for kind in ("latent", "packed", "packed-autobitlinear"):
        os.makedirs(os.path.join(d, kind))
        shutil.copyfile(os.path.join(src, kind + ".config.json"), os.path.join(d, kind, "config.json"))
        shutil.copyfile(os.path.join(src, kind + ".model.safetensors"), os.path.join(d, kind, "model.safetensors"))
    lora = bt.st_load(os.path.join(src, "tiny-bitnet-lora-init.safetensors"))
    bt.st_save(os.path.join(d, "lora-init.safetensors"), lora, {"lora_alpha": "8", "r": "4"})
    ref, meta = bt.st_load(os.path.join(src, "tiny-bitnet-reference.safetensors"), with_metadata=True)
    bt.st_save(os.path.join(d, "batch.safetensors"), {"input_ids": ref.pop("input_ids").astype(np.int32),
                                                      "labels": ref.pop("labels").astype(np.int32)})
    ref.update(bt.st_load(os.path.join(src, "tiny-bitnet-packed-autobitlinear-logits.safetensors")))
    ref.update(bt.st_load(os.path.join(src, "tiny-bitnet-lora-grads.safetensors")))
    meta = dict(meta)
    meta["copied_by"] = ("tests/ref/make_golden.py from tiny-bitnet-reference.safetensors, "
                         "tiny-bitnet-packed-autobitlinear-logits.safetensors, tiny-bitnet-lora-grads.safetensors "
                         "(input_ids/labels moved to batch.safetensors)")
    bt.st_save(os.path.join(d, "reference.safetensors"), ref, meta)
    shutil.copytree(os.path.join(src, "peft-adapter"), os.path.join(d, "peft-adapter"))
    for p, ds, fs in os.walk(d):  # the shipped files are read-only; the copies need not be
        os.chmod(p, 0o755)
        for f in fs:
            os.chmod(os.path.join(p, f), 0o644)
    print("hf-tiny-bitnet: copied from %s (%d tensors in reference)" % (src, len(ref)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "golden"))
    ap.add_argument("--only", nargs="*", help="names to write (hf-tiny-bitnet, %s)" % ", ".join(SHAPES))
    ap.add_argument("--hf-src", default="/work/shared/golden/hf-tiny-bitnet")
    a = ap.parse_args()
    torch.set_num_threads(1)  # one summation order, whatever the machine
    names = a.only or ["hf-tiny-bitnet"] + list(SHAPES)
    os.makedirs(a.out, exist_ok=True)
    for n in names:
        if n == "hf-tiny-bitnet":
            copy_hf(a.hf_src, a.out)
        elif n in SHAPES:
            make_shape(n, SHAPES[n], a.out)
        else:
            raise SystemExit("unknown golden %r" % n)


if __name__ == "__main__":
    main()
