"""The experiments layer: what the book's pages and its sweeps share. Presets, parameter checking,
grids (dt, τ, t0, switch points, settings), and each page's computation as a function returning a
typed result (`ConeAnalysis`, `ChaosSweep`, `LinearSweep`, `Counterexample`, `Claims`,
`SettingClaims`), with every step cached in the run store.

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

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import perturbation as P
from . import phases, storage
from .checks import check_choice, check_int
from .data import DATASETS, DataUnavailable, load_dataset
from .kernels import (BN_CHOICES, FLOOR_SOURCES, check_kind, kernel_distance, kernel_done, noise_floor,
                      noise_value, trajectory_kernels)
from .linearization import switch_config, switch_run
from .models import MODELS
from .runtime import arithmetic_text, run_parallel
from .training import TrainConfig, Trajectory, checkpoint_iterations, train

PRESETS = {
    # chaos page: draws per t0, the t0 grid's dense part (a fraction of T: every 2 checkpoint spacings
    # up to it, doubling after) and the perturbation sizes compared. Each branch trains from t0 to T
    # (about 20 s at t0 = 0 on 2 cores for the default): the default's 18 branches and 3 sizes (below
    # fp32's resolution of most weights, the papers' 1e-7, and a large one) are what its build budget
    # holds; `full` resolves the chaos transition on a dense grid and the size response on 7 sizes.
    "smoke": dict(steps=200, n_probe=50, seeds=1, ckpt_every=10, draws=2, dense=0.1, sizes=(1e-7, 1e-3)),  # 10: enough checkpoints for the regime's fits
    "default": dict(steps=2000, n_probe=200, seeds=3, draws=3, dense=0.05, sizes=(1e-9, 1e-7, 1e-3)),
    "full": dict(steps=4000, n_probe=400, seeds=5, draws=5, dense=0.1, sizes=(1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)),
    "paper": dict(steps=10_000, n_probe=500, seeds=3, draws=5, dense=0.1, sizes=(1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)),
}

# The papers' setting (open_lth's CIFAR-10 recipe): full widths, SGD lr 0.1, momentum 0.9, weight
# decay 1e-4, batch 128, lr x0.1 at epochs 80 and 120 (391 iterations an epoch), i.e. after the
# papers' window t <= 10^4, which runs at lr 0.1 throughout. Per architecture: `models.Arch.paper`.
PAPER_DEFAULTS = dict(arch="resnet20", dataset="cifar10")
PAPER_MILESTONES = (80 * 391, 120 * 391)

# Settings where the papers say the two-phase picture breaks (not named there; DESIGN.md
# section 4 lists the candidates measured for this book).
COUNTEREXAMPLES = {
    "plain": dict(augment=False, weight_decay=0.0),  # no augmentation, no weight decay
    "mlp": dict(arch="lenet_300_100"),  # the MLP 300-100
}

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
        return (f"{MODELS[c.arch].name}{width} on {c.dataset}, seed {c.seed}, T = {c.steps}, SGD lr {c.lr:g}"
                f"{f' (x{c.gamma:g} at {decay})' if decay else ''}, momentum {c.momentum:g}, "
                f"weight decay {c.weight_decay:g}, batch {c.batch_size}, "
                f"{'augmentation' if c.augment else 'no augmentation'}; "
                f"eNTK '{self.kernel}' on {self.n_probe} probe inputs, BN {self._bn_text()}")

    def arithmetic(self, traj) -> str:
        """How the stored run ``traj`` was computed, for the setting line (see `lib.runtime`)."""
        return f"computed with {arithmetic_text(traj.arithmetic)}"

    def _bn_text(self) -> str:
        return "statistics re-estimated" if self.bn == "reestimate" else "running statistics"


@dataclass(frozen=True)
class PageParams:
    """The parameters every page shares, declared once: each page's papermill parameters cell
    (`parameters_cell` writes its lines; a test checks every page against it), `setup`'s
    arguments and the sweep command's options (`lib.sweep`) all come from these fields. ``help``:
    the comment in the parameters cell and the option's help; ``type``: the option's type."""

    preset: str = field(default="default", metadata=dict(help="smoke | default | full | paper", type=str,
                                                         env="TWOPHASE_PRESET"))
    arch: str | None = field(default=None, metadata=dict(help="None: the preset's (lenet5; paper: resnet20)", type=str))
    dataset: str | None = field(default=None, metadata=dict(help="None: the preset's (mnist5k; paper: cifar10)",
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


def setup(preset: str = PageParams.preset, for_jobs: bool = False, **kwargs) -> PageSetup:
    """Check a page's parameters and build its configuration (``None`` means the preset's value).

    ``for_jobs``: only the configuration is needed (a sweep's job list, its status), not training
    here, so the ``paper`` preset does not ask for a GPU on this machine; its jobs refuse where they
    start training without one. Every field of `PageParams` may be given (its default otherwise);
    any other keyword is a `TrainConfig` field that overrides the preset's."""
    names = {f.name for f in dataclasses.fields(PageParams)}
    pp = PageParams(preset=preset, **{k: v for k, v in kwargs.items() if k in names})
    train_overrides = {k: v for k, v in kwargs.items() if k not in names}
    arch, dataset, width, seed, steps = pp.arch, pp.dataset, pp.width, pp.seed, pp.steps
    kernel, n_probe, bn = pp.kernel, pp.n_probe, pp.bn
    check_choice("preset", preset, PRESETS)
    paper = preset == "paper"
    arch = (PAPER_DEFAULTS["arch"] if paper else "lenet5") if arch is None else arch
    dataset = (PAPER_DEFAULTS["dataset"] if paper else "mnist5k") if dataset is None else dataset
    check_choice("arch", arch, MODELS)
    check_choice("dataset", dataset, DATASETS)
    check_choice("bn", bn, BN_CHOICES)
    check_kind(kernel)
    check_int("steps", steps, 1, optional=True)
    check_int("n_probe", n_probe, 10, optional=True)
    check_int("seed", seed, 0)
    p = PRESETS[preset]
    steps = p["steps"] if steps is None else steps
    if paper:
        fields = dict(MODELS[arch].paper, milestones=PAPER_MILESTONES,
                      device="cuda" if for_jobs else _paper_device())
    else:
        # a constant learning rate over T, as in the papers' window t <= 10^4 (their decays come later):
        # every switch point, reference and t0 then lies in the window the claims are about
        fields = dict(MODELS[arch].cpu, milestones=())
        if "ckpt_every" in p:
            fields["ckpt_every"] = p["ckpt_every"]
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


CHAOS_SPACING = 2  # checkpoint spacings between dense t0s (2 x 25 = 50 iterations by default)
CHAOS_LAST = 0.8  # no t0 at or after this fraction of T (too little training left to diverge)


def chaos_grid(page: PageSetup, t0s=None) -> list[int]:
    """The perturbation times, checked against the base run's checkpoints. None: 0, then every
    ``CHAOS_SPACING`` checkpoint spacings up to the preset's ``dense`` fraction of T, then
    doubling, below ``CHAOS_LAST`` of T (default preset: 0, 50, 100, 200, 400, 800; ``full``:
    every 50 up to 400; each t0 costs a branch per draw)."""
    cfg = page.cfg
    its = checkpoint_iterations(cfg)
    if t0s is None:
        step = CHAOS_SPACING * cfg.ckpt_every
        t0s = list(range(0, max(step, int(PRESETS[page.preset]["dense"] * cfg.steps)) + 1, step))
        t = 2 * t0s[-1]
        while t < CHAOS_LAST * cfg.steps:
            t0s.append(t)
            t *= 2
        t0s = [t for t in t0s if t in its]
    return check_grid("t0s", t0s, [t for t in its if t < cfg.steps])


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


def seeds(page: PageSetup) -> list[int]:
    """The preset's number of seeds, starting at the page's seed. Architectures that are not
    ``cheap`` (`models.Arch`: ResNet-20, VGG-16) get one seed below the ``full`` preset: three would
    not fit a page's 10-minute budget on 2 cores."""
    n = PRESETS[page.preset]["seeds"]
    if not MODELS[page.cfg.arch].cheap and page.preset not in ("full", "paper"):
        n = 1
    return list(range(page.cfg.seed, page.cfg.seed + n))


def chaos_train_seeds(page: PageSetup) -> tuple[int, ...]:
    """The training seeds whose runs the chaos page perturbs: every seed of `seeds` in the ``full``
    and ``paper`` presets, else the page's seed only."""
    return tuple(seeds(page)) if page.preset in ("full", "paper") else (page.cfg.seed,)


def variant(page: PageSetup, name: str) -> PageSetup:
    """The page's setting changed as the counterexample ``name`` says (see COUNTEREXAMPLES)."""
    check_choice("counterexample", name, COUNTEREXAMPLES)
    change = dict(COUNTEREXAMPLES[name])
    if "arch" in change:  # a new architecture brings its own 2-core settings
        change = {**MODELS[change["arch"]].cpu, "width": None, **change}
    return dataclasses.replace(page, cfg=dataclasses.replace(page.cfg, **change))


def run_kernels(page: PageSetup, traj) -> dict:
    """The page's kernel series of one stored run (every checkpoint, cached)."""
    return trajectory_kernels(traj, kind=page.kernel, n_probe=page.n_probe, bn=page.bn)


# ---------------------------------------------------------------- each page's computation
# The pages and the book's summary table call these, so both show the same numbers (every
# step is cached in the run store, so whichever runs second only reads).

def _chaos_job(job) -> None:
    """Worker: one perturbed branch trained and compared with its base run (cached in the store)."""
    cfg, t0, p, kernel, n_probe, bn = job
    P.chaos_row(train(cfg, progress=False), t0, p, kernel, n_probe, bn, progress=False)


def _chaos_label(job) -> str:
    cfg, t0, p = job[:3]
    return f"seed {cfg.seed}, t0 = {t0}, perturbation {p.size:g} draw {p.seed}"


def chaos_rows(page: PageSetup, cfgs, t0s, perturbations, desc: str) -> dict:
    """{(training seed, t0, perturbation): `perturbation.chaos_row`} for every combination, the
    branches trained in parallel worker processes (`lib.runtime.run_parallel`)."""
    jobs = [(c, t0, p, page.kernel, page.n_probe, page.bn) for c in cfgs for p in perturbations for t0 in t0s]
    bases = {c.seed: train(c) for c in cfgs}  # before the workers, which would each train a missing base
    todo = [j for j in jobs if not P.branch_done(P.BranchConfig(j[0], j[1], j[2]), *j[3:])]
    run_parallel(_chaos_job, todo, desc=desc, threads=page.cfg.threads, label=_chaos_label)
    return {(c.seed, t0, p): P.chaos_row(bases[c.seed], t0, p, page.kernel, page.n_probe, page.bn, progress=False)
            for c, t0, p, *_ in jobs}


@dataclass(frozen=True)
class ChaosSweep:
    """The chaos page's computation.

    base: the page's run; t0s: the perturbation times; perturbations: one `perturbation.Perturbation`
    per draw (same size, seeds 0, 1, ...); train_seeds: the training seeds perturbed (one below
    the ``full`` preset); draws: one list of rows per (training seed, draw), each row the
    `perturbation.chaos_row` of one t0; labels: "seed s, draw d" per entry of ``draws``; null: the
    unperturbed restart (`perturbation.NullControl`); seed_pairs: `perturbation.compare_endpoints`
    between the endpoints of two training seeds of the setting (the largest difference SGD
    makes here), with their labels; transition: the `phases.ChaosTransition` of the test barrier.
    """

    base: Trajectory
    t0s: list
    perturbations: tuple
    train_seeds: tuple
    draws: tuple
    labels: tuple
    null: P.NullControl
    seed_pairs: tuple
    pair_labels: tuple
    transition: phases.ChaosTransition

    def values(self, key: str) -> np.ndarray:
        """The metric ``key`` of every draw: an array (draws, t0s)."""
        return np.array([[r[key] for r in rows] for rows in self.draws], dtype=float)

    def reference(self, key: str) -> list[float]:
        """The metric ``key`` between pairs of training seeds."""
        return [r[key] for r in self.seed_pairs]


def chaos_sweep(page: PageSetup, t0s=None, size: float = 1e-7, mode: str = "entry", perturbation_seed: int = 0,
                draws: int | None = None) -> ChaosSweep:
    """The null control, ``draws`` perturbed branches per t0 (the preset's number by default; the
    training seeds of `seeds` in the ``full`` preset, else the page's seed), the seed-pair
    reference, and the chaos transition of the test barrier with its interval."""
    t0s = chaos_grid(page, t0s)
    n = PRESETS[page.preset]["draws"] if draws is None else draws
    check_int("draws", n, 1, optional=True)
    ps = tuple(P.Perturbation(size=size, mode=mode, seed=perturbation_seed + k) for k in range(n))
    train_seeds = chaos_train_seeds(page)
    cfgs = [dataclasses.replace(page.cfg, seed=s) for s in train_seeds]
    rows = chaos_rows(page, cfgs, t0s, ps, desc="perturbed branches")
    base = train(page.cfg)
    null = P.null_control(base, t0s[0], progress=False)
    keys = [(s, p) for s in train_seeds for p in ps]
    draw_rows = tuple([rows[(s, t0, p)] for t0 in t0s] for s, p in keys)
    pair_seeds = seeds(page)
    pairs = [(a, b) for i, a in enumerate(pair_seeds) for b in pair_seeds[i + 1:]]
    ends = {s: train(dataclasses.replace(page.cfg, seed=s)) for s in pair_seeds}
    seed_pairs = tuple(seed_pair(page, ends[a], ends[b]) for a, b in pairs)
    barriers = [[r["barrier_test"] for r in rows_] for rows_ in draw_rows]
    return ChaosSweep(base, t0s, ps, train_seeds, draw_rows, tuple(f"seed {s}, draw {p.seed}" for s, p in keys),
                      null, seed_pairs, tuple(f"seeds {a} and {b}" for a, b in pairs),
                      phases.chaos_transition(t0s, barriers))


def seed_pair(page: PageSetup, a: Trajectory, b: Trajectory) -> P.Comparison:
    """`perturbation.compare_runs` of two runs that differ in their training seed only (cached in the
    first run's folder)."""
    key = f"seedpair_{b.path.name}_{page.kernel.replace(':', '-')}_{page.bn}_n{page.n_probe}.pt"
    return P.cached_comparison(a.store, a.path / key, lambda: P.compare_runs(a, b, page.kernel, page.n_probe, page.bn))


@dataclass(frozen=True)
class SizeSweep:
    """The perturbation size against the response: rows[(t0, size)] is the `perturbation.chaos_row`
    of the first draw; t0s: the first t0 and a late one; sizes: the sizes compared."""

    t0s: tuple
    sizes: tuple
    rows: dict

    def curve(self, t0: int, key: str = "barrier_test") -> list[float]:
        return [self.rows[(t0, s)][key] for s in self.sizes]


def size_sweep(page: PageSetup, t0s, sizes=None, mode: str = "entry", perturbation_seed: int = 0) -> SizeSweep:
    """The response at each t0 of ``t0s`` to each perturbation size (the preset's sizes by default),
    one draw each, the branches trained in parallel."""
    sizes = tuple(PRESETS[page.preset]["sizes"] if sizes is None else sizes)
    ps = [P.Perturbation(size=s, mode=mode, seed=perturbation_seed) for s in sizes]
    rows = chaos_rows(page, [page.cfg], list(t0s), ps, desc="perturbation sizes")
    return SizeSweep(tuple(t0s), sizes, {(t0, p.size): rows[(page.cfg.seed, t0, p)] for p in ps for t0 in t0s})


JUMP_FACTOR = 3.0  # an adjacent S at least this many times its neighbours' median is a kernel jump
JUMP_WINDOW = 4  # checkpoints on each side whose median is the jump's reference
TOP_INPUTS = 0.05  # the share of ||H(t+dt) - H(t)||^2 carried by this fraction of the probe inputs (rows)
OUTLIER_FACTOR = 3.0  # a draw's barrier at least this many times the median of its t0 (and above the threshold)


def _neighbour_ratio(values, i, window=JUMP_WINDOW) -> float:
    """values[i] over the median of the (known) values of ``window`` neighbours on each side."""
    lo = max(0, i - window)
    ref = [v for j, v in enumerate(values[lo:i + window + 1], start=lo) if j != i and v is not None and np.isfinite(v)]
    med = float(np.median(ref)) if ref else float("nan")
    return values[i] / med if med > 0 else float("nan")


@dataclass(frozen=True)
class KernelJumps:
    """Kernel jumps of one run and what comes with them.

    iterations: the checkpoints; loss: the mean training loss of the window ending at each
    checkpoint; norm: ||H(t)||_F; adjacent: S(H(t), H(t + dt)) (centered as the verdict, dt the
    checkpoint spacing) at ``iterations[:-1]``; top_share_typical: the median over all
    checkpoints of the share of ||ΔH||² carried by the top ``TOP_INPUTS`` of probe inputs; jumps:
    one dict per jump (t, S ratio to its neighbours' median, training-loss ratio of the window
    (t, t + dt], kernel-norm ratio H(t + dt) / H(t), top-input share); without: the run's
    `phases.Regime` with the kernels after each jump left out, beside ``with_``, the regime as judged.
    """

    iterations: list
    loss: list
    norm: list
    adjacent: list
    top_share_typical: float
    jumps: list
    with_: phases.Regime
    without: phases.Regime


def _top_share(h1, h2, frac=TOP_INPUTS) -> float:
    rows = ((h2.double() - h1.double()) ** 2).sum(1)
    k = max(1, int(round(frac * len(rows))))
    return float(rows.topk(k).values.sum() / rows.sum())


def kernel_jumps(page: PageSetup, analysis: "ConeAnalysis", centered: bool = phases.DECIDING_CENTERED) -> KernelJumps:
    """Find the jumps of the adjacent kernel distance of the page's run after its change point (at
    least ``JUMP_FACTOR`` times the median of ``JUMP_WINDOW`` checkpoints on each side, and
    ``phases.NOISE_RATIO`` times the instrument's noise floor) and put each beside the training
    loss, the kernel's norm and how concentrated the change is on a few inputs; judge the run again
    without the kernels after the jumps."""
    end = window_end(page.cfg)
    k, traj = analysis.kernels, analysis.traj
    its = [t for t in sorted(k) if t <= page.cfg.steps]
    loss_at = {m["iteration"]: m.get("train_loss") for m in traj.metrics}
    loss = [loss_at.get(t) for t in its]
    norm = [float(k[t].double().norm()) for t in its]
    adj = [kernel_distance(k[a], k[b], centered) for a, b in zip(its, its[1:])]
    shares = [_top_share(k[a], k[b]) for a, b in zip(its, its[1:])]
    r = analysis.run.regime(centered)
    # the fast first phase is not a jump: look after the change point (else after JUMP_WINDOW checkpoints)
    start = r.transition if r.transition is not None else its[min(JUMP_WINDOW, len(its) - 1)]
    jumps = []
    for i in range(len(adj)):
        ratio = _neighbour_ratio(adj, i)
        if its[i] >= start and ratio >= JUMP_FACTOR and adj[i] >= phases.NOISE_RATIO * r.noise:
            li = i + 1
            loss_ratio = _neighbour_ratio(loss, li) if loss[li] is not None else float("nan")
            jumps.append(dict(t=its[i], t_next=its[i + 1], s=adj[i], ratio=ratio, loss_ratio=loss_ratio,
                              norm_ratio=norm[i + 1] / norm[i], top_share=shares[i]))
    drop = {j["t_next"] for j in jumps}
    kept = {t: h for t, h in k.items() if t not in drop}
    taus = [t for t in r.taus if t in kept] or None  # the same references, where they were kept
    without = phases.regime(kept, analysis.dts, window_end=end, noise=r.noise, centered=centered, taus=taus)
    return KernelJumps(its, loss, norm, adj, float(np.median(shares)), jumps, r, without)


def chaos_outliers(sweep: ChaosSweep) -> list[dict]:
    """Draws whose test barrier is at least ``OUTLIER_FACTOR`` times the median of their t0 and above
    the transition's threshold, with the endpoints' test losses (α = 0: the perturbed run, α = 1: the
    base run) and their disagreement."""
    tr, out = sweep.transition, []
    for label, rows in zip(sweep.labels, sweep.draws):
        for i, r in enumerate(rows):
            if r["barrier_test"] >= max(OUTLIER_FACTOR * tr.median[i], tr.threshold) and r["barrier_test"] > 0:
                out.append(dict(t0=r["t0"], draw=label, barrier=r["barrier_test"], median=tr.median[i],
                                loss_perturbed=r["path_test"][0], loss_base=r["path_test"][-1],
                                disagreement=r["disagreement"]))
    return out


@dataclass(frozen=True)
class LinearSweep:
    """The linear page's computation.

    switch: the switch points of the page's seed (T last: the standard run itself); runs: {t:
    `linearization.SwitchRun`} of the page's seed; final: {t: its last metrics (test_acc,
    test_loss, ...)}; reference: the last metrics of standard training to T; bn: the BatchNorm
    statistics frozen into the linearized model (those of the kernel; "running" without
    BatchNorm); advantage: the `phases.LinearAdvantage` over the preset's seeds, each switched at
    the first switch point at or after its own kernel transition and at the last one before T.
    """

    switch: list
    runs: dict
    final: dict
    reference: dict
    bn: str
    advantage: phases.LinearAdvantage

    def acc(self, t: int) -> float:
        """Test accuracy at T of the page's seed switched at ``t``."""
        return self.final[t]["test_acc"]


def linear_sweep(page: PageSetup, switch=None, cone: "ConeAnalysis | None" = None,
                 centered: bool = phases.DECIDING_CENTERED, judged_only: bool = False) -> LinearSweep:
    """θ_std→lin(T; t) for every switch point of the page's seed, the standard run's endpoint, and the
    linear advantage judged over the preset's seeds (their transitions from ``cone``, the page's
    `cone_analysis` by default). ``judged_only``: the page's seed too is switched only where the
    verdict looks (its transition's switch point, the last one before T, and T)."""
    switch = switch_grid(page, switch)
    cone = cone_analysis(page) if cone is None else cone
    cfg = page.cfg
    inner = [t for t in switch if t < cfg.steps]
    late = inner[-1] if inner else None

    def sw(c, t):
        return switch_run(switch_config(c, t, bn=page.bn))

    if judged_only:
        tr = cone.setting.runs[0].regime(centered).transition
        at = next((t for t in inner if tr is not None and t >= tr), None)
        switch = sorted({t for t in (at, late, cfg.steps) if t is not None})
    runs = {t: sw(cfg, t) for t in tqdm(switch, desc="switch points")}
    bn = switch_config(cfg, 0, bn=page.bn).bn
    per = dict(seeds=[], transitions=[], at=[], standard=[], linear_at=[], linear_late=[])
    for s, run in zip(seeds(page), cone.setting.runs):
        c = dataclasses.replace(cfg, seed=s)
        tr = run.regime(centered).transition
        at = next((t for t in inner if tr is not None and t >= tr), None)
        acc = (lambda t: runs[t].metrics[-1]["test_acc"]) if s == cfg.seed else \
            (lambda t: sw(c, t).metrics[-1]["test_acc"])
        per["seeds"].append(s)
        per["transitions"].append(tr)
        per["at"].append(at)
        per["standard"].append(train(c).metrics[-1]["test_acc"])
        per["linear_at"].append(None if at is None else acc(at))
        per["linear_late"].append(None if late is None else acc(late))
    n_test = cfg.eval_n or len(load_dataset(cfg.dataset).y_test)
    advantage = phases.linear_advantage(late=late, n_test=n_test, **per)
    base = train(cfg)
    return LinearSweep(switch, runs, {t: r.metrics[-1] for t, r in runs.items()}, base.metrics[-1], bn, advantage)


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

    rows = [{"seed": s, "kernel transition": "none" if tr is None else tr, "switch at": "n/a" if a is None else a,
             "standard (T)": pct(st), "switched at transition": pct(la),
             "room (points)": "n/a" if la is None else f"{100 * (st - la):.2f}",
             f"switched at t = {adv.late}": pct(ll)}
            for s, tr, a, st, la, ll in zip(adv.seeds, adv.transitions, adv.at, adv.standard, adv.linear_at,
                                             adv.linear_late)]
    return pd.DataFrame(rows).set_index("seed")


# ---------------------------------------------------------------- regimes (lib.phases) of runs and settings

NOISE_CHECKPOINTS = 3  # late checkpoints of the window at which the instrument's noise floor is measured
LAZY_SWITCH_FRACTION = 0.5  # the lazy control switches to linearized training at this fraction of the window
DRIFT_CONTROL = "mlp"  # the real control: the counterexample setting, where the kernel is expected to keep moving


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
    measured on ``noise_run`` (default: the run itself) at ``NOISE_CHECKPOINTS`` late checkpoints."""
    end = window_end(page.cfg)
    k = run_kernels(page, traj) if kernels is None else kernels
    noise_run = noise_run or traj
    late = [t for t in noise_run.iterations if t <= end][-1 - 2 * (NOISE_CHECKPOINTS - 1)::2][:NOISE_CHECKPOINTS]
    kw = dict(kind=page.kernel, n_probe=page.n_probe, bn=page.bn)
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
    pages_ = [dataclasses.replace(page, cfg=dataclasses.replace(page.cfg, seed=s)) for s in seed_list]
    todo = [p for p in pages_ if not _judged(p)]
    if len(todo) > 1:
        run_parallel(_judge_job, [(p, dts, taus) for p in todo], desc=f"seeds of {page.cfg.arch}",
                     threads=page.cfg.threads, label=lambda j: f"seed {j[0].cfg.seed}")
    runs = tuple(judge_run(p, train(p.cfg), f"seed {p.cfg.seed}", dts, taus) for p in pages_)
    return SettingResult(page, tuple(seed_list), runs,
                         phases.setting_regime(r.raw for r in runs), phases.setting_regime(r.centered for r in runs))


def _judged(page: PageSetup) -> bool:
    """Whether the run's last kernel is stored (then judging it costs loads, not training)."""
    return kernel_done(page.cfg, page.cfg.steps, kind=page.kernel, n_probe=page.n_probe, bn=page.bn)


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
    ``cheap`` architectures (`models.Arch`) below the ``full`` preset (a linearized ResNet-20 or VGG-16
    run would not fit the page's 10-minute budget on 2 cores; the default build's cone page shows the
    controls)."""
    if not MODELS[page.cfg.arch].cheap and page.preset not in ("full", "paper"):
        return None
    dts, _ = cone_grids(page, dts)
    end = window_end(page.cfg)
    base = train(page.cfg)
    its = [t for t in base.iterations if t <= end]
    switch = min(its, key=lambda t: abs(t - LAZY_SWITCH_FRACTION * end))
    lin = switch_run(switch_config(page.cfg, switch, bn=page.bn, ckpt_every=page.cfg.ckpt_every))
    base_k = run_kernels(page, base)
    lin_k = trajectory_kernels(lin, [t for t in lin.iterations if t <= end], kind=page.kernel,
                               n_probe=page.n_probe, bn=page.bn)
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


# ---------------------------------------------------------------- the book's claims table (intro page)

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


def _transition_claim(regimes) -> str:
    found = [r.transition is not None for r in regimes]
    return "holds" if all(found) else ("fails" if not any(found) else "inconclusive")


def _interval(r: phases.Regime) -> str:
    i = r.transition_interval
    return "none" if i is None else f"{i[0]}-{i[1]}"


CHAOS_MIN_DRAWS = 3  # perturbation draws below which the chaos claim is inconclusive (one draw flipped across CPUs)


def chaos_claim(sweep: ChaosSweep) -> str:
    """The chaos claim (early perturbations end elsewhere, late ones do not): ``fails`` if the null
    control is not bitwise identical (then nondeterminism, not chaos, is measured) or if no draw
    shows chaos at the first t0 (every barrier below ``phases.CHAOS_MIN_BARRIER``); ``inconclusive`` with fewer than ``CHAOS_MIN_DRAWS`` draws per t0 (one
    draw gave opposite answers on two processors); else judged on the drop of the median barrier
    from the first t0 to the late ones (`phases.ChaosTransition.drop`, 95% interval over the draws):
    ``holds`` if it lies above ``phases.CHAOS_DROP``, ``fails`` if it lies below
    ``phases.CHAOS_NO_DROP``, ``inconclusive`` otherwise. (A threshold crossing on the median alone
    flipped between processors: 3 draws of a heavy-tailed barrier.)"""
    tr = sweep.transition
    # no chaos only if every draw says so: the median alone said "no chaos" with 1 thread and not with 2
    if not sweep.null.identical or tr.hi[0] < phases.CHAOS_MIN_BARRIER:
        return "fails"
    if len(sweep.perturbations) < CHAOS_MIN_DRAWS:
        return "inconclusive"
    if tr.drop.above(phases.CHAOS_DROP):
        return "holds"
    return "fails" if tr.drop.below(phases.CHAOS_NO_DROP) else "inconclusive"


def cone_agreement(page: PageSetup, sweep: ChaosSweep, cone: ConeAnalysis,
                   centered: bool = phases.DECIDING_CENTERED) -> phases.Agreement:
    """The second paper's claim (the cone begins where the chaos ends): the chaos transition's
    interval against the cone transitions of the setting's seeds (`phases.agreement`)."""
    regs = [r.regime(centered) for r in cone.setting.runs]
    spacing = min(b - a for a, b in zip(sweep.t0s, sweep.t0s[1:]))
    return phases.agreement(sweep.transition, [r.transition for r in regs], [r.transition_interval for r in regs],
                            resolution=min(spacing, page.cfg.ckpt_every))


def chaos_texts(page: PageSetup, sweep: ChaosSweep, cone: "ConeAnalysis", agree: phases.Agreement) -> dict[str, str]:
    """The chaos page's numbers and sentences, by the glue name the page uses: the grid, the null
    control, the seed-pair reference, the barrier and disagreement at the first and last t0, the
    transition and the claim's verdict, and the agreement with the cone transitions."""
    cfg, tr, p0 = page.cfg, sweep.transition, sweep.perturbations[0]
    dense_frac = PRESETS[page.preset]["dense"]
    dense = [t for t in sweep.t0s if t <= max(dense_frac * cfg.steps, CHAOS_SPACING * cfg.ckpt_every)]
    pair_b, pair_d = sweep.reference("barrier_test"), sweep.reference("disagreement")
    dis = 100 * sweep.values("disagreement")
    null = sweep.null
    t_chaos = {"transition": f"at $t_0 =$ {tr.transition} (95% interval {tr.interval_text()}, "
                             f"found in {tr.found:.0%} of the bootstrap resamples)",
               "no chaos": "not defined: the median barrier at the first t0 is below the chaos level",
               "no transition": "not found: the median barrier does not stay below the threshold on this grid"}[tr.name]
    peak = int(np.argmax(tr.median))
    vs_seeds = ""
    if pair_b:
        far = tr.median[peak] >= 0.1 * np.median(pair_b)
        vs_seeds = (f"For scale: the largest median barrier on the grid, {tr.median[peak]:.3g} at t0 = "
                    f"{sweep.t0s[peak]}, is {np.median(pair_b) / max(tr.median[peak], 1e-12):.0f} times smaller than "
                    f"the barrier between two training seeds ({np.median(pair_b):.3g}): in this setting a perturbation "
                    + ("can send the run as far as another seed would." if far
                       else "never sends the run as far as another seed would."))

    def seed_transition(r) -> str:
        g = r.regime()
        return "none" if g.transition is None else f"{g.transition} [{g.transition_interval[0]}, {g.transition_interval[1]}]"

    return {
        "ch_size": f"{p0.size:g}", "ch_T": cfg.steps, "ch_draws": len(sweep.perturbations),
        "ch_train_seeds": "the base run" if len(sweep.train_seeds) == 1 else f"each of {len(sweep.train_seeds)} training seeds",
        "ch_spacing": dense[1] - dense[0] if len(dense) > 1 else "(no dense part)",
        "ch_dense": dense[-1], "ch_dense_frac": f"{dense_frac:.0%}", "full_dense": f"{PRESETS['full']['dense']:.0%}",
        "ch_cost": f"{len(sweep.t0s) * len(sweep.perturbations)}", "ch_decay": decay_note(cfg),
        "ch_setting": f"{page.setting}; perturbation {p0.mode} {p0.size:g}; {page.arithmetic(sweep.base)}",
        "null_t0": null.t0,
        "null_identical": "bitwise identical" if null.identical else
        f"NOT identical (largest difference {null.max_abs_diff:.3g}): the sweep below measures nondeterminism",
        "pairs": ", ".join(sweep.pair_labels) or "none (one seed)",
        "pair_barrier": f"{min(pair_b):.3f} to {max(pair_b):.3f}" if pair_b else "n/a",
        "pair_dis": f"{100 * min(pair_d):.1f}% to {100 * max(pair_d):.1f}%" if pair_d else "n/a",
        "b_first": f"{tr.median[0]:.3f} [{tr.lo[0]:.3f}, {tr.hi[0]:.3f}]",
        "b_last": f"{tr.median[-1]:.4f} [{tr.lo[-1]:.4f}, {tr.hi[-1]:.4f}]",
        "t_first": sweep.t0s[0], "t_last": sweep.t0s[-1],
        "dis_first": f"{np.median(dis[:, 0]):.1f}% [{dis[:, 0].min():.1f}, {dis[:, 0].max():.1f}]",
        "dis_last": f"{np.median(dis[:, -1]):.1f}% [{dis[:, -1].min():.1f}, {dis[:, -1].max():.1f}]",
        "chaos_fraction": f"{phases.CHAOS_FRACTION:g}", "chaos_min_barrier": f"{phases.CHAOS_MIN_BARRIER:g}",
        "threshold": f"{tr.threshold:.4f}", "t_chaos": t_chaos, "vs_seeds": vs_seeds,
        "chaos_late": phases.CHAOS_LATE, "chaos_drop": f"{phases.CHAOS_DROP:g}",
        "chaos_no_drop": f"{phases.CHAOS_NO_DROP:g}", "drop": tr.drop.fmt(1), "chaos_verdict": chaos_claim(sweep),
        "agree_verdict": agree.verdict, "agree_reason": agree.reason, "agree_span": f"{phases.AGREE_MAX_SPAN:g}",
        "cone_per_seed": "; ".join(f"{r.label}: {seed_transition(r)}" for r in cone.setting.runs),
    }


def jump_texts(sweep: ChaosSweep, jumps: KernelJumps, outliers: list[dict]) -> dict[str, str]:
    """The chaos page's sentences on outlier draws (`chaos_outliers`) and kernel jumps
    (`kernel_jumps`), by glue name."""
    tr, J = sweep.transition, jumps.jumps
    worse = [o for o in outliers if o["loss_perturbed"] > o["loss_base"]]
    spike = [j for j in J if j["loss_ratio"] >= JUMP_FACTOR]
    after = [t0 for t0 in sweep.t0s if J and t0 < J[0]["t"]]
    return {
        "outlier_factor": f"{OUTLIER_FACTOR:g}", "jump_factor": f"{JUMP_FACTOR:g}", "jump_window": JUMP_WINDOW,
        "top_inputs": f"{TOP_INPUTS:.0%}", "n_outliers": len(outliers),
        "outlier_text": "No draw stands out." if not outliers else
        (f"{len(worse)} of these {len(outliers)} outliers end with a higher test loss than the base run (the "
         "perturbed run settled in a worse place, rather than in an equally good basin separated by a barrier). "
         "The transition is estimated on the median over draws, so a single outlier moves it only when it is "
         "the median."),
        "jump_text": "The adjacent distance has no jump by this definition." if not J else
        (f"It has {len(J)} jump(s), at t = " + ", ".join(str(j["t"]) for j in J) + ". "
         f"{len(spike)} of them coincide with a training-loss spike (the window's loss at least {JUMP_FACTOR:g} "
         "times its neighbours'); the kernel's norm changes by a factor "
         + ", ".join(f"{j['norm_ratio']:.2f}" for j in J) + f" across them; and the top {TOP_INPUTS:.0%} of the "
         "probe inputs carry " + ", ".join(f"{100 * j['top_share']:.0f}%" for j in J)
         + f" of the change ‖ΔH‖² (typically {100 * jumps.top_share_typical:.0f}% between adjacent checkpoints)."),
        "jump_branches": "" if not after else
        (f"The branches from t0 = {after[0]} to {after[-1]} start before the first jump and train through it with "
         f"their own parameters: the median barrier goes from {tr.median[0]:.3g} at t0 = {sweep.t0s[0]} to "
         f"{min(tr.median):.3g} at t0 = {sweep.t0s[int(np.argmin(tr.median))]} and {tr.median[-1]:.3g} at the "
         f"last t0, {sweep.t0s[-1]}."),
        "jump_effect": "" if not J else
        (f"Judged again without the kernels after the jumps, the run's regime is {jumps.without.name} (with them: "
         f"{jumps.with_.name}); the change point is {jumps.without.transition} (with them: "
         f"{jumps.with_.transition})."),
    }


def phase_one_claim(cone: ConeAnalysis, centered: bool = phases.DECIDING_CENTERED) -> str:
    """Phase I then a floor: holds if every seed has a change point, fails if none has."""
    return _transition_claim([r.regime(centered) for r in cone.setting.runs])


def _after_transition(cone, centered, verdict) -> str:
    """Claims about Phase II presuppose a transition in every seed; without one, inconclusive."""
    return verdict if phase_one_claim(cone, centered) == "holds" else "inconclusive"


def floor_claim(cone: ConeAnalysis, centered: bool = phases.DECIDING_CENTERED) -> str:
    """Cone (b), a floor shared by every dt: every seed's floor slope below ``phases.FLOOR_SLOPE_MAX``."""
    return _after_transition(cone, centered, phases.below_threshold(
        [r.regime(centered).floor_slope for r in cone.setting.runs], phases.FLOOR_SLOPE_MAX))


def reference_claim(cone: ConeAnalysis, centered: bool = phases.DECIDING_CENTERED) -> str:
    """Cone (a), S(t, τ) levels off: every seed's growth exponent below ``phases.REF_GROWTH_MAX``."""
    return _after_transition(cone, centered, phases.below_threshold(
        [r.regime(centered).ref_growth_pooled for r in cone.setting.runs], phases.REF_GROWTH_MAX))


def cone_claim(cone: ConeAnalysis, centered: bool = phases.DECIDING_CENTERED) -> str:
    """The cone effect: the regime over the seeds is a cone (`phases.regime_claim`)."""
    return phases.regime_claim(cone.setting.regime(centered))


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
# its 2-core width, SGD momentum 0 and 0.9 (the papers' convolutional nets use 0.9), the embedded
# MNIST-5k and Debian's Fashion-MNIST; everything else is the preset's.
SETTINGS_GRID = tuple(dict(arch=a, width=w, momentum=m, dataset=d)
                      for a, w in (("lenet5", None), ("resnet20", 4), ("resnet20", 8))
                      for m in (0.0, 0.9) for d in ("mnist5k", "fashion-mnist"))
# Settings a preset computes for the appendix: the page's own (computed by the other pages
# anyway); every setting in ``full``. The others are read from the run store where a sweep or
# benchmarks/settings.py computed them. (The default once computed the momentum variant too, 4-5
# minutes on 2 cores: with it a cold default build came within 3 minutes of its 20-minute budget on
# the faster of the two CPU kinds measured.)
GRID_COMPUTED = {"smoke": 1, "default": 1, "full": len(SETTINGS_GRID), "paper": 1}
SETTING_CLAIMS = ("Phase I", "cone (b)", "cone (a)", "cone", "chaos", "chaos = cone", "linear advantage")


def grid_sentence(preset: str) -> str:
    """What the preset computes for the appendix, in words."""
    k = GRID_COMPUTED[preset]
    if k >= len(SETTINGS_GRID):
        return "every setting of the grid, LeNet-5's with their chaos sweeps"
    if k == 1:
        return "the book's own setting, which the other pages compute anyway"
    return ("the book's own setting, then its momentum variant without the chaos sweep (whose branches are the "
            "build's most expensive part)")


def setting_name(s: dict) -> str:
    width = "" if s.get("width") is None else f" (width {s['width']:g})"
    data = {"mnist5k": "MNIST-5k", "fashion-mnist": "Fashion-MNIST"}.get(s["dataset"], s["dataset"])
    return f"{MODELS[s['arch']].name}{width}, momentum {s['momentum']:g}, {data}"


def grid_page(page: PageSetup, s: dict) -> PageSetup:
    """The page's preset and kernel settings in the grid setting ``s``."""
    width = s.get("width") if s.get("width") is not None else (None if s["arch"] != page.cfg.arch else page.cfg.width)
    cfg = dataclasses.replace(page.cfg, **{**MODELS[s["arch"]].cpu, "width": width, "arch": s["arch"],
                                           "dataset": s["dataset"], "momentum": s["momentum"]})
    return dataclasses.replace(page, cfg=cfg)


def grid_settings(page: PageSetup) -> list[tuple[dict, bool]]:
    """(setting, computed here) for the page's own setting first, then the grid: the first
    ``GRID_COMPUTED[preset]`` are computed, the others only read from the run store. The second
    is the page's setting with the other momentum."""
    own = dict(arch=page.cfg.arch, width=None if page.cfg.arch == "lenet5" else page.cfg.width,
               momentum=page.cfg.momentum, dataset=page.cfg.dataset)
    flip = {**own, "momentum": 0.9 if own["momentum"] == 0 else 0.0}
    order = [own] + ([flip] if flip in SETTINGS_GRID else []) + [s for s in SETTINGS_GRID if s not in (own, flip)]
    k = GRID_COMPUTED[page.preset]
    return [(s, i < k) for i, s in enumerate(order)]


@dataclass(frozen=True)
class SettingClaims:
    """One row of the appendix: every claim judged in one setting by the functions the pages use.

    setting: the grid entry; name: it in words; source: "computed", "read from the run store",
    or why it is missing; verdicts: {claim of ``SETTING_CLAIMS``: holds / fails / inconclusive /
    "not run"}; regime: the cone regime over the seeds (centered S); seeds: training seeds judged;
    cone_transitions: each seed's change point; chaos: the `phases.ChaosTransition` (None if not
    run); linear: the `phases.LinearAdvantage` (None if not run).
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
    """Every claim of ``SETTING_CLAIMS`` in the page's setting: the cone over the preset's seeds,
    the linear advantage (switched only where the verdict looks), and the chaos sweep (``chaos``;
    "not run" where it is off or, with ``stored_only``, not stored). ``stored_only``: read the run
    store, train nothing (`lib.storage.stored_only`); a missing run raises `storage.NotStored`."""
    c = phases.DECIDING_CENTERED
    s = dict(arch=page.cfg.arch, width=page.cfg.width, momentum=page.cfg.momentum, dataset=page.cfg.dataset)
    with storage.stored_only() if stored_only else contextlib.nullcontext():
        cone = cone_analysis(page)
        linear = linear_sweep(page, cone=cone, judged_only=True)
        sweep = None
        if chaos:
            try:
                sweep = chaos_sweep(page)
            except storage.NotStored:
                if not stored_only:
                    raise
    verdicts = {"Phase I": phase_one_claim(cone, c), "cone (b)": floor_claim(cone, c),
                "cone (a)": reference_claim(cone, c), "cone": cone_claim(cone, c),
                "chaos": "not run" if sweep is None else chaos_claim(sweep),
                "chaos = cone": "not run" if sweep is None else cone_agreement(page, sweep, cone, c).verdict,
                "linear advantage": linear.advantage.verdict}
    return SettingClaims(s, setting_name(s), "read from the run store" if stored_only else "computed", verdicts,
                         cone.setting.regime(c).name, tuple(seeds(page)),
                         tuple(r.regime(c).transition for r in cone.setting.runs),
                         None if sweep is None else sweep.transition, linear.advantage)


def compare_sentence(own: SettingClaims, other: SettingClaims) -> str:
    """Two settings' kernel and linear verdicts side by side, in one sentence (the intro page)."""
    def part(r):
        if r.regime is None:
            return f"{r.name}: {r.source}"
        room = ("" if r.linear is None or r.linear.room is None
                else f", room at the transition {100 * r.linear.room.value:.1f} points")
        return (f"{r.name}: cone regime {r.regime}, cone claim {r.verdicts['cone']}, linear advantage "
                f"{r.verdicts['linear advantage']}{room}")
    return f"{part(own)}; {part(other)}."


def where_claims_hold(page: PageSetup) -> list[SettingClaims]:
    """The appendix's rows: `setting_claims` for every setting of `grid_settings` (computed, or
    read from the run store; a setting neither computed nor stored, or whose data is not installed,
    says so in ``source``). Chaos is computed for the page's own setting, and in ``full`` for the
    cheap architectures; elsewhere it is read from the store where it is there."""
    rows = []
    for i, (s, computed) in enumerate(grid_settings(page)):
        gp = grid_page(page, s)
        chaos_here = i == 0 or (page.preset == "full" and MODELS[s["arch"]].cheap)
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
    """``row`` (computed without its chaos sweep) with the chaos claims read from the run store,
    where a sweep stored them; else ``row``."""
    try:
        with storage.stored_only():
            sweep, cone = chaos_sweep(page), cone_analysis(page)
    except storage.NotStored:
        return row
    verdicts = {**row.verdicts, "chaos": chaos_claim(sweep), "chaos = cone": cone_agreement(page, sweep, cone).verdict}
    return dataclasses.replace(row, verdicts=verdicts, chaos=sweep.transition)


def claims_table(rows: list[SettingClaims]):
    """The appendix's verdict table (a DataFrame, one row per setting)."""
    import pandas as pd
    return pd.DataFrame([{"setting": r.name, **r.verdicts, "source": r.source} for r in rows]).set_index("setting")


def measures_table(rows: list[SettingClaims]):
    """What the verdicts rest on, per setting (a DataFrame): regime, transitions, room."""
    import pandas as pd

    def chaos(r):
        if r.chaos is None:
            return "not run"
        t = r.chaos
        return (f"{t.transition} [{t.interval_text()}]" if t.transition is not None else t.name) + f"; drop {t.drop.fmt(1)}"

    def room(r):
        a = r.linear
        if a is None or a.room is None:
            return "n/a"
        res = "" if a.resolution is None else f" (spread {100 * a.resolution:.2f})"
        return f"{100 * a.room.value:.2f} [{100 * a.room.lo:.2f}, {100 * a.room.hi:.2f}]{res}"

    return pd.DataFrame([{"setting": r.name, "seeds": len(r.seeds) or "n/a", "cone regime": r.regime or "n/a",
                          "cone transition per seed": " / ".join("none" if t is None else str(t)
                                                                 for t in r.cone_transitions) or "n/a",
                          "chaos transition": chaos(r),
                          "room at the transition (points)": room(r)} for r in rows
                         if r.regime is not None]).set_index("setting")
