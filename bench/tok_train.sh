#!/usr/bin/env bash
# bench/tok_train.sh: `lilm tok train` vs spm_train, same machine, same text, same threads.
#
# Trains vocab-8000 unigram and BPE models on the BabyLM text of ../shared/data
# (bench/tok_train_prepare.py: ~45 MB, lines cut at 1000 bytes) with both tools,
# RUNS times each (alternating lilm / spm_train), and prints one line per run:
#   tool type wall_s user_s sys_s peak_rss_kb bytes_per_token
# bytes_per_token = UTF-8 bytes / tokens of the switchboard dev file, encoded by the
# sentencepiece library with the trained model (higher = better compression).
# Needs: spm_train (Debian package `sentencepiece`), python3 with sentencepiece, GNU time.
# Usage: RUNS=3 THREADS=2 bench/tok_train.sh [workdir]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
THREADS=${THREADS:-2}
SHARED=${LILM_SHARED:-$(cd .. && pwd)/shared}
WORK=${1:-$(mktemp -d /tmp/lilm-tok-bench.XXXXXX)}
LILM=${LILM_BIN:-$PWD/build/lilm}
mkdir -p "$WORK"
[ -s "$WORK/babylm.txt" ] || python3 bench/tok_train_prepare.py "$SHARED" "$WORK/babylm.txt"
DEV="$SHARED/data/babylm/dev/strict_small_2024/switchboard.dev"

bpt() { # model -> bytes per token on the dev file
    python3 - "$1" "$DEV" <<'EOF'
import sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
print("%.4f" % (sum(len(l.encode()) for l in lines) / sum(len(x) for x in sp.encode(lines))))
EOF
}

echo "# machine: $(nproc) cores, $(uname -m), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(spm_train --version 2>&1 | head -1); lilm $(git rev-parse --short HEAD)"
for run in $(seq "$RUNS"); do
    for type in unigram bpe; do
        /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$LILM" tok train --quiet --model-type "$type" \
            --vocab-size 8000 --byte-fallback --character-coverage 1 --threads "$THREADS" \
            --output "$WORK/lilm_$type.model" "$WORK/babylm.txt"
        echo "lilm $type $(cat "$WORK/time") $(bpt "$WORK/lilm_$type.model")"
        /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" spm_train --input="$WORK/babylm.txt" \
            --model_prefix="$WORK/spm_$type" --model_type="$type" --vocab_size=8000 --byte_fallback=true \
            --character_coverage=1.0 --normalization_rule_name=nmt_nfkc_cf --unk_id=0 --bos_id=1 \
            --eos_id=2 --pad_id=3 --num_threads="$THREADS" >"$WORK/spm.log" 2>&1
        echo "spm_train $type $(cat "$WORK/time") $(bpt "$WORK/spm_$type.model")"
    done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
