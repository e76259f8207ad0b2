#!/usr/bin/python3
"""torch_train_bench.py: the PyTorch peer for trit's training benchmarks.

  /usr/bin/python3 bench/torch_train_bench.py [--case train_small|block_2b4t|all] [--iters 10] [--warmup 3]
                                              [--threads 1,2]

Times one training step = forward + loss.backward() (no optimizer step; gradients are reset with
zero_grad(set_to_none=True) outside the timed region) of bench/bitnet_torch.py, the float32 re-implementation
of Hugging Face's BitNetForCausalLM with online quantization-aware training (autobitlinear/online: int8 per-token
activations and absmean ternary weights, straight-through gradients), i.e. what trit's `train` does.

Cases:
  train_small  the shakespeare-char BitNet of configs/shakespeare-char-model.json (4 layers, hidden 128, 4 heads,
               4 KV heads, intermediate 344, byte vocabulary, relu2, tied embeddings); B=12, T=64,
               cross-entropy loss on random tokens.
  block_2b4t   ONE decoder block of the 2B4T shape (hidden 2560, intermediate 6912, 20 heads, 5 KV heads,
               relu2) with both of its norms and both sub-norms, on a random float input x (B=1, T=256, 2560)
               that requires grad (as a block in the middle of the network: dx is computed too), loss =
               sum(block(x)^2). No embeddings, no final norm, no LM head.

For each thread count in --threads the script runs --warmup untimed steps, then --iters timed steps, and keeps
the median; it prints ONE JSON line per case, for the thread count with the best median:
  {"bench": ..., "impl": "pytorch", "threads": n, "tokens_per_s": ..., "ms_per_step": ..., "gflops": ...}
(per-thread medians go to stderr).

FLOPs per step (gflops = flops / median step time / 1e9):
  6 * (number of linear-layer weights, LM head included where there is one) * tokens
  + 3 * 2 * 2 * B * T * T * head_dim * n_heads * layers
The first term is the usual 2 (multiply-add) x 3 (forward, grad wrt input, grad wrt weight) per weight and
token. The second is attention: QK^T and AV (2 matmuls) at 2 flops per multiply-add, times 3 for forward plus
backward, over the full T x T score matrix (the causal halving is ignored). Quantizers, norms, RoPE, softmax and
the activation are not counted.
  train_small: linear weights 4 * (4*128*128 + 3*128*344) + V*128 (V = 259: 823,680); tokens 768.
  block_2b4t : linear weights 2*2560*2560 + 2*640*2560 + 3*2560*6912 = 69,468,160; tokens 256.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bitnet_torch as bt  # noqa: E402


def flops_per_step(n_linear_weights, B, T, head_dim, n_heads, layers):
    return 6 * n_linear_weights * B * T + 3 * 2 * 2 * B * T * T * head_dim * n_heads * layers


def n_linear(cfg, lm_head=True):
    h, i, d = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim
    per_layer = 2 * h * h + 2 * h * cfg.num_key_value_heads * d + 3 * h * i
    return per_layer * cfg.num_hidden_layers + (cfg.vocab_size * h if lm_head else 0)


def case_train_small():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "configs", "shakespeare-char-model.json")) as f:
        cfg = bt.BitNetConfig(**json.load(f))
    B, T = 12, 64
    g = torch.Generator().manual_seed(0)
    model = bt.BitNetForCausalLM(cfg).init_weights(g)
    ids = torch.randint(0, cfg.vocab_size, (B, T + 1), generator=g)
    x, y = ids[:, :T].contiguous(), ids[:, 1:].contiguous()

    def step():
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        _, loss = model(x, y)
        loss.backward()
        return time.perf_counter() - t0

    flops = flops_per_step(n_linear(cfg), B, T, cfg.head_dim, cfg.num_attention_heads, cfg.num_hidden_layers)
    return step, B * T, flops


def case_block_2b4t():
    cfg = bt.BitNetConfig(vocab_size=8, hidden_size=2560, intermediate_size=6912, num_hidden_layers=1,
                          num_attention_heads=20, num_key_value_heads=5, hidden_act="relu2", rms_norm_eps=1e-5,
                          rope_theta=500000.0, tie_word_embeddings=True)
    B, T = 1, 256
    g = torch.Generator().manual_seed(0)
    block = bt.BitNetDecoderLayer(cfg, "online")
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    cos, sin = bt.rope_cos_sin(cfg.head_dim, cfg.rope_theta, T)
    mask = bt.causal_mask(T)
    x = torch.randn(B, T, cfg.hidden_size, generator=g).requires_grad_(True)

    def step():
        block.zero_grad(set_to_none=True)
        x.grad = None
        t0 = time.perf_counter()
        loss = block(x, cos, sin, mask).pow(2).sum()
        loss.backward()
        return time.perf_counter() - t0

    flops = flops_per_step(n_linear(cfg, lm_head=False), B, T, cfg.head_dim, cfg.num_attention_heads, 1)
    return step, B * T, flops


CASES = {"train_small": case_train_small, "block_2b4t": case_block_2b4t}


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def run_case(name, iters, warmup, threads):
    step, tokens, flops = CASES[name]()
    best = None
    for n in threads:
        torch.set_num_threads(n)
        for _ in range(warmup):
            step()
        med = median([step() for _ in range(iters)])
        print("# %s threads=%d median %.1f ms" % (name, n, med * 1e3), file=sys.stderr)
        if best is None or med < best[1]:
            best = (n, med)
    n, med = best
    print(json.dumps({"bench": name, "impl": "pytorch", "threads": n, "tokens_per_s": round(tokens / med, 1),
                      "ms_per_step": round(med * 1e3, 2), "gflops": round(flops / med / 1e9, 2)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description="PyTorch BitNet training-step benchmark (forward + backward)")
    ap.add_argument("--case", default="all", choices=["all"] + list(CASES))
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to try (default 1,2)")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",") if t]
    for name in (CASES if a.case == "all" else [a.case]):
        run_case(name, a.iters, a.warmup, threads)


if __name__ == "__main__":
    main()
