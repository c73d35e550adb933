"""The protocol's cone claim (``protocol/claims.toml``, 'cone' and 'evolving'): the growth ratio of D(L) and
the kernel's late motion over the noise floor, judged across seeds against margins from known motions.

- `growth_ratio`: G = D(L_max) / D(L_max / GROWTH_LAG_RATIO) of one kernel series (1: levelled off; 2: D ∝ L^0.5;
  4: a random walk), `tail_ratio`: the late adjacent S over the noise floor.
- `log_test`, `cone_rule`: the seeds' values against the margins (t intervals on the logs).
- `cone_surrogate`, `calibrate_cone`: surrogates whose answer is known (`CONE_SURROGATES`: bounded motions
  with correlation times W/20, W/10, W/5, a random walk, sub-diffusion, a kernel converging to a fixed point)
  through the same rule: its size and power.

The margins are `lib.saturation`'s constants (GROWTH_FLAT, GROWTH_RISING, EVOLVING_RATIO, ...), which
`lib.protocol.check` holds to the protocol; `lib.saturation`'s correlation time, long-lag exponent and ΔAIC
describe a series beside this rule and do not decide.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from .checks import check_choice, check_int
from .estimate import LEVEL, S_RESOLUTION, Estimate
from .kernels import pairwise_distances
from .runtime import run_parallel, timing
from .saturation import (EVOLVING_RATIO, EVOLVING_TAIL, GROWTH_FLAT, GROWTH_LAG_RATIO, GROWTH_RISING,
                         MAX_LAG_FRACTION, N_DIRECTIONS, lag_profile, planted_bounded, planted_directions, random_walk,
                         shuffled)


def _window(kernels: dict, start: int, end: int | None = None) -> list[int]:
    its = sorted(t for t in kernels if t >= start and (end is None or t <= end))
    if len(its) < 4:
        raise ValueError(f"start/end: the window [{start}, {end}] holds {len(its)} checkpoints; need at least 4")
    return its


def _phase_two(kernels: dict, start: int) -> list[int]:
    return _window(kernels, start)


def growth_lags(spacing: int, span: int) -> tuple[int, int]:
    """(L_max / GROWTH_LAG_RATIO, L_max) snapped to the spacing: L_max is ``MAX_LAG_FRACTION`` of the window."""
    top = max(spacing, int(MAX_LAG_FRACTION * span) // spacing * spacing)
    low = max(spacing, int(round(top / GROWTH_LAG_RATIO / spacing)) * spacing)
    return low, top


def growth_ratio(kernels: dict, start: int, end: int | None = None, centered: bool = True) -> float:
    """G = D(L_max) / D(L_max / GROWTH_LAG_RATIO) of the kernels in [start, end]: how much the mean distance
    between kernels still grows while the lag quadruples (1: levelled off; 2: D ∝ L^0.5; 4: a random walk)."""
    its = _window(kernels, start, end)
    spacing = int(np.gcd.reduce(np.diff(its)))
    low, top = growth_lags(spacing, its[-1] - its[0])
    if low >= top:
        raise ValueError(f"the window [{its[0]}, {its[-1]}] is too short for two lags at spacing {spacing}")
    prof = lag_profile(kernels, start, end, centered, lags=[low, top])
    return float(prof.D[1] / max(prof.D[0], S_RESOLUTION))


def tail_ratio(kernels: dict, end: int | None = None, noise: float = 0.0, centered: bool = True) -> float:
    """The median adjacent S (one checkpoint spacing) over the last ``EVOLVING_TAIL`` of [first checkpoint, end]
    (at least 3 pairs) over the noise floor ``noise`` (raised to ``S_RESOLUTION``)."""
    its = sorted(t for t in kernels if end is None or t <= end)
    if len(its) < 4:
        raise ValueError(f"kernels: need at least 4 checkpoints up to {end}; got {len(its)}")
    cut = its[-1] - EVOLVING_TAIL * (its[-1] - its[0])
    tail = [i for i, t in enumerate(its) if t >= cut and i > 0]
    tail = tail if len(tail) >= 3 else list(range(len(its) - 3, len(its)))
    adj = [float(pairwise_distances([kernels[its[i - 1]], kernels[its[i]]], centered)[0, 1]) for i in tail]
    return float(np.median(adj)) / max(float(noise), S_RESOLUTION)


@dataclass(frozen=True)
class LogTest:
    """Positive per-replicate values judged against two margins on the log scale: ``estimate`` the geometric
    mean with its t interval; ``p_below`` / ``p_above``: one-sided p of a mean below ``low`` / above ``high``
    (scipy.stats.ttest_1samp); ``verdict``: ``below`` (the interval lies below ``low``), ``above`` (above
    ``high``) or ``between``."""

    values: tuple
    estimate: Estimate
    low: float
    high: float
    p_below: float
    p_above: float
    verdict: str


def log_test(values, low: float, high: float) -> LogTest:
    v = np.asarray(values, float)
    if v.size < 2 or not (v > 0).all():
        raise ValueError(f"values: need at least 2 positive replicates; got {list(v)}")
    x = np.log(v)
    if np.ptp(x) == 0:
        m = float(x[0])
        est = Estimate(math.exp(m), math.exp(m), math.exp(m))
        p_below, p_above = float(m < math.log(low)), float(m > math.log(high))
        p_below, p_above = 1 - p_below, 1 - p_above  # a p of 0 where every replicate is on that side
    else:
        ci = stats.ttest_1samp(x, 0.0).confidence_interval(LEVEL)
        est = Estimate(math.exp(x.mean()), math.exp(ci.low), math.exp(ci.high))
        p_below = float(stats.ttest_1samp(x, math.log(low), alternative="less").pvalue)
        p_above = float(stats.ttest_1samp(x, math.log(high), alternative="greater").pvalue)
    verdict = "below" if est.hi < low else "above" if est.lo > high else "between"
    return LogTest(tuple(map(float, v)), est, float(low), float(high), p_below, p_above, verdict)


@dataclass(frozen=True)
class ConeRule:
    """The protocol's cone claim in one setting: ``growth`` (`LogTest` of the seeds' growth ratios against
    ``GROWTH_FLAT`` / ``GROWTH_RISING``), ``evolving`` (of the tail ratios against ``EVOLVING_RATIO``, both
    margins equal), and the verdicts: ``cone`` holds / fails / inconclusive with ``p`` (the deciding
    one-sided p), ``regime`` (cone, rising, lazy or undecided) and ``evolving_verdict``."""

    growth: LogTest
    evolving: LogTest
    verdict: str
    p: float
    regime: str
    evolving_verdict: str
    evolving_p: float


def evolving_rule(tails) -> tuple[LogTest, str, float]:
    """The protocol's claim 'evolving': the seeds' tail ratios against ``EVOLVING_RATIO`` (the `LogTest`, the
    verdict holds / fails / inconclusive, and its deciding one-sided p)."""
    e = log_test(tails, EVOLVING_RATIO, EVOLVING_RATIO)
    ev = "holds" if e.verdict == "above" else "fails" if e.verdict == "below" else "inconclusive"
    return e, ev, float(e.p_above if ev != "fails" else e.p_below)


def cone_rule(growths, tails) -> ConeRule:
    """The protocol's rule (protocol/claims.toml, claims 'cone' and 'evolving')."""
    g = log_test(growths, GROWTH_FLAT, GROWTH_RISING)
    e, ev, ev_p = evolving_rule(tails)
    if ev == "fails":
        verdict, p, regime = "fails", e.p_below, "lazy"
    elif g.verdict == "below" and ev == "holds":
        verdict, p, regime = "holds", g.p_below, "cone"
    elif g.verdict == "above":
        verdict, p, regime = "fails", g.p_above, "rising"
    else:
        verdict, p, regime = "inconclusive", min(g.p_below, g.p_above), "undecided"
    return ConeRule(g, e, verdict, float(p), regime, ev, float(ev_p))


# ---------------------------------------------------------------- surrogates of the protocol's calibration

def planted_fbm(kernels: dict, start: int, hurst: float = 0.25, seed: int = 0, n_directions: int = N_DIRECTIONS) -> dict:
    """An unbounded motion that keeps rising slowly: as `planted_bounded` but the coordinates are fractional
    Brownian motions with Hurst exponent ``hurst`` (D ∝ L^(2 hurst): 0.25 gives sub-diffusion, D ∝ L^0.5),
    of unit variance at the end of the window, started from the first Phase-II kernel."""
    if not 0 < hurst < 1:
        raise ValueError(f"hurst must lie in (0, 1); got {hurst!r}")
    its = _phase_two(kernels, start)
    rng = np.random.default_rng(seed)
    stack, _, dirs = planted_directions(kernels, its, rng, n_directions)
    t = (np.asarray(its[1:], float) - its[0]) / (its[-1] - its[0])
    cov = 0.5 * (t[:, None] ** (2 * hurst) + t[None, :] ** (2 * hurst) - np.abs(t[:, None] - t[None, :]) ** (2 * hurst))
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(t)))
    c = np.vstack([np.zeros(len(dirs)), chol @ rng.standard_normal((len(t), len(dirs)))])
    hs = stack[0] + torch.einsum("tk,kij->tij", torch.from_numpy(c), dirs)
    w, v = torch.linalg.eigh(hs)
    hs = (v * w.clamp(min=0).unsqueeze(1)) @ v.transpose(1, 2)
    out = dict(kernels)
    out.update({t: h.to(kernels[t].dtype) for t, h in zip(its, hs)})
    return out


def fixed_point(kernels: dict, start: int, decay_fraction: float = 0.1) -> dict:
    """A kernel that converges to a fixed point after its transition: H(t) = H_∞ + (H(t*) - H_∞) exp(-(t - t*)/τ)
    with H_∞ the last Phase-II kernel and τ ``decay_fraction`` of the window (deterministic: no motion is left
    at the end but the arithmetic's)."""
    its = _phase_two(kernels, start)
    h0, hinf = kernels[its[0]].double(), kernels[its[-1]].double()
    tau = decay_fraction * (its[-1] - its[0])
    out = dict(kernels)
    out.update({t: (hinf + (h0 - hinf) * math.exp(-(t - its[0]) / tau)).to(kernels[t].dtype) for t in its})
    return out


CALIBRATION_DIRECTIONS = 16  # directions of the planted motions in the cone rule's calibration (4 make D(L) of one
# realisation too noisy to stand for a kernel that moves in many directions)
# surrogate name -> (its known answer for the cone claim, the builder); ℓ as a fraction of the Phase-II window
CONE_SURROGATES = {  # name -> (the right answers, the false one), as protocol/claims.toml states them
    "shuffled (bounded, no memory)": (("holds",), "fails"),
    "planted bounded, ℓ = W/20": (("holds",), "fails"),
    "planted bounded, ℓ = W/10": (("holds",), "fails"),
    "planted bounded, ℓ = W/5": (("holds", "inconclusive"), "fails"),
    "random walk of the increments": (("fails",), "holds"),
    "sub-diffusive, D ∝ L^0.5": (("fails", "inconclusive"), "holds"),
    "fixed point after the transition": (("fails",), "holds"),
}


def cone_surrogate(name: str, kernels: dict, start: int, seed: int) -> dict:
    """One surrogate of ``CONE_SURROGATES`` built from a real kernel series."""
    check_choice("surrogate", name, CONE_SURROGATES)
    its = _phase_two(kernels, start)
    w = its[-1] - its[0]
    if name.startswith("shuffled"):
        return shuffled(kernels, start, seed)
    if name.startswith("planted"):
        frac = {"W/20": 20, "W/10": 10, "W/5": 5}[name.rsplit("= ", 1)[1]]
        return planted_bounded(kernels, start, w / frac, seed, n_directions=CALIBRATION_DIRECTIONS)
    if name.startswith("random walk"):
        return random_walk(kernels, start, seed)
    if name.startswith("sub-diffusive"):
        return planted_fbm(kernels, start, 0.25, seed, n_directions=CALIBRATION_DIRECTIONS)
    return fixed_point(kernels, start)


def _cone_calibration_job(job) -> dict:
    name, kernels_list, start, end, noises, n_seeds, n_rep, centered, seed0 = job
    counts = {"holds": 0, "fails": 0, "inconclusive": 0}
    for r in range(n_rep):
        gs, ts = [], []
        for i in range(n_seeds):
            k = kernels_list[i % len(kernels_list)]
            sur = cone_surrogate(name, {t: h for t, h in k.items() if t <= end}, start, seed0 + 1000 * r + i)
            gs.append(growth_ratio(sur, start, end, centered))
            ts.append(max(tail_ratio(sur, end, noises[i % len(noises)], centered), 1e-300))
        counts[cone_rule(gs, ts).verdict] += 1
    right, false = CONE_SURROGATES[name]
    return dict(surrogate=name, right=right, false=false, n_rep=n_rep, n_seeds=n_seeds, counts=counts,
                right_rate=sum(counts[v] for v in right) / n_rep, false_rate=counts[false] / n_rep)


@timing("statistics: the cone rule on surrogates")
def calibrate_cone(kernels_list, start: int, end: int, noises, n_seeds: int, n_rep: int, centered: bool = True,
                   seed: int = 0) -> list[dict]:
    """Each surrogate of ``CONE_SURROGATES`` through the protocol's cone rule ``n_rep`` times at ``n_seeds``
    seeds (seed i built from series i mod len, with its noise floor): one dict per surrogate with the counts
    of each verdict. Worker processes of one thread each; the draws are seeded, so the rows do not
    depend on the number of workers."""
    kernels_list = list(kernels_list)
    if not kernels_list:
        raise ValueError("kernels_list must hold at least one kernel series")
    check_int("n_seeds", n_seeds, 1)
    check_int("n_rep", n_rep, 1)
    jobs = [(name, kernels_list, start, end, list(noises), n_seeds, n_rep, centered, seed) for name in CONE_SURROGATES]
    return run_parallel(_cone_calibration_job, jobs, desc="cone surrogates", threads=1, label=lambda j: j[0])
