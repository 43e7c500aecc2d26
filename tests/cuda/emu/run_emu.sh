#!/usr/bin/env bash
# tests/cuda/emu/run_emu.sh: runs the attention, norm, cross-entropy, rope and AdamW CUDA
# kernels on the CPU emulator (emu.h) against the CPU backend; no GPU needed.
# Run `make` first (it needs build/liblilm.a). Takes a minute or two.
set -eu
cd "$(dirname "$0")/../../.."
mkdir -p build/emu
# the kernel section of a .cu file: after its cuda_impl.h include, up to its
# first extern "C" launcher; dynamic shared memory becomes the emulator's buffer
extract() {
    awk '/#include "cuda\/cuda_impl.h"/ {on = 1; next} /^extern "C"/ || /---- launchers ----/ || /^static (void|int) [a-z_]+\(lilm/ {exit} on' "src/cuda/$1.cu" |
        sed 's/extern __shared__ float smem\[\];/float *smem = (float *)emu_dyn_smem;/' >"build/emu/$1_kernels.inc"
}
for f in attention attention_small norm classifier rope adamw; do extract "$f"; done
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
gcc -O2 -g -std=c11 -D_GNU_SOURCE -pthread -fopenmp -Wall -Wno-unknown-pragmas -Wno-unused-function \
    -Isrc -Itests/cuda/emu -Ibuild/emu tests/cuda/emu/emu_kernels.c build/liblilm.a \
    -lopenblas -lm -L"$CUDA_HOME/lib64" -Wl,-rpath,"$CUDA_HOME/lib64" -lcublasLt -lcublas -lcudart -lstdc++ \
    -o build/emu/emu_kernels
build/emu/emu_kernels
