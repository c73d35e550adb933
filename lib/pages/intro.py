"""The introduction's table: every claim of the papers judged in the book's setting by the same
functions, and the same stored runs, as the claim's own page (`claims`)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import fit, phases, replicates
from ..data import load_dataset
from ..training import train
from . import verdicts
from .chaos import ChaosSweep, chaos_sweep, cone_agreement
from .common import COUNTEREXAMPLES, DRIFT_CONTROL, PageSetup
from .cone import ConeAnalysis, Controls, PhaseTwo, cone_analysis, cone_controls, controls_claim, phase_two
from .counterexample import Counterexample, counterexample_analysis
from .linear import LinearSweep, linear_sweep

@dataclass(frozen=True)
class Claims:
    """Every claim of the papers judged in one setting: ``rows`` (one dict per claim: the claim, the
    verdict on centered S, which decides, and on raw S, the statistic, its per-replicate values, the
    across-replicate estimate with its 95% interval, the test with n and p, the papers' setting and
    the page; `row`), ``tests`` (the deciding `replicates.Test` per claim, by the claim's short name),
    and the analyses behind them (``cone``: `ConeAnalysis`, ``phase2``: `cone.PhaseTwo`, ``controls``:
    `Controls`, ``counter``: `Counterexample`, ``chaos``: `ChaosSweep`, ``agreement``:
    `phases.Agreement` of the chaos and cone transitions on centered S, ``linear``: `LinearSweep`)."""

    rows: list
    tests: dict
    cone: ConeAnalysis
    phase2: PhaseTwo
    controls: Controls | None
    counter: Counterexample
    chaos: ChaosSweep
    agreement: phases.Agreement
    linear: LinearSweep


def _num(v) -> str:
    return "none" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))


def row(claim: str, short: str, test: replicates.Test, raw: replicates.Test | None, papers: str, page: str) -> dict:
    """One line of the claims table from the deciding test (and the raw-S one, where S is involved)."""
    est = "n/a" if test.estimate is None else test.estimate.fmt(3)
    return {"claim": claim, "verdict": test.verdict, "raw S": "(no S)" if raw is None else raw.verdict,
            "statistic": test.statistic, "per replicate": " / ".join(_num(v) for v in test.values),
            "estimate [95%]": est, "test": f"{test.test}; n = {test.n}" + ("" if test.p is None else f", p = {test.p:.3g}"),
            "why": test.reason, "papers": papers, "page": page, "short": short}


def _plain(verdict: str, reason: str, statistic: str, test: str, n: int) -> replicates.Test:
    return replicates.Test(statistic, (), None, test, n, None, verdict, reason)


def claims(page: PageSetup) -> Claims:
    """The intro page's table: each claim judged across replicates by `lib.pages.verdicts`, from the
    same functions (and stored runs) as its page."""
    cone = cone_analysis(page)
    p2 = {c: phase_two(cone, centered=c) for c in (False, True)}
    controls = cone_controls(page)
    counter = counterexample_analysis(page)
    chaos = chaos_sweep(page)
    agree = {c: cone_agreement(page, chaos, cone, c) for c in (False, True)}
    linear = linear_sweep(page, cone=cone, phase2=p2[True])
    setting, end = cone.setting, cone.end
    drop = {c: verdicts.drop(setting, p2[c], c) for c in (False, True)}
    sat = {c: verdicts.cone(setting, p2[c], end, c)[0] for c in (False, True)}
    nar = {c: verdicts.narrow(setting, p2[c], end, c) for c in (False, True)}
    cx = {c: verdicts.counterexample(counter.counterexample, c) for c in (False, True)}
    ctrl = {c: _plain(controls_claim(controls, c), "controls not run for this architecture in this preset"
                      if controls is None else f"lazy control: {controls.lazy.regime(c).name}; real control "
                      f"({DRIFT_CONTROL}): {controls.real.regime(c).name}", "regime of each control",
                      "lib.phases.regime", 2) for c in (False, True)}
    ag = {c: _plain(agree[c].verdict, agree[c].reason, "chaos transition vs cone transitions", "interval overlap",
                    len(setting.runs)) for c in (False, True)}
    chaos_t, cost, trend = verdicts.chaos(chaos), verdicts.linear_cost(linear), verdicts.linear_trend(linear)
    rows = [
        row("Phase I: the kernel moves fast at first, then its adjacent distance drops to a low floor (Fort et al.)",
            "drop", drop[True], drop[False], "Fig 1(b); Phase I approximately 0 < t < 2000", "cone"),
        row("Phase I ends at a transition point: a power law that meets a floor, not one power law",
            "transition", p2[True].across, p2[False].across, "Fig 1(b); the extended paper's 'transition point'", "cone"),
        row("The cone effect: after the transition the kernel moves inside a bounded region (its motion saturates)",
            "cone", sat[True], sat[False], "Fig 1(a), τ = 2000-8000; Fig 1(c)", "cone"),
        row("The cone is narrow: the Phase-II kernels spread over a smaller angle than Phase I travelled",
            "narrow", nar[True], nar[False], "Fig 1(c); extended paper, abstract: 'a narrow cone'", "cone"),
        row("(this book's check) the instrument calls a frozen kernel lazy and a drifting one drifting",
            "controls", ctrl[True], ctrl[False], "(no control shown)", "cone"),
        row("Chaos: a 1e-7 perturbation early ends in another basin, late it does not", "chaos", chaos_t, None,
            "extended paper; per a summary of it, inflection near 2500 it. (VGG-16), 100-500 (ResNet-20)", "chaos"),
        row("The cone begins where the chaos ends: the chaos and cone transitions agree", "chaos = cone", ag[True],
            ag[False], "extended paper, abstract: 'after this transition point the model's functional trajectory is "
                       "confined to a narrow cone'", "chaos"),
        row("Linear advantage: switching to the linearized model at the transition costs test accuracy at T",
            "linear advantage", cost, None, "Fig 2, T = 10^4", "linear"),
        row("Fig 2's trend: switching later in Phase II ends more accurate", "linear trend", trend, None,
            "Fig 2; gain 'especially when t > 2000'", "linear"),
        row("Not universal: a setting where the kernel keeps moving and no two phases appear", "not universal",
            cx[True], cx[False], f"unnamed setting (Fig 3); here {DRIFT_CONTROL!r}: {COUNTEREXAMPLES[DRIFT_CONTROL]}",
            "counterexample"),
    ]
    return Claims(rows, {r["short"]: t for r, t in zip(rows, (drop[True], p2[True].across, sat[True], nar[True], ctrl[True],
                                                              chaos_t, ag[True], cost, trend, cx[True]))},
                  cone, p2[True], controls, counter, chaos, agree[phases.DECIDING_CENTERED], linear)


def setting_fits(page: PageSetup, claims_: Claims) -> tuple[list, list, list, list]:
    """The seeds' runs of the claims' setting and, per run, `fit.fit_at` t* and at T and
    `fit.fit_criterion` (Phase II from the claims' t*)."""
    t_star = claims_.phase2.t_star
    trajs = [train(page.with_cfg(seed=s).cfg) for s in claims_.cone.setting.seeds]
    return (trajs, [fit.fit_at(t, t_star) for t in trajs], [fit.fit_at(t, page.cfg.steps) for t in trajs],
            [fit.fit_criterion(t, t_star) for t in trajs])


def regime_table(page: PageSetup, claims_: Claims) -> list[dict]:
    """The papers' window beside this book's (the intro's table): data, batch, iterations, epochs,
    learning rate, and where the book's seeds are in training at t* and at T (`lib.fit`); the papers
    do not report training accuracy over their window."""
    cfg, t_star, span = page.cfg, claims_.phase2.t_star, fit.span
    trajs, a, b, crit = setting_fits(page, claims_)
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    decay = [m for m in cfg.milestones if m < cfg.steps]
    return [
        {"": "papers (Frankle et al.'s CIFAR-10 recipe)", "data": f"CIFAR-10, {fit.PAPERS_TRAIN_IMAGES:,} training images",
         "batch": fit.PAPERS_BATCH, "iterations": f"{fit.PAPERS_ITERATIONS:,}", "epochs": f"{fit.papers_epochs():.1f}",
         "learning rate": "0.1, constant over the window", "train acc at t*": "not reported",
         "train acc at T": "not reported", "Phase II with train acc ≥ 95%": "not reported"},
        {"": f"this book ({len(trajs)} seeds)",
         "data": f"{cfg.dataset}, {len(load_dataset(cfg.dataset).y_train):,} training images",
         "batch": cfg.batch_size, "iterations": f"{cfg.steps:,}", "epochs": f"{fit.epochs(cfg):.1f}",
         "learning rate": f"{cfg.lr:g}, " + (f"x{cfg.gamma:g} at {', '.join(map(str, decay))}" if decay else "constant"),
         "train acc at t*": f"{span([x.train_acc for x in a], pct)} (t* = {t_star:,})",
         "train acc at T": span([x.train_acc for x in b], pct),
         f"Phase II with train acc ≥ {100 * fit.FIT_ACC:.0f}%": span([c.share_fit for c in crit], lambda v: f"{100 * v:.0f}%")},
    ]
