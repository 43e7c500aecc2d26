"""test_safetensors_interop.py: lilm's safetensors files and the Python library's agree.

Both directions go through the fixed "interop" content defined in
tests/test_safetensors.c (F32, BF16, I64, F16, a F64 scalar, an empty tensor,
U8, and metadata with non-ASCII, quotes, backslash and newline):
  - lilm writes it (test_safetensors interop with LILM_ST_INTEROP_OUT) and
    safetensors.torch / safetensors.numpy load it with the same values;
  - safetensors.torch writes it (its own tensor order and header layout) and
    lilm reads it (LILM_ST_INTEROP_IN) and checks every value.
Needs the C test binary (make test builds it first) and python3 with torch,
numpy and safetensors.
"""
import json
import os
import struct
import subprocess
import tempfile
import zlib

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file as np_load
from safetensors.torch import load_file as torch_load
from safetensors.torch import save_file as torch_save

from harness import case, lilm_bin, run

NOTE = "h\u00e9llo \"quoted\" back\\slash\nnew line"


def c_test_binary():
    build = os.path.dirname(os.path.abspath(lilm_bin()))
    path = os.path.join(build, "tests", "test_safetensors")
    if not os.path.exists(path):
        raise AssertionError(f"{path} is missing: run `make test` (it builds the C tests first)")
    return path


def run_c(env_extra):
    env = dict(os.environ, **env_extra)
    out = subprocess.run([c_test_binary(), "interop"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"C side failed:\n{out.stdout}\n{out.stderr}"
    assert "1 passed, 0 failed" in out.stdout, out.stdout


def expected_torch():
    return {
        "a.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1,
        "b.bf16": torch.tensor([1, 2, 3, 4], dtype=torch.bfloat16),
        "c.i64": torch.tensor([-1, 0, 1 << 40], dtype=torch.int64),
        "e.f16": torch.tensor([1, -2], dtype=torch.float16),
        "scalar": torch.tensor(3.25, dtype=torch.float64),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "d.u8": torch.arange(5, dtype=torch.uint8),
    }


@case
def lilm_file_loads_in_python():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "from_lilm.safetensors")
        run_c({"LILM_ST_INTEROP_OUT": path})
        # header layout: 8-byte little-endian length, padded so the data is 8-aligned
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        assert (8 + n) % 8 == 0, n
        got = torch_load(path)
        want = expected_torch()
        assert sorted(got) == sorted(want), sorted(got)
        for k, v in want.items():
            assert got[k].dtype == v.dtype, (k, got[k].dtype)
            assert tuple(got[k].shape) == tuple(v.shape), (k, got[k].shape)
            assert torch.equal(got[k], v), (k, got[k], v)
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
        # lilm records each tensor's CRC-32 (zlib) in data order; other readers see plain metadata
        sums = meta.pop("lilm_crc32", None)
        assert meta == {"step": "123", "note": NOTE}, meta
        with open(path, "rb") as f:
            raw = f.read()
        header = json.loads(raw[8:8 + n])
        spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
        want_sums = " ".join("%08x" % zlib.crc32(raw[8 + n + b:8 + n + e]) for b, e in spans)
        assert sums == want_sums, (sums, want_sums)
        # numpy reader too (no bfloat16 in numpy: check the others)
        with safe_open(path, framework="numpy") as f:
            for k, v in want.items():
                if v.dtype == torch.bfloat16:
                    continue
                arr = f.get_tensor(k)
                assert np.array_equal(arr, v.numpy()), k


@case
def python_file_loads_in_lilm():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "from_python.safetensors")
        torch_save(expected_torch(), path, metadata={"step": "123", "note": NOTE})
        run_c({"LILM_ST_INTEROP_IN": path})


def fnv1a(b):
    h = 1469598103934665603
    for x in b:
        h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def dump_c(path):
    env = dict(os.environ, LILM_ST_DUMP=path)
    out = subprocess.run([c_test_binary(), "dump"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"C side failed:\n{out.stdout}\n{out.stderr}"
    tensors, meta = {}, {}
    for line in out.stdout.splitlines():
        if line.startswith("tensor "):
            _, name, dtype, shape, h = line.split(" ")
            tensors[name] = (dtype, shape, h)
        elif line.startswith("meta "):
            k, v = line[5:].split("=", 1)
            meta[k] = v
    return tensors, meta


TORCH_DTYPE_NAMES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int64: "I64",
                     torch.int32: "I32", torch.uint8: "U8", torch.float64: "F64", torch.bool: "BOOL"}


@case
def reference_state_dict_loads_in_lilm():
    """A state dict shaped like the reference model's (its names, tiny sizes),
    saved by safetensors.torch in its own order: lilm sees every tensor's
    name, dtype, shape and bytes."""
    g = torch.Generator().manual_seed(0)
    d, h, qk, v, ffn, vocab = 8, 2, 4, 4, 16, 11
    sd = {"embedding.weight": torch.randn(vocab, d, generator=g), "final_norm.weight": torch.ones(d)}
    for i in range(2):
        p = f"transformer_stack.{i}."
        sd[p + "attention_norm.weight"] = torch.rand(d, generator=g)
        sd[p + "feedforward_norm.weight"] = torch.rand(d, generator=g)
        sd[p + "attention.q.weight"] = torch.randn(h * qk, d, generator=g)
        sd[p + "attention.q.bias"] = torch.randn(h * qk, generator=g)
        sd[p + "attention.kv.weight"] = torch.randn(h * (qk + v), d, generator=g)
        sd[p + "attention.kv.bias"] = torch.randn(h * (qk + v), generator=g)
        sd[p + "attention.reproject.weight"] = torch.randn(d, h * v, generator=g)
        sd[p + "attention.reproject.bias"] = torch.randn(d, generator=g)
        sd[p + "attention.mask_array"] = torch.tril(torch.ones(6, 6, dtype=torch.bool))
        sd[p + "ffn.0.weight"] = torch.randn(ffn, d, generator=g).to(torch.bfloat16)
        sd[p + "ffn.0.bias"] = torch.randn(ffn, generator=g).to(torch.float16)
        sd[p + "ffn.3.weight"] = torch.randn(d, ffn, generator=g)
        sd[p + "ffn.3.bias"] = torch.randn(d, generator=g)
    with tempfile.TemporaryDirectory() as dd:
        path = os.path.join(dd, "ref.safetensors")
        torch_save(sd, path, metadata={"format": "pt", "step": "7"})
        tensors, meta = dump_c(path)
        assert sorted(tensors) == sorted(sd), sorted(set(tensors) ^ set(sd))
        for k, t in sd.items():
            raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
            want = (TORCH_DTYPE_NAMES[t.dtype], "[" + ",".join(str(x) for x in t.shape) + "]", f"{fnv1a(raw):016x}")
            assert tensors[k] == want, (k, tensors[k], want)
        assert meta == {"format": "pt", "step": "7"}, meta


@case
def truncated_python_file_is_refused():
    from safetensors.numpy import save_file as np_save

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "np.safetensors")
        np_save({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, path)
        assert np.array_equal(np_load(path)["w"], np.arange(12, dtype=np.float32).reshape(3, 4))
        tensors, _ = dump_c(path)
        assert tensors["w"][:2] == ("F32", "[3,4]"), tensors
        data = open(path, "rb").read()
        open(path, "wb").write(data[:-1])
        env = dict(os.environ, LILM_ST_DUMP=path)
        out = subprocess.run([c_test_binary(), "dump"], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode != 0, "lilm accepted a truncated file"
        assert "truncated" in out.stderr + out.stdout, out.stderr


if __name__ == "__main__":
    run()
