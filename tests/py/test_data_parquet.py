"""test_data_parquet.py: lilm's own Parquet reader against pyarrow.

Fixtures are written at run time into a temporary directory with pyarrow,
using the real column layouts of the two reference datasets:
SimpleStories/SimpleStories (story + 20 metadata columns: strings, int64,
float64) and BabyLM-community/BabyLM-2026-Strict (text + metadata). Every
combination of codec (none, snappy, gzip, zstd), data page version (1, 2)
and dictionary encoding (on, off) is read back with `lilm data peek` and
compared value by value, over several row groups and with nulls; then
`lilm data prepare` is checked for exact document/byte counts and the
validation rule, and broken files must fail with a clear message (exit 2).
"""
import json
import os
import atexit
import random
import shutil
import struct
import subprocess
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

from harness import case, lilm_bin, run

TMP = tempfile.mkdtemp(prefix="lilm-test-parquet-")
atexit.register(shutil.rmtree, TMP, True)

SS_STR = ["topic", "theme", "style", "feature", "grammar", "persona", "initial_word_type", "initial_letter"]
SS_INT = ["word_count", "character_count", "num_paragraphs"]
SS_FLOAT = ["avg_word_length", "avg_sentence_length", "flesch_reading_ease", "flesch_kincaid_grade",
            "dale_chall_readability_score"]


def stories(n, seed, nulls=False):
    rnd = random.Random(seed)
    words = ["the", "dog", "ran", "happy", "caf\u00e9", "\u00fcber", "stars", "\u20ac", "night", "\U0001F600", "a"]
    out = []
    for i in range(n):
        if nulls and i % 17 == 3:
            out.append(None)
        elif i % 23 == 7:
            out.append("")
        else:
            k = rnd.randint(1, 60)
            text = " ".join(rnd.choice(words) for _ in range(k))
            if i % 5 == 0:
                text += "\n\nA new paragraph with \"quotes\" and\ttabs."
            out.append(text)
    return out


def simplestories_table(n, seed, nulls=False):
    rnd = random.Random(seed)
    cols = {"story": pa.array(stories(n, seed, nulls), type=pa.string())}
    for c in SS_STR:
        cols[c] = pa.array([f"{c}-{rnd.randint(0, 9)}" for _ in range(n)], type=pa.string())
    for c in SS_INT:
        cols[c] = pa.array([rnd.randint(0, 500) for _ in range(n)], type=pa.int64())
    for c in SS_FLOAT:
        cols[c] = pa.array([rnd.random() * 10 for _ in range(n)], type=pa.float64())
    cols["num_stories_in_completion"] = pa.array([1] * n, type=pa.int64())
    cols["expected_num_stories_in_completion"] = pa.array([1] * n, type=pa.int64())
    cols["generation_id"] = pa.array([f"gen-{seed}-{i}" for i in range(n)], type=pa.string())
    cols["model"] = pa.array(["gpt-4o-mini"] * n, type=pa.string())
    return pa.table(cols)


def babylm_table(n, seed):
    # text plus metadata columns (the text column is what matters)
    texts = stories(n, seed)
    return pa.table({
        "text": pa.array(texts, type=pa.string()),
        "source": pa.array([["childes", "bnc_spoken", "gutenberg"][i % 3] for i in range(n)], type=pa.string()),
        "num_words": pa.array([len(t.split()) for t in texts], type=pa.int64()),
    })


def lilm(*args, check=True):
    r = subprocess.run([lilm_bin(), "data", *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LILM_PROGRESS="0"))
    if check and r.returncode != 0:
        raise AssertionError(f"lilm data {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    if "Sanitizer" in r.stderr or "runtime error:" in r.stderr:  # `make asan` runs this file on the sanitised lilm
        raise AssertionError(f"lilm data {' '.join(args)}: sanitizer report:\n{r.stderr}")
    return r


def peek(path, column):
    r = lilm("peek", path, "--column", column, "--limit", "-1")
    return [None if line == "null" else json.loads(line) for line in r.stdout.splitlines()]


@case
def every_codec_page_version_and_encoding():
    t = simplestories_table(1500, 1, nulls=True)
    want = t.column("story").to_pylist()
    n = 0
    for codec in ["none", "snappy", "gzip", "zstd"]:
        for version in ["1.0", "2.0"]:
            for dictionary in [True, False]:
                path = os.path.join(TMP, f"ss_{codec}_{version}_{dictionary}.parquet")
                pq.write_table(t, path, compression=codec, data_page_version=version, use_dictionary=dictionary,
                               row_group_size=400, data_page_size=4096, write_page_checksum=(codec == "zstd"))
                got = peek(path, "story")
                assert got == want, f"{path}: values differ (first at {next(i for i in range(len(want)) if got[i] != want[i])})"
                n += 1
    assert n == 16
    # a low-cardinality column (dictionary with repeats) and a required column
    path = os.path.join(TMP, "ss_meta.parquet")
    pq.write_table(t, path, row_group_size=333)
    assert peek(path, "topic") == t.column("topic").to_pylist()
    req = pa.table({"text": pa.array(["a", "b\u00e9", ""] * 50, type=pa.string())},
                   schema=pa.schema([pa.field("text", pa.string(), nullable=False)]))
    path = os.path.join(TMP, "required.parquet")
    pq.write_table(req, path, row_group_size=40)
    assert peek(path, "text") == req.column("text").to_pylist()


@case
def prepare_simplestories_layout():
    d = os.path.join(TMP, "SimpleStories", "data")
    os.makedirs(d, exist_ok=True)
    parts = [simplestories_table(700, 10), simplestories_table(650, 11)]
    for i, t in enumerate(parts):
        pq.write_table(t, os.path.join(d, f"train-0000{i}-of-00002.parquet"), row_group_size=256)
    test = simplestories_table(300, 12)
    pq.write_table(test, os.path.join(d, "test-00000-of-00001.parquet"))
    out = os.path.join(TMP, "ss-ds")
    lilm("prepare", "simplestories", "--tokenizer", "bytes", "--out", out, os.path.dirname(d), "--quiet")
    info = json.loads(lilm("info", out, "--json").stdout)

    def counts(tables):
        texts = [s for t in tables for s in t.column("story").to_pylist() if s]
        return len(texts), sum(len(s.encode()) for s in texts)

    docs, nbytes = counts(parts)
    assert info["splits"]["train"]["docs"] == docs, info
    assert info["splits"]["train"]["bytes"] == nbytes, info
    assert info["splits"]["train"]["tokens"] == nbytes + docs  # bytes tokenizer: one id per byte + EOS
    vdocs, vbytes = counts([test])
    assert info["splits"]["val"]["docs"] == vdocs and info["splits"]["val"]["bytes"] == vbytes, info
    meta = json.load(open(os.path.join(out, "meta.json")))
    assert meta["column"] == "story" and meta["split_rule"] == "file names"
    roles = {os.path.basename(s["path"]): s["role"] for s in meta["sources"]}
    assert roles["test-00000-of-00001.parquet"] == "val" and roles["train-00000-of-00002.parquet"] == "train"


def read_split(out, split):
    """Decodes a bytes-tokenizer split back into document strings."""
    tok = open(os.path.join(out, f"{split}.tokens"), "rb").read()
    docs = open(os.path.join(out, f"{split}.docs"), "rb").read()
    assert tok[:8] == b"LILMTOKS" and docs[:8] == b"LILMDOCS"
    n_docs = struct.unpack_from("<Q", docs, 16)[0]
    ids = struct.unpack_from(f"<{(len(tok) - 128) // 2}H", tok, 128)
    out_docs = []
    for i in range(n_docs):
        off, cnt, nb = struct.unpack_from("<QQQ", docs, 64 + 24 * i)
        body = ids[off:off + cnt]
        assert body[-1] == 2
        text = bytes(x - 4 for x in body[:-1])
        assert len(text) == nb
        out_docs.append(text.decode())
    return out_docs


@case
def prepare_babylm_rule():
    d = os.path.join(TMP, "BabyLM")
    os.makedirs(d, exist_ok=True)
    a, b = babylm_table(37, 20), babylm_table(45, 21)
    pq.write_table(a, os.path.join(d, "train-00000-of-00002.parquet"), compression="zstd")
    pq.write_table(b, os.path.join(d, "train-00001-of-00002.parquet"), compression="snappy")
    out = os.path.join(TMP, "babylm-ds")
    lilm("prepare", "babylm", "--tokenizer", "bytes", "--out", out, d, "--val-rule", "index%10<2", "--quiet")
    rows = a.column("text").to_pylist() + b.column("text").to_pylist()
    want_val = [t for i, t in enumerate(rows) if i % 10 < 2 and t]
    want_train = [t for i, t in enumerate(rows) if i % 10 >= 2 and t]
    assert read_split(out, "val") == want_val
    assert read_split(out, "train") == want_train
    # second run: nothing to do
    r = lilm("prepare", "babylm", "--tokenizer", "bytes", "--out", out, d, "--val-rule", "index%10<2", "--quiet")
    assert "up to date" in r.stdout


@case
def broken_files_fail_clearly():
    t = simplestories_table(400, 30)
    good = os.path.join(TMP, "good.parquet")
    pq.write_table(t, good, row_group_size=100)
    data = open(good, "rb").read()
    cases = []  # (file, column, text in the message); exit 2 (bad input) unless the needle names a missing feature
    trunc = os.path.join(TMP, "truncated.parquet")
    open(trunc, "wb").write(data[: len(data) // 2])
    cases.append((trunc, "story", "not a Parquet file"))
    footer_len = struct.unpack_from("<I", data, len(data) - 8)[0]
    bad_footer = bytearray(data)
    for k in range(20):
        bad_footer[len(data) - 8 - footer_len + 5 + k * 3] ^= 0xA5
    p = os.path.join(TMP, "badfooter.parquet")
    open(p, "wb").write(bad_footer)
    cases.append((p, "story", ""))
    cases.append((good, "no_such_column", "its columns: story, topic"))
    cases.append((good, "word_count", "not a string column"))
    p = os.path.join(TMP, "brotli.parquet")
    pq.write_table(t, p, compression="brotli")
    cases.append((p, "story", "BROTLI is not supported"))
    p = os.path.join(TMP, "nested.parquet")
    pq.write_table(pa.table({"texts": pa.array([["a", "b"], ["c"]], type=pa.list_(pa.string()))}), p)
    cases.append((p, "texts", "not a string column"))
    p = os.path.join(TMP, "bitflip.parquet")  # a flipped byte inside a CRC-protected page
    pq.write_table(t, os.path.join(TMP, "crc.parquet"), write_page_checksum=True, compression="none")
    crc = bytearray(open(os.path.join(TMP, "crc.parquet"), "rb").read())
    crc[300] ^= 0xFF
    open(p, "wb").write(crc)
    cases.append((p, "story", "page checksum mismatch"))
    for path, column, needle in cases:
        r = lilm("peek", path, "--column", column, "--limit", "-1", check=False)
        want = 1 if "not supported" in needle else 2  # a feature lilm lacks is not the user's mistake
        assert r.returncode == want, f"{path}: exit {r.returncode}, stderr {r.stderr}"
        assert needle in r.stderr, f"{path}: '{needle}' not in {r.stderr!r}"
        assert "Sanitizer" not in r.stderr
    # prepare on a broken file leaves nothing behind
    out = os.path.join(TMP, "broken-ds")
    r = lilm("prepare", "parquet", "--tokenizer", "bytes", "--out", out, trunc, "--column", "story", check=False)
    assert r.returncode == 2 and not os.listdir(out)


@case
def mutated_files_never_crash():
    """Random byte flips and truncations: every run must end with exit 0 or 2
    (a clear error), never a signal; bounded to 120 files."""
    rnd = random.Random(7)
    t = simplestories_table(300, 40, nulls=True)
    srcs = []
    for codec, version, dictionary in [("snappy", "1.0", True), ("zstd", "2.0", False), ("gzip", "2.0", True)]:
        p = os.path.join(TMP, f"m_{codec}_{version}.parquet")
        pq.write_table(t, p, compression=codec, data_page_version=version, use_dictionary=dictionary,
                       row_group_size=100, data_page_size=2048)
        srcs.append(open(p, "rb").read())
    target = os.path.join(TMP, "mutant.parquet")
    outcomes = {}
    for i in range(120):
        d = bytearray(rnd.choice(srcs))
        if rnd.random() < 0.3:
            d = d[:rnd.randrange(len(d))]
        else:
            for _ in range(rnd.randint(1, 6)):
                d[rnd.randrange(len(d))] = rnd.randrange(256)
        open(target, "wb").write(d)
        r = lilm("peek", target, "--column", "story", "--limit", "-1", check=False)
        assert r.returncode in (0, 1, 2), f"mutant {i}: exit {r.returncode}\n{r.stderr}"
        assert r.returncode == 0 or r.stderr.startswith("lilm data peek:"), r.stderr
        outcomes[r.returncode] = outcomes.get(r.returncode, 0) + 1
    assert outcomes.get(2, 0) > 20, outcomes  # most mutants are caught


run()
