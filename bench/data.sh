#!/usr/bin/env bash
# bench/data.sh: throughput of `lilm data prepare` (BabyLM copy in ../shared,
# baby_unigram_12K, all cores) against bench/data_prepare_ref.py (json +
# sentencepiece + multiprocessing on the same cores), and of the batch loader
# on one core. Medians of RUNS runs (default 5). Results go to stdout; copy
# them into bench/results/data.md with the machine description.
#
#   bench/data.sh [RUNS]        (run from the repository root after `make`)
set -euo pipefail
runs=${1:-5}
shared=${LILM_SHARED:-$(cd .. && pwd)/shared}
model=${MODEL:-$shared/tokenizers/baby_unigram_12K.model}
train=$shared/data/babylm/train
val=$shared/data/babylm/dev
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "input: $train + $val ($(du -sbc "$train" "$val" | tail -1 | cut -f1) bytes), tokenizer $(basename "$model")"

for i in $(seq "$runs"); do
    /usr/bin/time -f %e -o "$tmp/t" ./lilm data prepare babylm --tokenizer "$model" --out "$tmp/ds" \
        "$train" --val "$val" --force --quiet > "$tmp/out"
    cat "$tmp/t" >> "$tmp/lilm_times"
done
cat "$tmp/out"
for i in $(seq "$runs"); do
    python3 bench/data_prepare_ref.py "$model" "$tmp/ref" --val "$val" -- "$train" | \
        python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])' >> "$tmp/py_times"
done
bytes=$(du -sbc "$train" "$val" | tail -1 | cut -f1)
lt=$(median < "$tmp/lilm_times"); pt=$(median < "$tmp/py_times")
awk -v b="$bytes" -v l="$lt" -v p="$pt" 'BEGIN {
    printf "prepare: lilm %.2f s (%.1f MB/s), python %.2f s (%.1f MB/s), lilm is %.1fx faster\n", l, b/l/1e6, p, b/p/1e6, p/l }'
python3 - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
ref = np.fromfile(d + "/ref/train.tokens.npy.bin", dtype=np.uint16)
ours = np.fromfile(d + "/ds/train.tokens", dtype=np.uint16, offset=128)
same = ref.shape == ours.shape and bool((ref == ours).all())
print(f"same token ids as sentencepiece-python: {same} ({ours.size} vs {ref.size} train tokens)")
PY

gcc -O2 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -Isrc bench/data_loader.c build/liblilm.a \
    -lz -lzstd -lsnappy -lcurl -lm -lpthread -o "$tmp/data_loader"
echo "loader (taskset -c 0: the loader and its prefetch thread share one core):"
taskset -c 0 "$tmp/data_loader" "$tmp/ds" 64 512 2
