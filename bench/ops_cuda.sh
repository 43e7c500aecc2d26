#!/usr/bin/env bash
# bench/ops_cuda.sh: builds bench/ops_cuda.c against $BUILD/liblilm.a (a CUDA
# build: run `make` with nvcc present first) and prints the per-op tables of
# the CUDA backend at the reference shapes. Needs a GPU.
set -eu
cd "$(dirname "$0")/.."
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
BUILD=${BUILD:-build}
# BENCH_OPS_CUDA: a prebuilt bench binary (scripts/gpu_bundle.sh) instead of building one here;
# BENCH_BUILD_ONLY=1: build $BUILD/bench_ops_cuda and stop (for a bundle built elsewhere)
bin=${BENCH_OPS_CUDA:-$BUILD/bench_ops_cuda}
if [ -z "${BENCH_OPS_CUDA:-}" ]; then
    mkdir -p "$BUILD"
    # LILM_DEPS_CFLAGS/LILM_DEPS_LDFLAGS: set by scripts/gpu_check.sh when it builds
    # against its carried library bundle
    cc -O2 -g -std=c11 -D_GNU_SOURCE -fopenmp -Isrc ${LILM_DEPS_CFLAGS:-} bench/ops_cuda.c "$BUILD/liblilm.a" \
       ${LILM_DEPS_LDFLAGS:-} -llapacke -llapack -lopenblas -lm -lpthread -L"$CUDA_HOME/lib64" -Wl,-rpath,"$CUDA_HOME/lib64" \
       -lcublasLt -lcublas -lcudart -lstdc++ -o "$BUILD/bench_ops_cuda"
fi
[ "${BENCH_BUILD_ONLY:-0}" = 1 ] && exit 0
"$bin" simplestories 16 512
echo
"$bin" babylm 16 512
echo
"$bin" babylm 64 512
echo
echo "babylm 16x512 again with the warp-per-row attention kernels (LILM_CUDA_ATTN=warp):"
LILM_CUDA_ATTN=warp "$bin" babylm 16 512
