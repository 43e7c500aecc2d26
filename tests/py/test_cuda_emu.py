"""test_cuda_emu.py: the CUDA kernels on the CPU emulator, in `make test`.

Runs tests/cuda/emu/run_emu.sh, which builds the real kernels of src/cuda/
with the pthread emulator of tests/cuda/emu/emu.h and compares them with the
CPU backend (no GPU or nvcc needed; gcc and build/liblilm.a are). One case:
the script must exit 0 and report 0 failures.
"""
import os
import subprocess

from harness import case, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


@case
def cuda_kernels_on_the_emulator():
    r = subprocess.run(["bash", os.path.join(ROOT, "tests", "cuda", "emu", "run_emu.sh")],
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    bad = [line for line in out.splitlines() if "FAIL" in line]
    assert r.returncode == 0 and "emu_kernels: 0 failure(s)" in out, \
        "exit %d; %s" % (r.returncode, "\n".join(bad[:10]) or out[-2000:])


run()
