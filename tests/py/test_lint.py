"""test_lint.py: scripts/lint.sh enforces the layer order of includes.

Each case copies the tree's scripts/lint.sh (and its allowlist) into a small
temporary git tree with a few well-formed sources, adds one include, and runs
it there: a lower layer including a higher one fails with a message naming the
file and the header; a downward include, or a violation the allowlist names,
passes; a tokenizer-internal or *_impl.h header included from another
directory fails.
"""
import os
import shutil
import subprocess
import tempfile

from harness import case, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HEADER = "/*\n * {name}: a file of the lint test tree.\n * It only has to look like a lilm source.\n */\n"


def make_tree(files, allow=None):
    """files: {path: extra text}; returns the tree's directory."""
    d = tempfile.mkdtemp(prefix="lilm-lint-")
    os.makedirs(os.path.join(d, "scripts"))
    shutil.copy(os.path.join(ROOT, "scripts", "lint.sh"), os.path.join(d, "scripts", "lint.sh"))
    if allow is not None:
        with open(os.path.join(d, "scripts", "lint_layers.allow"), "w") as f:
            f.write("# test allowlist\n" + allow)
    for path, body in files.items():
        full = os.path.join(d, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(HEADER.format(name=os.path.basename(path)) + body)
    subprocess.run(["git", "init", "-q", d], check=True)
    subprocess.run(["git", "-C", d, "add", "-A"], check=True)
    return d


def lint(d):
    r = subprocess.run(["bash", os.path.join(d, "scripts", "lint.sh")],
                       capture_output=True, text=True)
    shutil.rmtree(d)
    return r.returncode, r.stdout + r.stderr


BASE = {
    "src/core/status.h": "int lilm_x(void);\n",
    "src/tok/tokenizer.h": '#include "core/status.h"\n',
    "src/train/trainer.h": '#include "model/model.h"\n#include "eval/evaluate.h"\n',
    "tests/test_x.c": '#include "cli/opts.h"\n#include "track/runs.h"\n',
}


@case
def downward_includes_pass():
    code, out = lint(make_tree(BASE))
    assert code == 0, out
    assert "lint: ok" in out, out


def fails_with(extra, *needles, allow=None):
    """BASE plus `extra` files must fail lint, naming each of `needles`."""
    files = dict(BASE)
    files.update(extra)
    code, out = lint(make_tree(files, allow))
    assert code != 0, out
    for n in needles:
        assert n in out, (n, out)


@case
def core_including_cli_fails():
    fails_with({"src/core/rng.c": '#include "core/rng.h"\n#include "cli/opts.h"\n'},
               'src/core/rng.c includes "cli/opts.h"')


@case
def eval_including_train_fails():
    # peers are ordered too: train may call eval, eval may not include train
    fails_with({"src/eval/evaluate.c": '#include "train/checkpoint.h"\n'},
               'src/eval/evaluate.c includes "train/checkpoint.h"')


@case
def allowlisted_violation_passes_and_others_fail():
    allow = "src/eval/evaluate.c train/checkpoint.h\n"
    files = dict(BASE)
    files["src/eval/evaluate.c"] = '#include "train/checkpoint.h"\n'
    code, out = lint(make_tree(files, allow=allow))
    assert code == 0, out
    files["src/train/trainer.c"] = '#include "track/runs.h"\n'
    code, out = lint(make_tree(files, allow=allow))
    assert code != 0, out
    assert 'src/train/trainer.c includes "track/runs.h"' in out, out
    assert "evaluate.c" not in out.replace("lint: ok", ""), out


@case
def internal_headers_stay_in_their_directory():
    files = dict(BASE)
    files["src/data/prepare.c"] = '#include "tok/tokenizer.h"\n#include "tok/sp_model.h"\n'
    code, out = lint(make_tree(files))
    assert code == 0, out
    fails_with({"src/data/prepare.c": '#include "tok/normalizer.h"\n',
                "src/train/step.c": '#include "model/model_impl.h"\n'},
               'src/data/prepare.c includes "tok/normalizer.h": internal to src/tok/',
               'src/train/step.c includes "model/model_impl.h": an internal header')


@case
def unknown_directory_fails():
    fails_with({"src/newlayer/x.c": '#include "core/status.h"\n'}, "src/newlayer/x.c", "layer table")


run()
