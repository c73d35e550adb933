"""The linear page: the workshop paper's Fig 2. θ_std→lin(T; t), standard training to t then
linearized training to T, for every switch point t (`linear_sweep`), the linear advantage judged
over the preset's seeds, the sentences and table the page shows, and the page's sweep jobs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tqdm import tqdm

from .. import phases
from ..data import load_dataset
from ..linearization import SwitchConfig, switch_config, switch_run
from ..runtime import run_parallel
from ..training import checkpoint_iterations, predict, train
from .common import PageSetup, check_grid, cone_grids, fit_text, seeds, window_end
from .cone import ConeAnalysis, PhaseTwo, cone_analysis, phase_two
from .judging import judge_run

SWITCH_FIRST = 4  # checkpoint spacings to the first switch point after 0 (100 iterations by default): each
# switch point is a linearized run from t to T, and the earliest cost the most (the default's cold build)


def switch_grid(page: PageSetup, switch=None) -> list[int]:
    """The switch points t of θ_std→lin(T; t), inside the constant-learning-rate window (a switch
    after a decay would fold the decay into "the gain after the transition"), and T itself (the
    standard run). None: 0, then ``SWITCH_FIRST`` checkpoint spacings, doubling, up to the window's
    end, and T."""
    cfg = page.cfg
    end = window_end(cfg)
    if switch is None:
        switch, t = [0], SWITCH_FIRST * cfg.ckpt_every
        while t < end:
            switch.append(t)
            t *= 2
        switch.append(cfg.steps)
    return check_grid("switch", switch, [t for t in checkpoint_iterations(cfg) if t <= end or t == cfg.steps])


def _switch_job(scfg: SwitchConfig) -> None:
    switch_run(scfg, progress=False)


def _switch_label(scfg: SwitchConfig) -> str:
    return f"seed {scfg.base.seed}, switch point t = {scfg.t}"


@dataclass(frozen=True)
class LinearSweep:
    """The linear page's computation.

    switch: the switch points of the page's seed (T last: the standard run itself); runs: {t:
    `linearization.SwitchRun`} of the page's seed; final: {t: its last metrics (test_acc,
    test_loss, ...)}; reference: the last metrics of standard training to T; bn: the BatchNorm
    statistics frozen into the linearized model (those of the kernel; "running" without
    BatchNorm); advantage: the `phases.LinearAdvantage` over the preset's seeds, each switched at
    the checkpoint of its own transition point (`cone.PhaseTwo.seed_t`) and at the last switch point
    before T; per_seed: for each seed, the last metrics (test_acc, test_loss, ...) of standard
    training ("standard") and of the runs switched there ("at") and at the last switch point
    ("late"), with the seed, its switch point and "correct": (standard, switched there) 0/1 per
    test example (None without a switch), for the paired test per seed.
    """

    switch: list
    runs: dict
    final: dict
    reference: dict
    bn: str
    advantage: phases.LinearAdvantage
    per_seed: tuple

    def acc(self, t: int) -> float:
        """Test accuracy at T of the page's seed switched at ``t``."""
        return self.final[t]["test_acc"]


def correct_per_example(model, cfg) -> np.ndarray:
    """0/1 per test example (the first ``cfg.eval_n``, as the runs' test metrics): is ``model``'s
    prediction right?"""
    data = load_dataset(cfg.dataset)
    x, y = data.x_test, data.y_test
    if cfg.eval_n is not None:
        x, y = x[:cfg.eval_n], y[:cfg.eval_n]
    return (predict(model, x).argmax(1) == y).numpy().astype(int)


def linear_sweep(page: PageSetup, switch=None, cone: ConeAnalysis | None = None,
                 centered: bool = phases.DECIDING_CENTERED, judged_only: bool = False,
                 phase2: PhaseTwo | None = None) -> LinearSweep:
    """θ_std→lin(T; t) for every switch point of the page's seed, the standard run's endpoint, and the
    linear advantage over the preset's seeds, each switched at its own transition point (``phase2``,
    `cone.phase_two` of ``cone``, the page's `cone_analysis` by default). ``judged_only``: the page's
    seed too is switched only where the verdict looks (its transition point, the last switch point
    before T, and T)."""
    switch = switch_grid(page, switch)
    cone = cone_analysis(page) if cone is None else cone
    phase2 = phase_two(cone, centered=centered) if phase2 is None else phase2
    cfg = page.cfg
    inner = [t for t in switch if t < cfg.steps]
    late = inner[-1] if inner else None

    def sw(c, t):
        return switch_run(switch_config(c, t, bn=page.kernel.bn))

    if judged_only:
        switch = sorted({t for t in (phase2.seed_t[0], late, cfg.steps) if t is not None})
    bn = switch_config(cfg, 0, bn=page.kernel.bn).bn
    # every switched run this sweep reads, trained side by side where the cores allow (the base runs
    # exist: the transition points came from them)
    jobs = {switch_config(cfg, t, bn=bn) for t in switch}
    for s, at in zip(seeds(page), phase2.seed_t):
        c = page.with_cfg(seed=s).cfg
        jobs |= {switch_config(c, t, bn=bn) for t in (at, late) if t is not None and t < cfg.steps}
    run_parallel(_switch_job, sorted(jobs, key=lambda j: (-(j.base.steps - j.t), j.base.seed)),
                 desc="switched runs", threads=cfg.threads, label=_switch_label)
    runs = {t: sw(cfg, t) for t in tqdm(switch, desc="switch points")}
    per = dict(seeds=[], transitions=[], at=[], standard=[], linear_at=[], linear_late=[])
    per_seed = []
    for s, at in zip(seeds(page), phase2.seed_t):
        c = page.with_cfg(seed=s).cfg
        at = at if at < cfg.steps else None

        def final(t, s=s, c=c):
            return (runs[t] if s == cfg.seed and t in runs else sw(c, t)).metrics[-1]
        base_run = train(c)
        standard = base_run.metrics[-1]
        m_at, m_late = (None if at is None else final(at)), (None if late is None else final(late))
        correct = None if at is None else (
            correct_per_example(base_run.model(c.steps), c),
            correct_per_example((runs[at] if s == cfg.seed and at in runs else sw(c, at)).model(c.steps), c))
        per["seeds"].append(s)
        per["transitions"].append(at)
        per["at"].append(at)
        per["standard"].append(standard["test_acc"])
        per["linear_at"].append(None if m_at is None else m_at["test_acc"])
        per["linear_late"].append(None if m_late is None else m_late["test_acc"])
        per_seed.append(dict(seed=s, switch=at, standard=standard, at=m_at, late=m_late, correct=correct))
    n_test = cfg.eval_n or len(load_dataset(cfg.dataset).y_test)
    advantage = phases.linear_advantage(late=late, n_test=n_test, **per)
    base = train(cfg)
    return LinearSweep(switch, runs, {t: r.metrics[-1] for t, r in runs.items()}, base.metrics[-1], bn, advantage,
                       tuple(per_seed))


def bn_sentence(bn: str) -> str:
    """Which BatchNorm statistics the linearized model freezes, in words (`LinearSweep.bn`)."""
    return {"reestimate": "BatchNorm statistics re-estimated at θ_t on the kernel's 8 fixed training batches",
            "running": "the running statistics stored with θ_t (or, for a network without BatchNorm, none)"}[bn]


def linear_endpoints_sentence(sweep: LinearSweep, steps: int) -> str:
    """The page seed's endpoints in one sentence: earliest and latest switch point, standard run."""
    sw = [t for t in sweep.switch if t < steps]
    f, l, r = sweep.final[sw[0]], sweep.final[sw[-1]], sweep.reference
    return (f"Switching to linearized training at t = {sw[0]} ends at a test accuracy of {100 * f['test_acc']:.1f}% "
            f"(test loss {f['test_loss']:.3f}); switching at t = {sw[-1]}, the last switch point before T, at "
            f"{100 * l['test_acc']:.1f}% (loss {l['test_loss']:.3f}); standard training to T = {steps} reaches "
            f"{100 * r['test_acc']:.1f}% (loss {r['test_loss']:.3f}).")


def linear_table(adv: phases.LinearAdvantage):
    """One row per training seed: transition, switch point judged, accuracies and room (a DataFrame)."""
    import pandas as pd

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.2f}%"

    rows = [{"seed": s, "transition point (checkpoint)": "none" if tr is None else tr, "switch at": "n/a" if a is None else a,
             "standard (T)": pct(st), "switched at transition": pct(la),
             "room (points)": "n/a" if la is None else f"{100 * (st - la):.2f}",
             f"switched at t = {adv.late}": pct(ll)}
            for s, tr, a, st, la, ll in zip(adv.seeds, adv.transitions, adv.at, adv.standard, adv.linear_at,
                                             adv.linear_late)]
    return pd.DataFrame(rows).set_index("seed")


# ---------------------------------------------------------------- the page's sweep jobs (python -m lib sweep linear)

SWEEP_OPTIONS = {"switch": dict(type=int, nargs="*", help="switch points")}  # python -m lib sweep's options for this page


def jobs(page: PageSetup, extra: dict) -> list[list[tuple[str, object, dict]]]:
    """The page's work in phases: the standard run and each seed judged (its kernels and noise floor,
    from which its transition point comes), then one linearized run per switch point (``extra``:
    switch, the switch points; the default grid otherwise) and one per seed at its transition point."""
    switch = switch_grid(page, dict(extra).get("switch"))
    return [[("base", None, {})] + [("seed", s, {}) for s in seeds(page)],
            [("switch", t, {}) for t in switch] + [("transition", s, {}) for s in seeds(page)]]


def run_job(page: PageSetup, step: str, value, extra: dict) -> None:
    """Compute one job of `jobs` into the run store."""
    if step == "base":
        train(page.cfg)
    elif step == "seed":
        judged = page.with_cfg(seed=value)
        judge_run(judged, train(judged.cfg), "", cone_grids(page)[0])
    elif step == "transition":
        at = dict(zip(seeds(page), phase_two(cone_analysis(page)).seed_t))[value]
        if at < page.cfg.steps:
            switch_run(switch_config(page.with_cfg(seed=value).cfg, at, bn=page.kernel.bn))
    else:
        switch_run(switch_config(page.cfg, value, bn=page.kernel.bn))


def fit_sentence(page: PageSetup, sweep: LinearSweep) -> str:
    """Where the standard runs are in training (`lib.fit.fit_sentence`, Phase II from the setting's
    t*) and where the runs switched at their transition point end."""
    p2 = phase_two(cone_analysis(page))
    at = [x["at"] for x in sweep.per_seed if x.get("at") is not None and x["at"].get("train_acc") is not None]
    text = "Standard training: " + fit_text(page, p2.t_star)
    if at:
        lo, hi = min(a["train_acc"] for a in at), max(a["train_acc"] for a in at)
        tl, th = min(a["test_acc"] for a in at), max(a["test_acc"] for a in at)
        text += (f"; runs switched at their own transition point end at training accuracy {100 * lo:.1f}–{100 * hi:.1f}% "
                 f"and test accuracy {100 * tl:.1f}–{100 * th:.1f}%")
    return text
