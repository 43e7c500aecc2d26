"""test_data_fetch.py: `lilm data fetch` against a local stand-in for the hub.

The stand-in (hubstub.py) answers like the Hugging Face hub: the paginated
tree listing and file downloads with Range, one file behind a redirect. It
can drop a connection halfway through a file, lie about a checksum, require
a token, link a listing page to itself, stall a download, and serve any raw
listing (unsafe, NUL-holding or negative-size entries). All traffic stays on
the loopback interface; every request loop is bounded.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

import hubstub
from harness import case, lilm_bin, run

TMP = tempfile.mkdtemp(prefix="lilm-test-fetch-")
atexit.register(shutil.rmtree, TMP, True)
HUB, ENDPOINT, SERVER = hubstub.start()
atexit.register(SERVER.shutdown)


def parquet_bytes(n, seed):  # a small two-column file
    t = pa.table({"story": [f"story {seed} number {i} " * (1 + i % 9) for i in range(n)],
                  "topic": [f"t{i % 4}" for i in range(n)]})
    path = os.path.join(TMP, f"src-{seed}.parquet")
    pq.write_table(t, path, row_group_size=200)
    return open(path, "rb").read()


def fetch(repo, dest, *extra, env=None, check=True):
    e = dict(os.environ, LILM_PROGRESS="0", HF_ENDPOINT=ENDPOINT)
    e.pop("HF_TOKEN", None)
    e.update(env or {})
    r = subprocess.run([lilm_bin(), "data", "fetch", repo, "--dest", dest, *extra], capture_output=True, text=True,
                       timeout=60, env=e)
    if check and r.returncode != 0:
        raise AssertionError(f"fetch failed ({r.returncode}): {r.stderr}")
    return r


def downloads(path_suffix):
    with HUB.lock:
        return [x for x in HUB.log if x[1].endswith(path_suffix)]


FILES = {
    "data/train-00000-of-00002.parquet": parquet_bytes(900, 1),
    "data/train-00001-of-00002.parquet": parquet_bytes(700, 2),
    "data/test-00000-of-00001.parquet": parquet_bytes(300, 3),
    "README.md": b"# a dataset card\n",
}


@case
def fetch_resume_and_skip():
    HUB.repos["SimpleStories/SimpleStories"] = dict(FILES)
    HUB.drop_once.add("data/train-00000-of-00002.parquet")
    HUB.redirect.add("data/test-00000-of-00001.parquet")
    dest = os.path.join(TMP, "ss")
    r = fetch("SimpleStories/SimpleStories", dest)
    for p, data in FILES.items():
        local = os.path.join(dest, p)
        if p.endswith(".parquet"):
            assert open(local, "rb").read() == data, p
            assert not os.path.exists(local + ".part")
        else:
            assert not os.path.exists(local), "only .parquet files are fetched by default"
    got = downloads("train-00000-of-00002.parquet")
    assert len(got) == 2 and got[0][2] is None and got[1][2].startswith("bytes="), got  # dropped, then resumed
    assert "3 files" in r.stdout and "resumed" in r.stdout, r.stdout
    # a second run downloads nothing
    before = len([x for x in HUB.log if "/resolve/" in x[1]])
    r = fetch("SimpleStories/SimpleStories", dest)
    assert len([x for x in HUB.log if "/resolve/" in x[1]]) == before
    assert "3 already present" in r.stdout, r.stdout
    # a leftover .part from an interrupted run is continued with a Range request
    local = os.path.join(dest, "data/train-00001-of-00002.parquet")
    os.remove(local)
    with open(local + ".part", "wb") as f:
        f.write(FILES["data/train-00001-of-00002.parquet"][:1000])
    fetch("SimpleStories/SimpleStories", dest)
    assert downloads("train-00001-of-00002.parquet")[-1][2] == "bytes=1000-"
    assert open(local, "rb").read() == FILES["data/train-00001-of-00002.parquet"]
    # a damaged local copy is replaced
    with open(local, "r+b") as f:
        f.seek(50)
        f.write(b"XXXX")
    fetch("SimpleStories/SimpleStories", dest)
    assert open(local, "rb").read() == FILES["data/train-00001-of-00002.parquet"]
    # and the fetched files prepare with the recipe
    out = os.path.join(TMP, "ss-ds")
    r = subprocess.run([lilm_bin(), "data", "prepare", "simplestories", "--tokenizer", "bytes", "--out", out, dest,
                        "--quiet"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    info = json.loads(subprocess.run([lilm_bin(), "data", "info", out, "--json"], capture_output=True, text=True).stdout)
    assert info["splits"]["train"]["docs"] == 1600 and info["splits"]["val"]["docs"] == 300, info


@case
def checksum_mismatch():
    HUB.repos["owner/bad"] = {"data/x.parquet": FILES["data/test-00000-of-00001.parquet"]}
    HUB.bad_sha.add("data/x.parquet")
    dest = os.path.join(TMP, "bad")
    r = fetch("owner/bad", dest, check=False)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "SHA-256" in r.stderr and "HINT" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(dest, "data/x.parquet"))
    assert not os.path.exists(os.path.join(dest, "data/x.parquet.part"))


@case
def token_and_errors():
    HUB.repos["owner/gated"] = {"data/g.parquet": FILES["data/test-00000-of-00001.parquet"]}
    HUB.token = "secret-token"
    try:
        dest = os.path.join(TMP, "gated")
        r = fetch("owner/gated", dest, check=False)
        assert r.returncode == 1 and "HTTP 401" in r.stderr and "HF_TOKEN" in r.stderr, r.stderr
        fetch("owner/gated", dest, env={"HF_TOKEN": "secret-token"})
        assert os.path.exists(os.path.join(dest, "data/g.parquet"))
    finally:
        HUB.token = None
    r = fetch("owner/missing", os.path.join(TMP, "missing"), check=False)
    assert r.returncode == 2 and "not found" in r.stderr, r.stderr
    r = fetch("not-a-repo-name", os.path.join(TMP, "x"), check=False)
    assert r.returncode == 2 and "OWNER/NAME" in r.stderr
    # a refused port on the loopback is a server that is not running, not a missing network
    r = fetch("owner/gated", os.path.join(TMP, "offline"), env={"HF_ENDPOINT": f"http://127.0.0.1:{hubstub.free_port()}"},
              check=False)
    assert r.returncode == 1 and "refused the connection" in r.stderr and "HF_ENDPOINT" in r.stderr, r.stderr
    assert "no network" not in r.stderr, r.stderr
    # an unresolvable host is
    r = fetch("owner/gated", os.path.join(TMP, "offline"), env={"HF_ENDPOINT": "http://no-such-host.invalid"},
              check=False)
    assert r.returncode == 1 and "no network" in r.stderr and "HINT" in r.stderr, r.stderr


def listing_refused(entries, what):
    HUB.listings["owner/raw"] = entries
    try:
        r = fetch("owner/raw", os.path.join(TMP, "raw"), check=False)
    finally:
        del HUB.listings["owner/raw"]
    assert r.returncode == 2 and what in r.stderr, (r.returncode, r.stderr)
    assert "Sanitizer" not in r.stderr, r.stderr
    return r


@case
def unsafe_listed_names_are_refused():
    # the error names the path it refuses (the listing used to be freed before it was printed)
    r = listing_refused([{"type": "file", "path": "../x.parquet", "size": 3}], "unsafe file path '../x.parquet'")
    assert not os.path.exists(os.path.join(TMP, "x.parquet"))
    listing_refused([{"type": "file", "path": "/etc/x.parquet", "size": 3}], "unsafe file path '/etc/x.parquet'")
    # a NUL would cut "evil.parquet\0/../../x" to a harmless-looking name
    listing_refused([{"type": "file", "path": "a\u0000/../../x.parquet", "size": 3}], "NUL byte")
    listing_refused([{"type": "file", "path": "data/n.parquet", "size": -5}], "negative size")
    listing_refused([{"type": "file", "path": "data/n.parquet", "size": 5, "lfs": {"oid": "0" * 64, "size": -1}}],
                    "negative size")


@case
def self_linked_listing_ends_at_once():
    HUB.repos["owner/loop"] = {"data/a.parquet": FILES["data/test-00000-of-00001.parquet"]}
    HUB.self_link.add("owner/loop")
    try:
        before = len(HUB.requests("/api/datasets/owner/loop/"))
        r = fetch("owner/loop", os.path.join(TMP, "loop"), check=False)
        pages = len(HUB.requests("/api/datasets/owner/loop/")) - before
    finally:
        HUB.self_link.discard("owner/loop")
    assert r.returncode == 2 and "already sent" in r.stderr, (r.returncode, r.stderr)
    assert pages == 1, pages


@case
def sigterm_stops_a_listing():
    # a listing that never ends (a new page URL each time) used to ignore SIGINT and SIGTERM
    HUB.repos["owner/endless"] = {f"data/f{i:05d}.parquet": b"x" for i in range(20000)}
    e = dict(os.environ, LILM_PROGRESS="0", HF_ENDPOINT=ENDPOINT)
    p = subprocess.Popen([lilm_bin(), "data", "fetch", "owner/endless", "--dest", os.path.join(TMP, "endless")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    try:
        for _ in range(600):  # until it is listing (bounded: 60 s)
            if len(HUB.requests("/api/datasets/owner/endless/")) >= 3:
                break
            time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        del HUB.repos["owner/endless"]
    assert p.returncode == 1 and "interrupted" in err, (p.returncode, err)


@case
def stalled_download_gives_up():
    HUB.repos["owner/stall"] = {"data/s.parquet": FILES["data/test-00000-of-00001.parquet"]}
    HUB.stall.add("data/s.parquet")
    try:
        r = fetch("owner/stall", os.path.join(TMP, "stall"), env={"HF_HUB_DOWNLOAD_TIMEOUT": "1"}, check=False)
    finally:
        HUB.stall.discard("data/s.parquet")
    assert r.returncode == 1 and "stalled" in r.stderr and "HF_HUB_DOWNLOAD_TIMEOUT" in r.stderr, r.stderr
    # two silent tries in a row end it (it used to make four, a minute each)
    assert len(downloads("stall/resolve/main/data/s.parquet")) == 2, downloads("s.parquet")


run()
