"""test_torch_lowrank.py: self-tests of our PyTorch low-rank components
(tests/torch_ref/lowrank.py), whose fixture tests/test_ops_lowrank.c reads.

Each truncation and the tensor-ring Linear pass torch.autograd.gradcheck in
float64 (finite differences against autograd, through linalg.svd and
linalg.qr); the ring contraction equals every entry's trace written out; the
factorisation, padding and init std follow the reference's rules; the
entropic map keeps the Frobenius norm; k >= d reproduces the input; Omega and
its key are the C draw (the same constants as test_ops_lowrank.c); the
committed fixture regenerates from the script; and `lilm forward` gives
PyTorch's logits for reference models with each component, and its saved
weights load back into them (state_dict names and 4-D core shapes).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from harness import case, lilm_bin, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "torch_ref"))
import lowrank as L  # noqa: E402
import model as M  # noqa: E402

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


TOKENS = [5, 6, 7, 1, 9, 31, 2, 40, 3, 12, 8, 8, 17, 60, 4, 22, 50, 11, 13]
TINY = dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2, qk_dim=8, v_dim=12, ffn_dim=48, context=32)


def _lilm_forward(weights, out, save=None):
    cmd = [lilm_bin(), "forward", weights, "--tokens", ",".join(map(str, TOKENS)), "--out", out]
    cmd += ["--save-weights", save] if save else []
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return load_file(out)["logits"]


@case
def lilm_forward_matches_torch_with_each_component():
    # lilm forward initialises its model with seed 0 at step 0: qr_truncation's Omega is
    # omega_key(0, 0, layer) there
    for kw in (dict(activation="svd_truncation", act_k=3), dict(activation="qr_truncation", act_k=2),
               dict(activation="svd_entropic", act_alpha=1.5), dict(ffn_tr_bond=3),
               dict(activation="svd_truncation", act_k=2, act_eps=0.2, ffn_tr_bond=2)):
        cfg = M.Config(**TINY, omega_seed=0, **kw)
        torch.manual_seed(21)
        model = M.Transformer(cfg).eval()
        with torch.no_grad():
            want = model(torch.tensor([TOKENS]))[0]
        with tempfile.TemporaryDirectory() as tmp:
            w, saved = os.path.join(tmp, "torch.safetensors"), os.path.join(tmp, "lilm.safetensors")
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, w,
                      metadata={"lilm_model": json.dumps(cfg.to_meta())})
            got = _lilm_forward(w, os.path.join(tmp, "logits.safetensors"), save=saved)
            err = ((want.double() - got.double()).abs().max() / want.abs().max()).item()
            check(err < 1e-4, f"{kw}: lilm vs torch logits, max rel err {err:.2e}")
            with safe_open(saved, "pt") as f:
                meta = json.loads(f.metadata()["lilm_model"])
            check(meta == cfg.to_meta(), f"{kw}: metadata {meta} != {cfg.to_meta()}")
            back = M.Transformer(M.Config.from_meta(meta, omega_seed=0)).eval()
            res = back.load_state_dict(load_file(saved), strict=False)
            check(not res.unexpected_keys and all(k.endswith("mask_array") for k in res.missing_keys),
                  f"{kw}: keys {res}")


if __name__ == "__main__":
    run()
