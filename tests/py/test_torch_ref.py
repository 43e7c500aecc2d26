"""test_torch_ref.py: self-tests of our PyTorch reference (tests/torch_ref/).

lilm's parity fixtures come from tests/torch_ref/model.py, so this checks that
model against the reference's facts (parameter counts, state_dict keys, the
persistent mask buffer, RoPE, the one-cycle schedule, AdamW with decay on
matrices only), against an independent numpy forward pass, and that the
committed fixtures in tests/fixtures/ regenerate from make_fixtures.py.
"""
import glob
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from harness import case, run, shared

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "torch_ref"))
import model as M  # noqa: E402
import make_fixtures as MF  # noqa: E402
import train as TR  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
torch.set_num_threads(1)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


@case
def param_counts_of_reference_configs():
    ss = M.param_count(M.Transformer(M.preset("simplestories")))
    bl = M.param_count(M.Transformer(M.preset("babylm")))
    check(ss == 7_296_768, f"SimpleStories params {ss}")
    check(bl == 11_193_792, f"BabyLM params {bl}")


@case
def state_dict_keys_are_the_reference_names():
    m = M.Transformer(M.preset("simplestories", n_layers=2, vocab_size=100, context=8))
    keys = set(m.state_dict())
    want = {"embedding.weight", "final_norm.weight"}
    for i in range(2):
        p = f"transformer_stack.{i}."
        want |= {p + "attention_norm.weight", p + "feedforward_norm.weight",
                 p + "attention.mask_array"}
        for lin in ("attention.q", "attention.kv", "attention.reproject", "ffn.0", "ffn.3"):
            want |= {p + lin + ".weight", p + lin + ".bias"}
    check(keys == want, f"keys differ: extra {keys - want}, missing {want - keys}")
    lat = M.Transformer(M.preset("babylm", n_layers=1, latent_dim=16, norm="layernorm"))
    lk = set(lat.state_dict())
    for k in ("attention.kv.0.weight", "attention.kv.0.bias", "attention.kv.1.weight",
              "attention.kv.1.bias", "attention_norm.bias", "feedforward_norm.bias"):
        check("transformer_stack.0." + k in lk, f"latent/layernorm model lacks {k}")
    check(tuple(lat.state_dict()["transformer_stack.0.attention.kv.0.weight"].shape) == (16, 192),
          "Linear weights are (out, in)")
    noffn = M.Transformer(M.preset("babylm", n_layers=1, norm="none", activation="none"))
    check(not any("ffn" in k or "norm" in k for k in noffn.state_dict()),
          "norm none / activation none must leave no norm or FFN parameters")


@case
def mask_buffer_is_persistent_and_optional_on_load():
    cfg = M.preset("babylm", n_layers=2, vocab_size=50, context=16)
    m = M.Transformer(cfg)
    mask = m.state_dict()["transformer_stack.0.attention.mask_array"]
    check(tuple(mask.shape) == (16, 16), "mask_array is context x context")
    check(torch.isinf(mask[0, 1]) and mask[0, 1] < 0 and mask[1, 0] == 0 and mask[3, 3] == 0,
          "mask_array: 0 on/below the diagonal, -inf above")
    weights_only = {k: v for k, v in m.state_dict().items() if "mask_array" not in k}
    m2 = M.Transformer(cfg)
    res = m2.load_state_dict(weights_only, strict=False)
    check(sorted(res.missing_keys) == [f"transformer_stack.{i}.attention.mask_array"
                                       for i in range(2)] and not res.unexpected_keys,
          f"strict=False load: {res}")
    try:
        M.Transformer(cfg).load_state_dict(weights_only, strict=True)
        raise AssertionError("strict=True load without mask_array should fail")
    except RuntimeError:
        pass
    x = torch.randint(0, 50, (2, 9))
    check(torch.equal(m(x), m2(x)), "same weights, different logits")


@case
def manual_attention_matches_sdpa():
    torch.manual_seed(0)
    cfg = M.preset("babylm", n_layers=2, vocab_size=64, context=32, v_dim=24, latent_dim=12)
    m = M.Transformer(cfg).double()
    x = torch.randint(0, 64, (2, 20))
    a = m(x)
    for b in m.transformer_stack:
        b.attention.attn_impl = "sdpa"
    d = (m(x) - a).abs().max().item()
    check(d < 1e-9, f"sdpa vs manual differ by {d}")


@case
def rope_rotates_interleaved_pairs_by_relative_position():
    cos, sin = M.rope_tables(64, 8, 10000.0)
    check(abs(cos[5, 1].item() - math.cos(5 * 10000 ** (-2 / 8))) < 1e-7, "angle formula")
    x = torch.zeros(1, 1, 64, 8, dtype=torch.float64)
    x[..., 0] = 1.0
    r = M.apply_rope(x, cos.double(), sin.double())
    check(torch.allclose(r[0, 0, 7, :2], torch.tensor([math.cos(7), math.sin(7)], dtype=torch.float64),
                         atol=1e-6) and r[0, 0, 7, 2:].abs().max() == 0, "pair (0, 1) rotated by pos")
    # q.k after RoPE depends only on the position difference
    q, k = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    Q = M.apply_rope(q.expand(1, 1, 64, 8), cos.double(), sin.double())[0, 0]
    K = M.apply_rope(k.expand(1, 1, 64, 8), cos.double(), sin.double())[0, 0]
    check(abs((Q[10] @ K[7]) - (Q[40] @ K[37])).item() < 1e-5, "RoPE is relative")


def numpy_forward(cfg, params, tokens):
    """An independent float64 forward pass written from the spec (no torch)."""
    P = {k: v.double().numpy() for k, v in params.items()}
    H, Dq, Dv, d = cfg.n_heads, cfg.qk_dim, cfg.v_dim, cfg.d_model
    eps = cfg.resolved_norm_eps()

    def norm(x, pre):
        if cfg.norm == "none":
            return x
        if cfg.norm == "rmsnorm":
            return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * P[pre + ".weight"]
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * P[pre + ".weight"] + P[pre + ".bias"]

    def lin(x, pre):
        return x @ P[pre + ".weight"].T + P[pre + ".bias"]

    T = len(tokens)
    x = P["embedding.weight"][tokens]
    ang = np.arange(T)[:, None] * cfg.rope_base ** (-2.0 * np.arange(Dq // 2) / Dq)
    c, s = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    for i in range(cfg.n_layers):
        p = f"transformer_stack.{i}."
        h = norm(x, p + "attention_norm")
        q = lin(h, p + "attention.q")
        kv = lin(lin(h, p + "attention.kv.0"), p + "attention.kv.1") if cfg.is_latent(i) \
            else lin(h, p + "attention.kv")
        k, v = kv[:, :H * Dq], kv[:, H * Dq:]
        out = np.zeros((T, H * Dv))
        for hh in range(H):
            qh, kh = q[:, hh * Dq:(hh + 1) * Dq].copy(), k[:, hh * Dq:(hh + 1) * Dq].copy()
            for a in (qh, kh):
                e, o = a[:, 0::2].copy(), a[:, 1::2].copy()
                a[:, 0::2], a[:, 1::2] = e * c - o * s, e * s + o * c
            sc = qh @ kh.T / math.sqrt(Dq)
            sc[np.triu_indices(T, 1)] = -np.inf
            w = np.exp(sc - sc.max(-1, keepdims=True))
            w /= w.sum(-1, keepdims=True)
            out[:, hh * Dv:(hh + 1) * Dv] = w @ v[:, hh * Dv:(hh + 1) * Dv]
        x = x + lin(out, p + "attention.reproject")
        if cfg.activation != "none":
            u = lin(norm(x, p + "feedforward_norm"), p + "ffn.0")
            u = np.maximum(u, 0) if cfg.activation == "relu" else \
                0.5 * u * (1 + np.vectorize(math.erf)(u / math.sqrt(2)))
            x = x + lin(u, p + "ffn.3")
    return norm(x, "final_norm") @ P["embedding.weight"].T


@case
def fixtures_match_an_independent_numpy_forward():
    for name in ("tiny_latent", "tiny_layernorm_relu", "tiny_nonorm_noffn"):
        path = os.path.join(FIXTURES, name + ".safetensors")
        t = load_file(path)
        with safe_open(path, "pt") as f:
            cfg = M.Config.from_meta(f.metadata()["lilm_model"])
        params = {k[6:]: v for k, v in t.items() if k.startswith("param.")}
        for b in range(t["inputs"].shape[0]):
            want = numpy_forward(cfg, params, t["inputs"][b].numpy())
            got = t["logits"][b].double().numpy()
            err = np.abs(got - want).max() / np.abs(want).max()
            check(err < 1e-6, f"{name} row {b}: numpy vs fixture logits rel err {err:.2e}")


@case
def loss_is_mean_over_non_pad_targets():
    torch.manual_seed(1)
    m = M.Transformer(M.Config(**MF.TINY)).double()
    x = torch.randint(4, 64, (2, 10))
    y = torch.randint(4, 64, (2, 10))
    y[1, 6:] = 3
    logp = torch.log_softmax(m(x), -1)
    nll = -logp.gather(-1, y[..., None])[..., 0]
    want = nll[y != 3].sum() / (y != 3).sum()
    check(abs(m.loss(x, y).item() - want.item()) < 1e-10, "loss ignores pad and averages the rest")


@case
def one_cycle_closed_form_matches_torch():
    for total in (20, 137, 1000):
        w = torch.nn.Parameter(torch.zeros(2, 2))
        opt = M.build_optimizer(torch.nn.ParameterList([w]), 6e-3)
        sched = M.build_schedule(opt, 6e-3, total)
        for s in range(total):
            lr = opt.param_groups[0]["lr"]
            check(abs(lr - M.one_cycle_lr(s, 6e-3, total)) < 1e-15, f"step {s}/{total}")
            opt.step()
            sched.step()
    check(abs(M.one_cycle_lr(0, 6e-3, 1000) - 1e-3) < 1e-15, "starts at lr/6")
    check(abs(M.one_cycle_lr(999, 6e-3, 1000) - 6e-3 / 120) < 1e-15, "ends at lr/6/20")


@case
def adamw_step_matches_the_documented_update():
    """One step by hand, as docs/reference-parity.md writes it, vs torch."""
    torch.manual_seed(2)
    m = torch.nn.Linear(5, 3).double()
    w0, b0 = m.weight.detach().clone(), m.bias.detach().clone()
    opt = M.build_optimizer(m, 1e-2)
    sched = M.build_schedule(opt, 1e-2, 20)
    gw, gb = torch.randn(3, 5, dtype=torch.float64) * 3, torch.randn(3, dtype=torch.float64)
    gw[0, 0] = float("nan")
    for _ in range(2):
        m.weight.grad, m.bias.grad = gw.clone(), gb.clone()
        norm = M.clean_and_clip(m, 1.0)
        opt.step()
        sched.step()
    g = [torch.nan_to_num(gw, nan=0.0), gb]
    total = math.sqrt(sum(float((x * x).sum()) for x in g))
    check(abs(float(norm) - total) < 1e-9, "grad norm after NaN zeroing")
    coef = min(1.0, 1.0 / (total + 1e-6))
    ws = [w0.clone(), b0.clone()]
    ms = [torch.zeros_like(w) for w in ws]
    vs = [torch.zeros_like(w) for w in ws]
    for step in (1, 2):
        lr = M.one_cycle_lr(step - 1, 1e-2, 20)
        for i, (w, wd) in enumerate(zip(ws, (0.02, 0.0))):
            gi = g[i] * coef
            w.mul_(1 - lr * wd)
            ms[i] = 0.9 * ms[i] + 0.1 * gi
            vs[i] = 0.95 * vs[i] + 0.05 * gi * gi
            mhat, vhat = ms[i] / (1 - 0.9 ** step), vs[i] / (1 - 0.95 ** step)
            w.sub_(lr * mhat / (vhat.sqrt() + 1e-8))
    check(torch.allclose(ws[0], m.weight, atol=1e-12), "weight after 2 AdamW steps")
    check(torch.allclose(ws[1], m.bias, atol=1e-12), "bias (no decay) after 2 AdamW steps")


def max_rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / a.abs().max().clamp_min(1e-30)).item()


@case
def fixtures_regenerate_from_make_fixtures():
    files = sorted(glob.glob(os.path.join(FIXTURES, "*.safetensors")))
    check([os.path.basename(f)[:-12] for f in files] == sorted(MF.CASES),
          f"tests/fixtures holds {files}, expected one file per case of make_fixtures.py")
    for name, spec in MF.CASES.items():
        path = os.path.join(FIXTURES, name + ".safetensors")
        have = load_file(path)
        with safe_open(path, "pt") as f:
            meta = f.metadata()
        new, new_meta = MF.build_case(name, spec)
        check({k: json.loads(v) for k, v in meta.items()} ==
              {k: json.loads(v) for k, v in new_meta.items()}, f"{name}: metadata differs")
        check(sorted(have) == sorted(new), f"{name}: tensor names differ")
        for k in have:
            check(have[k].dtype == new[k].dtype and have[k].shape == new[k].shape,
                  f"{name}/{k}: dtype/shape")
            if not have[k].dtype.is_floating_point:
                check(torch.equal(have[k], new[k]), f"{name}/{k} differs")
                continue
            err = max_rel(have[k], new[k])
            check(err <= 1e-6, f"{name}/{k}: regenerated differs by {err:.2e} (rerun make_fixtures.py?)")


@case
def fixture_format_and_size():
    total = 0
    for name, spec in MF.CASES.items():
        path = os.path.join(FIXTURES, name + ".safetensors")
        total += os.path.getsize(path)
        t = load_file(path)
        with safe_open(path, "pt") as f:
            meta = f.metadata()
        cfg = M.Config.from_meta(meta["lilm_model"])
        B, T, V = spec["B"], spec["T"], cfg.vocab_size
        check(t["inputs"].dtype == torch.int32 and tuple(t["inputs"].shape) == (B, T), "inputs")
        check(t["targets"].dtype == torch.int32 and (t["targets"] == cfg.pad_id).any(), "targets")
        check(tuple(t["logits"].shape) == (B, T, V) and t["logits"].dtype == torch.float32, "logits")
        check(tuple(t["loss"].shape) == (1,) and tuple(t["step_loss"].shape) == (3,), "loss")
        ref = M.Transformer(cfg)
        init = MF.initial_params(t, ref, spec["seed"])
        for k, p in ref.named_parameters():
            check(tuple(init[k].shape) == tuple(p.shape), f"{name}: initial {k}")
            n = t["idx." + k].numel() if "idx." + k in t else p.numel()
            check(t["grad." + k].numel() == n and t["step3." + k].numel() == n, f"{name}: {k}")
            moved = (t["step3." + k].double() -
                     (init[k].flatten()[t["idx." + k].long()] if "idx." + k in t
                      else init[k]).double()).abs().max()
            check(moved > 1e-4, f"{name}: {k} did not move in 3 steps")
        n_params = len(list(ref.parameters()))
        stored = "gen." if spec["sampled"] else "param."
        check(len([k for k in t if k.startswith(stored)]) == n_params, f"{name}: param count")
        check(os.path.getsize(path) < 1_000_000, f"{name}: {os.path.getsize(path)} bytes (limit 1 MB)")
    check(total < 2_000_000, f"fixtures take {total} bytes (limit 2 MB)")


@case
def fp32_torch_meets_the_documented_tolerances():
    """What an fp32 implementation can reach: torch in fp32 vs the float64
    fixtures, held to the tolerances docs/reference-parity.md recommends."""
    for name in ("tiny_latent", "babylm_shape"):
        have = load_file(os.path.join(FIXTURES, name + ".safetensors"))
        t32, _ = MF.build_case(name, MF.CASES[name], dtype=torch.float32)
        check(max_rel(have["logits"], t32["logits"]) < 1e-5, f"{name}: logits")
        check(max_rel(have["step_loss"], t32["step_loss"]) < 1e-5, f"{name}: loss")
        for k in have:
            if k.startswith("grad."):
                check(max_rel(have[k], t32[k]) < 1e-4, f"{name}: {k}")
            if k.startswith("step3."):
                d = (have[k] - t32[k]).abs().max().item()
                check(d < 1e-4, f"{name}: {k} off by {d:.2e}")


def toy_data(n_docs=40, seed=0):
    rng = np.random.default_rng(seed)
    docs = [np.append(rng.integers(4, 64, rng.integers(5, 60)), TR.EOS_ID).astype(np.int32)
            for _ in range(n_docs)]
    return docs, [int(len(d) * 3) for d in docs]


@case
def split_rule_and_packed_loader():
    rule = TR.parse_split_rule("index % 10000 < 100")
    check(rule(99) and not rule(100) and rule(10_050) and not rule(20_100), "split rule")
    try:
        TR.parse_split_rule("i % 3")
        raise AssertionError("bad split rule accepted")
    except ValueError:
        pass
    docs, nb = toy_data()
    tr, va = TR.split_data(docs, nb, 64, "index % 10 < 1")
    check(len(va.docs) == 4 and len(tr.docs) == 36, "4 of 40 documents are validation")
    T = 16
    ld = TR.PackedLoader(tr, T, batch=4, buffer=8, seed=1)
    stream = tr.stream()
    n = ld.n_blocks
    check(n == (len(stream) - 1) // T, "windows of T+1 at stride T")
    in_order = [tuple(stream[i * T:i * T + T + 1]) for i in range(n)]
    blocks = set(in_order)
    seen = []
    while len(seen) < n:
        x, y = ld.next()
        check(tuple(x.shape) == (4, T) and torch.equal(x[:, 1:], y[:, :-1]), "inputs/targets shift")
        seen += [tuple(torch.cat([r, y[i, -1:]]).tolist()) for i, r in enumerate(x)]
    first_epoch = seen[:n]
    check(set(first_epoch) == blocks and len(set(first_epoch)) == n,
          "one epoch serves every block exactly once")
    check(first_epoch != in_order, "blocks are shuffled")
    dl = TR.DocLoader(tr, T, batch=3, seed=2)
    x, y = dl.next()
    check(((y == M.PAD_ID).sum() > 0) and tuple(x.shape) == (3, T), "docs mode pads rows")


@case
def validation_windows_predict_every_token_once_and_bpb():
    docs, nb = toy_data(12, seed=3)
    va = TR.TokenData(docs, nb, 64)
    T = 16
    s = va.stream()
    w = TR.val_windows(va, T)
    targets = w[:, 1:].flatten()
    check(targets[targets != M.PAD_ID].tolist() == s.tolist() and w[0, 0] == TR.EOS_ID,
          "packed: EOS first, then every token of the stream is a target once")
    wd = TR.val_windows(va, T, mode="docs")
    td = wd[:, 1:].flatten()
    check(td[td != M.PAD_ID].tolist() == s.tolist(), "docs: every token a target once")
    check(int((wd[:, 0] == TR.EOS_ID).sum()) >= len(docs), "docs: each document starts after an EOS")
    torch.manual_seed(0)
    m = M.Transformer(M.Config(**dict(MF.TINY, context=T)))
    r = TR.evaluate(m, w, torch.device("cpu"), batch=5, n_bytes=sum(nb))
    check(r["tokens"] == len(s), "every validation token counted, EOS included")
    check(abs(r["bpb"] - r["sum_nats"] / (math.log(2) * sum(nb))) < 1e-12, "BPB formula")
    with torch.no_grad():
        manual = sum(float(torch.nn.functional.cross_entropy(
            m(w[i:i + 1, :-1])[0], w[i, 1:], ignore_index=M.PAD_ID, reduction="sum"))
            for i in range(len(w)))
    check(abs(manual - r["sum_nats"]) < 1e-3 * abs(manual), "sum of CE over windows")


@case
def budgeted_training_runs_and_learns():
    docs, nb = toy_data(60, seed=4)
    tr, va = TR.split_data(docs, nb, 64, "index % 10 < 1")
    cfg = M.Config(**dict(MF.TINY, context=16))
    res = TR.train_budgeted(cfg, tr, va, torch.device("cpu"), minutes=1.0, lr=1e-2,
                            micro_batch=8, accum_batch=16, max_steps=12, val_every=6,
                            probe_steps=1)
    check(res["steps_done"] == res["steps_planned"] == 12, f"steps {res['steps_done']}")
    check(res["tokens"] == 12 * 16 * 16, "tokens counted")
    losses = [h["loss"] for h in res["history"]]
    check(losses[-1] < losses[0] / 2, f"loss did not drop: {losses[0]:.2f} -> {losses[-1]:.2f}")
    check(res["val_bpb"] > 0 and res["best_sampled_val_loss"] is not None, "validation ran")


@case
def tokenize_appends_eos_and_counts_bytes():
    model = shared("tokenizers/baby_unigram_12K.model")
    check(os.path.exists(model), f"{model} missing: set LILM_SHARED to the shared/ directory")
    texts = ["Hello there, little dog.", "Ça va? ünïcödé"]
    docs, nb, vocab = TR.tokenize(texts, model)
    check(vocab == 12000 and all(d[-1] == TR.EOS_ID for d in docs), "EOS after each document")
    check(nb == [len(t.encode("utf-8")) for t in texts], "UTF-8 byte counts")


if __name__ == "__main__":
    run()
