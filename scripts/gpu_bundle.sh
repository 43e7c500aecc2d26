#!/usr/bin/env bash
# scripts/gpu_bundle.sh: prepares, on a build machine, everything a GPU check
# needs on a GPU machine that has the CUDA driver and toolkit but none of
# lilm's Debian libraries and no network:
#   .gpu/bundle.tar.xz   build-gpu/ (./lilm and the CUDA tests, built for
#                        CUDA_ARCHS, default 90 = H100/H200) + lib/ (the shared
#                        libraries they load, except glibc's and CUDA's own)
#   .gpu/babylm/         a prepared BabyLM dataset (baby_unigram_12K) and the
#                        tokenizer itself, if ../shared is there
# scripts/gpu_check.sh unpacks it when it finds it. .gpu/ is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHS=${CUDA_ARCHS:-90}
make -j"$(nproc)" BUILD=build-gpu CUDA=1 CUDA_ARCHS="$ARCHS" build-gpu/lilm \
    $(ls tests/cuda/test_*.c 2>/dev/null | sed 's|tests/cuda/\(.*\)\.c|build-gpu/tests/cuda/\1|') \
    build-gpu/tests/test_model build-gpu/tests/test_parity >/dev/null
BUILD=build-gpu BENCH_BUILD_ONLY=1 bash bench/ops_cuda.sh
rm -rf .gpu/stage && mkdir -p .gpu/stage/lib .gpu/stage/build-gpu/tests/cuda
cp build-gpu/bench_ops_cuda .gpu/stage/build-gpu/
cp build-gpu/lilm .gpu/stage/build-gpu/
cp build-gpu/tests/cuda/test_* .gpu/stage/build-gpu/tests/cuda/ 2>/dev/null || true
rm -f .gpu/stage/build-gpu/tests/cuda/*.d
cp build-gpu/tests/test_model build-gpu/tests/test_parity .gpu/stage/build-gpu/tests/
for bin in .gpu/stage/build-gpu/lilm .gpu/stage/build-gpu/bench_ops_cuda .gpu/stage/build-gpu/tests/cuda/* .gpu/stage/build-gpu/tests/test_*; do
    ldd "$bin" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -vE '/(libc|libm|libdl|librt|libpthread|libresolv|ld-linux[^/]*)\.so|/libcu|/libnv' |
    while read -r lib; do cp -L "$lib" .gpu/stage/lib/; done
tar -C .gpu/stage -cJf .gpu/bundle.tar.xz .
rm -rf .gpu/stage
cp ../shared/tokenizers/baby_unigram_12K.model .gpu/ 2>/dev/null || true
if [ -d ../shared/data/babylm ] && [ ! -f .gpu/babylm/meta.json ]; then
    build/lilm data prepare babylm --tokenizer ../shared/tokenizers/baby_unigram_12K.model --out .gpu/babylm \
        ../shared/data/babylm/train --val ../shared/data/babylm/dev --quiet
fi
du -sh .gpu/bundle.tar.xz .gpu/babylm 2>/dev/null || true
