"""hubstub.py: a local stand-in for the Hugging Face hub, for the fetch and run tests.

A ThreadingHTTPServer on 127.0.0.1 (a free port) answers the requests lilm
makes, shaped as the hub answers them:
- GET /api/datasets/OWNER/NAME/tree/REV?recursive=true: a JSON array of
  {type, oid, size, path} entries (a directory entry first), with an
  lfs {oid = sha256, size, pointerSize} object for .parquet files, two
  entries per page, and a Link: <...>; rel="next" header to the next page;
- GET /datasets/OWNER/NAME/resolve/REV/PATH: the file, honouring Range
  (206 + Content-Range; 416 past the end), optionally behind a 302 to /cdn/.
Behaviours for fault tests: cut a download halfway once, list a wrong
sha256, require a bearer token, a listing whose next link points to itself,
a file that sends its headers and then nothing, and raw listings (any JSON)
for a repo. Every request is logged; all traffic stays on the loopback.

Also here: Parquet files with the real schemas of the two datasets
(SimpleStories' 21 columns, BabyLM's `text`), written by pyarrow, with
varied generated text (words of random letters, so that a 12K unigram
vocabulary can be trained on a few MB).
"""
import hashlib
import http.server
import json
import random
import socket
import threading
import time
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq


class Hub:
    """State shared with the handler: the repos, behaviours, and a request log."""

    def __init__(self):
        self.repos = {}         # "owner/name" -> {path: bytes}
        self.listings = {}      # "owner/name" -> raw JSON listing (overrides repos)
        self.drop_once = set()  # paths whose first full download is cut halfway
        self.bad_sha = set()    # paths listed with a wrong sha256
        self.redirect = set()   # paths served through a 302
        self.stall = set()      # paths answered with headers and then silence
        self.self_link = set()  # repos whose listing links back to itself
        self.token = None       # required bearer token, if any
        self.log = []           # (method, path, range header)
        self.lock = threading.Lock()

    def requests(self, part):
        with self.lock:
            return [x for x in self.log if part in x[1]]


class Handler(http.server.BaseHTTPRequestHandler):
    hub = None

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a test's point, often)
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

    def listing(self, url, repo):
        hub = self.hub
        if repo in hub.listings:
            headers = []
            if repo in hub.self_link:
                headers.append(("Link", f'<http://{self.headers["Host"]}{self.path}>; rel="next"'))
            return self.send_json(hub.listings[repo], headers)
        if repo not in hub.repos:
            return self.fail(404)
        entries = [{"type": "directory", "oid": "0" * 40, "size": 0, "path": "data"}]
        for p, data in sorted(hub.repos[repo].items()):
            e = {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": p}
            if p.endswith(".parquet"):
                sha = "0" * 64 if p in hub.bad_sha else hashlib.sha256(data).hexdigest()
                e["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
            entries.append(e)
        q = urllib.parse.parse_qs(url.query)
        start = int(q.get("cursor", ["0"])[0])
        headers = []
        if repo in hub.self_link:
            headers.append(("Link", f'<http://{self.headers["Host"]}{self.path}>; rel="next"'))
        elif start + 2 < len(entries):
            nxt = f"http://{self.headers['Host']}{url.path}?recursive=true&cursor={start + 2}"
            headers.append(("Link", f'<{nxt}>; rel="next"'))
        return self.send_json(entries[start:start + 2], headers)

    def do_GET(self):
        hub = self.hub
        url = urllib.parse.urlparse(self.path)
        with hub.lock:
            hub.log.append(("GET", url.path, self.headers.get("Range")))
        if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
            return self.fail(401)
        parts = url.path.split("/")
        if url.path.startswith("/api/datasets/") and len(parts) >= 7 and parts[5] == "tree":
            return self.listing(url, parts[3] + "/" + parts[4])
        if url.path.startswith("/datasets/") and len(parts) >= 7 and parts[4] == "resolve":
            repo = parts[2] + "/" + parts[3]
            path = urllib.parse.unquote("/".join(parts[6:]))
            if repo not in hub.repos or path not in hub.repos[repo]:
                return self.fail(404)
            if path in hub.redirect:
                self.send_response(302)
                self.send_header("Location", f"/cdn/{repo}/{urllib.parse.quote(path)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.serve(hub.repos[repo][path], path)
        if url.path.startswith("/cdn/"):
            repo = parts[2] + "/" + parts[3]
            path = urllib.parse.unquote("/".join(parts[4:]))
            return self.serve(hub.repos[repo][path], path)
        return self.fail(404)

    def serve(self, data, path):
        hub = self.hub
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
        if path in hub.stall:
            self.wfile.flush()
            time.sleep(30)  # bounded: the client gives up long before
            return
        with hub.lock:
            drop = path in hub.drop_once and not rng
            if drop:
                hub.drop_once.discard(path)
        if drop:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


def start():
    """Starts a stand-in; returns (hub, endpoint URL, server)."""
    hub = Hub()
    handler = type("BoundHandler", (Handler,), {"hub": hub})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hub, f"http://127.0.0.1:{server.server_address[1]}", server


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- datasets with the real schemas ----

def _words(rng, n):
    letters = "abcdefghijklmnopqrstuvwxyz"
    common = ["the", "a", "and", "to", "was", "she", "he", "they", "in", "of", "it", "said", "with", "on"]
    out = []
    for _ in range(n):
        if rng.random() < 0.4:
            out.append(rng.choice(common))
        else:
            out.append("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))))
    return out


def _text(rng, n_words):
    w = _words(rng, n_words)
    return " ".join(w).capitalize() + "."


def simplestories_table(n, seed):
    """SimpleStories' 21 columns (story first), n rows."""
    rng = random.Random(seed)
    cols = {
        "story": [_text(rng, rng.randint(20, 80)) for _ in range(n)],
        "topic": [rng.choice(["friendship", "space", "animals"]) for _ in range(n)],
        "theme": [rng.choice(["kindness", "courage"]) for _ in range(n)],
        "style": [rng.choice(["whimsical", "plain"]) for _ in range(n)],
        "feature": [rng.choice(["dialogue", "twist"]) for _ in range(n)],
        "grammar": [rng.choice(["past tense", "questions"]) for _ in range(n)],
        "persona": [rng.choice(["a teacher", "a child"]) for _ in range(n)],
        "initial_word_type": [rng.choice(["noun", "verb"]) for _ in range(n)],
        "initial_letter": [rng.choice("abcdefghij") for _ in range(n)],
        "word_count": [rng.randint(20, 80) for _ in range(n)],
        "character_count": [rng.randint(100, 500) for _ in range(n)],
        "num_paragraphs": [rng.randint(1, 5) for _ in range(n)],
        "avg_word_length": [rng.uniform(3, 6) for _ in range(n)],
        "avg_sentence_length": [rng.uniform(5, 15) for _ in range(n)],
        "flesch_reading_ease": [rng.uniform(60, 100) for _ in range(n)],
        "flesch_kincaid_grade": [rng.uniform(0, 6) for _ in range(n)],
        "dale_chall_readability_score": [rng.uniform(4, 8) for _ in range(n)],
        "num_stories_in_completion": [1 for _ in range(n)],
        "expected_num_stories_in_completion": [1 for _ in range(n)],
        "generation_id": [f"gen-{seed}-{i}" for i in range(n)],
        "model": ["gpt-4o-mini" for _ in range(n)],
    }
    t = pa.table(cols)
    assert t.num_columns == 21
    return t


def babylm_table(n, seed):
    """BabyLM's one column, `text`, n rows."""
    rng = random.Random(seed)
    return pa.table({"text": [_text(rng, rng.randint(5, 60)) for _ in range(n)]})


def parquet_bytes(table, path, row_group_size=500):
    pq.write_table(table, path, row_group_size=row_group_size)
    with open(path, "rb") as f:
        return f.read()
