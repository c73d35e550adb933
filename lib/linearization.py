"""The first-order Taylor model of a network, and training it from a stored checkpoint.

``Linearized(model)`` is an ``nn.Module`` computing

    f_lin(x; θ) = f(x; θ_t) + J(x; θ_t) (θ - θ_t)

with one ``torch.func.jvp`` through ``functional_call``: the forward pass at θ_t and the
directional derivative along θ - θ_t. Its trainable parameters are θ (starting at θ_t); θ_t
and the network's buffers are frozen. BatchNorm runs in eval mode with frozen statistics (they
are part of the function being linearized; the papers do not say, so this is our choice): those
the eNTK of θ_t is measured with, so that the linearized model's kernel *is* the measured kernel
(``SwitchConfig.bn``: ``"reestimate"``, re-estimated at θ_t on the kernel's fixed batches
`lib.kernels.bn_batches`; ``"running"``, the running statistics stored with θ_t).

Because it is an ordinary module, the training loop of `lib.training` trains it unchanged:
same optimizer (momentum buffer carried over from the checkpoint), learning-rate schedule,
batch order, augmentation and loss. ``switch_run(cfg, t)`` is θ_std→lin(T; t): standard
training to t (the stored base run), then linearized training to T.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jvp

from . import storage
from .data import load_dataset
from .kernels import bn_batches
from .models import MODELS, build_model, has_batchnorm, reestimate_bn
from .runtime import deterministic
from .training import CONTINUATION_EVERY, Continuation, TrainConfig, continue_run, train


def _key(name: str) -> str:
    return name.replace(".", "__")


class Linearized(nn.Module):
    """f_lin(x; θ) around the current parameters of ``model`` (which is not modified)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        object.__setattr__(self, "_net", model.eval())  # not a submodule: its parameters stay out
        self._names = [n for n, p in model.named_parameters() if p.requires_grad]
        self._buffer_names = [n for n, _ in model.named_buffers()]
        for n, p in model.named_parameters():  # registered in the network's order, so that its
            if p.requires_grad:               # optimizer state (momentum buffers) lines up
                self.register_parameter(f"theta__{_key(n)}", nn.Parameter(p.detach().clone()))
        for n, p in model.named_parameters():
            if p.requires_grad:
                self.register_buffer(f"theta0__{_key(n)}", p.detach().clone())
        for n, b in model.named_buffers():
            self.register_buffer(f"frozen__{_key(n)}", b.detach().clone())

    def train(self, mode: bool = True):
        super().train(mode)
        self._net.eval()  # BatchNorm always uses the frozen statistics of θ_t
        return self

    def theta0(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"theta0__{_key(n)}") for n in self._names}

    def params(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"theta__{_key(n)}") for n in self._names}

    def forward(self, x):
        buffers = {n: getattr(self, f"frozen__{_key(n)}") for n in self._buffer_names}
        theta0, theta = self.theta0(), self.params()
        delta = {n: theta[n] - theta0[n] for n in self._names}

        def f(p):
            return functional_call(self._net, (p, buffers), (x,))

        out, tangent = jvp(f, (theta0,), (delta,))
        return out + tangent


@dataclass(frozen=True)
class SwitchConfig:
    """Standard training of ``base`` to ``t``, then linearized training to T, with a checkpoint
    every ``ckpt_every`` iterations (dense for a kernel series, sparse for an endpoint), and the
    BatchNorm statistics ``bn`` frozen into the linearized model (see the module docstring; for a
    network without BatchNorm the two are the same run, and `switch_config` says ``"running"``)."""

    base: TrainConfig
    t: int
    ckpt_every: int = CONTINUATION_EVERY
    bn: str = "running"

    def __post_init__(self):
        if self.bn not in BN_STATS:
            raise ValueError(f"bn must be one of {list(BN_STATS)}; got {self.bn!r}")


BN_STATS = ("running", "reestimate")


def switch_config(base: TrainConfig, t: int, bn: str = "reestimate", ckpt_every: int = CONTINUATION_EVERY) -> SwitchConfig:
    """The `SwitchConfig` whose linearized model uses the BatchNorm statistics ``bn`` of the
    kernel measured (normalized to ``"running"`` for a network without BatchNorm, so that one run
    has one identity)."""
    if not MODELS[base.arch].batchnorm:
        bn = "running"
    return SwitchConfig(base, t, ckpt_every, bn)


class SwitchRun(Continuation):
    """A stored θ_std→lin(T; t) run: its checkpoints hold the state of the `Linearized` module."""

    def model(self, iteration: int) -> Linearized:
        """The linearized model at ``iteration`` (eval mode)."""
        lin = Linearized(train(self.cfg, self.store, progress=False).model(self.t))
        lin.load_state_dict(self.state_dict(iteration))
        return lin.eval()


def switch_run(scfg: SwitchConfig, store: storage.RunStore | None = None, progress: bool | None = None) -> SwitchRun:
    """Train (or resume, or open) θ_std→lin(T; t) from the stored base run's checkpoint at t."""

    def start(ck):
        cfg = scfg.base
        data = load_dataset(cfg.dataset)
        net = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed)
        net.load_state_dict(ck["model"])
        if scfg.bn == "reestimate" and has_batchnorm(net):
            with deterministic(cfg.threads), torch.no_grad():
                reestimate_bn(net, [b.to(cfg.device) for b in bn_batches(data)])
        lin = Linearized(net)  # starts at θ_t, with the standard run's momentum buffers
        return lin, {"iteration": scfg.t, "model": lin.state_dict(), "optimizer": ck["optimizer"],
                     "metrics": [dict(ck["metrics"][-1])]}

    return continue_run("linear", scfg, scfg.t, start, switch_run, store, progress, what="switch point t",
                        every=scfg.ckpt_every, cls=SwitchRun)
