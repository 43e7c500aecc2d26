"""ops_torch.py: PyTorch CPU timings of the ops bench/ops_cpu.c times, same shapes.

The reference trains with plain PyTorch modules on CPU (fp32, MKL, its own
OpenMP threads); this times the equivalent torch calls so the per-op ratio
lilm/torch can be read off side by side. Each row is the median of REPS runs
after a warm-up, in ms per call; forward+backward rows time
`y = f(x); y.backward(g)` minus nothing (both passes together).

    python3 bench/ops_torch.py [simplestories|babylm] [B] [T] [threads]
"""
import sys
import time

import torch
import torch.nn.functional as F

REPS = 7
SHAPES = {
    "simplestories": dict(C=288, H=3, Dq=96, Dv=96, F=1152, V=8000, L=5),
    "babylm": dict(C=192, H=6, Dq=32, Dv=32, F=768, V=12000, L=20),
}


CPU_MS = {}  # the process CPU time of the last median_ms call, per call


def median_ms(fn):
    """Median wall ms of REPS calls; the median process CPU ms goes to CPU_MS['last']."""
    fn()
    ts, cs = [], []
    for _ in range(REPS):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    ts.sort()
    cs.sort()
    CPU_MS["last"] = cs[REPS // 2] * 1e3
    return ts[REPS // 2] * 1e3


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "simplestories"
    B = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    T = int(sys.argv[3]) if len(sys.argv) > 3 else 512
    if len(sys.argv) > 4 and int(sys.argv[4]) > 0:
        torch.set_num_threads(int(sys.argv[4]))
    s = SHAPES[name]
    C, H, Dq, Dv, Fw, V, L = s["C"], s["H"], s["Dq"], s["Dv"], s["F"], s["V"], s["L"]
    N = B * T
    torch.manual_seed(0)
    rows = []  # (label, wall ms, calls, cpu ms)

    def linear_case(label, ic, oc, act, calls):
        lin = torch.nn.Linear(ic, oc)
        x = torch.randn(N, ic, requires_grad=True)
        with torch.no_grad():
            fwd = median_ms(lambda: act(lin(x)))
        fwd_cpu = CPU_MS["last"]
        g = torch.randn(N, oc)

        def fb():
            y = act(lin(x))
            y.backward(g)
        rows.append((label + " fwd", fwd, calls, fwd_cpu))
        both = median_ms(fb)
        rows.append((label + " bwd", max(both - fwd, 0.0), calls, max(CPU_MS["last"] - fwd_cpu, 0.0)))

    ident = lambda y: y  # noqa: E731
    linear_case("matmul q", C, H * Dq, ident, L)
    linear_case("matmul kv", C, H * (Dq + Dv), ident, L)
    linear_case("matmul reproject", H * Dv, C, ident, L)
    linear_case("matmul W1+GELU", C, Fw, F.gelu, L)
    linear_case("matmul W2", Fw, C, ident, L)

    q = torch.randn(B, H, T, Dq, requires_grad=True)
    k = torch.randn(B, H, T, Dq, requires_grad=True)
    v = torch.randn(B, H, T, Dv, requires_grad=True)
    with torch.no_grad():
        fwd = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    fwd_cpu = CPU_MS["last"]
    go = torch.randn(B, H, T, Dv)

    def att_fb():
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(go)
    rows.append(("attention (sdpa) fwd", fwd, L, fwd_cpu))
    both = median_ms(att_fb)
    rows.append(("attention (sdpa) bwd", max(both - fwd, 0.0), L, max(CPU_MS["last"] - fwd_cpu, 0.0)))

    # the reference's own attention: explicit scores, a stored causal mask, softmax
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))

    def manual():
        sc = (q @ k.transpose(-1, -2)) / (Dq ** 0.5)
        sc = sc.masked_fill(~mask, float("-inf"))
        return torch.softmax(sc, dim=-1) @ v
    with torch.no_grad():
        fwd = median_ms(manual)
    fwd_cpu = CPU_MS["last"]
    rows.append(("attention (explicit mask) fwd", fwd, L, fwd_cpu))
    both = median_ms(lambda: manual().backward(go))
    rows.append(("attention (explicit mask) bwd", max(both - fwd, 0.0), L, max(CPU_MS["last"] - fwd_cpu, 0.0)))

    x = torch.randn(N, C, requires_grad=True)
    wte = torch.randn(V, C, requires_grad=True)
    tgt = torch.randint(0, V, (N,))
    ms = median_ms(lambda: F.cross_entropy(x @ wte.t(), tgt).backward())
    rows.append(("classifier+xent fwd+bwd", ms, 1, CPU_MS["last"]))

    norm = torch.nn.RMSNorm(C, eps=1e-5)
    xn = torch.randn(N, C, requires_grad=True)
    gn = torch.randn(N, C)
    ms = median_ms(lambda: norm(xn).backward(gn))
    rows.append(("rmsnorm fwd+bwd", ms, 2 * L + 1, CPU_MS["last"]))

    params = [torch.randn(1000, 1000, requires_grad=True) for _ in range(11)]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(params, lr=6e-3, betas=(0.9, 0.95), weight_decay=0.02)
    ms = median_ms(opt.step)
    rows.append(("adamw (11M params)", ms, 1, CPU_MS["last"]))

    print(f"# torch {torch.__version__} {name}: B={B} T={T} N={N}, {torch.get_num_threads()} threads")
    print("| op | ms/call | cpu ms/call | calls/step | ms/step |\n|---|---:|---:|---:|---:|")
    for label, ms, calls, cpu in rows:
        print(f"| {label} | {ms:.3f} | {cpu:.3f} | {calls} | {ms * calls:.2f} |")


if __name__ == "__main__":
    main()
