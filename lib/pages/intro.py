"""The introduction's table: every claim of the papers judged in the book's setting by the same
functions, and the same stored runs, as the claim's own page (`claims`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import phases
from .chaos import ChaosSweep, chaos_claim, chaos_sweep, cone_agreement
from .common import COUNTEREXAMPLES, DRIFT_CONTROL, PageSetup
from .cone import (ConeAnalysis, Controls, cone_analysis, cone_claim, cone_controls, controls_claim, floor_claim,
                   phase_one_claim, reference_claim)
from .counterexample import Counterexample, counterexample_analysis
from .linear import LinearSweep, linear_sweep

@dataclass(frozen=True)
class Claims:
    """Every claim of the papers judged in one setting: ``rows`` (claim, the papers' setting, what
    was measured and the verdict, on raw and on centered S, and the page), and the analyses behind
    them (``cone``: `ConeAnalysis`, ``controls``: `Controls`, ``counter``: `Counterexample`,
    ``chaos``: `ChaosSweep`, ``agreement``: `phases.Agreement` of the chaos and cone transitions
    on centered S, ``linear``: `LinearSweep`)."""

    rows: list
    cone: ConeAnalysis
    controls: Controls | None
    counter: Counterexample
    chaos: ChaosSweep
    agreement: phases.Agreement
    linear: LinearSweep


def _both(measure, verdict) -> dict:
    """Measured text and verdict on raw S and on centered S (which decides: phases.DECIDING_CENTERED)."""
    out = {f"measured, {n} S": measure(c) for n, c in (("raw", False), ("centered", True))}
    out.update({f"holds here, {n} S": verdict(c) for n, c in (("raw", False), ("centered", True))})
    return out


def _interval(r: phases.Regime) -> str:
    i = r.transition_interval
    return "none" if i is None else f"{i[0]}-{i[1]}"


def claims(page: PageSetup) -> Claims:
    """The intro page's table: each claim measured by the same functions (and stored runs) as its page."""
    cone = cone_analysis(page)
    controls = cone_controls(page)
    counter = counterexample_analysis(page)
    chaos = chaos_sweep(page)
    agree = {c: cone_agreement(page, chaos, cone, c) for c in (False, True)}
    linear = linear_sweep(page, cone=cone)
    setting, cx, runs = cone.setting, counter.counterexample, cone.setting.runs

    def seeds_text(values):
        return " / ".join(values)

    def growth(r):
        return "none" if r.ref_growth_pooled is None else r.ref_growth_pooled.fmt()

    tr = chaos.transition
    chaos_text = (f"{tr.n_draws} draws per t0: median test barrier {tr.median[0]:.3f} at t0 = {tr.t0s[0]}, "
                  f"{tr.median[-1]:.3f} at t0 = {tr.t0s[-1]} (two training seeds: "
                  f"{np.median(chaos.reference('barrier_test')) if chaos.seed_pairs else float('nan'):.3f}); "
                  + f"drop early / late {tr.drop.fmt(1)} (holds above {phases.CHAOS_DROP:g}, fails below "
                    f"{phases.CHAOS_NO_DROP:g}); "
                  + (f"transition t0 = {tr.transition} [{tr.interval_text()}]; " if tr.transition is not None else
                     f"{tr.name} on the grid; ") +
                  f"null control {'bitwise identical' if chaos.null.identical else 'NOT identical'} (no S involved)")
    adv, sw = linear.advantage, [t for t in linear.switch if t < page.cfg.steps]
    linear_text = (f"page's seed: test acc {100 * linear.acc(sw[0]):.1f}% (switch t = {sw[0]}) -> "
                   f"{100 * linear.acc(sw[-1]):.1f}% (t = {sw[-1]}), standard {100 * linear.reference['test_acc']:.1f}%; "
                   f"{adv.reason} (no S involved)")
    rows = [
        dict(claim="Phase I: the kernel moves fast, then the adjacent distance drops to a floor (Fort et al.)",
             papers="Fig 1(b); Phase I approximately 0 < t < 2000",
             **_both(lambda c: "transition per seed " + seeds_text(_interval(r.regime(c)) for r in runs),
                     lambda c: phase_one_claim(cone, c)), page="cone"),
        dict(claim="Cone (b): after the transition the adjacent distance has a floor shared by every dt",
             papers="Fig 1(b), T = 10^4",
             **_both(lambda c: f"slope of log floor vs log dt per seed (< {phases.FLOOR_SLOPE_MAX:g}): "
                               + seeds_text(r.regime(c).floor_slope.fmt() for r in runs),
                     lambda c: floor_claim(cone, c)), page="cone"),
        dict(claim="Cone (a): the distance to any reference τ after the transition rises, then levels off",
             papers="Fig 1(a), τ = 2000-8000",
             **_both(lambda c: f"growth exponent per seed (< {phases.REF_GROWTH_MAX:g}): "
                               + seeds_text(growth(r.regime(c)) for r in runs),
                     lambda c: reference_claim(cone, c)), page="cone"),
        dict(claim="The cone effect: the regime over seeds is a cone (not lazy, not drifting)",
             papers="one run shown",
             **_both(lambda c: f"{len(runs)} seed(s): " + setting.regime(c).sentence,
                     lambda c: cone_claim(cone, c)), page="cone"),
        dict(claim="(this book's check) the instrument calls a frozen kernel lazy and a drifting one drifting",
             papers="(no control shown)",
             **_both(lambda c: "controls not run for this architecture below the full preset" if controls is None
                     else f"lazy control: {controls.lazy.regime(c).name}; real control ({DRIFT_CONTROL}): "
                          f"{controls.real.regime(c).name}",
                     lambda c: controls_claim(controls, c)),
             page="cone"),
        dict(claim="Chaos: a 1e-7 perturbation early ends in another basin, late it does not",
             papers="extended paper; per a summary of it, inflection near 2500 it. (VGG-16), 100-500 (ResNet-20)",
             **_both(lambda c: chaos_text,
                     lambda c: chaos_claim(chaos)), page="chaos"),
        dict(claim="The cone begins where the chaos ends: the chaos and cone transitions agree",
             papers="extended paper, abstract: 'after this transition point the model's functional trajectory is "
                    "confined to a narrow cone'",
             **_both(lambda c: agree[c].reason, lambda c: agree[c].verdict), page="chaos"),
        dict(claim="Linear advantage (Phase II is not lazy): switching to the linearized model at the kernel "
                   "transition costs test accuracy at T",
             papers="Fig 2, T = 10^4; gain 'especially when t > 2000'",
             **_both(lambda c: linear_text, lambda c: adv.verdict), page="linear"),
        dict(claim="Not universal: a setting where the kernel keeps moving and no two phases appear",
             papers="unnamed setting (Fig 3)",
             **_both(lambda c: f"counterexample {DRIFT_CONTROL!r} ({COUNTEREXAMPLES[DRIFT_CONTROL]}): " + cx.regime(c).sentence,
                     lambda c: phases.regime_claim(cx.regime(c), holds=("drifting", "no-transition"))),
             page="counterexample"),
    ]
    return Claims(rows, cone, controls, counter, chaos, agree[phases.DECIDING_CENTERED], linear)


# ---------------------------------------------------------------- where the claims hold (appendix page)

# The grid of settings measured (the appendix page; benchmarks/settings.py): each architecture at
