"""What every page shares: the presets (`Preset`), the page parameters (`PageParams`), `setup`
(checks every parameter, a bad one fails at once naming the valid choices, and builds a
`PageSetup`), the one rule that applies an architecture's 2-core settings (`arch_fields`), the
analysis window, the dt/τ grids of the kernel analyses, the training seeds and the setting variants.

Presets (``PRESETS``), chosen so each page fits a 2-core CPU:

- ``smoke``: a few hundred iterations and small probe sets; the CI build.
- ``default``: the book as published (LeNet-5 on Fashion-MNIST, which the repository ships in
  ``data/fashion-mnist``).
- ``full``: longer runs and larger probe sets (tens of minutes a page on 2 cores).
- ``paper``: the papers' scale (ResNet-20 width 16 on CIFAR-10 unless ``arch``/``dataset`` say
  otherwise, 10^4 iterations, 500 probe inputs, 3 seeds). It needs a GPU and refuses to start
  without one unless ``$TWOPHASE_FORCE_PAPER=1``; run it through ``python -m lib sweep``.

``$TWOPHASE_PRESET`` sets the preset of a whole book build.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from .. import phases
from ..checks import check_choice, check_int
from ..data import DATASETS, TEST_SIZES
from ..kernels import KernelSpec, trajectory_kernels
from ..models import MODELS
from ..runtime import arithmetic_text
from ..training import TrainConfig, checkpoint_iterations


@dataclass(frozen=True)
class Preset:
    """How much a page computes. name: the preset's name; steps: T; n_probe: the eNTK's probe
    inputs; seeds: training seeds judged (cone, linear, counterexample, appendix); draws:
    perturbation draws per t0 (chaos); test_draws: draws at the first and the last t0, which the
    chaos test compares (at least ``draws``); dense: the chaos t0 grid is dense up to this fraction of T,
    doubling after; sizes: the perturbation sizes the chaos page compares; ckpt_every: the
    checkpoint spacing (None: the architecture's); every_seed: every architecture gets ``seeds``
    seeds (else the expensive ones, `models.Arch.cheap` False, get one) and the chaos page
    perturbs every training seed (else the page's seed only); paper: the papers' recipe (their
    hyperparameters and learning-rate schedule, ResNet-20 on CIFAR-10 by default, a GPU);
    whole_grid: the appendix computes every setting of its grid (else only the book's own, and
    reads the others from the run store); calibration_reps: surrogate data sets per test in the
    size-and-power table of the cone page."""

    name: str
    steps: int
    n_probe: int
    seeds: int
    draws: int
    test_draws: int
    dense: float
    sizes: tuple[float, ...]
    ckpt_every: int | None = None
    every_seed: bool = False
    paper: bool = False
    whole_grid: bool = False
    calibration_reps: int = 40


PRESETS = {p.name: p for p in (
    # Each chaos branch trains from t0 to T (about 20 s at t0 = 0 on 2 cores for the default). The
    # claims are judged across replicates: the default has 5 training seeds (the cone, linear and
    # counterexample tests) and 10 perturbation draws at the two t0s the chaos test compares (3 at
    # the others, which draw the curve), and 3 sizes (below fp32's resolution of most weights, the
    # papers' 1e-7, and a large one); `full` resolves the chaos transition on a dense grid and the
    # size response on 7 sizes. smoke's checkpoints every 10: enough for the regime's fits.
    Preset("smoke", steps=200, n_probe=50, seeds=1, draws=2, test_draws=2, dense=0.1, sizes=(1e-7, 1e-3),
           ckpt_every=10, calibration_reps=2),
    Preset("default", steps=2000, n_probe=200, seeds=5, draws=3, test_draws=10, dense=0.05, sizes=(1e-9, 1e-7, 1e-3)),
    Preset("full", steps=4000, n_probe=400, seeds=5, draws=5, test_draws=10, dense=0.1,
           sizes=(1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3), every_seed=True, whole_grid=True,
           calibration_reps=200),
    Preset("paper", steps=10_000, n_probe=500, seeds=3, draws=5, test_draws=10, dense=0.1,
           sizes=(1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3), every_seed=True, paper=True,
           calibration_reps=200),
)}
DENSE = PRESETS["full"]  # the preset the chaos page names for a dense t0 grid

# The papers' setting (open_lth's CIFAR-10 recipe): full widths, SGD lr 0.1, momentum 0.9, weight
# decay 1e-4, batch 128, lr x0.1 at epochs 80 and 120 (391 iterations an epoch), i.e. after the
# papers' window t <= 10^4, which runs at lr 0.1 throughout. Per architecture: `models.Arch.paper`.
PAPER_DEFAULTS = dict(arch="resnet20", dataset="cifar10")
# Fashion-MNIST (shipped with the repository): over the default's window LeNet-5 is still fitting its
# training set, as the papers' networks are over theirs (the measurement: benchmarks/regime.py, the intro)
CPU_DEFAULTS = dict(arch="lenet5", dataset="fashion-mnist")
# Below the paper preset a run is evaluated on at most this many test images (the first ones; Fashion-
# MNIST's first 2,000 hold 188-219 of each class): test metrics and loss barriers cost a fifth of the
# whole test set's, and the linear test still pairs 2,000 examples per seed.
CPU_TEST_EXAMPLES = 2000
PAPER_MILESTONES = (80 * 391, 120 * 391)

# Settings where the papers say the two-phase picture breaks (they do not name one; the candidates
# measured for this book are in benchmarks/README.md).
COUNTEREXAMPLES = {
    "plain": dict(augment=False, weight_decay=0.0),  # no augmentation, no weight decay
    "mlp": dict(arch="lenet_300_100"),  # the MLP 300-100
}
DRIFT_CONTROL = "mlp"  # the counterexample page's setting and the cone page's real control: its kernel keeps moving


@dataclass(frozen=True)
class PageSetup:
    """A page's checked parameters: the `Preset`, the training configuration and the `KernelSpec`."""

    preset: Preset
    cfg: TrainConfig
    kernel: KernelSpec

    @property
    def setting(self) -> str:
        """One line naming the run and the kernel, for titles and captions."""
        c, k = self.cfg, self.kernel
        width = "" if c.width is None else f" (width {c.width:g})"
        decay = ", ".join(str(m) for m in c.milestones if m < c.steps)
        return (f"{MODELS[c.arch].name}{width} on {c.dataset}, seed {c.seed}, T = {c.steps}, SGD lr {c.lr:g}"
                f"{f' (x{c.gamma:g} at {decay})' if decay else ''}, momentum {c.momentum:g}, "
                f"weight decay {c.weight_decay:g}, batch {c.batch_size}, "
                f"{'augmentation' if c.augment else 'no augmentation'}; "
                f"eNTK '{k.kind}' on {k.n_probe} probe inputs, BN {self._bn_text()}")

    def arithmetic(self, traj) -> str:
        """How the stored run ``traj`` was computed, for the setting line (see `lib.runtime`)."""
        return f"computed with {arithmetic_text(traj.arithmetic)}"

    def _bn_text(self) -> str:
        return "statistics re-estimated" if self.kernel.bn == "reestimate" else "running statistics"

    def with_cfg(self, **changes) -> PageSetup:
        """The same page with training fields changed (``seed=1``, ...)."""
        return dataclasses.replace(self, cfg=dataclasses.replace(self.cfg, **changes))


@dataclass(frozen=True)
class PageParams:
    """The parameters every page shares, declared once: each page's papermill parameters cell
    (`parameters_cell` writes its lines; a test checks every page against it), `setup`'s
    arguments and the sweep command's options (`lib.sweep`) all come from these fields. ``help``:
    the comment in the parameters cell and the option's help; ``type``: the option's type."""

    preset: str = field(default="default", metadata=dict(help="smoke | default | full | paper", type=str,
                                                         env="TWOPHASE_PRESET"))
    arch: str | None = field(default=None, metadata=dict(help="None: the preset's (lenet5; paper: resnet20)", type=str))
    dataset: str | None = field(default=None, metadata=dict(help="None: the preset's (fashion-mnist; paper: cifar10)",
                                                            type=str))
    width: float | None = field(default=None, metadata=dict(
        help="None: the architecture's default on 2 CPU cores (see lib.models)", type=float))
    seed: int = field(default=0, metadata=dict(help="", type=int))
    steps: int | None = field(default=None, metadata=dict(help="None: the preset's number of iterations", type=int))
    kernel: str = field(default="sum", metadata=dict(help="", type=str))
    n_probe: int | None = field(default=None, metadata=dict(help="None: the preset's probe-set size", type=int))
    bn: str = field(default="reestimate", metadata=dict(help="", type=str))


def parameters_cell() -> list[str]:
    """The shared lines of a page's parameters cell, written from `PageParams` (a page adds its own
    parameters after them)."""
    def literal(v):
        return f'"{v}"' if isinstance(v, str) else repr(v)

    lines = []
    for f in dataclasses.fields(PageParams):
        env = f.metadata.get("env")
        value = f"os.environ.get({literal(env)}, {literal(f.default)})" if env else literal(f.default)
        lines.append(f"{f.name} = {value}" + (f"  # {f.metadata['help']}" if f.metadata["help"] else ""))
    return lines


def arch_fields(arch: str, paper: bool = False) -> dict:
    """The one rule for an architecture's training fields: its name, its default width unless its
    settings name one, and its settings, the papers' recipe (``paper``, `models.Arch.paper`) or
    the 2-core ones (`models.Arch.cpu`). `setup`, `variant` and the appendix's grid apply it."""
    check_choice("arch", arch, MODELS)
    return {"arch": arch, "width": None, **(MODELS[arch].paper if paper else MODELS[arch].cpu)}


def setup(preset: str | Preset = PageParams.preset, for_jobs: bool = False, **kwargs) -> PageSetup:
    """Check a page's parameters and build its configuration (``None`` means the preset's value).

    ``for_jobs``: only the configuration is needed (a sweep's job list, its status), not training
    here, so the ``paper`` preset does not ask for a GPU on this machine; its jobs refuse where they
    start training without one. Every field of `PageParams` may be given (its default otherwise);
    any other keyword is a `TrainConfig` field that overrides the preset's."""
    names = {f.name for f in dataclasses.fields(PageParams)}
    if isinstance(preset, Preset):
        preset = preset.name
    pp = PageParams(preset=preset, **{k: v for k, v in kwargs.items() if k in names})
    train_overrides = {k: v for k, v in kwargs.items() if k not in names}
    check_choice("preset", preset, PRESETS)
    p = PRESETS[preset]
    defaults = PAPER_DEFAULTS if p.paper else CPU_DEFAULTS
    arch = defaults["arch"] if pp.arch is None else pp.arch
    dataset = defaults["dataset"] if pp.dataset is None else pp.dataset
    check_choice("arch", arch, MODELS)
    check_choice("dataset", dataset, DATASETS)
    check_int("steps", pp.steps, 1, optional=True)
    check_int("n_probe", pp.n_probe, 10, optional=True)
    check_int("seed", pp.seed, 0)
    spec = KernelSpec(pp.kernel, p.n_probe if pp.n_probe is None else pp.n_probe, pp.bn)
    fields = arch_fields(arch, paper=p.paper)
    if p.paper:
        fields.update(milestones=PAPER_MILESTONES, device="cuda" if for_jobs else _paper_device())
    else:
        # a constant learning rate over T, as in the papers' window t <= 10^4 (their decays come later):
        # every switch point, reference and t0 then lies in the window the claims are about
        fields["milestones"] = ()
        if p.ckpt_every is not None:
            fields["ckpt_every"] = p.ckpt_every
    if pp.width is not None:
        fields["width"] = pp.width
    fields.update(dataset=dataset, seed=pp.seed, steps=p.steps if pp.steps is None else pp.steps,
                  **eval_fields(dataset, p))
    unknown = set(train_overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training parameter(s) {sorted(unknown)}; valid: "
                         f"{[f.name for f in dataclasses.fields(TrainConfig)]}")
    fields.update(train_overrides)
    return PageSetup(p, TrainConfig(**fields), spec)


def eval_fields(dataset: str, preset: Preset) -> dict:
    """The test examples a run of ``dataset`` is evaluated on under ``preset``: below the paper preset
    the first ``CPU_TEST_EXAMPLES`` where the test set is larger, else all (eval_n None)."""
    small = not preset.paper and TEST_SIZES.get(dataset, 0) > CPU_TEST_EXAMPLES
    return {"eval_n": CPU_TEST_EXAMPLES if small else None}


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


def decay_note(cfg: TrainConfig) -> str:
    """For a figure's caption: the learning-rate decay's mark, or that there is none before T."""
    decays = [m for m in cfg.milestones if m < cfg.steps]
    if not decays:
        return f"The learning rate is constant over T = {cfg.steps} (no decay to mark): the analysis window is the whole run."
    return (f"Dotted: the learning-rate decay (x{cfg.gamma:g} at {', '.join(map(str, decays))}); shaded: after it, "
            "outside the analysis window.")


def window_sentence(cfg: TrainConfig) -> str:
    """Where the analysis window ends and why, in one sentence for a page's prose."""
    end = window_end(cfg)
    if end == cfg.steps:
        return (f"Its learning rate is constant over all T = {cfg.steps} iterations, as in the papers' window "
                f"t ≤ 10^4 (their decays come later), so every number below is measured on the whole run.")
    return (f"Its learning rate is constant up to the decay at {end}, so every number below is measured in the "
            f"window [0, {end}]: the papers' window is at a constant learning rate too, and a decay slows the "
            "kernel for a reason (smaller steps) that has nothing to do with the phases.")


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


def cone_grids(page: PageSetup, dts=None, taus=None) -> tuple[list[int], list[int] | None]:
    """The dt and τ grids of the cone analysis, checked against the checkpoints.

    dts None: 1, 2, 4, 8 checkpoint spacings. taus None: chosen by `lib.phases.regime`, after
    the measured transition at the fractions ``phases.REF_FRACTIONS`` of the Phase-II window
    (the papers' references lie in Phase II); returned as None.
    """
    cfg = page.cfg
    end = window_end(cfg)
    its = [t for t in checkpoint_iterations(cfg) if t <= end]
    longest = end - (phases.MIN_PAIRS - 1) * cfg.ckpt_every  # the largest dt that leaves MIN_PAIRS pairs
    if longest < cfg.ckpt_every:
        raise ValueError(f"steps={cfg.steps} is too short for the cone analysis: its window [0, {end}] holds "
                         f"{len(its)} checkpoints (one every {cfg.ckpt_every} iterations) and the fits need "
                         f"{phases.MIN_PAIRS + 1}; choose steps >= {phases.MIN_PAIRS * cfg.ckpt_every}")
    if dts is None:
        dts = [k * cfg.ckpt_every for k in (1, 2, 4, 8) if 3 * k * cfg.ckpt_every <= end and k * cfg.ckpt_every <= longest]
    dts = check_grid("dts", dts, [t for t in range(cfg.ckpt_every, longest + 1, cfg.ckpt_every)])
    if taus is not None:
        taus = check_grid("taus", taus, its)
    return dts, taus


def seeds(page: PageSetup) -> list[int]:
    """The preset's number of seeds, starting at the page's seed. Architectures that are not
    ``cheap`` (`models.Arch`: ResNet-20, VGG-16) get one seed unless the preset gives every
    architecture its seeds (`Preset.every_seed`): three would not fit a page's 10-minute budget
    on 2 cores."""
    n = page.preset.seeds if MODELS[page.cfg.arch].cheap or page.preset.every_seed else 1
    return list(range(page.cfg.seed, page.cfg.seed + n))


def variant(page: PageSetup, name: str) -> PageSetup:
    """The page's setting changed as the counterexample ``name`` says (see COUNTEREXAMPLES); a new
    architecture brings its own settings (`arch_fields`)."""
    check_choice("counterexample", name, COUNTEREXAMPLES)
    change = dict(COUNTEREXAMPLES[name])
    if "arch" in change:
        change = {**arch_fields(change["arch"], paper=page.preset.paper), **change}
    return page.with_cfg(**change)


def run_kernels(page: PageSetup, traj) -> dict:
    """The page's kernel series of one stored run (every checkpoint, cached)."""
    return trajectory_kernels(traj, **page.kernel.kwargs)


def fit_text(page: PageSetup, t_star: int, seed_list=None) -> str:
    """Where the page's runs are in training (`lib.fit.fit_sentence`): the seeds of ``seed_list``
    (the preset's seeds by default), with Phase II from ``t_star``."""
    from .. import fit
    from ..training import train
    return fit.fit_sentence([train(page.with_cfg(seed=s).cfg) for s in (seed_list or seeds(page))], t_star)
