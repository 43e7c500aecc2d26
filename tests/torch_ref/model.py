"""model.py: our PyTorch implementation of the reference transformer.

lilm is checked against, and timed against, this model. It is written from the
facts in shared/SEED_REFERENCE.md (the reference package itself is not used):

    x = embedding[idx]                                   (B, T, d)
    per layer:  x = x + reproject(attention(attention_norm(x)))
                x = x + ffn(feedforward_norm(x))         ffn = W2(act(W1 .))
    logits = final_norm(x) @ embedding.weight^T          (B, T, V), tied

Attention: q = Linear(d, H*Dq); kv = Linear(d, H*(Dq+Dv)) (latent attention:
Linear(d, p) then Linear(p, H*(Dq+Dv))), split k block first then v block;
each viewed (B, T, H, D) and moved to (B, H, T, D). RoPE rotates the interleaved
pairs (x[..., 2i], x[..., 2i+1]) of q and k by pos * base^(-2i/Dq); the cos/sin
tables are computed in float64 and rounded to fp32 (the C side does the same).
Causal softmax scaled by 1/sqrt(Dq); reproject = Linear(H*Dv, d). All Linears
have a bias. Parameter names are the reference's state_dict keys; every causal
attention also keeps the persistent buffer `attention.mask_array`
(context x context, 0 on and below the diagonal, -inf above) as the reference
does, so its checkpoints load here with strict=True and lilm's (which lack the
buffer) with strict=False.

Switches: norm rmsnorm|layernorm|none, activation gelu|relu|relu2|swiglu|none
or one of the low-rank maps of lowrank.py (svd_truncation, qr_truncation,
svd_entropic, with act_k, act_eps, act_alpha; set_step() picks the step whose
Omega qr_truncation draws), ffn_tr_bond > 0 for tensor-ring FFN Linears
(lowrank.TensorRingLinear: state_dict keys ffn.0.cores.{j}, ffn.0.bias, ...),
("none" removes the FFN and its norm: an identity activation would make it a
plain linear map; relu2 is max(x, 0)^2; swiglu makes ffn.0 a Linear(d, 2F)
whose output splits as [g | u] (first F columns the gate) and keeps
silu(g) * u, so ffn.3 stays Linear(F, d) and the parameter names do not
change), latent_dim p > 0 for latent attention (in every layer, or only in
`latent_layers`), attn_impl "manual" (scores + mask_array, what the reference's
torch 1.13 code could do) or "sdpa" (F.scaled_dot_product_attention, same
maths, faster).
"""
import dataclasses
import json
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

import lowrank as LR

PAD_ID = 3
NORMS = {"rmsnorm": "rmsnorm", "rms": "rmsnorm", "layernorm": "layernorm", "layer": "layernorm",
         "none": "none"}
# the low-rank maps of lowrank.py (parameters act_k, act_eps, act_alpha)
LOWRANK = ("svd_truncation", "qr_truncation", "svd_entropic")
ACTIVATIONS = ("gelu", "relu", "relu2", "swiglu", "none") + LOWRANK


@dataclasses.dataclass
class Config:
    vocab_size: int = 8000
    d_model: int = 288
    n_layers: int = 5
    n_heads: int = 3
    qk_dim: int = 96
    v_dim: int = 96
    ffn_dim: int = 1152
    context: int = 512
    latent_dim: int = 0            # p; 0 = standard attention
    latent_layers: Optional[Sequence[int]] = None  # None = every layer (when latent_dim > 0)
    norm: str = "rmsnorm"
    activation: str = "gelu"
    rope_base: float = 10000.0
    norm_eps: Optional[float] = None  # None: RMSNorm uses finfo(dtype).eps, LayerNorm 1e-5
    pad_id: int = PAD_ID
    act_k: int = 0                 # svd_truncation: kept values (0: no limit); qr_truncation: Omega's columns
    act_eps: float = 0.0           # svd_truncation: relative threshold against the batch maximum
    act_alpha: float = 2.0         # svd_entropic exponent
    ffn_tr_bond: int = 0           # > 0: ffn.0 and ffn.3 are lowrank.TensorRingLinear of this bond dim
    omega_seed: int = 1            # qr_truncation: Omega of layer l at step s from omega_key(omega_seed, s, l)
                                   # (lilm: the seed given to lilm_model_init; tests/test_parity.c uses 1)
    dropout: float = 0.0
    attn_impl: str = "manual"      # "manual" | "sdpa"

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"norm {self.norm!r}: expected one of {sorted(NORMS)}")
        self.norm = NORMS[self.norm]
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r}: expected one of {ACTIVATIONS}")
        if self.qk_dim % 2:
            raise ValueError("qk_dim must be even (RoPE rotates pairs)")
        if self.attn_impl not in ("manual", "sdpa"):
            raise ValueError("attn_impl must be 'manual' or 'sdpa'")

    def is_latent(self, layer: int) -> bool:
        if self.latent_dim <= 0:
            return False
        return self.latent_layers is None or layer in self.latent_layers

    def resolved_norm_eps(self) -> Optional[float]:
        """The epsilon an fp32 run actually uses (None for norm 'none')."""
        if self.norm == "none":
            return None
        if self.norm_eps is not None:
            return float(self.norm_eps)
        return float(torch.finfo(torch.float32).eps) if self.norm == "rmsnorm" else 1e-5

    def to_meta(self) -> dict:
        """The "lilm_model" metadata object (see docs/reference-parity.md)."""
        if self.latent_dim > 0 and self.latent_layers is not None and \
                sorted(self.latent_layers) != list(range(self.n_layers)):
            raise ValueError("lilm_model metadata has no per-layer latent flag; "
                             "make every layer latent or none")
        eps = self.resolved_norm_eps()
        return {"vocab_size": self.vocab_size, "d_model": self.d_model,
                "n_layers": self.n_layers, "n_heads": self.n_heads, "qk_dim": self.qk_dim,
                "v_dim": self.v_dim, "ffn_dim": self.ffn_dim, "context": self.context,
                "latent_dim": self.latent_dim, "norm": self.norm,
                "activation": self.activation, "rope_base": self.rope_base,
                "norm_eps": 0.0 if eps is None else eps, "pad_id": self.pad_id,
                **({"act_k": self.act_k, "act_eps": self.act_eps, "act_alpha": self.act_alpha}
                   if self.activation in LOWRANK else {}),
                **({"ffn_tr_bond": self.ffn_tr_bond} if self.ffn_tr_bond > 0 else {})}

    @classmethod
    def from_meta(cls, meta, **overrides):
        if isinstance(meta, str):
            meta = json.loads(meta)
        keys = ("vocab_size", "d_model", "n_layers", "n_heads", "qk_dim", "v_dim", "ffn_dim",
                "context", "latent_dim", "norm", "activation", "rope_base", "norm_eps", "pad_id")
        missing = [k for k in keys if k not in meta]
        if missing:
            raise ValueError(f"lilm_model metadata lacks {missing}")
        kw = {k: meta[k] for k in keys}
        kw.update({k: meta[k] for k in ("act_k", "act_eps", "act_alpha", "ffn_tr_bond") if k in meta})
        if kw["norm"] == "none":
            kw["norm_eps"] = None
        kw.update(overrides)
        return cls(**kw)


# The two configurations of the reference's leaderboard.
SIMPLESTORIES = dict(vocab_size=8000, d_model=288, n_layers=5, n_heads=3, qk_dim=96, v_dim=96,
                     ffn_dim=1152, context=512)
BABYLM = dict(vocab_size=12000, d_model=192, n_layers=20, n_heads=6, qk_dim=32, v_dim=32,
              ffn_dim=768, context=512)
PRESETS = {"simplestories": SIMPLESTORIES, "babylm": BABYLM}


def preset(name: str, **overrides) -> Config:
    kw = dict(PRESETS[name])
    kw.update(overrides)
    return Config(**kw)


def rope_tables(context: int, qk_dim: int, base: float):
    """cos, sin tables (context, qk_dim/2): angle = pos * base^(-2i/qk_dim),
    computed in float64 and rounded to fp32."""
    i = torch.arange(qk_dim // 2, dtype=torch.float64)
    inv_freq = base ** (-2.0 * i / qk_dim)
    pos = torch.arange(context, dtype=torch.float64)
    angle = pos[:, None] * inv_freq[None, :]
    return angle.cos().float(), angle.sin().float()


def apply_rope(x, cos, sin):
    """x (B, H, T, D); cos/sin (T, D/2). Rotates (x[2i], x[2i+1]) by the angle."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


def make_norm(cfg: Config):
    if cfg.norm == "rmsnorm":
        return nn.RMSNorm(cfg.d_model, eps=cfg.norm_eps)
    if cfg.norm == "layernorm":
        return nn.LayerNorm(cfg.d_model, eps=1e-5 if cfg.norm_eps is None else cfg.norm_eps)
    return nn.Identity()


class Attention(nn.Module):
    def __init__(self, cfg: Config, latent: bool):
        super().__init__()
        d, H, Dq, Dv = cfg.d_model, cfg.n_heads, cfg.qk_dim, cfg.v_dim
        self.n_heads, self.qk_dim, self.v_dim = H, Dq, Dv
        self.attn_impl = cfg.attn_impl
        self.q = nn.Linear(d, H * Dq)
        if latent:
            self.kv = nn.Sequential(nn.Linear(d, cfg.latent_dim), nn.Linear(cfg.latent_dim, H * (Dq + Dv)))
        else:
            self.kv = nn.Linear(d, H * (Dq + Dv))
        self.reproject = nn.Linear(H * Dv, d)
        mask = torch.full((cfg.context, cfg.context), float("-inf")).triu(1)
        self.register_buffer("mask_array", mask)  # persistent, as in the reference

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        H, Dq, Dv = self.n_heads, self.qk_dim, self.v_dim
        q = self.q(x).view(B, T, H, Dq).transpose(1, 2)            # (B, H, T, Dq)
        k, v = torch.split(self.kv(x), [H * Dq, H * Dv], dim=-1)
        k = k.view(B, T, H, Dq).transpose(1, 2)                      # (B, H, T, Dq)
        v = v.view(B, T, H, Dv).transpose(1, 2)                      # (B, H, T, Dv)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if self.attn_impl == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(Dq))  # (B, H, T, T)
            scores = scores + self.mask_array[:T, :T].to(scores.dtype)
            y = torch.softmax(scores, dim=-1) @ v                     # (B, H, T, Dv)
        y = y.transpose(1, 2).reshape(B, T, H * Dv)
        return self.reproject(y)


class ReLU2(nn.Module):
    """max(x, 0)^2 (squared ReLU)."""
    def forward(self, x):
        return torch.relu(x).square()


class SwiGLU(nn.Module):
    """(..., 2F) -> (..., F): silu(g) * u for [g | u] = x.chunk(2, dim=-1)."""
    def forward(self, x):
        g, u = x.chunk(2, dim=-1)
        return F.silu(g) * u


def make_activation(name: str, cfg: Optional[Config] = None, layer: int = 0) -> nn.Module:
    if name == "svd_truncation":
        return LR.SVDTruncation(cfg.act_k, cfg.act_eps)
    if name == "qr_truncation":
        return LR.QRTruncation(cfg.act_k, LR.omega_key(cfg.omega_seed, 0, layer))
    if name == "svd_entropic":
        return LR.SVDEntropic(cfg.act_alpha)
    return {"gelu": nn.GELU, "relu": nn.ReLU, "relu2": ReLU2, "swiglu": SwiGLU}[name]()


class Block(nn.Module):
    def __init__(self, cfg: Config, latent: bool, layer: int = 0):
        super().__init__()
        self.attention_norm = make_norm(cfg)
        self.attention = Attention(cfg, latent)
        self.has_ffn = cfg.activation != "none"
        if self.has_ffn:
            self.feedforward_norm = make_norm(cfg)
            gate = 2 if cfg.activation == "swiglu" else 1
            if cfg.ffn_tr_bond > 0:
                up = LR.TensorRingLinear(cfg.d_model, gate * cfg.ffn_dim, cfg.ffn_tr_bond)
                down = LR.TensorRingLinear(cfg.ffn_dim, cfg.d_model, cfg.ffn_tr_bond)
            else:
                up, down = nn.Linear(cfg.d_model, gate * cfg.ffn_dim), nn.Linear(cfg.ffn_dim, cfg.d_model)
            self.ffn = nn.Sequential(up, make_activation(cfg.activation, cfg, layer), nn.Dropout(cfg.dropout), down)

    def forward(self, x, cos, sin):
        x = x + self.attention(self.attention_norm(x), cos, sin)
        if self.has_ffn:
            x = x + self.ffn(self.feedforward_norm(x))
        return x


class Transformer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.transformer_stack = nn.ModuleList(
            Block(cfg, cfg.is_latent(i), i) for i in range(cfg.n_layers))
        self.final_norm = make_norm(cfg)
        cos, sin = rope_tables(cfg.context, cfg.qk_dim, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def set_step(self, step: int):
        """The optimizer step of the next forwards: qr_truncation draws each
        layer's Omega from (omega_seed, step, layer), as lilm_model_set_step."""
        for i, block in enumerate(self.transformer_stack):
            for mod in block.modules():
                if isinstance(mod, LR.QRTruncation):
                    mod.key = LR.omega_key(self.cfg.omega_seed, step, i)

    def forward(self, idx):
        """idx (B, T) int -> logits (B, T, V)."""
        T = idx.shape[1]
        if T > self.cfg.context:
            raise ValueError(f"sequence of {T} tokens exceeds context {self.cfg.context}")
        x = self.embedding(idx)
        cos, sin = self.rope_cos[:T].to(x.dtype), self.rope_sin[:T].to(x.dtype)
        for block in self.transformer_stack:
            x = block(x, cos, sin)
        x = self.final_norm(x)
        return F.linear(x, self.embedding.weight)

    def loss(self, idx, targets):
        """Mean cross-entropy over the targets that are not pad (ignore_index = pad_id)."""
        logits = self(idx)
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()  # bf16 autocast: the loss in fp32
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten().long(),
                               ignore_index=self.cfg.pad_id)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_optimizer(model, lr, weight_decay=0.02, betas=(0.9, 0.95), eps=1e-8, **kw):
    """AdamW; weight decay on matrices only (ndim >= 2, the tied embedding included)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, **kw)


def build_schedule(opt, lr, total_steps, pct_start=0.1, div_factor=6.0, final_div_factor=20.0):
    """The reference's one-cycle schedule. Note: torch raises ZeroDivisionError
    when pct_start * total_steps == 1 (the warm-up phase would end at step 0)."""
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total_steps, pct_start=pct_start, div_factor=div_factor,
        final_div_factor=final_div_factor, anneal_strategy="cos", cycle_momentum=False)


def one_cycle_lr(step, lr, total_steps, pct_start=0.1, div_factor=6.0, final_div_factor=20.0):
    """Closed form of build_schedule's lr at `step` (what the C side implements)."""
    initial = lr / div_factor
    final = initial / final_div_factor
    end1 = float(pct_start * total_steps) - 1.0
    end2 = float(total_steps) - 1.0

    def cos_anneal(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)
    if step <= end1:
        return cos_anneal(initial, lr, step / end1)
    return cos_anneal(lr, final, (step - end1) / (end2 - end1))


def clean_and_clip(model, max_norm=1.0):
    """Zero NaN gradients, then clip the global norm; returns the norm before clipping."""
    for p in model.parameters():
        if p.grad is not None:
            p.grad.masked_fill_(torch.isnan(p.grad), 0.0)
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
