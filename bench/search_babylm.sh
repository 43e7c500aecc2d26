#!/usr/bin/env bash
# bench/search_babylm.sh: the measured search of bench/results/search.md.
#
#   1. lilm search configs/search/babylm-cpu.yaml: 8 trials of 1 minute;
#   2. the baseline: the babylm recipe's default config for this device (the
#      search's base.yaml: 20 x 192, the reference 12K tokenizer, lr 6e-3)
#      trained for the same 1 minute, on the same validation documents;
#   3. the study's table (lilm search --status).
# Everything goes under $OUT (default out/search). On a shared machine run it
# niced: `nice bench/search_babylm.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/search}
THREADS=${THREADS:-2}
SHARED=${LILM_SHARED:-../shared}
DB=$OUT/runs.db
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
start=$(date +%s)
./lilm search configs/search/babylm-cpu.yaml --threads "$THREADS" --db "$DB" --dir "$OUT/study"
echo "search: $(( $(date +%s) - start )) s"
./lilm data prepare babylm --tokenizer "$SHARED/tokenizers/baby_unigram_12K.model" --out "$OUT/data12k" \
    "$SHARED/data/babylm/train/strict_2024_100M_snippets" --val-rule "index%400<1" --quiet
./lilm train --config "$OUT/study/base.yaml" --set "data.dataset=$OUT/data12k" \
    --set "data.tokenizer=$SHARED/tokenizers/baby_unigram_12K.model" --minutes 1 --threads "$THREADS" \
    --db "$DB" --out "$OUT/baseline" --quiet --no-samples
echo "baseline: $(cat "$OUT/baseline/eval.json")"
./lilm search --status --db "$DB" --study babylm-cpu
echo "wall: $(( $(date +%s) - start )) s"
