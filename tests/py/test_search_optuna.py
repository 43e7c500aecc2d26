"""test_search_optuna.py: lilm's TPE sampler against Optuna's (PyPI, tests only).

1. Parity: the Parzen estimator's log density (the mixtures l(x) and g(x) are
   each one of these) on fixed observations, for every kind of parameter and
   for a joint (multivariate) space, against optuna's _ParzenEstimator with
   TPESampler's default settings.
2. Search quality: lilm's TPE and Optuna's TPESampler (univariate, as lilm's
   default) minimise the same functions (a shifted quadratic, Branin, a mix of
   categorical, int and log-float parameters) for the same number of trials
   over 12 seeds each. "No worse within noise" is a one-sided Mann-Whitney
   rank-sum test on the 12 + 12 best values: the test fails only if lilm's
   best values rank worse than Optuna's at p < 0.01. Both samplers are seeded,
   so the outcome is fixed: the test cannot flake. lilm's TPE must also beat
   its own random search on the same budget (the same test, the other way).
Ties: numpy's default argsort is not stable (it is a SIMD sort), so in Optuna
which of two equal observations gets which bandwidth is arbitrary; lilm
orders ties by trial number. That changes the mixture only when the tied
kernels differ in weight or in another dimension, so the parity cases draw
distinct values in every numeric dimension.
"""
import json
import math
import os
import subprocess
import tempfile

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights

from harness import case, lilm_bin, run

optuna.logging.set_verbosity(optuna.logging.WARNING)
TMP = tempfile.mkdtemp(prefix="lilm_search_optuna_")

# name -> (yaml line, optuna distribution)
PARAMS = {
    "f": ("{type: float, low: -5, high: 5}", FloatDistribution(-5, 5)),
    "lf": ("{type: float, low: 1e-4, high: 3e-2, log: true}", FloatDistribution(1e-4, 3e-2, log=True)),
    "i": ("{type: int, low: 4, high: 32}", IntDistribution(4, 32)),
    "si": ("{type: int, low: 16, high: 128, step: 16}", IntDistribution(16, 128, step=16)),
    "li": ("{type: int, low: 1, high: 1000, log: true}", IntDistribution(1, 1000, log=True)),
    "sf": ("{type: float, low: 0, high: 5, step: 0.25}", FloatDistribution(0, 5, step=0.25)),
    "c": ("{type: categorical, choices: [a, b, c, d]}", CategoricalDistribution(["a", "b", "c", "d"])),
}


def write_space(names, extra=""):
    path = os.path.join(TMP, "space_" + "_".join(names) + ".yaml")
    with open(path, "w") as f:
        f.write(extra)
        f.write("params:\n")
        for n in names:
            f.write(f"  {n}: {PARAMS[n][0]}\n")
    return path


def draw(name, rng, k, distinct=False):
    d = PARAMS[name][1]
    if isinstance(d, CategoricalDistribution):
        return rng.integers(0, len(d.choices), size=k).astype(float)
    if distinct and d.step is not None:
        if d.log:   # int log: distinct integers, log-uniformly spread
            grid = np.unique(np.round(np.exp(np.linspace(math.log(d.low), math.log(d.high), 400))))
        else:
            grid = d.low + d.step * np.arange(round((d.high - d.low) / d.step) + 1)
        return rng.choice(grid, size=k, replace=False).astype(float)
    if d.log:
        v = np.exp(rng.uniform(math.log(d.low), math.log(d.high), size=k))
    else:
        v = rng.uniform(d.low, d.high, size=k)
    if d.step is not None:
        v = np.clip(d.low + np.round((v - d.low) / d.step) * d.step, d.low, d.high)
    if isinstance(d, IntDistribution):
        v = np.round(v)
    return v


def optuna_log_pdf(names, obs, pts):
    space = {n: PARAMS[n][1] for n in names}
    params = _ParzenEstimatorParameters(prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
                                        weights=default_weights, multivariate=True)
    pe = _ParzenEstimator({n: obs[:, i] for i, n in enumerate(names)}, space, params)
    return pe.log_pdf({n: pts[:, i] for i, n in enumerate(names)})


def lilm_log_pdf(names, obs, pts):
    path = os.path.join(TMP, "lp.json")
    with open(path, "w") as f:
        json.dump({"observations": obs.tolist(), "points": pts.tolist()}, f)
    out = subprocess.run([lilm_bin(), "search", write_space(names), "--log-pdf", path],
                         capture_output=True, text=True, check=True).stdout
    return np.array(json.loads(out))


def check_parity(names, n_obs, seed):
    rng = np.random.default_rng(seed)
    obs = np.stack([draw(n, rng, n_obs, distinct=True) for n in names], axis=1) if n_obs else np.zeros((0, len(names)))
    pts = np.stack([draw(n, rng, 40) for n in names], axis=1)
    # the range ends and the observations themselves
    pts = np.concatenate([pts, obs[:5]], axis=0) if n_obs else pts
    want = optuna_log_pdf(names, obs, pts)
    got = lilm_log_pdf(names, obs, pts)
    err = np.abs(got - want)
    tol = 1e-9 + 1e-9 * np.abs(want)
    assert np.all(err <= tol), f"{names} n={n_obs}: max |diff| {err.max():.3g} at {pts[err.argmax()]}: {got[err.argmax()]} vs {want[err.argmax()]}"


@case
def parzen_log_pdf_matches_optuna_each_kind():
    for k, name in enumerate(PARAMS):
        for n_obs in (0, 1, 2, 7, 30):   # 30 > 25: the ramp of older weights
            d = PARAMS[name][1]
            if getattr(d, "step", None) is not None and not d.log:   # at most one observation per grid point
                n_obs = min(n_obs, round((d.high - d.low) / d.step) + 1)
            check_parity([name], n_obs, seed=100 * k + n_obs)


@case
def parzen_log_pdf_matches_optuna_joint():
    for n_obs in (0, 3, 8):
        check_parity(list(PARAMS), n_obs, seed=n_obs)
    for n_obs in (12, 40):   # more observations than the step grids have points
        check_parity(["f", "lf", "li", "c"], n_obs, seed=n_obs)


@case
def parzen_log_pdf_far_tails_match():
    # observations bunched at one end: points at the other are deep in the kernels' tails
    names = ["f"]
    obs = np.array([[4.9], [4.95], [5.0], [4.8], [4.99], [4.97]])
    pts = np.linspace(-5, 5, 41)[:, None]
    want = optuna_log_pdf(names, obs, pts)
    got = lilm_log_pdf(names, obs, pts)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-9), np.abs(got - want).max()


# ---- search quality ----

N_TRIALS = 40
SEEDS = range(12)

FUNCTIONS = {
    "quadratic": (
        {"x": ("{type: float, low: -5, high: 5}", FloatDistribution(-5, 5)),
         "y": ("{type: float, low: -5, high: 5}", FloatDistribution(-5, 5)),
         "z": ("{type: float, low: -5, high: 5}", FloatDistribution(-5, 5))},
        "(x - 1.3)^2 + (y + 2.1)^2 + (z - 0.4)^2",
        lambda p: (p["x"] - 1.3) ** 2 + (p["y"] + 2.1) ** 2 + (p["z"] - 0.4) ** 2),
    "branin": (
        {"a": ("{type: float, low: -5, high: 10}", FloatDistribution(-5, 10)),
         "b": ("{type: float, low: 0, high: 15}", FloatDistribution(0, 15))},
        "(b - 5.1 / (4 * pi^2) * a^2 + 5 / pi * a - 6)^2 + 10 * (1 - 1 / (8 * pi)) * cos(a) + 10",
        lambda p: (p["b"] - 5.1 / (4 * math.pi ** 2) * p["a"] ** 2 + 5 / math.pi * p["a"] - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(p["a"]) + 10),
    "mixed": (
        {"c": ("{type: categorical, choices: [1.5, 0, 0.7, 2.5]}", CategoricalDistribution([1.5, 0.0, 0.7, 2.5])),
         "n": ("{type: int, low: 1, high: 20}", IntDistribution(1, 20)),
         "lr": ("{type: float, low: 1e-4, high: 1, log: true}", FloatDistribution(1e-4, 1, log=True)),
         "u": ("{type: float, low: 0, high: 1, step: 0.05}", FloatDistribution(0, 1, step=0.05))},
        "c + (n - 13)^2 / 10 + (log(lr) / log(10) + 2.5)^2 + 3 * (u - 0.35)^2",
        lambda p: p["c"] + (p["n"] - 13) ** 2 / 10 + (math.log10(p["lr"]) + 2.5) ** 2 + 3 * (p["u"] - 0.35) ** 2),
}


def lilm_best(fname, seed, sampler="tpe"):
    params, expr, _ = FUNCTIONS[fname]
    path = os.path.join(TMP, f"{fname}_{sampler}_{seed}.yaml")
    with open(path, "w") as f:
        f.write(f"study: {{trials: {N_TRIALS}, seed: {seed}, sampler: {sampler}}}\nparams:\n")
        for n, (y, _) in params.items():
            f.write(f"  {n}: {y}\n")
    out = subprocess.run([lilm_bin(), "search", path, "--objective", expr], capture_output=True, text=True, check=True).stdout
    values = [json.loads(line)["value"] for line in out.splitlines()]
    assert len(values) == N_TRIALS, out
    return min(values)


def optuna_best(fname, seed):
    params, _, fn = FUNCTIONS[fname]

    def objective(trial):
        p = {}
        for n, (_, d) in params.items():
            if isinstance(d, CategoricalDistribution):
                p[n] = trial.suggest_categorical(n, d.choices)
            elif isinstance(d, IntDistribution):
                p[n] = trial.suggest_int(n, d.low, d.high, step=d.step, log=d.log)
            else:
                p[n] = trial.suggest_float(n, d.low, d.high, step=d.step, log=d.log)
        return fn(p)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, multivariate=False))
    study.optimize(objective, n_trials=N_TRIALS)
    return study.best_value


def rank_sum_p_worse(a, b):
    """One-sided Mann-Whitney U: p-value that a's values are stochastically larger (worse) than b's."""
    allv = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = {}
    i = 0
    while i < len(allv):      # average ranks over ties
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    ra = sum(ranks[k] for k, (_, g) in enumerate(allv) if g == 0)
    n1, n2 = len(a), len(b)
    u = ra - n1 * (n1 + 1) / 2
    mean, sd = n1 * n2 / 2, math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u - mean - 0.5) / sd   # continuity correction
    return 0.5 * math.erfc(z / math.sqrt(2))


def compare(fname):
    ours = [lilm_best(fname, s) for s in SEEDS]
    theirs = [optuna_best(fname, s) for s in SEEDS]
    p = rank_sum_p_worse(ours, theirs)
    print(f"  {fname}: median best lilm {np.median(ours):.4g}, optuna {np.median(theirs):.4g} "
          f"({N_TRIALS} trials, {len(SEEDS)} seeds); p(lilm worse) = {p:.3g}", flush=True)
    assert p >= 0.01, f"lilm's TPE is worse than Optuna's on {fname}: {ours} vs {theirs}"
    return ours


@case
def tpe_no_worse_than_optuna_quadratic():
    ours = compare("quadratic")
    rand = [lilm_best("quadratic", s, "random") for s in SEEDS]
    p = rank_sum_p_worse(ours, rand)
    print(f"  quadratic: lilm random search median best {np.median(rand):.4g}", flush=True)
    assert rank_sum_p_worse(rand, ours) < 0.01, f"TPE does not beat random search: {ours} vs {rand} (p {p})"


@case
def tpe_no_worse_than_optuna_branin():
    compare("branin")


@case
def tpe_no_worse_than_optuna_mixed():
    compare("mixed")


run()
