"""The cone page: the workshop paper's Fig 1 judged. The page's run and the preset's seeds
(`cone_analysis`), the instrument's controls (`cone_controls`: a lazy one, the linearized run,
and a real one whose kernel keeps moving) with the controls check and the sentences the page glues,
and where Phase II starts (`phase_two`), from which `lib.pages.verdicts` judges the claims."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import phases, replicates
from ..kernels import adjacent_distances, trajectory_kernels
from ..linearization import switch_config, switch_run
from ..models import MODELS
from ..training import train
from .common import DRIFT_CONTROL, PageSetup, cone_grids, run_kernels, seeds, variant, window_end
from .judging import RunRegime, SettingResult, judge_run, judge_setting

LAZY_SWITCH_FRACTION = 0.5  # the lazy control switches to linearized training at this fraction of the window


@dataclass(frozen=True)
class ConeAnalysis:
    """The cone page's computation: the base run, its kernels and regime, the seeds' verdict.

    traj: the page's run; kernels: its series; dts: adjacent intervals; taus: the references of
    the deciding regime; end: the window's end; run: the first seed's `RunRegime`; setting: the
    `SettingResult` over the preset's seeds (its first seed is ``run``).
    """

    traj: object
    kernels: dict
    dts: list
    taus: list
    end: int
    run: RunRegime
    setting: SettingResult


def cone_analysis(page: PageSetup, dts=None, taus=None) -> ConeAnalysis:
    """The base run and the preset's seeds, judged by `lib.phases.regime` in the constant-lr window."""
    dts, taus = cone_grids(page, dts, taus)
    setting = judge_setting(page, seeds(page), dts, taus)
    run = setting.runs[0]
    return ConeAnalysis(train(page.cfg), run.kernels, dts, list(run.regime().taus), window_end(page.cfg), run,
                        setting)


@dataclass(frozen=True)
class Controls:
    """The instrument's controls, judged like the run: ``lazy``, the linearized run from the
    checkpoint ``switch`` (its eNTK is constant by construction after it); ``real``, a real setting
    (``DRIFT_CONTROL``) whose kernel is expected to keep moving, in the setting ``real_page``."""

    switch: int
    lazy: RunRegime
    real: RunRegime
    real_page: PageSetup


def cone_controls(page: PageSetup, dts=None) -> Controls | None:
    """The lazy and the real control in the page's setting; None for architectures other than
    ``cheap`` architectures (`models.Arch`) unless the preset runs every architecture in full
    (`Preset.every_seed`: a linearized ResNet-20 or VGG-16
    run would not fit the page's 10-minute budget on 2 cores; the default build's cone page shows the
    controls)."""
    if not MODELS[page.cfg.arch].cheap and not page.preset.every_seed:
        return None
    dts, _ = cone_grids(page, dts)
    end = window_end(page.cfg)
    base = train(page.cfg)
    its = [t for t in base.iterations if t <= end]
    switch = min(its, key=lambda t: abs(t - LAZY_SWITCH_FRACTION * end))
    lin = switch_run(switch_config(page.cfg, switch, bn=page.kernel.bn, ckpt_every=page.cfg.ckpt_every))
    base_k = run_kernels(page, base)
    lin_k = trajectory_kernels(lin, [t for t in lin.iterations if t <= end], **page.kernel.kwargs)
    lazy_k = {**{t: h for t, h in base_k.items() if t < switch}, **lin_k}
    lazy = judge_run(page, lin, "lazy control", dts, kernels=lazy_k, noise_run=base)
    real_page = variant(page, DRIFT_CONTROL)
    real = judge_run(real_page, train(real_page.cfg), f"{DRIFT_CONTROL} control", dts)
    return Controls(switch, lazy, real, real_page)


WRONG_FOR_DRIFT = ("lazy", "cone")  # the answers that would be wrong for a kernel that keeps moving


def controls_claim(controls: Controls | None, centered: bool = phases.DECIDING_CENTERED) -> str:
    """The instrument's check on its controls: ``holds`` where the lazy control is called lazy and the
    real control drifting; ``fails`` where the lazy control is called anything but lazy or the real
    control gets a wrong decisive answer (``WRONG_FOR_DRIFT``); ``inconclusive`` otherwise (no controls
    for this architecture and preset, or a real control whose evidence does not decide)."""
    if controls is None:
        return "inconclusive"
    lazy, real = controls.lazy.regime(centered).name, controls.real.regime(centered).name
    if lazy != "lazy" or real in WRONG_FOR_DRIFT:
        return "fails"
    return "holds" if real == "drifting" else "inconclusive"


def controls_sentence(page: PageSetup, controls: Controls | None) -> str:
    """The cone page's sentence on its controls: each control's answer on the deciding S with its
    reason, the raw answer, and the check's verdict (`controls_claim`)."""
    if controls is None:
        return (f"This run's architecture gets its controls with the full preset only (a linearized "
                f"{MODELS[page.cfg.arch].name} run would not fit the page's budget on 2 CPU cores); the default "
                "build's cone page shows them for LeNet-5.")
    lazy, real = controls.lazy, controls.real
    return (f"The lazy control switches at t = {controls.switch} and is judged {lazy.regime().name} on centered S "
            f"({lazy.regime().reason}; raw: {lazy.raw.name}); the real control is judged {real.regime().name} "
            f"({real.regime().reason}; raw: {real.raw.name}). The check on the controls "
            f"{controls_claim(controls)} (it fails only on a wrong answer: a lazy control not called lazy, or a "
            f"real control called {' or '.join(WRONG_FOR_DRIFT)}). Real control: {controls.real_page.setting}.")


# ---------------------------------------------------------------- Phase II's start, by one rule

@dataclass(frozen=True)
class PhaseTwo:
    """Where Phase II starts, by one stated rule. Per seed, `replicates.transition_point` on its adjacent
    S (``centered``, one checkpoint spacing dt, plotted against t + dt) in the window, and
    `replicates.truncation_check` (t* refitted on the window's first half); across seeds
    `replicates.transition_across_seeds`. t_star: the median of the seeds' t* (where a seed finds none:
    ``replicates.PHASE2_FALLBACK`` of T), snapped to a checkpoint: every Phase-II statistic starts there.
    seed_t: each seed's own t* snapped (the setting's where its own is not found); series: per seed the
    (t, adjacent S) it was fitted on."""

    seeds: tuple
    per_seed: tuple
    truncation: tuple
    across: replicates.Test
    t_star: int
    seed_t: tuple
    series: tuple


def _too_short(statistic: str, x, s, half: bool = False) -> replicates.Test:
    """The inconclusive answer for a series with fewer points than a transition fit needs."""
    n = int((x <= x[-1] / 2).sum()) if half else len(x)
    return replicates.Test(statistic, (), None, "not fitted", 1, 1.0, "inconclusive",
                           f"{n} adjacent distances{' in the first half of the window' if half else ''}, fewer than "
                           f"the {replicates.MIN_POINTS} a transition fit needs",
                           details={"t_star": None, "t_range": (float(x[0]), float(x[-1]))})


def _snap(t: float, its) -> int:
    return int(min(its, key=lambda c: abs(c - t)))


def _seed_transition(kernels: dict, end: int, dt: int, centered: bool):
    """`replicates.transition_point` of one run's adjacent S (spacing ``dt``, against t + dt) in the
    window ending at ``end``; returns (test, t + dt, S)."""
    k = {t: h for t, h in kernels.items() if t <= end}
    ts, s = adjacent_distances(k, dt, centered)
    s = np.maximum(np.asarray(s), phases.S_RESOLUTION)
    x = np.asarray(ts, dtype=float) + dt
    test = (replicates.transition_point(x, s) if len(x) >= replicates.MIN_POINTS else
            _too_short("likelihood ratio, power law + floor vs power law", x, s))
    return test, x, s


def run_t_star(kernels: dict, end: int, centered: bool = phases.DECIDING_CENTERED) -> int | None:
    """One run's own transition point, by `phase_two`'s rule for a seed (snapped to a checkpoint;
    None where the fit finds none). The pages' Phase II starts at the median over seeds instead."""
    its = [t for t in sorted(kernels) if t <= end]
    dt = min(b - a for a, b in zip(its, its[1:]))
    test = _seed_transition(kernels, end, dt, centered)[0]
    return _snap(test.details["t_star"] - dt, its) if test.verdict == "holds" else None


def phase_two(analysis: ConeAnalysis | SettingResult, end: int | None = None,
              centered: bool = phases.DECIDING_CENTERED) -> PhaseTwo:
    """The transition point of every seed of a cone analysis (or of a setting judged over its seeds,
    in the window ending at ``end``) and Phase II's start (see `PhaseTwo`)."""
    setting = analysis.setting if isinstance(analysis, ConeAnalysis) else analysis
    end = analysis.end if isinstance(analysis, ConeAnalysis) else (end or window_end(setting.page.cfg))
    runs = setting.runs
    its = [t for t in sorted(runs[0].kernels) if t <= end]
    dt = min(b - a for a, b in zip(its, its[1:]))
    per, trunc, series = [], [], []
    for run in runs:
        test, x, s = _seed_transition(run.kernels, end, dt, centered)
        series.append((tuple((x - dt).astype(int).tolist()), tuple(s.tolist())))
        per.append(test)
        trunc.append(replicates.truncation_check(x, s) if (x <= x[-1] / 2).sum() >= replicates.MIN_POINTS else
                     _too_short("t* on [0, T/2] / t* on [0, T]", x, s, half=True))
    across = replicates.transition_across_seeds(per)
    t_star = _snap(across.details["phase2"] - dt, its)
    seed_t = tuple(_snap(r.details["t_star"] - dt, its) if r.verdict == "holds" else t_star for r in per)
    return PhaseTwo(setting.seeds, tuple(per), tuple(trunc), across, t_star, seed_t, tuple(series))


# ---------------------------------------------------------------- the page's sweep jobs (python -m lib sweep cone)

def jobs(page: PageSetup, extra: dict) -> list[list[tuple[str, object, dict]]]:
    """One phase: each of the preset's seeds trained with its kernels."""
    return [[("seed", s, {}) for s in seeds(page)]]


def run_job(page: PageSetup, step: str, value, extra: dict) -> None:
    """Compute one job of `jobs` into the run store."""
    trajectory_kernels(train(page.with_cfg(seed=value).cfg), **page.kernel.kwargs)
