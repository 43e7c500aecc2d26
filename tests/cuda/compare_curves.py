"""compare_curves.py: a CUDA training run follows the CPU run's loss curve.

    python3 tests/cuda/compare_curves.py CPU_RUN_DIR CUDA_RUN_DIR [--tol 0.05]

Both runs trained the same config in `steps` mode from the same seed on the
same data; the GPU computes in bf16, so the curves are not identical. The
check: over the run, the mean absolute difference of the per-step losses is
within tol x the mean CPU loss, the final 10-step mean losses agree to
2 x tol, and both fell. Prints the numbers; exits non-zero on failure.
"""
import json
import os
import sys


def losses(run):
    out = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            if m.get("kind") == "train":
                out.append(m["loss"])
    return out


def main():
    cpu_dir, gpu_dir = sys.argv[1], sys.argv[2]
    tol = float(sys.argv[sys.argv.index("--tol") + 1]) if "--tol" in sys.argv else 0.05
    a, b = losses(cpu_dir), losses(gpu_dir)
    n = min(len(a), len(b))
    if n < 10 or len(a) != len(b):
        print(f"FAIL: {len(a)} CPU steps vs {len(b)} CUDA steps")
        return 1
    mean_abs = sum(abs(x - y) for x, y in zip(a, b)) / n
    mean_cpu = sum(a) / n
    end_a, end_b = sum(a[-10:]) / 10, sum(b[-10:]) / 10
    print(f"steps {n}: loss {a[0]:.4f} -> {end_a:.4f} (cpu), {b[0]:.4f} -> {end_b:.4f} (cuda); "
          f"mean |diff| {mean_abs:.4f} = {mean_abs / mean_cpu:.2%} of the mean loss; "
          f"final diff {abs(end_a - end_b) / end_a:.2%}")
    ok = mean_abs <= tol * mean_cpu and abs(end_a - end_b) <= 2 * tol * end_a and end_a < a[0] and end_b < b[0]
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
