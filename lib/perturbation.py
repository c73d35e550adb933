"""Tiny parameter perturbations, branched runs, and the metrics that compare two endpoints.

``run_branch(BranchConfig(cfg, t0, perturbation))`` restarts the stored run ``cfg`` from its checkpoint at
``t0`` (parameters, buffers and optimizer state), optionally perturbs the trainable
parameters, and trains to T with the same batch order, augmentation and thread count. With
no perturbation it must end bitwise equal to the base run (the null control: anything else is
nondeterminism, not chaos).

fp32 pitfall: a perturbation smaller than half the spacing of fp32 numbers near a parameter
rounds away. A Gaussian of total L2 norm 1e-7 over ~60k parameters changes only a minority of
the entries; `perturb` counts the entries that actually changed and warns when most did not.
"""
from __future__ import annotations

import dataclasses

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from . import storage
from .checks import check_choice
from .data import load_dataset
from .models import build_model, has_batchnorm, reestimate_bn
from .kernels import KernelSpec, bn_batches, kernel_distance, trajectory_kernels
from .runtime import deterministic, timing
from .training import Continuation, TrainConfig, Trajectory, continue_run, evaluate, predict

MODES = ("entry", "l2")
PAPERS_SIZE = 1e-7  # 'an imperceptibly small parameter perturbation': 1e-7 per entry (protocol/claims.toml)


@dataclass(frozen=True)
class Perturbation:
    """A Gaussian perturbation of every trainable parameter.

    ``mode="entry"``: each entry gets N(0, size^2); ``mode="l2"``: the whole vector has L2 norm
    ``size``. ``seed`` draws the noise.
    """

    size: float = 1e-7
    mode: str = "entry"
    seed: int = 0

    def __post_init__(self):
        check_choice("perturbation mode", self.mode, MODES)
        if not isinstance(self.size, (int, float)) or isinstance(self.size, bool) or not self.size > 0 \
                or self.size == float("inf"):
            raise ValueError(f"perturbation size must be a finite number > 0; got {self.size!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"perturbation seed must be an integer >= 0; got {self.seed!r}")


def perturb(params: dict[str, torch.Tensor], p: Perturbation) -> tuple[dict[str, torch.Tensor], dict]:
    """New tensors ``params + noise`` and a report: entries changed, total, fraction, noise norm."""
    g = torch.Generator().manual_seed(p.seed)
    noise = {k: torch.randn(v.shape, generator=g, dtype=torch.float64) for k, v in params.items()}
    if p.mode == "l2":
        norm = torch.sqrt(sum((n ** 2).sum() for n in noise.values()))
        noise = {k: n * (p.size / norm) for k, n in noise.items()}
    else:
        noise = {k: n * p.size for k, n in noise.items()}
    out = {k: (v.double() + noise[k]).to(v.dtype) for k, v in params.items()}
    changed = sum(int((out[k] != params[k]).sum()) for k in params)
    total = sum(v.numel() for v in params.values())
    applied = torch.sqrt(sum(((out[k].double() - params[k].double()) ** 2).sum() for k in params)).item()
    report = dict(changed=changed, total=total, fraction=changed / total, applied_norm=applied)
    if changed < total / 2:
        warnings.warn(f"perturbation {p}: only {changed} of {total} entries ({100 * changed / total:.1f}%) "
                      "changed in fp32; the rest rounded away (use a larger size"
                      + (" or mode='entry'" if p.mode == "l2" else "") + ")",
                      stacklevel=2)
    return out, report


@dataclass(frozen=True)
class BranchConfig:
    """A run restarted from ``base`` at ``t0``, perturbed by ``perturbation`` (None: the null twin, or with
    ``data_seed`` an SGD-noise copy that takes another batch order and augmentation from ``t0`` on)."""

    base: TrainConfig
    t0: int
    perturbation: Perturbation | None = None
    # an SGD-noise copy (Frankle et al.): the batch order and augmentation of this seed instead of the
    # base run's (None: the base run's, so that only the perturbation differs)
    data_seed: int | None = None


def run_branch(bcfg: BranchConfig, store: storage.RunStore | None = None, progress: bool | None = None) -> Continuation:
    """Train (or resume, or open) a branch; returns it. The base run is trained first if needed."""

    def start(ck):
        data = load_dataset(bcfg.base.dataset)
        model = build_model(bcfg.base.arch, data.shape, data.num_classes, bcfg.base.width, bcfg.base.seed)
        state, report = dict(ck["model"]), None
        if bcfg.perturbation is not None:
            names = [n for n, p in model.named_parameters() if p.requires_grad]
            new, report = perturb({k: state[k] for k in names}, bcfg.perturbation)
            state.update(new)
        return model, {"iteration": bcfg.t0, "model": state, "optimizer": ck["optimizer"],
                       "metrics": [dict(ck["metrics"][-1], perturbation=report)]}

    return continue_run("branch", bcfg, bcfg.t0, start, run_branch, store, progress, what="t0",
                        batch_seed=bcfg.data_seed)


def perturbation_report(br: Continuation) -> dict | None:
    """What the perturbation changed (entries changed, total, fraction, applied norm)."""
    return br.checkpoint(br.t)["metrics"][-1].get("perturbation")


# ---------------------------------------------------------------- comparing two endpoints

def _flat(state: dict, names) -> torch.Tensor:
    return torch.cat([state[k].double().flatten() for k in names])


def param_dissimilarity(a: dict, b: dict, names) -> float:
    """1 - |<θ, θ'>| / (||θ|| ||θ'||) over the trainable parameters."""
    x, y = _flat(a, names), _flat(b, names)
    return float(1 - (x @ y).abs() / (x.norm() * y.norm()))


def relative_distance(a: dict, b: dict, names) -> float:
    """||θ - θ'|| / ||θ||."""
    x, y = _flat(a, names), _flat(b, names)
    return float((x - y).norm() / x.norm())


def states_equal(a: dict, b: dict) -> bool:
    """Bitwise equality of two state dicts."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def disagreement(model_a: nn.Module, model_b: nn.Module, x) -> float:
    """Fraction of inputs on which the two models' argmax predictions differ (eval mode)."""
    return (predict(model_a, x).argmax(1) != predict(model_b, x).argmax(1)).float().mean().item()


def interpolate(a: dict, b: dict, alpha: float) -> dict:
    """alpha * a + (1 - alpha) * b for floating tensors; integer buffers (BN counters) from a."""
    # torch.lerp is exact at both ends and when a == b
    return {k: torch.lerp(b[k], a[k], alpha) if a[k].is_floating_point() else a[k].clone() for k in a}


def linear_path(model: nn.Module, a: dict, b: dict, x, y, n_points: int = 11, bn_batches=None):
    """Loss and accuracy along αθ + (1-α)θ' for α on an even grid of ``n_points`` in [0, 1].

    BatchNorm: the running statistics are interpolated too and, if ``bn_batches`` is given,
    re-estimated on those batches at every point (interpolated weights do not match
    interpolated statistics). Returns (alphas, losses, accuracies).
    """
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2; got {n_points!r}")
    alphas = torch.linspace(0, 1, n_points).tolist()
    losses, accs = [], []
    for alpha in alphas:
        model.load_state_dict(interpolate(a, b, alpha))
        if bn_batches is not None and has_batchnorm(model):
            reestimate_bn(model, bn_batches)
        loss, acc = evaluate(model, x, y)
        losses.append(loss)
        accs.append(acc)
    return alphas, losses, accs


def loss_barrier(alphas, losses) -> float:
    """max_α L(αθ + (1-α)θ') - [α L(θ) + (1-α) L(θ')] (the path starts at θ' and ends at θ)."""
    l_b, l_a = losses[0], losses[-1]  # α = 0 is θ', α = 1 is θ
    return max(l - (al * l_a + (1 - al) * l_b) for al, l in zip(alphas, losses))


@dataclass(frozen=True)
class Comparison:
    """Every chaos metric between two end states θ' (α = 0) and θ (α = 1) of one architecture.

    dissimilarity: `param_dissimilarity`; rel_distance: `relative_distance`; barrier_train /
    barrier_test: the loss barrier along (1 - α)θ' + αθ on the training subset / the test set;
    disagreement: the share of test inputs the two classify differently; alphas: the α grid;
    path_train / path_test: the loss at each α; path_test_acc: the test accuracy at each α;
    kernel_distance: S between the two endpoints' eNTKs (None where not measured).
    ``row["name"]`` reads a field too (tables index rows by metric name).
    """

    dissimilarity: float
    rel_distance: float
    barrier_train: float
    barrier_test: float
    disagreement: float
    alphas: list
    path_train: list
    path_test: list
    path_test_acc: list
    kernel_distance: float | None = None

    def __getitem__(self, key: str):
        return getattr(self, key)

    def as_data(self) -> dict:
        """Plain data for the run store (its entries are data, never classes)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ChaosRow(Comparison):
    """A `Comparison` of a perturbed branch's endpoint with its base run's, with the branch's
    perturbation time ``t0`` and ``perturbation`` (`perturbation_report`: what it changed)."""

    t0: int = 0
    perturbation: dict = field(default_factory=dict)


@timing("endpoint comparison (loss barriers)")
def compare_endpoints(cfg: TrainConfig, a: dict, b: dict, n_points: int = 11, n_train: int = 1000) -> Comparison:
    """Every chaos metric between two end states of the same architecture.

    Barrier on the first ``n_train`` training examples (fixed, unaugmented) and on the run's test
    examples (the first ``cfg.eval_n``, all if None); BN statistics re-estimated at each interpolation point on 8 fixed training batches.
    """
    data = load_dataset(cfg.dataset)
    model = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    bn = bn_batches(data)
    xt, yt = data.x_train[:n_train], data.y_train[:n_train]
    x_test, y_test = data.x_test[:cfg.eval_n], data.y_test[:cfg.eval_n]  # the run's test examples (None: all)
    with deterministic(cfg.threads):
        al, train_path, _ = linear_path(model, a, b, xt, yt, n_points, bn)
        _, test_path, test_acc = linear_path(model, a, b, x_test, y_test, n_points, bn)
        ma = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed)
        mb = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed)
        ma.load_state_dict(a)
        mb.load_state_dict(b)
        dis = disagreement(ma, mb, x_test)
    return Comparison(dissimilarity=param_dissimilarity(a, b, names), rel_distance=relative_distance(a, b, names),
                      barrier_train=loss_barrier(al, train_path), barrier_test=loss_barrier(al, test_path),
                      disagreement=dis, alphas=al, path_train=train_path, path_test=test_path, path_test_acc=test_acc)



def compare_runs(a: Trajectory, b: Trajectory, spec: KernelSpec = KernelSpec()) -> Comparison:
    """`compare_endpoints` of two runs' endpoints at T, with the kernel distance between their
    endpoints' eNTKs (``kernel_distance``; the kernel ``spec``)."""
    T = a.cfg.steps
    row = compare_endpoints(a.cfg, a.state_dict(T), b.state_dict(T))
    k = [trajectory_kernels(r, [T], **spec.kwargs, progress=False)[T] for r in (a, b)]
    return dataclasses.replace(row, kernel_distance=kernel_distance(*k))


def cached_comparison(store: storage.RunStore, path, compute) -> Comparison:
    """``compute()`` (a `Comparison`) cached at ``path`` as plain data."""
    return Comparison(**store.cached(path, lambda: compute().as_data()))


def chaos_row(base: Trajectory, t0: int, p: Perturbation, spec: KernelSpec = KernelSpec(),
              progress: bool | None = None) -> ChaosRow:
    """Branch ``base`` at ``t0`` with perturbation ``p``, train to T, compare with the base run's
    endpoint (`compare_runs`, cached in the branch's folder)."""
    br = run_branch(BranchConfig(base.cfg, t0, p), base.store, progress=progress)
    c = cached_comparison(base.store, br.path / f"compare_{spec.key}.pt", lambda: compare_runs(base, br, spec))
    return ChaosRow(**c.as_data(), t0=t0, perturbation=perturbation_report(br))


def branch_done(bcfg: BranchConfig, spec: KernelSpec = KernelSpec(), store: storage.RunStore | None = None) -> bool:
    """Whether `chaos_row` of this branch is stored (trained and compared): then it costs a load. A
    cheap check of the file's presence, as `kernels.kernel_done`; loading still verifies it."""
    folder = (store or storage.RunStore()).existing_dir("branch", bcfg)
    return folder is not None and (folder / f"compare_{spec.key}.pt").exists()


@dataclass(frozen=True)
class NullControl:
    """An unperturbed restart at ``t0`` against the run it restarts: ``identical``, every parameter
    and buffer bitwise equal at T (`states_equal`); ``max_abs_diff``, the largest difference of a
    floating-point entry (0.0 when identical)."""

    t0: int
    identical: bool
    max_abs_diff: float


def null_control(base: Trajectory, t0: int, progress: bool | None = None) -> NullControl:
    """Restart the base run at ``t0`` without perturbation; report whether it ends bitwise equal."""
    br = run_branch(BranchConfig(base.cfg, t0, None), base.store, progress=progress)
    a, b = base.state_dict(base.cfg.steps), br.state_dict(base.cfg.steps)
    diff = max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())
    return NullControl(t0, states_equal(a, b), diff)
