"""make_fixtures.py: writes the PyTorch parity fixtures lilm's C tests read.

    python3 tests/torch_ref/make_fixtures.py [--out tests/fixtures] [--case NAME ...]

One safetensors file per case (format: docs/reference-parity.md). Each case
builds the reference model with a fixed seed (PyTorch default init, fp32),
then computes in float64: logits and loss for one batch, every parameter's
gradient, and three AdamW + one-cycle steps on the same batch. Results are
rounded to fp32 when stored. The two "shape" cases use the real SimpleStories
and BabyLM layer dimensions; to keep them small their initial weights are not
stored but generated (generated_weights(): a counter-based hash any reader can
reproduce bit for bit from `gen.<key>`), and their gradients and step-3
weights are stored at 1024 sampled positions per large tensor (`idx.<key>`
holds the flat indices).
"""
import argparse
import copy
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as M  # noqa: E402
import muon as MU  # noqa: E402

TRAIN = {"lr": 1e-2, "total_steps": 20, "pct_start": 0.1, "div_factor": 6.0,
         "final_div_factor": 20.0, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8,
         "weight_decay": 0.02, "grad_clip": 1.0}
N_STEPS = 3
SAMPLE_N = 1024  # sampled elements per tensor in the shape cases
FP32_EPS = float(torch.finfo(torch.float32).eps)

TINY = dict(vocab_size=64, d_model=32, n_layers=2, n_heads=2, qk_dim=8, v_dim=12, ffn_dim=48,
            context=32)
CASES = {
    # every layer latent (p = 10), RMSNorm, GELU
    "tiny_latent": dict(cfg=dict(TINY, latent_dim=10, norm="rmsnorm", activation="gelu",
                                 norm_eps=FP32_EPS), B=2, T=16, seed=1, sampled=False),
    # standard attention, LayerNorm, ReLU
    "tiny_layernorm_relu": dict(cfg=dict(TINY, norm="layernorm", activation="relu", norm_eps=1e-5),
                                B=2, T=16, seed=2, sampled=False),
    # no norm, no FFN (activation none)
    "tiny_nonorm_noffn": dict(cfg=dict(TINY, norm="none", activation="none"),
                              B=2, T=16, seed=3, sampled=False),
    # ReLU^2, one layer (small)
    "tiny_relu2": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="relu2", norm_eps=FP32_EPS),
                       B=2, T=16, seed=6, sampled=False),
    # SwiGLU (ffn.0 is Linear(d, 2F): [gate | up]), one layer (small)
    "tiny_swiglu": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="swiglu", norm_eps=FP32_EPS),
                        B=2, T=16, seed=7, sampled=False),
    # the low-rank activations (tests/torch_ref/lowrank.py), one layer each: F = 48 is 6 x 8 per token
    "tiny_svd_truncation": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="svd_truncation", act_k=3,
                                         act_eps=0.1, norm_eps=FP32_EPS), B=2, T=16, seed=8, sampled=False),
    "tiny_qr_truncation": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="qr_truncation", act_k=3,
                                        norm_eps=FP32_EPS), B=2, T=16, seed=9, sampled=False),
    "tiny_svd_entropic": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="svd_entropic", act_alpha=1.5,
                                       norm_eps=FP32_EPS), B=2, T=16, seed=10, sampled=False),
    # tensor-ring FFN Linears (bond 2): ffn.0 32 -> 48 and ffn.3 48 -> 32 as rings of 5 cores
    "tiny_tensor_ring": dict(cfg=dict(TINY, n_layers=1, norm="rmsnorm", activation="gelu", ffn_tr_bond=2,
                                      norm_eps=FP32_EPS), B=2, T=16, seed=11, sampled=False),
    # Muon on the layers' matrices, AdamW on the rest (tests/torch_ref/muon.py)
    "tiny_muon": dict(cfg=dict(TINY, norm="rmsnorm", activation="gelu", norm_eps=FP32_EPS),
                      B=2, T=16, seed=8, sampled=False,
                      train=dict(TRAIN, optimizer="muon", muon_lr=0.02, muon_momentum=0.95, muon_nesterov=True,
                                 muon_ns_steps=5, muon_weight_decay=0.01)),
    "simplestories_shape": dict(cfg=dict(M.SIMPLESTORIES, n_layers=1, vocab_size=256, context=64,
                                         norm_eps=FP32_EPS), B=2, T=32, seed=4, sampled=True),
    "babylm_shape": dict(cfg=dict(M.BABYLM, n_layers=2, vocab_size=256, context=64,
                                  norm_eps=FP32_EPS), B=2, T=32, seed=5, sampled=True),
}


def generated_weights(seed, index, numel, center, bound):
    """Element j of parameter `index` (state_dict order): splitmix64 of the key
    seed << 56 ^ index << 40 ^ j; its top 24 bits r give
    float32(center + bound * (r * 2^-23 - 1)), computed in float64. bound is a
    power of two, so every step before the final rounding is exact and a C
    reader gets the same bits (tests/test_parity.c)."""
    u64 = np.uint64
    z = (u64(seed) << u64(56)) ^ (u64(index) << u64(40)) ^ np.arange(numel, dtype=np.uint64)
    z = z + u64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    z = z ^ (z >> u64(31))
    r = (z >> u64(40)).astype(np.float64) * 2.0 ** -23 - 1.0
    return (center + bound * r).astype(np.float32)


def gen_spec(name, p):
    """(center, bound) for a generated parameter, close to PyTorch's default
    init scale: norm weights around 1, biases small, Linear weights
    +-2^-round(log2 sqrt(fan_in)), the tied embedding +-1."""
    if p.dim() == 1:
        return (1.0, 2.0 ** -3) if "norm" in name and name.endswith("weight") else (0.0, 2.0 ** -4)
    if name == "embedding.weight":
        return (0.0, 1.0)
    return (0.0, 2.0 ** -round(math.log2(math.sqrt(p.shape[1]))))


def generated_params(model, seed, gen):
    """{key: tensor} of the generated initial weights; gen[key] is the float32
    triple (index in state_dict order, center, bound)."""
    out = {}
    for k, p in model.named_parameters():
        index, center, bound = (float(x) for x in gen[k])
        out[k] = torch.from_numpy(generated_weights(seed, int(index), p.numel(), center, bound)).view(p.shape)
    return out


def make_batch(cfg, B, T, gen):
    """inputs/targets (B, T) int32: random tokens; row 1 ends in padding (inputs
    and targets = pad after its document), plus a few pad targets in row 0."""
    pad = cfg.pad_id
    seq = torch.randint(0, cfg.vocab_size, (B, T + 1), generator=gen)
    seq[seq == pad] = pad + 1  # pad appears only where placed below
    inputs, targets = seq[:, :-1].clone(), seq[:, 1:].clone()
    if B > 1:
        end = T - T // 4
        targets[1, end:] = pad
        inputs[1, end + 1:] = pad
    pos = torch.randperm(T, generator=gen)[:3]
    targets[0, pos] = pad
    return inputs.to(torch.int32), targets.to(torch.int32)


def train_steps(model, inputs, targets, train, n_steps):
    """n_steps of the reference recipe on one batch. Returns per-step
    (loss, lr, grad_norm) and the gradients of the first step."""
    if train.get("optimizer") == "muon":
        opt, mu = MU.build_hybrid(model, train["lr"], train["muon_lr"], weight_decay=train["weight_decay"],
                                  betas=(train["beta1"], train["beta2"]), eps=train["eps"],
                                  momentum=train["muon_momentum"], nesterov=train["muon_nesterov"],
                                  ns_steps=train["muon_ns_steps"], muon_weight_decay=train["muon_weight_decay"])
        extra = [(mu, M.build_schedule(mu, train["muon_lr"], train["total_steps"], train["pct_start"],
                                       train["div_factor"], train["final_div_factor"]))]
    else:
        opt = M.build_optimizer(model, train["lr"], weight_decay=train["weight_decay"],
                                betas=(train["beta1"], train["beta2"]), eps=train["eps"])
        extra = []
    sched = M.build_schedule(opt, train["lr"], train["total_steps"], train["pct_start"],
                             train["div_factor"], train["final_div_factor"])
    losses, lrs, norms, first_logits, first_grads = [], [], [], None, None
    for step in range(n_steps):
        model.zero_grad(set_to_none=True)
        model.set_step(step)  # qr_truncation's Omega of this step (lilm_model_set_step)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets.flatten().long(), ignore_index=model.cfg.pad_id)
        loss.backward()
        if step == 0:
            first_logits = logits.detach().clone()
            first_grads = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
        norms.append(float(M.clean_and_clip(model, train["grad_clip"])))
        lrs.append(opt.param_groups[0]["lr"])
        losses.append(loss.item())
        opt.step()
        sched.step()
        for o, sc in extra:
            o.step()
            sc.step()
    return first_logits, first_grads, losses, lrs, norms


def build_case(name, spec, dtype=torch.float64):
    """Returns (tensors, metadata) for one case; compute dtype float64 (or
    float32, which the tests use to estimate what an fp32 implementation reaches)."""
    cfg = M.Config(**spec["cfg"])
    torch.manual_seed(spec["seed"])
    model = M.Transformer(cfg)
    recipe = {}
    if spec["sampled"]:
        recipe = {k: torch.tensor((i,) + gen_spec(k, p), dtype=torch.float32)
                  for i, (k, p) in enumerate(model.named_parameters())}
        with torch.no_grad():
            for k, w in generated_params(model, spec["seed"], recipe).items():
                model.get_parameter(k).copy_(w)
    init = {k: p.detach().clone() for k, p in model.named_parameters()}
    gen = torch.Generator().manual_seed(1000 + spec["seed"])
    inputs, targets = make_batch(cfg, spec["B"], spec["T"], gen)
    work = copy.deepcopy(model).to(dtype)
    train = spec.get("train", TRAIN)
    logits, grads, losses, lrs, norms = train_steps(work, inputs, targets, train, N_STEPS)
    loss0 = torch.tensor([losses[0]], dtype=torch.float32)
    after = {k: p.detach() for k, p in work.named_parameters()}

    t = {"inputs": inputs, "targets": targets, "logits": logits.float().contiguous(),
         "loss": loss0,
         "step_loss": torch.tensor(losses, dtype=torch.float32),
         "step_lr": torch.tensor(lrs, dtype=torch.float32),
         "step_grad_norm": torch.tensor(norms, dtype=torch.float32)}
    for k, w in init.items():
        if spec["sampled"]:
            t["gen." + k] = recipe[k]
        else:
            t["param." + k] = w.float()
        g, s = grads[k].float(), after[k].float()
        if spec["sampled"] and w.numel() > SAMPLE_N:
            idx = torch.randperm(w.numel(), generator=gen)[:SAMPLE_N].sort().values
            t["idx." + k] = idx.to(torch.int32)
            g, s = g.flatten()[idx], s.flatten()[idx]
        t["grad." + k] = g.contiguous()
        t["step3." + k] = s.contiguous()
    meta = {"lilm_model": json.dumps(cfg.to_meta()),
            "lilm_train": json.dumps(train),
            "lilm_fixture": json.dumps({"case": name, "seed": spec["seed"], "B": spec["B"],
                                        "T": spec["T"], "steps": N_STEPS,
                                        "params": "generated" if spec["sampled"] else "F32",
                                        "sampled": spec["sampled"],
                                        "computed_in": str(dtype).replace("torch.", "")})}
    return t, meta


def initial_params(tensors, model, seed):
    """The initial weights of a fixture: stored (param.<key>) or generated (gen.<key>)."""
    if any(k.startswith("gen.") for k in tensors):
        return generated_params(model, seed, {k[4:]: v for k, v in tensors.items() if k.startswith("gen.")})
    return {k: tensors["param." + k] for k, _ in model.named_parameters()}


def write_case(out_dir, name, spec):
    tensors, meta = build_case(name, spec)
    path = os.path.join(out_dir, name + ".safetensors")
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures"))
    ap.add_argument("--case", action="append", choices=sorted(CASES),
                    help="only this case (repeatable); default all")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)  # float64 reductions in one fixed order
    for name in a.case or CASES:
        path = write_case(a.out, name, CASES[name])
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
