#!/usr/bin/env bash
# bench/data.sh: throughput of `lilm data prepare` (the BabyLM copy in
# ../shared, baby_unigram_12K, all cores) against bench/data_prepare_ref.py
# (json + sentencepiece + multiprocessing on the same cores), and of the batch
# loader on one core. Runs alternate (lilm, python, lilm, ...) so both see the
# same machine load; medians of RUNS runs (default 5) of wall time and of CPU
# time (user + sys of all threads/processes). Copy the output into
# bench/results/data.md with the machine description.
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
bytes=$(du -sbc "$train" "$val" | tail -1 | cut -f1)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $train + $val ($bytes bytes), tokenizer $(basename "$model")"

for cores in all 1; do
    pin=""; threads=0; procs=0
    if [ "$cores" = 1 ]; then pin="taskset -c 0"; threads=1; procs=1; fi
    : > "$tmp/lw"; : > "$tmp/lc"; : > "$tmp/pw"; : > "$tmp/pc"
    for i in $(seq "$runs"); do
        /usr/bin/time -f "%e %U %S" -o "$tmp/t" $pin ./lilm data prepare babylm --tokenizer "$model" --out "$tmp/ds" \
            "$train" --val "$val" --force --quiet --threads $threads > "$tmp/out"
        awk '{print $1}' "$tmp/t" >> "$tmp/lw"; awk '{print $2 + $3}' "$tmp/t" >> "$tmp/lc"
        REF_PROCS=$procs $pin python3 bench/data_prepare_ref.py "$model" "$tmp/ref" --val "$val" -- "$train" > "$tmp/py"
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"]); print(d["cpu_seconds"], file=sys.stderr)' \
            "$tmp/py" >> "$tmp/pw" 2>> "$tmp/pc"
    done
    lw=$(median < "$tmp/lw"); lc=$(median < "$tmp/lc"); pw=$(median < "$tmp/pw"); pc=$(median < "$tmp/pc")
    awk -v b="$bytes" -v lw="$lw" -v lc="$lc" -v pw="$pw" -v pc="$pc" -v c="$cores" 'BEGIN {
        printf "prepare, %s cores: lilm %.2f s wall (%.1f MB/s), %.2f s CPU | python %.2f s wall (%.1f MB/s), %.2f s CPU | wall %.2fx, CPU %.2fx\n",
               c, lw, b/lw/1e6, lc, pw, b/pw/1e6, pc, pw/lw, pc/lc }'
done
cat "$tmp/out"
python3 - "$tmp" <<'PY'
import sys, numpy as np
d = sys.argv[1]
for split in ("train", "val"):
    ref = np.fromfile(f"{d}/ref/{split}.tokens.npy.bin", dtype=np.uint16)
    ours = np.fromfile(f"{d}/ds/{split}.tokens", dtype=np.uint16, offset=128)
    same = ref.shape == ours.shape and bool((ref == ours).all())
    print(f"{split}: same token ids as the sentencepiece-python pipeline: {same} ({ours.size} tokens)")
PY

gcc -O2 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -Isrc bench/data_loader.c build/liblilm.a \
    -lz -lzstd -lsnappy -lcurl -lm -lpthread -o "$tmp/data_loader"
echo "loader (taskset -c 0: the loader and its prefetch thread share one core), $runs runs:"
for i in $(seq "$runs"); do taskset -c 0 "$tmp/data_loader" "$tmp/ds" 64 512 1; done > "$tmp/loader"
for kind in "packed   prefetch=0" "document prefetch=0" "packed   prefetch=1" "document prefetch=1"; do
    m=$(grep "^$kind" "$tmp/loader" | sed -E 's/.*: ([0-9.]+) M tokens.*/\1/' | median)
    echo "  $kind B=64 T=512: median $m M tokens/s"
done
m=$(grep "^eval" "$tmp/loader" | sed -E 's/.*: ([0-9.]+) M targets.*/\1/' | median)
echo "  eval iterator (packed): median $m M targets/s"
