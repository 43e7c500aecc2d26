"""test_run_cli.py: `lilm run`, `lilm eval` and `lilm sample` end to end.

One small `lilm run tiny` (bytes model on the TinyStories sample, a few
seconds of budget, one-step depth probes, two LR trials) is shared by the
cases:
- the run dir has everything docs/run-dir.md lists for a run with autosize:
  tables with one line per probe / rate, autosize.json naming the chosen
  depth, batch and a learning rate from the sweep's grid; run.json "done"
  with the reference's probe estimate; eval.json; samples.txt with the
  reference's 11 prompts;
- the training time lands within the budget (validation included), with
  slack for a loaded machine;
- `lilm eval RUN --json` reproduces eval.json exactly (same checkpoint, same
  data, every token once) and BPB = loss x tokens / (ln 2 x bytes);
- `lilm sample` is deterministic: greedy twice gives the same text, which is
  what samples.txt holds for that prompt; sampling with the same seed repeats,
  and it reports tokens/s;
- usage errors exit 2 with a hint: unknown recipe, missing run, no prompt.
Runs with OMP_WAIT_POLICY=passive (see ENV).
"""
import json
import math
import os
import subprocess
import tempfile

from harness import case, lilm_bin, run

TMP = tempfile.mkdtemp(prefix="lilm-run-")
RUN = os.path.join(TMP, "tiny")
BUDGET_MIN = 0.2
_done = {}


# OpenMP threads that spin while waiting are starved on a shared, oversubscribed
# 2-core machine (10x slower small ops); passive waiting keeps timings sane.
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))


def lilm(*args, timeout=300):
    return subprocess.run([lilm_bin(), *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def tiny_run():
    if "p" not in _done:
        p = lilm("run", "tiny", "--minutes", str(BUDGET_MIN), "--out", RUN, "--db", "none", "-q",
                 "--probe-steps", "1", "--lrs", "2", "--lr-fraction", "0.1", "--max-layers", "4",
                 "--set", "model.context=64", "--set", "train.batch_size=4", "--set", "train.accum_batch=8",
                 "--set", "train.threads=2")
        _done["p"] = p
        assert p.returncode == 0, p.stderr
    return _done["p"]


def load(name):
    with open(os.path.join(RUN, name)) as f:
        return json.load(f)


def jsonl(name):
    with open(os.path.join(RUN, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


@case
def run_dir_is_complete():
    p = tiny_run()
    for name in ("config.yaml", "run.json", "metrics.jsonl", "eval.json", "samples.txt", "autosize.json",
                 "autosize_depth.jsonl", "autosize_lr.jsonl", "checkpoints/final.safetensors",
                 "checkpoints/last.safetensors"):
        assert os.path.exists(os.path.join(RUN, name)), name
    depth = jsonl("autosize_depth.jsonl")
    assert depth and all({"layers", "params", "step_s", "tokens_in_budget", "tokens_per_param", "ok"} <= set(d)
                         for d in depth)
    assert len({d["layers"] for d in depth}) == len(depth), "a depth was probed twice"
    lrs = jsonl("autosize_lr.jsonl")
    assert len(lrs) == 2 and abs(lrs[0]["lr"] - 1.45e-3) < 1e-9 and abs(lrs[1]["lr"] - 3e-2) < 1e-9
    chosen = load("autosize.json")
    assert chosen["lr"] in [x["lr"] for x in lrs]
    assert chosen["layers"] in [d["layers"] for d in depth]
    r = load("run.json")
    assert r["status"] == "done" and r["layers"] == chosen["layers"]
    assert r["val_bpb"] is not None and r["val_bpb"] > 0
    for k in ("probe_step_s", "probe_estimated_steps", "probe_estimated_wall_s", "probe_miss_s"):
        assert k in r, k
    assert "reference's timing probe" in p.stderr, p.stderr
    with open(os.path.join(RUN, "samples.txt")) as f:
        text = f.read()
    assert text.count("### ") == 11 and "### the dog \n" in text and "### a spaceship landed in the forest \n" in text


@case
def budget_includes_validation():
    tiny_run()
    r = load("run.json")
    budget = BUDGET_MIN * 60
    # the final validation runs inside the budget; allow 25% for a loaded 2-core machine
    assert r["elapsed_s"] <= budget * 1.25, (r["elapsed_s"], budget)
    assert r["elapsed_s"] >= budget * 0.75, (r["elapsed_s"], budget)
    assert r["reserve_s"] > 0
    # Proof from the recorded times rather than wall-clock slack: training stopped when the
    # budget less the reserve for the final validation was used up (within one step), and the
    # validation ran after it, inside the run's elapsed time.
    train = [m["elapsed_s"] for m in jsonl("metrics.jsonl") if m.get("kind") == "train"]
    assert len(train) > 2, train
    step_s = max(b - a for a, b in zip(train, train[1:]))
    check_le = train[-1] <= budget - r["reserve_s"] + step_s + 1e-3
    assert check_le, ("training ran into the validation's reserve", train[-1], budget, r["reserve_s"], step_s)
    assert r["elapsed_s"] + 1e-3 >= train[-1] + r["final_val_s"], (r["elapsed_s"], train[-1], r["final_val_s"])


@case
def eval_matches_the_run():
    tiny_run()
    e = load("eval.json")
    p = lilm("eval", RUN, "--json", "--out", os.path.join(TMP, "e2.json"))
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["tokens"] == e["tokens"] and j["bytes"] == e["bytes"]
    assert abs(j["loss"] - e["loss"]) < 1e-9 and abs(j["bpb"] - e["bpb"]) < 1e-9
    assert abs(j["bpb"] - j["loss"] * j["tokens"] / (math.log(2) * j["bytes"])) < 1e-9
    assert abs(j["perplexity"] - math.exp(j["loss"])) < 1e-6 * j["perplexity"]
    assert e["bytes"] > 0 and e["tokens"] > 0
    p = lilm("eval", RUN, "--checkpoint", "best")
    if os.path.exists(os.path.join(RUN, "checkpoints", "best.safetensors")):  # only after a periodic validation
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode == 2 and "no best checkpoint" in p.stderr, (p.returncode, p.stderr)
    assert os.path.exists(os.path.join(RUN, "eval.json"))


@case
def sample_is_deterministic():
    tiny_run()
    a = lilm("sample", RUN, "--prompt", "the dog ", "--max-tokens", "100")
    b = lilm("sample", RUN, "--prompt", "the dog ", "--max-tokens", "100")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("the dog")
    assert "tokens/s" in a.stderr and "KV cache" in a.stderr
    with open(os.path.join(RUN, "samples.txt")) as f:
        text = f.read()
    first = text.split("### the dog \n", 1)[1].split("\n\n", 1)[0]
    assert a.stdout.rstrip("\n") == first, (a.stdout, first)
    s1 = lilm("sample", RUN, "--prompt", "Once", "-T", "1.0", "--top-k", "20", "--top-p", "0.9", "--seed", "7", "-n", "30")
    s2 = lilm("sample", RUN, "--prompt", "Once", "-T", "1.0", "--top-k", "20", "--top-p", "0.9", "--seed", "7", "-n", "30")
    assert s1.returncode == 0 and s1.stdout == s2.stdout, (s1.stderr, s1.stdout, s2.stdout)


@case
def usage_errors():
    p = lilm("run", "nosuchrecipe")
    assert p.returncode == 2 and "babylm" in p.stderr, p.stderr
    p = lilm("eval", os.path.join(TMP, "missing"))
    assert p.returncode == 2 and "HINT" in p.stderr, p.stderr
    p = lilm("sample", TMP)
    assert p.returncode == 2 and "--prompt" in p.stderr, p.stderr
    p = lilm("autosize", "-c", "/nonexistent.yaml")
    assert p.returncode == 2, p.stderr


run()
