"""Muon for the PyTorch reference: orthogonalised momentum for the layers' 2-D
weights, as lilm's src/train/muon.c implements it (the parity tests compare
the two on a few steps).

Per matrix W (r, c) with gradient G and buffer B:
    B <- mu B + G;  U <- G + mu B (Nesterov) or B
    W <- W (1 - lr wd) - lr sqrt(max(1, r / c)) NS(U)
NS: X = U / (|U|_F + 1e-7), transposed when r > c, then `steps` times
X <- a X + (b A + c A A) X with A = X X^T and (a, b, c) = (3.4445, -4.7750, 2.0315).
"""
import math

import torch

NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz(u, steps):
    """The quintic Newton-Schulz iteration on a 2-D tensor, in its own dtype."""
    a, b, c = NS_COEFFS
    tall = u.shape[0] > u.shape[1]
    x = u / (torch.linalg.matrix_norm(u) + 1e-7)
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Muon over 2-D parameters (momentum buffer per parameter, decoupled decay)."""

    def __init__(self, params, lr, momentum=0.95, nesterov=True, ns_steps=5, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                                      weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "buf" not in state:
                    state["buf"] = torch.zeros_like(p)
                buf = state["buf"]
                buf.mul_(mu).add_(p.grad)
                upd = p.grad + mu * buf if group["nesterov"] else buf
                o = newton_schulz(upd, group["ns_steps"])
                scale = math.sqrt(max(1.0, p.shape[0] / p.shape[1]))
                p.mul_(1.0 - group["lr"] * group["weight_decay"])
                p.add_(o, alpha=-group["lr"] * scale)


def is_muon_param(name, p):
    """The parameters lilm puts on Muon: 2-D weights inside the layers."""
    return p.ndim == 2 and name.startswith("transformer_stack.")


def build_hybrid(model, lr, muon_lr, weight_decay=0.02, betas=(0.9, 0.95), eps=1e-8, momentum=0.95,
                 nesterov=True, ns_steps=5, muon_weight_decay=0.0):
    """(AdamW over the rest, Muon over the layers' matrices). AdamW keeps the
    reference's decay rule (matrices only: here the tied embedding)."""
    rest = [(n, p) for n, p in model.named_parameters() if not is_muon_param(n, p)]
    mats = [p for n, p in model.named_parameters() if is_muon_param(n, p)]
    groups = [{"params": [p for _, p in rest if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for _, p in rest if p.ndim < 2], "weight_decay": 0.0}]
    adamw = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    muon = Muon(mats, lr=muon_lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps,
                weight_decay=muon_weight_decay)
    return adamw, muon
