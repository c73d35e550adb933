"""Numbers that judge the two-phase / cone picture on a series of kernels {iteration: H}.

Criteria (stated on the pages that use them):

- **drop**: the early peak of the adjacent distance S(t, t+dt) (max over the first third of
  the window) over its late floor (median over the last third).
- **floor spread**: the largest late floor over the smallest across dt. A kernel drifting at
  constant speed would give floors in proportion to dt; the cone effect says they are about
  equal ("upper-bounded by the same value for different dt").
- **transition**: the first t after the early peak where the running median (3 checkpoints)
  of S(t, t+dt_min) falls to ``transition_factor`` times its late floor.
- **plateau** of each reference curve S(t, tau), t >= tau: split [tau, window end] in thirds;
  the change of its mean from the middle third to the last, over the last third's mean (the
  value it has reached). The curve is still rising if that ratio is at least ``plateau_tol``
  *and* the change exceeds twice its standard error (so that checkpoint noise at the floor
  does not decide it); otherwise it has plateaued. A curve falling back counts as plateaued
  (the claim contrasts a plateau with continued rise); the ratio is reported either way.

The analysis window ends at ``window_end`` (the pages use the first learning-rate decay: the
papers' window is at constant learning rate, and a decay slows the kernel for another reason).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernels import adjacent_distances, reference_distances


@dataclass
class ConeSummary:
    window: tuple[int, int]
    peak: dict[int, float]  # dt -> early peak of S(t, t+dt)
    floor: dict[int, float]  # dt -> late floor of S(t, t+dt)
    transition: int | None
    plateau: dict[int, dict] = field(default_factory=dict)  # tau -> rise, late_change, ratio, plateaus

    @property
    def drop(self) -> dict[int, float]:
        return {dt: self.peak[dt] / self.floor[dt] for dt in self.peak}

    @property
    def floor_spread(self) -> float:
        f = list(self.floor.values())
        return max(f) / min(f)

    @property
    def dt_spread(self) -> float:
        return max(self.floor) / min(self.floor)


def _in_window(ts, vals, lo, hi):
    ts, vals = np.asarray(ts), np.asarray(vals)
    keep = (ts >= lo) & (ts <= hi)
    return ts[keep], vals[keep]


def cone_summary(kernels: dict, dts, taus, window_end: int | None = None, centered: bool = False,
                 transition_factor: float = 2.0, plateau_tol: float = 0.25) -> ConeSummary:
    """Judge the kernel series against the criteria in the module docstring."""
    its = sorted(kernels)
    start, end = its[0], its[-1] if window_end is None else min(window_end, its[-1])
    span = end - start
    peak, floor = {}, {}
    series = {}
    for dt in dts:
        ts, s = adjacent_distances(kernels, dt, centered)
        ts, s = np.asarray(ts), np.asarray(s)
        keep = ts + dt <= end
        ts, s = ts[keep], s[keep]
        if len(ts) < 3:
            raise ValueError(f"dt={dt} leaves fewer than 3 adjacent pairs in the window [{start}, {end}]")
        series[dt] = (ts, s)
        peak[dt] = float(s[ts <= start + span / 3].max())
        late = s[ts >= end - span / 3 - dt]
        floor[dt] = float(np.median(late))
    dt0 = min(dts)
    ts, s = series[dt0]
    med = np.array([np.median(s[max(0, i - 1): i + 2]) for i in range(len(s))])
    first = int(np.argmax(np.where(ts <= start + span / 3, s, -np.inf)))  # search after the early peak
    below = first + np.flatnonzero(med[first:] <= transition_factor * floor[dt0])
    transition = int(ts[below[0]]) if len(below) else None
    plateau = {}
    for tau in taus:
        t, r = reference_distances(kernels, tau, centered)
        t, r = _in_window(t, r, tau, end)
        if len(t) < 6:
            continue
        third = (end - tau) / 3
        last, middle = r[t >= end - third], r[(t >= end - 2 * third) & (t < end - third)]
        rise = float(last.mean())
        late_change = float(last.mean() - middle.mean())
        se = float(np.sqrt(last.var(ddof=1) / len(last) + middle.var(ddof=1) / len(middle)))
        ratio = late_change / rise if rise > 0 else float("inf")
        rising = ratio >= plateau_tol and late_change > 2 * se
        plateau[tau] = dict(rise=rise, late_change=late_change, se=se, ratio=ratio, plateaus=bool(not rising))
    return ConeSummary((start, end), peak, floor, transition, plateau)


CRITERIA = ("drop", "shared floor", "plateau")


def checks(s: ConeSummary, min_drop: float = 3.0) -> dict[str, bool]:
    """The three criteria of the module docstring for one series."""
    return {
        "drop": min(s.drop.values()) > min_drop,
        "shared floor": s.floor_spread < 0.5 * s.dt_spread,
        "plateau": bool(s.plateau) and all(p["plateaus"] for p in s.plateau.values()),
    }


@dataclass
class Verdict:
    """Two phases or not, over one or more series (seeds) of the same setting."""

    summaries: list[ConeSummary]
    per_seed: list[dict[str, bool]]

    @property
    def two_phases(self) -> str:
        """'yes' if every criterion holds for every seed, 'no' if no seed passes all, else 'mixed'."""
        passed = [all(c.values()) for c in self.per_seed]
        return "yes" if all(passed) else ("no" if not any(passed) else "mixed")

    @property
    def transitions(self) -> list[int | None]:
        return [s.transition for s in self.summaries]

    @property
    def transition(self) -> float | None:
        """Median transition over the seeds where one was found."""
        found = [t for t in self.transitions if t is not None]
        return float(np.median(found)) if found else None

    @property
    def interval(self) -> tuple[int, int] | None:
        """(min, max) of the transition across seeds."""
        found = [t for t in self.transitions if t is not None]
        return (min(found), max(found)) if found else None

    def fraction(self, criterion: str) -> float:
        return float(np.mean([c[criterion] for c in self.per_seed]))


def verdict(series: list[dict], dts, taus, window_end: int | None = None, centered: bool = True,
            min_drop: float = 3.0, **kw) -> Verdict:
    """Judge one setting from its kernel series, one per seed."""
    if not series:
        raise ValueError("verdict needs at least one kernel series")
    summaries = [cone_summary(k, dts, taus, window_end, centered, **kw) for k in series]
    return Verdict(summaries, [checks(s, min_drop) for s in summaries])
