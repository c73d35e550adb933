"""What the book's pages share: presets, parameter checking, and the setting line for captions.

Every page starts with a papermill parameters cell and then calls `setup`,
which checks every parameter (a bad one fails at once, naming the valid
choices) and turns the preset into a `TrainConfig` plus kernel settings.

Presets (``PRESETS``), chosen so each page fits a 2-core CPU:

- ``smoke``: a few hundred iterations and small probe sets; the CI build.
- ``default``: the book as published (LeNet-5 on the embedded MNIST-5k).
- ``full``: longer runs and larger probe sets (tens of minutes a page on 2 cores).

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
    "smoke": dict(steps=200, n_probe=50),
    "default": dict(steps=2000, n_probe=200),
    "full": dict(steps=4000, n_probe=400),
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


def setup(preset: str = "default", arch: str = "lenet5", dataset: str = "mnist5k", width=None, seed: int = 0,
          steps: int | None = None, kernel: str = "sum", n_probe: int | None = None, bn: str = "reestimate",
          **train_overrides) -> PageSetup:
    """Check a page's parameters and build its configuration (``None`` means the preset's value)."""
    check_choice("preset", preset, PRESETS)
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
    fields = dict(ARCH_SETTINGS[arch])
    if width is not None:
        fields["width"] = width
    fields.update(arch=arch, dataset=dataset, seed=seed, steps=steps, milestones=(int(0.75 * steps),))
    unknown = set(train_overrides) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise ValueError(f"unknown training parameter(s) {sorted(unknown)}; valid: "
                         f"{[f.name for f in dataclasses.fields(TrainConfig)]}")
    fields.update(train_overrides)
    cfg = TrainConfig(**fields)
    return PageSetup(preset, cfg, kernel, p["n_probe"] if n_probe is None else n_probe, bn)


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
