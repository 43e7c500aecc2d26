"""bench_safetensors.py: the Python side of bench_safetensors.c, for the ratio.

Same state dict (BabyLM baseline: 242 F32 tensors, 11,193,792 parameters),
timed with safetensors.torch: save_file (then os.fsync, as lilm's atomic
write does) and load_file + summing every tensor. Prints medians.
  python3 bench/bench_safetensors.py /tmp/bench_py.safetensors 7
"""
import os
import statistics
import sys
import time

import torch
from safetensors.torch import load_file, save_file


def state_dict():
    L, C, V, H, QK, VD, F = 20, 192, 12000, 6, 32, 32, 768
    sd = {"embedding.weight": torch.zeros(V, C)}
    for i in range(L):
        p = f"transformer_stack.{i}."
        sd[p + "attention_norm.weight"] = torch.zeros(C)
        sd[p + "feedforward_norm.weight"] = torch.zeros(C)
        sd[p + "attention.q.weight"] = torch.zeros(H * QK, C)
        sd[p + "attention.q.bias"] = torch.zeros(H * QK)
        sd[p + "attention.kv.weight"] = torch.zeros(H * (QK + VD), C)
        sd[p + "attention.kv.bias"] = torch.zeros(H * (QK + VD))
        sd[p + "attention.reproject.weight"] = torch.zeros(C, H * VD)
        sd[p + "attention.reproject.bias"] = torch.zeros(C)
        sd[p + "ffn.0.weight"] = torch.zeros(F, C)
        sd[p + "ffn.0.bias"] = torch.zeros(F)
        sd[p + "ffn.3.weight"] = torch.zeros(C, F)
        sd[p + "ffn.3.bias"] = torch.zeros(C)
    sd["final_norm.weight"] = torch.zeros(C)
    for k, v in sd.items():
        v.copy_((torch.arange(v.numel()) % 1000).reshape(v.shape) * 1e-3)
    return sd


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench_py.safetensors"
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    sd = state_dict()
    n = sum(v.numel() for v in sd.values())
    wt, rt = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        save_file(sd, path, metadata={"step": "1200"})
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        wt.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        back = load_file(path)
        s = sum(float(v.sum()) for v in back.values())
        rt.append((time.perf_counter() - t0) * 1e3)
        assert s >= 0
    mb = n * 4 / 1e6
    print(f"tensors {len(sd)}, params {n}, {mb:.1f} MB")
    print(f"write (save_file + fsync): median {statistics.median(wt):.1f} ms ({mb / statistics.median(wt) * 1e3:.0f} MB/s)")
    print(f"load_file + sum all: median {statistics.median(rt):.1f} ms ({mb / statistics.median(rt) * 1e3:.0f} MB/s)")


if __name__ == "__main__":
    main()
