"""test_data_spm.py: datasets prepared with the reference's SentencePiece models.

`lilm data prepare` with a real .model file must store exactly the ids the
sentencepiece Python package gives for each document, followed by EOS, with
the document's UTF-8 byte count, for the BabyLM and TinyStories copies in
../shared (small slices, to stay quick); meta.json and the shard header must
carry the model file's SHA-256.
"""
import atexit
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile

import sentencepiece as spm

from harness import case, lilm_bin, run, shared

TMP = tempfile.mkdtemp(prefix="lilm-test-spm-")
atexit.register(shutil.rmtree, TMP, True)


def read_split(out, split):
    tok = open(os.path.join(out, f"{split}.tokens"), "rb").read()
    docs = open(os.path.join(out, f"{split}.docs"), "rb").read()
    width = struct.unpack_from("<I", tok, 12)[0]
    n_docs = struct.unpack_from("<Q", docs, 16)[0]
    fmt = "H" if width == 2 else "I"
    ids = struct.unpack_from(f"<{(len(tok) - 128) // width}{fmt}", tok, 128)
    out_docs = []
    for i in range(n_docs):
        off, cnt, nb = struct.unpack_from("<QQQ", docs, 64 + 24 * i)
        out_docs.append((list(ids[off:off + cnt]), nb))
    return out_docs, tok[64:96].hex()


def prepare(recipe, model, out, *inputs):
    r = subprocess.run([lilm_bin(), "data", "prepare", recipe, "--tokenizer", model, "--out", out, *inputs, "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def check(out, model, texts_by_split):
    sp = spm.SentencePieceProcessor(model_file=model)
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    for split, texts in texts_by_split.items():
        docs, header_sha = read_split(out, split)
        assert header_sha == sha
        assert len(docs) == len(texts), (split, len(docs), len(texts))
        want = sp.encode(texts)
        for i, ((ids, nb), w, t) in enumerate(zip(docs, want, texts)):
            assert ids == w + [sp.eos_id()], f"{split} doc {i}: ids differ from sentencepiece"
            assert nb == len(t.encode("utf-8"))
    meta = json.load(open(os.path.join(out, "meta.json")))
    assert meta["tokenizer"]["sha256"] == sha and meta["tokenizer"]["vocab_size"] == sp.vocab_size()


@case
def babylm_with_baby_unigram_12k():
    model = shared("tokenizers/baby_unigram_12K.model")
    d = os.path.join(TMP, "babylm-in")
    os.makedirs(d)
    src = shared("data/babylm/train/strict_2024_100M_snippets/switchboard.jsonl")
    rows = [json.loads(l)["text"] for l in open(src, encoding="utf-8")][:12]
    with open(os.path.join(d, "part.jsonl"), "w", encoding="utf-8") as f:
        for t in rows:
            f.write(json.dumps({"text": t}) + "\n")
    dev = [l.rstrip("\n") for l in open(shared("data/babylm/dev/strict_small_2024/switchboard.dev"), encoding="utf-8")]
    dev = [l for l in dev[:3000] if l.strip()]
    with open(os.path.join(d, "dev.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(dev) + "\n")
    out = os.path.join(TMP, "babylm")
    prepare("babylm", model, out, os.path.join(d, "part.jsonl"), "--val", os.path.join(d, "dev.txt"))
    check(out, model, {"train": rows, "val": dev})


@case
def tinystories_with_unigram_8k_and_bpe():
    text = open(shared("data/tinystories/validation/tinystories_v1_validation_head.txt"), encoding="utf-8").read()
    lines = [l for l in text.split("\n") if l.strip()][:400]
    d = os.path.join(TMP, "tiny-in")
    os.makedirs(os.path.join(d, "validation"))
    os.makedirs(os.path.join(d, "train"))
    with open(os.path.join(d, "train", "a.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:300]) + "\n")
    with open(os.path.join(d, "validation", "b.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(lines[300:]) + "\n")
    for name in ("unigram_8K", "bpe_8K"):
        model = shared(f"tokenizers/{name}.model")
        out = os.path.join(TMP, f"tiny-{name}")
        prepare("tinystories", model, out, d)
        check(out, model, {"train": lines[:300], "val": lines[300:]})


run()
