"""The page "At the papers' scale" (book/paper.md): paper-scale runs computed elsewhere (a GPU),
read from their stored summaries (`lib.summary`) and judged by the default pages' instrument.

`expected` lists the runs the page is for (ResNet-20 width 16 and VGG-16, the papers' recipe,
10^4 iterations, 3 seeds, on each dataset) and the command that computes each; `judge_setting`
rebuilds each seed's kernel series from its S matrix (`summary.kernels_from`) and runs the cone
page's transition fit (`cone.phase_two`) and the tests of `lib.pages.verdicts` on it; `chaos_test`
runs the chaos page's test on the stored barriers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import phases, replicates, summary
from ..kernels import KernelSpec, noise_value
from . import verdicts as V
from .common import PRESETS, PageSetup, cone_grids, setup, window_end
from .cone import PhaseTwo, phase_two
from .judging import RunRegime, SettingResult

ARCHS = ("resnet20", "vgg16")
DATASETS = ("mnist5k", "fashion-mnist", "cifar10")
SEEDS = (0, 1, 2)


def _name(cfg) -> str:
    width = "default width" if cfg.width is None else f"width {cfg.width:g}"
    return f"{cfg.arch} ({width}) on {cfg.dataset}, T = {cfg.steps:,}"


def _key(cfg) -> tuple:
    """A setting: every training field but the seed (momentum, recipe and window included)."""
    import dataclasses

    from .. import storage
    return (cfg.arch, str(cfg.width), cfg.dataset, cfg.steps, storage.config_hash(dataclasses.replace(cfg, seed=0)))


def expected(archs=ARCHS, datasets=DATASETS, seeds=SEEDS) -> list[dict]:
    """The paper-scale runs this page is for: one row per (architecture, dataset) with the
    configuration of the ``paper`` preset and the command that computes its runs and summaries."""
    rows = []
    for arch in archs:
        for ds in datasets:
            page = setup(preset="paper", arch=arch, dataset=ds, for_jobs=True)
            rows.append(dict(page=page, seeds=tuple(seeds), command=(
                f"python -m lib sweep cone --preset paper --arch {arch} --dataset {ds} --summary book/paper_runs"
                + ("  (downloads CIFAR-10 when online)" if ds == "cifar10" else ""))))
    return rows


@dataclass(frozen=True)
class PaperSetting:
    """The stored summaries of one setting (same architecture, width, dataset and T), one per seed."""

    page: PageSetup
    summaries: tuple

    @property
    def seeds(self) -> tuple:
        return tuple(summary.config(s).seed for s in self.summaries)

    @property
    def name(self) -> str:
        return _name(self.page.cfg)


def group(summaries) -> list[PaperSetting]:
    """The summaries grouped by setting, seeds in order."""
    by = {}
    for s in summaries:
        cfg = summary.config(s)
        by.setdefault(_key(cfg), []).append(s)
    out = []
    for key, ss in sorted(by.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        ss = sorted(ss, key=lambda s: summary.config(s).seed)
        cfg = summary.config(ss[0])
        preset = PRESETS["paper"] if cfg.steps >= PRESETS["paper"].steps else PRESETS["smoke"]
        out.append(PaperSetting(PageSetup(preset, cfg, KernelSpec(**ss[0]["meta"]["kernel"])), tuple(ss)))
    return out


def inventory(settings, expected_rows=None) -> list[dict]:
    """One row per expected setting (and per stored one not expected): seeds stored, seeds missing,
    and what would compute the missing ones."""
    expected_rows = expected() if expected_rows is None else expected_rows
    have = {_key(s.page.cfg): s for s in settings}
    rows = []
    for e in expected_rows:
        cfg = e["page"].cfg
        s = have.pop(_key(cfg), None)
        stored = s.seeds if s else ()
        missing = [x for x in e["seeds"] if x not in stored]
        rows.append({"setting": _name(cfg),
                     "seeds stored": ", ".join(map(str, stored)) or "none",
                     "seeds missing": ", ".join(map(str, missing)) or "none",
                     "to compute them": e["command"] if missing else ""})
    for s in have.values():
        rows.append({"setting": s.name + " (not a paper-scale setting)", "seeds stored": ", ".join(map(str, s.seeds)),
                     "seeds missing": "", "to compute them": ""})
    return rows


def _noise(summ: dict, centered: bool) -> float:
    return noise_value(summ["meta"]["noise"]["centered" if centered else "raw"])


@dataclass(frozen=True)
class Judged:
    """One paper-scale setting judged: the `SettingResult` rebuilt from its summaries (centered S in
    the kernels, which decide), Phase II, and the tests (transition, drop, cone, narrow, chaos)."""

    setting: PaperSetting
    result: SettingResult
    phase2: PhaseTwo
    end: int
    tests: dict


def judge_setting(ps: PaperSetting) -> Judged:
    """The default pages' instrument on the stored S: each seed's regime (raw and centered), the
    transition point across seeds, and the protocol's claims (`lib.pages.verdicts`, centered S) that the
    summaries hold data for: the kernel claims always, the linear ones where they hold switched runs,
    the chaos ones where they hold copies; Holm-adjusted over the papers' claims judged (`verdicts.adjust`)."""
    page, end = ps.page, window_end(ps.page.cfg)
    dts = cone_grids(page)[0]
    runs = []
    for s in ps.summaries:
        kc, kr = summary.kernels_from(s, True), summary.kernels_from(s, False)
        regimes = {False: phases.regime(kr, dts, window_end=end, noise=_noise(s, False), centered=False),
                   True: phases.regime(kc, dts, window_end=end, noise=_noise(s, True), centered=True)}
        runs.append(RunRegime(f"seed {summary.config(s).seed}", kc, s["meta"]["noise"]["raw"], regimes[False], regimes[True]))
    result = SettingResult(page, ps.seeds, tuple(runs), phases.setting_regime(r.raw for r in runs),
                           phases.setting_regime(r.centered for r in runs))
    p2 = phase_two(result, end, centered=True)
    tests = {"drop": V.drop(result, p2, True), "transition": V.transition(p2, page.cfg),
             "cone": V.cone(result, p2, end, True)[0], "evolving": V.evolving(result, p2, end, True),
             "narrow": V.narrow(result, p2, end, True)}
    lin = linear_from(ps)
    if lin is not None:
        tests.update(linear_cost=V.linear_cost(lin), linear_trend=V.linear_trend(lin))
    copies = copies_by_seed(ps)
    if copies:
        tests.update(chaos_tests(copies, p2.t_star))
    return Judged(ps, result, p2, end, V.adjust(tests))


def linear_from(ps: PaperSetting):
    """The linear sweep's numbers as `verdicts.linear_cost` / `linear_trend` read them, from the summaries'
    switched runs (None where no summary holds any)."""
    from types import SimpleNamespace
    with_lin = [s for s in ps.summaries if "linear_at" in s]
    if not with_lin:
        return None
    cols = list(summary.LINEAR_AT)
    per, switch, final = [], [], {}
    for s in with_lin:
        row = dict(zip(cols, s["linear_at"][0].tolist()))
        late = None if not np.isfinite(row["late_acc"]) else {"test_acc": row["late_acc"], "test_loss": row["late_loss"]}
        per.append(dict(seed=summary.config(s).seed, switch=int(row["switch"]),
                        standard={"test_acc": row["standard_acc"], "test_loss": row["standard_loss"]},
                        at={"test_acc": row["switched_acc"], "test_loss": row["switched_loss"]}, late=late,
                        correct=(s["linear_correct"][0].astype(int), s["linear_correct"][1].astype(int))))
        if len(s["linear_grid"]) and not switch:
            switch = [int(t) for t in s["linear_grid"][:, 0]]
            final = {int(t): {"test_acc": float(a), "test_loss": float(lo)} for t, a, lo in s["linear_grid"].tolist()}
    if not switch:  # no grid stored: each seed's own points stand for it
        switch = sorted({int(per[0]["switch"]), int(with_lin[0]["linear_at"][0][cols.index("late_switch")]),
                         summary.config(with_lin[0]).steps})
        final = {}
    return SimpleNamespace(per_seed=tuple(per), switch=switch, final=final)


def copies_by_seed(ps: PaperSetting) -> dict:
    """{training seed: rows of `lib.instability.COLUMNS`} of the summaries that hold chaos copies."""
    from ..instability import COLUMNS
    return {summary.config(s).seed: [dict(zip(COLUMNS, r)) for r in s["copies"].tolist()]
            for s in ps.summaries if "copies" in s}


def chaos_tests(copies: dict, t_star: float) -> dict:
    """The protocol's three chaos claims from the copies of several training seeds."""
    from .. import instability as I
    t0s = sorted({int(r["t0"]) for rows in copies.values() for r in rows})
    first, last = t0s[0], t0s[-1]
    rows = {s: [dict(r, t0=int(r["t0"]), kind=int(r["kind"])) for r in rr] for s, rr in copies.items()}
    transition, curve = I.chaos_transition(rows, t0s)
    cone_t = I.chaos_cone(transition, t_star)
    return {"chaos_instability": I.instability_test(rows, first, last),
            "chaos_sensitivity": I.sensitivity_test(rows, first, last),
            "chaos_cone": dataclasses.replace(cone_t, details={**cone_t.details, "curve": curve, "t0s": t0s})}


def protocol_setting(kind: str, summaries=None):
    """The protocol's ``confirmatory`` or ``chaos`` setting judged from its stored summaries: (the `Judged`
    or None, the lines naming every summary left out of it and why). A summary decides only where its seed
    is one of the protocol's seeds for that setting and it was computed under a version of the protocol
    (its content hash is in the change log); others of the same setting are named and left out."""
    from .. import protocol as proto
    from ..instability import anneal_config
    reg = proto.load()["protocol"]
    spec = dict(reg[f"{kind}_setting"])
    seeds = reg[f"{kind}_seeds"]
    page = setup(**spec, for_jobs=True)
    cfg = anneal_config(page.cfg) if kind == "chaos" else page.cfg
    if summaries is None:
        summaries, _ = summary.load_all()
    known = {e["sha256"]: e["version"] for e in proto.load()["changelog"]}
    chosen, left = [], []
    for s in summaries:
        c = summary.config(s)
        if _key(c) != _key(cfg):
            continue
        stamp = s["meta"].get("protocol") or {}
        name = s["path"].name if "path" in s else f"seed {c.seed}"
        if c.seed not in seeds:
            left.append(f"{name}: seed {c.seed} is not one of the protocol's {kind} seeds {seeds} (exploratory)")
        elif stamp.get("sha256") not in known:
            left.append(f"{name}: computed under an unknown protocol (hash {str(stamp.get('sha256'))[:12]})")
        else:
            chosen.append(s)
    if len(chosen) < 2:
        return None, left
    groups = group(chosen)
    return judge_setting(groups[0]), left


def chaos_rows(ps: PaperSetting) -> list[tuple]:
    """(seed, t0, draw, test barrier, disagreement) of every stored chaos branch of the setting."""
    return [(summary.config(s).seed, *row) for s in ps.summaries for row in s["chaos"].tolist()]


def chaos_test(ps: PaperSetting) -> replicates.Test:
    """The chaos page's test on the stored barriers: draws at the first and the last t0 against the
    median barrier between two training seeds."""
    rows = chaos_rows(ps)
    pairs = [p[1] for s in ps.summaries for p in s["pairs"].tolist()]
    if not rows:
        return V.undecided("test barrier", [], "Mann-Whitney U and Fisher's exact", "no chaos branch stored")
    t0s = sorted({r[1] for r in rows})
    early = [r[3] for r in rows if r[1] == t0s[0]]
    late = [r[3] for r in rows if r[1] == t0s[-1]]
    if len(t0s) < 2 or min(len(early), len(late)) < 2 or not pairs or not np.median(pairs) > 0:
        return V.undecided("test barrier", early + late, "Mann-Whitney U and Fisher's exact",
                           "fewer than two draws at two t0s, or no barrier between two training seeds")
    return replicates.chaos_test(early, late, float(np.median(pairs)))
