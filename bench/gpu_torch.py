"""gpu_torch.py: PyTorch training-step throughput of the reference on one GPU.

    python3 bench/gpu_torch.py --batch 64 [--seq 512] [--configs simplestories,babylm]
        [--modes eager,compile] [--attn manual|sdpa] [--steps 20] [--warmup 3]
        [--compile-scope model|block] [--time-limit 170]
    python3 bench/gpu_torch.py --smoke      # tiny CPU run of every code path

For each (config, mode) row: the reference model (tests/torch_ref/model.py,
only torch needed), AdamW (decay on matrices), one-cycle schedule, bf16 autocast,
clip 1.0; random tokens; one micro-batch per step. Prints one JSON line per
row: median step time and tokens/s over --steps steps after --warmup (the first
warm-up step holds the torch.compile time, reported as first_step_s), and the
peak GPU memory (torch.cuda.max_memory_allocated). Rows that would start after
--time-limit seconds are reported as skipped, so the whole run stays short.
--compile-scope block (default) compiles one layer graph that every layer
reuses (quick); `model` compiles the whole model as the reference's "compiled
baseline" did, and takes longer to compile.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch_ref"))
import model as M  # noqa: E402


def run_row(name, mode, a, device):
    torch.manual_seed(42)
    over = {"context": max(512, a.seq), "attn_impl": a.attn}
    if a.smoke:
        over.update(n_layers=1, vocab_size=512)
    cfg = M.preset(name, **over)
    model = M.Transformer(cfg).to(device)
    fwd = model
    if mode == "compile":
        if a.compile_scope == "block":
            for b in model.transformer_stack:
                b.compile()
        else:
            fwd = torch.compile(model)
    opt = M.build_optimizer(model, 6e-3, fused=a.fused if device.type == "cuda" else None)
    sched = M.build_schedule(opt, 6e-3, 100_000)
    x = torch.randint(4, cfg.vocab_size, (a.batch, a.seq + 1), device=device)
    inputs, targets = x[:, :-1].contiguous(), x[:, 1:].contiguous()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = fwd(inputs)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten(),
                                                 ignore_index=M.PAD_ID)
        loss.backward()
        M.clean_and_clip(model, 1.0)
        opt.step()
        sched.step()
        return loss

    times = []
    for i in range(a.warmup + a.steps):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    timed = times[a.warmup:]
    step_s = statistics.median(timed)
    tokens = a.batch * a.seq
    row = {"bench": "gpu_torch", "config": name, "mode": mode, "attn": a.attn,
           "compile_scope": a.compile_scope if mode == "compile" else None,
           "batch": a.batch, "seq": a.seq, "params": M.param_count(model), "precision": "bf16-autocast",
           "steps": a.steps, "step_s_median": round(step_s, 5),
           "tokens_per_s": round(tokens / step_s, 1), "first_step_s": round(times[0], 3),
           "step_s_min": round(min(timed), 5), "loss_last": round(loss.item(), 4),
           "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
           "device": torch.cuda.get_device_name() if cuda else "cpu", "torch": torch.__version__}
    del model, fwd, opt, sched
    if mode == "compile":
        torch._dynamo.reset()
    if cuda:
        torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--configs", default="simplestories,babylm")
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--attn", choices=("manual", "sdpa"), default="manual")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile-scope", choices=("model", "block"), default="block",
                    help="torch.compile each layer (default: compiles once, quick) or the whole model (as the reference)")
    ap.add_argument("--fused", action="store_true", help="fused AdamW (the reference used the default)")
    ap.add_argument("--time-limit", type=float, default=170.0)
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (1 layer, vocab 512)")
    a = ap.parse_args()
    if a.smoke:
        device = torch.device("cpu")
        a.batch, a.seq, a.steps, a.warmup = min(a.batch, 2), min(a.seq, 64), 2, 1
    else:
        if not torch.cuda.is_available():
            sys.exit("gpu_torch.py: no CUDA device (use --smoke for a CPU check)")
        device = torch.device("cuda")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t_start = time.perf_counter()
    for name in a.configs.split(","):
        for mode in a.modes.split(","):
            if mode not in ("eager", "compile") or name not in M.PRESETS:
                sys.exit(f"gpu_torch.py: unknown config {name!r} or mode {mode!r}")
            if time.perf_counter() - t_start > a.time_limit:
                print(json.dumps({"bench": "gpu_torch", "config": name, "mode": mode,
                                  "skipped": f"past --time-limit {a.time_limit} s"}), flush=True)
                continue
            try:
                row = run_row(name, mode, a, device)
            except torch.cuda.OutOfMemoryError as e:
                row = {"bench": "gpu_torch", "config": name, "mode": mode, "batch": a.batch,
                       "error": f"out of memory: {str(e).splitlines()[0]}"}
                torch.cuda.empty_cache()
            row["elapsed_s"] = round(time.perf_counter() - t_start, 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
