"""test_torch_lowrank.py: self-tests of our PyTorch low-rank components
(tests/torch_ref/lowrank.py), whose fixture tests/test_ops_lowrank.c reads.

Each truncation and the tensor-ring Linear pass torch.autograd.gradcheck in
float64 (finite differences against autograd, through linalg.svd and
linalg.qr); the ring contraction equals every entry's trace written out; the
factorisation, padding and init std follow the reference's rules; the
entropic map keeps the Frobenius norm; k >= d reproduces the input; Omega and
its key are the C draw (the same constants as test_ops_lowrank.c); and the
committed fixture regenerates from the script.
"""
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file

from harness import case, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "torch_ref"))
import lowrank as L  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "ops", "lowrank_ops.safetensors")
torch.set_num_threads(1)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def _x(n, w, seed):
    return torch.randn(n, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@case
def shapes_and_factors():
    check([L.matrix_shape(f) for f in (48, 1152, 768, 13, 64)] ==
          [(6, 8), (32, 36), (24, 32), (1, 13), (8, 8)], "matrix_shape")
    check(L.ring_factors(288, 1152) == ([2, 2, 2, 2, 2, 3, 3, 1, 1], [2, 2, 2, 2, 2, 2, 2, 3, 3]),
          "ring factors of 288 -> 1152")
    check(L.ring_factors(1, 7) == ([1], [7]), "ring factors of 1 -> 7")
    m = L.TensorRingLinear(288, 1152, 4)
    check([tuple(c.shape) for c in m.cores][-1] == (4, 4, 1, 3), "last core shape")
    std = 1 / (2 * (288 * 4) ** (1 / 18))
    allc = torch.cat([c.detach().flatten() for c in m.cores])
    check(abs(allc.std().item() / std - 1) < 0.1, f"init std {allc.std().item()} vs {std}")
    check(torch.count_nonzero(m.bias) == 0, "bias starts at zero")


@case
def truncations_pass_gradcheck():
    x = _x(3, 48, 1).requires_grad_(True)
    for mod in (L.SVDTruncation(k=2), L.SVDTruncation(eps=0.3), L.SVDTruncation(k=3, eps=0.2),
                L.SVDEntropic(2.0), L.SVDEntropic(1.5), L.QRTruncation(3, 99)):
        check(torch.autograd.gradcheck(mod, (x,), eps=1e-6, atol=1e-5), f"gradcheck {mod}")


@case
def tensor_ring_passes_gradcheck_and_equals_traces():
    torch.manual_seed(3)
    m = L.TensorRingLinear(12, 10, 3).double()
    x = _x(4, 12, 2).requires_grad_(True)
    check(torch.autograd.gradcheck(m, (x,), eps=1e-6, atol=1e-5), "gradcheck input")
    W = m.weight().detach().numpy()
    cores = [c.detach().numpy() for c in m.cores]
    for o in range(10):
        for i in range(12):
            ij = np.unravel_index(i, m.a)
            oj = np.unravel_index(o, m.b)
            M = np.eye(3)
            for j, c in enumerate(cores):
                M = M @ c[:, :, ij[j], oj[j]]
            check(abs(np.trace(M) - W[o, i]) < 1e-12, f"W[{o}][{i}]")
    cores = tuple(c.detach().clone().requires_grad_(True) for c in m.cores)
    check(torch.autograd.gradcheck(lambda *cs: torch.nn.functional.linear(x.detach(), m.weight(cs), m.bias),
                                   cores, eps=1e-6, atol=1e-5), "gradcheck cores")


@case
def truncation_properties():
    x = _x(4, 48, 5)
    y = L.SVDEntropic(3.0)(x)
    check(torch.allclose(y.norm(dim=1), x.norm(dim=1), rtol=1e-12), "entropic keeps the norm")
    check(torch.allclose(L.SVDTruncation(k=6)(x), x, atol=1e-12), "k = d is the identity")
    check(torch.allclose(L.QRTruncation(9, 4)(x), x, atol=1e-12), "qr with k > d is the identity")
    y = L.SVDTruncation(k=2)(x)
    check((torch.linalg.matrix_rank(y.view(4, 6, 8)) == 2).all(), "k = 2 gives rank 2")


@case
def omega_is_the_c_draw():
    check(L.omega_key(1, 2, 3) == 15020427595393229491, "omega_key(1, 2, 3) (test_ops_lowrank.c has the same)")
    om = L.qr_omega(100, 40, L.omega_key(1, 2, 3)).double()
    check(abs(om.mean().item()) < 0.1 and abs(om.var().item() - 1) < 0.1, "Omega is standard normal")
    check(torch.equal(L.qr_omega(8, 3, 2024), L.qr_omega(8, 3, 2024)), "Omega is reproducible")


@case
def fixture_regenerates():
    have = load_file(FIXTURE)
    new = L.build_fixture()
    check(sorted(have) == sorted(new), "tensor names differ")
    for k in have:
        err = ((have[k] - new[k]).abs().max() / new[k].abs().max().clamp_min(1e-30)).item()
        check(have[k].shape == new[k].shape and err <= 1e-6, f"{k}: regenerated differs by {err:.2e}")
    size = os.path.getsize(FIXTURE)
    check(size < 64 * 1024, f"fixture is {size} bytes")


if __name__ == "__main__":
    run()
