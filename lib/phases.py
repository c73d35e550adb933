"""A regime classifier for a series of kernels {iteration: H}: cone, lazy, drifting, no-transition
or inconclusive, each decision with the statistic it used and a confidence interval.

The papers' claim (Phase II, the cone effect) is told apart from its two rivals: the *lazy*
regime of Fort et al. (after the transition the kernel stops moving) and a kernel that keeps
*drifting* away. All statistics are computed in the analysis window [first iteration,
``window_end``] (the pages use the constant-learning-rate part of the run).

Statistics (each with a 95% interval, from a moving-block bootstrap over checkpoints where it
is not an exact profile):

- **change point**: log S(t, t+dt_min) against log(t + dt_min) is fitted by one line (a single
  power law: one smooth regime) and by a line up to a break followed by a constant (a fast phase,
  then a floor). ``dbic`` is the BIC of the single power law minus that of the broken fit; the
  transition is the break, its interval the breaks within the profile likelihood's 95% bound
  (``n log(RSS(b)/RSS_min) <= 3.84``). ``drop`` is the early peak over the fitted floor.
- **noise ratio**: the late floor of the largest dt (median of the last third of the window)
  over the *measured* noise floor of the instrument (`lib.kernels.noise_floor`: S between
  kernels of one checkpoint that differ only in what the measurement chose, for the choices that
  can differ between the two kernels of an adjacent pair, `lib.kernels.FLOOR_SOURCES`). A kernel
  frozen after the transition has adjacent distances at the noise.
- **floor slope**: the slope of log(late floor) against log(dt). For small angles S ≈ angle²/2,
  so a kernel drifting at constant speed gives slope 2, a random walk slope 1, and a kernel
  jittering inside a fixed cone slope 0 ("upper-bounded by the same value for every dt").
- **reference growth**: for references τ placed after the transition, at the fractions
  ``REF_FRACTIONS`` of the Phase-II window as in the papers (τ = 2000..8000 of T = 10^4; without a
  change point, of the whole window, the initial kernel excepted), the late
  growth exponent of S(t, τ): the slope of log S against log(t − τ) over the upper half of the
  log(t − τ) range up to the window's end (0: levelled off; 0.5: √ growth; 1: random walk; 2:
  drift). The pooled value is their inverse-variance weighted mean.

Decision (the thresholds are the named constants below; the pages glue them):

1. ``lazy`` if the noise ratio's interval lies at or below ``NOISE_RATIO`` and the pooled
   reference growth's does not lie above ``REF_GROWTH_MAX`` (a frozen kernel's reference curves
   are flat; adjacent distances at the noise with rising reference curves are ``inconclusive``,
   as is a noise ratio whose interval straddles ``NOISE_RATIO``).
2. ``drifting`` if the floor slope's interval lies above ``FLOOR_SLOPE_MAX`` or the pooled
   reference growth's above ``REF_GROWTH_MAX``.
3. ``no-transition`` if there is no change point (``dbic < CHANGE_POINT_BIC`` or ``drop <
   DROP_MIN``): without a fast phase and a floor there are no two phases, whatever the kernel does
   later (short of drifting decisively). This is the absence of a change point at that threshold,
   not proof that none exists: a short or noisy series gets it too.
4. ``cone`` if there is a change point and both intervals lie below their thresholds.
5. ``inconclusive`` otherwise: the evidence cannot decide.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels import adjacent_distances, reference_distances

REGIMES = ("cone", "lazy", "drifting", "no-transition", "inconclusive")

CHANGE_POINT_BIC = 10.0  # BIC difference for "a fast phase, then a floor" over one power law ("very strong")
DROP_MIN = 3.0  # early peak over the floor for the change point to be a fast first phase
NOISE_RATIO = 3.0  # late floor / noise floor at or below which the kernel counts as frozen
FLOOR_SLOPE_MAX = 0.5  # d log floor / d log dt: 0 shared floor (cone), 1 random walk, 2 constant drift
REF_GROWTH_MAX = 0.25  # late d log S(t, τ) / d log(t - τ): 0 levelled off, 0.5 sqrt growth, 1 random walk
REF_FRACTIONS = (0.0, 0.25, 0.5, 0.75)  # τ at these fractions of the Phase-II window (the papers': 2000..8000 of 10^4)
# The centered S decides: the sum-of-logits kernel is dominated by its constant component, which
# compresses raw distances and the statistics computed on them; the raw S (the papers') is judged beside it.
DECIDING_CENTERED = True
MIN_PAIRS = 6  # adjacent pairs each dt needs inside the window (the change point and the floors are fits)
LEVEL = 0.95  # confidence level of every interval
N_BOOT = 400  # bootstrap resamples
PROFILE_CHI2 = 3.84  # 95% quantile of chi-square(1): the change point's profile-likelihood interval
S_RESOLUTION = 1e-12  # smallest S the float64 distance resolves; a measured noise floor below it is raised to it


@dataclass(frozen=True)
class Estimate:
    """A statistic with its confidence interval [lo, hi]."""

    value: float
    lo: float
    hi: float

    def below(self, x: float) -> bool:
        return self.hi < x

    def above(self, x: float) -> bool:
        return self.lo > x

    def fmt(self, digits: int = 2) -> str:
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


@dataclass(frozen=True)
class Regime:
    """The regime of one kernel series, with every statistic behind it (see the module docstring).

    name: one of ``REGIMES``; reason: the decision in one sentence; centered: S on C H C;
    window: (first, last) iteration analysed; transition / transition_interval: the change point
    and its 95% interval (None without one); dbic: BIC(one power law) - BIC(phase then floor);
    drop: early peak / fitted floor of S(t, t+dt_min); noise: the noise floor used (the measured
    one, raised to ``S_RESOLUTION``); floor: late
    median of S(t, t+dt) per dt; noise_ratio: floor of the largest dt / noise; floor_slope:
    d log floor / d log dt; taus: the references used; ref_growth: late growth exponent per τ;
    ref_growth_pooled: their mean (None without references).
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


def _ci(value: float, draws) -> Estimate:
    draws = np.asarray([d for d in draws if np.isfinite(d)])
    a = (1 - LEVEL) / 2
    if len(draws) == 0:
        return Estimate(float(value), float("nan"), float("nan"))
    return Estimate(float(value), float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a)))


def _block_resamples(n: int, rng: np.random.Generator, n_boot: int = N_BOOT) -> np.ndarray:
    """Moving-block bootstrap index sets (n_boot, n): blocks of about sqrt(n) consecutive points,
    so that the correlation between neighbouring checkpoints is kept."""
    b = max(1, int(round(np.sqrt(n))))
    starts = rng.integers(0, n - b + 1, size=(n_boot, -(-n // b)))
    return (starts[:, :, None] + np.arange(b)).reshape(n_boot, -1)[:, :n]


def _lstsq_rss(x, y) -> float:
    if len(x) < 2:
        return float(((y - y.mean()) ** 2).sum())
    a = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(((y - a @ coef) ** 2).sum())


def change_point(ts, s, dt: int, eps: float) -> tuple[float, int | None, tuple[int, int] | None, float]:
    """(dbic, transition, 95% interval, drop) of log(S + eps) against log(t + dt): one line against a
    line up to a break followed by a constant (see the module docstring)."""
    ts, s = np.asarray(ts, float), np.asarray(s, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.isfinite(np.log(s + eps))  # S is undefined (nan) where a kernel is 0: a dead network
    ts, s = ts[keep], s[keep]
    x, y = np.log(ts + dt), np.log(s + eps)
    n = len(y)
    if n < 6:
        return float("-inf"), None, None, float("nan")
    rss1 = _lstsq_rss(x, y)
    breaks = range(3, n - 2)  # at least 3 points before the break and 3 after
    rss2 = np.array([_lstsq_rss(x[:k], y[:k]) + float(((y[k:] - y[k:].mean()) ** 2).sum()) for k in breaks])
    tiny = 1e-12 * max(rss1, 1e-300)
    rss2 = np.maximum(rss2, tiny)
    best = int(np.argmin(rss2))
    dbic = n * np.log(max(rss1, tiny) / rss2[best]) - 2 * np.log(n)  # 2 more parameters: the break and a level
    inside = [k for k, r in zip(breaks, rss2) if n * np.log(r / rss2[best]) <= PROFILE_CHI2]
    k = list(breaks)[best]
    floor = float(np.exp(y[k:].mean()))
    drop = float((s[:k].max() + eps) / floor)
    return float(dbic), int(ts[k]), (int(ts[min(inside)]), int(ts[max(inside)])), drop


def _growth(x, y, idx=None) -> float:
    """Late growth exponent: OLS slope of y = log S(t, τ) on x = log(t − τ)."""
    x, y = (x, y) if idx is None else (x[idx], y[idx])
    if np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def regime(kernels: dict, dts, window_end: int | None = None, noise: float = 0.0, centered: bool = False,
           taus=None, seed: int = 0) -> Regime:
    """Classify one kernel series (see the module docstring). ``noise``: the measured noise floor
    of S (`lib.kernels.noise_floor`); ``taus``: references (None: ``REF_FRACTIONS`` of the
    Phase-II window); ``seed``: the bootstrap's (the result is a deterministic function of the input)."""
    its = sorted(kernels)
    start, end = its[0], its[-1] if window_end is None else min(window_end, its[-1])
    span = end - start
    dts = sorted(dts)
    rng = np.random.default_rng(seed)
    eps = max(noise, S_RESOLUTION)

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
    dbic, transition, interval, drop = change_point(t0s, [adj[dts[0]][t] for t in t0s], dts[0], eps)
    has_transition = transition is not None and dbic >= CHANGE_POINT_BIC and drop >= DROP_MIN
    if not has_transition:
        transition, interval = None, None

    # late floors on a common set of late t (every dt is measured at the same checkpoints)
    late_t = [t for t in sorted(adj[dts[-1]]) if t >= end - span / 3 - dts[-1] and all(t in adj[dt] for dt in dts)]
    late = np.array([[adj[dt][t] for t in late_t] for dt in dts])  # (n_dt, n_late)
    boot = _block_resamples(len(late_t), rng)
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

    # references after the transition
    if taus is None:
        base = interval[1] if has_transition else start
        cands = [t for t in its if base <= t <= end]
        taus = sorted({min(cands, key=lambda t: abs(t - (base + f * (end - base)))) for f in REF_FRACTIONS}
                      - {start}) if cands else []  # never the initial kernel: its curve measures Phase I
    growth, draws = {}, []
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
        d = np.array([_growth(x, y, i) for i in _block_resamples(len(x), rng)])
        growth[tau] = _ci(_growth(x, y), d)
        draws.append(d)
    pooled = None
    if draws:  # inverse-variance weighted mean over the references, on every bootstrap draw alike
        w = np.array([1 / max(np.var(d), 1e-12) for d in draws])
        w /= w.sum()
        pooled = _ci(float(sum(wi * g.value for wi, g in zip(w, growth.values()))), w @ np.vstack(draws))

    name, reason = _decide(has_transition, dbic, drop, noise_ratio, floor_slope, pooled)
    return Regime(name, reason, centered, (start, end), transition, interval, dbic, drop, eps, floor,
                  noise_ratio, floor_slope, tuple(growth), growth, pooled)


def _decide(has_transition, dbic, drop, noise_ratio, floor_slope, pooled) -> tuple[str, str]:
    if noise_ratio.hi <= NOISE_RATIO:
        if pooled is not None and pooled.above(REF_GROWTH_MAX):  # a frozen kernel's reference curves are flat
            return "inconclusive", (f"late adjacent distances are within {NOISE_RATIO:g}x the noise floor (ratio "
                                    f"{noise_ratio.fmt(1)}), but the reference curves keep rising (growth exponent "
                                    f"{pooled.fmt()} > {REF_GROWTH_MAX:g}): the kernel moves below the noise floor")
        return "lazy", (f"late adjacent distances are within {NOISE_RATIO:g}x the noise floor "
                        f"(ratio {noise_ratio.fmt(1)})")
    if noise_ratio.lo <= NOISE_RATIO:
        return "inconclusive", f"the late floor is too close to the noise floor to decide (ratio {noise_ratio.fmt(1)})"
    if floor_slope.above(FLOOR_SLOPE_MAX):
        return "drifting", f"late floors grow with dt (slope {floor_slope.fmt()} > {FLOOR_SLOPE_MAX:g})"
    if pooled is not None and pooled.above(REF_GROWTH_MAX):
        return "drifting", f"reference curves keep rising (growth exponent {pooled.fmt()} > {REF_GROWTH_MAX:g})"
    if not has_transition:
        return "no-transition", (f"no change point: one power law fits the adjacent distances as well "
                                 f"(BIC difference {dbic:.1f}, need {CHANGE_POINT_BIC:g}; drop {drop:.1f}, "
                                 f"need {DROP_MIN:g})")
    if floor_slope.below(FLOOR_SLOPE_MAX) and pooled is not None and pooled.below(REF_GROWTH_MAX):
        return "cone", (f"a change point, then a floor above the noise that does not grow with dt and reference "
                        f"curves that level off (floor slope {floor_slope.fmt()}, reference growth exponent "
                        f"{pooled.fmt()})")
    return "inconclusive", (f"a change point, but the floor slope {floor_slope.fmt()} or the reference growth "
                            f"exponent {'(none)' if pooled is None else pooled.fmt()} straddles its threshold")


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
