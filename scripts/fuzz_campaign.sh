#!/usr/bin/env bash
# scripts/fuzz_campaign.sh [SECONDS] [FUZZER...]: a fuzzing campaign. Builds the
# fuzzers (make), runs each for SECONDS (default 600) from its seed corpus and
# its growing corpus in build-fuzz/corpus-NAME, and prints one line per fuzzer:
# executions, execs/s, coverage (edges) and features, corpus size, and the
# outcome (ok, or crash/leak/timeout with the artifact libFuzzer wrote). The
# logs stay in build-fuzz/campaign-NAME.log. Exits non-zero if any fuzzer failed.
set -u
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
make -s "${names[@]/#/build-fuzz/}" || exit 1
printf '%-18s %12s %9s %8s %9s %7s  %s\n' fuzzer execs execs/s cov features corpus outcome
bad=0
for n in "${names[@]}"; do
    log=build-fuzz/campaign-$n.log
    mkdir -p "build-fuzz/corpus-$n" "build-fuzz/artifacts-$n"
    "build-fuzz/$n" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/artifacts-$n/" "build-fuzz/corpus-$n" "tests/fuzz/corpus/$n" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n1 | grep -oE '[0-9]+')
    corp=$(ls "build-fuzz/corpus-$n" | wc -l)
    outcome=ok
    if [ "$rc" -ne 0 ]; then
        bad=1
        outcome="FAILED (exit $rc): $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|ERROR: libFuzzer: [a-z-]+' "$log") $(ls build-fuzz/artifacts-$n | head -n1)"
    fi
    printf '%-18s %12s %9s %8s %9s %7s  %s\n' "$n" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$outcome"
done
exit $bad
