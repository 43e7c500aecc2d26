#!/usr/bin/env bash
# tests/cuda/emu/run_emu.sh: runs the CUDA kernels of src/cuda/ (all but the
# cuBLASLt calls) on the CPU emulator (emu.h) against the CPU backend or host
# loops; no GPU needed.
# Run `make` first (it needs build/liblilm.a). Takes about 20 s; make test runs it
# through tests/py/test_cuda_emu.py.
set -eu
cd "$(dirname "$0")/../../.."
mkdir -p build/emu
# the kernel section of a .cu file: from its "---- kernels ----" line (or its
# cuda_impl.h include) up to its launchers (the "---- launchers ----" line, the
# first extern "C" or host function); dynamic shared memory becomes the
# emulator's buffer
extract() {
    local start='/#include "cuda\/cuda_impl.h"/'
    grep -q -- '---- kernels ----' "src/cuda/$1.cu" && start='/---- kernels ----/'
    awk "$start"' {on = 1; next} on && (/^extern "C"/ || /---- launchers ----/ || /^static (void|int) [a-z_]+\(lilm/) {exit} on' \
        "src/cuda/$1.cu" |
        sed 's/extern __shared__ float smem\[\];/float *smem = (float *)emu_dyn_smem;/' >"build/emu/$1_kernels.inc"
}
for f in attention attention_small attention_mma norm classifier rope adamw matmul elementwise embedding; do extract "$f"; done
# the device helpers of cuda_impl.h that kernels call (activations, block size)
{
    grep '^#define LILM__EW_THREADS' src/cuda/cuda_impl.h
    awk '/^\/\* Exact GELU/ {on = 1} /^\/\* ---- GEMM/ {exit} on' src/cuda/cuda_impl.h
} >build/emu/impl_helpers.inc
gcc -O2 -g -std=c11 -D_GNU_SOURCE -pthread -fopenmp -Wall -Wno-unknown-pragmas -Wno-unused-function \
    -Isrc -Itests/cuda/emu -Ibuild/emu tests/cuda/emu/emu_kernels.c build/liblilm.a \
    -llapacke -llapack -lopenblas -lm \
    -o build/emu/emu_kernels
build/emu/emu_kernels
