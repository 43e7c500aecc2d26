"""train.py: the reference's training pipeline, in PyTorch, for comparison runs.

What it does, from shared/SEED_REFERENCE.md:
  data    documents -> SentencePiece ids + EOS. "packed" (BabyLM): the train
          documents are concatenated and cut into windows of T+1 tokens that
          share one token with the next (inputs = w[:-1], targets = w[1:], so
          every token but the first is a target once per epoch), streamed
          through a 1024-block shuffle buffer, a new order each epoch. "docs"
          (SimpleStories): one document per row, truncated to T+1, padded with
          pad id 3 (pad targets are ignored by the loss).
  split   a document is validation when its index satisfies the split rule
          ("index % 10000 < 100" as the reference; any "index % A < B").
  train   AdamW (0.9, 0.95), eps 1e-8, decay 0.02 on matrices only; one-cycle
          lr (start lr/6, peak at 10%, end lr/120); gradient accumulation to
          64 sequences; a micro-batch whose loss is over 10x the median of the
          last 100 is skipped; NaN grads zeroed, global norm clipped to 1.0;
          bf16 autocast on CUDA. The number of optimizer steps for the budget is
          estimated from a timing probe (a few micro-batch steps of a throw-away
          copy, outside the budget), then the loop runs that schedule and stops
          early only if the budget ends.
  eval    full validation BPB = sum CE nats / (ln 2 * UTF-8 bytes of the
          validation documents). As lilm's eval (docs/data.md): an EOS is put
          before the validation stream (packed) or before each document (docs),
          which is then cut into windows of T+1 tokens overlapping by one, so
          every validation token, EOS included, is predicted exactly once.
Windows and evaluation follow lilm's loader and evaluator (docs/data.md), so
both systems train on the same kind of windows and score the same targets.
"""
import glob
import hashlib
import json
import math
import os
import re
import statistics
import time
from collections import deque

import numpy as np
import torch

import model as M

EOS_ID = 2


# ---------------------------------------------------------------- documents

def read_documents(paths, text_key="text"):
    """Documents from .jsonl (one JSON object per line, field `text_key`) or
    .txt (one document per non-empty line) files, in sorted path order."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(glob.glob(os.path.join(p, "*.jsonl")) + glob.glob(os.path.join(p, "*.txt")))
        else:
            files.append(p)
    if not files:
        raise FileNotFoundError(f"no .jsonl or .txt files in {paths}")
    docs = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                if f.endswith(".jsonl"):
                    obj = json.loads(line)
                    if text_key not in obj:
                        raise ValueError(f"{f}:{n}: no field {text_key!r}")
                    docs.append(obj[text_key])
                else:
                    docs.append(line.rstrip("\n"))
    return docs, files


def parse_split_rule(rule):
    """'index % A < B' -> predicate on the document index."""
    m = re.fullmatch(r"\s*index\s*%\s*(\d+)\s*<\s*(\d+)\s*", rule)
    if not m:
        raise ValueError(f"split rule {rule!r}: expected 'index % A < B'")
    a, b = int(m.group(1)), int(m.group(2))
    return lambda i: i % a < b


class TokenData:
    """Tokenised documents of one split: ids (each doc ends with EOS) and the
    UTF-8 byte count of each document's original text."""

    def __init__(self, docs, n_bytes, vocab_size, eos_id=EOS_ID, pad_id=M.PAD_ID):
        self.docs, self.n_bytes = docs, n_bytes
        self.vocab_size, self.eos_id, self.pad_id = vocab_size, eos_id, pad_id

    @property
    def n_tokens(self):
        return sum(len(d) for d in self.docs)

    def stream(self):
        return np.concatenate(self.docs) if self.docs else np.zeros(0, np.int32)


def tokenize(texts, sp_model, threads=None, cache_dir=None, sources=()):
    """Returns (list of int32 arrays with EOS appended, byte counts, vocab size);
    cached as .npz keyed by the sources, tokenizer and number of documents."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=sp_model)
    eos = sp.eos_id()
    if eos != EOS_ID or sp.pad_id() != M.PAD_ID:
        raise ValueError(f"{sp_model}: eos {eos} pad {sp.pad_id()}; the reference uses eos 2, pad 3")
    n_bytes = [len(t.encode("utf-8")) for t in texts]
    key = None
    if cache_dir:
        h = hashlib.sha256()
        for s in list(sources) + [sp_model]:
            h.update(s.encode())
            with open(s, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
        h.update(str(len(texts)).encode())
        key = os.path.join(cache_dir, h.hexdigest()[:24] + ".npz")
        if os.path.exists(key):
            z = np.load(key)
            offs = z["offsets"]
            flat = z["ids"]
            return [flat[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)], n_bytes, sp.vocab_size()
    ids = sp.encode(texts, num_threads=threads or os.cpu_count())
    docs = [np.asarray(d + [eos], dtype=np.int32) for d in ids]
    if key:
        os.makedirs(cache_dir, exist_ok=True)
        offs = np.cumsum([0] + [len(d) for d in docs])
        tmp = key + ".tmp.npz"
        np.savez(tmp, ids=np.concatenate(docs), offsets=offs)
        os.replace(tmp, key)
    return docs, n_bytes, sp.vocab_size()


def split_data(docs, n_bytes, vocab_size, rule):
    is_val = parse_split_rule(rule)
    tr = [i for i in range(len(docs)) if not is_val(i)]
    va = [i for i in range(len(docs)) if is_val(i)]
    if not tr or not va:
        raise ValueError(f"split rule {rule!r} leaves {len(tr)} train and {len(va)} validation "
                         f"documents of {len(docs)}; use e.g. --val-rule 'index % 100 < 1'")
    mk = lambda ix: TokenData([docs[i] for i in ix], [n_bytes[i] for i in ix], vocab_size)  # noqa: E731
    return mk(tr), mk(va)


# ---------------------------------------------------------------- batches

class PackedLoader:
    """Windows of T+1 tokens cut from the packed train stream at stride T,
    shuffled through a `buffer`-block shuffle buffer; endless (a new order
    every epoch)."""

    def __init__(self, data, T, batch, buffer=1024, seed=42):
        self.stream = data.stream()
        self.T, self.batch, self.buffer = T, batch, buffer
        self.n_blocks = (len(self.stream) - 1) // T
        if self.n_blocks < batch:
            raise ValueError(f"{len(self.stream)} train tokens make {self.n_blocks} blocks of {T + 1}; "
                             f"need at least a batch of {batch}")
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self._gen = self._blocks()

    def _blocks(self):
        while True:
            buf = []
            for b in range(self.n_blocks):
                blk = self.stream[b * self.T:b * self.T + self.T + 1]
                if len(buf) < self.buffer:
                    buf.append(blk)
                    continue
                j = self.rng.integers(len(buf))
                yield buf[j]
                buf[j] = blk
            order = self.rng.permutation(len(buf))
            for j in order:
                yield buf[j]
            self.epoch += 1

    def next(self):
        x = np.stack([next(self._gen) for _ in range(self.batch)]).astype(np.int64)
        return torch.from_numpy(x[:, :-1]), torch.from_numpy(x[:, 1:])


class DocLoader:
    """One document per row, truncated to T+1 tokens, padded with pad id;
    documents in a new random order each epoch."""

    def __init__(self, data, T, batch, seed=42):
        self.data, self.T, self.batch = data, T, batch
        self.rng = np.random.default_rng(seed)
        self.order, self.pos, self.epoch = self.rng.permutation(len(data.docs)), 0, 0

    def next(self):
        x = np.full((self.batch, self.T + 1), self.data.pad_id, dtype=np.int64)
        for r in range(self.batch):
            if self.pos == len(self.order):
                self.order, self.pos = self.rng.permutation(len(self.data.docs)), 0
                self.epoch += 1
            d = self.data.docs[self.order[self.pos]][:self.T + 1]
            self.pos += 1
            x[r, :len(d)] = d
        return torch.from_numpy(x[:, :-1]), torch.from_numpy(x[:, 1:])


def _windows(s, T, pad):
    """Rows of T+1 tokens from `s` at stride T (the last one padded)."""
    rows = []
    for start in range(0, max(len(s) - 1, 0), T):
        w = s[start:start + T + 1]
        if len(w) < T + 1:
            w = np.concatenate([w, np.full(T + 1 - len(w), pad, np.int64)])
        rows.append(w)
    return rows


def val_windows(data, T, mode="packed"):
    """(N, T+1) evaluation windows. packed: EOS + the whole validation stream;
    docs: EOS + each document on its own rows. Every token is a target once."""
    eos = np.array([data.eos_id], np.int64)
    if mode == "packed":
        rows = _windows(np.concatenate([eos, data.stream().astype(np.int64)]), T, data.pad_id)
    else:
        rows = [r for d in data.docs
                for r in _windows(np.concatenate([eos, d.astype(np.int64)]), T, data.pad_id)]
    return torch.from_numpy(np.stack(rows))


# ---------------------------------------------------------------- training

def autocast(device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def evaluate(model, windows, device, batch, n_bytes=None, max_batches=None):
    """Sum CE (nats) and count over all non-pad targets of `windows`; BPB when
    n_bytes (UTF-8 bytes of the validation text) is given."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    nb = math.ceil(len(windows) / batch)
    for i in range(nb if max_batches is None else min(nb, max_batches)):
        w = windows[i * batch:(i + 1) * batch].to(device)
        x, y = w[:, :-1], w[:, 1:]
        with autocast(device):
            logits = model(x)
        ce = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y.flatten(),
                                               ignore_index=M.PAD_ID, reduction="sum")
        total += ce.item()
        count += int((y != M.PAD_ID).sum())
    model.train(was_training)
    out = {"loss": total / max(count, 1), "sum_nats": total, "tokens": count}
    if n_bytes:
        out["bpb"] = total / (math.log(2) * n_bytes)
        out["bytes"] = n_bytes
    return out


class Trainer:
    """One model + optimizer + schedule; `step()` does one optimizer step of
    `accum` micro-batches."""

    def __init__(self, cfg, loader, device, lr, total_steps, micro_batch, accum_batch=64,
                 compile=False, seed=42):
        torch.manual_seed(seed)
        self.device = device
        self.model = M.Transformer(cfg).to(device)
        self.fwd = torch.compile(self.model) if compile else self.model
        self.opt = M.build_optimizer(self.model, lr, fused=(device.type == "cuda"))
        self.sched = M.build_schedule(self.opt, lr, max(total_steps, 2))
        self.total_steps = total_steps
        self.loader = loader
        if accum_batch % micro_batch:
            raise ValueError(f"micro batch {micro_batch} must divide the accumulated batch {accum_batch}")
        self.accum = accum_batch // micro_batch
        self.recent = deque(maxlen=100)
        self.skipped = 0
        self.steps = 0
        self.tokens = 0

    def micro_loss(self, x, y):
        with autocast(self.device):
            logits = self.fwd(x)
        return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), y.flatten(),
                                                 ignore_index=M.PAD_ID)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        losses = []
        for _ in range(self.accum):
            x, y = self.loader.next()
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            loss = self.micro_loss(x, y)
            lv = loss.item()
            if self.recent and lv > 10 * statistics.median(self.recent):
                self.skipped += 1
                continue
            self.recent.append(lv)
            (loss / self.accum).backward()
            losses.append(lv)
            self.tokens += int((y != M.PAD_ID).sum())
        norm = float(M.clean_and_clip(self.model, 1.0))
        lr = self.opt.param_groups[0]["lr"]
        self.opt.step()
        if self.steps + 1 < self.sched.total_steps:
            self.sched.step()
        self.steps += 1
        return {"step": self.steps, "loss": sum(losses) / max(len(losses), 1), "lr": lr,
                "grad_norm": norm}

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()


def probe_step_time(cfg, loader, device, lr, micro_batch, accum_batch, compile, steps=3):
    """Seconds per optimizer step, estimated on a throw-away copy: one warm-up
    then `steps` timed steps of a single micro-batch each, times the number of
    micro-batches per optimizer step (slightly high: the clip and AdamW update
    are counted once per micro-batch)."""
    t = Trainer(cfg, loader, device, lr, 1000, micro_batch, micro_batch, compile)
    t.step()
    t.sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        t.step()
    t.sync()
    return (time.perf_counter() - t0) / steps * (accum_batch // micro_batch)


def train_budgeted(cfg, train_data, val_data, device, minutes, lr=6e-3, micro_batch=8,
                   accum_batch=64, mode="packed", compile=False, seed=42, val_every=400,
                   val_batches=30, log=None, probe_steps=3, max_steps=None):
    """The whole comparison run; returns a dict of results."""
    T = cfg.context
    mk = (lambda s: PackedLoader(train_data, T, micro_batch, seed=s)) if mode == "packed" else \
        (lambda s: DocLoader(train_data, T, micro_batch, seed=s))
    budget_s = minutes * 60.0
    t_probe = time.perf_counter()
    step_s = probe_step_time(cfg, mk(seed + 1), device, lr, micro_batch, accum_batch, compile,
                             probe_steps)
    probe_s = time.perf_counter() - t_probe
    total_steps = max(2, int(budget_s / step_s))
    if max_steps:
        total_steps = min(total_steps, max_steps)
    tr = Trainer(cfg, mk(seed), device, lr, total_steps, micro_batch, accum_batch, compile, seed)
    windows = val_windows(val_data, T, mode)
    history, best_val = [], None
    tr.sync()
    t0 = time.perf_counter()
    while tr.steps < total_steps and time.perf_counter() - t0 < budget_s:
        rec = tr.step()
        rec["elapsed_s"] = time.perf_counter() - t0
        rec["tokens"] = tr.tokens
        if val_every and tr.steps % val_every == 0:
            v = evaluate(tr.model, windows, device, micro_batch, max_batches=val_batches)
            rec["val_loss"] = v["loss"]
            best_val = v["loss"] if best_val is None else min(best_val, v["loss"])
        history.append(rec)
        if log:
            log(rec)
    tr.sync()
    train_s = time.perf_counter() - t0
    t_eval = time.perf_counter()
    full = evaluate(tr.model, windows, device, micro_batch, n_bytes=sum(val_data.n_bytes))
    eval_s = time.perf_counter() - t_eval
    return {"model": tr.model, "params": M.param_count(tr.model), "probe_step_s": step_s,
            "probe_s": probe_s, "steps_planned": total_steps, "steps_done": tr.steps,
            "train_s": train_s, "tokens": tr.tokens, "tokens_per_s": tr.tokens / train_s,
            "skipped_micro_batches": tr.skipped, "epochs": getattr(tr.loader, "epoch", 0),
            "final_train_loss": history[-1]["loss"] if history else None,
            "best_sampled_val_loss": best_val, "val_loss": full["loss"], "val_bpb": full["bpb"],
            "val_tokens": full["tokens"], "val_bytes": full["bytes"], "eval_s": eval_s,
            "history": history}
