"""torch_step.py: tokens/s of one whole PyTorch training step of the reference.

    python3 bench/torch_step.py --config simplestories --batch 8 --seq 512 [--threads 2]
        [--steps 5] [--warmup 2] [--attn manual|sdpa] [--device cpu|cuda]

A step = forward, cross-entropy, backward, NaN zeroing, clip_grad_norm_(1.0),
AdamW (decay on matrices only), one-cycle scheduler step: the reference recipe
of tests/torch_ref/model.py, fp32, one micro-batch of random tokens. Prints one
JSON line with the median step time and tokens/s (predicted tokens = batch x seq)
over --steps timed steps after --warmup untimed ones (and the best step, and
the 1-minute load average before/after, and the process CPU seconds per step:
on a shared machine other jobs slow the wall clock down). bench/torch_step.sh runs
it with tcmalloc or jemalloc preloaded, as the reference's CPU numbers were.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch_ref"))
import model as M  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(M.PRESETS), default="simplestories")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--attn", choices=("manual", "sdpa"), default="manual",
                    help="manual = scores + mask_array as the reference (torch 1.13) does; "
                         "sdpa = F.scaled_dot_product_attention")
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    cfg = M.preset(a.config, context=max(512, a.seq), attn_impl=a.attn)
    dev = torch.device(a.device)
    model = M.Transformer(cfg).to(dev)
    opt = M.build_optimizer(model, a.lr)
    sched = M.build_schedule(opt, a.lr, 10_000)
    x = torch.randint(4, cfg.vocab_size, (a.batch, a.seq + 1), device=dev)
    inputs, targets = x[:, :-1].contiguous(), x[:, 1:].contiguous()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    load_before = os.getloadavg()[0]
    times, cpu = [], []
    for i in range(a.warmup + a.steps):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(inputs, targets)
        loss.backward()
        M.clean_and_clip(model, 1.0)
        opt.step()
        sched.step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    step_s = statistics.median(times)
    tokens = a.batch * a.seq
    preload = os.path.basename(os.environ.get("LD_PRELOAD", "")) or "none"
    print(json.dumps({"bench": "torch_step", "config": a.config, "batch": a.batch, "seq": a.seq,
                      "threads": a.threads, "attn": a.attn, "device": a.device,
                      "params": M.param_count(model), "tokens_per_step": tokens,
                      "step_s_median": round(step_s, 4),
                      "tokens_per_s": round(tokens / step_s, 1),
                      "tokens_per_s_best": round(tokens / min(times), 1),
                      "step_s_all": [round(t, 4) for t in times],
                      "cpu_s_median": round(statistics.median(cpu), 4),
                      "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                      "loss_last": round(loss.item(), 4),
                      "allocator": preload, "torch": torch.__version__,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "python": platform.python_version()}), flush=True)


if __name__ == "__main__":
    main()
