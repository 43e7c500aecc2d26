"""pending_cli_interop.py: weights move both ways between lilm and PyTorch.

PENDING: tests/run.sh only runs tests/py/test_*.py, so this file is not part of
`make test` yet. The lead enables it by renaming it to tests/py/test_cli_interop.py
once `lilm forward` exists. It never passes against a lilm without the command:
a missing command (exit 2, "not available") is a failure.

The contract it tests (docs/reference-parity.md):
    lilm forward WEIGHTS.safetensors --tokens 5,6,7,... --out LOGITS.safetensors
        [--save-weights W2.safetensors]
WEIGHTS has the reference's state_dict names (and may hold the reference's
`attention.mask_array` buffers, which lilm ignores) and `__metadata__`
"lilm_model" (JSON model config). LOGITS holds tensor `logits`, (T, V) fp32.
--save-weights writes the weights lilm loaded, under the same names and
metadata, so safetensors.torch.load_file + load_state_dict(strict=False) reads
them back into the PyTorch model.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from harness import case, lilm_bin, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "torch_ref"))
import model as M  # noqa: E402

REL_TOL = 1e-4
TOKENS = [5, 6, 7, 1, 9, 31, 2, 40, 3, 12, 8, 8, 17, 60, 4, 22, 50, 11, 13]
CONFIGS = {
    "latent_rmsnorm_gelu": dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2, qk_dim=8,
                                v_dim=12, ffn_dim=48, context=32, latent_dim=10),
    "layernorm_relu": dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2, qk_dim=8, v_dim=12,
                           ffn_dim=48, context=32, norm="layernorm", activation="relu"),
    "nonorm_noffn": dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2, qk_dim=8, v_dim=12,
                         ffn_dim=48, context=32, norm="none", activation="none"),
    "babylm_dims": dict(M.BABYLM, n_layers=2, vocab_size=300, context=64),
}


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lilm_forward(weights, out, save=None):
    cmd = [lilm_bin(), "forward", weights, "--tokens", ",".join(map(str, TOKENS)), "--out", out]
    if save:
        cmd += ["--save-weights", save]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}"
          + ("\n(lilm forward is not available in this build: this test must fail until it is)"
             if r.returncode == 2 and "not available" in (r.stdout + r.stderr) else ""))
    logits = load_file(out)["logits"]
    return logits


def torch_logits(model):
    with torch.no_grad():
        return model(torch.tensor([TOKENS]))[0].float()


def rel_err(want, got):
    return ((want.double() - got.double()).abs().max() / want.abs().max()).item()


def round_trip(name, cfg_kw, seed):
    cfg = M.Config(**cfg_kw)
    torch.manual_seed(seed)
    model = M.Transformer(cfg).eval()
    want = torch_logits(model)
    with tempfile.TemporaryDirectory() as tmp:
        w = os.path.join(tmp, "torch.safetensors")
        state = {k: v.contiguous() for k, v in model.state_dict().items()}  # mask_array included
        save_file(state, w, metadata={"lilm_model": json.dumps(cfg.to_meta())})
        got = lilm_forward(w, os.path.join(tmp, "logits.safetensors"),
                           save=os.path.join(tmp, "lilm.safetensors"))
        check(tuple(got.shape) == (len(TOKENS), cfg.vocab_size) and got.dtype == torch.float32,
              f"{name}: logits shape {tuple(got.shape)} dtype {got.dtype}")
        err = rel_err(want, got)
        check(err < REL_TOL, f"{name}: lilm vs torch logits, max rel err {err:.2e}")

        # lilm -> torch: lilm's checkpoint loads into the reference model
        saved = os.path.join(tmp, "lilm.safetensors")
        with safe_open(saved, "pt") as f:
            meta = f.metadata() or {}
        check("lilm_model" in meta, f"{name}: lilm's weights lack __metadata__ lilm_model")
        back_cfg = M.Config.from_meta(meta["lilm_model"])
        check(back_cfg.to_meta() == cfg.to_meta(),
              f"{name}: config round trip {back_cfg.to_meta()} != {cfg.to_meta()}")
        back = M.Transformer(back_cfg).eval()
        res = back.load_state_dict(load_file(saved), strict=False)
        check(not res.unexpected_keys, f"{name}: unexpected keys {res.unexpected_keys}")
        check(all(k.endswith("attention.mask_array") for k in res.missing_keys),
              f"{name}: missing keys {res.missing_keys}")
        err2 = rel_err(want, torch_logits(back))
        check(err2 < REL_TOL, f"{name}: torch on lilm-saved weights, max rel err {err2:.2e}")
        got2 = lilm_forward(saved, os.path.join(tmp, "logits2.safetensors"))
        check(rel_err(want, got2) < REL_TOL, f"{name}: lilm on its own saved weights")


def make_case(name, cfg_kw, seed):
    def fn():
        round_trip(name, cfg_kw, seed)
    fn.__name__ = "forward_round_trip_" + name
    return case(fn)


for i, (n, kw) in enumerate(CONFIGS.items()):
    make_case(n, kw, 100 + i)


if __name__ == "__main__":
    run()
