"""test_search_cli.py: `lilm search` end to end, with tiny trainings.

- a search killed with SIGKILL in the middle of a trial leaves no training
  behind, and resumed, reruns only the interrupted trial: every finished
  trial keeps its run dir and result, and the study ends complete;
- trials that fail (here: a config lilm train refuses) are recorded as
  failed with the reason, and the search goes on to the end;
- resuming a study with a changed space is refused;
- with the successive-halving pruner, trials that lose at a rung are stopped
  early and recorded as pruned;
- --status prints the trial table; the built-in babylm space is
  configs/search/babylm.yaml; `lilm report` writes a search page.
"""
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time

from harness import case, lilm_bin, run, shared

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TEXT = shared("data/tinystories/train/tinystories_v1_train_head.txt")


def write_config(path):
    with open(path, "w") as f:
        f.write(f"""model: {{vocab_size: 260, d_model: 32, n_layers: 1, n_heads: 2, qk_dim: 16, v_dim: 16,
        ffn_dim: 64, context: 32}}
data: {{text: "{TEXT}", tokenizer: bytes, val_fraction: 0.02}}
train: {{batch_size: 4, accum_batch: 4, lr: 3e-3, steps: 30, val_every: 10, val_batches: 1,
        checkpoint_every_seconds: 0, threads: 1}}
budget: {{mode: steps}}
""")


def write_space(path, cfg, name, trials, steps, extra_params="", study_extra=""):
    with open(path, "w") as f:
        f.write(f"""study: {{name: {name}, trials: {trials}, seed: 5, n_startup_trials: 2{study_extra}}}
base:
  config: {cfg}
  set: {{train.steps: {steps}}}
params:
  train.lr: {{type: float, low: 1e-3, high: 1e-2, log: true}}
  model.n_heads: {{type: int, low: 1, high: 2}}
{extra_params}derived:
  model.d_model: "model.n_heads * 16"
""")


def lilm(*args, timeout=600):
    return subprocess.run([lilm_bin(), *args], capture_output=True, text=True, timeout=timeout)


def trials(db, study):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT t.number, t.state, t.value, t.run_dir, t.reason FROM search_trials t"
                       " JOIN search_studies s ON s.id = t.study_id WHERE s.name = ? ORDER BY number", (study,)).fetchall()
    con.close()
    return rows


def trainings_alive(marker):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if " train " in line and marker in line]


@case
def sigkill_mid_trial_then_resume_reruns_nothing_finished():
    d = tempfile.mkdtemp(prefix="lilm_search_kill_")
    cfg, space, db, sdir = (os.path.join(d, n) for n in ("c.yaml", "s.yaml", "runs.db", "study"))
    write_config(cfg)
    write_space(space, cfg, "kill", trials=4, steps=400)
    args = [lilm_bin(), "search", space, "--db", db, "--dir", sdir]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait until trial 0 is complete and trial 1 has started training
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(0.2)
        if p.poll() is not None:
            break
        try:
            rows = trials(db, "kill")
        except sqlite3.OperationalError:
            continue
        if len(rows) >= 2 and rows[0][1] == "complete" and rows[1][1] == "running" and rows[1][3] \
                and os.path.exists(os.path.join(rows[1][3], "metrics.jsonl")):
            break
    assert p.poll() is None, "the search ended before it could be killed (make its trials longer)"
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = trials(db, "kill")
    assert before[0][1] == "complete" and before[1][1] == "running", before
    for _ in range(50):   # the trial's trainer dies with the search (PR_SET_PDEATHSIG)
        if not trainings_alive(sdir):
            break
        time.sleep(0.1)
    assert not trainings_alive(sdir), trainings_alive(sdir)
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    after = trials(db, "kill")
    assert [row[1] for row in after] == ["complete"] * 4, after
    assert after[0] == before[0], (before[0], after[0])       # trial 0: untouched
    assert after[1][3].endswith("-r1"), after[1]               # trial 1: run again in a fresh dir
    runs = sorted(n for n in os.listdir(sdir) if os.path.isdir(os.path.join(sdir, n)))
    assert runs == ["kill-t0000", "kill-t0001", "kill-t0001-r1", "kill-t0002", "kill-t0003"], runs
    con = sqlite3.connect(db)
    names = [n for (n,) in con.execute("SELECT name FROM runs ORDER BY name")]
    con.close()
    assert "kill-t0000" in names and "kill-t0003" in names, names
    # the status view
    st = lilm("search", "--status", "--db", db)
    assert st.returncode == 0, st.stderr
    assert "study kill: 4 trials (4 complete" in st.stdout and "best: trial" in st.stdout, st.stdout
    # a changed space is refused
    write_space(space, cfg, "kill", trials=5, steps=300)
    r = lilm("search", space, "--db", db, "--dir", sdir)
    assert r.returncode != 0 and "different search space" in r.stderr, r.stderr
    # the report's search page
    out = os.path.join(d, "report")
    r = lilm("report", "--db", db, "--out", out)
    assert r.returncode == 0, r.stderr
    page = open(os.path.join(out, "search-kill.html")).read()
    for want in ("best so far", "importance", "<table", "train.lr", "<svg"):
        assert want in page, want


@case
def failed_trials_are_recorded_and_the_search_goes_on():
    d = tempfile.mkdtemp(prefix="lilm_search_fail_")
    cfg, space, db = (os.path.join(d, n) for n in ("c.yaml", "s.yaml", "runs.db"))
    write_config(cfg)
    # qk_dim 15 is odd: lilm train refuses the config (exit status 2)
    write_space(space, cfg, "fail", trials=3, steps=10,
                extra_params="  model.qk_dim: {type: categorical, choices: [15]}\n")
    r = lilm("search", space, "--db", db, "--dir", os.path.join(d, "study"))
    assert r.returncode == 0, r.stderr
    rows = trials(db, "fail")
    assert [row[1] for row in rows] == ["failed"] * 3, rows
    assert all("exited with status 2" in row[4] and "qk_dim" in row[4] for row in rows), rows


@case
def halving_pruner_stops_losing_trials():
    d = tempfile.mkdtemp(prefix="lilm_search_prune_")
    cfg, space, db = (os.path.join(d, n) for n in ("c.yaml", "s.yaml", "runs.db"))
    write_config(cfg)
    # 6-second trials that validate every half second, whatever the machine's
    # speed: the rungs (validations 1, 2, 4) come long before a trial's end
    with open(space, "w") as f:
        f.write(f"""study: {{name: prune, trials: 5, seed: 5, n_startup_trials: 2, pruner: halving, halving_rate: 2,
        minutes: 0.1}}
base:
  config: {cfg}
  set: {{budget.mode: time, train.steps: 0, train.val_every: 0, train.val_every_seconds: 0.5}}
params:
  train.lr: {{type: float, low: 1e-4, high: 1e-2, log: true}}
""")
    r = lilm("search", space, "--db", db, "--dir", os.path.join(d, "study"))
    assert r.returncode == 0, r.stderr
    rows = trials(db, "prune")
    states = [row[1] for row in rows]
    assert len(rows) == 5 and "pruned" in states and "complete" in states, rows
    for number, state, value, run_dir, reason in rows:
        if state == "pruned":
            assert reason.startswith("pruned after") and value is not None, rows
            with open(os.path.join(run_dir, "run.json")) as f:
                elapsed = json.load(f)["elapsed_s"]
            assert elapsed < 5.5, f"pruned trial {number} trained to the end ({elapsed} s)"


@case
def builtin_babylm_space_is_the_config_file():
    r = lilm("search", "babylm", "--print-space")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(ROOT, "configs", "search", "babylm.yaml")) as f:
        assert r.stdout == f.read(), "configs/search/babylm.yaml and the built-in space differ"
    for space in ("babylm", os.path.join(ROOT, "configs", "search", "babylm-cpu.yaml")):
        r = lilm("search", space, "--objective", "train.lr", "--trials", "3")
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stderr


run()
