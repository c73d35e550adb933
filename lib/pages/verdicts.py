"""The papers' claims judged by tests across replicates (training seeds; perturbation draws for
chaos), each a `replicates.Test`: the statistic per replicate, its across-replicate estimate with a
95% interval, the test, n, p and the verdict. The intro's table and the pages read them from here.

- Phase I, the drop (`drop`): early over late adjacent S per seed, late measured in Phase II
  ([t*, T], `cone.phase_two`), `replicates.drop_test` across seeds.
- Phase I, a transition point (`cone.PhaseTwo.across`): a power law meeting a floor against one power
  law per seed, Fisher's combined p, and t* refitted on half the window (`truncation`).
- The cone, as saturation (`cone`): D(L), the mean S between Phase-II kernels L apart, per seed
  (`lib.saturation`), across seeds `saturation.across_seeds`; a cone saturates inside the window.
- The cone is narrow (`narrow`): the Phase-II angular spread over the Phase-I angle, per seed.
- Chaos (`chaos`): barriers at the first and the last t0 by `replicates.chaos_test`.
- The linear advantage (`linear_cost`, `linear_trend`): per seed standard minus switched at its own
  transition point, a paired test across seeds; the trend, switched late minus switched at t*.
- Not universal (`counterexample`): the counterexample's kernel motion judged like the cone's.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .. import phases, replicates, saturation
from ..kernels import kernel_distance, pairwise_distances
from ..phases import Estimate
from ..runtime import timing
from .chaos import ChaosSweep
from .common import window_end
from .cone import PhaseTwo, phase_two
from .judging import SettingResult
from .linear import LinearSweep

EARLY_CHECKPOINTS = 3  # the early level of the drop: the median adjacent S of the first checkpoints
SATURATION_VERDICT = {"cone": "holds", "drifting": "fails", "lazy": "fails", "unsaturated": "inconclusive"}


def _undecided(statistic: str, values, test: str, why: str) -> replicates.Test:
    return replicates.Test(statistic, tuple(values), None, test, len(values), None, "inconclusive", why)


def drop(setting: SettingResult, phase2: PhaseTwo, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """Phase I drops: per seed the median adjacent S (one checkpoint spacing, the series ``phase2`` was
    fitted on: compute it with the same ``centered``) of the first ``EARLY_CHECKPOINTS`` checkpoints
    over its median in Phase II [t*, end], against each seed's noise floor (`replicates.drop_test`)."""
    early, late, noise = [], [], []
    for run, (ts, s) in zip(setting.runs, phase2.series):
        ts, s = np.asarray(ts), np.asarray(s)
        early.append(float(np.median(s[:EARLY_CHECKPOINTS])))
        late.append(float(np.median(s[ts >= phase2.t_star])))
        noise.append(run.regime(centered).noise)
    return replicates.drop_test(early, late, noise)


def cone(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED):
    """The cone as saturation: per seed `saturation.judge` of its Phase-II kernels [t*, end] against its
    noise floor, across seeds `saturation.across_seeds`. Returns (the `replicates.Test`, the per-seed
    `saturation.Saturation`s)."""
    per = [saturation.judge({t: h for t, h in r.kernels.items() if t <= end}, phase2.t_star, end, centered,
                            noise=r.regime(centered).noise, seed=i) for i, r in enumerate(setting.runs)]
    if len(per) < 2:
        return _undecided("long-lag exponent of D(L)", [p.exponent.value for p in per], "across seeds",
                          f"one seed: its D(L) says {per[0].name} ({per[0].reason}); no test across seeds"), tuple(per)
    v = saturation.across_seeds(per)
    if v.verdict == "lazy" or not v.exponents:
        est, p = None, None
    else:
        est, p = v.exponent, (max(v.p_cone, v.p_plateau) if v.verdict == "cone" else v.p_drift)
    ell = [math.exp(x) for x in v.log_corr_times]
    why = (f"D(L) across {v.n} seeds: {v.verdict} (per seed: {', '.join(v.names)}); long-lag exponent "
           + ("n/a" if est is None else est.fmt(2))
           + (f", correlation time / longest lag {np.median(ell):.2g} (median)" if ell else "")
           + (f", ΔAIC (saturating curve over power law) {v.delta_aic.fmt(1)}" if v.delta_aic is not None else "")
           + (f"; p(drifting) = {v.p_drift:.3g}, p(resolved) = {v.p_cone:.3g}, p(plateau supported) = "
              f"{v.p_plateau:.3g}" if est is not None else ""))
    return replicates.Test("long-lag exponent of D(L)", v.exponents, est, v.test, v.n, p,
                           SATURATION_VERDICT[v.verdict], why, details={"regime": v.verdict, "seed": v}), tuple(per)


def narrow(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """The cone is narrow: per seed the angular spread of the Phase-II kernels (the largest angle
    arccos(1 - S) between two of them, [t*, end]) over the angle travelled in Phase I (H(0) to H(t*));
    across seeds a t interval on the log ratio (scipy.stats.ttest_1samp). holds: the interval lies below
    0 (the Phase-II cone is narrower than the Phase-I angle); fails: it lies above 0; else inconclusive."""
    ratios = []
    for r in setting.runs:
        its = [t for t in sorted(r.kernels) if t <= end]
        two = [t for t in its if t >= phase2.t_star]
        s2 = pairwise_distances([r.kernels[t] for t in two], centered).numpy()
        spread = float(np.arccos(np.clip(1 - s2.max(), -1, 1)))
        first = float(np.arccos(np.clip(1 - kernel_distance(r.kernels[its[0]], r.kernels[two[0]], centered), -1, 1)))
        ratios.append(spread / max(first, 1e-12))
    logr = np.log(np.maximum(ratios, 1e-12))
    if len(logr) < 2 or np.ptp(logr) == 0:
        return _undecided("Phase-II spread / Phase-I angle", ratios, "one-sample t on log ratio",
                          "fewer than two seeds with a spread to test")
    res = stats.ttest_1samp(logr, 0.0)
    ci = res.confidence_interval(phases.LEVEL)
    est = Estimate(*np.exp([logr.mean(), ci.low, ci.high]).tolist())
    text = f"Phase-II angular spread / Phase-I angle {est.fmt(2)} (geometric mean over {len(ratios)} seeds)"
    verdict = "holds" if est.hi < 1 else "fails" if est.lo > 1 else "inconclusive"
    why = {"holds": "the Phase-II cone is narrower than the angle travelled in Phase I",
           "fails": "the Phase-II kernels spread wider than the angle travelled in Phase I",
           "inconclusive": "the interval straddles 1"}[verdict]
    return replicates.Test("Phase-II spread / Phase-I angle", tuple(ratios), est, "one-sample t on log ratio (two-sided)",
                           len(ratios), float(res.pvalue), verdict, f"{why}: {text}")


def chaos(sweep: ChaosSweep) -> replicates.Test:
    """Early perturbations end elsewhere, late ones do not: the test barriers of every draw at the first
    and the last t0 (`replicates.chaos_test`), against the median barrier between two training seeds."""
    first, last = min(sweep.compared), max(sweep.compared)
    early = [r["barrier_test"] for r in sweep.compared[first]]
    late = [r["barrier_test"] for r in sweep.compared[last]]
    pair = sweep.reference("barrier_test")
    if not sweep.null.identical:
        return _undecided("test barrier", early, "null control",
                          "the unperturbed restart is not bitwise identical: nondeterminism, not chaos, would be measured")
    if not pair or not np.median(pair) > 0:
        return _undecided("test barrier", early + late, "Mann-Whitney U and Fisher's exact",
                          "no barrier between two training seeds to scale 'another basin' by (one seed)")
    return replicates.chaos_test(early, late, float(np.median(pair)))


def amplification(sweep: ChaosSweep) -> dict:
    """{t0: median [min, max] over draws of ||θ_T - θ'_T|| / ||ε||}: how much the endpoints' distance
    exceeds the perturbation actually applied (`replicates.amplification`; ||θ_T - θ'_T|| is the relative
    distance times ||θ_T|| of the base run)."""
    norm = float(np.sqrt(sum(float((v.double() ** 2).sum()) for v in sweep.base.params(sweep.base.cfg.steps).values())))
    dist = {t0: [rows[i]["rel_distance"] * norm for rows in sweep.draws] for i, t0 in enumerate(sweep.t0s)}
    eps = {t0: [rows[i]["perturbation"]["applied_norm"] for rows in sweep.draws] for i, t0 in enumerate(sweep.t0s)}
    return replicates.amplification(dist, eps)


def _per_seed(linear: LinearSweep, a: str, b: str, key: str) -> list[float]:
    return [d[a][key] - d[b][key] for d in linear.per_seed if d[a] is not None and d[b] is not None]


def linear_cost(linear: LinearSweep) -> replicates.Test:
    """Phase II is not lazy: per seed the test accuracy of standard training minus that of the run
    switched to linearized training at its own transition point, with McNemar's test on the same test
    examples (`replicates.paired_linear`); across seeds a paired test on the differences decides."""
    d = _per_seed(linear, "standard", "at", "test_acc")
    paired = [replicates.paired_linear(c[1], c[0], seed=i) for i, c in
              enumerate(x["correct"] for x in linear.per_seed if x.get("correct") is not None)]
    if len(d) < 2:
        return _undecided("standard - switched accuracy", d, "paired across seeds", "fewer than two seeds switched")
    t = replicates.linear_across_seeds(d)
    if not paired:
        return t
    count = {v: sum(p.verdict == v for p in paired) for v in ("holds", "fails", "inconclusive")}
    text = (f"; per seed on the same {paired[0].n} test examples (McNemar, one-sided): switching costs accuracy "
            f"significantly in {count['holds']} of {len(paired)} seeds, the switched run is better in {count['fails']}, "
            f"p = {', '.join(f'{p.p:.2g}' for p in paired)}")
    return replicates.Test(t.statistic, t.values, t.estimate, t.test, t.n, t.p, t.verdict, t.reason + text,
                           details={**t.details, "per_seed": tuple(paired)})


def linear_trend(linear: LinearSweep) -> replicates.Test:
    """Fig 2's trend: switching later ends better. Per seed the accuracy switched at the last switch point
    minus switched at its transition point, a paired test across seeds (its loss difference beside it)."""
    d = _per_seed(linear, "late", "at", "test_acc")
    if len(d) < 2:
        return _undecided("late - transition accuracy", d, "paired across seeds", "fewer than two seeds switched")
    t = replicates.linear_across_seeds(d)
    loss = _per_seed(linear, "at", "late", "test_loss")
    lo = Estimate(float(np.mean(loss)), float(np.min(loss)), float(np.max(loss)))
    e = t.estimate
    text = (f"switching at the last switch point instead of the transition point gains {100 * e.value:.2f} points "
            f"[{100 * e.lo:.2f}, {100 * e.hi:.2f}] over {t.n} seeds, p = {t.p:.3g}; test loss lower by {lo.fmt(3)} "
            "(mean [min, max])")
    why = {"holds": "switching later ends more accurate", "fails": "switching later gains nothing that matters",
           "inconclusive": "the gain is not significant"}[t.verdict]
    return replicates.Test("late - transition accuracy", t.values, e, t.test, t.n, t.p, t.verdict, f"{why}: {text}",
                           details={"loss": lo})


def counterexample(setting: SettingResult, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """A setting where the kernel keeps moving: its Phase-II motion judged like the cone's; the claim
    holds where it is drifting, fails where it is a cone or lazy."""
    p2 = phase_two(setting, centered=centered)
    test, _ = cone(setting, p2, window_end(setting.page.cfg), centered)
    regime = test.details.get("regime")
    verdict = {"drifting": "holds", "cone": "fails", "lazy": "fails"}.get(regime, "inconclusive")
    return replicates.Test(test.statistic, test.values, test.estimate, test.test, test.n, test.p, verdict,
                           test.reason, details=test.details)


# ---------------------------------------------------------------- each test's false-decision rate and power

def _rate_text(e: Estimate) -> str:
    return f"{e.value:.2f} [{e.lo:.2f}, {e.hi:.2f}]"


@timing("statistics: calibration on surrogates")
def calibration(setting: SettingResult, phase2: PhaseTwo, end: int, n_rep: int, drop_test: replicates.Test,
                chaos_sweep: ChaosSweep | None = None, linear: LinearSweep | None = None,
                centered: bool = phases.DECIDING_CENTERED) -> list[dict]:
    """Each test's false-decision rate and power at this setting's replicate counts, on surrogates whose
    answer is known, ``n_rep`` data sets each (one row per test and surrogate):

    - the cone test on this setting's own Phase-II kernels: time-shuffled (bounded: cone), a random walk
      of their increments (drifting), planted bounded motion (`saturation.calibrate`);
    - the drop test: log ratios at the claim's boundary (null) and at the measured effect, with the
      measured spread across seeds (`replicates.drop_samplers`);
    - the chaos test: log-normal barriers with the measured medians and spreads (`replicates.chaos_samplers`);
    - the linear test: correlated correctness with the measured accuracy, cost and spread
      (`replicates.linear_samplers`).
    """
    kernels_list = [{t: h for t, h in r.kernels.items() if t <= end} for r in setting.runs]
    n = len(kernels_list)
    rows = []
    for c in saturation.calibrate(kernels_list, phase2.t_star, n_seeds=n, n_rep=n_rep, centered=centered):
        rows.append({"test": "cone (saturation of D(L))", "surrogate": c.surrogate, "known answer": c.expected,
                     "replicates": n, "data sets": c.n_rep,
                     "false decision": _rate_text(replicates._rate(round(c.false_rate * c.n_rep), c.n_rep)),
                     "right decision": _rate_text(replicates._rate(round(c.power * c.n_rep), c.n_rep))})
    if n >= 2:
        logr = np.log(np.asarray(drop_test.values))
        sd = float(np.std(logr, ddof=1)) if np.ptp(logr) > 0 else 0.1
        cal = replicates.size_and_power(replicates.drop_test, *replicates.drop_samplers(
            n, effect=float(np.exp(logr.mean())), sd=sd), n_rep=n_rep)
        rows.append(_size_row("Phase I drop", f"ratio {replicates.DROP_FACTOR:g}x (null) / measured "
                              f"{np.exp(logr.mean()):.3g}x (effect)", n, cal))
    if chaos_sweep is not None and chaos_sweep.reference("barrier_test"):
        first, last = min(chaos_sweep.compared), max(chaos_sweep.compared)
        e = np.log(np.maximum([r["barrier_test"] for r in chaos_sweep.compared[first]], phases.BARRIER_RESOLUTION))
        lt = np.log(np.maximum([r["barrier_test"] for r in chaos_sweep.compared[last]], phases.BARRIER_RESOLUTION))
        cal = replicates.size_and_power(replicates.chaos_test, *replicates.chaos_samplers(
            len(e), float(np.exp(np.median(e))), float(np.exp(np.median(lt))), float(np.std(e, ddof=1)) or 0.1,
            float(np.std(lt, ddof=1)) or 0.1, float(np.median(chaos_sweep.reference("barrier_test")))), n_rep=n_rep)
        rows.append(_size_row("chaos", "early barriers at late t0 too (null) / measured late barriers (effect)",
                              len(e), cal))
    if linear is not None:
        d = _per_seed(linear, "standard", "at", "test_acc")
        if len(d) >= 2:
            acc = float(np.mean([x["standard"]["test_acc"] for x in linear.per_seed]))
            cal = replicates.size_and_power(replicates.linear_across_seeds, *replicates.linear_samplers(
                len(d), n_test=_n_test(linear), acc=min(max(acc, 0.01), 0.99), gap=float(np.mean(d)),
                sd=float(np.std(d, ddof=1)) if np.ptp(d) > 0 else 0.002), n_rep=n_rep)
            rows.append(_size_row("linear advantage", f"no cost (null) / measured cost {100 * np.mean(d):.2f} points "
                                  "(effect)", len(d), cal))
    return rows


def _n_test(linear: LinearSweep) -> int:
    """Test examples per seed of the linear test (those the runs were evaluated on)."""
    n = [len(x["correct"][0]) for x in linear.per_seed if x.get("correct") is not None]
    if not n:
        raise ValueError("the linear sweep holds no per-example correctness (no seed was switched)")
    return n[0]


def _size_row(test: str, surrogate: str, n: int, cal: replicates.Calibration) -> dict:
    return {"test": test, "surrogate": surrogate, "known answer": "fails or inconclusive (null) / holds (effect)",
            "replicates": n, "data sets": cal.n_rep, "false decision": _rate_text(cal.false),
            "right decision": _rate_text(cal.power)}
