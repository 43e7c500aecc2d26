#!/usr/bin/env bash
# bench/cpu_step.sh [ROUNDS]: lilm against our PyTorch reference, a whole CPU
# training step (forward, backward, clip, AdamW), fp32, same thread count, side
# by side on the same machine, for the SimpleStories and BabyLM configs at
# 8x512 and 16x256. PyTorch runs with tcmalloc preloaded (bench/torch_step.sh)
# and both attention forms (the reference's explicit mask, and SDPA); lilm runs
# with the environment as it is and, since OpenBLAS's kernel choice matters,
# also with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (OpenBLAS's own detection).
# Rounds are interleaved; medians of the per-round tokens/s are printed with
# ratios. THREADS (default: all cores), STEPS (default 5), CONFIGS and SHAPES
# (space-separated subsets) can be set.
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-5}
log=$(mktemp)
for r in $(seq "$ROUNDS"); do
    for cfg in ${CONFIGS:-simplestories babylm}; do
        for shape in ${SHAPES:-8x512 16x256}; do
            b=${shape%x*}; t=${shape#*x}
            ./lilm bench -c configs/$cfg.yaml -b "$shape" -n "$STEPS" -w 1 -t "$THREADS" --json |
                sed "s/^/lilm $cfg $shape /" >>"$log"
            env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ./lilm bench -c configs/$cfg.yaml -b "$shape" -n "$STEPS" \
                -w 1 -t "$THREADS" --json | sed "s/^/lilm-detect $cfg $shape /" >>"$log"
            for attn in manual sdpa; do
                ALLOC=tcmalloc bench/torch_step.sh --config $cfg --batch "$b" --seq "$t" --threads "$THREADS" \
                    --steps "$STEPS" --warmup 1 --attn $attn 2>/dev/null | tail -n1 |
                    sed "s/^/torch-$attn $cfg $shape /" >>"$log"
            done
        done
    done
done
python3 - "$log" "$THREADS" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, cfg, shape, js = line.split(" ", 3)
    try:
        rows.setdefault((cfg, shape), {}).setdefault(who, []).append(json.loads(js)["tokens_per_s"])
    except Exception:
        pass
print(f"threads {sys.argv[2]}; tokens/s, median of rounds")
print("| config | shape | PyTorch (mask) | PyTorch (SDPA) | lilm | lilm (OpenBLAS detect) | lilm / PyTorch mask | lilm / PyTorch SDPA | detect / mask | detect / SDPA |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (cfg, shape), w in rows.items():
    m = {k: statistics.median(v) for k, v in w.items()}
    tm, ts, l, ld = m.get("torch-manual", 0), m.get("torch-sdpa", 0), m.get("lilm", 0), m.get("lilm-detect", 0)
    r = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
    print(f"| {cfg} | {shape} | {tm:.0f} | {ts:.0f} | {l:.0f} | {ld:.0f} | {r(l, tm)} | {r(l, ts)} | {r(ld, tm)} | {r(ld, ts)} |")
PY
rm -f "$log"
