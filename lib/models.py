"""Models by name, adapting to the dataset's channels, image size and classes.

Registry (``MODELS``: one `Arch` entry per architecture, with its builder, display name and
training settings on 2 CPU cores and at the papers' scale), with what ``width`` means for each:

- ``lenet5``: conv(6)-pool-conv(16)-pool-fc(120)-fc(84)-fc; ``width`` scales the
  channel and unit counts (default 1).
- ``lenet_300_100``: the MLP 784-300-100-10 of open_lth; ``width`` scales the
  hidden units (default 1).
- ``resnet20``: the CIFAR ResNet-20 of He et al. (2016) as in open_lth, three
  stages of three basic blocks, 1x1 conv + BN shortcut where the shape changes;
  ``width`` is the first stage's channel count (default 16, the paper's; 16 gives
  ~0.27M parameters).
- ``vgg16``: 13 conv + BN layers and one linear layer (open_lth's CIFAR VGG-16);
  ``width`` is the first stage's channel count (default 64). Max-pooling is
  skipped once the feature map is 1x1, so 28x28 inputs work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .checks import check_choice


class LeNet5(nn.Module):
    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: float = 1):
        super().__init__()
        c1, c2 = max(1, round(6 * width)), max(1, round(16 * width))
        f1, f2 = max(1, round(120 * width)), max(1, round(84 * width))
        pad = 2 if image_size <= 28 else 0  # the classic LeNet-5 pads 28x28 MNIST to 32x32
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = ((image_size + 2 * pad - 4) // 2 - 4) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, f1), nn.ReLU(),
            nn.Linear(f1, f2), nn.ReLU(), nn.Linear(f2, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MLP(nn.Module):
    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: float = 1):
        super().__init__()
        h1, h2 = max(1, round(300 * width)), max(1, round(100 * width))
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * image_size * image_size, h1), nn.ReLU(),
            nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: int = 16):
        super().__init__()
        w = int(width)
        self.conv = nn.Conv2d(in_channels, w, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(w)
        layers, c_in = [], w
        for stage, c_out in enumerate((w, 2 * w, 4 * w)):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(BasicBlock(c_in, c_out, stride))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x):
        out = self.blocks(torch.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


class VGG16(nn.Module):
    PLAN = [1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"]

    def __init__(self, in_channels: int, image_size: int, num_classes: int, width: int = 64):
        super().__init__()
        layers, c_in, side = [], in_channels, image_size
        for item in self.PLAN:
            if item == "M":
                if side >= 2:
                    layers.append(nn.MaxPool2d(2))
                    side //= 2
                continue
            c_out = int(width) * item
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        out = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(out, 1))


@dataclass(frozen=True)
class Arch:
    """Everything the book knows about one architecture, in one registry entry.

    builder: the module class, called as ``builder(in_channels, image_size, num_classes, width)``;
    default_width: ``width`` None means this (see the module docstring); name: for titles and
    captions; cpu: `lib.training.TrainConfig` fields below the ``paper`` preset (2 CPU cores;
    narrower than the papers' where they say a width); paper: the papers' fields (their
    training recipe, open_lth's); cheap: one run fits a page's budget several times over on 2
    cores, so pages run it with the preset's seeds and its controls below the ``full`` preset;
    batchnorm: the network has BatchNorm layers (whose statistics the kernels re-estimate).
    """

    builder: type
    default_width: float
    name: str
    cpu: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)
    cheap: bool = True
    batchnorm: bool = False


# MNIST's recipe (open_lth, which the papers follow): SGD lr 0.1, no momentum. CIFAR-10's: momentum 0.9.
MODELS = {
    "lenet5": Arch(LeNet5, 1, "LeNet-5"),
    "lenet_300_100": Arch(MLP, 1, "LeNet 300-100"),
    "resnet20": Arch(ResNet20, 16, "ResNet-20", cpu=dict(width=8, momentum=0.9), paper=dict(width=16, momentum=0.9),
                     cheap=False, batchnorm=True),
    "vgg16": Arch(VGG16, 64, "VGG-16", cpu=dict(width=8, momentum=0.9), paper=dict(width=64, momentum=0.9),
                  cheap=False, batchnorm=True),
}


def build_model(arch: str, shape: tuple[int, int, int], num_classes: int, width=None, seed: int = 0) -> nn.Module:
    """A freshly initialised model; the initialisation depends only on ``seed``.

    ``shape`` is one input's (channels, height, width); ``width`` None means the
    architecture's default (see the module docstring).
    """
    check_choice("arch", arch, MODELS)
    cls, default_width = MODELS[arch].builder, MODELS[arch].default_width
    if width is None:
        width = default_width
    if not isinstance(width, (int, float)) or isinstance(width, bool) or width <= 0 or not math.isfinite(width):
        raise ValueError(f"width must be a positive number (None for the default {default_width}); got {width!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(shape[0], shape[1], num_classes, width)


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def reestimate_bn(model: nn.Module, batches) -> nn.Module:
    """Reset BatchNorm running statistics and re-estimate them as the exact mean over ``batches``.

    The model is left in eval mode. Stale running statistics at a high learning
    rate make kernel spikes that look like missing phases; `lib.kernels.trajectory_kernels` re-estimates
    them before each kernel (``bn="reestimate"``).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model.eval()
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for x in batches:
        model(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return model.eval()
