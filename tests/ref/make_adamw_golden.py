#!/usr/bin/python3
"""make_adamw_golden.py: writes tests/golden/adamw/adamw.safetensors, PyTorch's AdamW + clip_grad_norm_ on
two small tensors, for tests/test_optim.c.

  /usr/bin/python3 tests/ref/make_adamw_golden.py [--out tests/golden/adamw/adamw.safetensors]

torch.optim.AdamW (torch 1.13, the single-tensor path: float32, decoupled weight decay) with betas (0.9, 0.99),
eps 1e-8, weight_decay 0.1 on `w` (8 x 5, decayed) and `n` (7, no decay: a norm-like 1-D tensor), a different
learning rate at each of STEPS steps (set on the param groups before each step), and
torch.nn.utils.clip_grad_norm_(max_norm=CLIP) over both tensors before each step (the gradients are large
enough that some steps clip and some do not).

Tensors: w0, n0 (initial values); grad_w (STEPS, 8, 5), grad_n (STEPS, 7) (before clipping); lr (STEPS) f64;
grad_norm (STEPS) f64 (the total norm clip_grad_norm_ returned); w, n, m_w, v_w, m_n, v_n (after the last step).
Metadata: betas, eps, weight_decay, clip, steps.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import bitnet_torch as bt  # noqa: E402  (st_save)

STEPS, CLIP, BETAS, EPS, WD = 6, 1.0, (0.9, 0.99), 1e-8, 0.1


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "golden", "adamw", "adamw.safetensors"))
    a = ap.parse_args()
    g = torch.Generator().manual_seed(7)
    w = torch.randn(8, 5, generator=g).requires_grad_(True)
    n = (1.0 + 0.1 * torch.randn(7, generator=g)).requires_grad_(True)
    w0, n0 = w.detach().clone(), n.detach().clone()
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": WD}, {"params": [n], "weight_decay": 0.0}],
                            lr=1e-3, betas=BETAS, eps=EPS)
    lrs = [1e-2, 3e-2, 5e-3, 2e-2, 1e-2, 4e-3]
    scales = [0.05, 0.3, 0.02, 1.0, 0.1, 0.5]   # gradient sizes: some steps clip, some do not
    gw, gn, norms = [], [], []
    for s in range(STEPS):
        opt.zero_grad(set_to_none=False)
        w.grad = scales[s] * torch.randn(8, 5, generator=g)
        n.grad = scales[s] * torch.randn(7, generator=g)
        gw.append(w.grad.clone())
        gn.append(n.grad.clone())
        norms.append(float(torch.nn.utils.clip_grad_norm_([w, n], CLIP)))
        for group in opt.param_groups:
            group["lr"] = lrs[s]
        opt.step()
    st = opt.state
    out = {"w0": w0, "n0": n0, "grad_w": torch.stack(gw), "grad_n": torch.stack(gn),
           "lr": np.array(lrs, dtype=np.float64), "grad_norm": np.array(norms, dtype=np.float64),
           "w": w.detach(), "n": n.detach(), "m_w": st[w]["exp_avg"], "v_w": st[w]["exp_avg_sq"],
           "m_n": st[n]["exp_avg"], "v_n": st[n]["exp_avg_sq"]}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    bt.st_save(a.out, out, {"betas": "%r,%r" % BETAS, "eps": repr(EPS), "weight_decay": repr(WD), "clip": repr(CLIP),
                            "steps": str(STEPS), "torch": torch.__version__})
    print("wrote %s (grad norms %s)" % (a.out, ", ".join("%.3f" % x for x in norms)))


if __name__ == "__main__":
    main()
