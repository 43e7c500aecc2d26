#!/usr/bin/env bash
# bench/dist_scaling.sh [ROUNDS] [STEPS]: data-parallel scaling on this machine.
#
# Trains the same model for STEPS steps (default 12) as 1 process x 1 thread,
# as `mpirun -np 2` x 1 thread each, and as 1 process x 2 threads, interleaved
# for ROUNDS rounds (default 3), and prints the median tokens/s of each (steps
# after the first 2, from metrics.jsonl) with the ratio to 1 x 1. The model
# is the SimpleStories shape at 2 layers, 8 x 256 micro-batches, 8 per step,
# on the bytes tokenizer over ../shared's TinyStories text.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-12}
lilm=${LILM_BIN:-$PWD/build/lilm}
shared=${LILM_SHARED:-$(cd .. && pwd)/shared}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/c.yaml" <<YAML
model: {vocab_size: 260, d_model: 288, n_layers: 2, n_heads: 3, qk_dim: 96, v_dim: 96, ffn_dim: 1152, context: 256}
data: {text: "$shared/data/tinystories/train/tinystories_v1_train_head.txt", tokenizer: bytes, val_fraction: 0.02}
train: {batch_size: 8, accum_batch: 64, lr: 3e-3, steps: $steps, val_every: 0, val_batches: 1, checkpoint_every_seconds: 0}
budget: {mode: steps}
YAML
tps() { python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if '"train"' in l][2:]
t = rows[-1]["elapsed_s"] - rows[0]["elapsed_s"]
print(f"{(rows[-1]['tokens'] - rows[0]['tokens']) / t:.0f}")
PY
}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/results"
for r in $(seq "$rounds"); do
    "$lilm" train -c "$tmp/c.yaml" --out "$tmp/a$r" -q --no-samples --db none -t 1 >/dev/null 2>&1
    echo "1x1 $(tps "$tmp/a$r")" >>"$tmp/results"
    mpirun --oversubscribe --allow-run-as-root -np 2 --bind-to core "$lilm" train -c "$tmp/c.yaml" --out "$tmp/b$r" -q \
        --no-samples --db none -t 1 >/dev/null 2>&1
    echo "2x1 $(tps "$tmp/b$r")" >>"$tmp/results"
    "$lilm" train -c "$tmp/c.yaml" --out "$tmp/c$r" -q --no-samples --db none -t 2 >/dev/null 2>&1
    echo "1x2 $(tps "$tmp/c$r")" >>"$tmp/results"
done
python3 - "$tmp/results" <<'PY'
import statistics, sys
res = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    res.setdefault(k, []).append(float(v))
base = statistics.median(res["1x1"])
print("| ranks x threads | tokens/s (median) | runs | vs 1 x 1 |")
print("|---|---:|---|---:|")
for k, name in (("1x1", "1 x 1"), ("2x1", "2 x 1 (mpirun)"), ("1x2", "1 x 2 (OpenMP)")):
    m = statistics.median(res[k])
    print(f"| {name} | {m:.0f} | {', '.join(f'{x:.0f}' for x in res[k])} | {m / base:.2f}x |")
PY
