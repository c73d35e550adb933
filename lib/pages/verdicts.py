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

import dataclasses
import math

import numpy as np
from scipy import stats

from .. import growth, phases, replicates, saturation
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


def undecided(statistic: str, values, test: str, why: str) -> replicates.Test:
    """An inconclusive `replicates.Test` that was not run, and ``why``."""
    return replicates.Test(statistic, tuple(values), None, test, len(values), None, "inconclusive", why)


def transition(phase2: PhaseTwo, cfg=None) -> replicates.Test:
    """The claim 'transition' (protocol): the seeds' transition tests combined by Fisher's method
    (`replicates.transition_across_seeds`), with the truncation check deciding alongside: it must hold in
    at least ``replicates.TRUNCATION_SHARE`` of the seeds. A seed's bootstrap p at its floor 1/(B+1) is an
    upper bound, and so is the combined p then (Fisher's statistic is monotone): reported as 'p <='.
    ``cfg``: the setting's `TrainConfig`, for t* in epochs."""
    t = phase2.across
    floor = 1 / (replicates.N_BOOT + 1)
    floored = sum(1 for r in t.parts if r.p is not None and r.p <= floor + 1e-12)
    ok = sum(1 for r in phase2.truncation if r.verdict == "holds")
    share = ok / max(1, len(phase2.truncation))
    extra = (f"; the truncation check holds in {ok} of {len(phase2.truncation)} seeds (needs "
             f"{replicates.TRUNCATION_SHARE:.0%})")
    if floored:
        extra += (f"; {floored} seed(s) at the bootstrap's floor p = 1/{replicates.N_BOOT + 1}, so the combined "
                  f"p = {t.p:.3g} is an upper bound (p <= {t.p:.3g})")
    if cfg is not None:
        from .. import fit
        extra += (f"; t* = {phase2.t_star:,} iterations = {fit.epochs(cfg, phase2.t_star):.2f} epochs (the papers' "
                  f"window: {fit.PAPERS_ITERATIONS:,} iterations = {fit.papers_epochs():.1f} epochs)")
    verdict = t.verdict
    if verdict == "holds" and share < replicates.TRUNCATION_SHARE:
        verdict = "inconclusive"
        extra += ": t* moves with the window in too many seeds"
    return dataclasses.replace(t, verdict=verdict, reason=t.reason + extra,
                               details={**t.details, "p_upper_bound": bool(floored), "truncation_share": share})


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


def _cone_inputs(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool):
    """Per seed: its Phase-II kernels up to ``end``, its growth ratio, its tail ratio over its noise floor."""
    ks = [{t: h for t, h in r.kernels.items() if t <= end} for r in setting.runs]
    noise = [r.regime(centered).noise for r in setting.runs]
    growth = [growth.growth_ratio(k, phase2.t_star, end, centered) for k in ks]
    tails = [max(growth.tail_ratio(k, end, n, centered), 1e-300) for k, n in zip(ks, noise)]
    return ks, noise, growth, tails


def cone(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED):
    """The cone claim by the protocol's rule (protocol/claims.toml, 'cone'; `growth.cone_rule`): per seed
    the growth ratio G = D(L_max)/D(L_max/4) of its Phase-II kernels [t*, end] and its tail ratio (late
    adjacent S over the noise floor, the claim 'evolving'); across seeds t intervals on the logs. Returns
    (the `replicates.Test`, the per-seed `saturation.Saturation` descriptions: correlation time,
    long-lag exponent, ΔAIC, which describe and do not decide)."""
    ks, noise, growth, tails = _cone_inputs(setting, phase2, end, centered)
    per = tuple(saturation.judge(k, phase2.t_star, end, centered, noise=n, seed=i)
                for i, (k, n) in enumerate(zip(ks, noise)))
    stat = f"growth ratio G = D(L_max) / D(L_max/{saturation.GROWTH_LAG_RATIO})"
    if len(growth) < 2:
        return undecided(stat, growth, "across seeds", f"one seed (G = {growth[0]:.3g}): no test across seeds"), per
    rule = growth.cone_rule(growth, tails)
    g = rule.growth.estimate
    text = (f"G {g.fmt(2)} over {len(growth)} seeds (nearly constant below {saturation.GROWTH_FLAT:g}, keeps rising above "
            f"{saturation.GROWTH_RISING:g}); late adjacent S / noise floor {rule.evolving.estimate.fmt(3)} "
            f"(evolving above {saturation.EVOLVING_RATIO:g})")
    why = {"cone": "the distance to a reference levels off and the kernel keeps moving",
           "rising": "the distance between Phase-II kernels keeps rising with the lag",
           "lazy": "the kernel has stopped moving (at the noise floor): lazy, not a cone",
           "undecided": "G lies between the margins, or the kernel's late motion is not resolved"}[rule.regime]
    return replicates.Test(stat, rule.growth.values, g, "t interval on mean log G (one-sided tests at the margins)",
                           len(growth), rule.p, rule.verdict, f"{why}: {text}",
                           details={"regime": rule.regime, "rule": rule}), per


def evolving(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """'Keeps evolving' (protocol 'evolving'): per seed the median adjacent S over the last tenth of the window
    over its noise floor; across seeds a one-sided t test on the logs against ``saturation.EVOLVING_RATIO``."""
    _, _, growth, tails = _cone_inputs(setting, phase2, end, centered)
    stat = "late adjacent S / noise floor"
    if len(tails) < 2:
        return undecided(stat, tails, "across seeds", "one seed: no test across seeds")
    rule = growth.cone_rule(growth, tails)
    e = rule.evolving.estimate
    why = {"holds": "the kernel still moves at the end of the window",
           "fails": "the kernel has converged to the instrument's noise",
           "inconclusive": "the late motion is not resolved from the noise floor"}[rule.evolving_verdict]
    return replicates.Test(stat, rule.evolving.values, e, f"one-sided t on mean log ratio against {saturation.EVOLVING_RATIO:g}",
                           len(tails), rule.evolving_p, rule.evolving_verdict,
                           f"{why}: {e.fmt(3)} over {len(tails)} seeds (threshold {saturation.EVOLVING_RATIO:g})")


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
        return undecided("Phase-II spread / Phase-I angle", ratios, "one-sample t on log ratio",
                         "fewer than two seeds with a spread to test")
    res = stats.ttest_1samp(logr, np.log(saturation.NARROW_RATIO))
    ci = res.confidence_interval(phases.LEVEL)
    est = Estimate(*np.exp([logr.mean(), ci.low, ci.high]).tolist())
    text = f"Phase-II angular spread / Phase-I angle {est.fmt(2)} (geometric mean over {len(ratios)} seeds)"
    verdict = ("holds" if est.hi < saturation.NARROW_RATIO else "fails" if est.lo > saturation.NARROW_RATIO
               else "inconclusive")
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
        return undecided("test barrier", early, "null control",
                         "the unperturbed restart is not bitwise identical: nondeterminism, not chaos, would be measured")
    if not pair or not np.median(pair) > 0:
        return undecided("test barrier", early + late, "Mann-Whitney U and Fisher's exact",
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
        return undecided("standard - switched accuracy", d, "paired across seeds", "fewer than two seeds switched")
    t = replicates.linear_across_seeds(d)
    if not paired:
        return t
    count = {v: sum(p.verdict == v for p in paired) for v in ("holds", "fails", "inconclusive")}
    text = (f"; per seed on the same {paired[0].n} test examples (McNemar, one-sided): switching costs accuracy "
            f"significantly in {count['holds']} of {len(paired)} seeds, the switched run is better in {count['fails']}, "
            f"p = {', '.join(f'{p.p:.2g}' for p in paired)}")
    return replicates.Test(t.statistic, t.values, t.estimate, t.test, t.n, t.p, t.verdict, t.reason + text,
                           details={**t.details, "per_seed": tuple(paired)})


def counterexample(setting: SettingResult, reference: replicates.Test | None = None,
                   centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """'Not universal' (protocol 'not_universal'): a setting without two phases. holds: its transition test
    does not reject (Fisher's combined p >= alpha), its kernel keeps evolving, and its growth ratios differ
    from ``reference``'s (the default's cone `Test`; Welch's t test on log G); fails: it has a transition and
    its cone holds; else inconclusive."""
    p2 = phase_two(setting, centered=centered)
    end = window_end(setting.page.cfg)
    test, _ = cone(setting, p2, end, centered)
    ev = evolving(setting, p2, end, centered)
    tr = p2.across
    no_transition = tr.p is not None and tr.p >= replicates.ALPHA
    differs, p_diff = None, None
    if reference is not None and len(reference.values) >= 2 and len(test.values) >= 2:
        w = stats.ttest_ind(np.log(test.values), np.log(reference.values), equal_var=False)
        p_diff = float(w.pvalue)
        differs = p_diff < replicates.ALPHA
    text = (f"transition test combined p = {tr.p:.3g}; late motion {ev.verdict} ({ev.estimate.fmt(3) if ev.estimate else 'n/a'}); "
            f"G {test.estimate.fmt(2) if test.estimate else 'n/a'}"
            + ("" if p_diff is None else f" against the default's {reference.estimate.fmt(2)} (Welch p = {p_diff:.3g})"))
    if no_transition and ev.verdict == "holds" and differs:
        verdict, p, why = "holds", max(p_diff, ev.p or 0.0), "no transition, the kernel keeps moving, and its motion differs from the default's"
    elif tr.verdict == "holds" and test.verdict == "holds":
        verdict, p, why = "fails", tr.p, "this setting too has a transition and a cone"
    else:
        verdict, p, why = "inconclusive", p_diff, "not every part of the contrast is established"
    return replicates.Test("no transition, evolving, G differs from the default's", test.values, test.estimate,
                           "transition test, 'evolving', Welch's t on log G", test.n, p, verdict, f"{why}: {text}",
                           parts=(tr, ev, test), details={"regime": test.details.get("regime"), "p_differs": p_diff})


def linear_trend(linear: LinearSweep) -> replicates.Test:
    """Fig 2's trend (protocol 'linear_trend'): the switched runs' test accuracy increasing with the switch point.
    Seeds as blocks, each switched at its own t*, at the last switch point and at T (standard training): Page's L
    (scipy.stats.page_trend_test, predicted order increasing in t). With fewer than two complete seeds,
    Spearman's rho over the page's seed's switch grid (one-sided). Spearman on the grid is reported beside."""
    grid = [t for t in linear.switch]
    acc = [linear.final[t]["test_acc"] for t in grid]
    rho = stats.spearmanr(grid, acc, alternative="greater") if len(grid) >= 3 and np.ptp(acc) > 0 else None
    rho_text = "" if rho is None else f"Spearman rho over the page's seed's {len(grid)} switch points {rho.statistic:.2f} (p = {rho.pvalue:.3g})"
    rows = [(d["at"]["test_acc"], d["late"]["test_acc"], d["standard"]["test_acc"]) for d in linear.per_seed
            if d["at"] is not None and d["late"] is not None and d["switch"] is not None
            and d["switch"] < [t for t in grid if t < grid[-1]][-1]]
    if len(rows) >= 2:
        res = stats.page_trend_test(np.asarray(rows), predicted_ranks=[1, 2, 3])
        rev = stats.page_trend_test(np.asarray(rows), predicted_ranks=[3, 2, 1])
        p, p_rev = float(res.pvalue), float(rev.pvalue)
        gain = np.asarray([r[1] - r[0] for r in rows])
        est = Estimate(float(gain.mean()), float(gain.min()), float(gain.max()))
        verdict = "holds" if p < replicates.ALPHA else "fails" if p_rev < replicates.ALPHA else "inconclusive"
        text = (f"Page's L = {res.statistic:.0f} over {len(rows)} seeds (switched at t*, at the last switch point, standard), "
                f"p = {p:.3g}; accuracy gained from t* to the last switch point {100 * est.value:.2f} points "
                f"[min {100 * est.lo:.2f}, max {100 * est.hi:.2f}]" + ("; " + rho_text if rho_text else ""))
        return replicates.Test("accuracy vs switch point (Page's L)", tuple(map(float, gain)), est,
                               "Page's L trend test, seeds as blocks", len(rows), p, verdict, text)
    if rho is None:
        return undecided("accuracy vs switch point", acc, "Spearman", "fewer than 3 switch points with different accuracies")
    p = float(rho.pvalue)
    p_rev = float(stats.spearmanr(grid, acc, alternative="less").pvalue)
    verdict = "holds" if p < replicates.ALPHA else "fails" if p_rev < replicates.ALPHA else "inconclusive"
    return replicates.Test("accuracy vs switch point (Spearman)", tuple(acc), None, "Spearman's rho, one-sided", len(grid),
                           p, verdict, rho_text)


def adjust(tests: dict) -> dict:
    """Holm's adjustment over the family 'papers' of the protocol (`lib.protocol.holm`): {claim id: Test}
    with ``details['p_holm']``; a 'holds' or 'fails' whose adjusted p is not below alpha becomes
    inconclusive, saying so. Claims of the family 'checks' and claims without a p are left as they are."""
    from ... import protocol as proto
    alpha = proto.load()["protocol"]["alpha"]
    papers = [c["id"] for c in proto.claims("papers") if c["id"] in tests]
    adj = dict(zip(papers, proto.holm([tests[i].p for i in papers], alpha)))
    out = dict(tests)
    for i, a in adj.items():
        t = tests[i]
        details = {**t.details, "p_holm": a}
        verdict, reason = t.verdict, t.reason
        if a is not None and verdict in ("holds", "fails") and a >= alpha:
            verdict, reason = "inconclusive", f"{reason} (it {t.verdict} unadjusted, but Holm-adjusted p = {a:.3g} is not below {alpha:g})"
        out[i] = dataclasses.replace(t, verdict=verdict, reason=reason, details=details)
    return out


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
                     "false decision": _rate_text(replicates.rate(round(c.false_rate * c.n_rep), c.n_rep)),
                     "right decision": _rate_text(replicates.rate(round(c.power * c.n_rep), c.n_rep))})
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
