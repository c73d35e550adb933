"""The counterexample page: the workshop paper's Fig 3, a setting where the kernel keeps moving
(`COUNTEREXAMPLES`), judged over the preset's seeds beside the book's setting, and the page's
sweep jobs."""
from __future__ import annotations

from dataclasses import dataclass

from ..kernels import trajectory_kernels
from ..training import train
from .common import DRIFT_CONTROL, PageSetup, cone_grids, seeds, variant
from .judging import SettingResult, judge_setting

@dataclass(frozen=True)
class Counterexample:
    """The counterexample page's computation: ``default``, the page's setting, and
    ``counterexample``, its variant ``name`` (see ``COUNTEREXAMPLES``), each a `SettingResult` over
    the preset's seeds."""

    name: str
    default: SettingResult
    counterexample: SettingResult

    def settings(self) -> tuple:
        """(label, `SettingResult`) for the default, then the counterexample."""
        return (("default", self.default), ("counterexample", self.counterexample))


def counterexample_analysis(page: PageSetup, name: str = DRIFT_CONTROL, dts=None) -> Counterexample:
    """The page's setting and its counterexample variant ``name``, each judged over the preset's seeds."""
    dts, _ = cone_grids(page, dts)
    seed_list = seeds(page)
    return Counterexample(name, judge_setting(page, seed_list, dts), judge_setting(variant(page, name), seed_list, dts))


# ---------------------------------------------------------------- the page's sweep jobs (python -m lib sweep counterexample)

SWEEP_OPTIONS = {"counterexample": dict(help="mlp (default) or plain")}  # python -m lib sweep's options for this page


def jobs(page: PageSetup, extra: dict) -> list[list[tuple[str, object, dict]]]:
    """One phase: each seed of the book's setting and of the counterexample (``extra``:
    counterexample, its name; ``DRIFT_CONTROL`` by default), trained with its kernels."""
    variant(page, extra.get("counterexample", DRIFT_CONTROL))  # checks the name before anything is submitted
    return [[("seed", s, extra) for s in seeds(page)] + [("variant", s, extra) for s in seeds(page)]]


def run_job(page: PageSetup, step: str, value, extra: dict) -> None:
    """Compute one job of `jobs` into the run store."""
    target = variant(page, extra.get("counterexample", DRIFT_CONTROL)) if step == "variant" else page
    trajectory_kernels(train(target.with_cfg(seed=value).cfg), **page.kernel.kwargs)
