"""lowrank.py: our PyTorch implementation of the reference's low-rank components.

    python3 tests/torch_ref/lowrank.py [--out tests/fixtures/ops]

Written from shared/SEED_REFERENCE.md (the reference package is not used);
lilm's C ops are src/cpu/svd_spectral.c, qr_truncation.c and tensor_ring.c,
with the definitions in src/ops/truncation.h and src/core/tensor_ring.h.

Truncation "activations" (in place of the FFN activation): each token's
length-F vector is viewed as a d x m matrix A = x.view(d, m), d the largest
divisor of F that is <= sqrt(F).
  SVDTruncation(k, eps): A = U S V^T (linalg.svd, fp32 in the reference);
      keep S[j] when (k == 0 or j < k) and S[j] >= eps * S.max() over the
      whole batch; out = U diag(S kept) V^T.
  SVDEntropic(alpha): S -> S^alpha * ||S|| / ||S^alpha|| (Frobenius kept).
  QRTruncation(k, key): Y = A Omega, Q, R = linalg.qr(Y), out = Q Q^T A,
      Omega (m, k) drawn from `key` by qr_omega() (the C draw, bit for bit
      up to libm's last-ulp differences in log/cos before the fp32 rounding).
TensorRingLinear(in, out, bond): in and out prime-factorised (ascending),
      padded with 1s to n factors each; cores.j of shape (bond, bond, a_j, b_j);
      W[o][i] = trace(prod_j cores.j[:, :, i_j, o_j]) with row-major
      multi-indices; y = x W^T + bias; init N(0, std),
      std = 1 / (sqrt(bond) (in bond)^(1/(2n))), bias 0.

Autograd gives the backward passes (linalg.svd's and linalg.qr's own).

main() writes tests/fixtures/ops/lowrank_ops.safetensors: one batch of
6 tokens of width 48 (6 x 8 matrices) through each truncation (svd_k2:
k = 2; svd_eps: eps = 0.35; svd_k3_eps: k = 3, eps = 0.2; entropic:
alpha = 2; qr_k3: k = 3, key 2024, with its omega), and a 12 -> 10
tensor-ring Linear (bond 3) + GELU on 5 tokens: inputs, the upstream
gradient, outputs and input/parameter gradients, computed in float64 and
stored as fp32 (about 20 KB). tests/test_ops_lowrank.c reads it.
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def matrix_shape(width):
    """(d, m): d the largest divisor of width with d * d <= width."""
    d = max(q for q in range(1, math.isqrt(width) + 1) if width % q == 0)
    return d, width // d


def _mix64(z):
    """splitmix64's finaliser on a numpy uint64 array (wrapping arithmetic)."""
    u64 = np.uint64
    z = z + u64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    return z ^ (z >> u64(31))


def omega_key(seed, step, layer):
    """The C lilm_qr_omega_key: the key of one layer's Omega at one step."""
    with np.errstate(over="ignore"):
        z = _mix64(np.array([seed & MASK64], dtype=np.uint64))
        z = _mix64(z ^ np.uint64(step & MASK64))
        z = _mix64(z ^ np.uint64(layer & MASK64))
    return int(z[0])


def qr_omega(m, k, key):
    """Omega (m, k) float32: element e = l*k + j from two counter-based
    uniforms and Box-Muller in float64 (src/ops/truncation.h)."""
    u64 = np.uint64
    e = np.arange(m * k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        r1 = _mix64(u64(key) ^ (u64(2) * e)) >> u64(11)
        r2 = _mix64(u64(key) ^ (u64(2) * e + u64(1))) >> u64(11)
    u1 = (r1.astype(np.float64) + 1.0) * 2.0 ** -53
    u2 = r2.astype(np.float64) * 2.0 ** -53
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    return torch.from_numpy(z.astype(np.float32).reshape(m, k))


def _as_matrices(x):
    d, m = matrix_shape(x.shape[-1])
    return x.reshape(-1, d, m)


class SVDTruncation(nn.Module):
    def __init__(self, k=0, eps=0.0):
        super().__init__()
        self.k, self.eps = k, eps

    def forward(self, x):
        U, S, Vh = torch.linalg.svd(_as_matrices(x), full_matrices=False)
        keep = torch.ones_like(S, dtype=torch.bool)
        if self.k:
            keep[:, self.k:] = False
        if self.eps:
            keep &= S >= self.eps * S.max().detach()
        out = U @ torch.diag_embed(S * keep) @ Vh
        return out.reshape(x.shape)


class SVDEntropic(nn.Module):
    def __init__(self, alpha):
        super().__init__()
        if not alpha > 1:
            raise ValueError("alpha must be > 1")
        self.alpha = alpha

    def forward(self, x):
        U, S, Vh = torch.linalg.svd(_as_matrices(x), full_matrices=False)
        Sa = S ** self.alpha
        Sa = Sa * (S.norm(dim=-1, keepdim=True) / Sa.norm(dim=-1, keepdim=True))
        return (U @ torch.diag_embed(Sa) @ Vh).reshape(x.shape)


class QRTruncation(nn.Module):
    def __init__(self, k, key):
        super().__init__()
        self.k, self.key = k, key

    def forward(self, x):
        A = _as_matrices(x)
        omega = qr_omega(A.shape[-1], self.k, self.key).to(A.dtype)
        Q, _ = torch.linalg.qr(A @ omega)
        return (Q @ (Q.transpose(-1, -2) @ A)).reshape(x.shape)


def prime_factors(x):
    out, p = [], 2
    while p * p <= x:
        while x % p == 0:
            out.append(p)
            x //= p
        p += 1
    if x > 1:
        out.append(x)
    return out


def ring_factors(n_in, n_out):
    a, b = prime_factors(n_in), prime_factors(n_out)
    n = max(len(a), len(b), 1)
    return a + [1] * (n - len(a)), b + [1] * (n - len(b))


class TensorRingLinear(nn.Module):
    def __init__(self, in_features, out_features, bond):
        super().__init__()
        self.in_features, self.out_features, self.bond = in_features, out_features, bond
        self.a, self.b = ring_factors(in_features, out_features)
        n = len(self.a)
        std = 1.0 / (math.sqrt(bond) * (in_features * bond) ** (1.0 / (2 * n)))
        self.cores = nn.ParameterList(
            nn.Parameter(torch.randn(bond, bond, ai, bi) * std) for ai, bi in zip(self.a, self.b))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def weight(self, cores=None):
        """W (out, in): merge the cores (default: this module's) in order,
        then close the ring."""
        cores = list(self.cores if cores is None else cores)
        R = self.bond
        t = cores[0]
        for g in cores[1:]:
            i1, o1 = t.shape[2], t.shape[3]
            t = torch.einsum("abIO,bcio->acIiOo", t, g).reshape(R, R, i1 * g.shape[2], o1 * g.shape[3])
        return torch.einsum("aaIO->OI", t)

    def forward(self, x):
        return F.linear(x, self.weight(), self.bias)


def _op_case(mod, x, g):
    x = x.clone().requires_grad_(True)
    y = mod(x)
    (y * g).sum().backward()
    return y.detach(), x.grad.detach()


def build_fixture():
    """{name: fp32 tensor} of lowrank_ops.safetensors (see the module doc)."""
    gen = torch.Generator().manual_seed(7)
    N, W = 6, 48
    x32 = torch.randn(N, W, generator=gen)
    g32 = torch.randn(N, W, generator=gen)
    x, g = x32.double(), g32.double()
    out = {"trunc.input": x32, "trunc.dout": g32}
    # no singular value near a threshold, so the masks are stable
    S = torch.linalg.svdvals(_as_matrices(x))
    for eps in (0.35, 0.2):
        gap = (S - eps * S.max()).abs().min() / S.max()
        assert gap > 1e-3, f"a singular value sits at the eps = {eps} threshold"
    mods = {"svd_k2": SVDTruncation(k=2), "svd_eps": SVDTruncation(eps=0.35),
            "svd_k3_eps": SVDTruncation(k=3, eps=0.2), "entropic": SVDEntropic(2.0),
            "qr_k3": QRTruncation(3, 2024)}
    for name, mod in mods.items():
        y, dx = _op_case(mod, x, g)
        out[name + ".out"], out[name + ".din"] = y.float(), dx.float()
    out["qr_k3.omega"] = qr_omega(matrix_shape(W)[1], 3, 2024)

    torch.manual_seed(8)
    tr = TensorRingLinear(12, 10, 3)
    with torch.no_grad():
        tr.bias.copy_(torch.randn(10, generator=gen) * 0.1)
    tx32 = torch.randn(5, 12, generator=gen)
    tg32 = torch.randn(5, 10, generator=gen)
    trd = tr.double()
    tx = tx32.double().requires_grad_(True)
    ty = F.gelu(trd(tx))
    (ty * tg32.double()).sum().backward()
    out.update({"tr.input": tx32, "tr.dout": tg32, "tr.bias": tr.bias.detach().float(),
                "tr.out": ty.detach().float(), "tr.din": tx.grad.float(),
                "tr.dbias": tr.bias.grad.float()})
    for j, c in enumerate(trd.cores):
        out[f"tr.cores.{j}"] = c.detach().float().contiguous()
        out[f"tr.dcores.{j}"] = c.grad.float().contiguous()
    return {k: v.contiguous() for k, v in out.items()}


def main(argv=None):
    from safetensors.torch import save_file
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "ops"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    path = os.path.join(a.out, "lowrank_ops.safetensors")
    save_file(build_fixture(), path + ".tmp", metadata={"lilm_fixture": "lowrank_ops"})
    os.replace(path + ".tmp", path)
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
