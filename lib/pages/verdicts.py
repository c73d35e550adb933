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


def _tails(setting: SettingResult, end: int, centered: bool):
    """Per seed: its kernels up to ``end``, its noise floor, its tail ratio (late adjacent S over the floor)."""
    ks = [{t: h for t, h in r.kernels.items() if t <= end} for r in setting.runs]
    noise = [r.regime(centered).noise for r in setting.runs]
    return ks, noise, [max(growth.tail_ratio(k, end, n, centered), 1e-300) for k, n in zip(ks, noise)]


def cone(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED):
    """The cone claim by the protocol's rule (protocol/claims.toml, 'cone'; `growth.cone_rule`): per seed
    the growth ratio G = D(L_max)/D(L_max/4) of its Phase-II kernels [t*, end] and its tail ratio (late
    adjacent S over the noise floor, the claim 'evolving'); across seeds t intervals on the logs. Returns
    (the `replicates.Test`, the per-seed `saturation.Saturation` descriptions: correlation time,
    long-lag exponent, ΔAIC, which describe and do not decide)."""
    ks, noise, tails = _tails(setting, end, centered)
    gs = [growth.growth_ratio(k, phase2.t_star, end, centered) for k in ks]
    per = tuple(saturation.judge(k, phase2.t_star, end, centered, noise=n, seed=i)
                for i, (k, n) in enumerate(zip(ks, noise)))
    stat = f"growth ratio G = D(L_max) / D(L_max/{saturation.GROWTH_LAG_RATIO})"
    if len(gs) < 2:
        return undecided(stat, gs, "across seeds", f"one seed (G = {gs[0]:.3g}): no test across seeds"), per
    rule = growth.cone_rule(gs, tails)
    g = rule.growth.estimate
    text = (f"G {g.fmt(2)} over {len(gs)} seeds (nearly constant below {saturation.GROWTH_FLAT:g}, keeps rising above "
            f"{saturation.GROWTH_RISING:g}); late adjacent S / noise floor {rule.evolving.estimate.fmt(3)} "
            f"(evolving above {saturation.EVOLVING_RATIO:g})")
    why = {"cone": "the distance to a reference levels off and the kernel keeps moving",
           "rising": "the distance between Phase-II kernels keeps rising with the lag",
           "lazy": "the kernel has stopped moving (at the noise floor): lazy, not a cone",
           "undecided": "G lies between the margins, or the kernel's late motion is not resolved"}[rule.regime]
    return replicates.Test(stat, rule.growth.values, g, "t interval on mean log G (one-sided tests at the margins)",
                           len(gs), rule.p, rule.verdict, f"{why}: {text}",
                           details={"regime": rule.regime, "rule": rule}), per


def evolving(setting: SettingResult, phase2: PhaseTwo, end: int, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """'Keeps evolving' (protocol 'evolving'): per seed the median adjacent S over the last tenth of the window
    over its noise floor; across seeds a one-sided t test on the logs against ``saturation.EVOLVING_RATIO``."""
    tails = _tails(setting, end, centered)[2]
    stat = "late adjacent S / noise floor"
    if len(tails) < 2:
        return undecided(stat, tails, "across seeds", "one seed: no test across seeds")
    lt, verdict, p = growth.evolving_rule(tails)
    e = lt.estimate
    why = {"holds": "the kernel still moves at the end of the window",
           "fails": "the kernel has converged to the instrument's noise",
           "inconclusive": "the late motion is not resolved from the noise floor"}[verdict]
    return replicates.Test(stat, lt.values, e, f"one-sided t on mean log ratio against {saturation.EVOLVING_RATIO:g}",
                           len(tails), p, verdict,
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
    from .. import protocol as proto
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


def _row(claim: str, surrogate: str, right: str, replicates_n, n_rep: int, right_k: int, false_k: int) -> dict:
    return {"claim": claim, "surrogate (known answer)": f"{surrogate} ({right})", "replicates": replicates_n,
            "data sets": n_rep, "false decision": _rate_text(replicates.rate(false_k, n_rep)),
            "right decision": _rate_text(replicates.rate(right_k, n_rep))}


def _null_alt_rows(claim: str, cal: replicates.Calibration, null: str, alt: str, n) -> list[dict]:
    k_null, k_alt = round(cal.false.value * cal.n_rep), round(cal.power.value * cal.n_rep)
    return [_row(claim, null, "not holds", n, cal.n_rep, cal.n_rep - k_null, k_null),
            _row(claim, alt, "holds", n, cal.n_rep, k_alt, cal.n_rep - k_alt)]


@timing("statistics: calibration on surrogates")
def calibration(setting: SettingResult, phase2: PhaseTwo, end: int, n_rep: int, centered: bool = phases.DECIDING_CENTERED,
                n_chaos_seeds: int = 3, n_draws: int = 10) -> list[dict]:
    """Each claim's false-decision rate and power under the protocol's rules, on surrogates whose answer is
    known (protocol/claims.toml, each claim's ``surrogates``), ``n_rep`` data sets each, at this setting's
    seed count (the chaos claims at ``n_chaos_seeds`` seeds and ``n_draws`` copies):

    - the cone and 'evolving' (`growth.calibrate_cone`): this setting's Phase-II kernels shuffled, planted
      bounded motions (ℓ = W/20, W/10, W/5), a random walk of their increments, sub-diffusion, a fixed point;
    - the drop: log ratios at the margin (null) and at 10x (effect); narrow: log ratios at the margin and at
      half of it; the transition: one power law (null) and a power law meeting a floor (effect);
    - instability: early and late copies unstable with one probability (null) and 0.8 against 0.05 (effect),
      strata the seeds; sensitivity: one mean log at both t0s (null) and 1 against 0.01 (effect);
    - Fig 2's trend: accuracies exchangeable across switch points (null) and rising (effect).
    """
    from .. import instability as I
    n = len(setting.runs)
    rows = []
    if n >= 2:
        kl = [{t: h for t, h in r.kernels.items() if t <= end} for r in setting.runs]
        noise = [r.regime(centered).noise for r in setting.runs]
        for c in growth.calibrate_cone(kl, phase2.t_star, end, noise, n, n_rep, centered):
            rows.append(_row("cone (and 'evolving')", c["surrogate"], " or ".join(c["right"]), n, n_rep,
                             round(c["right_rate"] * n_rep), round(c["false_rate"] * n_rep)))
        cal = replicates.size_and_power(replicates.drop_test, *replicates.drop_samplers(n, effect=10.0, sd=0.5), n_rep=n_rep)
        rows += _null_alt_rows("Phase I drop", cal, f"ratio {replicates.DROP_FACTOR:g}x", "ratio 10x", n)

        def narrow_test(logr):
            est = stats.ttest_1samp(logr, np.log(saturation.NARROW_RATIO)).confidence_interval(phases.LEVEL)
            return replicates.Test("", (), None, "", len(logr), None,
                                   "holds" if np.exp(est.high) < saturation.NARROW_RATIO else "fails", "")

        def narrow_sampler(r):
            return lambda rng: (rng.normal(np.log(r), 0.3, n),)
        cal = replicates.size_and_power(narrow_test, narrow_sampler(saturation.NARROW_RATIO), narrow_sampler(
            saturation.NARROW_RATIO / 2), n_rep=n_rep)
        rows += _null_alt_rows("narrow", cal, "ratio at the margin", "half the margin (sd 0.3 on the log)", n)
        cal = replicates.size_and_power(replicates.linear_across_seeds, *replicates.linear_samplers(
            n, n_test=2000, acc=0.85, gap=0.03, sd=0.01), n_rep=n_rep)
        rows += _null_alt_rows("linear advantage", cal, "no cost", "a cost of 3 points", n)
    ts = np.arange(1, 41) * 25.0

    def transition_test(x, y):
        return replicates.transition_point(x, y, n_boot=49)
    cal = replicates.size_and_power(transition_test, *replicates.transition_samplers(ts), n_rep=max(2, n_rep // 4))
    rows += _null_alt_rows("transition (one seed)", cal, "one power law", "a power law meeting a floor", 1)

    def strat(p_early, p_late):
        def sample(rng):
            rows_ = {s: [dict(t0=0, kind=0, err_anneal=0.05 if rng.random() < p_early else 0.0) for _ in range(n_draws)]
                     + [dict(t0=800, kind=0, err_anneal=0.05 if rng.random() < p_late else 0.0) for _ in range(n_draws)]
                     + [dict(t0=0, kind=1, err_anneal=0.05) for _ in range(3)] for s in range(n_chaos_seeds)}
            return rows_, 0, 800
        return sample
    cal = replicates.size_and_power(I.instability_test, strat(0.3, 0.3), strat(0.8, 0.05), n_rep=n_rep)
    rows += _null_alt_rows("chaos: instability", cal, "early = late = 0.3 unstable", "0.8 early, 0.05 late", n_chaos_seeds)

    def sens(mu_early, mu_late):
        def sample(rng):
            rows_ = {}
            for s in range(n_chaos_seeds):
                rr = []
                for t0, mu in ((0, mu_early), (800, mu_late)):
                    rr += [dict(t0=t0, kind=1, dist_anneal=float(np.exp(rng.normal(0, 0.3)))) for _ in range(3)]
                    rr += [dict(t0=t0, kind=0, dist_anneal=float(np.exp(rng.normal(np.log(mu), 0.5)))) for _ in range(n_draws)]
                rows_[s] = rr
            return rows_, 0, 800
        return sample
    cal = replicates.size_and_power(I.sensitivity_test, sens(0.3, 0.3), sens(1.0, 0.01), n_rep=n_rep)
    rows += _null_alt_rows("chaos: sensitivity", cal, "0.3 at both t0s", "1 early, 0.01 late", n_chaos_seeds)
    if n >= 2:
        from types import SimpleNamespace

        def trend_sampler(gain):
            def sample(rng):
                per = []
                for _ in range(n):
                    a = 0.85 + rng.normal(0, 0.01)
                    acc = a + np.array([0.0, gain, 2 * gain]) + rng.normal(0, 0.003, 3)
                    per.append(dict(switch=100, standard={"test_acc": acc[2]}, at={"test_acc": acc[0]},
                                    late={"test_acc": acc[1]}))
                return (SimpleNamespace(per_seed=tuple(per), switch=[0, 100, 200, 400, 2000],
                                        final={t: {"test_acc": 0.85} for t in (0, 100, 200, 400, 2000)}),)
            return sample
        cal = replicates.size_and_power(linear_trend, trend_sampler(0.0), trend_sampler(0.01), n_rep=n_rep)
        rows += _null_alt_rows("Fig 2's trend", cal, "no trend", "1 point per step", n)
    return rows


def _n_test(linear: LinearSweep) -> int:
    """Test examples per seed of the linear test (those the runs were evaluated on)."""
    n = [len(x["correct"][0]) for x in linear.per_seed if x.get("correct") is not None]
    if not n:
        raise ValueError("the linear sweep holds no per-example correctness (no seed was switched)")
    return n[0]
