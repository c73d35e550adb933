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
