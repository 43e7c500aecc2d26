"""test_data_fetch.py: `lilm data fetch` against a local stand-in for the hub.

A small http.server on 127.0.0.1 (a free port) answers like the Hugging Face
hub: the paginated tree listing (/api/datasets/OWNER/NAME/tree/REV, with an
lfs {oid, size} object per file and a Link: rel="next" header) and file
downloads (/datasets/OWNER/NAME/resolve/REV/PATH, honouring Range, one file
behind a redirect). It can drop a connection halfway through a file, lie
about a checksum, and require a token. All traffic stays on the loopback
interface; every request loop is bounded.
"""
import atexit
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq

from harness import case, lilm_bin, run

TMP = tempfile.mkdtemp(prefix="lilm-test-fetch-")
atexit.register(shutil.rmtree, TMP, True)


class Hub:
    """State shared with the handler: the repos, behaviours, and a request log."""

    def __init__(self):
        self.repos = {}       # "owner/name" -> {path: bytes}
        self.drop_once = set()  # paths whose first full download is cut halfway
        self.bad_sha = set()    # paths listed with a wrong sha256
        self.redirect = set()   # paths served through a 302
        self.token = None       # required bearer token, if any
        self.log = []           # (method, path, range header)
        self.lock = threading.Lock()


HUB = Hub()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def fail(self, code):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        with HUB.lock:
            HUB.log.append(("GET", url.path, self.headers.get("Range")))
        if HUB.token and self.headers.get("Authorization") != f"Bearer {HUB.token}":
            return self.fail(401)
        parts = url.path.split("/")
        if url.path.startswith("/api/datasets/") and len(parts) >= 7 and parts[5] == "tree":
            repo = parts[3] + "/" + parts[4]
            if repo not in HUB.repos:
                return self.fail(404)
            files = HUB.repos[repo]
            entries = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": "data"}]
            for p, data in sorted(files.items()):
                e = {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": p}
                if p.endswith(".parquet"):
                    sha = hashlib.sha256(data).hexdigest()
                    if p in HUB.bad_sha:
                        sha = "0" * 64
                    e["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
                entries.append(e)
            q = urllib.parse.parse_qs(url.query)
            start = int(q.get("cursor", ["0"])[0])
            page = entries[start:start + 2]
            headers = []
            if start + 2 < len(entries):
                nxt = f"http://{self.headers['Host']}{url.path}?recursive=true&cursor={start + 2}"
                headers.append(("Link", f'<{nxt}>; rel="next"'))
            return self.send_json(page, headers)
        if url.path.startswith("/datasets/") and len(parts) >= 7 and parts[4] == "resolve":
            repo = parts[2] + "/" + parts[3]
            path = urllib.parse.unquote("/".join(parts[6:]))
            if repo not in HUB.repos or path not in HUB.repos[repo]:
                return self.fail(404)
            if path in HUB.redirect:
                self.send_response(302)
                self.send_header("Location", f"/cdn/{repo}/{urllib.parse.quote(path)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.serve(HUB.repos[repo][path], path)
        if url.path.startswith("/cdn/"):
            repo = parts[2] + "/" + parts[3]
            path = urllib.parse.unquote("/".join(parts[4:]))
            return self.serve(HUB.repos[repo][path], path)
        return self.fail(404)

    def serve(self, data, path):
        rng = self.headers.get("Range")
        start = 0
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                return self.fail(416)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with HUB.lock:
            drop = path in HUB.drop_once and not rng
            if drop:
                HUB.drop_once.discard(path)
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


SERVER = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
SERVER.daemon_threads = True
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
atexit.register(SERVER.shutdown)
ENDPOINT = f"http://127.0.0.1:{SERVER.server_address[1]}"


def parquet_bytes(n, seed):
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
    # no network: nothing listens on this port
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = fetch("owner/gated", os.path.join(TMP, "offline"), env={"HF_ENDPOINT": f"http://127.0.0.1:{port}"},
              check=False)
    assert r.returncode == 1 and "no network" in r.stderr and "HINT" in r.stderr, r.stderr


run()
