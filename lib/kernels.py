"""The empirical NTK, the kernel distance S, and kernels along a stored trajectory.

``entk(model, x1, x2, kind=...)`` follows neural-tangents' convention: a kernel is
a function of the network, its parameters and two input sets. Output choices
for a network with C logits (``KINDS``):

- ``sum``: f = sum_k f_k, a scalar output (the papers use a scalar f); n1 x n2.
- ``trace``: sum_k <df_k(x_i), df_k(x_j)>; n1 x n2.
- ``logit:k``: the k-th logit alone; n1 x n2.
- ``full``: every pair of logits; (n1*C) x (n2*C), sample-major.

Two implementations (``implementation=``, as in neural-tangents):

- ``structured``: one forward pass, then per output one backward pass to the layers'
  outputs; each layer's per-sample gradients are built from its input and output
  gradient (a grouped convolution per output, or im2col and a batched matmul for several
  outputs at once) and contracted into the kernel at once, so the full Jacobian is never
  held. Conv2d, Linear and BatchNorm layers.
- ``jacobian``: torch.func's ``vmap(jacrev(f))`` per sample, then a contraction; any model.

``auto`` (the default) uses ``structured`` for several outputs (``trace``, ``full``) where
the model allows it (on ``trace``: 1.6-2.1x faster than vmap(jacrev) plus a contraction
over the models and probe sizes of ``benchmarks/entk.py``, its table in
``benchmarks/README.md``; under 4 GiB at n = 1000 on ResNet-20) and ``jacobian`` for one
output (``sum``, ``logit:k``), where the two were within 10% on ResNet-20.

The model is evaluated in eval mode (BatchNorm is a per-sample function of its
running statistics); `trajectory_kernels` can re-estimate those statistics
first (``bn="reestimate"``) or use the stored ones (``bn="running"``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap
from tqdm import tqdm

from .checks import check_choice, check_int
from .data import batch_indices, probe_indices
from .models import has_batchnorm, reestimate_bn
from .runtime import deterministic, show_progress, timed
from .storage import RunStore

KINDS = ("sum", "trace", "full", "logit:k")  # the one list of kernel kinds; "logit:k" last (a pattern)
BN_CHOICES = ("reestimate", "running")


def check_kind(kind: str, num_classes: int | None = None) -> None:
    m = re.fullmatch(r"logit:(\d+)", kind) if isinstance(kind, str) else None
    if m:
        if num_classes is not None and int(m.group(1)) >= num_classes:
            raise ValueError(f"kernel kind {kind!r}: logit index must be < {num_classes}")
        return
    if kind not in KINDS[:-1]:
        raise ValueError(f"unknown kernel kind {kind!r}; valid choices: "
                         + ", ".join(repr(k) for k in KINDS) + " (k a class index)")


def _reduce(out: torch.Tensor, kind: str) -> torch.Tensor:
    """One sample's logits (C,) -> the outputs whose gradients the kernel uses (K,)."""
    if kind == "sum":
        return out.sum().unsqueeze(0)
    if kind.startswith("logit:"):
        k = int(kind.split(":")[1])
        return out[k:k + 1]
    return out


IMPLEMENTATIONS = ("auto", "structured", "jacobian")
_BN = nn.modules.batchnorm._BatchNorm
_STRUCTURED = (nn.Conv2d, nn.Linear, _BN)


def _param_owners(model: nn.Module) -> dict[str, tuple[nn.Module, str]]:
    """Trainable parameter name -> (the module that owns it, its attribute name), in named_parameters order."""
    owners = {}
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            if p.requires_grad:
                owners[f"{mname}.{pname}" if mname else pname] = (mod, pname)
    return {k: owners[k] for k, p in model.named_parameters() if p.requires_grad}


def structured_unsupported(model: nn.Module) -> str | None:
    """Why ``implementation='structured'`` cannot handle ``model`` (None when it can)."""
    if any(getattr(m, "inplace", False) for m in model.modules()):
        return "an in-place activation (its output overwrites a layer's output in place)"
    for mod, _ in _param_owners(model).values():
        if not isinstance(mod, _STRUCTURED):
            return f"{type(mod).__name__} has parameters (structured supports Conv2d, Linear, BatchNorm)"
        if isinstance(mod, nn.Conv2d) and (mod.groups != 1 or mod.padding_mode != "zeros"
                                           or isinstance(mod.padding, str)):
            return "a Conv2d with groups, non-zero padding mode or string padding"
        if isinstance(mod, _BN) and not mod.track_running_stats:
            return "a BatchNorm without running statistics (it mixes samples in eval mode)"
    return None


def _layer_input(mod: nn.Module, a: torch.Tensor) -> torch.Tensor:
    """What a layer's per-sample gradients need from its input: the input, or for BatchNorm
    (eval mode, y = x_hat * w + b) x_hat from the running statistics."""
    if not isinstance(mod, _BN):
        return a
    shape = (1, -1) + (1,) * (a.dim() - 2)
    return (a - mod.running_mean.reshape(shape)) * torch.rsqrt(mod.running_var.reshape(shape) + mod.eps)


class _Workspace:
    """Named scratch buffers reused across layers and outputs: fresh large allocations cost
    page faults (about 0.7 s per GB on the 2-core machine), reused ones do not."""

    def __init__(self, like: torch.Tensor):
        self.like, self.bufs = like, {}

    def __call__(self, name: str, *shape: int) -> torch.Tensor:
        numel = math.prod(shape)
        buf = self.bufs.get(name)
        if buf is None or buf.numel() < numel:
            buf = self.bufs[name] = self.like.new_empty(numel)
        return buf[:numel].view(shape)


def _per_sample(mod: nn.Module, a: torch.Tensor, g: torch.Tensor, ws: _Workspace) -> dict[str, torch.Tensor]:
    """Per-sample gradients (n, G, P_i) of one layer's parameters from its `_layer_input` a (n, ...)
    and the gradients g (n, G, ...) of G outputs with respect to the layer's output.
    Large results are views into ``ws``: use them before the next call."""
    n, k = g.shape[:2]
    out = {}
    if isinstance(mod, nn.Linear):
        a2, g2 = a.reshape(n, -1, a.shape[-1]), g.reshape(n, k, -1, g.shape[-1])
        out["weight"] = torch.einsum("nkso,nsi->nkoi", g2, a2)
        if mod.bias is not None:
            out["bias"] = g2.sum(2)
    elif isinstance(mod, nn.Conv2d) and k == 1:
        # one output: the per-sample weight gradients are the weight gradient of one grouped
        # convolution with the samples as groups (what vmap's batching rule does; no im2col)
        o, c = mod.out_channels, a.shape[1]
        out["weight"] = torch.ops.aten.convolution_backward(
            g.reshape(1, n * o, *g.shape[3:]), a.reshape(1, n * c, *a.shape[2:]),
            mod.weight.expand(n, *mod.weight.shape).reshape(n * o, *mod.weight.shape[1:]), None,
            mod.stride, mod.padding, mod.dilation, False, [0, 0], n, [False, True, False])[1]
        if mod.bias is not None:
            out["bias"] = g.reshape(n, o, -1).sum(2)
    elif isinstance(mod, nn.Conv2d):
        g2 = g.reshape(n, k * g.shape[2], -1)  # (n, G*O, L)
        size = a.shape[1] * math.prod(mod.kernel_size)
        unf = torch._C._nn.im2col(a, mod.kernel_size, mod.dilation, mod.padding, mod.stride,
                                  out=ws("unfold", n, size, g2.shape[2]))  # F.unfold into the workspace
        out["weight"] = torch.bmm(g2, unf.transpose(1, 2), out=ws("weight", n, g2.shape[1], size))
        if mod.bias is not None:
            out["bias"] = g2.sum(2)
    else:  # BatchNorm
        g2 = g.reshape(n, k, g.shape[2], -1)
        if mod.weight is not None:
            prod = torch.mul(g2, a.reshape(n, 1, a.shape[1], -1), out=ws("bn", *g2.shape))
            out["weight"] = prod.sum(3)
        if mod.bias is not None:
            out["bias"] = g2.sum(3)
    return {name: v.reshape(n, k, -1) for name, v in out.items()}


def _structured_grads(model: nn.Module, x: torch.Tensor, kind: str, group: int | None = None):
    """Per-sample gradients layer by layer: yields (module, parameter name, (n, G, P_i) tensor).

    One forward pass, then one backward pass per output to the layers' outputs (eval mode:
    samples are independent, so one pass serves every sample). The K outputs are taken
    ``group`` at a time (G; None: all). A layer's gradients are yielded as soon as they are
    complete, as views into a reused workspace: consume each before taking the next.
    """
    owners = _param_owners(model)
    layers = list(dict.fromkeys(mod for mod, _ in owners.values()))
    calls = []  # (module, its _layer_input, output, output version): one per call

    def hook(mod, inp, out):
        calls.append((mod, _layer_input(mod, inp[0].detach()), out, out._version))

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            out = model(x.detach())
    finally:
        for h in handles:
            h.remove()
    if any(o._version != v for _, _, o, v in calls):
        raise RuntimeError("a layer's output was modified in place (e.g. ReLU(inplace=True)); "
                           "use implementation='jacobian' for this model")
    reduced = out if kind in ("trace", "full") else vmap(lambda row: _reduce(row, kind))(out)
    k = reduced.shape[1]
    group = k if group is None else group
    groups = [list(range(s, min(k, s + group))) for s in range(0, k, group)]
    outs = [o for _, _, o, _ in calls]
    ncalls = {m: sum(c[0] is m for c in calls) for m in layers}
    ws = _Workspace(x)
    for gi, outputs in enumerate(groups):
        grads = [torch.autograd.grad(reduced[:, j].sum(), outs, allow_unused=True,
                                     retain_graph=gi < len(groups) - 1 or j != outputs[-1]) for j in outputs]
        pending, left = {}, dict(ncalls)  # gradients of a layer called several times add up
        for c, (mod, a, o, _) in enumerate(calls):
            if len(outputs) == 1:
                g = (grads[0][c] if grads[0][c] is not None else torch.zeros_like(o)).unsqueeze(1)
            else:
                g = ws("grad", len(o), len(outputs), *o.shape[1:])
                for j, gr in enumerate(grads):
                    g[:, j].copy_(gr[c]) if gr[c] is not None else g[:, j].zero_()
            with torch.no_grad():
                per = _per_sample(mod, a, g, ws)
            for pname, val in per.items():
                if ncalls[mod] > 1:
                    pending[pname] = pending[pname] + val if pname in pending else val.clone()
                else:
                    pending[pname] = val
            left[mod] -= 1
            if left[mod] == 0:
                for pname, val in pending.items():
                    if getattr(mod, pname).requires_grad:
                        yield mod, pname, val
                pending = {}
        del grads


_GRAM_SPLIT = 32  # below this half size, one full b b^T (the caller mirrors only above it)


def _gram_into(h: torch.Tensor, b: torch.Tensor) -> None:
    """h += b b^T on the upper block triangle only (3 of 4 blocks; the caller mirrors it)."""
    m = len(b) // 2
    if m < _GRAM_SPLIT:
        h.addmm_(b, b.T)
        return
    h[:m, :m].addmm_(b[:m], b[:m].T)
    h[:m, m:].addmm_(b[:m], b[m:].T)
    h[m:, m:].addmm_(b[m:], b[m:].T)


def _structured_kernel(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None, kind: str,
                       group: int | None = None) -> torch.Tensor:
    """The eNTK contracted layer by layer, ``group`` outputs at a time: x1 and x2 go through
    one forward pass together, and the full Jacobian is never held."""
    x = x1 if x2 is None else torch.cat([x1, x2])
    n, n1 = len(x), len(x1)
    k = None
    for _, _, b in _structured_grads(model, x, kind, None if kind == "full" else group):
        if k is None:
            k = b.shape[1] if kind == "full" else 1
            h = x.new_zeros(n1 * k, (n - n1 if x2 is not None else n1) * k)
        b = b.reshape(n * k, -1) if kind == "full" else b.reshape(n, -1)
        if x2 is None:
            _gram_into(h, b)
        else:
            h.addmm_(b[:n1 * k], b[n1 * k:].T)
    if x2 is None and len(h) // 2 >= _GRAM_SPLIT:
        m = len(h) // 2  # mirror the upper block triangle
        h[m:, :m] = h[:m, m:].T
    return h


def _structured_blocks(model: nn.Module, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
    got = {(id(mod), pname): b.clone() for mod, pname, b in _structured_grads(model, x, kind)}
    return [got[id(mod), pname] for mod, pname in _param_owners(model).values()]


def _resolve(model: nn.Module, implementation: str) -> str:
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    why = structured_unsupported(model)
    if implementation == "auto":
        return "jacobian" if why else "structured"
    if implementation == "structured" and why:
        raise ValueError(f"implementation='structured' cannot handle this model: {why}; "
                         f"use implementation='jacobian'")
    return implementation


def jacobian_blocks(model: nn.Module, x: torch.Tensor, kind: str = "sum",
                    implementation: str = "auto") -> list[torch.Tensor]:
    """The per-sample Jacobian as one (n, K, P_i) block per trainable parameter, in
    ``model.named_parameters()`` order. Call in eval mode.

    ``implementation``: ``structured`` builds each layer's per-sample gradients from its
    input activations and output gradients (one forward and K backward passes; Conv2d,
    Linear and BatchNorm layers), ``jacobian`` is ``vmap(jacrev(f))`` over the samples
    (any model), ``auto`` picks ``structured`` when the model allows it.
    """
    if _resolve(model, implementation) == "structured":
        return _structured_blocks(model, x, kind)
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    buffers = dict(model.named_buffers())

    def f(p, xi):
        return _reduce(functional_call(model, (p, buffers), (xi.unsqueeze(0),)).squeeze(0), kind)

    jac = vmap(jacrev(f), in_dims=(None, 0))(params, x)
    n = x.shape[0]
    return [jac[k].reshape(n, jac[k].shape[1], -1) for k in params]


def jacobian(model: nn.Module, x: torch.Tensor, kind: str = "sum", implementation: str = "auto") -> torch.Tensor:
    """Per-sample Jacobian of the reduced outputs w.r.t. trainable parameters: (n, K, P).

    Parameters are flattened in ``model.named_parameters()`` order; see `jacobian_blocks`.
    """
    return torch.cat(jacobian_blocks(model, x, kind, implementation), dim=2)


def _contract(b1: list[torch.Tensor], b2: list[torch.Tensor], kind: str) -> torch.Tensor:
    """Sum over parameter blocks of J1 J2^T: (n1, n2), or (n1*K, n2*K) for ``full``."""
    out = None
    for j1, j2 in zip(b1, b2):
        n1, k, _ = j1.shape
        n2 = j2.shape[0]
        if kind == "full":
            a, b = j1.reshape(n1 * k, -1), j2.reshape(n2 * k, -1)
        else:  # sum over logits and parameters
            a, b = j1.reshape(n1, -1), j2.reshape(n2, -1)
        out = a @ b.T if out is None else out.addmm_(a, b.T)
    return out


def _activation_numel(model: nn.Module, x: torch.Tensor) -> int:
    """Numbers in the outputs of the parametrized layers for one sample (eval mode)."""
    sizes = []
    layers = {mod for mod, _ in _param_owners(model).values()}
    handles = [m.register_forward_hook(lambda mod, i, o: sizes.append(o[:1].numel())) for m in layers]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return sum(sizes)


def entk(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor | None = None, kind: str = "sum",
         chunk_size: int | None = None, memory_budget: int = 3 * 2**30,
         implementation: str = "auto") -> torch.Tensor:
    """The empirical NTK of ``model`` between inputs ``x1`` and ``x2`` (``x2`` None: ``x1``).

    Computed in eval mode (the model's mode is restored). ``implementation``:
    ``structured`` (see `jacobian_blocks`) contracts per-layer per-sample gradients one
    output at a time and never holds the Jacobian; ``jacobian`` is torch.func's
    ``vmap(jacrev)`` then a contraction; ``auto`` (the default) picks ``structured`` for
    several outputs where the model allows it and ``jacobian`` for one (the module docstring).
    Inputs are processed in chunks of ``chunk_size``, chosen from ``memory_budget``
    (bytes) when None; kernel blocks are computed chunk pair by chunk pair (for
    ``x2`` None only the upper block triangle), so peak memory stays near the budget.
    """
    check_choice("implementation", implementation, IMPLEMENTATIONS)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            c = model(x1[:1]).shape[1]
        check_kind(kind, c)
        k = c if kind in ("trace", "full") else 1
        # auto: structured for several outputs, jacobian for one (the module docstring)
        impl = _resolve(model, "jacobian" if implementation == "auto" and k == 1 else implementation)
        same = x2 is None
        x2 = x1 if same else x2
        n1, n2 = len(x1), len(x2)
        elem = x1.element_size()
        group = None
        if impl == "structured":
            # per sample: saved activations and layer inputs (~4x the layer outputs A), the
            # gradients of G outputs (G*A) and one layer's per-sample gradients (G*P_max)
            a = _activation_numel(model, x1)
            p_max = max(v.numel() for v in model.parameters() if v.requires_grad)

            def per_sample(g):
                return elem * (a * (4 + g) + g * p_max)

            total = n1 + (0 if same else n2)
            if chunk_size is None:  # all inputs in one pass if one output at a time fits
                fits = per_sample(1) * total <= memory_budget
                chunk_size = total if fits else max(1, memory_budget // (2 * per_sample(1)))
            per_pair = min(2 * chunk_size, total)
            group = next((g for g in range(k, 0, -1) if per_sample(g) * per_pair <= memory_budget), 1)
            keep = False
        else:
            per_sample_j = elem * k * sum(v.numel() for v in model.parameters() if v.requires_grad)
            keep = per_sample_j * (n1 + (0 if same else n2)) <= memory_budget
            if chunk_size is None:  # a chunk's Jacobian plus vmap's intermediates: ~2x its blocks
                chunk_size = max(1, min(256, memory_budget // (4 * per_sample_j)))
        cache1: dict[int, list] = {}
        cache2 = cache1 if same else {}

        def blocks(x, cache, i):
            if i in cache:
                return cache[i]
            b = jacobian_blocks(model, x[i:i + chunk_size], kind, impl)
            if keep:
                cache[i] = b
            return b

        def pair(i, j):
            if impl == "structured":
                return _structured_kernel(model, x1[i:i + chunk_size],
                                          None if same and i == j else x2[j:j + chunk_size], kind, group)
            b1 = blocks(x1, cache1, i)
            return _contract(b1, b1 if same and i == j else blocks(x2, cache2, j), kind)

        r = k if kind == "full" else 1
        out = x1.new_empty(n1 * r, n2 * r)
        for i in range(0, n1, chunk_size):
            for j in range(i if same else 0, n2, chunk_size):
                block = pair(i, j)
                out[i * r:i * r + block.shape[0], j * r:j * r + block.shape[1]] = block
                if same and j != i:
                    out[j * r:j * r + block.shape[1], i * r:i * r + block.shape[0]] = block.T
        return out
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

BN_BATCH_SEED = 10_000  # the batch order of the fixed BatchNorm re-estimation batches (not a training seed)
NOISE_BN_SEED = 20_000  # another set of re-estimation batches, for the noise floor
# The noise sources that can differ between the two kernels of an adjacent pair, and so set the floor
# against which adjacent distances are judged. The BN re-estimation batches are the same fixed set at
# every checkpoint: a kernel that did not move gives S = 0 with them whichever set it is, so "bn batches"
# (how much the kernel depends on that choice) is measured and reported, not counted in the floor.
FLOOR_SOURCES = ("arithmetic",)


def bn_batches(data, n_batches: int = 8, batch_size: int = 128, seed: int = BN_BATCH_SEED):
    """Fixed, unaugmented training batches used to re-estimate BatchNorm statistics."""
    return [data.x_train[batch_indices(len(data.y_train), batch_size, seed, i)] for i in range(n_batches)]


@dataclass(frozen=True)
class KernelSpec:
    """Which kernel a page computes along a run: the output ``kind`` (``KINDS``), the number of
    probe inputs ``n_probe`` and the BatchNorm statistics ``bn`` (``BN_CHOICES``). ``key`` names
    it in every cache path of the run store (kernels, endpoint comparisons, seed pairs)."""

    kind: str = "sum"
    n_probe: int = 200
    bn: str = "reestimate"

    def __post_init__(self):
        check_kind(self.kind)
        check_choice("bn", self.bn, BN_CHOICES)
        check_int("n_probe", self.n_probe, 1)

    @property
    def key(self) -> str:
        return f"{self.kind.replace(':', '-')}_{self.bn}_n{self.n_probe}"

    @property
    def kwargs(self) -> dict:
        """The keyword arguments of `trajectory_kernels` and `noise_floor`."""
        return dict(kind=self.kind, n_probe=self.n_probe, bn=self.bn)


def _kernel_folder(traj, kind, bn, n_probe, probe_seed):
    return traj.path / "kernels" / _kernel_name(kind, bn, n_probe, probe_seed)


def _kernel_name(kind, bn, n_probe, probe_seed) -> str:
    return f"{KernelSpec(kind, n_probe, bn).key}_p{probe_seed}"


def kernel_done(cfg, iteration: int, kind: str = "sum", n_probe: int = 200, bn: str = "reestimate",
                probe_seed: int = 0, store=None) -> bool:
    """Whether the training run ``cfg``'s kernel at ``iteration`` is in the store (a cheap check of
    the file's presence; loading still verifies it)."""
    folder = (store or RunStore()).existing_dir("train", cfg)
    return folder is not None and (folder / "kernels" / _kernel_name(kind, bn, n_probe, probe_seed)
                                   / f"H_{iteration:07d}.pt").exists()


def _kernel_at(traj, it, x, kind, batches, **entk_kwargs):
    device = traj.cfg.device if traj.cfg.device == "cpu" or torch.cuda.is_available() else "cpu"
    model = traj.model(it).to(device)
    if batches is not None:
        reestimate_bn(model, [b.to(device) for b in batches])
    return entk(model, x.to(device), kind=kind, **entk_kwargs).cpu()


def trajectory_kernels(traj, iterations=None, kind: str = "sum", n_probe: int = 200, bn: str = "reestimate",
                       probe_seed: int = 0, progress: bool | None = None, **entk_kwargs) -> dict[int, torch.Tensor]:
    """eNTKs on the probe subset at each of ``iterations`` (default: every checkpoint), cached in the run store.

    ``bn="reestimate"`` re-estimates BatchNorm statistics on 8 fixed training
    batches before each kernel; ``"running"`` uses the stored statistics. Models
    without BatchNorm give the same kernel either way.
    The kernels are computed on the run's ``device`` where it is available and stored on the CPU.
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
    folder = _kernel_folder(traj, kind, bn, n_probe, probe_seed)
    batches = bn_batches(data) if bn == "reestimate" else None
    out = {}
    show = show_progress(progress)
    with deterministic(traj.cfg.threads):
        for it in tqdm(iterations, desc=f"eNTK {kind} n={n_probe}", disable=not show, mininterval=2):
            out[it] = traj.store.cached(folder / f"H_{it:07d}.pt",
                                        lambda it=it: _timed_kernel("eNTK", traj, it, x, kind, batches, **entk_kwargs))
    return out


def _timed_kernel(what: str, *args, **kwargs) -> torch.Tensor:
    with timed(what):
        return _kernel_at(*args, **kwargs)


NOISE_CHECKPOINTS = 3  # late checkpoints of a window at which the instrument's noise floor is measured


def noise_checkpoints(iterations, end: int) -> list[int]:
    """Where `noise_floor` is measured for a window: every other checkpoint up to ``end``, the last few."""
    return [t for t in iterations if t <= end][-1 - 2 * (NOISE_CHECKPOINTS - 1)::2][:NOISE_CHECKPOINTS]


def noise_floor(traj, iterations, kind: str = "sum", n_probe: int = 200, bn: str = "reestimate",
                probe_seed: int = 0, centered: bool = False) -> dict[str, list[float]]:
    """The instrument's noise: S between kernels of one checkpoint that differ only in what the
    measurement chose, at each of ``iterations`` (cached in the run store beside the kernels).

    Sources: ``"arithmetic"``, the kernel computed by the other engine (``structured`` against
    ``jacobian``: other operations, other rounding), where the model allows both; ``"bn batches"``,
    BatchNorm statistics re-estimated on another set of training batches (``bn="reestimate"`` and a
    network with BatchNorm). The probe inputs are the kernel's definition, not noise: a kernel on
    other inputs is another matrix. Returns {source: [S per iteration]}; the floor for adjacent
    distances is the largest value of the sources in ``FLOOR_SOURCES`` (`noise_value`).
    """
    kernels = trajectory_kernels(traj, iterations, kind=kind, n_probe=n_probe, bn=bn, probe_seed=probe_seed,
                                 progress=False)
    data = traj.data
    x = data.x_train[probe_indices(data, n_probe, probe_seed)]
    folder = _kernel_folder(traj, kind, bn, n_probe, probe_seed) / "noise"
    model = traj.model(iterations[0])
    k = data.num_classes if kind in ("trace", "full") else 1
    used = _resolve(model, "jacobian" if k == 1 else "auto")
    other = "jacobian" if used == "structured" else ("structured" if structured_unsupported(model) is None else None)
    batches = bn_batches(data) if bn == "reestimate" else None
    variants = {}
    if other is not None:
        variants["arithmetic"] = (dict(implementation=other), batches)
    if batches is not None and has_batchnorm(model):
        variants["bn batches"] = ({}, bn_batches(data, seed=NOISE_BN_SEED))
    out = {}
    with deterministic(traj.cfg.threads):
        for source, (kw, b) in variants.items():
            out[source] = [kernel_distance(kernels[it], traj.store.cached(
                folder / f"{source.replace(' ', '_')}_{it:07d}.pt",
                lambda it=it, kw=kw, b=b: _timed_kernel("eNTK (noise floor)", traj, it, x, kind, b, **kw)), centered)
                for it in iterations]
    return out


def noise_value(noise: dict[str, list[float]]) -> float:
    """The noise floor for adjacent distances: the largest S over the ``FLOOR_SOURCES`` of a
    `noise_floor` result (0.0 where none was measured)."""
    return max((max(v) for k, v in noise.items() if k in FLOOR_SOURCES and v), default=0.0)


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
