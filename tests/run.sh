#!/usr/bin/env bash
# tests/run.sh BUILD_DIR: runs every C test binary in BUILD_DIR/tests and every
# tests/py/test_*.py, adds up their "N passed, N failed" lines, and prints the
# total as the last line. Exits non-zero if anything failed or crashed, or if
# fewer C test binaries ran than there are tests/test_*.c.
# LILM_TEST_SKIP_PY=1 runs the C tests alone (the sanitizer build does this).
set -u
build=${1:-build}
cd "$(dirname "$0")/.."
export LILM_SHARED=${LILM_SHARED:-$(cd .. && pwd)/shared}
export LILM_BIN=${LILM_BIN:-$PWD/$build/lilm}
passed=0; failed=0
count() { # $1 = log file, $2 = exit status, $3 = name
    local line p f
    line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n1)
    if [ -z "$line" ]; then
        echo "FAIL $3: crashed or printed no summary (exit $2)"; failed=$((failed + 1)); return
    fi
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $3: exit status $2"; fi
    passed=$((passed + p)); failed=$((failed + f))
}
log=$(mktemp)
ran=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    "$t" >"$log" 2>&1; rc=$?
    cat "$log"; count "$log" $rc "$(basename "$t")"
    ran=$((ran + 1))
done
# every tests/test_*.c must have run: a missing binary (a failed or skipped build) is a failure
want=$(ls tests/test_*.c 2>/dev/null | wc -l)
if [ "$ran" -lt "$want" ]; then
    echo "FAIL tests/run.sh: $ran of $want C test binaries in $build/tests ran (build them first: make)"
    failed=$((failed + want - ran))
fi
if [ "${LILM_TEST_SKIP_PY:-0}" != 1 ]; then
    for t in tests/py/test_*.py; do
        [ -f "$t" ] || continue
        PYTHONPATH=tests/py python3 "$t" >"$log" 2>&1; rc=$?
        cat "$log"; count "$log" $rc "$(basename "$t")"
    done
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
