#!/usr/bin/env bash
# bench/ops_cpu.sh: builds bench/ops_cpu.c against build/liblilm.a and prints
# the per-op tables at the reference shapes (SimpleStories 8x512, BabyLM 8x512
# and 16x256). Run `make` first. Extra arguments (a thread count) pass through.
# BUILD (default build) and CFLAGS pick another build, e.g. the AVX2 one:
#   make BUILD=build-avx2 CUDA=0 CFLAGS='-O2 -g -march=haswell' build-avx2/liblilm.a
#   BUILD=build-avx2 CFLAGS='-O2 -g -march=haswell' OPENBLAS_CORETYPE=Haswell bench/ops_cpu.sh
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD"
cc ${CFLAGS:--O2 -g -march=native} -std=c11 -D_GNU_SOURCE -fopenmp -Isrc bench/ops_cpu.c "$BUILD"/liblilm.a \
   -llapacke -llapack -lopenblas -lm -o "$BUILD"/bench_ops_cpu
"$BUILD"/bench_ops_cpu simplestories 8 512 "${1:-0}"
echo
"$BUILD"/bench_ops_cpu babylm 8 512 "${1:-0}"
echo
"$BUILD"/bench_ops_cpu babylm 16 256 "${1:-0}"
