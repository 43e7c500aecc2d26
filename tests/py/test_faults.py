"""test_faults.py: lilm refuses to lose or trust damaged data.

- `lilm train --out DIR` on an existing run is refused (nothing of the old run
  changes) unless --overwrite, which replaces it cleanly; a dataset directory
  is never used as a run directory;
- `lilm eval` and `lilm sample` refuse weights holding NaN, naming the tensor;
- a run whose weights go NaN stops and leaves last.safetensors as it was;
- a full disk (a small tmpfs, where it can be mounted) stops the run with
  metrics.jsonl holding whole lines and run.json "failed";
- a bit flip in a checkpoint's tensor data is refused (its CRC-32 no longer
  matches the one recorded in __metadata__);
- `lilm data info` fails, as `lilm train` does, on a dataset without
  meta.json or a complete validation split;
- `lilm tok decode --model bytes` refuses an id outside the vocabulary;
- a valid zero-row Parquet file reads as empty, not as truncated;
- OpenMP threads wait passively unless the user set a wait policy.
"""
import json
import os
import subprocess
import tempfile
import zlib

from harness import case, lilm_bin, run, shared

TEXT = shared("data/tinystories/train/tinystories_v1_train_head.txt")


def lilm(*args, timeout=600):
    r = subprocess.run([lilm_bin(), *args], capture_output=True, text=True, timeout=timeout)
    # `make asan` runs this file against the sanitised program: any report fails the case
    if "Sanitizer" in r.stderr or "runtime error:" in r.stderr:
        raise AssertionError(f"lilm {' '.join(args)}: sanitizer report:\n{r.stderr}")
    return r


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def config(path, steps=4):
    with open(path, "w") as f:
        f.write(f"""model:
  vocab_size: 260
  d_model: 32
  n_layers: 1
  n_heads: 2
  qk_dim: 16
  v_dim: 16
  ffn_dim: 64
  context: 32
data:
  text: "{TEXT}"
  tokenizer: bytes
  val_fraction: 0.02
train:
  batch_size: 4
  accum_batch: 4
  steps: {steps}
  val_every: 100
  val_batches: 1
  threads: 1
budget:
  mode: steps
""")


def train(d, out, *extra):
    cfg = os.path.join(d, "f.yaml")
    if not os.path.exists(cfg):
        config(cfg)
    return lilm("train", "--config", cfg, "--out", out, "--db", "none", "--quiet", "--no-samples", *extra)


def snapshot(run_dir):
    """Every file of a run dir with its bytes."""
    out = {}
    for root, _, files in os.walk(run_dir):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, run_dir)] = f.read()
    return out


def header(path):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    n = int.from_bytes(raw[:8], "little")
    return raw, n, json.loads(raw[8:8 + n])


def rewrite_tensor(path, name, fix_checksum, edit):
    """Applies edit(bytearray of the tensor) in place; with fix_checksum the
    recorded CRC-32 is updated so only the values themselves are wrong."""
    raw, n, h = header(path)
    b, e = h[name]["data_offsets"]
    data = raw[8 + n + b:8 + n + e]
    edit(data)
    raw[8 + n + b:8 + n + e] = data
    if fix_checksum and "lilm_crc32" in h.get("__metadata__", {}):
        spans = sorted((v["data_offsets"], k) for k, v in h.items() if k != "__metadata__")
        old = h["__metadata__"]["lilm_crc32"]
        new = " ".join("%08x" % zlib.crc32(raw[8 + n + s:8 + n + t]) for (s, t), _ in spans)
        at = raw.index(old.encode(), 8, 8 + n)
        raw[at:at + len(old)] = new.encode()
    with open(path, "wb") as f:
        f.write(raw)


@case
def train_out_on_existing_run_is_refused():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        r = train(d, out)
        check(r.returncode == 0, r.stderr)
        before = snapshot(out)
        r = train(d, out)
        check(r.returncode == 2, f"exit {r.returncode}: {r.stderr}")
        check("already holds a run" in r.stderr and "--resume" in r.stderr and "--overwrite" in r.stderr, r.stderr)
        check(snapshot(out) == before, "the refused run changed files of the old one")
        # --overwrite replaces it: metrics start again, nothing appended to the old lines
        r = train(d, out, "--overwrite")
        check(r.returncode == 0, r.stderr)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            steps = [json.loads(line)["step"] for line in f if '"train"' in line]
        check(steps == sorted(steps) and len(steps) == len(set(steps)), steps)


@case
def train_out_in_a_dataset_dir_is_refused():
    with tempfile.TemporaryDirectory() as d:
        ds = os.path.join(d, "ds")
        txt = os.path.join(d, "a.txt")
        with open(txt, "w") as f:
            f.write("one\ntwo\nthree\nfour\n")
        r = lilm("data", "prepare", "text", txt, "--tokenizer", "bytes", "--out", ds, "-q", "--val-rule", "index%2<1")
        check(r.returncode == 0, r.stdout + r.stderr)
        before = snapshot(ds)
        for flags in ([], ["--overwrite"]):
            r = train(d, ds, *flags)
            check(r.returncode == 2 and "dataset directory" in r.stderr, f"exit {r.returncode}: {r.stderr}")
        check(snapshot(ds) == before, "the dataset changed")


@case
def nan_weights_are_refused_by_eval_and_sample():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        r = train(d, out)
        check(r.returncode == 0, r.stderr)
        final = os.path.join(out, "checkpoints", "final.safetensors")
        r = lilm("eval", final)
        check(r.returncode == 0, r.stderr)

        def poison(data):
            data[4:8] = bytes.fromhex("0000c07f")  # element 1 = NaN (F32, little-endian)
        rewrite_tensor(final, "embedding.weight", True, poison)
        r = lilm("eval", final)
        check(r.returncode != 0 and "embedding.weight" in r.stderr and "NaN" in r.stderr,
              f"eval exit {r.returncode}: {r.stdout} {r.stderr}")
        r = lilm("sample", out, "--prompt", "the ", "--max-tokens", "4")
        check(r.returncode != 0 and "embedding.weight" in r.stderr, f"sample exit {r.returncode}: {r.stderr}")


@case
def flipped_checkpoint_bit_is_refused():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        r = train(d, out)
        check(r.returncode == 0, r.stderr)
        final = os.path.join(out, "checkpoints", "final.safetensors")

        def flip(data):
            data[len(data) // 2] ^= 0x04  # a small change of one weight's mantissa
        rewrite_tensor(final, "embedding.weight", False, flip)
        for cmd in (["eval", final], ["sample", out, "--prompt", "a", "--max-tokens", "2"]):
            r = lilm(*cmd)
            check(r.returncode != 0 and "embedding.weight" in r.stderr and "CRC-32" in r.stderr,
                  f"{cmd[0]} exit {r.returncode}: {r.stderr}")


@case
def diverged_training_keeps_the_last_good_checkpoint():
    # NaN optimizer moments (a damaged last.optim file whose checksum was made to
    # match) make the next step's weights NaN: the run must stop and leave
    # last.safetensors exactly as it was, still finite.
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "run")
        cfg = os.path.join(d, "f.yaml")
        config(cfg, steps=200)
        r = lilm("train", "--config", cfg, "--out", out, "--db", "none", "--quiet", "--no-samples", "--steps", "20")
        check(r.returncode == 0, r.stderr)
        ck = os.path.join(out, "checkpoints")
        optim = os.path.join(ck, "last.optim.safetensors")
        _, _, h = header(optim)
        name = [k for k in h if k != "__metadata__"][0]

        def poison(data):
            for i in range(0, len(data), 4):
                data[i:i + 4] = bytes.fromhex("0000c07f")
        rewrite_tensor(optim, name, True, poison)
        with open(os.path.join(ck, "last.safetensors"), "rb") as f:
            before = f.read()
        r = lilm("train", "--resume", out, "--db", "none", "--quiet", "--no-samples", "--steps", "200",
                 "--set", "train.checkpoint_every_seconds=0")
        check(r.returncode != 0, f"a diverged run exited {r.returncode}: {r.stderr}")
        with open(os.path.join(ck, "last.safetensors"), "rb") as f:
            check(f.read() == before, "last.safetensors was overwritten by a diverged run")
        r = lilm("eval", os.path.join(ck, "last.safetensors"))
        check(r.returncode == 0, f"the kept checkpoint does not evaluate: {r.stderr}")
        with open(os.path.join(out, "run.json")) as f:
            check(json.load(f)["status"] == "failed", "run.json not marked failed")


@case
def full_disk_stops_the_run_with_whole_metrics_lines():
    # a 400 KB tmpfs fills during training: the run must stop with an error
    # naming the full disk, metrics.jsonl must hold whole lines only, and
    # run.json must say "failed" (not "running") after the exit
    with tempfile.TemporaryDirectory() as d:
        mnt = os.path.join(d, "small")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", mnt], capture_output=True, text=True)
        if m.returncode != 0:
            print(f"  not run: cannot mount a small tmpfs here ({m.stderr.strip()})")
            return
        try:
            cfg = os.path.join(d, "f.yaml")
            config(cfg, steps=100000)
            out = os.path.join(mnt, "run")
            r = lilm("train", "--config", cfg, "--out", out, "--db", "none", "--quiet", "--no-samples",
                     "--set", "train.checkpoint_every_seconds=0.2", timeout=600)
            check(r.returncode != 0 and "No space left" in r.stderr, f"exit {r.returncode}: {r.stderr}")
            with open(os.path.join(out, "metrics.jsonl"), "rb") as f:
                text = f.read()
            check(text.endswith(b"\n"), "metrics.jsonl ends in a cut line")
            for line in text.decode().splitlines():
                json.loads(line)
            with open(os.path.join(out, "run.json")) as f:
                check(json.load(f)["status"] == "failed", "run.json is not marked failed")
            left = [n for n in os.listdir(os.path.join(out, "checkpoints")) if ".tmp." in n or n.endswith(".next")]
            check(not left, f"temp files left behind: {left}")
        finally:
            subprocess.run(["umount", mnt], capture_output=True)


@case
def data_info_refuses_what_train_refuses():
    with tempfile.TemporaryDirectory() as d:
        txt = os.path.join(d, "a.txt")
        with open(txt, "w") as f:
            f.write("one\ntwo\nthree\nfour\n")
        for missing in ("meta.json", "val.docs", "val.tokens"):
            ds = os.path.join(d, "ds-" + missing)
            r = lilm("data", "prepare", "text", txt, "--tokenizer", "bytes", "--out", ds, "-q", "--val-rule", "index%2<1")
            check(r.returncode == 0, r.stderr)
            r = lilm("data", "info", ds)
            check(r.returncode == 0, r.stderr)
            os.remove(os.path.join(ds, missing))
            r = lilm("data", "info", ds)
            check(r.returncode != 0 and missing.split(".")[0] in r.stderr, f"{missing}: exit {r.returncode}: {r.stderr}")


@case
def bytes_decode_refuses_an_invalid_id():
    for ids in ("76 105 260", "76 -1 105"):
        r = subprocess.run([lilm_bin(), "tok", "decode", "--model", "bytes"], input=ids + "\n", capture_output=True,
                           text=True, timeout=60)
        check(r.returncode != 0 and "invalid id" in r.stderr, f"{ids}: exit {r.returncode}: {r.stdout!r} {r.stderr}")
    r = subprocess.run([lilm_bin(), "tok", "decode", "--model", "bytes"], input="76 105 2\n", capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0 and r.stdout == "He\n", (r.returncode, r.stdout, r.stderr))


@case
def zero_row_parquet_is_empty_not_truncated():
    import pyarrow as pa
    import pyarrow.parquet as pq
    with tempfile.TemporaryDirectory() as d:
        zero, two = os.path.join(d, "zero.parquet"), os.path.join(d, "two.parquet")
        pq.write_table(pa.table({"text": pa.array([], pa.string())}), zero)
        pq.write_table(pa.table({"text": pa.array(["ab", "cd"], pa.string())}), two)
        r = lilm("data", "peek", zero)
        check(r.returncode == 0 and "truncated" not in r.stderr, f"exit {r.returncode}: {r.stderr}")
        ds = os.path.join(d, "ds")
        r = lilm("data", "prepare", "parquet", zero, two, "--out", ds, "-q", "--val-rule", "index%2<1")
        check(r.returncode == 0 and "no documents" in r.stderr, f"exit {r.returncode}: {r.stderr}")


@case
def openmp_threads_wait_passively_by_default():
    # a spinning OpenMP worker takes a core from every other process; lilm sets
    # OMP_WAIT_POLICY=passive for itself unless the user chose a policy
    import time
    for env_in, want in (({}, "passive"), ({"OMP_WAIT_POLICY": "active"}, "active")):
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        env.update(env_in)
        p = subprocess.Popen([lilm_bin(), "tok", "encode", "--model", "bytes"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        seen = None
        for _ in range(200):  # the program re-executes itself first: wait for that
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                vars = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
            seen = vars.get(b"OMP_WAIT_POLICY", b"").decode()
            if seen == want:
                break
            time.sleep(0.05)
        out, err = p.communicate(b"ab\n", timeout=60)
        check(p.returncode == 0 and out.split() == [b"101", b"102"], (p.returncode, out, err))
        check(seen == want, f"OMP_WAIT_POLICY={seen!r}, want {want!r} (given {env_in})")


if __name__ == "__main__":
    run()
