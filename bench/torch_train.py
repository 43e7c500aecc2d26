"""torch_train.py: a budgeted PyTorch training run of the reference, for comparison with lilm.

    python3 bench/torch_train.py --config babylm --minutes 30 \
        --data ../shared/data/babylm/train/strict_2024_100M_snippets \
        --tokenizer ../shared/tokenizers/baby_unigram_12K.model \
        --val-rule 'index % 100 < 1' [--layers N] [--batch 8] [--lr 6e-3] \
        [--device cpu|cuda] [--compile] [--threads 2] [--out results.json] [--save W.safetensors]

Reads documents (.jsonl field --text-key, or .txt one per line; files or
directories), tokenises them with the sentencepiece package (cached under
--cache-dir), splits train/validation by document index (the reference's rule
is 'index % 10000 < 100'; with the small shared BabyLM subset use --val-rule),
trains with the reference recipe (tests/torch_ref/train.py) for --minutes, then
reports full-validation BPB. Prints the result JSON (without the per-step
history, which --out keeps) and optionally saves the weights as safetensors
with the reference's state_dict names and "lilm_model" metadata.

--dataset DIR reads a lilm prepared dataset instead (`lilm data prepare`:
<split>.tokens and <split>.docs, format in src/data/dataset.h), so both
systems train and validate on exactly the same token ids and byte counts.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch_ref"))
import model as M  # noqa: E402
import train as TR  # noqa: E402


def read_lilm_split(d, split):
    """One split of a lilm dataset dir as (docs with their EOS, byte counts, vocab)."""
    with open(os.path.join(d, split + ".tokens"), "rb") as f:
        head = f.read(128)
        if head[:8] != b"LILMTOKS":
            raise ValueError(f"{d}/{split}.tokens is not a lilm token shard")
        width, vocab = np.frombuffer(head[12:20], "<u4")
        n_tokens = int(np.frombuffer(head[32:40], "<u8")[0])
        toks = np.frombuffer(f.read(n_tokens * int(width)), "<u2" if width == 2 else "<u4").astype(np.int32)
    with open(os.path.join(d, split + ".docs"), "rb") as f:
        head = f.read(64)
        if head[:8] != b"LILMDOCS":
            raise ValueError(f"{d}/{split}.docs is not a lilm document index")
        n_docs = int(np.frombuffer(head[16:24], "<u8")[0])
        idx = np.frombuffer(f.read(n_docs * 24), "<u8").reshape(n_docs, 3)
    docs = [toks[o:o + n] for o, n in zip(idx[:, 0].astype(np.int64), idx[:, 1].astype(np.int64))]
    return docs, [int(b) for b in idx[:, 2]], int(vocab)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(M.PRESETS), default="babylm")
    ap.add_argument("--data", nargs="+", help=".jsonl/.txt files or directories")
    ap.add_argument("--dataset", help="a lilm prepared dataset dir (train and val splits) instead of --data")
    ap.add_argument("--text-key", default="text", help="jsonl field (SimpleStories: story)")
    ap.add_argument("--tokenizer", help="SentencePiece .model (with --data)")
    ap.add_argument("--val-rule", default="index % 10000 < 100")
    ap.add_argument("--mode", choices=("packed", "docs"), default=None,
                    help="packed blocks (BabyLM, default) or one document per row (SimpleStories)")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--layers", type=int, default=None, help="override the preset's depth")
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--latent-dim", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8, help="micro-batch (accumulated to 64)")
    ap.add_argument("--accum-batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--attn", choices=("manual", "sdpa"), default="manual")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--val-every", type=int, default=400)
    ap.add_argument("--max-steps", type=int, default=None, help="cap the planned steps (tests)")
    ap.add_argument("--max-docs", type=int, default=None, help="use only the first N documents")
    ap.add_argument("--cache-dir", default=os.path.join("build", "torch_train_cache"))
    ap.add_argument("--out", help="write the full results (with per-step history) here")
    ap.add_argument("--save", help="save the final weights (safetensors) here")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    t0 = time.perf_counter()
    if a.dataset:
        tr_docs, tr_bytes, vocab = read_lilm_split(a.dataset, "train")
        va_docs, va_bytes, _ = read_lilm_split(a.dataset, "val")
        train_data = TR.TokenData(tr_docs, tr_bytes, vocab)
        val_data = TR.TokenData(va_docs, va_bytes, vocab)
        a.val_rule = "the dataset's val split"
    else:
        if not a.data or not a.tokenizer:
            ap.error("give --dataset DIR, or --data FILES with --tokenizer MODEL")
        texts, files = TR.read_documents(a.data, a.text_key)
        if a.max_docs:
            texts = texts[:a.max_docs]
        docs, n_bytes, vocab = TR.tokenize(texts, a.tokenizer, threads=a.threads,
                                           cache_dir=a.cache_dir, sources=files)
        train_data, val_data = TR.split_data(docs, n_bytes, vocab, a.val_rule)
    prep_s = time.perf_counter() - t0

    kw = dict(M.PRESETS[a.config], vocab_size=vocab, context=a.context, latent_dim=a.latent_dim,
              attn_impl=a.attn)
    if a.layers:
        kw["n_layers"] = a.layers
    cfg = M.Config(**kw)
    mode = a.mode or ("packed" if a.config == "babylm" else "docs")

    def log(rec):
        if not a.quiet:
            print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in rec.items()}),
                  file=sys.stderr, flush=True)

    res = TR.train_budgeted(cfg, train_data, val_data, device, a.minutes, lr=a.lr,
                            micro_batch=a.batch, accum_batch=a.accum_batch, mode=mode,
                            compile=a.compile, seed=a.seed, val_every=a.val_every, log=log,
                            max_steps=a.max_steps)
    model = res.pop("model")
    res.update({"bench": "torch_train", "config": a.config, "model_config": cfg.to_meta(),
                "mode": mode, "device": a.device, "compile": a.compile, "attn": a.attn,
                "threads": a.threads, "micro_batch": a.batch, "accum_batch": a.accum_batch,
                "lr": a.lr, "minutes": a.minutes, "val_rule": a.val_rule,
                "tokenizer": a.tokenizer, "data": a.data, "prep_s": prep_s,
                "train_docs": len(train_data.docs), "train_tokens_available": train_data.n_tokens,
                "val_docs": len(val_data.docs), "torch": torch.__version__})
    history = res.pop("history")
    print(json.dumps(res), flush=True)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(dict(res, history=history), fh, indent=1)
        os.replace(tmp, a.out)
    if a.save:
        from safetensors.torch import save_file
        state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
        tmp = a.save + ".tmp"
        save_file(state, tmp, metadata={"lilm_model": json.dumps(cfg.to_meta()),
                                        "steps": str(res["steps_done"])})
        os.replace(tmp, a.save)


if __name__ == "__main__":
    main()
