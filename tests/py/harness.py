"""harness.py: the Python side of lilm's test harness.

Python tests (parity with PyTorch, sentencepiece and safetensors; the browser
test of the report) register cases with @case and call run() at the end; the
output matches the C harness: one ok/FAIL line per case and a closing
"suite: N passed, N failed" line that tests/run.sh adds up.
"""
import os
import sys
import traceback

_cases = []


def case(fn):
    _cases.append(fn)
    return fn


def shared(rel):
    root = os.environ.get("LILM_SHARED") or os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "shared")
    return os.path.join(root, rel)


def lilm_bin():
    return os.environ.get("LILM_BIN") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build", "lilm")


def run():
    suite = os.path.basename(sys.argv[0])
    if not __debug__:
        # python -O / PYTHONOPTIMIZE strips every assert: the cases would pass without checking anything
        print(f"FAIL {suite}: asserts are disabled (python -O or PYTHONOPTIMIZE); run without them", flush=True)
        print(f"{suite}: 0 passed, 1 failed", flush=True)
        sys.exit(1)
    want = set(sys.argv[1:])
    passed = failed = 0
    for fn in _cases:
        if want and fn.__name__ not in want:
            continue
        try:
            fn()
            passed += 1
            print(f"ok   {suite}/{fn.__name__}", flush=True)
        except Exception:
            failed += 1
            traceback.print_exc()
            print(f"FAIL {suite}/{fn.__name__}", flush=True)
    print(f"{suite}: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)
