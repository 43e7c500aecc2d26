#!/usr/bin/env bash
# scripts/gpu_check.sh: the one script to run on a GPU machine (e.g. an H100):
#   bash scripts/gpu_check.sh
# Steps, each under its own time limit and all under one overall budget
# (GPU_CHECK_BUDGET seconds, default 360), each logged to "$OUT"/<step>.log
# (OUT defaults to ./out):
#   env        nvidia-smi, nvcc version, the libraries the link needs
#   unpack     if .gpu/bundle.tar.xz exists (scripts/gpu_bundle.sh, built on the
#              build machine): unpack it and use its binaries, with its lib/ on
#              LD_LIBRARY_PATH for our binaries only; no build on the GPU machine
#   build      make -j16 CUDA_ARCHS=$CUDA_ARCHS (default 90) and the CUDA tests;
#              if that fails, again without -Werror and, when .deps was carried
#              along (scripts/gpu_deps.sh), against its bundle of the C
#              libraries lilm links (the GPU image may lack them)
#   test-cuda-ops    every CUDA op against the CPU backend (tests/cuda/test_cuda_ops.c)
#   test-cuda-noepilogue   only if test-cuda-ops failed: the same binary with
#              LILM_CUDA_EPILOGUE=0 (bias added by our kernel, not cuBLASLt),
#              which tells a cuBLASLt epilogue problem from a kernel bug
#   test-cuda-model  the whole model, CUDA against CPU (tests/cuda/test_cuda_model.c)
#   test-cuda-ops-mma, test-cuda-model-mma   the same two binaries again with
#              LILM_CUDA_ATTN=mma (the tensor-core attention of
#              src/cuda/attention_mma.cu everywhere it applies); logged into
#              test-cuda-ops.log and test-cuda-model.log
#   bench      bench/ops_cuda.sh: per-op timings at the reference shapes
#   attn       attention kernels side by side, the default vs LILM_CUDA_ATTN=mma,
#              SimpleStories and BabyLM shapes at 64x512: bench_ops_cuda's
#              attention ops, then `lilm bench` (whole training step, 20 steps
#              after 3 warm-up), ending with a tokens/s table; logged into bench.log
#   e2e        scripts/gpu_e2e.sh, if it exists (end-to-end checks added later);
#              it gets LILM_GPU_BIN (the directory holding lilm: build or the
#              unpacked bundle's) and LILM_GPU_RUN (the prefix to run it with)
# summary.txt gets one line per step (exit status, seconds). At most 8 files
# land in $OUT (the most the device tool brings back). The two test binaries
# run separately, not through `make test-cuda`, so a failure in one still
# leaves the other's report. The script exits non-zero if any step failed.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-./out}
mkdir -p "$OUT"
CUDA_ARCHS=${CUDA_ARCHS:-90}
BUDGET=${GPU_CHECK_BUDGET:-360}
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
failed=0

# step NAME LIMIT_SECONDS COMMAND...: runs COMMAND under `timeout`, never past
# the budget, appending to "$OUT/${LOG:-NAME}.log".
step() {
    local name=$1 limit=$2 left rc t0 t1 log
    shift 2
    log="$OUT/${LOG:-$name}.log"
    left=$((BUDGET - ($(date +%s) - START)))
    if [ "$left" -lt 10 ]; then
        echo "$name: SKIPPED (overall budget of ${BUDGET}s used up)" | tee -a "$SUMMARY"
        failed=1
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    t0=$(date +%s)
    echo "== $name (limit ${limit}s): $*" | tee -a "$log"
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "$name: TIMEOUT after ${limit}s (rc $rc)" | tee -a "$SUMMARY"
    else
        echo "$name: rc $rc in $((t1 - t0))s" | tee -a "$SUMMARY"
    fi
    tail -n 25 "$log"
    [ "$rc" -eq 0 ] || failed=1
    return "$rc"
}

env_info() {
    date -u
    nvidia-smi || true
    "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" --version || true
    nproc
    ldconfig -p | grep -E 'openblas|libyaml|sqlite3|utf8proc|libcurl|zstd|snappy|cublasLt' || true
}

# attn_compare BIN OPS [RUN...]: the default attention kernels against the
# tensor-core ones (LILM_CUDA_ATTN=mma for the test and bench programs,
# --set train.cuda.attention=mma for lilm) at 64x512 on both reference configs: OPS (bench_ops_cuda,
# or "" when there is none) times the attention ops alone, BIN/lilm bench the
# whole training step; RUN is the prefix that runs our binaries. Prints a
# table of tokens/s at the end; fails if any run failed.
attn_compare() {
    local bin=$1 ops=$2 cfg kind line tps ms rc=0 table=""
    shift 2
    local run=("$@") sel
    for cfg in simplestories babylm; do
        for kind in default mma; do
            if [ "$kind" = mma ]; then sel=(env LILM_CUDA_ATTN=mma); else sel=(env -u LILM_CUDA_ATTN); fi
            if [ -n "$ops" ]; then
                echo "== bench_ops_cuda $cfg 64 512 attention, kernels: $kind"
                "${run[@]}" "${sel[@]}" "$ops" "$cfg" 64 512 attention || rc=1
            fi
            echo "== lilm bench -c configs/$cfg.yaml -b 64x512, kernels: $kind"
            line=$("${run[@]}" "$bin/lilm" bench -c "configs/$cfg.yaml" --device cuda -b 64x512 -n 20 -w 3 \
                --set "train.cuda.attention=$([ "$kind" = mma ] && echo mma || echo auto)" --json | tail -n 1) || rc=1
            echo "$line"
            tps=$(echo "$line" | sed -n 's/.*"tokens_per_s": \([0-9.]*\).*/\1/p')
            ms=$(echo "$line" | sed -n 's/.*"ms_per_step": \([0-9.]*\).*/\1/p')
            table+=$(printf '%-14s %-8s %12s tok/s %9s ms/step' "$cfg" "$kind" "${tps:-FAILED}" "${ms:-?}")$'\n'
        done
    done
    echo "== lilm bench, 64x512, attention kernels side by side"
    printf '%s' "$table"
    return $rc
}

# Build flags for the library bundle of scripts/gpu_deps.sh, unpacked in /tmp:
# headers after the system's (-idirafter), libraries found at link time and,
# through DT_RPATH (which also covers the libraries' own dependencies), at run
# time. Exported so bench/ops_cuda.sh links the same way.
use_deps() {
    local d=/tmp/lilm-deps
    rm -rf "$d" && mkdir -p "$d" && tar -C "$d" -xJf .deps/lilm-deps.tar.xz || return 1
    local libs="$d/usr/lib/x86_64-linux-gnu:$d/usr/lib/x86_64-linux-gnu/openblas-pthread:$d/lib/x86_64-linux-gnu"
    export LILM_DEPS_CFLAGS="-idirafter $d/usr/include -idirafter $d/usr/include/x86_64-linux-gnu -idirafter $d/usr/include/x86_64-linux-gnu/openblas-pthread"
    export LILM_DEPS_LDFLAGS="-L${libs//:/ -L} -Wl,--disable-new-dtags -Wl,-rpath,$libs -Wl,-rpath-link,$libs"
}

step env 30 bash -c "$(declare -f env_info); env_info"
targets="all build/tests/cuda/test_cuda_ops build/tests/cuda/test_cuda_model"
built=0
BIN=build # where the binaries are
RUN=()    # what runs them: with a prebuilt bundle, its libraries on LD_LIBRARY_PATH (ours only)
if [ -f .gpu/bundle.tar.xz ]; then
    # binaries and libraries built elsewhere by scripts/gpu_bundle.sh: no build here
    if LOG=build step unpack 60 bash -c 'rm -rf .gpu/run && mkdir -p .gpu/run && tar -C .gpu/run -xJf .gpu/bundle.tar.xz'
    then
        BIN=.gpu/run/build-gpu
        RUN=(env "LD_LIBRARY_PATH=$PWD/.gpu/run/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
        built=1
    fi
fi
if [ "$built" = 1 ]; then
    :
elif step build 240 make -j16 CUDA_ARCHS="$CUDA_ARCHS" $targets; then
    built=1
else
    # Again, without -Werror (another gcc may warn where ours does not) and,
    # when .deps was carried along, against its library bundle.
    failed=0
    nv="-O3 -std=c++17 -Isrc -DLILM_USE_CUDA --expt-relaxed-constexpr -Xcompiler -Wall"
    for a in $CUDA_ARCHS; do nv="$nv -gencode arch=compute_$a,code=sm_$a"; done
    extra=()
    if [ -f .deps/lilm-deps.tar.xz ] && use_deps; then
        extra=(CFLAGS="-O2 -g -march=native $LILM_DEPS_CFLAGS" LDFLAGS="$LILM_DEPS_LDFLAGS")
    else
        echo "(no .deps/lilm-deps.tar.xz: if libraries are missing, make it with scripts/gpu_deps.sh and carry .deps)" |
            tee -a "$SUMMARY"
    fi
    LOG=build step build-retry 240 make -j16 CUDA_ARCHS="$CUDA_ARCHS" NVFLAGS="$nv" \
        WARN="-Wall -Wextra -Wno-unused-parameter -Wno-format-truncation" "${extra[@]}" $targets && built=1
fi
if [ "$built" = 1 ]; then
    if ! step test-cuda-ops 120 "${RUN[@]}" "$BIN/tests/cuda/test_cuda_ops"; then
        step test-cuda-noepilogue 90 "${RUN[@]}" env LILM_CUDA_EPILOGUE=0 "$BIN/tests/cuda/test_cuda_ops"
    fi
    step test-cuda-model 120 "${RUN[@]}" "$BIN/tests/cuda/test_cuda_model"
    LOG=test-cuda-ops step test-cuda-ops-mma 120 "${RUN[@]}" env LILM_CUDA_ATTN=mma "$BIN/tests/cuda/test_cuda_ops"
    LOG=test-cuda-model step test-cuda-model-mma 120 "${RUN[@]}" env LILM_CUDA_ATTN=mma \
        "$BIN/tests/cuda/test_cuda_model"
    if [ "$BIN" = build ]; then
        step bench 120 bash bench/ops_cuda.sh
    elif [ -x "$BIN/bench_ops_cuda" ]; then
        step bench 120 "${RUN[@]}" env BENCH_OPS_CUDA="$BIN/bench_ops_cuda" bash bench/ops_cuda.sh
    else
        echo "bench: skipped (the bundle has no bench_ops_cuda)" | tee -a "$SUMMARY"
    fi
    ops=""
    [ -x "$BIN/bench_ops_cuda" ] && ops="$BIN/bench_ops_cuda"
    LOG=bench step attn 150 bash -c "$(declare -f attn_compare); attn_compare \"\$@\"" _ "$BIN" "$ops" "${RUN[@]}"
    if [ -f scripts/gpu_e2e.sh ]; then
        # LILM_GPU_BIN: the directory with lilm; LILM_GPU_RUN: the prefix that runs it
        step e2e 300 env LILM_GPU_BIN="$BIN" LILM_GPU_RUN="${RUN[*]}" bash scripts/gpu_e2e.sh
    fi
fi
echo "total $(($(date +%s) - START))s; logs in $OUT" | tee -a "$SUMMARY"
exit "$failed"
