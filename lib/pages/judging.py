"""Judging kernel series: one run (`judge_run`, raw and centered S, with the instrument's noise
floor) and a setting over its training seeds (`judge_setting`), by `lib.phases.regime`; the
table of every statistic behind the verdicts (`regime_rows`). The cone, counterexample, linear
and appendix pages all judge through here."""
from __future__ import annotations

from dataclasses import dataclass

from .. import phases
from ..kernels import FLOOR_SOURCES, kernel_done, noise_checkpoints, noise_floor, noise_value
from ..runtime import run_parallel
from ..training import train
from .common import PageSetup, run_kernels, window_end



@dataclass(frozen=True)
class RunRegime:
    """One kernel series judged raw and centered.

    label: what it is ("seed 0", "lazy control", ...); kernels: {iteration: H}; noise: {source: S
    at each of the noise checkpoints} (`lib.kernels.noise_floor`, raw); raw / centered: the
    `phases.Regime` on raw / centered S.
    """

    label: str
    kernels: dict
    noise: dict
    raw: phases.Regime
    centered: phases.Regime

    def regime(self, centered: bool = phases.DECIDING_CENTERED) -> phases.Regime:
        return self.centered if centered else self.raw


def judge_run(page: PageSetup, traj, label: str, dts, taus=None, kernels: dict | None = None,
              noise_run=None) -> RunRegime:
    """The regime of one stored run (raw and centered S) in the page's window, with the noise floor
    measured on ``noise_run`` (default: the run itself) at the late checkpoints of `kernels.noise_checkpoints`."""
    end = window_end(page.cfg)
    k = run_kernels(page, traj) if kernels is None else kernels
    noise_run = noise_run or traj
    late = noise_checkpoints(noise_run.iterations, end)
    kw = page.kernel.kwargs
    noise = {c: noise_floor(noise_run, late, centered=c, **kw) for c in (False, True)}
    regimes = {c: phases.regime(k, dts, window_end=end, noise=noise_value(noise[c]), centered=c, taus=taus)
               for c in (False, True)}
    return RunRegime(label, k, noise[False], regimes[False], regimes[True])


def noise_sentence(run: RunRegime) -> str:
    """The noise sources measured for one run (raw S, the largest over the noise checkpoints), and
    which of them set the floor (`lib.kernels.FLOOR_SOURCES`)."""
    parts = [f"{k} {max(v):.1e}" + ("" if k in FLOOR_SOURCES else " (reported, not in the floor)")
             for k, v in run.noise.items() if v]
    return ("The noise sources measured at the late checkpoints give raw S of " + "; ".join(parts) + "."
            if parts else "No noise source applies to this kernel (the floor is the resolution of S).")


@dataclass(frozen=True)
class SettingResult:
    """A setting judged over its seeds: each seed's `RunRegime`, and `phases.SettingRegime` raw
    and centered (decisive only where the seeds agree)."""

    page: PageSetup
    seeds: tuple[int, ...]
    runs: tuple[RunRegime, ...]
    raw: phases.SettingRegime
    centered: phases.SettingRegime

    def regime(self, centered: bool = phases.DECIDING_CENTERED) -> phases.SettingRegime:
        return self.centered if centered else self.raw


def _judge_job(job) -> None:
    """Worker: one seed trained, its kernels and noise floors computed (all cached in the store)."""
    page, dts, taus = job
    judge_run(page, train(page.cfg, progress=False), "", dts, taus)


def judge_setting(page: PageSetup, seed_list, dts, taus=None) -> SettingResult:
    """Train (cached) and judge the setting once per seed; the seeds' runs and kernels are computed
    in parallel worker processes, the verdicts here from the store."""
    pages_ = [page.with_cfg(seed=s) for s in seed_list]
    todo = [p for p in pages_ if not _judged(p)]
    if len(todo) > 1:
        run_parallel(_judge_job, [(p, dts, taus) for p in todo], desc=f"seeds of {page.cfg.arch}",
                     threads=page.cfg.threads, label=lambda j: f"seed {j[0].cfg.seed}")
    runs = tuple(judge_run(p, train(p.cfg), f"seed {p.cfg.seed}", dts, taus) for p in pages_)
    return SettingResult(page, tuple(seed_list), runs,
                         phases.setting_regime(r.raw for r in runs), phases.setting_regime(r.centered for r in runs))


def _judged(page: PageSetup) -> bool:
    """Whether the run's last kernel is stored (then judging it costs loads, not training)."""
    return kernel_done(page.cfg, page.cfg.steps, **page.kernel.kwargs)


def regime_rows(runs) -> list[dict]:
    """One table row per run and S (raw, centered): the regime and every statistic behind it."""
    rows = []
    for run in runs:
        for c in (False, True):
            r = run.regime(c)
            iv = r.transition_interval
            rows.append({
                "run": run.label, "S": ("centered" if c else "raw") + (" (decides)" if c == phases.DECIDING_CENTERED else ""),
                "regime": r.name,
                "transition [95%]": "none" if iv is None else f"{r.transition} [{iv[0]}, {iv[1]}]",
                "BIC diff": f"{r.dbic:.1f}", "drop": f"{r.drop:.3g}",
                "noise floor": f"{r.noise:.1e}", "late floor / noise": f"{r.noise_ratio.value:.2g}",
                "floor slope [95%]": r.floor_slope.fmt(),
                "reference growth [95%]": "n/a" if r.ref_growth_pooled is None else r.ref_growth_pooled.fmt(),
            })
    return rows
