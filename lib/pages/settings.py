"""The appendix "where the claims hold": every claim judged in each setting of a grid
(`SETTINGS_GRID`: architectures, momentum, datasets) by the functions the pages use, computed
where the preset affords it and read from the run store elsewhere."""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

from .. import fit, phases, storage
from ..data import DataUnavailable
from ..models import MODELS
from . import verdicts as V
from .common import PageSetup, Preset, arch_fields, eval_fields, seeds
from .cone import cone_analysis, phase_two
from .linear import linear_sweep
from ..training import train

# The grid of settings measured (the appendix page; benchmarks/settings.py): each architecture at
# its 2-core width, SGD momentum 0 and 0.9 (the papers' convolutional nets use 0.9), the embedded
# MNIST-5k and Debian's Fashion-MNIST; everything else is the preset's.
SETTINGS_GRID = tuple(dict(arch=a, width=w, momentum=m, dataset=d)
                      for a, w in (("lenet5", None), ("resnet20", 4), ("resnet20", 8))
                      for m in (0.0, 0.9) for d in ("mnist5k", "fashion-mnist"))
# the claims the appendix judges in every setting: the protocol's (protocol/claims.toml) ids; the chaos claims need
# the chaos page's copies, which the grid does not compute
SETTING_CLAIMS = ("drop", "transition", "cone", "evolving", "narrow", "linear_cost", "linear_trend")


def grid_sentence(preset: Preset) -> str:
    """What the preset computes for the appendix, in words (`Preset.whole_grid`)."""
    if preset.whole_grid:
        return "every setting of the grid"
    return "the book's own setting, which the other pages compute anyway"


def _computed(preset: Preset) -> int:
    """How many settings of `grid_settings` the preset computes: the page's own (computed by the other
    pages anyway), or every one (`Preset.whole_grid`); the others are read from the run store where a
    sweep or benchmarks/settings.py computed them."""
    return len(SETTINGS_GRID) if preset.whole_grid else 1


def setting_name(s: dict) -> str:
    width = "" if s.get("width") is None else f" (width {s['width']:g})"
    data = {"mnist5k": "MNIST-5k", "fashion-mnist": "Fashion-MNIST"}.get(s["dataset"], s["dataset"])
    return f"{MODELS[s['arch']].name}{width}, momentum {s['momentum']:g}, {data}"


def grid_page(page: PageSetup, s: dict) -> PageSetup:
    """The page's preset and kernel settings in the grid setting ``s``."""
    width = s.get("width") if s.get("width") is not None else (None if s["arch"] != page.cfg.arch else page.cfg.width)
    return page.with_cfg(**{**arch_fields(s["arch"], paper=page.preset.paper), "width": width,
                             "dataset": s["dataset"], "momentum": s["momentum"],
                             **eval_fields(s["dataset"], page.preset)})


def grid_settings(page: PageSetup) -> list[tuple[dict, bool]]:
    """(setting, computed here) for the page's own setting first, then the grid: the first
    `_computed` are computed, the others only read from the run store. The second
    is the page's setting with the other momentum."""
    own = dict(arch=page.cfg.arch, width=None if page.cfg.arch == "lenet5" else page.cfg.width,
               momentum=page.cfg.momentum, dataset=page.cfg.dataset)
    flip = {**own, "momentum": 0.9 if own["momentum"] == 0 else 0.0}
    order = [own] + ([flip] if flip in SETTINGS_GRID else []) + [s for s in SETTINGS_GRID if s not in (own, flip)]
    k = _computed(page.preset)
    return [(s, i < k) for i, s in enumerate(order)]


@dataclass(frozen=True)
class SettingClaims:
    """One row of the appendix: every claim judged in one setting by the functions the pages use.

    setting: the grid entry; name: it in words; source: "computed", "read from the run store",
    or why it is missing; verdicts: {claim of ``SETTING_CLAIMS``: holds / fails / inconclusive /
    "not run"}, each judged across replicates (`lib.pages.verdicts`, centered S); regime: the
    saturation regime of the kernel's motion over the seeds; seeds: training seeds judged;
    cone_transitions: each seed's transition point (its checkpoint; the setting's t* where the seed has none); chaos: the `phases.ChaosTransition` (None if not
    run); linear: the `phases.LinearAdvantage` (None if not run); fit: where the seeds are in
    training (epochs of the window, training accuracy at t* and at T, `lib.fit`).
    """

    setting: dict
    name: str
    source: str
    verdicts: dict
    regime: str | None = None
    seeds: tuple = ()
    cone_transitions: tuple = ()
    chaos: phases.ChaosTransition | None = None
    linear: phases.LinearAdvantage | None = None
    fit: str = ""

    def summary(self) -> str:
        """The row in one line (benchmarks/settings.py)."""
        if self.regime is None:
            return self.source
        room = "n/a" if self.linear is None or self.linear.room is None else f"{100 * self.linear.room.value:.2f}"
        chaos = "not run" if self.chaos is None else (
            f"{self.chaos.transition} [{self.chaos.interval_text()}], drop {self.chaos.drop.fmt(1)}"
            if self.chaos.transition is not None else f"{self.chaos.name}, drop {self.chaos.drop.fmt(1)}")
        return (f"regime {self.regime}; cone transitions {list(self.cone_transitions)}; chaos {chaos}; room {room} "
                f"points; " + ", ".join(f"{k}: {v}" for k, v in self.verdicts.items()))


def setting_claims(page: PageSetup, chaos: bool = True, stored_only: bool = False) -> SettingClaims:
    """Every claim of ``SETTING_CLAIMS`` in the page's setting: the kernel claims over the preset's seeds and
    the linear advantage (switched only where the verdict looks); ``chaos`` is accepted and ignored (the
    protocol's chaos claims are judged on the chaos page). ``stored_only``: read the run
    store, train nothing (`lib.storage.stored_only`); a missing run raises `storage.NotStored`."""
    c = phases.DECIDING_CENTERED
    s = dict(arch=page.cfg.arch, width=page.cfg.width, momentum=page.cfg.momentum, dataset=page.cfg.dataset)
    with storage.stored_only() if stored_only else contextlib.nullcontext():
        cone = cone_analysis(page)
        p2 = phase_two(cone, centered=c)
        linear = linear_sweep(page, cone=cone, judged_only=True, phase2=p2)
        sweep = None  # the protocol's chaos claims need the chaos page's copies; the grid computes none
    sat = V.cone(cone.setting, p2, cone.end, c)[0]
    tests = V.adjust({"drop": V.drop(cone.setting, p2, c), "transition": V.transition(p2, page.cfg), "cone": sat,
                      "evolving": V.evolving(cone.setting, p2, cone.end, c), "narrow": V.narrow(cone.setting, p2, cone.end, c),
                      "linear_cost": V.linear_cost(linear), "linear_trend": V.linear_trend(linear)})
    verdicts = {k: tests[k].verdict for k in SETTING_CLAIMS}
    return SettingClaims(s, setting_name(s), "read from the run store" if stored_only else "computed", verdicts,
                         sat.details.get("regime", "one seed"), tuple(seeds(page)), p2.seed_t,
                         None if sweep is None else sweep.transition, linear.advantage,
                         fit_summary([train(page.with_cfg(seed=sd).cfg) for sd in seeds(page)], p2.t_star))


def fit_summary(trajs, t_star: int) -> str:
    """Epochs of the window and the seeds' training accuracy at t* and at T, in a table cell."""
    a = [fit.fit_at(t, t_star).train_acc for t in trajs]
    b = [fit.fit_at(t, t.cfg.steps).train_acc for t in trajs]
    span = lambda v: f"{100 * min(v):.1f}" + ("" if len(v) == 1 else f"–{100 * max(v):.1f}")  # noqa: E731
    return f"{fit.epochs(trajs[0].cfg):.1f} epochs; {span(a)}% at t*, {span(b)}% at T"


def compare_sentence(own: SettingClaims, other: SettingClaims) -> str:
    """Two settings' kernel and linear verdicts side by side, in one sentence (the intro page)."""
    def part(r):
        if r.regime is None:
            return f"{r.name}: {r.source}"
        room = ("" if r.linear is None or r.linear.room is None
                else f", room at the transition {100 * r.linear.room.value:.1f} points")
        return (f"{r.name}: cone regime {r.regime}, cone claim {r.verdicts['cone']}, linear advantage "
                f"{r.verdicts['linear_cost']}{room}")
    return f"{part(own)}; {part(other)}."


def where_claims_hold(page: PageSetup) -> list[SettingClaims]:
    """The appendix's rows: `setting_claims` for every setting of `grid_settings` (computed, or
    read from the run store; a setting neither computed nor stored, or whose data is not installed,
    says so in ``source``). Chaos is computed for the page's own setting, and in ``full`` for the
    cheap architectures; elsewhere it is read from the store where it is there."""
    rows = []
    for i, (s, computed) in enumerate(grid_settings(page)):
        gp = grid_page(page, s)
        chaos_here = i == 0 or (page.preset.whole_grid and MODELS[s["arch"]].cheap)
        try:
            if computed:
                row = setting_claims(gp, chaos=chaos_here)
                if not chaos_here:  # the chaos sweep, where a sweep stored it
                    row = where_claims_hold_row(gp, row)
            else:
                row = setting_claims(gp, chaos=True, stored_only=True)
        except storage.NotStored:
            row = SettingClaims(s, setting_name(s), "not computed in this preset, not in the run store",
                                {k: "not run" for k in SETTING_CLAIMS})
        except DataUnavailable:
            row = SettingClaims(s, setting_name(s), f"dataset {s['dataset']!r} not installed",
                                {k: "not run" for k in SETTING_CLAIMS})
        rows.append(row)
    return rows


def where_claims_hold_row(page: PageSetup, row: SettingClaims) -> SettingClaims:
    """``row`` as computed: the appendix judges no chaos claim (the chaos page's copies are not computed for the
    grid; the protocol's chaos claims are judged on the chaos page)."""
    return row


def claims_table(rows: list[SettingClaims]):
    """The appendix's verdict table (a DataFrame, one row per setting)."""
    import pandas as pd
    from .. import protocol
    names = {c["id"]: c["name"] for c in protocol.claims()}
    return pd.DataFrame([{"setting": r.name, **{names[k]: v for k, v in r.verdicts.items()}, "source": r.source}
                         for r in rows]).set_index("setting")


def measures_table(rows: list[SettingClaims]):
    """What the verdicts rest on, per setting (a DataFrame): regime, transitions, room."""
    import pandas as pd

    def room(r):
        a = r.linear
        if a is None or a.room is None:
            return "n/a"
        res = "" if a.resolution is None else f" (spread {100 * a.resolution:.2f})"
        return f"{100 * a.room.value:.2f} [{100 * a.room.lo:.2f}, {100 * a.room.hi:.2f}]{res}"

    return pd.DataFrame([{"setting": r.name, "seeds": len(r.seeds) or "n/a", "cone regime": r.regime or "n/a",
                          "cone transition per seed": " / ".join("none" if t is None else str(t)
                                                                 for t in r.cone_transitions) or "n/a",
                          "room at the transition (points)": room(r),
                          "training (epochs; train acc)": r.fit or "n/a"} for r in rows
                         if r.regime is not None]).set_index("setting")


def campaign_params() -> list[tuple[str, dict]]:
    """(name, page parameters and training overrides) of every setting of the grid at the default preset, for
    ``python -m lib campaign settings`` (`lib.campaign`): the runs and kernels the appendix reads."""
    out = []
    for s in SETTINGS_GRID:
        params = dict(preset="default", arch=s["arch"], dataset=s["dataset"], momentum=s["momentum"])
        if s.get("width") is not None:
            params["width"] = s["width"]
        out.append((setting_name(s), params))
    return out
