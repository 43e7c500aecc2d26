#!/usr/bin/env bash
# scripts/gpu_e2e.sh: end-to-end checks on a GPU machine (run by gpu_check.sh):
#   1. 100 training steps on CUDA follow the CPU loss curve (tests/cuda/curve.yaml);
#   2. training-step throughput, lilm vs our PyTorch reference (eager and
#      torch.compile, bf16 autocast) at the same batch, SimpleStories and BabyLM
#      configs, median of 20 steps after warm-up, with peak GPU memory.
# Needs .gpu/babylm (a prepared dataset) and .gpu/baby_unigram_12K.model
# (scripts/gpu_bundle.sh makes both). LILM_GPU_BIN is the directory holding
# lilm (default build); LILM_GPU_RUN a prefix to run it with (gpu_check.sh sets
# LD_LIBRARY_PATH for a prebuilt bundle this way; python3 runs without it).
set -u
cd "$(dirname "$0")/.."
lilm() { ${LILM_GPU_RUN:-} "${LILM_GPU_BIN:-build}/lilm" "$@"; }
OUT=${OUT:-./out}
B=${GPU_BENCH_BATCH:-64}
rc=0
echo "== curve: 100 steps, CPU vs CUDA"
rm -rf /tmp/lilm-curve-cpu /tmp/lilm-curve-cuda
lilm train -c tests/cuda/curve.yaml --device cpu --out /tmp/lilm-curve-cpu --db none --quiet &
cpu_pid=$!
lilm train -c tests/cuda/curve.yaml --device cuda --out /tmp/lilm-curve-cuda --db none --quiet || rc=1
wait $cpu_pid || rc=1
python3 tests/cuda/compare_curves.py /tmp/lilm-curve-cpu /tmp/lilm-curve-cuda || rc=1
echo "== bench: lilm on CUDA, ${B}x512"
for cfg in simplestories babylm; do
    lilm bench -c configs/$cfg.yaml --device cuda -b "${B}x512" -n 20 -w 3 --json || rc=1
done
echo "== bench: PyTorch reference, eager and torch.compile, bf16 autocast, ${B}x512"
python3 bench/gpu_torch.py --batch "$B" --seq 512 --configs simplestories,babylm --modes eager,compile \
    --steps 20 --time-limit 150 || rc=1
exit $rc
