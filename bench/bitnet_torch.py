"""bitnet_torch.py: a float32 PyTorch re-implementation of Hugging Face transformers' BitNetForCausalLM.

Used by trit as (a) the generator of golden test data for shapes other than the shipped Hugging Face one
(tests/ref/make_golden.py) and (b) the PyTorch peer in benchmarks (bench/torch_train_bench.py).
It is validated against Hugging Face's own outputs by bench/check_torch_ref.py.

Runs with Debian's /usr/bin/python3 (torch 1.13, numpy); needs neither transformers nor safetensors.

What it follows (transformers 5.x modeling_bitnet.py and integrations/bitnet.py):
  * BitNetRMSNorm: x * rsqrt(mean(x^2) + eps) * w, in float32.
  * pre-norm decoder layers: h = x + o_proj(attn_sub_norm(Attn(q,k,v of input_layernorm(x))));
    out = h + down_proj(ffn_sub_norm(act(gate_proj(y)) * up_proj(y))), y = post_attention_layernorm(h).
  * RoPE in the rotate_half (NeoX) layout, inv_freq = 1 / theta^(arange(0, d, 2) / d), positions 0..T-1.
  * causal softmax attention with GQA (repeat_kv), scale head_dim^-0.5, softmax in float32.
  * final RMSNorm, LM head = embed_tokens (tied) or lm_head.weight; the LM head is never quantized.
  * the 7 projections are BitNet linears, in one of three modes (quantization_config):
      - autobitlinear/online (the QAT "latent" form): y = ActQuant(x) @ WeightQuant(W)^T, both with a
        straight-through gradient; ActQuant: s = 127 / clamp(max|x| per token, 1e-5),
        round(x*s).clamp(-128, 127) / s; WeightQuant: s = 1 / clamp(mean|W|, 1e-5), round(W*s).clamp(-1,1)/s.
      - bitlinear/offline (packed): y = linear(round(x*s_x).clamp(-128,127), W_ternary) / (s_x * weight_scale),
        weight_scale = 1/mean|W|.
      - autobitlinear/offline (packed, the microsoft/bitnet-b1.58-2B-4T layout):
        y = linear(ActQuant(x), W_ternary) * weight_scale, weight_scale = mean|W|.
    Packed weights: uint8 [ceil(out/4), in]; row i*P + p of the unpacked matrix sits in bits 2i..2i+1 of
    packed row p (P = packed rows), stored as code = value + 1.
  * LoRA as peft does it: y = BitLinear(x) + (alpha / r) * (x @ A^T) @ B^T, x unquantized, base frozen.
    In-memory names model.layers.N.<self_attn|mlp>.<proj>.lora_A.default.weight (r, in) / lora_B (out, r);
    peft's saved names (base_model.model. prefix, no .default) are accepted too.
  * loss: mean cross-entropy over positions whose label != -100 (labels are already the next tokens: no shift).
"""

import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------
# safetensors with numpy

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
    "BOOL": np.bool_,
}
_NP_TO_ST = {np.dtype(v): k for k, v in _ST_DTYPES.items()}


def st_load(path, with_metadata=False):
    """Reads a safetensors file into {name: numpy array} (BF16 is widened to float32)."""
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        raw = buf[base + s:base + e]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = a.reshape(info["shape"]).copy()
    return (out, meta) if with_metadata else out


def st_save(path, tensors, metadata=None):
    """Writes {name: numpy array or torch tensor} as safetensors (names sorted, header space-padded to 8)."""
    arrays = {}
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        v = np.ascontiguousarray(v)
        if v.dtype not in _NP_TO_ST:
            raise ValueError("%s: unsupported dtype %s" % (k, v.dtype))
        arrays[k] = v.astype(v.dtype.newbyteorder("<"), copy=False)
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for k in sorted(arrays):
        nb = arrays[k].nbytes
        header[k] = {"dtype": _NP_TO_ST[arrays[k].dtype.newbyteorder("=")], "shape": list(arrays[k].shape),
                     "data_offsets": [off, off + nb]}
        off += nb
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for k in sorted(arrays):
            f.write(arrays[k].tobytes())


# --------------------------------------------------------------------------------------------------
# config

class BitNetConfig:
    """The subset of Hugging Face's BitNetConfig (config.json keys) this model uses."""

    def __init__(self, vocab_size=128256, hidden_size=2560, intermediate_size=6912, num_hidden_layers=30,
                 num_attention_heads=20, num_key_value_heads=None, hidden_act="relu2", rms_norm_eps=1e-5,
                 rope_theta=500000.0, tie_word_embeddings=False, quantization_config=None,
                 max_position_embeddings=2048, **extra):
        self.vocab_size = int(vocab_size)
        self.hidden_size = int(hidden_size)
        self.intermediate_size = int(intermediate_size)
        self.num_hidden_layers = int(num_hidden_layers)
        self.num_attention_heads = int(num_attention_heads)
        self.num_key_value_heads = int(num_key_value_heads or num_attention_heads)
        self.hidden_act = hidden_act
        self.rms_norm_eps = float(rms_norm_eps)
        self.rope_theta = float(rope_theta)
        self.tie_word_embeddings = bool(tie_word_embeddings)
        self.max_position_embeddings = int(max_position_embeddings)
        self.quantization_config = dict(quantization_config or {
            "quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"})
        self.extra = extra
        if hidden_act not in ("relu2", "silu"):
            raise ValueError("unknown hidden_act %r" % hidden_act)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    @property
    def linear_mode(self):
        """'online' (latent QAT weights), 'bitlinear' or 'autobitlinear' (packed offline weights)."""
        q = self.quantization_config
        if q.get("quantization_mode", "offline") == "online":
            if q.get("linear_class", "bitlinear") != "autobitlinear":
                raise ValueError("online quantization needs linear_class autobitlinear")
            return "online"
        return q.get("linear_class", "bitlinear")

    @classmethod
    def from_dict(cls, d):
        return cls(**d)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def to_dict(self):
        d = {
            "architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
            "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size, "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads, "num_key_value_heads": self.num_key_value_heads,
            "max_position_embeddings": self.max_position_embeddings, "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta, "hidden_act": self.hidden_act,
            "tie_word_embeddings": self.tie_word_embeddings, "attention_bias": False,
            "quantization_config": dict(self.quantization_config), "torch_dtype": "float32",
        }
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    def with_quantization(self, linear_class, quantization_mode):
        d = self.to_dict()
        d["quantization_config"] = {"quant_method": "bitnet", "linear_class": linear_class,
                                    "quantization_mode": quantization_mode}
        return BitNetConfig.from_dict(d)


# --------------------------------------------------------------------------------------------------
# quantizers and packing

# Sensitivity probe (tests/ref/make_golden.py): when set, every quantizer input x*s (activations) and every
# weight scale s (weights) is multiplied by (1 + rel * N(0,1)), mimicking the float32 rounding differences of
# another implementation. None (the default) leaves the model exact.
_QUANT_NOISE = None


def set_quant_noise(rel=None, seed=0):
    global _QUANT_NOISE
    _QUANT_NOISE = None if not rel else (float(rel), torch.Generator().manual_seed(seed))


def _noisy(v):
    if _QUANT_NOISE is None:
        return v
    rel, g = _QUANT_NOISE
    return v * (1 + rel * torch.randn(v.shape, generator=g, dtype=torch.float64).to(v.dtype))


class ActQuant(torch.autograd.Function):
    """Per-token absmax int8 fake quantization with a straight-through gradient."""

    @staticmethod
    def forward(ctx, x):
        s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
        return _noisy(x * s).round().clamp(-128, 127) / s

    @staticmethod
    def backward(ctx, g):
        return g


class WeightQuant(torch.autograd.Function):
    """Per-tensor absmean ternary fake quantization with a straight-through gradient."""

    @staticmethod
    def forward(ctx, w):
        s = _noisy(1.0 / w.abs().mean().clamp(min=1e-5))
        return (w * s).round().clamp(-1, 1) / s

    @staticmethod
    def backward(ctx, g):
        return g


def act_quant_int(x):
    """BitLinear.activation_quant: (integer-valued float codes, scale s = 127 / max|x|)."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return _noisy(x * s).round().clamp(-128, 127), s


def ternarize(w):
    """Absmean ternarization of a latent weight: (codes in {-1,0,1} as float32, mean|W| clamped)."""
    w = torch.as_tensor(w, dtype=torch.float32)
    mean_abs = w.abs().mean().clamp(min=1e-5)
    return (w * (1.0 / mean_abs)).round().clamp(-1, 1), mean_abs


def pack_ternary(codes):
    """Ternary [out, in] (values -1/0/1) -> uint8 [ceil(out/4), in], transformers' pack_weights layout."""
    c = np.asarray(codes)
    out = c.shape[0]
    p = (out + 3) // 4
    u = (np.rint(c).astype(np.int64) + 1).astype(np.uint8)
    if u.max(initial=0) > 2:
        raise ValueError("pack_ternary: values must be -1, 0 or 1")
    packed = np.zeros((p,) + c.shape[1:], dtype=np.uint8)
    for i in range(4):
        rows = u[i * p:min((i + 1) * p, out)]
        packed[:rows.shape[0]] |= (rows << (2 * i)).astype(np.uint8)
    return packed


def unpack_ternary(packed, out_features=None):
    """uint8 [P, in] -> float32 ternary [out_features or 4P, in] (code - 1)."""
    pk = np.asarray(packed, dtype=np.uint8)
    p = pk.shape[0]
    un = np.concatenate([(pk >> (2 * i)) & 3 for i in range(4)], axis=0).astype(np.float32) - 1.0
    return un[:out_features] if out_features is not None else un


# --------------------------------------------------------------------------------------------------
# modules

class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class BitNetLinear(nn.Module):
    """One of the 7 projections. mode: 'online' (latent F32 weight, trainable), 'bitlinear' or
    'autobitlinear' (packed uint8 weight buffer + weight_scale buffer, frozen). Optional peft LoRA."""

    def __init__(self, in_features, out_features, mode="online"):
        super().__init__()
        self.in_features, self.out_features, self.mode = in_features, out_features, mode
        if mode == "online":
            self.weight = nn.Parameter(torch.empty(out_features, in_features))
        elif mode in ("bitlinear", "autobitlinear"):
            self.register_buffer("weight", torch.zeros((out_features + 3) // 4, in_features, dtype=torch.uint8))
            self.register_buffer("weight_scale", torch.ones(1))
        else:
            raise ValueError("unknown linear mode %r" % mode)
        self._unpacked = None  # cache of the ternary weight, keyed on the packed buffer
        self.lora_A = None
        self.lora_B = None
        self.lora_scaling = 0.0

    def add_lora(self, r, alpha):
        self.lora_A = nn.ModuleDict({"default": nn.Linear(self.in_features, r, bias=False)})
        self.lora_B = nn.ModuleDict({"default": nn.Linear(r, self.out_features, bias=False)})
        self.lora_scaling = float(alpha) / float(r)

    def ternary_weight(self, dtype=torch.float32):
        key = (self.weight.data_ptr(), self.weight._version, dtype)
        if self._unpacked is None or self._unpacked[0] != key:
            w = torch.from_numpy(unpack_ternary(self.weight.cpu().numpy(), self.out_features))
            self._unpacked = (key, w.to(device=self.weight.device, dtype=dtype))
        return self._unpacked[1]

    def forward(self, x):
        if self.mode == "online":
            y = F.linear(ActQuant.apply(x), WeightQuant.apply(self.weight))
        elif self.mode == "bitlinear":
            xq, s = act_quant_int(x)
            y = F.linear(xq, self.ternary_weight(x.dtype)) / (s * self.weight_scale)
        else:
            y = F.linear(ActQuant.apply(x), self.ternary_weight(x.dtype)) * self.weight_scale
        if self.lora_A is not None:
            y = y + self.lora_B["default"](self.lora_A["default"](x)) * self.lora_scaling
        return y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(head_dim, theta, T, device=None):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    pos = torch.arange(T, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(device), emb.sin().to(device)


class BitNetAttention(nn.Module):
    def __init__(self, cfg, mode):
        super().__init__()
        h, d = cfg.hidden_size, cfg.head_dim
        self.n_heads, self.n_kv, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, d
        self.q_proj = BitNetLinear(h, self.n_heads * d, mode)
        self.k_proj = BitNetLinear(h, self.n_kv * d, mode)
        self.v_proj = BitNetLinear(h, self.n_kv * d, mode)
        self.o_proj = BitNetLinear(self.n_heads * d, h, mode)
        self.attn_sub_norm = RMSNorm(h, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        d = self.head_dim
        q = self.q_proj(x).view(B, T, self.n_heads, d).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, d).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = self.n_heads // self.n_kv
        if g > 1:  # repeat_kv
            k = k[:, :, None].expand(B, self.n_kv, g, T, d).reshape(B, self.n_heads, T, d)
            v = v[:, :, None].expand(B, self.n_kv, g, T, d).reshape(B, self.n_heads, T, d)
        att = torch.matmul(q, k.transpose(2, 3)) * (d ** -0.5) + mask
        att = torch.softmax(att, dim=-1, dtype=torch.float64 if att.dtype == torch.float64 else torch.float32)
        o = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.n_heads * d)
        return self.o_proj(self.attn_sub_norm(o))


class BitNetMLP(nn.Module):
    def __init__(self, cfg, mode):
        super().__init__()
        h, i = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = BitNetLinear(h, i, mode)
        self.up_proj = BitNetLinear(h, i, mode)
        self.down_proj = BitNetLinear(i, h, mode)
        self.ffn_sub_norm = RMSNorm(i, cfg.rms_norm_eps)
        self.act = (lambda t: torch.relu(t).square()) if cfg.hidden_act == "relu2" else F.silu

    def forward(self, x):
        return self.down_proj(self.ffn_sub_norm(self.act(self.gate_proj(x)) * self.up_proj(x)))


class BitNetDecoderLayer(nn.Module):
    def __init__(self, cfg, mode):
        super().__init__()
        self.self_attn = BitNetAttention(cfg, mode)
        self.mlp = BitNetMLP(cfg, mode)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


def causal_mask(T, device=None):
    return torch.full((T, T), float("-inf"), device=device).triu(1)


class BitNetModel(nn.Module):
    def __init__(self, cfg, mode):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([BitNetDecoderLayer(cfg, mode) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class BitNetForCausalLM(nn.Module):
    """Parameter/buffer names are exactly Hugging Face's (model.layers.N...., lm_head.weight if untied)."""

    def __init__(self, cfg):
        super().__init__()
        if isinstance(cfg, dict):
            cfg = BitNetConfig.from_dict(cfg)
        self.config = cfg
        self.mode = cfg.linear_mode
        self.model = BitNetModel(cfg, self.mode)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if self.mode != "online":  # packed base weights are not trainable
            self.requires_grad_(False)
        self._rope = {}

    # ---- construction
    def init_weights(self, generator, std=0.02, norm_noise=0.1):
        """N(0, std) for embeddings/linears/lm_head, 1 + N(0, norm_noise) for norm weights."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("norm.weight"):
                    p.copy_(1.0 + norm_noise * torch.randn(p.shape, generator=generator))
                else:
                    p.copy_(std * torch.randn(p.shape, generator=generator))
        return self

    def load_tensors(self, tensors, strict=True):
        """Loads {HF name: array}; packed weights stay uint8."""
        sd = self.state_dict()
        missing = [k for k in sd if k not in tensors and ".lora_" not in k]
        extra = [k for k in tensors if k not in sd]
        if strict and (missing or extra):
            raise KeyError("missing %s, unexpected %s" % (missing[:5], extra[:5]))
        with torch.no_grad():
            for k, v in tensors.items():
                if k not in sd:
                    continue
                t = torch.from_numpy(np.asarray(v))
                if tuple(t.shape) != tuple(sd[k].shape):
                    raise ValueError("%s: shape %s, model wants %s" % (k, tuple(t.shape), tuple(sd[k].shape)))
                sd[k].copy_(t.to(sd[k].dtype))
        return self

    def linears(self):
        """[(HF module name, BitNetLinear)] for the 7 projections of every layer."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, BitNetLinear)]

    # ---- LoRA
    def add_lora(self, r, alpha, tensors=None):
        """Adds peft LoRA (r, alpha) on all 7 projections and freezes the base. tensors: in-memory peft
        names (...lora_A.default.weight) or saved names (base_model.model....lora_A.weight)."""
        self.requires_grad_(False)
        for _, m in self.linears():
            m.add_lora(r, alpha)
        if tensors is not None:
            norm = {}
            for k, v in tensors.items():
                k2 = k[len("base_model.model."):] if k.startswith("base_model.model.") else k
                if ".default." not in k2:
                    k2 = k2.replace(".lora_A.weight", ".lora_A.default.weight").replace(
                        ".lora_B.weight", ".lora_B.default.weight")
                norm[k2] = v
            sd = self.state_dict()
            want = [k for k in sd if ".lora_" in k]
            missing = [k for k in want if k not in norm]
            if missing:
                raise KeyError("LoRA tensors missing: %s" % missing[:5])
            with torch.no_grad():
                for k in want:
                    t = torch.from_numpy(np.asarray(norm[k], dtype=np.float32))
                    if tuple(t.shape) != tuple(sd[k].shape):
                        raise ValueError("%s: shape %s, model wants %s" % (k, tuple(t.shape), tuple(sd[k].shape)))
                    sd[k].copy_(t)
        for n, p in self.named_parameters():
            p.requires_grad_(".lora_" in n)
        return self

    def lora_parameters(self):
        return {n: p for n, p in self.named_parameters() if ".lora_" in n}

    # ---- forward
    def forward(self, input_ids, labels=None):
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        B, T = input_ids.shape
        dev = self.model.embed_tokens.weight.device
        dt = self.model.embed_tokens.weight.dtype
        key = (T, str(dev), dt)
        if key not in self._rope:
            cos, sin = rope_cos_sin(self.config.head_dim, self.config.rope_theta, T, dev)
            self._rope[key] = (cos.to(dt), sin.to(dt), causal_mask(T, dev).to(dt))
        cos, sin, mask = self._rope[key]
        x = self.model.embed_tokens(input_ids.to(dev))
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        w = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        logits = F.linear(x, w)
        loss = None
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long).to(dev)
            flat = logits.reshape(-1, logits.shape[-1])
            loss = F.cross_entropy(flat if flat.dtype == torch.float64 else flat.float(), labels.reshape(-1),
                                   ignore_index=-100)
        return logits, loss


# --------------------------------------------------------------------------------------------------
# loading and conversion helpers

def load_model(config, weights):
    """config: path to config.json or a dict/BitNetConfig; weights: safetensors path or {name: array}."""
    if isinstance(config, str):
        config = BitNetConfig.from_json(config)
    elif isinstance(config, dict):
        config = BitNetConfig.from_dict(config)
    if isinstance(weights, str):
        weights = st_load(weights)
    return BitNetForCausalLM(config).load_tensors(weights)


def load_model_dir(path):
    return load_model(os.path.join(path, "config.json"), os.path.join(path, "model.safetensors"))


def pack_state(latent_tensors, config, linear_class):
    """Latent F32 state {HF name: array} -> packed offline state for linear_class 'bitlinear'
    (weight_scale = 1/mean|W|) or 'autobitlinear' (weight_scale = mean|W|). Other tensors copied (F32)."""
    cfg = config if isinstance(config, BitNetConfig) else BitNetConfig.from_dict(config)
    proj = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    out = {}
    for k, v in latent_tensors.items():
        parts = k.split(".")
        if k.startswith("model.layers.") and len(parts) == 6 and parts[4] in proj and parts[5] == "weight":
            codes, mean_abs = ternarize(v)
            out[k] = pack_ternary(codes.numpy())
            scale = (1.0 / mean_abs) if linear_class == "bitlinear" else mean_abs
            out[k[:-len("weight")] + "weight_scale"] = np.array([float(scale)], dtype=np.float32)
        else:
            out[k] = np.asarray(v, dtype=np.float32)
    return out, cfg.with_quantization(linear_class, "offline")


def rel_l2(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / (nb if nb > 0 else 1.0))


def run_grad(model, input_ids, labels):
    """One forward + backward: (logits ndarray, loss float, {"grad.<name>": ndarray} for trainable params)."""
    model.zero_grad(set_to_none=True)
    logits, loss = model(input_ids, labels)
    loss.backward()
    grads = {"grad." + n: p.grad.detach().float().numpy().copy() for n, p in model.named_parameters()
             if p.requires_grad and p.grad is not None}
    return logits.detach().float().numpy().copy(), float(loss.item()), grads
