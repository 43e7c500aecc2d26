#!/usr/bin/env bash
# bench/cpu_step.sh [ROUNDS]: lilm against our PyTorch reference, a whole CPU
# training step (forward, backward, clip, AdamW), fp32, same thread count, side
# by side on the same machine, for the SimpleStories and BabyLM configs at
# 8x512 and 16x256. PyTorch runs with tcmalloc preloaded (bench/torch_step.sh)
# and both attention forms (the reference's explicit mask, and SDPA); the
# better of the two is "best PyTorch". Rounds are interleaved; medians of the
# per-round tokens/s are printed with ratios, by wall time and by CPU time
# (tokens per CPU-second of the process x threads: on a shared, loaded machine
# the better figure; run with OMP_WAIT_POLICY=passive so waiting threads do
# not count, for both). It first prints the machine: CPU
# model, its vector flags, lilm's BLAS kernel set and PyTorch's CPU capability.
#
# Knobs: THREADS (default: all cores), STEPS (default 5), CONFIGS and SHAPES
# (space-separated subsets), LILM (the binary, default ./lilm), LILM_BASE (an
# older binary to compare, run in the same rounds as "lilm-base"), LOG (keep
# the raw JSON lines in this file, appending; ROUNDS=0 with LOG only prints the
# tables of what LOG holds, e.g. of an interrupted run).
#   ISA=avx2  measures an AVX2-only machine on an AVX-512 one: lilm should be
#             a -march=haswell build (LILM=build-avx2/lilm, see docs/cpu-backend.md),
#             OpenBLAS is forced to its Haswell kernels, and PyTorch to AVX2
#             (ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2,
#             ONEDNN_MAX_CPU_ISA=AVX2).
# When OPENBLAS_CORETYPE is set in the environment (and ISA is not avx2) lilm
# also runs with it unset (OpenBLAS's own detection), as "lilm-detect".
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-5}
LILM=${LILM:-./lilm}
if [ "${ISA:-native}" = avx2 ]; then
    export OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
fi
detect=
[ "${ISA:-native}" != avx2 ] && [ -n "${OPENBLAS_CORETYPE:-}" ] && detect=1
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "flags: $(grep -m1 -o -w -E 'avx2|fma|avx512f|avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "lilm: $LILM${LILM_BASE:+, base $LILM_BASE}, ISA=${ISA:-native}, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
echo "torch: $(python3 -c 'import torch; print(torch.__version__, "capability", torch.backends.cpu.get_cpu_capability())' 2>/dev/null)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M) UTC"
log=${LOG:-$(mktemp)}
for r in $(seq "$ROUNDS"); do
    for cfg in ${CONFIGS:-simplestories babylm}; do
        for shape in ${SHAPES:-8x512 16x256}; do
            b=${shape%x*}; t=${shape#*x}
            "$LILM" bench -c configs/$cfg.yaml -b "$shape" -n "$STEPS" -w 1 -t "$THREADS" --json |
                sed "s/^/lilm $cfg $shape /" >>"$log"
            if [ -n "${LILM_BASE:-}" ]; then
                "$LILM_BASE" bench -c configs/$cfg.yaml -b "$shape" -n "$STEPS" -w 1 -t "$THREADS" --json |
                    sed "s/^/lilm-base $cfg $shape /" >>"$log"
            fi
            if [ -n "$detect" ]; then
                env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$LILM" bench -c configs/$cfg.yaml -b "$shape" \
                    -n "$STEPS" -w 1 -t "$THREADS" --json | sed "s/^/lilm-detect $cfg $shape /" >>"$log"
            fi
            for attn in manual sdpa; do
                ALLOC=tcmalloc bench/torch_step.sh --config $cfg --batch "$b" --seq "$t" --threads "$THREADS" \
                    --steps "$STEPS" --warmup 1 --attn $attn 2>/dev/null | tail -n1 |
                    sed "s/^/torch-$attn $cfg $shape /" >>"$log"
            done
        done
    done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M) UTC"
python3 - "$log" "$THREADS" "$ROUNDS" <<'PY'
import json, statistics, sys
threads = int(sys.argv[2])
rows, cpu_rows, blas = {}, {}, set()
for line in open(sys.argv[1]):
    who, cfg, shape, js = line.split(" ", 3)
    try:
        j = json.loads(js)
    except Exception:
        continue
    rows.setdefault((cfg, shape), {}).setdefault(who, []).append(j["tokens_per_s"])
    if "cpu_ms_per_step" in j:
        cpu = j["cpu_ms_per_step"] / 1e3
        tokens = j["B"] * j["T"]
    else:
        cpu = j.get("cpu_s_median", 0)
        tokens = j.get("tokens_per_step", 0)
    if cpu > 0:
        cpu_rows.setdefault((cfg, shape), {}).setdefault(who, []).append(tokens / (cpu / threads))
    if who == "lilm" and "blas" in j:
        blas.add(j["blas"])


def table(rows, what):
    print(f"threads {threads}; {what}, median of {sys.argv[3]} rounds; lilm BLAS kernel: {', '.join(sorted(blas)) or '?'}")
    detect = any("lilm-detect" in w for w in rows.values())
    base = any("lilm-base" in w for w in rows.values())
    head = "| config | shape | PyTorch (mask) | PyTorch (SDPA) | lilm | lilm / best PyTorch |"
    if base:
        head += " lilm base | base / best PyTorch | lilm / base |"
    if detect:
        head += " lilm (OpenBLAS detect) | detect / best PyTorch |"
    print(head)
    print("|---|---|---:|---:|---:|---:|" + ("---:|---:|---:|" if base else "") + ("---:|---:|" if detect else ""))
    for (cfg, shape), w in rows.items():
        m = {k: statistics.median(v) for k, v in w.items()}
        tm, ts, l = m.get("torch-manual", 0), m.get("torch-sdpa", 0), m.get("lilm", 0)
        lb, ld = m.get("lilm-base", 0), m.get("lilm-detect", 0)
        best = max(tm, ts)
        r = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
        line = f"| {cfg} | {shape} | {tm:.0f} | {ts:.0f} | {l:.0f} | {r(l, best)} |"
        if base:
            line += f" {lb:.0f} | {r(lb, best)} | {r(l, lb)} |"
        if detect:
            line += f" {ld:.0f} | {r(ld, best)} |"
        print(line)


table(rows, "tokens/s by wall time")
print()
table(cpu_rows, "tokens per CPU-second x threads")
PY
[ -n "${LOG:-}" ] || rm -f "$log"
