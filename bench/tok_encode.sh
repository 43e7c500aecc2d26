#!/usr/bin/env bash
# tok_encode.sh: encoding throughput of `lilm tok encode` vs spm_encode.
#
#   bench/tok_encode.sh [RUNS]     (default 3 runs; prints a markdown table)
#
# Input: the BabyLM text of ../shared/data cut into lines of <= 1000 bytes
# (bench/tok_encode_prepare.py). Models: baby_unigram_12K and baby_bpe_12K.
# One thread: `lilm tok encode --threads 1` vs spm_encode (single-threaded).
# All threads: `lilm tok encode --threads N` vs N spm_encode processes on N
# equal slices of the input, run at once. Output ids go to /dev/null. Reports
# medians over RUNS runs of the wall time and of the CPU time (user + sys, all
# processes; the fairer figure on a shared, loaded machine), MB/s from the wall
# time, and the speed-up spm/lilm for both. It also counts the lines whose ids
# differ from spm_encode's (Debian ships sentencepiece 0.1.97, whose unigram
# tie-breaking differs from 0.2.x on a few lines; lilm follows 0.2.3, which the
# parity test checks).
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SHARED=${LILM_SHARED:-$(cd .. && pwd)/shared}
LILM=${LILM_BIN:-$PWD/build/lilm}
N=$(nproc)
TMP=${TMPDIR:-/tmp}/lilm-tok-bench
mkdir -p "$TMP"
IN=$TMP/babylm_lines.txt
[ -s "$IN" ] || LILM_SHARED=$SHARED python3 bench/tok_encode_prepare.py "$IN"
BYTES=$(stat -c %s "$IN")
split -n l/$N -d "$IN" "$TMP/slice."

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# measure CMD...: prints "wall cpu" (seconds) of one run, children included
measure() { /usr/bin/time -f '%e %U %S' -o "$TMP/time" "$@" > /dev/null; awk '{print $1, $2 + $3}' "$TMP/time"; }
spm_all() { for f in "$TMP"/slice.*; do spm_encode --model "$1" --output_format=id < "$f" > /dev/null & done; wait; }
export -f spm_all
export TMP
# runs CMD... RUNS times: prints "median_wall median_cpu"
runs() { local r; for r in $(seq "$RUNS"); do measure "$@"; done > "$TMP/runs"; echo "$(cut -d' ' -f1 "$TMP/runs" | median) $(cut -d' ' -f2 "$TMP/runs" | median)"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $IN ($BYTES bytes, $(wc -l < "$IN") lines); runs: $RUNS (median)"
echo
echo "| model | threads | spm_encode wall s (cpu s) | lilm wall s (cpu s) | spm MB/s | lilm MB/s | speed-up wall (cpu) |"
echo "|---|---|---|---|---|---|---|"
for name in baby_unigram_12K baby_bpe_12K; do
    M=$SHARED/tokenizers/$name.model
    diff_lines=$(diff <(spm_encode --model "$M" --output_format=id < "$IN") <("$LILM" tok encode --model "$M" < "$IN") | grep -c '^<' || true)
    echo "$name: $diff_lines lines differ from spm_encode $(dpkg-query -W -f '${Version}' sentencepiece 2>/dev/null)" >&2
    for T in 1 $N; do
        if [ "$T" = 1 ]; then
            read -r sw sc < <(runs spm_encode --model "$M" --output_format=id "$IN")
        else
            read -r sw sc < <(runs bash -c "spm_all $M")
        fi
        read -r lw lc < <(runs "$LILM" tok encode --threads "$T" --model "$M" "$IN")
        printf '| %s | %s | %.2f (%.2f) | %.2f (%.2f) | %.1f | %.1f | %.2fx (%.2fx) |\n' "$name" "$T" "$sw" "$sc" "$lw" "$lc" \
            "$(echo "$BYTES / $sw / 1000000" | bc -l)" "$(echo "$BYTES / $lw / 1000000" | bc -l)" "$(echo "$sw / $lw" | bc -l)" \
            "$(echo "$sc / $lc" | bc -l)"
    done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
