#!/usr/bin/env bash
# bench/ops_cuda.sh: builds bench/ops_cuda.c against build/liblilm.a (a CUDA
# build: run `make` with nvcc present first) and prints the per-op tables of
# the CUDA backend at the reference shapes. Needs a GPU.
set -eu
cd "$(dirname "$0")/.."
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
mkdir -p build
# LILM_DEPS_CFLAGS/LILM_DEPS_LDFLAGS: set by scripts/gpu_check.sh when it builds
# against its carried library bundle
cc -O2 -g -std=c11 -D_GNU_SOURCE -fopenmp -Isrc ${LILM_DEPS_CFLAGS:-} bench/ops_cuda.c build/liblilm.a \
   ${LILM_DEPS_LDFLAGS:-} -lopenblas -lm -lpthread -L"$CUDA_HOME/lib64" -Wl,-rpath,"$CUDA_HOME/lib64" \
   -lcublasLt -lcublas -lcudart -lstdc++ -o build/bench_ops_cuda
build/bench_ops_cuda simplestories 16 512
echo
build/bench_ops_cuda babylm 16 512
echo
build/bench_ops_cuda babylm 64 512
echo
echo "babylm 16x512 again with the warp-per-row attention kernels (LILM_CUDA_ATTN=warp):"
LILM_CUDA_ATTN=warp build/bench_ops_cuda babylm 16 512
