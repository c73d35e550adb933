"""Chaos measured as Frankle et al. (2020) measure instability.

Two copies of one state θ_t0 are trained on to the same end: a *perturbed* copy (a tiny Gaussian
perturbation, the same data order) and an *SGD-noise* copy (no perturbation, another data order and
augmentation). Each copy's endpoint is compared with the base run's endpoint by the test-error
barrier on the linear path between them, at the end of a short anneal after T (Frankle et al.
measure at the end of training, after the learning rate decays) and at T itself.

- `error_barrier`: the test-error barrier (a fraction) of one path.
- `unstable`: Frankle et al.'s rule, a barrier above ``FRANKLE_BARRIER`` (2 points).
- `stratified_exact`: an exact conditional test of a common odds ratio over strata (training
  seeds), the product of the strata's hypergeometric laws (``scipy.stats.hypergeom``).
- `instability_test`, `sensitivity_test`, `chaos_cone`: the protocol's chaos claims
  (``protocol/claims.toml``: chaos_instability, chaos_sensitivity, chaos_cone).

The constants are the protocol's; `lib.protocol.check` verifies that they agree with it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .estimate import LEVEL, Estimate

FRANKLE_BARRIER = 0.02  # a pair is unstable when its test-error barrier exceeds 2 points (Frankle et al. 2020)
ANNEAL_STEPS = 500  # SGD iterations after T at a decayed learning rate before the primary barrier is measured
ANNEAL_LR_FACTOR = 0.1  # the anneal's learning rate, as a multiple of the run's (open_lth's decay factor)
UNSTABLE_SHARE = 0.5  # the chaos claim needs at least this share of the early perturbed copies unstable
SENSITIVITY_CHAOTIC = 0.5  # perturbed / SGD-noise endpoint distance at or above this: as consequential as SGD noise
SENSITIVITY_STABLE = 0.1  # ... below this: stable (an order of magnitude below SGD noise)
CHAOS_CONE_FACTOR = 2.0  # the chaos transition and t* agree within this factor (the chaos grid's doubling)
ALPHA = 1 - LEVEL


def error_barrier(alphas, accuracies) -> float:
    """max_α err(α) - [α err(1) + (1 - α) err(0)] on the path's test accuracies (a fraction; 0 where the
    path is convex in error)."""
    a = np.asarray(alphas, float)
    err = 1.0 - np.asarray(accuracies, float)
    if a.shape != err.shape or a.size < 2:
        raise ValueError(f"alphas and accuracies must have the same length >= 2; got {a.shape} and {err.shape}")
    return float(max(0.0, np.max(err - (a * err[-1] + (1 - a) * err[0]))))


def unstable(barrier: float) -> bool:
    """Frankle et al.'s rule."""
    return bool(barrier > FRANKLE_BARRIER)


def stratified_exact(early_unstable, early_n, late_unstable, late_n) -> float:
    """One-sided p of an exact conditional test that the odds of instability are higher early than late,
    with a common odds ratio over strata (one stratum per training seed): given each stratum's margins,
    the early unstable count is hypergeometric under the null; the sum over strata is their convolution.
    p = P(sum >= observed)."""
    e, ne, l_, nl = (np.atleast_1d(np.asarray(v, int)) for v in (early_unstable, early_n, late_unstable, late_n))
    if not (e.shape == ne.shape == l_.shape == nl.shape) or e.size == 0:
        raise ValueError("early_unstable, early_n, late_unstable and late_n need one entry per stratum")
    if (e < 0).any() or (l_ < 0).any() or (e > ne).any() or (l_ > nl).any():
        raise ValueError("counts must lie in [0, n] of their stratum")
    pmf = np.array([1.0])
    for k_e, n_e, k_l, n_l in zip(e, ne, l_, nl):
        m = k_e + k_l  # unstable in this stratum
        support = np.arange(0, min(m, n_e) + 1)
        # scipy's hypergeom(M population, n successes, N draws): draws = the early copies
        pmf = np.convolve(pmf, stats.hypergeom(n_e + n_l, m, n_e).pmf(support))
    observed = int(e.sum())
    return float(min(1.0, pmf[observed:].sum()))


def clopper_pearson(k: int, n: int) -> Estimate:
    """The share k / n with its exact 95% interval (scipy.stats.binomtest)."""
    if n <= 0:
        raise ValueError(f"n must be positive; got {n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(LEVEL, method="exact")
    return Estimate(k / n, float(ci.low), float(ci.high))


def log_interval(values) -> tuple[Estimate, float, float]:
    """Geometric mean of positive ``values`` with its t interval, and the one-sided p-values that the
    log mean is above / below 0 are computed by the caller: returns (estimate, mean log, sd log)."""
    v = np.log(np.asarray(values, float))
    if v.size < 2 or np.ptp(v) == 0:
        m = float(v.mean())
        return Estimate(math.exp(m), math.exp(m), math.exp(m)), m, 0.0
    ci = stats.ttest_1samp(v, 0.0).confidence_interval(LEVEL)
    return Estimate(math.exp(v.mean()), math.exp(ci.low), math.exp(ci.high)), float(v.mean()), float(v.std(ddof=1))


def one_sided_log(values, threshold: float, alternative: str) -> float:
    """p of a one-sample t test of mean log(values) against log(threshold) (``greater`` or ``less``)."""
    v = np.log(np.asarray(values, float))
    if v.size < 2:
        return 1.0
    if np.ptp(v) == 0:
        above = v[0] > math.log(threshold)
        return 0.0 if (above if alternative == "greater" else v[0] < math.log(threshold)) else 1.0
    return float(stats.ttest_1samp(v, math.log(threshold), alternative=alternative).pvalue)
