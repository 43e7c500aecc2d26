#!/usr/bin/env bash
# scripts/gpu_runs.sh: the budgeted comparison on a GPU machine: BabyLM for
# MINUTES (default 3) with lilm and with our PyTorch reference (torch.compile,
# bf16 autocast), same prepared dataset (.gpu/babylm: identical token ids and
# byte counts), same model (the reference's 20-layer BabyLM baseline) and
# hyperparameters (batch 64, lr 6e-3, one-cycle, AdamW 0.9/0.95, wd 0.02,
# clip 1.0); BPB over the full validation split for both. Before that, the
# model test and a per-op profile of lilm's CUDA backend. Needs the bundle
# (scripts/gpu_bundle.sh). Results in $OUT.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-./out}
MIN=${MINUTES:-3}
mkdir -p "$OUT"
rm -rf .gpu/run && mkdir -p .gpu/run && tar -C .gpu/run -xJf .gpu/bundle.tar.xz || exit 1
B=.gpu/run/build-gpu
export LD_LIBRARY_PATH_LILM="$PWD/.gpu/run/lib"
L() { env LD_LIBRARY_PATH="$LD_LIBRARY_PATH_LILM${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
{
    timeout 60 bash -c "$(declare -f L); L $B/tests/cuda/test_cuda_model" 2>&1 | tail -12
    echo "== per-op profile"
    timeout 60 bash -c "$(declare -f L); L $B/bench_ops_cuda simplestories 64 512; L $B/bench_ops_cuda babylm 64 512" 2>&1
} >"$OUT/profile.log" 2>&1
echo "== lilm, BabyLM, $MIN minutes" | tee "$OUT/lilm_run.log"
L timeout $((MIN * 60 + 120)) $B/lilm train -c configs/babylm.yaml --device cuda --minutes "$MIN" \
    --set data.dataset=.gpu/babylm --set data.tokenizer=.gpu/baby_unigram_12K.model \
    --set train.val_every=400 --out "$OUT/lilm_run" --db none --quiet >>"$OUT/lilm_run.log" 2>&1
echo "lilm rc $?" >>"$OUT/lilm_run.log"
cp "$OUT/lilm_run/run.json" "$OUT/lilm_run.json" 2>/dev/null
cp "$OUT/lilm_run/metrics.jsonl" "$OUT/lilm_metrics.jsonl" 2>/dev/null
rm -rf "$OUT/lilm_run"
echo "== PyTorch reference (torch.compile), BabyLM, $MIN minutes" | tee "$OUT/torch_run.log"
timeout $((MIN * 60 + 240)) python3 bench/torch_train.py --config babylm --dataset .gpu/babylm --minutes "$MIN" \
    --device cuda --compile --batch 64 --accum-batch 64 --lr 6e-3 --out "$OUT/torch_run.json" --quiet \
    >>"$OUT/torch_run.log" 2>&1
echo "torch rc $?" >>"$OUT/torch_run.log"
tail -3 "$OUT/lilm_run.log" "$OUT/torch_run.log"
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
try:
    a = json.load(open(os.path.join(out, "lilm_run.json")))
    print("lilm:", {k: a.get(k) for k in ("steps", "tokens", "val_loss", "val_bpb", "elapsed_s", "params")})
except Exception as e:
    print("lilm: no result", e)
try:
    b = json.load(open(os.path.join(out, "torch_run.json")))
    print("torch:", {k: b.get(k) for k in b if not isinstance(b[k], (list, dict))})
except Exception as e:
    print("torch: no result", e)
PY
