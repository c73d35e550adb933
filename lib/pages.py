"""What the book's pages share: presets, parameter checking, and the setting line for captions.

Every page starts with a papermill parameters cell and then calls `setup`,
which checks every parameter (a bad one fails at once, naming the valid
choices) and turns the preset into a `TrainConfig` plus kernel settings.

Presets (``PRESETS``), chosen so each page fits a 2-core CPU:

- ``smoke``: a few hundred iterations and small probe sets; the CI build.
- ``default``: the book as published (LeNet-5 on the embedded MNIST-5k).
- ``full``: longer runs and larger probe sets (tens of minutes a page on 2 cores).
- ``paper``: the papers' scale (ResNet-20 width 16 on CIFAR-10 unless ``arch``/``dataset`` say
  otherwise, 10^4 iterations, 500 probe inputs, 3 seeds). It needs a GPU and refuses to start
  without one unless ``$TWOPHASE_FORCE_PAPER=1``; run it through ``python -m lib sweep``.

``$TWOPHASE_PRESET`` sets the preset of a whole book build.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from .data import DATASETS, check_choice
from .kernels import BN_CHOICES, check_kind
from .models import MODELS
from .training import TrainConfig

PRESETS = {
    "smoke": dict(steps=200, n_probe=50, seeds=1),
    "default": dict(steps=2000, n_probe=200, seeds=3),
    "full": dict(steps=4000, n_probe=400, seeds=5),
    "paper": dict(steps=10_000, n_probe=500, seeds=3),
}

# The papers' setting (DESIGN.md section 3, open_lth's CIFAR-10 recipe): full widths, SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, batch 128, lr x0.1 at epochs 80 and 120 (391 iterations an
# epoch), i.e. after the papers' window t <= 10^4, which runs at lr 0.1 throughout.
PAPER_DEFAULTS = dict(arch="resnet20", dataset="cifar10")
PAPER_SETTINGS = {
    "resnet20": dict(width=16, momentum=0.9),
    "vgg16": dict(width=64, momentum=0.9),
    "lenet5": {},
    "lenet_300_100": {},
}
PAPER_MILESTONES = (80 * 391, 120 * 391)

# Settings where the papers say the two-phase picture breaks (not named there; DESIGN.md
# section 4 lists the candidates measured for this book).
COUNTEREXAMPLES = {
    "plain": dict(augment=False, weight_decay=0.0),  # no augmentation, no weight decay
    "mlp": dict(arch="lenet_300_100"),  # the MLP 300-100
}

# Settings for the heavier architectures on 2 CPU cores: narrower than the papers' (stated on
# every page that uses them) and SGD with momentum 0.9 as in the papers' CIFAR recipe.
ARCH_SETTINGS = {
    "lenet5": {},
    "lenet_300_100": {},
    "resnet20": dict(width=8, momentum=0.9),
    "vgg16": dict(width=8, momentum=0.9),
}

ARCH_NAMES = {"lenet5": "LeNet-5", "lenet_300_100": "LeNet 300-100", "resnet20": "ResNet-20", "vgg16": "VGG-16"}


def preset_from_env(default: str = "default") -> str:
    return os.environ.get("TWOPHASE_PRESET", default)


@dataclass(frozen=True)
class PageSetup:
    preset: str
    cfg: TrainConfig
    kernel: str
    n_probe: int
    bn: str

    @property
    def setting(self) -> str:
        """One line naming the run and the kernel, for titles and captions."""
        c = self.cfg
        width = "" if c.width is None else f" (width {c.width:g})"
        decay = ", ".join(str(m) for m in c.milestones if m < c.steps)
        return (f"{ARCH_NAMES[c.arch]}{width} on {c.dataset}, seed {c.seed}, T = {c.steps}, SGD lr {c.lr:g}"
                f"{f' (x{c.gamma:g} at {decay})' if decay else ''}, momentum {c.momentum:g}, "
                f"weight decay {c.weight_decay:g}, batch {c.batch_size}, "
                f"{'augmentation' if c.augment else 'no augmentation'}; "
                f"eNTK '{self.kernel}' on {self.n_probe} probe inputs, BN {self._bn_text()}")

    def _bn_text(self) -> str:
        return "statistics re-estimated" if self.bn == "reestimate" else "running statistics"


def _opt_int(name, v, minimum):
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < minimum):
        raise ValueError(f"{name} must be an integer >= {minimum} or None; got {v!r}")


def setup(preset: str = "default", arch: str | None = None, dataset: str | None = None, width=None, seed: int = 0,
          steps: int | None = None, kernel: str = "sum", n_probe: int | None = None, bn: str = "reestimate",
          **train_overrides) -> PageSetup:
    """Check a page's parameters and build its configuration (``None`` means the preset's value)."""
    check_choice("preset", preset, PRESETS)
    paper = preset == "paper"
    arch = (PAPER_DEFAULTS["arch"] if paper else "lenet5") if arch is None else arch
    dataset = (PAPER_DEFAULTS["dataset"] if paper else "mnist5k") if dataset is None else dataset
    check_choice("arch", arch, MODELS)
    check_choice("dataset", dataset, DATASETS)
    check_choice("bn", bn, BN_CHOICES)
    check_kind(kernel)
    _opt_int("steps", steps, 1)
    _opt_int("n_probe", n_probe, 10)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    p = PRESETS[preset]
    steps = p["steps"] if steps is None else steps
    if paper:
        fields = dict(PAPER_SETTINGS[arch], milestones=PAPER_MILESTONES, device=_paper_device())
    else:
        fields = dict(ARCH_SETTINGS[arch], milestones=(int(0.75 * steps),))
    if width is not None:
        fields["width"] = width
    fields.update(arch=arch, dataset=dataset, seed=seed, steps=steps)
    unknown = set(train_overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training parameter(s) {sorted(unknown)}; valid: "
                         f"{[f.name for f in dataclasses.fields(TrainConfig)]}")
    fields.update(train_overrides)
    cfg = TrainConfig(**fields)
    return PageSetup(preset, cfg, kernel, p["n_probe"] if n_probe is None else n_probe, bn)


def _paper_device() -> str:
    """'cuda' where a GPU is visible; else refuse, unless $TWOPHASE_FORCE_PAPER=1 ('cpu')."""
    import torch
    if torch.cuda.is_available():
        return "cuda"
    if os.environ.get("TWOPHASE_FORCE_PAPER") == "1":
        return "cpu"
    raise RuntimeError(
        "preset 'paper' needs a GPU and none is visible: it trains ResNet-20 (width 16) on CIFAR-10 for "
        "10^4 iterations per run and computes eNTKs on 500 inputs at every checkpoint, days of work on a "
        "CPU. Run it where there is a GPU (python -m lib sweep <page> --preset paper --executor slurm "
        "--gpus 1), or set TWOPHASE_FORCE_PAPER=1 to run it here anyway.")


def window_end(cfg: TrainConfig) -> int:
    """End of the constant-learning-rate window: the first decay before T, else T."""
    return min([m for m in cfg.milestones if m < cfg.steps], default=cfg.steps)


def check_grid(name: str, values, allowed) -> list[int]:
    """A non-empty list of integers, each in ``allowed``; else a ValueError naming the parameter."""
    allowed = sorted(set(allowed))
    shown = ", ".join(map(str, allowed[:8])) + (", ..." if len(allowed) > 8 else "")
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if (not isinstance(values, (list, tuple)) or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)):
        raise ValueError(f"{name} must be a non-empty list of integers from {shown}; got {values!r}")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"{name} has values {bad} not among the valid ones ({shown})")
    return sorted(set(values))


def cone_grids(page: PageSetup, dts=None, taus=None) -> tuple[list[int], list[int]]:
    """The dt and τ grids of the cone analysis (None: the defaults), checked against the checkpoints.

    Defaults: dt = 1, 2, 4, 8 checkpoint spacings; τ = the checkpoints nearest to 10%, 25%, 50%
    and 75% of the constant-learning-rate window (the papers use 20-80% of T = 10^4).
    """
    from .training import checkpoint_iterations
    cfg = page.cfg
    end = window_end(cfg)
    its = [t for t in checkpoint_iterations(cfg) if t <= end]
    if dts is None:
        dts = [k * cfg.ckpt_every for k in (1, 2, 4, 8) if 3 * k * cfg.ckpt_every <= end] or [cfg.ckpt_every]
    dts = check_grid("dts", dts, [t for t in range(cfg.ckpt_every, end + 1, cfg.ckpt_every)])
    if taus is None:
        taus = sorted({min(its, key=lambda t: abs(t - f * end)) for f in (0.1, 0.25, 0.5, 0.75)})
    taus = check_grid("taus", taus, its)
    return dts, taus


def chaos_grid(page: PageSetup, t0s=None) -> list[int]:
    """The perturbation times (None: 0, 25, 50, 100, ... doubling, below 80% of T), checked
    against the base run's checkpoints."""
    from .training import checkpoint_iterations
    cfg = page.cfg
    its = checkpoint_iterations(cfg)
    if t0s is None:
        t0s, t = [0], cfg.ckpt_every
        while t < 0.8 * cfg.steps:
            t0s.append(t)
            t *= 2
    return check_grid("t0s", t0s, [t for t in its if t < cfg.steps])


def switch_grid(page: PageSetup, switch=None) -> list[int]:
    """The switch points t of θ_std→lin(T; t) (None: 0, 50, 100, 200, ... doubling, and T),
    checked against the base run's checkpoints."""
    from .training import checkpoint_iterations
    cfg = page.cfg
    if switch is None:
        switch, t = [0], 2 * cfg.ckpt_every
        while t < cfg.steps:
            switch.append(t)
            t *= 2
        switch.append(cfg.steps)
    return check_grid("switch", switch, checkpoint_iterations(cfg))


def seeds(page: PageSetup) -> list[int]:
    """The preset's number of seeds, starting at the page's seed. ResNet-20 and VGG-16 get one
    seed below the ``full`` preset: three would not fit a page's 10-minute budget on 2 cores."""
    n = PRESETS[page.preset]["seeds"]
    if page.cfg.arch in ("resnet20", "vgg16") and page.preset not in ("full", "paper"):
        n = 1
    return list(range(page.cfg.seed, page.cfg.seed + n))


def variant(page: PageSetup, name: str) -> PageSetup:
    """The page's setting changed as the counterexample ``name`` says (see COUNTEREXAMPLES)."""
    check_choice("counterexample", name, COUNTEREXAMPLES)
    change = dict(COUNTEREXAMPLES[name])
    if "arch" in change:  # a new architecture brings its own 2-core settings
        change = {**ARCH_SETTINGS[change["arch"]], "width": None, **change}
    return dataclasses.replace(page, cfg=dataclasses.replace(page.cfg, **change))


def seed_kernels(page: PageSetup, seed_list) -> list[dict]:
    """Train the setting once per seed (cached) and return each run's kernel series."""
    from .kernels import trajectory_kernels
    from .training import train
    out = []
    for s in seed_list:
        traj = train(dataclasses.replace(page.cfg, seed=s))
        out.append(trajectory_kernels(traj, kind=page.kernel, n_probe=page.n_probe, bn=page.bn))
    return out


# ---------------------------------------------------------------- each page's computation
# The pages and the book's summary table call these, so both show the same numbers (every
# step is cached in the run store, so whichever runs second only reads).

def cone_analysis(page: PageSetup, dts=None, taus=None) -> dict:
    """The base run, its kernels, and the cone summaries (raw and centered) in the constant-lr window."""
    from . import phases
    from .kernels import trajectory_kernels
    from .training import train
    dts, taus = cone_grids(page, dts, taus)
    traj = train(page.cfg)
    k = trajectory_kernels(traj, kind=page.kernel, n_probe=page.n_probe, bn=page.bn)
    end = window_end(page.cfg)
    summary = {c: phases.cone_summary(k, dts, taus, window_end=end, centered=c) for c in (False, True)}
    return dict(traj=traj, kernels=k, dts=dts, taus=taus, end=end, summary=summary)


def chaos_sweep(page: PageSetup, t0s=None, size: float = 1e-7, mode: str = "entry", perturbation_seed: int = 0,
                progress: bool | None = None) -> dict:
    """The null control and one perturbed pair per t0, with the transition estimated from the test barrier."""
    from tqdm import tqdm

    from . import perturbation as P
    from .training import train
    t0s = chaos_grid(page, t0s)
    p = P.Perturbation(size=size, mode=mode, seed=perturbation_seed)
    base = train(page.cfg)
    null = P.null_control(base, t0s[0])
    rows = [P.chaos_row(base, t0, p, page.kernel, page.n_probe, page.bn)
            for t0 in tqdm(t0s, desc="perturbed pairs", disable=progress is False)]
    # more perturbation seeds where the budget allows (the `full` preset): a band, not one draw
    extra = [dataclasses.replace(p, seed=perturbation_seed + k) for k in range(1, 3)] if page.preset == "full" else []
    seed_rows = [rows] + [[P.chaos_row(base, t0, q, page.kernel, page.n_probe, page.bn) for t0 in t0s]
                          for q in tqdm(extra, desc="more perturbation seeds", disable=progress is False)]
    b0 = rows[0]["barrier_test"]
    threshold = 0.1 * b0
    barriers = [r["barrier_test"] for r in rows]
    t_chaos = P.chaos_transition(t0s, barriers, threshold) if b0 > 0.01 else None
    return dict(base=base, t0s=t0s, perturbation=p, null=null, rows=rows, seed_rows=seed_rows,
                threshold=threshold, transition=t_chaos)


def linear_sweep(page: PageSetup, switch=None) -> dict:
    """θ_std→lin(T; t) for every switch point, and the standard run's endpoint."""
    from tqdm import tqdm

    from .linearization import SwitchConfig, switch_run
    from .training import train
    switch = switch_grid(page, switch)
    base = train(page.cfg)
    runs = {t: switch_run(SwitchConfig(page.cfg, t)) for t in tqdm(switch, desc="switch points")}
    return dict(switch=switch, runs=runs, final={t: r.metrics[-1] for t, r in runs.items()},
                reference=base.metrics[-1])


def seed_verdict(page: PageSetup, seed_list, dts, taus):
    """(kernel series per seed, `phases.verdict` over them, centered kernels) in the constant-lr window."""
    from . import phases
    series = seed_kernels(page, seed_list)
    return series, phases.verdict(series, dts, taus, window_end=window_end(page.cfg), centered=True)


def counterexample_analysis(page: PageSetup, name: str = "plain", dts=None, taus=None) -> dict:
    """Verdicts over the preset's seeds for the page's setting and its counterexample variant."""
    counter = variant(page, name)
    seed_list = seeds(page)
    dts, taus = cone_grids(page, dts, taus)
    end = window_end(page.cfg)
    settings = {"default": page, "counterexample": counter}
    judged = {n: seed_verdict(p, seed_list, dts, taus) for n, p in settings.items()}
    series = {n: sv[0] for n, sv in judged.items()}
    verdicts = {n: sv[1] for n, sv in judged.items()}
    return dict(settings=settings, seeds=seed_list, dts=dts, taus=taus, end=end, series=series, verdicts=verdicts)
