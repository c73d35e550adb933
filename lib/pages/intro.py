"""The introduction's table: every claim of the papers judged in the book's setting by the same
functions, and the same stored runs, as the claim's own page (`claims`)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import fit, phases, replicates
from ..data import load_dataset
from ..training import train
from . import verdicts
from ..instability import chaos_cone, chaos_transition, instability_test, sensitivity_test
from .chaos import copies as chaos_copies
from .common import PageSetup
from .cone import ConeAnalysis, Controls, PhaseTwo, cone_analysis, cone_controls, phase_two
from .counterexample import Counterexample, counterexample_analysis
from .linear import LinearSweep, linear_sweep

@dataclass(frozen=True)
class Claims:
    """Every claim of the protocol (``protocol/claims.toml``) judged: ``tests`` in this build's setting (the
    exploratory seeds, centered S, Holm-adjusted over the papers' claims), ``raw`` the S-based ones on raw S,
    ``held_out`` the same claims judged on the protocol's held-out seeds from stored summaries (the
    confirmatory setting at T = 10^4 for the kernel and linear claims, the chaos campaign for the chaos
    claims; `paper.protocol_setting`), ``left_out`` the lines naming stored summaries that could not decide,
    and the analyses behind the live tests (``cone``, ``phase2``, ``controls``, ``counter``, ``linear``)."""

    tests: dict
    raw: dict
    held_out: dict
    held_out_from: dict
    left_out: list
    cone: ConeAnalysis
    phase2: PhaseTwo
    controls: Controls | None
    counter: Counterexample
    linear: LinearSweep

    @property
    def rows(self) -> list:
        return rows(self)


def lazy_control(controls: Controls | None, centered: bool = phases.DECIDING_CENTERED) -> replicates.Test:
    """The book's check 'lazy_control': a run switched to linearized training halfway has a late adjacent S
    within ``EVOLVING_RATIO`` of the noise floor (one run: its ratio, no test)."""
    from .. import growth, saturation
    if controls is None:
        return verdicts.undecided("late adjacent S / noise floor", [], "one run", "no controls for this architecture in this preset")
    lazy = controls.lazy
    r = growth.tail_ratio(lazy.kernels, None, lazy.regime(centered).noise, centered)
    ok = r < saturation.EVOLVING_RATIO
    return replicates.Test("late adjacent S / noise floor", (r,), None, "one run against the threshold", 1, None,
                           "holds" if ok else "fails",
                           f"the linearized run's late motion is {r:.3g}x the noise floor (lazy below {saturation.EVOLVING_RATIO:g})")


def null_check(copies) -> replicates.Test:
    """The book's check 'null_control': the chaos page's base run restarted at its first t0 without perturbation
    ends bitwise equal (`lib.pages.chaos.copies`)."""
    null = copies.null
    return replicates.Test("restart at the first t0, bitwise equal at the end", (float(null.identical),), None, "equality",
                           1, None, "holds" if null.identical else "fails",
                           "the unperturbed restart ends bitwise identical" if null.identical else
                           f"the restart differs (largest difference {null.max_abs_diff:.3g}): nondeterminism")


def claims(page: PageSetup, held_out: bool = True) -> Claims:
    """The introduction's table: every claim of the protocol judged across replicates by `lib.pages.verdicts`
    in this build's setting, from the same functions (and stored runs) as its page, and on the protocol's
    held-out seeds from the stored summaries (``held_out``)."""
    from . import paper
    cone = cone_analysis(page)
    p2 = {c: phase_two(cone, centered=c) for c in (False, True)}
    controls = cone_controls(page)
    counter = counterexample_analysis(page)
    linear = linear_sweep(page, cone=cone, phase2=p2[True])
    setting, end = cone.setting, cone.end
    by = {}
    for c in (False, True):
        cone_t = verdicts.cone(setting, p2[c], end, c)[0]
        by[c] = {"drop": verdicts.drop(setting, p2[c], c), "transition": verdicts.transition(p2[c], page.cfg),
                 "cone": cone_t, "evolving": verdicts.evolving(setting, p2[c], end, c),
                 "narrow": verdicts.narrow(setting, p2[c], end, c),
                 "not_universal": verdicts.counterexample(counter.counterexample, cone_t, c)}
    live = chaos_copies(page)
    chaos_rows = {page.cfg.seed: live.rows}
    tests = {**by[True], "linear_cost": verdicts.linear_cost(linear), "linear_trend": verdicts.linear_trend(linear),
             "chaos_instability": instability_test(chaos_rows, live.t0s[0], live.t0s[-1]),
             "chaos_sensitivity": sensitivity_test(chaos_rows, live.t0s[0], live.t0s[-1]),
             "chaos_cone": chaos_cone(chaos_transition(chaos_rows, live.t0s)[0], p2[True].t_star),
             "lazy_control": lazy_control(controls), "null_control": null_check(live)}
    held, source, left = {}, {}, []
    if held_out:
        for kind in ("confirmatory", "chaos"):
            judged, lines = paper.protocol_setting(kind)
            left += lines
            if judged is not None:
                for k, t in judged.tests.items():
                    if kind == "confirmatory" or k.startswith("chaos"):
                        held[k], source[k] = t, judged.setting
    return Claims(verdicts.adjust(tests), verdicts.adjust(by[False]), held, source, left, cone, p2[True], controls,
                  counter, linear)


PAGES = {"drop": "cone", "transition": "cone", "cone": "cone", "evolving": "cone", "narrow": "cone",
         "chaos_instability": "chaos", "chaos_sensitivity": "chaos", "chaos_cone": "chaos", "linear_cost": "linear",
         "linear_trend": "linear", "not_universal": "counterexample", "lazy_control": "cone", "null_control": "chaos"}


def _effect(t) -> str:
    return "n/a" if t is None or t.estimate is None else t.estimate.fmt(3)


def _p(t) -> str:
    if t is None or t.p is None:
        return "n/a"
    h = t.details.get("p_holm")
    return f"{t.p:.2g}" + ("" if h is None else f" ({h:.2g})")


def rows(claims_: Claims) -> list[dict]:
    """One row per claim of the protocol, in its order: the short name, its page, the verdict in this build and
    on the held-out seeds, the deciding effect with its 95% interval and p (Holm-adjusted in brackets), and the
    details (statistic, per replicate values, test, reason, the papers' words, raw S)."""
    from .. import protocol
    out = []
    for c in protocol.claims():
        t, h, r = claims_.tests.get(c["id"]), claims_.held_out.get(c["id"]), claims_.raw.get(c["id"])
        decide = h if h is not None else t
        out.append({"id": c["id"], "claim": c["name"], "family": c["family"], "page": PAGES[c["id"]],
                    "build": "not judged in the build" if t is None else t.verdict,
                    "held out": "not stored" if h is None else h.verdict,
                    "effect [95%]": _effect(decide), "p (Holm)": _p(decide),
                    "raw S (build)": "" if r is None else r.verdict,
                    "statistic": (decide.statistic if decide else c["primary"]),
                    "per replicate": "" if decide is None else " / ".join(
                        f"{v:.3g}" if isinstance(v, float) else str(v) for v in decide.values[:12]),
                    "test": "" if decide is None else f"{decide.test}; n = {decide.n}",
                    "why (build)": "" if t is None else t.reason, "why (held out)": "" if h is None else h.reason,
                    "papers": c["words"], "paper": c["paper"]})
    return out


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
