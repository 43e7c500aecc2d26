#!/usr/bin/env bash
# scripts/setup.sh: installs what lilm needs on Debian 12 and builds it.
#
#   Debian packages: the compiler and the libraries lilm links (OpenBLAS,
#   libyaml, SQLite, utf8proc, libcurl, zstd, snappy, zlib), clang for the
#   fuzzers, the sentencepiece tools and Chromium for tests and benchmarks,
#   tcmalloc/jemalloc for fair PyTorch benchmarks.
#   Python (tests only): torch, numpy, safetensors, sentencepiece, pyarrow, selenium.
# The CUDA toolkit is optional: when nvcc is found the CUDA backend is built too.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential make pkg-config clang libclang-rt-14-dev \
    libopenblas-dev libyaml-dev libsqlite3-dev libutf8proc-dev libcurl4-openssl-dev \
    libzstd-dev libsnappy-dev zlib1g-dev libopenmpi-dev openmpi-bin \
    sentencepiece chromium chromium-driver libgoogle-perftools4 libjemalloc2 \
    python3 python3-pip >/dev/null
PIP="python3 -m pip"
$PIP install -q --disable-pip-version-check numpy safetensors sentencepiece pyarrow selenium 2>&1 | grep -v "^WARNING: Running pip as" || true
python3 -c "import torch" 2>/dev/null || $PIP install -q --disable-pip-version-check torch 2>&1 | grep -v "^WARNING: Running pip as" || true
make -j"$(nproc)"
echo "lilm is built: ./lilm --help"
