"""test_report_cli.py: lilm runs / leaderboard / report through the CLI.

Writes synthetic run dirs in the documented format (docs/run-dir.md), imports
them with `lilm runs import`, and checks what a person would see: the runs
list, the leaderboard (rank order, --sort in both directions, --dataset), the
report files, and the messages for bad input (a malformed run dir, a run dir
without run.json, a corrupt runs.db, a locked runs.db).

make_runs() is also used by test_report_browser.py (import this module; its
cases only run when it is the main program).
"""
import json
import math
import os
import random
import sqlite3
import subprocess
import tempfile
import time

import harness

# Register the cases only when run as a test, not when imported for make_runs().
case = harness.case if __name__ == "__main__" else (lambda fn: fn)

# The reference's leaderboard plus a vocabulary sweep, a running and a failed
# run. (name, model label, model type, dataset, params, bpb, vocab, status)
SYNTHETIC = [
    ("compiled-babylm", "Compiled baseline", "baseline", "datasets/babylm", 11_000_000, 1.31, 12000, "done"),
    ("latent-babylm", "Latent attention", "latent", "datasets/babylm", 10_600_000, 1.32, 12000, "done"),
    ("baseline-babylm", "Baseline transformer", "baseline", "datasets/babylm", 11_000_000, 1.33, 12000, "done"),
    ("baseline-simplestories", "Baseline transformer", "baseline", "datasets/simplestories", 7_300_000, 0.57, 8000, "done"),
    ("vocab-1k", "Vocab sweep", "baseline", "datasets/babylm", 9_800_000, 1.58, 1000, "done"),
    ("vocab-4k", "Vocab sweep", "baseline", "datasets/babylm", 10_200_000, 1.49, 4000, "done"),
    ("vocab-8k", "Vocab sweep", "baseline", "datasets/babylm", 10_600_000, 1.47, 8000, "done"),
    ("vocab-16k", "Vocab sweep", "baseline", "datasets/babylm", 11_500_000, 1.52, 16000, "done"),
    ("baseline-babylm-now", "Baseline transformer", "baseline", "datasets/babylm", 11_000_000, None, 12000, "running"),
    ("crashed", "Latent attention", "latent", "datasets/babylm", 10_600_000, None, 12000, "failed"),
]

PROMPTS = ["the dog ", "a spaceship landed in the forest ", "once upon a time "]


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_run(root, name, model, mtype, dataset, params, bpb, vocab, status, index, steps=240):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(index)
    final = 2.2 + 0.1 * index
    val_end = final + 0.08 + 6.0 * math.exp(-6)           # the last validation loss of the curve below
    val_loss = val_end if bpb else None
    bytes_per_token = val_end / (math.log(2) * (bpb or 1.4))   # so that the curve ends at the run's BPB
    run = {
        "name": name, "status": status, "model": model, "model_type": mtype,
        "started_at": "2026-11-%02dT%02d:00:00Z" % (10 + index, index),
        "finished_at": None if status == "running" else "2026-11-%02dT%02d:30:00Z" % (10 + index, index),
        "device": "cuda:0 (NVIDIA H100)" if index % 2 else "cpu (2 cores)",
        "params": params, "dataset": dataset, "tokenizer": "unigram_%dK" % (vocab // 1000),
        "tokenizer_sha256": "0" * 64, "git_commit": "abc1234", "lilm_version": "0.1.0",
        "steps": steps, "tokens": steps * 64 * 512, "val_loss": val_loss, "val_bpb": bpb,
        "budget_minutes": 30, "elapsed_s": 1800.0 if status != "running" else 600.0,
    }
    write(os.path.join(d, "run.json"), json.dumps(run, indent=2))
    write(os.path.join(d, "config.yaml"),
          "model:\n  vocab_size: %d\n  d_model: 192\n  n_layers: %d\n  n_heads: 6\n"
          "train:\n  lr: 6e-3\n  batch_size: 64\nbudget:\n  minutes: 30\n" % (vocab, 16 + index % 5))
    lines = []
    for s in range(1, steps + 1):
        loss = final + 6.0 * math.exp(-s / (steps / 6)) + rng.gauss(0, 0.04)
        lr = 6e-3 * (0.5 - 0.5 * math.cos(math.pi * min(1, s / (steps * 0.1)))) if s < steps * 0.1 else \
            6e-3 * (0.5 + 0.5 * math.cos(math.pi * (s - steps * 0.1) / (steps * 0.9)))
        lines.append(json.dumps({"kind": "train", "step": s, "tokens": s * 32768, "lr": lr, "loss": loss,
                                 "grad_norm": 0.5 + rng.random() * 0.2, "tokens_per_s": 180000 + rng.gauss(0, 4000),
                                 "elapsed_s": s * 7.5}))
        if s % 40 == 0:
            vl = final + 0.08 + 6.0 * math.exp(-s / (steps / 6))
            lines.append(json.dumps({"kind": "val", "step": s, "tokens": s * 32768, "val_loss": vl,
                                     "val_bpb": vl / (math.log(2) * bytes_per_token), "elapsed_s": s * 7.5}))
    if status == "done":   # the final evaluation over the whole validation set
        lines.append(json.dumps({"kind": "val", "step": steps, "tokens": steps * 32768, "val_loss": val_loss,
                                 "val_bpb": bpb, "val_full": True, "elapsed_s": steps * 7.5 + 20}))
    write(os.path.join(d, "metrics.jsonl"), "\n".join(lines) + "\n")
    if status == "done" and index < 4:   # the main runs went through autosize
        tpp = lambda L: 16000 / L ** 2 * (1 + 0.3 * index)
        write(os.path.join(d, "autosize_depth.jsonl"), "".join(
            json.dumps({"layers": L, "params": L * 500000, "step_s": 0.1 * L, "tokens_in_budget": tpp(L) * L * 500000,
                        "tokens_per_param": tpp(L), "ok": tpp(L) >= 70}) + "\n"
            for L in (4, 8, 16, 12, 14)))
    if status == "done" and index < 4:
        write(os.path.join(d, "autosize_lr.jsonl"), "".join(
            json.dumps({"lr": lr, "val_loss": 3.0 + 0.3 * (math.log10(lr) - math.log10(6e-3)) ** 2 + 0.01 * index,
                        "steps": 60}) + "\n"
            for lr in (1.45e-3, 3.0e-3, 6.6e-3, 1.45e-2, 3e-2)))
    if status == "done":
        write(os.path.join(d, "samples.txt"), "".join(
            "### %s\n%sran to the <park> & found a \"ball\".\n" % (p, p) for p in PROMPTS))
        write(os.path.join(d, "eval.json"), json.dumps(
            {"loss": val_loss, "bpb": bpb, "perplexity": math.exp(val_loss), "tokens": 1234567, "bytes": 4815162}))
    return d


def make_runs(root):
    """Writes every SYNTHETIC run dir under root; returns their paths."""
    return [make_run(root, *spec, index=i) for i, spec in enumerate(SYNTHETIC)]


def make_bad_run(root):
    """A run dir with problems that must not stop its import: a field of the
    wrong type, malformed metrics lines, invalid UTF-8 in samples, broken YAML."""
    d = make_run(root, "messy", "Messy model", "baseline", "datasets/tinystories", 1_500_000, 0.95, 4000, "done", index=3)
    run = json.load(open(os.path.join(d, "run.json")))
    run["steps"] = "many"
    write(os.path.join(d, "run.json"), json.dumps(run))
    with open(os.path.join(d, "metrics.jsonl"), "a") as f:
        f.write("{not json\n[1,2]\n{\"kind\": \"train\", \"step\": 999, \"loss\": 9.5,\n")
    with open(os.path.join(d, "samples.txt"), "ab") as f:
        f.write(b"### broken\n\xff\xfe bytes\n")
    write(os.path.join(d, "config.yaml"), "model: [unclosed\n")
    return d


def lilm(*args, env=None, check=True):
    p = subprocess.run([harness.lilm_bin(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("lilm %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def imported_db(tmp, extra=()):
    runs = os.path.join(tmp, "runs")
    dirs = make_runs(runs) + [f(runs) for f in extra]
    db = os.path.join(runs, "runs.db")
    lilm("runs", "import", *dirs, "--db", db)
    return db, dirs


def leaderboard_models(out):
    lines = out.strip().splitlines()
    assert set(lines[1]) == {"-"}, out
    hdr = lines[0]
    start = hdr.index("model")
    end = hdr.index("BabyLM params") if "BabyLM params" in hdr else len(hdr)
    return [ln[start:end].strip() for ln in lines[2:]]


@case
def import_list_show():
    with tempfile.TemporaryDirectory() as tmp:
        db, dirs = imported_db(tmp)
        out = lilm("runs", "list", "--db", db).stdout
        for spec in SYNTHETIC:
            assert spec[0] in out, (spec[0], out)
        show = lilm("runs", "show", "baseline-babylm", "--db", db).stdout
        assert "Baseline transformer" in show and "1.3300" in show and "12000" in show, show
        assert "240 train, 6 validation, 1 full validation" in show, show
        # the env var picks the db too
        env = dict(os.environ, LILM_RUNS_DB=db)
        assert "latent-babylm" in lilm("runs", env=env).stdout
        # re-import is an update, not a duplicate
        lilm("runs", "import", dirs[0], "--db", db)
        n = sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0]
        assert n == len(SYNTHETIC), n
        # status and delete
        lilm("runs", "status", "crashed", "killed", "--db", db)
        assert "killed" in lilm("runs", "show", "crashed", "--db", db).stdout
        lilm("runs", "delete", "crashed", "--db", db)
        p = lilm("runs", "show", "crashed", "--db", db, check=False)
        assert p.returncode == 2 and "no run named 'crashed'" in p.stderr, p.stderr
        n = sqlite3.connect(db).execute("select count(*) from metrics m left join runs r on m.run_id = r.id"
                                        " where r.id is null").fetchone()[0]
        assert n == 0, "orphan metric rows after delete"


@case
def leaderboard_terminal():
    with tempfile.TemporaryDirectory() as tmp:
        db, _ = imported_db(tmp)
        out = lilm("leaderboard", "--db", db).stdout
        print(out)
        lines = out.splitlines()
        assert lines[0].split() == ["rank", "model", "BabyLM", "params", "BabyLM", "BPB", "SimpleStories", "params",
                                    "SimpleStories", "BPB"], lines[0]
        models = leaderboard_models(out)
        assert models[:3] == ["Compiled baseline", "Latent attention", "Baseline transformer"], models
        assert models[3] == "Vocab sweep", models   # its best run: 1.47
        assert "0.570" in lines[4] and "7.3M" in lines[4] and "11.0M" in lines[4], lines[4]
        # columns line up: every row as long as the header
        assert len({len(ln) for ln in lines}) == 1, lines
        # sort by SimpleStories BPB: n/a last in both directions
        for rev in ([], ["--reverse"]):
            m = leaderboard_models(lilm("leaderboard", "--db", db, "--sort", "simplestories-bpb", *rev).stdout)
            assert m[0] == "Baseline transformer", m
        m = leaderboard_models(lilm("leaderboard", "--db", db, "--sort", "BabyLM BPB", "--reverse").stdout)
        assert m == ["Vocab sweep", "Baseline transformer", "Latent attention", "Compiled baseline"], m
        m = leaderboard_models(lilm("leaderboard", "--db", db, "--sort", "model").stdout)
        assert m == sorted(m), m
        m = leaderboard_models(lilm("leaderboard", "--db", db, "--sort", "params").stdout)
        assert m[0] == "Vocab sweep" or m[0] == "Latent attention", m
        one = lilm("leaderboard", "--db", db, "--dataset", "simplestories").stdout
        assert "BabyLM" not in one and "Baseline transformer" in one, one
        bad = lilm("leaderboard", "--db", db, "--sort", "nonsense", check=False)
        assert bad.returncode == 2 and "unknown leaderboard column" in bad.stderr and "HINT" in bad.stderr, bad.stderr
        bad = lilm("leaderboard", "--db", db, "--dataset", "wikipedia", check=False)
        assert bad.returncode == 2 and "no finished run on dataset" in bad.stderr, bad.stderr


@case
def report_files():
    with tempfile.TemporaryDirectory() as tmp:
        db, _ = imported_db(tmp)
        out = os.path.join(tmp, "site")
        p = lilm("report", "-o", out, "--db", db)
        assert "10 runs" in p.stdout, p.stdout
        index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
        assert index.count("<svg") >= 3, "expected lr, depth and vocab sweep plots"
        assert 'id="plot-vocab"' in index and 'id="leaderboard"' in index
        for tag in ("http://", "https://"):   # nothing fetched at view time (the SVG namespace aside)
            assert index.replace('xmlns="http://www.w3.org/2000/svg"', "").count(tag) == 0, tag
        page = open(os.path.join(out, "runs", "baseline-babylm.html"), encoding="utf-8").read()
        assert 'id="plot-loss"' in page and "validation loss" in page and "tokens per second" in page
        assert "&lt;park&gt; &amp; found a &quot;ball&quot;" in page, "samples must be HTML-escaped"
        assert "vocab_size: 12000" in page
        # no temp files left behind
        left = [f for r, _, fs in os.walk(out) for f in fs if ".tmp." in f]
        assert not left, left
        # a deleted run's page goes away with it
        lilm("runs", "delete", "vocab-1k", "--db", db)
        lilm("report", "-o", out, "--db", db)
        assert not os.path.exists(os.path.join(out, "runs", "vocab-1k.html"))
        assert os.path.exists(os.path.join(out, "runs", "vocab-4k.html"))


@case
def report_sync_live_run():
    with tempfile.TemporaryDirectory() as tmp:
        db, dirs = imported_db(tmp)
        live = [d for d in dirs if d.endswith("baseline-babylm-now")][0]
        with open(os.path.join(live, "metrics.jsonl"), "a") as f:
            f.write(json.dumps({"kind": "train", "step": 777, "loss": 2.0}) + "\n")
        out = os.path.join(tmp, "site")
        lilm("report", "-o", out, "--db", db)
        assert "240 train" in lilm("runs", "show", "baseline-babylm-now", "--db", db).stdout
        lilm("report", "-o", out, "--db", db, "--sync")
        assert "241 train" in lilm("runs", "show", "baseline-babylm-now", "--db", db).stdout
        # a run dir that vanished keeps its stored row
        import shutil
        shutil.rmtree(dirs[0])
        lilm("report", "-o", out, "--db", db, "--sync")
        assert "compiled-babylm" in lilm("runs", "list", "--db", db).stdout


@case
def bad_run_dirs():
    with tempfile.TemporaryDirectory() as tmp:
        runs = os.path.join(tmp, "runs")
        good = make_run(runs, "good", "Good", "baseline", "datasets/babylm", 1000, 1.5, 4000, "done", index=0)
        messy = make_bad_run(runs)
        empty = os.path.join(runs, "empty")
        os.makedirs(empty)
        broken = os.path.join(runs, "broken")
        os.makedirs(broken)
        write(os.path.join(broken, "run.json"), '{"name": "broken", "status": "done",\n "params": 12,,}\n')
        db = os.path.join(runs, "runs.db")
        p = lilm("runs", "import", good, messy, empty, broken, "--db", db, check=False)
        print(p.stdout, p.stderr)
        assert p.returncode == 2, p.returncode
        assert "2 of 4 run dirs imported" in p.stdout, p.stdout
        assert "has no run.json" in p.stderr and "HINT" in p.stderr, p.stderr
        assert "run.json:2:" in p.stderr, "a malformed run.json names its line"
        assert "metrics.jsonl:" in p.stderr and "line skipped" in p.stderr, p.stderr
        assert "\"steps\" should be an integer" in p.stderr, p.stderr
        assert "config.yaml:" in p.stderr and "invalid UTF-8" in p.stderr, p.stderr
        out = os.path.join(tmp, "site")
        r = lilm("report", "-o", out, "--db", db)
        assert "run messy: has warnings" in r.stderr, r.stderr
        page = open(os.path.join(out, "runs", "messy.html"), encoding="utf-8").read()
        assert "Problems found reading the run dir" in page and "line skipped" in page
        assert 'id="plot-loss"' in page, "the good metric lines still make a curve"
        assert "\ufffd" in page
        assert os.path.exists(os.path.join(out, "runs", "good.html"))


@case
def missing_db():
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "nowhere", "runs.db")
        for cmd in (["runs", "list"], ["leaderboard"], ["report", "-o", os.path.join(tmp, "site")]):
            p = lilm(*cmd, "--db", db, check=False)
            assert p.returncode == 2 and "no runs database at" in p.stderr and "HINT" in p.stderr, (cmd, p.stderr)
        assert not os.path.exists(os.path.dirname(db)), "readers must not create the db"
        d = make_run(os.path.join(tmp, "runs"), "one", "M", "baseline", "babylm", 10, 1.0, 1000, "done", index=0)
        lilm("runs", "import", d, "--db", db)   # import creates it
        assert "one" in lilm("runs", "list", "--db", db).stdout


@case
def corrupt_db():
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "runs.db")
        with open(db, "wb") as f:
            f.write(b"this is not a database, just some bytes" * 100)
        for cmd in (["runs", "list"], ["leaderboard"], ["report", "-o", os.path.join(tmp, "site")]):
            p = lilm(*cmd, "--db", db, check=False)
            assert p.returncode == 2, (cmd, p.returncode, p.stderr)
            assert "is not a SQLite database or is corrupt" in p.stderr and "HINT" in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(tmp, "site", "index.html"))


@case
def locked_db():
    with tempfile.TemporaryDirectory() as tmp:
        db, dirs = imported_db(tmp)
        # another process holds the write lock: readers (report, leaderboard) still work in WAL mode
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        t0 = time.time()
        lilm("leaderboard", "--db", db)
        lilm("report", "-o", os.path.join(tmp, "site"), "--db", db)
        assert time.time() - t0 < 10, "readers must not wait for a writer"
        holder.execute("ROLLBACK")
        # an exclusive lock (locking_mode=EXCLUSIVE) blocks everyone: a clear message after the timeout
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE runs SET device = device")
        holder.execute("COMMIT")   # the exclusive lock stays until the connection closes
        env = dict(os.environ, LILM_RUNS_BUSY_MS="300")
        p = lilm("runs", "list", "--db", db, env=env, check=False)
        holder.close()
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert "is locked by another process" in p.stderr and "HINT" in p.stderr, p.stderr


if __name__ == "__main__":
    harness.run()
