"""The empirical NTK, the kernel distance S, and kernels along a stored trajectory.

``entk(model, x1, x2, kind=...)`` follows neural-tangents' convention: a kernel is
a function of the network, its parameters and two input sets. Output choices
for a network with C logits (``KINDS``):

- ``sum``: f = sum_k f_k, a scalar output (the papers use a scalar f); n1 x n2.
- ``trace``: sum_k <df_k(x_i), df_k(x_j)>; n1 x n2.
- ``logit:k``: the k-th logit alone; n1 x n2.
- ``full``: every pair of logits; (n1*C) x (n2*C), sample-major.

The model is evaluated in eval mode (BatchNorm is a per-sample function of its
running statistics); `trajectory_kernels` can re-estimate those statistics
first (``bn="reestimate"``) or use the stored ones (``bn="running"``).
"""
from __future__ import annotations

import re

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap
from tqdm import tqdm

from .data import batch_indices, check_choice, probe_indices
from .models import reestimate_bn
from .training import deterministic, show_progress

KINDS = ("sum", "trace", "full", "logit:k")
BN_CHOICES = ("reestimate", "running")


def check_kind(kind: str, num_classes: int | None = None) -> None:
    m = re.fullmatch(r"logit:(\d+)", kind) if isinstance(kind, str) else None
    if m:
        if num_classes is not None and int(m.group(1)) >= num_classes:
            raise ValueError(f"kernel kind {kind!r}: logit index must be < {num_classes}")
        return
    if kind not in ("sum", "trace", "full"):
        raise ValueError(f"unknown kernel kind {kind!r}; valid choices: 'sum', 'trace', 'full', "
                         f"'logit:k' (k a class index)")


def _reduce(out: torch.Tensor, kind: str) -> torch.Tensor:
    """One sample's logits (C,) -> the outputs whose gradients the kernel uses (K,)."""
    if kind == "sum":
        return out.sum().unsqueeze(0)
    if kind.startswith("logit:"):
        k = int(kind.split(":")[1])
        return out[k:k + 1]
    return out


def jacobian(model: nn.Module, x: torch.Tensor, kind: str = "sum", params: dict | None = None) -> torch.Tensor:
    """Per-sample Jacobian of the reduced outputs w.r.t. trainable parameters: (n, K, P).

    Parameters are flattened in ``model.named_parameters()`` order.
    """
    if params is None:
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = dict(model.named_buffers())

    def f(p, xi):
        return _reduce(functional_call(model, (p, buffers), (xi.unsqueeze(0),)).squeeze(0), kind)

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, x)
    n = x.shape[0]
    return torch.cat([jac[k].reshape(n, jac[k].shape[1], -1) for k in params], dim=2)


def _contract(j1: torch.Tensor, j2: torch.Tensor, kind: str) -> torch.Tensor:
    n1, k, p = j1.shape
    n2 = j2.shape[0]
    if kind == "full":
        return (j1.reshape(n1 * k, p) @ j2.reshape(n2 * k, p).T)
    return j1.reshape(n1, k * p) @ j2.reshape(n2, k * p).T  # sum over logits and parameters


def entk(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, kind: str = "sum",
         chunk_size: int | None = None, memory_budget: int = 2 * 2**30) -> torch.Tensor:
    """The empirical NTK of ``model`` between inputs ``x1`` and ``x2`` (``x2`` None: ``x1``).

    Computed in eval mode (the model's mode is restored). The Jacobian is built
    in chunks of ``chunk_size`` inputs, chosen from ``memory_budget`` (bytes)
    when None; if both Jacobians fit the budget they are kept, else blocks are
    recomputed pairwise so peak memory stays near the budget.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            c = model(x1[:1]).shape[1]
        check_kind(kind, c)
        k = c if kind in ("trace", "full") else 1
        p = sum(v.numel() for v in model.parameters() if v.requires_grad)
        per_sample = 4 * k * p
        if chunk_size is None:
            chunk_size = max(1, min(256, memory_budget // (4 * per_sample)))
        same = x2 is None
        x2 = x1 if same else x2
        n1, n2 = len(x1), len(x2)

        def jac(x):
            return torch.cat([jacobian(model, x[i:i + chunk_size], kind)
                              for i in range(0, len(x), chunk_size)])

        if per_sample * (n1 + (0 if same else n2)) <= memory_budget:
            j1 = jac(x1)
            j2 = j1 if same else jac(x2)
            return _contract(j1, j2, kind)
        rows = []
        for i in range(0, n1, chunk_size):
            j1 = jacobian(model, x1[i:i + chunk_size], kind)
            rows.append(torch.cat([_contract(j1, jacobian(model, x2[j:j + chunk_size], kind), kind)
                                   for j in range(0, n2, chunk_size)], dim=1))
        return torch.cat(rows, dim=0)
    finally:
        model.train(was_training)


# ---------------------------------------------------------------- distances

def center(h: torch.Tensor) -> torch.Tensor:
    """C H C with C = I - 11^T/n (removes the constant component)."""
    h = h - h.mean(0, keepdim=True)
    return h - h.mean(1, keepdim=True)


def kernel_distance(h1: torch.Tensor, h2: torch.Tensor, centered: bool = False) -> float:
    """S = 1 - <H1, H2>_F / (||H1||_F ||H2||_F), in float64. 0 for identical kernels, scale invariant."""
    a, b = h1.double(), h2.double()
    if centered:
        a, b = center(a), center(b)
    cos = (a * b).sum() / (a.norm() * b.norm())
    return float(1.0 - cos.clamp(-1.0, 1.0))


def target_alignment(h: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """Centered alignment <C H C, C Y Y^T C> / norms between a kernel and the one-hot label kernel."""
    y = torch.nn.functional.one_hot(labels, num_classes).double()
    return 1.0 - kernel_distance(h, y @ y.T, centered=True)


def pairwise_distances(kernels: list[torch.Tensor], centered: bool = False) -> torch.Tensor:
    """The matrix S[i, j] = S(H_i, H_j) for a list of kernels (one Gram matrix, float64)."""
    flat = torch.stack([(center(h.double()) if centered else h.double()).flatten() for h in kernels])
    flat = flat / flat.norm(dim=1, keepdim=True)
    s = 1.0 - (flat @ flat.T).clamp(-1.0, 1.0)
    s.fill_diagonal_(0.0)
    return s


# ---------------------------------------------------------------- along a trajectory

def bn_batches(data, n_batches: int = 8, batch_size: int = 128):
    """Fixed, unaugmented training batches used to re-estimate BatchNorm statistics."""
    return [data.x_train[batch_indices(len(data.y_train), batch_size, 10_000, i)] for i in range(n_batches)]


def trajectory_kernels(traj, iterations=None, kind: str = "sum", n_probe: int = 200, bn: str = "reestimate",
                       probe_seed: int = 0, progress: bool | None = None, **entk_kwargs) -> dict[int, torch.Tensor]:
    """eNTKs on the probe subset at each of ``iterations`` (default: every checkpoint), cached in the run store.

    ``bn="reestimate"`` re-estimates BatchNorm statistics on 8 fixed training
    batches before each kernel; ``"running"`` uses the stored statistics. Models
    without BatchNorm give the same kernel either way.
    """
    check_choice("bn", bn, BN_CHOICES)
    data = traj.data
    check_kind(kind, data.num_classes)
    iterations = traj.iterations if iterations is None else list(iterations)
    missing = [i for i in iterations if i not in traj.iterations]
    if missing:
        raise ValueError(f"no checkpoint at iterations {missing[:5]}; the run stores every "
                         f"{traj.cfg.ckpt_every} iterations up to {traj.cfg.steps}")
    x = data.x_train[probe_indices(data, n_probe, probe_seed)]
    folder = traj.path / "kernels" / f"{kind.replace(':', '-')}_{bn}_n{n_probe}_p{probe_seed}"
    batches = bn_batches(data) if bn == "reestimate" else None
    out = {}
    show = show_progress(progress)
    with deterministic(traj.cfg.threads):
        for it in tqdm(iterations, desc=f"eNTK {kind} n={n_probe}", disable=not show, mininterval=2):
            def compute(it=it):
                model = traj.model(it)
                if batches is not None:
                    reestimate_bn(model, batches)
                return entk(model, x, kind=kind, **entk_kwargs)
            out[it] = traj.store.cached(folder / f"H_{it:07d}.pt", compute)
    return out


def adjacent_distances(kernels: dict[int, torch.Tensor], dt: int, centered: bool = False):
    """(t, S(H(t), H(t+dt))) for every t where both kernels exist."""
    ts = [t for t in sorted(kernels) if t + dt in kernels]
    return ts, [kernel_distance(kernels[t], kernels[t + dt], centered) for t in ts]


def reference_distances(kernels: dict[int, torch.Tensor], tau: int, centered: bool = False):
    """(t, S(H(t), H(tau))) for every stored t."""
    if tau not in kernels:
        raise ValueError(f"reference tau={tau} is not among the kernel iterations")
    ts = sorted(kernels)
    return ts, [kernel_distance(kernels[t], kernels[tau], centered) for t in ts]


def velocity(kernels: dict[int, torch.Tensor], dt: int, centered: bool = False):
    """Kernel velocity v(t) = S(H(t), H(t+dt)) / dt."""
    ts, s = adjacent_distances(kernels, dt, centered)
    return ts, [v / dt for v in s]



# ---------------------------------------------------------------- the cone picture

def cone_polar(kernels: dict[int, torch.Tensor], centered: bool = False):
    """Polar coordinates of each H(t) relative to H(0): angle arccos(1 - S(H(0), H(t))), radius ||H(t)|| / ||H(0)||.

    Returns (iterations, angles in radians, radii).
    """
    ts = sorted(kernels)
    h0 = kernels[ts[0]].double()
    n0 = (center(h0) if centered else h0).norm()
    angles, radii = [], []
    for t in ts:
        h = kernels[t].double()
        angles.append(float(torch.arccos(torch.tensor(1.0 - kernel_distance(h0, h, centered)).clamp(-1, 1))))
        radii.append(float((center(h) if centered else h).norm() / n0))
    return ts, angles, radii


def mds(s: torch.Tensor, dim: int = 2) -> torch.Tensor:
    """Classical (Torgerson) MDS of the angular distances arccos(1 - S): points (n, dim) whose
    Euclidean distances best match the angles between the kernels. Deterministic (sign-fixed)."""
    d = torch.arccos((1.0 - s.double()).clamp(-1.0, 1.0))
    n = d.shape[0]
    j = torch.eye(n, dtype=torch.float64) - 1.0 / n
    b = -0.5 * j @ (d ** 2) @ j
    vals, vecs = torch.linalg.eigh(b)
    order = torch.argsort(vals, descending=True)[:dim]
    vals, vecs = vals[order].clamp(min=0), vecs[:, order]
    vecs = vecs * torch.where(vecs[0] > 0, -1.0, 1.0)  # fix signs: the first point on the negative side
    return vecs * vals.sqrt()
