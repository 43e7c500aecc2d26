#!/usr/bin/env bash
# bench/search_babylm.sh: the measured search of bench/results/search.md.
#
#   1. the babylm recipe's default config (CPU overrides, reference 12K
#      tokenizer, no autosize) trained for 1 minute: the baseline;
#   2. lilm search configs/search/babylm-cpu.yaml: 10 trials of 1 minute;
#   3. the study's table (lilm search --status).
# Everything goes under $OUT (default out/search). Run it niced on a shared
# machine: `nice -n 10 bench/search_babylm.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/search}
THREADS=${THREADS:-2}
DB=$OUT/runs.db
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
start=$(date +%s)
./lilm run babylm --minutes 1 --no-autosize --threads "$THREADS" --db "$DB" --out "$OUT/baseline" --quiet
echo "baseline: $(cat "$OUT/baseline/eval.json")"
./lilm search configs/search/babylm-cpu.yaml --threads "$THREADS" --db "$DB" --dir "$OUT/study"
./lilm search --status --db "$DB" --study babylm-cpu
echo "wall: $(( $(date +%s) - start )) s"
