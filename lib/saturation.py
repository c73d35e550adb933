"""The cone claim judged as *saturation of the kernel's motion*.

The cone effect says that after the transition the kernel keeps moving but stays inside a
bounded region. A bounded motion has a finite correlation time: the mean distance between two
kernels L iterations apart, D(L) = mean_t S(t, t+L), rises with L and levels off at a plateau
once L exceeds the correlation time ℓ. A kernel that drifts (or performs a random walk) has
D(L) rising like a power law to the longest lag (S ≈ angle²/2: exponent 1 for a random walk, 2
for constant drift). A lazy kernel has D(L) at the noise floor of the instrument.

Statistics of one lag profile (`lag_profile`; every interval a 95% moving-block bootstrap over
the *start times* t of the pairs, the same resampled start times for every lag):

- **correlation time** ℓ: log D(L) fitted by log[D∞ (1 - exp(-L/ℓ))] (least squares on log D,
  i.e. relative residuals; ``scipy.optimize.curve_fit`` started from a profile over an ℓ grid;
  the bootstrap refits by the grid profile). ℓ at the top of the grid means "no plateau found".
- **ΔAIC** = AIC(power law a L^b) - AIC(saturating curve), both on log D with two parameters:
  positive when the saturating curve fits better, about 0 for a flat profile (ℓ below the spacing:
  both curves are flat), strongly negative when D keeps rising like a power law past the fitted ℓ.
- **long-lag exponent** d log D / d log L: least-squares slope over the lags in the upper
  ``TOP_FRACTION`` of the grid (log scale): 0 levelled off, 1 random walk, 2 drift.
- **variance ratio** VR = D(L_max) / ((L_max / spacing) D(spacing)): ~1 for a random walk, small
  for a bounded motion (about ℓ / L_max once L_max >> ℓ).

Decision: the profile is *lazy* if D at the longest lag is within ``LAZY_RATIO`` times the noise
floor. It is a *cone* if ℓ is resolved (its upper bound at most ``RESOLVED_FRACTION`` of the longest
lag) and the power law does not fit decisively better (ΔAIC >= ``AIC_MARGIN``): a plateau inside the
window that the data support, unless D still rises at long lags (the long-lag exponent's interval
above ``EXPONENT_SPLIT``, halfway between a plateau and a random walk) and the power law fits better
(ΔAIC < 0). Otherwise it is *drifting* if the long-lag exponent's interval lies above
``EXPONENT_SPLIT``, else *unsaturated*, with ℓ's lower bound reported as a lower bound on the
correlation time where no plateau is resolved.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize, stats

from .checks import check_choice, check_int
from .kernels import pairwise_distances
from .estimate import LEVEL, S_RESOLUTION, Estimate
from .runtime import run_parallel, timing

NAMES = ("cone", "unsaturated", "drifting", "lazy")
N_LAGS = 12  # log-spaced lags (before snapping to the spacing): enough points for a 2-parameter fit
MAX_LAG_FRACTION = 0.5  # longest lag / window: pairs at L = W/2 still have W/2 of start times
TOP_FRACTION = 0.3  # the long-lag exponent uses the lags in the upper 30% of log L (at least 3 lags)
LAZY_RATIO = 3.0  # D(L_max) at most this multiple of the noise floor: the kernel does not move (as phases.NOISE_RATIO)
EXPONENT_SPLIT = 0.5  # long-lag exponent halfway between a plateau (0) and a random walk (1)
# The protocol's cone and 'keeps evolving' margins (protocol/claims.toml says where each comes from):
GROWTH_LAG_RATIO = 4  # growth ratio G = D(L_max) / D(L_max / GROWTH_LAG_RATIO)
GROWTH_FLAT = 1.4  # G below: nearly constant (a bounded motion with correlation time W/10 gives 1.39)
GROWTH_RISING = 2.0  # G above: keeps rising (sub-diffusion D ~ L^0.5 gives 4^0.5 = 2)
EVOLVING_RATIO = 3.0  # late adjacent S over the noise floor above which the kernel still moves (3-sigma detection)
EVOLVING_TAIL = 0.1  # the late adjacent S: the median over the last tenth of the window
NARROW_RATIO = 1.0  # Phase-II angular spread over the Phase-I angle below which the cone is narrow
# ℓ resolved if its upper bound is at most the longest lag (= half the window: the window holds two
# correlation times). Measured on n = 20 synthetic series: random-walk surrogates give an upper bound
# >= 2.4 longest lags (20 of 20), planted OU motions with ℓ = window/5 <= 1 longest lag in 15 of 20.
RESOLVED_FRACTION = 1.0
# ΔAIC below this: the power law fits decisively better and a fitted plateau is not supported.
# Calibrated on bounded motions, whose answer is known, not on a verdict: planted Ornstein-Uhlenbeck
# motions on the default's own Phase-II kernels (`planted_bounded`, 4 directions, 5 seeds x 2 draws,
# AVX-512, 2026-11-30) gave ΔAIC >= -6 at ℓ = 25 and 100 and >= -20.4 at ℓ = 200 (an eighth of the
# window); on 3 synthetic stationary series, -10.9 at ℓ = 100. With 60 directions (tests/test_phases.py)
# OU motions give +21 to +43 and fractional Brownian motion with D ~ L^0.4-0.5 (unbounded) -34 to -62.
# The margin sits below every bounded motion measured with ℓ up to an eighth of the window.
AIC_MARGIN = -20.0
ELL_GRID = (0.05, 100.0, 301)  # ℓ grid: from 1/20 of the spacing to 100 windows, log-spaced points
N_BOOT = 300  # bootstrap resamples of the start times
SEED_ALPHA = 1 - LEVEL  # level of the across-seed tests
TESTS = ("t", "wilcoxon")  # across_seeds
DEFAULT_CORR_TIMES = (25, 50, 100, 200, 400, 1000)
N_DIRECTIONS = 4  # planted_bounded: fixed directions carrying the OU motion


@dataclass(frozen=True)
class LagProfile:
    """D(L) = mean S(t, t+L) over every stored pair with start <= t < t+L <= end.

    lags: the lags (iterations); D: the means; n_pairs: pairs per lag; spacing: the checkpoint
    spacing; window: (start, end); values: S(t_i, t_i+L) per lag (rows) and start time (columns,
    NaN where t_i + L > end), kept for the bootstrap; centered: S on C H C.
    """

    lags: tuple
    D: tuple
    n_pairs: tuple
    spacing: int
    window: tuple
    values: np.ndarray
    centered: bool


def _window(kernels: dict, start: int, end: int | None) -> list[int]:
    if not isinstance(kernels, dict) or not kernels:
        raise ValueError("kernels must be a non-empty dict {iteration: kernel}; got an empty series")
    its = sorted(kernels)
    end = its[-1] if end is None else end
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    inside = [t for t in its if start <= t <= end]
    if len(inside) < 4:
        raise ValueError(f"start/end: the window [{start}, {end}] holds {len(inside)} checkpoints; need at least 4")
    return inside


def lag_grid(spacing: int, window: int, n: int = N_LAGS) -> list[int]:
    """Log-spaced lags from ``spacing`` to ``MAX_LAG_FRACTION`` of ``window``, multiples of the spacing."""
    top = max(spacing, int(MAX_LAG_FRACTION * window) // spacing * spacing)
    raw = np.geomspace(spacing, top, n)
    return sorted({int(max(1, round(x / spacing))) * spacing for x in raw})


def lag_profile(kernels: dict, start: int, end: int | None = None, centered: bool = True, lags=None) -> LagProfile:
    """The lag profile of ``kernels`` in [start, end] (None: the last iteration); ``lags``: None for
    `lag_grid`. The pairwise S matrix is computed once (float64)."""
    its = _window(kernels, start, end)
    spacing = int(np.gcd.reduce(np.diff(its)))
    span = its[-1] - its[0]
    lags = lag_grid(spacing, span) if lags is None else sorted({int(x) for x in lags})
    if not lags or lags[0] < 1 or lags[-1] > span:
        raise ValueError(f"lags must lie in [1, {span}] (the window); got {lags}")
    s = pairwise_distances([kernels[t] for t in its], centered).numpy()
    pos = {t: i for i, t in enumerate(its)}
    values = np.full((len(lags), len(its)), np.nan)
    for k, lag in enumerate(lags):
        for i, t in enumerate(its):
            j = pos.get(t + lag)
            if j is not None:
                values[k, i] = s[i, j]
    n_pairs = tuple(int(c) for c in np.isfinite(values).sum(1))
    if min(n_pairs) == 0:
        raise ValueError(f"lags: no stored pair at lag(s) {[l for l, c in zip(lags, n_pairs) if c == 0]}")
    return LagProfile(tuple(lags), tuple(float(np.nanmean(v)) for v in values), n_pairs, spacing,
                      (its[0], its[-1]), values, centered)


@dataclass(frozen=True)
class Saturation:
    """The saturation verdict of one lag profile (see the module docstring).

    name: one of ``NAMES``; reason: one sentence; profile: the `LagProfile`; noise: the floor used;
    corr_time: ℓ (iterations) with its bootstrap interval (the grid's top, ``ELL_GRID[1]`` windows,
    means unbounded); plateau: D∞; power: (a, b) of the power law; delta_aic: AIC(power) -
    AIC(saturating); exponent: the long-lag exponent; variance_ratio: VR at the longest lag;
    corr_time_bound: for ``unsaturated``/``drifting`` the lower bound on ℓ (else None); n_boot.
    """

    name: str
    reason: str
    profile: LagProfile
    noise: float
    corr_time: Estimate
    plateau: float
    power: tuple
    delta_aic: float
    exponent: Estimate
    variance_ratio: Estimate
    corr_time_bound: float | None
    n_boot: int


def _block_starts(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """Moving-block bootstrap of n start indices: blocks of about sqrt(n) consecutive starts (kept
    together because neighbouring start times share most of their motion). (n_boot, n)."""
    b = max(1, int(round(math.sqrt(n))))
    starts = rng.integers(0, n - b + 1, size=(n_boot, -(-n // b)))
    return (starts[:, :, None] + np.arange(b)).reshape(n_boot, -1)[:, :n]


def _ell_profile(x: np.ndarray, y: np.ndarray, ells: np.ndarray) -> np.ndarray:
    """RSS of log D = c + log(1 - exp(-L/ℓ)) with c profiled out, per ℓ (rows) and column of y."""
    g = np.log(-np.expm1(-np.exp(x)[:, None] / ells[None, :]))  # (K, G)
    gc, yc = g - g.mean(0), y - y.mean(0)  # (K, G), (K, B)
    return (yc ** 2).sum(0)[None, :] - 2 * gc.T @ yc + (gc ** 2).sum(0)[:, None]


def _slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean()
    return xc @ (y - y.mean(0)) / (xc @ xc)


def _ci(value, draws) -> Estimate:
    a = (1 - LEVEL) / 2
    return Estimate(float(value), float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a)))


def saturation(profile: LagProfile, noise: float = 0.0, n_boot: int = N_BOOT, seed: int = 0) -> Saturation:
    """Judge one lag profile (see the module docstring). ``noise``: the measured noise floor of S
    (`lib.kernels.noise_floor`; 0: none, raised to ``phases.S_RESOLUTION``)."""
    check_int("n_boot", n_boot, 20)
    if not isinstance(profile, LagProfile):
        raise ValueError(f"profile must be a LagProfile (from lag_profile); got {type(profile).__name__}")
    if len(profile.lags) < 3:
        raise ValueError(f"profile: need at least 3 lags to fit; got {len(profile.lags)}")
    eps = max(float(noise), S_RESOLUTION)
    lags = np.asarray(profile.lags, float)
    d = np.asarray(profile.D)
    window = profile.window[1] - profile.window[0]
    nan = Estimate(float("nan"), float("nan"), float("nan"))
    if d[-1] <= LAZY_RATIO * eps:
        return Saturation("lazy", f"D at the longest lag ({d[-1]:.2g}) is within {LAZY_RATIO:g}x the noise floor "
                          f"({eps:.2g})", profile, eps, nan, float(d[-1]), (float("nan"),) * 2, float("nan"),
                          nan, nan, None, n_boot)
    rng = np.random.default_rng(seed)
    idx = _block_starts(profile.values.shape[1], rng, n_boot)
    with warnings.catch_warnings():  # a resample without pairs at a lag: handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = np.nanmean(profile.values[:, idx], axis=2)  # (K, B)
    boot = np.where(np.isfinite(boot), boot, d[:, None])  # a resample without pairs at a lag keeps its mean
    x = np.log(lags)
    y, yb = np.log(np.maximum(d, eps)), np.log(np.maximum(boot, eps))
    ells = profile.spacing * np.geomspace(ELL_GRID[0], ELL_GRID[1] * window / profile.spacing, ELL_GRID[2])

    # the saturating curve: grid profile, then curve_fit from its optimum
    i0 = int(np.argmin(_ell_profile(x, y[:, None], ells)[:, 0]))

    def model(lx, log_dinf, log_ell):
        return log_dinf + np.log(-np.expm1(-np.exp(lx - log_ell)))

    p0 = (float(np.mean(y - np.log(-np.expm1(-lags / ells[i0])))), math.log(ells[i0]))
    bounds = ([-np.inf, math.log(ells[0])], [np.inf, math.log(ells[-1])])
    try:
        (log_dinf, log_ell), _ = optimize.curve_fit(model, x, y, p0=p0, bounds=bounds)
    except (RuntimeError, ValueError):
        log_dinf, log_ell = p0
    rss_sat = float(((y - model(x, log_dinf, log_ell)) ** 2).sum())
    ell_b = ells[np.argmin(_ell_profile(x, yb, ells), axis=0)]
    corr_time = _ci(math.exp(log_ell), ell_b)

    power = stats.linregress(x, y)
    rss_pow = float(((y - power.intercept - power.slope * x) ** 2).sum())
    tiny = 1e-12 * max(rss_pow, rss_sat, 1e-300)
    delta_aic = len(x) * math.log(max(rss_pow, tiny) / max(rss_sat, tiny))  # both models have two parameters

    top = x >= x[-1] - TOP_FRACTION * (x[-1] - x[0])
    top[-3:] = True
    exponent = _ci(float(_slope(x[top], y[top, None])[0]), _slope(x[top], yb[top]))
    steps = lags[-1] / profile.spacing
    vr = _ci(d[-1] / (steps * d[0]), boot[-1] / (steps * np.maximum(boot[0], eps))) if lags[0] == profile.spacing \
        else nan

    text = (f"ℓ = {corr_time.fmt(0)} iterations (longest lag {lags[-1]:g}), long-lag exponent {exponent.fmt()}, "
            f"VR {vr.fmt()}, ΔAIC {delta_aic:.1f}")
    bound = None
    resolved = corr_time.hi <= RESOLVED_FRACTION * lags[-1]
    rising = exponent.above(EXPONENT_SPLIT)
    if resolved and delta_aic >= AIC_MARGIN and not (rising and delta_aic < 0):
        name, reason = "cone", f"D levels off inside the window: {text}"
    elif rising:
        bound = float(corr_time.lo)
        name, reason = "drifting", f"D keeps rising at long lags (exponent above {EXPONENT_SPLIT:g}): {text}"
    else:
        bound = None if resolved else float(corr_time.lo)
        why = (f"a power law fits D decisively better than a plateau (ΔAIC < {AIC_MARGIN:g})" if resolved
               else f"no plateau resolved in the window (ℓ >= {corr_time.lo:.0f})")
        name, reason = "unsaturated", f"{why}: {text}"
    return Saturation(name, reason, profile, eps, corr_time, math.exp(log_dinf), (math.exp(power.intercept),
                      float(power.slope)), float(delta_aic), exponent, vr, bound, n_boot)


def judge(kernels: dict, start: int, end: int | None = None, centered: bool = True, noise: float = 0.0,
          seed: int = 0) -> Saturation:
    """`lag_profile` then `saturation`."""
    return saturation(lag_profile(kernels, start, end, centered), noise=noise, seed=seed)


# ---------------------------------------------------------------- surrogates (answers known)

def _phase_two(kernels: dict, start: int) -> list[int]:
    its = _window(kernels, start, None)
    return its


def shuffled(kernels: dict, start: int, seed: int = 0) -> dict:
    """The kernels at iterations >= ``start`` put in random time order (bounded by construction:
    every pair is a pair of Phase-II kernels whatever its lag); earlier kernels unchanged."""
    its = _phase_two(kernels, start)
    perm = np.random.default_rng(seed).permutation(len(its))
    out = dict(kernels)
    out.update({t: kernels[its[p]] for t, p in zip(its, perm)})
    return out


def random_walk(kernels: dict, start: int, seed: int = 0) -> dict:
    """H(t*) plus the cumulated Phase-II increments ΔH in random order with random signs (t* the
    first checkpoint at or after ``start``): a random walk with the real step sizes."""
    its = _phase_two(kernels, start)
    rng = np.random.default_rng(seed)
    steps = [kernels[b].double() - kernels[a].double() for a, b in zip(its, its[1:])]
    order, signs = rng.permutation(len(steps)), rng.choice([-1.0, 1.0], len(steps))
    out, h = dict(kernels), kernels[its[0]].double().clone()
    for t, k, sg in zip(its[1:], order, signs):
        h = h + sg * steps[k]
        out[t] = h.to(kernels[t].dtype)
    return out


def planted_directions(kernels: dict, its, rng: np.random.Generator, n_directions: int = N_DIRECTIONS):
    """(the kernels at ``its`` stacked, their mean, ``n_directions`` symmetric directions: deviations of randomly
    chosen ones from the mean, scaled so that unit coordinates give the real size of the motion)."""
    stack = torch.stack([kernels[t].double() for t in its])
    mean = stack.mean(0)
    dirs = stack[rng.choice(len(its), size=min(n_directions, len(its)), replace=False)] - mean
    return stack, mean, (dirs + dirs.transpose(1, 2)) / 2 / math.sqrt(len(dirs))


def planted_bounded(kernels: dict, start: int, corr_time: float, seed: int = 0,
                    n_directions: int = N_DIRECTIONS, clip: bool = True) -> dict:
    """A stationary bounded motion on the Phase-II iterations: the mean Phase-II kernel M plus
    ``n_directions`` fixed symmetric directions (deviations H(t_k) - M of randomly chosen Phase-II
    kernels, so the motion has the real size) times Ornstein-Uhlenbeck coordinates of unit variance
    and correlation time ``corr_time`` iterations; ``clip``: negative eigenvalues set to 0 (PSD)."""
    if not corr_time > 0:
        raise ValueError(f"corr_time must be positive (iterations); got {corr_time!r}")
    its = _phase_two(kernels, start)
    rng = np.random.default_rng(seed)
    stack, mean, dirs = planted_directions(kernels, its, rng, n_directions)
    c = np.empty((len(its), len(dirs)))
    c[0] = rng.standard_normal(len(dirs))
    for i in range(1, len(its)):
        rho = math.exp(-(its[i] - its[i - 1]) / corr_time)
        c[i] = rho * c[i - 1] + math.sqrt(1 - rho ** 2) * rng.standard_normal(len(dirs))
    hs = mean + torch.einsum("tk,kij->tij", torch.from_numpy(c), dirs)
    if clip:
        w, v = torch.linalg.eigh(hs)
        hs = (v * w.clamp(min=0).unsqueeze(1)) @ v.transpose(1, 2)
    out = dict(kernels)
    out.update({t: h.to(kernels[t].dtype) for t, h in zip(its, hs)})
    return out


SURROGATES = {"shuffled": "cone", "planted": "cone", "random walk": "drifting"}  # the known answers


# ---------------------------------------------------------------- replicates (seeds)

@dataclass(frozen=True)
class SeedVerdict:
    """A setting's verdict from its seeds' saturation statistics, by one-sided tests across seeds
    that mirror the per-seed rule (the seeds need not agree).

    exponents / log_corr_times / delta_aics: per moving (non-lazy) seed, the long-lag exponent,
    log(ℓ / L_max) and ΔAIC; exponent / log_corr_time / delta_aic: their means with the test's
    interval (t test: t interval; Wilcoxon: the range); test: its name; p_drift: p of "mean exponent
    > ``EXPONENT_SPLIT``"; p_cone: p of "mean log(ℓ / L_max) < log ``RESOLVED_FRACTION``"; p_plateau:
    p of "mean ΔAIC > ``AIC_MARGIN``"; n: seeds; names: per-seed decisions; verdict: lazy (a majority
    of seeds lazy), cone (p_cone and p_plateau both < ``SEED_ALPHA``/2: resolved, and the plateau
    supported), else drifting (p_drift < ``SEED_ALPHA``/2), else unsaturated.
    """

    exponents: tuple
    log_corr_times: tuple
    exponent: Estimate
    log_corr_time: Estimate
    test: str
    p_drift: float
    p_cone: float
    n: int
    names: tuple
    verdict: str
    delta_aics: tuple = ()
    delta_aic: Estimate | None = None
    p_plateau: float = float("nan")


def _one_sided(v: np.ndarray, threshold: float, alternative: str, test: str) -> tuple[float, Estimate]:
    if test == "t":
        r = stats.ttest_1samp(v, threshold, alternative=alternative)
        ci = stats.ttest_1samp(v, threshold).confidence_interval(LEVEL)
        return float(r.pvalue), Estimate(float(v.mean()), float(ci.low), float(ci.high))
    p = float(stats.wilcoxon(v - threshold, alternative=alternative).pvalue)
    return p, Estimate(float(v.mean()), float(v.min()), float(v.max()))


def across_seeds(results, test: str = "t") -> SeedVerdict:
    """Combine per-seed `Saturation` results: ``test`` ``t`` (``scipy.stats.ttest_1samp``) or
    ``wilcoxon`` (``scipy.stats.wilcoxon``, signed ranks; needs >= 6 seeds to reach p < 0.025) on
    the long-lag exponent (drifting?), on log(ℓ / L_max) and on ΔAIC (cone?). Lazy seeds are left out."""
    check_choice("test", test, TESTS)
    results = list(results)
    if not results:
        raise ValueError("results: across_seeds needs at least one seed's Saturation")
    names = tuple(r.name for r in results)
    moving = [r for r in results if r.name != "lazy"]
    name = {"t": "one-sided one-sample t tests (scipy.stats.ttest_1samp)",
            "wilcoxon": "one-sided signed-rank tests (scipy.stats.wilcoxon)"}[test]
    nan = Estimate(float("nan"), float("nan"), float("nan"))
    if 2 * (len(results) - len(moving)) > len(results) or len(moving) < 2:
        verdict = "lazy" if 2 * (len(results) - len(moving)) > len(results) else "unsaturated"
        return SeedVerdict((), (), nan, nan, name, float("nan"), float("nan"), len(results), names, verdict)
    ex = np.array([r.exponent.value for r in moving])
    ell = np.array([math.log(r.corr_time.value / r.profile.lags[-1]) for r in moving])
    p_drift, exponent = _one_sided(ex, EXPONENT_SPLIT, "greater", test)
    p_cone, log_ell = _one_sided(ell, math.log(RESOLVED_FRACTION), "less", test)
    aic = np.array([r.delta_aic for r in moving])
    p_plateau, delta_aic = _one_sided(aic, AIC_MARGIN, "greater", test)
    # as for one seed: still rising at long lags with the power law fitting better (ΔAIC < 0) is not a
    # cone, even where the correlation time is resolved and ΔAIC is above the margin
    drifting = p_drift < SEED_ALPHA / 2
    cone = max(p_cone, p_plateau) < SEED_ALPHA / 2 and not (drifting and delta_aic.value < 0)
    verdict = "cone" if cone else "drifting" if drifting else "unsaturated"
    return SeedVerdict(tuple(map(float, ex)), tuple(map(float, ell)), exponent, log_ell, name, p_drift, p_cone,
                       len(results), names, verdict, tuple(map(float, aic)), delta_aic, p_plateau)


# ---------------------------------------------------------------- calibration

@dataclass(frozen=True)
class CalibrationRow:
    """One surrogate through the pipeline ``n_rep`` times at ``n_seeds`` seeds: expected answer,
    rate of the expected setting verdict (power), rate of the false one (bounded called drifting,
    random walk called cone), per-seed rates of the same, and the setting verdicts' counts."""

    surrogate: str
    expected: str
    n_seeds: int
    n_rep: int
    power: float
    false_rate: float
    seed_power: float
    seed_false_rate: float
    counts: dict


def _surrogate(name: str, kernels: dict, start: int, seed: int, corr_time: float) -> dict:
    if name == "shuffled":
        return shuffled(kernels, start, seed)
    if name == "random walk":
        return random_walk(kernels, start, seed)
    return planted_bounded(kernels, start, corr_time, seed)


def _run(name, kernels_list, start, n_seeds, n_rep, corr_time, centered, test, seed0):
    expected = SURROGATES.get(name, "cone")
    false = "cone" if expected == "drifting" else "drifting"
    verdicts, seed_names = [], []
    for r in range(n_rep):
        res = []
        for i in range(n_seeds):
            k = kernels_list[i % len(kernels_list)]
            s = seed0 + 1000 * r + i
            res.append(saturation(lag_profile(_surrogate(name, k, start, s, corr_time), start, centered=centered),
                                  seed=s))
        verdicts.append(across_seeds(res, test).verdict)
        seed_names += [x.name for x in res]
    counts = {v: verdicts.count(v) for v in NAMES if v in verdicts}
    return CalibrationRow(name, expected, n_seeds, n_rep, verdicts.count(expected) / n_rep,
                          verdicts.count(false) / n_rep, seed_names.count(expected) / len(seed_names),
                          seed_names.count(false) / len(seed_names), counts)


def _run_job(job) -> CalibrationRow:
    return _run(*job)


def _runs(surrogates, kernels_list, start, n_seeds, n_rep, centered, test, seed) -> list[CalibrationRow]:
    """`_run` for each (name, correlation time) of ``surrogates``, side by side in worker processes of
    one thread each (`lib.runtime.run_parallel`); the surrogates' random draws are seeded by
    ``seed``, so the rows do not depend on how many workers compute them."""
    jobs = [(name, kernels_list, start, n_seeds, n_rep, tau, centered, test, seed) for name, tau in surrogates]
    return run_parallel(_run_job, jobs, desc="surrogates", threads=1, label=lambda j: j[0])


def calibrate(kernels_list, start: int, n_seeds: int = 5, n_rep: int = 200, corr_time: float = 100,
              centered: bool = True, test: str = "t", seed: int = 0) -> list[CalibrationRow]:
    """False-decision rate and power of the setting verdict at ``n_seeds`` seeds on the three
    surrogates of the real series ``kernels_list`` (seed i uses series i mod len), ``n_rep`` times;
    the planted motion has correlation time ``corr_time``."""
    kernels_list = list(kernels_list)
    if not kernels_list:
        raise ValueError("kernels_list must hold at least one kernel series")
    check_int("n_seeds", n_seeds, 1)
    check_int("n_rep", n_rep, 1)
    check_choice("test", test, TESTS)
    return _runs([(name, corr_time) for name in SURROGATES], kernels_list, start, n_seeds, n_rep, centered, test, seed)


@timing("statistics: planted correlation times")
def corr_time_sweep(kernels_list, start: int, corr_times=DEFAULT_CORR_TIMES, n_seeds: int = 5, n_rep: int = 20,
                    centered: bool = True, test: str = "t", seed: int = 0) -> list[CalibrationRow]:
    """Planted bounded motions with each correlation time through the same pipeline: one row per
    correlation time (surrogate ``planted ℓ=<τ>``), with the counts of each setting verdict."""
    kernels_list = list(kernels_list)
    if not kernels_list:
        raise ValueError("kernels_list must hold at least one kernel series")
    return _runs([(f"planted ℓ={tau:g}", tau) for tau in corr_times], kernels_list, start, n_seeds, n_rep,
                 centered, test, seed)

