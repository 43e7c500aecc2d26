"""tok_train_prepare.py: the bench corpus for `lilm tok train` vs spm_train.

Writes the BabyLM text of the shared data (the strict 100M snippets, JSONL field
"text", and the strict-small switchboard train file) as one text file, each
document's lines cut at the last space into lines of at most 1000 bytes, so both
trainers read exactly the same sentences.

Usage: python3 bench/tok_train_prepare.py SHARED_DIR OUT.txt
"""
import glob
import json
import os
import sys

LIMIT = 1000


def cut(line):
    b = line.encode("utf-8")
    while len(b) > LIMIT:
        sp = b.rfind(b" ", 0, LIMIT + 1)
        if sp <= 0:
            sp = LIMIT
            while sp > 0 and (b[sp] & 0xC0) == 0x80:
                sp -= 1
        yield b[:sp].decode("utf-8")
        b = b[sp:].lstrip(b" ")
    if b:
        yield b.decode("utf-8")


def main():
    shared, out = sys.argv[1], sys.argv[2]
    docs = []
    for path in sorted(glob.glob(os.path.join(shared, "data/babylm/train/strict_2024_100M_snippets/*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            docs.extend(json.loads(line)["text"] for line in f if line.strip())
    with open(os.path.join(shared, "data/babylm/train/strict_small_2024/switchboard.train"), encoding="utf-8") as f:
        docs.append(f.read())
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for d in docs:
            for line in d.split("\n"):
                for piece in cut(line):
                    if piece.strip():
                        f.write(piece + "\n")
                        n += 1
    print(f"{out}: {n} lines, {os.path.getsize(out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
