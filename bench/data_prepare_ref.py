"""data_prepare_ref.py: a Python pipeline doing what `lilm data prepare babylm` does,
for the throughput comparison in bench/results/data.md.

Same inputs, same work: read every train file (JSONL: json.loads each line and
take "text"; text files: one document per non-empty line) and the validation
files, tokenise each document with the sentencepiece Python package, append
EOS, count its UTF-8 bytes, and write per split a uint16 token array and a
(offset, count, bytes) index, in input order. Tokenisation runs on all cores
with multiprocessing (Pool.imap over chunks, which keeps the order), as a
careful Python user would write it.

    python3 bench/data_prepare_ref.py MODEL OUT_DIR --val FILE... -- TRAIN_PATH...
    (REF_PROCS=N sets the number of worker processes; default: all cores)
"""
import json
import multiprocessing as mp
import os
import resource
import sys
import time

import numpy as np
import sentencepiece as spm

_SP = None


def _init(model):
    global _SP
    _SP = spm.SentencePieceProcessor(model_file=model)


def _encode(chunk):
    kind, lines = chunk
    texts = []
    for line in lines:
        if kind == "jsonl":
            t = json.loads(line)["text"]
        else:
            t = line.rstrip("\r")
        if t.strip() if kind == "text" else t:
            texts.append(t)
    ids = _SP.encode(texts)
    eos = _SP.eos_id()
    return [(x + [eos], len(t.encode("utf-8"))) for x, t in zip(ids, texts)]


def files_under(path):
    if os.path.isfile(path):
        return [path]
    out = []
    for root, _, names in os.walk(path):
        for n in names:
            if not n.startswith(".") and n.rsplit(".", 1)[-1] in ("jsonl", "json", "txt", "train", "dev", "test"):
                out.append(os.path.join(root, n))
    return sorted(out)


def chunks(files, target=1 << 18):
    """Chunks of about 256 KB of lines, across all files, in order."""
    for path in files:
        kind = "jsonl" if path.endswith((".jsonl", ".json")) else "text"
        with open(path, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f]
        part, size = [], 0
        for l in lines:
            if not l.strip():
                continue
            part.append(l)
            size += len(l)
            if size >= target:
                yield kind, part
                part, size = [], 0
        if part:
            yield kind, part


def write_split(out, split, docs):
    counts = np.array([len(ids) for ids, _ in docs], dtype=np.uint64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.uint64)
    nbytes = np.array([b for _, b in docs], dtype=np.uint64)
    tokens = np.fromiter((t for ids, _ in docs for t in ids), dtype=np.uint16, count=int(counts.sum()))
    tokens.tofile(os.path.join(out, f"{split}.tokens.npy.bin"))
    np.stack([offsets, counts, nbytes], axis=1).tofile(os.path.join(out, f"{split}.docs.npy.bin"))
    return len(docs), int(counts.sum()), int(nbytes.sum())


def main():
    args = sys.argv[1:]
    model, out = args[0], args[1]
    val = args[args.index("--val") + 1:args.index("--")]
    train = args[args.index("--") + 1:]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    total = 0
    procs = int(os.environ.get("REF_PROCS", "0")) or os.cpu_count()
    pool = mp.Pool(procs, initializer=_init, initargs=(model,))
    if True:
        result = {}
        for split, paths in (("train", train), ("val", val)):
            files = [f for p in paths for f in files_under(p)]
            total += sum(os.path.getsize(f) for f in files)
            docs = []
            for part in pool.imap(_encode, chunks(files), chunksize=1):
                docs.extend(part)
            result[split] = write_split(out, split, docs)
    pool.close()
    pool.join()  # reaps the workers, so their CPU time is in RUSAGE_CHILDREN
    dt = time.time() - t0
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "input_bytes": total, "mb_per_s": total / dt / 1e6,
                      "splits": result}))


if __name__ == "__main__":
    main()
