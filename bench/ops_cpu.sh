#!/usr/bin/env bash
# bench/ops_cpu.sh: builds bench/ops_cpu.c against build/liblilm.a and prints
# the per-op tables at the reference shapes (SimpleStories 8x512, BabyLM 8x512
# and 16x256). Run `make` first. Extra arguments (a thread count) pass through.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
cc -O2 -g -march=native -std=c11 -D_GNU_SOURCE -fopenmp -Isrc bench/ops_cpu.c build/liblilm.a \
   -llapacke -llapack -lopenblas -lm -o build/bench_ops_cpu
build/bench_ops_cpu simplestories 8 512 "${1:-0}"
echo
build/bench_ops_cpu babylm 8 512 "${1:-0}"
echo
build/bench_ops_cpu babylm 16 256 "${1:-0}"
