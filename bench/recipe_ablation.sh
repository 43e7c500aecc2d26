#!/usr/bin/env bash
# bench/recipe_ablation.sh MINUTES [SEEDS]: the BabyLM reference recipe and
# each recipe variant trained for the same wall-clock minutes on this machine,
# one run after another, then a table of held-out BPB and tokens seen.
#
# Shapes are the CPU recipe's (configs/babylm.yaml with context 256 and 16
# sequences per step, as `lilm run babylm` uses on CPU). Variants:
#   ref       the reference recipe as it is
#   muon      train.optimizer=muon (matrices of the layers on Muon)
#   wsd       train.schedule=wsd (warm-up, stable, linear decay)
#   zeroinit  model.zero_init_proj=true
#   relu2     model.activation=relu2
#   combo     all of the above together
# A variant whose keys this lilm does not know is reported as "refused".
# SEEDS (default 1) runs per variant, seeds 42, 43, ...; the table gives the
# median and range of BPB. Environment: DATASET (a prepared dataset dir; by
# default one is prepared into $WORK/babylm from INPUTS, default
# $LILM_SHARED/data/babylm/train, with VAL, default $LILM_SHARED/data/babylm/dev,
# and baby_unigram_12K), WORK (default $TMPDIR/lilm_recipe_ablation), VARIANTS
# (a space-separated subset), THREADS (default all cores).
set -u
cd "$(dirname "$0")/.."
MINUTES=${1:?usage: bench/recipe_ablation.sh MINUTES [SEEDS]}
SEEDS=${2:-1}
SHARED=${LILM_SHARED:-../shared}
WORK=${WORK:-${TMPDIR:-/tmp}/lilm_recipe_ablation}
THREADS=${THREADS:-0}
VARIANTS=${VARIANTS:-ref muon wsd zeroinit relu2 combo}
mkdir -p "$WORK"

variant_sets() {
    case $1 in
    ref) ;;
    muon) echo "--set train.optimizer=muon" ;;
    wsd) echo "--set train.schedule=wsd" ;;
    zeroinit) echo "--set model.zero_init_proj=true" ;;
    relu2) echo "--set model.activation=relu2" ;;
    combo) echo "--set train.optimizer=muon --set train.schedule=wsd --set model.zero_init_proj=true" \
        "--set model.activation=relu2" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
    esac
}

DATASET=${DATASET:-}
if [ -z "$DATASET" ]; then
    DATASET=$WORK/babylm
    ./lilm data prepare babylm --tokenizer "$SHARED/tokenizers/baby_unigram_12K.model" --out "$DATASET" \
        "${INPUTS:-$SHARED/data/babylm/train}" --val "${VAL:-$SHARED/data/babylm/dev}" --quiet ||
        { echo "recipe_ablation: preparing the dataset failed" >&2; exit 1; }
fi

rows=$WORK/rows.tsv
: >"$rows"
for v in $VARIANTS; do
    sets=$(variant_sets "$v") || exit 1
    for s in $(seq 0 $((SEEDS - 1))); do
        seed=$((42 + s))
        out=$WORK/run-$v-$seed
        # shellcheck disable=SC2086 # $sets is a list of --set options
        if ./lilm train -c configs/babylm.yaml --set data.dataset="$DATASET" --set model.context=256 \
            --set train.batch_size=16 --set train.accum_batch=16 --set train.seed=$seed $sets \
            --minutes "$MINUTES" --threads "$THREADS" --out "$out" --overwrite --db none --quiet --no-samples \
            >"$WORK/log-$v-$seed.txt" 2>&1; then
            python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], sys.argv[3], r["val_bpb"], r["tokens"], r["steps"], sep="\t")' \
                "$out/run.json" "$v" "$seed" >>"$rows"
        elif grep -q "unknown key\|did you mean\|must be one of" "$WORK/log-$v-$seed.txt"; then
            printf '%s\t%s\trefused\t-\t-\n' "$v" "$seed" >>"$rows"
        else
            printf '%s\t%s\tfailed\t-\t-\n' "$v" "$seed" >>"$rows"
        fi
    done
done

python3 - "$rows" "$MINUTES" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"| variant ({sys.argv[2]} min each) | held-out BPB median | range | tokens seen (median) | steps | runs |")
print("|---|---|---|---|---|---|")
order = []
for r in rows:
    if r[0] not in order:
        order.append(r[0])
ref = None
for v in order:
    mine = [r for r in rows if r[0] == v]
    ok = [r for r in mine if r[2] not in ("refused", "failed")]
    if not ok:
        print(f"| {v} | {mine[0][2]} | - | - | - | {len(mine)} |")
        continue
    bpb = [float(r[2]) for r in ok]
    med = statistics.median(bpb)
    if v == "ref":
        ref = med
    delta = f" ({med - ref:+.4f})" if ref is not None and v != "ref" else ""
    tok = int(statistics.median(int(r[3]) for r in ok))
    steps = int(statistics.median(int(r[4]) for r in ok))
    print(f"| {v} | {med:.4f}{delta} | {min(bpb):.4f}-{max(bpb):.4f} | {tok:,} | {steps} | {len(ok)} |")
EOF
