"""test_run_cli.py: `lilm run`, `lilm eval` and `lilm sample` end to end, as a user.

Every run here starts from an empty directory with no ../shared beside it,
LILM_SHARED unset and HOME / LILM_HOME in a temporary directory, so nothing
but lilm itself (and the local hub stand-in, hubstub.py) is there.
One small `lilm run tiny` (bytes model on the stories shipped inside lilm, a
few seconds of budget, one-step depth probes, two LR trials) is shared by
the cases:
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
Then the main job: `lilm run babylm` and `lilm run simplestories` fetch
Parquet files with the datasets' real schemas from the stand-in hub
(HF_ENDPOINT), train their tokenizers, prepare, autosize, train, evaluate,
sample and register in runs.db; a second run of each reuses every cached
step and sends no request to the hub. With no network and no --data, the
error names both ways out.
Runs with OMP_WAIT_POLICY=passive (see ENV).
"""
import atexit
import json
import math
import os
import shutil
import sqlite3
import subprocess
import tempfile

import hubstub
from harness import case, lilm_bin, run

TMP = tempfile.mkdtemp(prefix="lilm-run-")
atexit.register(shutil.rmtree, TMP, True)
RUN = os.path.join(TMP, "tiny")
WORK = os.path.join(TMP, "work")  # the user's empty directory: no ../shared
HOME = os.path.join(TMP, "home")
os.makedirs(WORK)
os.makedirs(HOME)
BUDGET_MIN = 0.2
_done = {}
HUB, ENDPOINT, SERVER = hubstub.start()
atexit.register(SERVER.shutdown)


# OpenMP threads that spin while waiting are starved on a shared, oversubscribed
# 2-core machine (10x slower small ops); passive waiting keeps timings sane.
ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"), HOME=HOME,
           LILM_HOME=os.path.join(HOME, "lilm-cache"), HF_ENDPOINT=ENDPOINT, LILM_PROGRESS="0")
for k in ("LILM_SHARED", "LILM_RUNS_DB", "HF_TOKEN", "XDG_CACHE_HOME"):
    ENV.pop(k, None)


def lilm(*args, timeout=300, env=None):
    return subprocess.run([os.path.abspath(lilm_bin()), *args], capture_output=True, text=True, timeout=timeout,
                          env=env or ENV, cwd=WORK)


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
    # validation ran after it, inside the run's elapsed time. run.json keeps the reserve as last
    # re-estimated, which on a loaded machine may exceed the one the stop was decided with by a
    # few tenths of a second: half the reserve is the margin (a validation outside the budget
    # trains up to the budget itself, past budget - reserve/2 + one step).
    train = [m["elapsed_s"] for m in jsonl("metrics.jsonl") if m.get("kind") == "train"]
    assert len(train) > 2, train
    step_s = max(b - a for a, b in zip(train, train[1:]))
    check_le = train[-1] <= budget - 0.5 * r["reserve_s"] + step_s + 1e-3
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
    p = lilm("--version")
    assert p.returncode == 0 and p.stdout.startswith("lilm ") and "commit" in p.stdout, p.stdout
    p = lilm("run", "--list")
    assert p.returncode == 0 and "simplestories" in p.stdout and "tiny" in p.stdout, p.stdout
    p = lilm("run", "parquet")
    assert p.returncode == 2 and "no recipe" in p.stderr, p.stderr
    p = lilm("run", "tinystories")
    assert p.returncode == 2 and "--data" in p.stderr, p.stderr


@case
def users_own_recipe_file():
    # a copy of a shipped recipe, changed, run by path
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "recipes", "tiny.yaml")
    text = open(src).read().replace("d_model: 64", "d_model: 32").replace("ffn_dim: 256", "ffn_dim: 64")
    assert "d_model: 32" in text
    with open(os.path.join(WORK, "my-tiny.yaml"), "w") as f:
        f.write(text)
    out = os.path.join(TMP, "mine")
    p = lilm("run", "./my-tiny.yaml", "--minutes", "0.05", "--no-autosize", "--out", out, "--db", "none", "-q",
             "--set", "train.threads=2")
    assert p.returncode == 0, p.stderr
    cfg = open(os.path.join(out, "config.yaml")).read()
    assert "d_model: 32" in cfg, cfg
    assert json.load(open(os.path.join(out, "run.json")))["status"] == "done"
    with open(os.path.join(WORK, "broken.yaml"), "w") as f:
        f.write("recipe:\n  sumary: x\n")
    p = lilm("run", "./broken.yaml")
    assert p.returncode == 2 and "broken.yaml:2: unknown key recipe.sumary" in p.stderr, p.stderr


@case
def total_minutes_fits_everything():
    out = os.path.join(TMP, "total")
    p = lilm("run", "tiny", "--total-minutes", "0.25", "--out", out, "--db", "none", "-q", "--probe-steps", "1",
             "--lrs", "2", "--lr-fraction", "0.1", "--max-layers", "2", "--set", "model.context=64",
             "--set", "train.batch_size=4", "--set", "train.accum_batch=8", "--set", "train.threads=2")
    assert p.returncode == 0, p.stderr
    # training gets what is left after the probes' 5% and two sweep trials of 10% of the training budget each
    want = 0.25 * 0.95 / (1 + 2 * 0.1)
    cfg = open(os.path.join(out, "config.yaml")).read()
    got = float(cfg.split("budget:", 1)[1].split("minutes:", 1)[1].split()[0])
    assert abs(got - want) < 1e-6, (got, want)
    assert "lilm run: plan: autosize: depth probes" in p.stderr and "LR sweep 2 x" in p.stderr, p.stderr
    assert "of --total-minutes 0.25" in p.stderr, p.stderr
    p = lilm("run", "tiny", "--total-minutes", "1", "--minutes", "1")
    assert p.returncode == 2 and "not both" in p.stderr, p.stderr


# ---- the main job against the hub stand-in ----

SMALL = ["--minutes", str(BUDGET_MIN), "-q", "--probe-steps", "1", "--lrs", "2", "--lr-fraction", "0.1",
         "--max-layers", "2", "--set", "model.context=64", "--set", "train.batch_size=4", "--set",
         "train.accum_batch=8", "--set", "train.threads=2", "--threads", "2"]


def serve_datasets():
    if "hub" in _done:
        return
    d = os.path.join(TMP, "src")
    os.makedirs(d, exist_ok=True)
    ss = {
        "data/train-00000-of-00002.parquet": hubstub.parquet_bytes(hubstub.simplestories_table(1500, 1),
                                                                   os.path.join(d, "ss0.parquet")),
        "data/train-00001-of-00002.parquet": hubstub.parquet_bytes(hubstub.simplestories_table(1500, 2),
                                                                   os.path.join(d, "ss1.parquet")),
        "data/test-00000-of-00001.parquet": hubstub.parquet_bytes(hubstub.simplestories_table(200, 3),
                                                                  os.path.join(d, "ss2.parquet")),
        "README.md": b"# SimpleStories\n",
    }
    baby = {"data/train-00000-of-00001.parquet": hubstub.parquet_bytes(hubstub.babylm_table(3000, 4),
                                                                       os.path.join(d, "baby.parquet"))}
    HUB.repos["SimpleStories/SimpleStories"] = ss
    HUB.repos["BabyLM-community/BabyLM-2026-Strict"] = baby
    _done["hub"] = True


def runs_rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT name, val_bpb FROM runs").fetchall()
    finally:
        con.close()


def main_job(recipe, repo):
    serve_datasets()
    before = len(HUB.requests(repo))
    out = os.path.join(WORK, "runs", recipe + "-1")
    p = lilm("run", recipe, "--out", out, *SMALL, timeout=900)
    assert p.returncode == 0, p.stderr
    assert len(HUB.requests(repo)) > before, "nothing was fetched"
    for stage in ("data: fetched", "tokenizer: trained", "prepare: prepared", "autosize: measured"):
        assert f"lilm run: {stage}" in p.stderr, (stage, p.stderr)
    assert "bits per byte" in p.stderr and "### " in p.stderr and "report: " in p.stderr, p.stderr
    r = json.load(open(os.path.join(out, "run.json")))
    assert r["status"] == "done" and r["val_bpb"] > 0, r
    assert open(os.path.join(out, "samples.txt")).read().count("### ") == 11
    db = os.path.join(WORK, "runs", "runs.db")
    assert any(name.endswith(recipe + "-1") and bpb for name, bpb in runs_rows(db)), runs_rows(db)
    assert os.path.exists(os.path.join(WORK, "runs", "report", "index.html"))
    # the run's page shows its samples (samples.txt is written after the run registers; run re-reads it)
    pages_dir = os.path.join(WORK, "runs", "report", "runs")
    pages = [f for f in os.listdir(pages_dir) if recipe + "-1" in f]
    assert len(pages) == 1, os.listdir(pages_dir)
    page = open(os.path.join(pages_dir, pages[0])).read()
    assert "No samples" not in page and "the dog" in page, page[:2000]
    cache = ENV["LILM_HOME"]
    tok = [f for f in os.listdir(os.path.join(cache, "tokenizers")) if f.startswith(recipe) and f.endswith(".model")]
    assert len(tok) == 1, tok
    # the tokenizer has the reference's ids and size
    t = lilm("tok", "info", "--model", os.path.join(cache, "tokenizers", tok[0]))
    assert t.returncode == 0, t.stderr
    # a second run reuses every cached step, and asks the hub nothing
    before = len(HUB.requests(repo))
    out2 = os.path.join(WORK, "runs", recipe + "-2")
    p = lilm("run", recipe, "--out", out2, *SMALL, timeout=900)
    assert p.returncode == 0, p.stderr
    for stage in ("data: cached", "tokenizer: cached", "prepare: cached", "autosize: cached"):
        assert f"lilm run: {stage}" in p.stderr, (stage, p.stderr)
    assert len(HUB.requests(repo)) == before
    assert json.load(open(os.path.join(out2, "autosize.json"))) == json.load(open(os.path.join(out, "autosize.json")))
    assert json.load(open(os.path.join(out2, "run.json")))["val_bpb"] > 0
    return p


@case
def babylm_from_the_hub():
    main_job("babylm", "BabyLM-community/BabyLM-2026-Strict")
    # the reference's split: rows with index % 10000 < 100 (3000 rows: the first 100)
    cache = ENV["LILM_HOME"]
    ds = [d for d in os.listdir(os.path.join(cache, "prepared")) if d.startswith("babylm-")]
    info = json.loads(lilm("data", "info", os.path.join(cache, "prepared", ds[0]), "--json").stdout)
    assert info["splits"]["val"]["docs"] == 100 and info["splits"]["train"]["docs"] == 2900, info
    assert info["vocab_size"] == 12000, info


@case
def simplestories_from_the_hub():
    main_job("simplestories", "SimpleStories/SimpleStories")
    # the reference's split: the test split validates
    cache = ENV["LILM_HOME"]
    ds = [d for d in os.listdir(os.path.join(cache, "prepared")) if d.startswith("simplestories-")]
    info = json.loads(lilm("data", "info", os.path.join(cache, "prepared", ds[0]), "--json").stdout)
    assert info["splits"]["val"]["docs"] == 200 and info["splits"]["train"]["docs"] == 3000, info
    assert info["vocab_size"] == 8000, info


@case
def no_network_names_both_ways_out():
    for endpoint in ("http://no-such-host.invalid", f"http://127.0.0.1:{hubstub.free_port()}"):
        env = dict(ENV, HF_ENDPOINT=endpoint, LILM_HOME=os.path.join(TMP, "empty-cache"))
        p = lilm("run", "babylm", "--minutes", "0.1", env=env)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "--data" in p.stderr and "HF_ENDPOINT" in p.stderr, p.stderr
        assert p.stderr.count("HINT") == 1, p.stderr  # one hint, not fetch's and the run's


run()
