"""A regime classifier for a series of kernels {iteration: H}: cone, lazy, drifting, unsaturated,
no-transition or inconclusive, each decision with the statistic it used and a confidence interval.

The papers' claim (Phase II, the cone effect: the kernel keeps moving inside a bounded region) is
told apart from its rivals: the *lazy* regime of Fort et al. (after the transition the kernel stops
moving), a kernel that keeps *drifting* away, and a motion whose bound, if any, lies beyond the
window (*unsaturated*). All statistics are computed in the analysis window [first iteration,
``window_end``] (the pages use the constant-learning-rate part of the run).

Phase II starts at ``phase_two`` when it is given (a setting's t*, the median of its seeds'
transitions), else at the run's own change point, else at ``PHASE2_FALLBACK`` of the window.

The decision (`_decide`):

1. **change point**: log S(t, t+dt_min) against log(t + dt_min) is fitted by one line (a single
   power law: one smooth regime) and by a line up to a break followed by a constant (a fast phase,
   then a floor). ``dbic`` is the BIC of the single power law minus that of the broken fit; a
   change point needs ``dbic >= CHANGE_POINT_BIC`` and an early peak ``drop >= DROP_MIN`` times the
   floor. The transition is the break; its 95% interval comes from a moving-block bootstrap of the
   broken fit's residuals (the break refitted on every resample), not from a chi-square profile: the
   break is not a regular parameter and the residuals are correlated.
2. **saturation** of the Phase-II motion (`lib.saturation`, from every stored pair of Phase-II
   kernels): lazy (D at the longest lag within ``saturation.LAZY_RATIO`` times the noise floor),
   drifting (the long-lag exponent's interval above ``saturation.EXPONENT_SPLIT``), cone (the
   correlation time resolved inside the window) or unsaturated (no plateau resolved).
3. ``lazy`` needs flat reference curves too: D at the noise with reference curves that keep
   rising (pooled growth exponent above ``REF_GROWTH_MAX``) is ``inconclusive``; ``drifting``
   stands with or without a change point; without one the answer is otherwise ``no-transition``
   (the absence of a change point at that threshold, not proof that none exists); with one it is
   the saturation's cone or unsaturated.

Reported beside the decision, not in it (each with a 95% moving-block bootstrap interval over
checkpoints, blocks at least as long as the largest dt so that overlapping pairs stay together):

- **late floors**: the median of S(t, t+dt) per dt over the Phase-II checkpoints, and the
  **noise ratio**, the floor of the largest dt over the measured noise floor of the instrument
  (`lib.kernels.noise_floor`);
- **floor slope**: d log(floor) / d log(dt) (small angles: S ≈ angle²/2, so constant drift gives 2,
  a random walk 1, motion inside a fixed cone 0 once dt exceeds its correlation time);
- **reference growth**: for references τ at the fractions ``REF_FRACTIONS`` of the Phase-II window
  (as in the papers: τ = 2000..8000 of T = 10^4), the late growth exponent of S(t, τ) over the upper
  half of the log(t − τ) range; the pooled value is their inverse-variance weighted mean, its
  bootstrap resampling the same checkpoints for every τ (the curves share kernels).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import saturation
from .estimate import LEVEL, S_RESOLUTION, Estimate
from .kernels import adjacent_distances, reference_distances
from .runtime import timing

REGIMES = ("cone", "lazy", "drifting", "unsaturated", "no-transition", "inconclusive")

CHANGE_POINT_BIC = 10.0  # BIC difference for "a fast phase, then a floor" over one power law ("very strong")
DROP_MIN = 3.0  # early peak over the floor for the change point to be a fast first phase
NOISE_RATIO = 3.0  # late floor / noise floor at or below which the kernel's adjacent motion is at the noise (reported)
FLOOR_SLOPE_MAX = 0.5  # d log floor / d log dt: 0 shared floor (cone), 1 random walk, 2 constant drift (reported)
REF_GROWTH_MAX = 0.25  # late d log S(t, τ) / d log(t - τ): 0 levelled off, 0.5 sqrt growth, 1 random walk
REF_FRACTIONS = (0.0, 0.25, 0.5, 0.75)  # τ at these fractions of the Phase-II window (the papers': 2000..8000 of 10^4)
PHASE2_FALLBACK = 0.2  # Phase II starts at this fraction of T where no transition is found (the papers' first reference
# 2000 of T = 10^4)
# The centered S decides: the sum-of-logits kernel is dominated by its constant component, which
# compresses raw distances and the statistics computed on them; the raw S (the papers') is judged beside it.
DECIDING_CENTERED = True
MIN_PAIRS = 6  # adjacent pairs each dt needs inside the window (the change point and the floors are fits)
N_BOOT = 400  # bootstrap resamples


@dataclass(frozen=True)
class Regime:
    """The regime of one kernel series, with every statistic behind it (see the module docstring).

    name: one of ``REGIMES``; reason: the decision in one sentence; centered: S on C H C;
    window: (first, last) iteration analysed; transition / transition_interval: the change point
    and its 95% bootstrap interval (None without one); dbic: BIC(one power law) - BIC(phase then
    floor); drop: early peak / fitted floor of S(t, t+dt_min); noise: the noise floor used (the
    measured one, raised to ``S_RESOLUTION``); floor: Phase-II median of S(t, t+dt) per dt;
    noise_ratio: floor of the largest dt / noise; floor_slope: d log floor / d log dt; taus: the
    references used; ref_growth: late growth exponent per τ; ref_growth_pooled: their weighted mean
    (None without references); phase_two: where Phase II starts; saturation: the
    `lib.saturation.Saturation` of the Phase-II motion (None where Phase II is too short to fit it).
    """

    name: str
    reason: str
    centered: bool
    window: tuple[int, int]
    transition: int | None
    transition_interval: tuple[int, int] | None
    dbic: float
    drop: float
    noise: float
    floor: dict[int, Estimate]
    noise_ratio: Estimate
    floor_slope: Estimate
    taus: tuple[int, ...] = ()
    ref_growth: dict[int, Estimate] = field(default_factory=dict)
    ref_growth_pooled: Estimate | None = None
    phase_two: int = 0
    saturation: saturation.Saturation | None = None


def _ci(value: float, draws) -> Estimate:
    draws = np.asarray([d for d in draws if np.isfinite(d)])
    a = (1 - LEVEL) / 2
    if len(draws) == 0:
        return Estimate(float(value), float("nan"), float("nan"))
    return Estimate(float(value), float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a)))


def _block_resamples(n: int, rng: np.random.Generator, n_boot: int = N_BOOT, block: int | None = None) -> np.ndarray:
    """Moving-block bootstrap index sets (n_boot, n): blocks of ``block`` (None: about sqrt(n))
    consecutive points, so that the correlation between neighbouring checkpoints is kept."""
    b = min(n, max(1, int(round(np.sqrt(n))) if block is None else int(block)))
    starts = rng.integers(0, n - b + 1, size=(n_boot, -(-n // b)))
    return (starts[:, :, None] + np.arange(b)).reshape(n_boot, -1)[:, :n]


def _break_rss(x: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of ``ys`` (B, n) and each break k (at least 3 points on either side): the RSS of
    a line on the first k points plus a constant on the rest (B, K), from running sums; also the
    breaks and the RSS of one line through all points (B,)."""
    n = len(x)
    ks = np.arange(3, n - 2)
    cx, cxx = np.cumsum(x), np.cumsum(x * x)
    cy, cyy, cxy = np.cumsum(ys, 1), np.cumsum(ys * ys, 1), np.cumsum(ys * x, 1)

    def line(m, sx, sxx, sy, syy, sxy):
        vxx, vxy, vyy = sxx - sx * sx / m, sxy - sx * sy / m, syy - sy * sy / m
        return vyy - vxy * vxy / np.where(vxx > 0, vxx, np.inf)

    rss_line = line(ks, cx[ks - 1], cxx[ks - 1], cy[:, ks - 1], cyy[:, ks - 1], cxy[:, ks - 1])
    ty, tyy = cy[:, -1:] - cy[:, ks - 1], cyy[:, -1:] - cyy[:, ks - 1]
    rss_const = tyy - ty * ty / (n - ks)
    one = line(n, cx[-1], cxx[-1], cy[:, -1], cyy[:, -1], cxy[:, -1])
    return ks, np.maximum(rss_line + rss_const, 0.0), np.maximum(one, 0.0)


def change_point(ts, s, dt: int, eps: float, seed: int = 0,
                 n_boot: int = N_BOOT) -> tuple[float, int | None, tuple[int, int] | None, float]:
    """(dbic, transition, 95% interval, drop) of log(S + eps) against log(t + dt): one line against a
    line up to a break followed by a constant (see the module docstring). The interval: the breaks
    refitted on ``n_boot`` moving-block resamples of the broken fit's residuals."""
    ts, s = np.asarray(ts, float), np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.isfinite(np.log(s + eps))  # S is undefined (nan) where a kernel is 0: a dead network
    ts, s = ts[keep], s[keep]
    x, y = np.log(ts + dt), np.log(s + eps)
    n = len(y)
    if n < 6:
        return float("-inf"), None, None, float("nan")
    ks, rss2, rss1 = _break_rss(x, y[None, :])
    rss2, rss1 = rss2[0], float(rss1[0])
    tiny = 1e-12 * max(rss1, 1e-300)
    rss2 = np.maximum(rss2, tiny)
    best = int(np.argmin(rss2))
    k = int(ks[best])
    dbic = n * np.log(max(rss1, tiny) / rss2[best]) - 2 * np.log(n)  # 2 more parameters: the break and a level
    floor = float(np.exp(y[k:].mean()))
    drop = float((s[:k].max() + eps) / floor)
    slope, icpt = np.polyfit(x[:k], y[:k], 1)
    fit = np.concatenate([icpt + slope * x[:k], np.full(n - k, y[k:].mean())])
    resid = y - fit
    idx = _block_resamples(n, np.random.default_rng(seed), n_boot)
    _, rss_b, _ = _break_rss(x, fit[None, :] + resid[idx])
    t_b = ts[ks[np.argmin(rss_b, axis=1)]]
    a = (1 - LEVEL) / 2
    interval = (int(np.quantile(t_b, a, method="lower")), int(np.quantile(t_b, 1 - a, method="higher")))
    return float(dbic), int(ts[k]), (min(interval[0], int(ts[k])), max(interval[1], int(ts[k]))), drop


def _growth(x, y, idx=None) -> float:
    """Late growth exponent: OLS slope of y = log S(t, τ) on x = log(t − τ)."""
    x, y = (x, y) if idx is None else (x[idx], y[idx])
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


@timing("statistics: regime of one series")
def regime(kernels: dict, dts, window_end: int | None = None, noise: float = 0.0, centered: bool = False,
           taus=None, seed: int = 0, phase_two: int | None = None) -> Regime:
    """Classify one kernel series (see the module docstring). ``noise``: the measured noise floor
    of S (`lib.kernels.noise_floor`); ``taus``: references (None: ``REF_FRACTIONS`` of the
    Phase-II window); ``seed``: the bootstraps' (the result is a deterministic function of the
    input); ``phase_two``: where Phase II starts (None: the run's own change point)."""
    its = sorted(kernels)
    start, end = its[0], its[-1] if window_end is None else min(window_end, its[-1])
    span = end - start
    dts = sorted(dts)
    rng = np.random.default_rng(seed)
    eps = max(noise, S_RESOLUTION)
    inside = [t for t in its if start <= t <= end]
    spacing = int(np.gcd.reduce(np.diff(inside))) if len(inside) > 1 else 1

    adj = {}
    for dt in dts:
        ts, s = adjacent_distances(kernels, dt, centered)
        ts, s = np.asarray(ts), np.asarray(s)
        keep = (ts >= start) & (ts + dt <= end)
        if keep.sum() < MIN_PAIRS:
            raise ValueError(f"dt={dt} leaves fewer than {MIN_PAIRS} adjacent pairs in the window [{start}, {end}]")
        adj[dt] = dict(zip(ts[keep].tolist(), s[keep].tolist()))

    # change point on the smallest dt
    t0s = sorted(adj[dts[0]])
    dbic, transition, interval, drop = change_point(t0s, [adj[dts[0]][t] for t in t0s], dts[0], eps, seed)
    has_transition = transition is not None and dbic >= CHANGE_POINT_BIC and drop >= DROP_MIN
    if not has_transition:
        transition, interval = None, None
    if phase_two is None:
        phase_two = transition if has_transition else start + PHASE2_FALLBACK * span
    phase_two = min((t for t in inside if t >= phase_two), default=inside[-1])
    if len([t for t in inside if t >= phase_two]) < 4:  # too little Phase II to judge: its last four checkpoints
        phase_two = inside[-4]

    # Phase-II floors on a common set of t (every dt is measured at the same checkpoints)
    common = [t for t in sorted(adj[dts[-1]]) if all(t in adj[dt] for dt in dts)]
    late_t = [t for t in common if t >= phase_two] or common[-MIN_PAIRS:]
    late = np.array([[adj[dt][t] for t in late_t] for dt in dts])  # (n_dt, n_late)
    boot = _block_resamples(len(late_t), rng, block=max(round(np.sqrt(len(late_t))), dts[-1] // spacing))
    med = np.median(late, axis=1)
    med_b = np.median(late[:, boot], axis=2)  # (n_dt, n_boot)
    floor = {dt: _ci(med[i], med_b[i]) for i, dt in enumerate(dts)}
    noise_ratio = _ci(med[-1] / eps, med_b[-1] / eps)
    logdt = np.log(dts)
    if len(dts) > 1:
        slope = float(np.polyfit(logdt, np.log(med + eps), 1)[0])
        slope_b = [np.polyfit(logdt, np.log(med_b[:, j] + eps), 1)[0] for j in range(med_b.shape[1])]
        floor_slope = _ci(slope, slope_b)
    else:
        floor_slope = Estimate(float("nan"), float("nan"), float("nan"))

    # references in Phase II, never the initial kernel (its curve measures Phase I)
    if taus is None:
        cands = [t for t in inside if t >= phase_two]
        taus = sorted({min(cands, key=lambda t: abs(t - (phase_two + f * (end - phase_two)))) for f in REF_FRACTIONS}
                      - {start}) if cands else []
    growth, draws = {}, []
    pos = {t: i for i, t in enumerate(inside)}
    shared = _block_resamples(len(inside), rng)  # one resample of the checkpoints for every reference curve
    for tau in taus:
        t, r = reference_distances(kernels, tau, centered)
        t, r = np.asarray(t, float), np.asarray(r, float)
        keep = (t > tau) & (t <= end)
        t, r = t[keep], r[keep]
        if len(t) < 4:
            continue
        late = t - tau >= np.sqrt((t[0] - tau) * (end - tau))  # the upper half of the log(t - τ) range
        x, y = np.log(t[late] - tau), np.log(r[late] + eps)
        if len(x) < 4:
            continue
        where = {pos[int(v)]: j for j, v in enumerate(t[late]) if int(v) in pos}
        d = np.array([_growth(x, y, [where[i] for i in row if i in where]) for row in shared])
        growth[tau] = _ci(_growth(x, y), d)
        draws.append(d)
    pooled = None
    if draws:  # inverse-variance weighted mean over the references, on every (shared) bootstrap draw alike
        w = np.array([1 / max(np.nanvar(d), 1e-12) for d in draws])
        w /= w.sum()
        pooled = _ci(float(sum(wi * g.value for wi, g in zip(w, growth.values()))), w @ np.vstack(draws))

    try:
        sat = saturation.judge(kernels, phase_two, end, centered, noise, seed)
    except ValueError as e:  # too few Phase-II checkpoints or lags to fit D(L)
        sat, too_short = None, str(e)
    name, reason = (_decide(has_transition, dbic, drop, sat, pooled) if sat is not None else
                    ("inconclusive", f"Phase II [{phase_two}, {end}] is too short to judge the saturation of its "
                                     f"motion ({too_short})"))
    return Regime(name, reason, centered, (start, end), transition, interval, dbic, drop, eps, floor,
                  noise_ratio, floor_slope, tuple(growth), growth, pooled, phase_two, sat)


def _decide(has_transition, dbic, drop, sat, pooled) -> tuple[str, str]:
    if sat.name == "lazy":
        if pooled is not None and pooled.above(REF_GROWTH_MAX):  # a frozen kernel's reference curves are flat
            return "inconclusive", (f"{sat.reason}, but the reference curves keep rising (growth exponent "
                                    f"{pooled.fmt()} > {REF_GROWTH_MAX:g}): the kernel moves below the noise floor")
        return "lazy", sat.reason
    if sat.name == "drifting":
        return "drifting", sat.reason
    if not has_transition:
        return "no-transition", (f"no change point: one power law fits the adjacent distances as well "
                                 f"(BIC difference {dbic:.1f}, need {CHANGE_POINT_BIC:g}; drop {drop:.1f}, "
                                 f"need {DROP_MIN:g})")
    return sat.name, f"a change point (BIC difference {dbic:.0f}, drop {drop:.0f}x), then {sat.reason}"


@dataclass(frozen=True)
class SettingRegime:
    """The regime of a setting over its seeds: decisive only where every seed agrees.

    name: the common regime, else ``"inconclusive"``; per_seed: each seed's `Regime`;
    transition_interval: (lowest lower bound, highest upper bound) of the seeds' transitions.
    """

    name: str
    per_seed: tuple[Regime, ...]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.per_seed]

    @property
    def sentence(self) -> str:
        """The verdict in words, e.g. 'cone in every seed (3 of 3)' or 'inconclusive: the seeds say ...'."""
        n = len(self.per_seed)
        if self.name != "inconclusive":
            return f"{self.name} in every seed ({n} of {n})" if n > 1 else f"{self.name} (one seed)"
        return (f"inconclusive: the seed{'s say' if n > 1 else ' says'} " + ", ".join(self.names)
                if n > 1 or self.names != ["inconclusive"] else "inconclusive (one seed)")

    @property
    def transition_interval(self) -> tuple[int, int] | None:
        ivs = [r.transition_interval for r in self.per_seed if r.transition_interval is not None]
        return (min(i[0] for i in ivs), max(i[1] for i in ivs)) if ivs else None


def setting_regime(regimes) -> SettingRegime:
    """Combine the regimes of one setting's seeds."""
    regimes = tuple(regimes)
    if not regimes:
        raise ValueError("setting_regime needs at least one seed's regime")
    names = {r.name for r in regimes}
    return SettingRegime(names.pop() if len(names) == 1 else "inconclusive", regimes)


# ---------------------------------------------------------------- the chaos transition, and where the cone begins

CHAOS_FRACTION = 0.1  # the chaos has ended once the median test barrier stays below this fraction of its first value
CHAOS_MIN_BARRIER = 0.01  # a median test barrier at the first t0 below this: no chaos to speak of
CHAOS_DROP = 10.0  # the claim holds if the barrier's drop (first t0 over the late t0s) is decisively above this
CHAOS_NO_DROP = 3.0  # ... and fails if the drop is decisively below this; in between, inconclusive
CHAOS_LATE = 2  # the last grid points whose barriers are pooled as "late"
BARRIER_RESOLUTION = 1e-6  # barriers below this count as this much (a drop to exactly 0 is not infinite)
AGREE_MAX_SPAN = 4.0  # an interval whose upper end exceeds this multiple of its lower end is too coarse to compare


@dataclass(frozen=True)
class ChaosTransition:
    """Where the response to a perturbation turns from chaotic to stable, over several draws.

    t0s: the perturbation times; median / lo / hi: the median, smallest and largest barrier over
    the draws at each t0; threshold: ``CHAOS_FRACTION`` times the median at the first t0;
    transition: the first t0 from which the median stays below the threshold (None: no chaos at
    the first t0, or never stable on the grid); interval: the transition's 95% interval,
    resolution included: from the grid point before the bootstrap's 2.5% quantile (the barrier
    fell somewhere after it) to its 97.5% quantile, the upper end None where more than 2.5% of
    the resamples find no transition on the grid; found: the fraction of bootstrap resamples
    (over draws) that find one; name: ``transition``, ``no chaos`` or ``no transition``; drop: the
    median barrier at the first t0 over the median of the barriers at the last ``CHAOS_LATE`` t0s
    (all draws pooled; both at least ``BARRIER_RESOLUTION``), with its 95% interval over the same
    resamples of the draws: how much less the response is late than early, the claim's statistic.
    """

    t0s: tuple
    median: tuple
    lo: tuple
    hi: tuple
    threshold: float
    transition: int | None
    interval: tuple | None
    found: float
    n_draws: int
    name: str
    drop: Estimate

    def interval_text(self) -> str:
        if self.interval is None:
            return "none"
        a, b = self.interval
        return f"{a}-{b}" if b is not None else f"after {a} (open: not stable on the grid in every resample)"


def _stable_index(t0s, median, threshold) -> int | None:
    below = np.asarray(median) < threshold
    for i in range(1, len(t0s)):
        if below[i:].all():
            return i
    return None


def chaos_transition(t0s, barriers, fraction: float = CHAOS_FRACTION, min_barrier: float = CHAOS_MIN_BARRIER,
                     n_boot: int = N_BOOT, seed: int = 0) -> ChaosTransition:
    """The chaos transition of ``barriers`` (one row per draw, one column per t0 of ``t0s``).

    The statistic is the median over draws; its interval comes from resampling the draws (rows)
    with replacement. With one draw the interval is the grid's resolution alone.
    """
    t0s = [int(t) for t in t0s]
    b = np.atleast_2d(np.asarray(barriers, dtype=float))
    if b.shape[1] != len(t0s) or len(t0s) < 2 or b.shape[0] < 1:
        raise ValueError(f"barriers must have one column per t0 ({len(t0s)} t0s, at least 2); got shape {b.shape}")
    if list(t0s) != sorted(set(t0s)):
        raise ValueError(f"t0s must be increasing; got {t0s}")
    med = np.median(b, 0)
    threshold = fraction * med[0]
    chaos = med[0] >= min_barrier
    i = _stable_index(t0s, med, threshold) if chaos else None
    late = min(CHAOS_LATE, len(t0s) - 1)

    def drop_of(x):
        return max(float(np.median(x[:, 0])), BARRIER_RESOLUTION) / max(float(np.median(x[:, -late:])), BARRIER_RESOLUTION)

    rng = np.random.default_rng(seed)
    idx, drops = [], []
    for _ in range(n_boot):
        x = b[rng.integers(0, len(b), len(b))]
        m = np.median(x, 0)
        idx.append(_stable_index(t0s, m, fraction * m[0]) if m[0] >= min_barrier else None)
        drops.append(drop_of(x))
    tail = (1 - LEVEL) / 2
    drop = Estimate(drop_of(b), float(np.quantile(drops, tail)), float(np.quantile(drops, 1 - tail)))
    beyond = len(t0s)  # a resample that finds no transition counts as one beyond the grid
    all_idx = np.array([beyond if j is None else j for j in idx])
    found = float(np.mean(all_idx < beyond))
    interval = None
    if i is not None:
        lo_i = min(i, int(np.quantile(all_idx, tail, method="lower")))
        hi_i = max(i, int(np.quantile(all_idx, 1 - tail, method="higher")))
        interval = (t0s[max(lo_i - 1, 0)], None if hi_i >= beyond else t0s[hi_i])
    name = "no chaos" if not chaos else ("transition" if i is not None else "no transition")
    return ChaosTransition(tuple(t0s), tuple(map(float, med)), tuple(map(float, b.min(0))), tuple(map(float, b.max(0))),
                           float(threshold),
                           None if i is None else t0s[i], interval, found, len(b), name, drop)


@dataclass(frozen=True)
class Agreement:
    """The second paper's claim, that the cone begins where the chaos ends, judged on intervals.

    verdict: holds (the chaos and cone transitions' intervals overlap and both are resolved: upper
    end at most ``AGREE_MAX_SPAN`` times the lower), fails (they are disjoint), inconclusive
    (either is missing or open, or they overlap only because one is too coarse); reason: one
    sentence; chaos / cone: the intervals compared; ratio: chaos / cone transition, its interval
    from the intervals' ends (None where either is missing).
    """

    verdict: str
    reason: str
    chaos: tuple | None
    cone: tuple | None
    ratio: Estimate | None


def _resolved(iv, resolution) -> bool:
    return iv[1] is not None and iv[1] <= AGREE_MAX_SPAN * max(iv[0], resolution)


def agreement(chaos: ChaosTransition, cone_transitions, cone_intervals, resolution: int) -> Agreement:
    """Compare the chaos transition with the cone transitions of the same setting's seeds.

    ``cone_transitions`` / ``cone_intervals``: each seed's change point and its interval (None where
    a seed has none); ``resolution``: the finest spacing of the two grids (an interval's lower end
    is never taken below it when judging its span).
    """
    cone_transitions, cone_intervals = list(cone_transitions), list(cone_intervals)
    if chaos.interval is None:
        why = ("no chaos: the median test barrier at the first t0 is below "
               f"{CHAOS_MIN_BARRIER:g}" if chaos.name == "no chaos" else "the barrier never stays low on the grid")
        return Agreement("inconclusive", f"no chaos transition to compare ({why})", None, None, None)
    if not cone_transitions or any(t is None for t in cone_transitions):
        return Agreement("inconclusive", "the cone's change point is not found in every seed", chaos.interval,
                         None, None)
    cone = (min(i[0] for i in cone_intervals), max(i[1] for i in cone_intervals))
    c_lo, c_hi = chaos.interval
    hi = np.inf if c_hi is None else c_hi
    point = chaos.transition / float(np.median(cone_transitions))
    ratio = Estimate(point, c_lo / cone[1], hi / max(cone[0], resolution))
    text = (f"chaos transition {chaos.transition} [{chaos.interval_text()}], cone transition "
            f"{float(np.median(cone_transitions)):g} [{cone[0]}-{cone[1]}], ratio {ratio.fmt()}")
    if c_lo > cone[1] or hi < cone[0]:
        return Agreement("fails", f"the intervals are disjoint: {text}", chaos.interval, cone, ratio)
    if not (_resolved(chaos.interval, resolution) and _resolved(cone, resolution)):
        return Agreement("inconclusive", f"the intervals overlap but one is too coarse to compare (an upper end "
                         f"above {AGREE_MAX_SPAN:g} times its lower end): {text}", chaos.interval, cone, ratio)
    return Agreement("holds", f"the intervals overlap: {text}", chaos.interval, cone, ratio)


# ---------------------------------------------------------------- the linear advantage (workshop paper, Fig 2)

LINEAR_MIN_SEEDS = 2  # seeds below which the seed-to-seed spread, and so the test's resolution, is unknown


@dataclass(frozen=True)
class LinearAdvantage:
    """The claim that Phase II is not lazy, judged on θ_std→lin(T; t) against standard training.

    If Phase II were lazy, switching to the linearized model at the kernel transition would cost
    nothing at T. ``room`` is what it costs: standard test accuracy at T minus that of the run
    switched at the transition (per seed; its interval the range over seeds). ``resolution``: the
    seed-to-seed spread of the standard accuracy (max - min), at least one test example; a room
    within it cannot be told from zero.

    verdict: holds (the room exceeds the resolution in every seed: the lazy model loses), fails (the
    linearized model is better than standard training by more than the resolution in every seed),
    inconclusive (fewer than ``LINEAR_MIN_SEEDS`` seeds, a seed without a transition, or a room
    within the resolution: the test is too coarse here); reason: one sentence;
    seeds, transitions, at (the switch point judged: the first at or after each seed's
    transition), late (the last switch point before T), standard, linear_at, linear_late: per
    seed; room, gain (later switching inside Phase II: linear_late - linear_at): `Estimate` over
    seeds (value the median, [min, max]) that have a transition; None where none was measured.
    """

    verdict: str
    reason: str
    seeds: tuple
    transitions: tuple
    at: tuple
    late: int | None
    standard: tuple
    linear_at: tuple
    linear_late: tuple
    room: Estimate | None
    gain: Estimate | None
    resolution: float | None


def _over_seeds(values) -> Estimate:
    v = np.asarray(values, dtype=float)
    return Estimate(float(np.median(v)), float(v.min()), float(v.max()))


def linear_advantage(seeds, transitions, at, late, standard, linear_at, linear_late, n_test: int) -> LinearAdvantage:
    """Judge the linear advantage over the training seeds of one setting.

    Per seed: ``transitions`` (the kernel's change point, None if none), ``at`` (the switch point at
    or after it, None if none), ``standard`` (test accuracy of standard training to T),
    ``linear_at`` / ``linear_late`` (test accuracy at T of the runs switched at ``at`` and at
    ``late``, None where not run); ``n_test``: test examples (one of them is the finest
    resolution an accuracy has).
    """
    seeds, transitions, at = tuple(seeds), tuple(transitions), tuple(at)
    standard, linear_at, linear_late = tuple(standard), tuple(linear_at), tuple(linear_late)
    if not (len(seeds) == len(transitions) == len(at) == len(standard) == len(linear_at) == len(linear_late)):
        raise ValueError("linear_advantage: seeds, transitions, at, standard, linear_at and linear_late "
                         "need one entry per seed")
    if not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test must be a positive integer; got {n_test!r}")

    def result(verdict, reason, room=None, gain=None, resolution=None):
        return LinearAdvantage(verdict, reason, seeds, transitions, at, late, standard, linear_at, linear_late,
                               room, gain, resolution)

    rooms = [s - l for s, l in zip(standard, linear_at) if l is not None]
    room = _over_seeds(rooms) if rooms else None
    gains = [l2 - l1 for l1, l2 in zip(linear_at, linear_late) if l1 is not None and l2 is not None]
    gain = _over_seeds(gains) if gains else None
    if any(t is None for t in transitions) or any(a is None for a in at) or any(v is None for v in linear_at):
        measured = "" if room is None else (f" (room {100 * room.value:.1f} points over the {len(rooms)} seed(s) "
                                            "that have one)")
        return result("inconclusive", "no kernel transition (or no switch point after it) in every seed: "
                      f"nothing to switch at in some{measured}", room, gain)
    if len(seeds) < LINEAR_MIN_SEEDS:
        return result("inconclusive", f"{len(seeds)} seed: the seed-to-seed spread, and so the test's "
                      f"resolution, is unknown (room {100 * room.value:.1f} points)", room, gain)
    resolution = max(float(np.ptp(standard)), 1.0 / n_test)
    text = (f"room at the transition {100 * room.value:.1f} points [{100 * room.lo:.1f}, {100 * room.hi:.1f}] "
            f"over {len(seeds)} seeds, seed-to-seed spread of standard training {100 * resolution:.1f} points")
    if room.lo > resolution:
        return result("holds", f"switching to the linearized model at the transition costs accuracy in every "
                      f"seed: {text}", room, gain, resolution)
    if room.hi < -resolution:
        return result("fails", f"the linearized model does better than standard training in every seed: {text}",
                      room, gain, resolution)
    return result("inconclusive", f"the room is within the seed-to-seed spread (the test is too coarse here): "
                  f"{text}", room, gain, resolution)
