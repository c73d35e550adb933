"""Deterministic, resumable SGD training that returns a stored trajectory.

``train(TrainConfig(...))`` trains a model and writes a checkpoint (parameters,
buffers, optimizer state, metrics so far) at every iteration of
``checkpoint_iterations(cfg)`` into the run store. Called again with the same
configuration it resumes from the last valid checkpoint (or returns at once if
the run is complete); a damaged checkpoint is detected and recomputed.

Determinism (see `lib.runtime`): ``torch.use_deterministic_algorithms(True)``, a fixed thread count
(``cfg.threads``; 1 and 2 threads give different trajectories), and a batch
order and augmentation that depend only on ``(seed, iteration)``. Two runs of
one configuration end bitwise identical when they share the CPU capability, torch
version, thread count and device; each checkpoint records these (``Trajectory.arithmetic``).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from . import storage
from .runtime import DEFAULT_THREADS, announce, arithmetic, deterministic, record_time, run_parallel, show_progress

# cuBLAS needs this before its first call for deterministic results (harmless on CPU)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
from .checks import check_choice, check_int
from .data import DATASETS, Data, load_dataset, train_batch
from .models import MODELS, build_model


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (the run's folder is the hash of the non-default ones)."""

    arch: str = "lenet5"
    dataset: str = "mnist5k"
    width: float | None = None  # None: the architecture's default (see lib.models)
    seed: int = 0
    steps: int = 2000  # T, the number of SGD iterations
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.0  # open_lth's MNIST setting; the CIFAR presets use 0.9
    weight_decay: float = 1e-4
    warmup: int = 0  # iterations of linear warmup from 0 to lr
    milestones: tuple = (1500,)  # iterations where lr is multiplied by gamma
    gamma: float = 0.1
    augment: bool = True  # random crop (and flip where the dataset says so)
    ckpt_every: int = 25  # checkpoint spacing up to ckpt_dense_until
    ckpt_dense_until: int | None = None  # None: dense spacing over the whole run
    ckpt_sparse_every: int = 250  # spacing after ckpt_dense_until
    eval_every: int = 100  # test metrics at checkpoints that are multiples of this (and the last)
    eval_n: int | None = None  # test examples used for test metrics (None: all)
    threads: int = DEFAULT_THREADS  # torch intra-op threads; part of the trajectory's identity (lib.runtime)
    # "cpu" or "cuda[:i]": where to train. Not part of the run's identity (hash), so pages read
    # a run trained on a GPU elsewhere; checkpoints are stored on the CPU either way.
    device: str = dataclasses.field(default="cpu", metadata={"identity": False})

    def __post_init__(self):
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        self.validate()

    def validate(self) -> None:
        check_choice("arch", self.arch, MODELS)
        check_choice("dataset", self.dataset, DATASETS)
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("warmup", self.warmup, 0)
        check_int("ckpt_every", self.ckpt_every, 1)
        check_int("ckpt_sparse_every", self.ckpt_sparse_every, 1)
        check_int("eval_every", self.eval_every, 1)
        check_int("threads", self.threads, 1)
        check_int("seed", self.seed, 0)
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
        if self.width is not None and (not isinstance(self.width, (int, float)) or isinstance(self.width, bool)
                                       or not math.isfinite(self.width) or self.width <= 0):
            raise ValueError(f"width must be a positive number or None (the architecture's default); got {self.width!r}")
        if self.eval_n is not None:
            check_int("eval_n", self.eval_n, 1)
        if self.ckpt_dense_until is not None:
            check_int("ckpt_dense_until", self.ckpt_dense_until, 0)
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ValueError(f"unknown device {self.device!r}; valid choices: 'cpu', 'cuda', 'cuda:<index>'")


def checkpoint_iterations(cfg: TrainConfig) -> list[int]:
    """Iterations at which the state is stored: 0, every ckpt_every (then ckpt_sparse_every), and steps."""
    dense_until = cfg.steps if cfg.ckpt_dense_until is None else min(cfg.ckpt_dense_until, cfg.steps)
    its = set(range(0, dense_until + 1, cfg.ckpt_every))
    its |= set(range(dense_until, cfg.steps + 1, cfg.ckpt_sparse_every))
    its.add(cfg.steps)
    return sorted(its)


def learning_rate(cfg: TrainConfig, iteration: int) -> float:
    """Linear warmup, then step decay by ``gamma`` at each milestone."""
    lr = cfg.lr * cfg.gamma ** sum(iteration >= m for m in cfg.milestones)
    if cfg.warmup and iteration < cfg.warmup:
        lr *= (iteration + 1) / cfg.warmup
    return lr


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits of ``model`` in eval mode, in batches (the caller's mode is restored)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` in eval mode (the caller's mode is restored)."""
    out = predict(model, x, batch_size)
    return nn.functional.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


class Trajectory:
    """A stored training run: iteration -> model state, optimizer state and metrics."""

    def __init__(self, cfg: TrainConfig, store: storage.RunStore, path: Path):
        self.cfg, self.store, self.path = cfg, store, path
        self.iterations = checkpoint_iterations(cfg)

    def __repr__(self) -> str:
        return f"Trajectory({self.cfg.arch}/{self.cfg.dataset}, {len(self.iterations)} checkpoints, {self.path})"

    def checkpoint_path(self, iteration: int) -> Path:
        return self.path / f"ckpt_{iteration:07d}.pt"

    def checkpoint(self, iteration: int) -> dict:
        """The stored checkpoint at ``iteration`` (keys: iteration, model, optimizer, metrics)."""
        if iteration not in self.iterations:
            raise ValueError(f"no checkpoint at iteration {iteration}; stored: {self.iterations[:5]}...{self.iterations[-3:]}")
        ck = storage.load_or_none(self.checkpoint_path(iteration))
        if ck is None:  # damaged or removed since training: recompute the run (deterministic)
            self._recompute()
            ck = storage.load(self.checkpoint_path(iteration))
        return ck

    def _recompute(self) -> None:
        train(self.cfg, self.store, progress=False)

    def state_dict(self, iteration: int) -> dict:
        return self.checkpoint(iteration)["model"]

    def model(self, iteration: int) -> nn.Module:
        """A model in eval mode holding the parameters and buffers of ``iteration``."""
        data = self.data
        m = build_model(self.cfg.arch, data.shape, data.num_classes, self.cfg.width, self.cfg.seed)
        m.load_state_dict(self.state_dict(iteration))
        return m.eval()

    def params(self, iteration: int) -> dict[str, torch.Tensor]:
        """The trainable parameters at ``iteration`` (no buffers)."""
        state = self.state_dict(iteration)
        return {k: state[k] for k in self.param_names}

    @functools.cached_property
    def param_names(self) -> list[str]:
        data = self.data
        m = build_model(self.cfg.arch, data.shape, data.num_classes, self.cfg.width, self.cfg.seed)
        return [n for n, p in m.named_parameters() if p.requires_grad]

    @property
    def data(self) -> Data:
        return load_dataset(self.cfg.dataset)

    @property
    def metrics(self) -> list[dict]:
        """One record per checkpoint: iteration, lr, train_loss/train_acc (mean since the previous
        checkpoint), and test_loss/test_acc where evaluated."""
        return self.checkpoint(self.iterations[-1])["metrics"]

    @property
    def arithmetic(self) -> dict | None:
        """How the run's last checkpoint was computed (torch version, CPU capability, threads,
        device; see `lib.runtime`): stored with the run, not part of its identity."""
        return self.checkpoint(self.iterations[-1]).get("arithmetic")

    def metric(self, name: str) -> tuple[list[int], list[float]]:
        """(iterations, values) of one metric, skipping checkpoints where it was not measured."""
        rows = [r for r in self.metrics if r.get(name) is not None]
        return [r["iteration"] for r in rows], [r[name] for r in rows]


def _valid_prefix(traj: Trajectory) -> dict | None:
    """The last checkpoint of the longest run of valid checkpoints from iteration 0, or None."""
    last = None
    for it in traj.iterations:
        ck = storage.load_or_none(traj.checkpoint_path(it))
        if ck is None:
            break
        last = ck
    return last


def train(cfg: TrainConfig, store: storage.RunStore | None = None, progress: bool | None = None,
          stop_at: int | None = None, data: Data | None = None) -> Trajectory:
    """Train (or resume, or just open) the run ``cfg``; return its `Trajectory`.

    ``stop_at`` stops after that iteration's checkpoint (to test resumption).
    ``progress`` None shows a bar unless ``$TWOPHASE_PROGRESS=0``.
    Raises `TrainingDiverged` with the iteration and hyperparameters if the loss is not finite.
    """
    store = store or storage.RunStore()
    if storage.is_stored_only() and store.existing_dir("train", cfg) is None:
        raise storage.NotStored(f"training run {cfg.arch}/{cfg.dataset} seed {cfg.seed} is not in the run store")
    traj = Trajectory(cfg, store, store.run_dir("train", cfg))
    final = traj.checkpoint_path(cfg.steps)
    if (stop_at is None or stop_at >= cfg.steps) and storage.load_or_none(final, warn=False) is not None \
            and all(traj.checkpoint_path(i).exists() for i in traj.iterations):
        return traj
    storage.require_stored(f"training run {cfg.arch}/{cfg.dataset} seed {cfg.seed} (complete)")
    data = data or load_dataset(cfg.dataset)
    progress = show_progress(progress)
    with deterministic(cfg.threads):
        model = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed).to(cfg.device)
        opt = make_optimizer(cfg, model.parameters())
        ck = _valid_prefix(traj)
        if ck is not None:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            start, history = ck["iteration"], list(ck["metrics"])
        else:
            start, history = 0, []
        t = time.perf_counter()
        _run(cfg, data, model, opt, traj, start, history, progress, stop_at, f"base run {cfg.arch}",
             (ck or {}).get("wall_s", 0.0))
    announce(f"trained {cfg.arch}/{cfg.dataset} seed {cfg.seed}: iterations {start}-{min(cfg.steps, stop_at or cfg.steps)} "
             f"in {time.perf_counter() - t:.0f} s")
    return traj


def _to_cpu(obj):
    """Tensors inside dicts and lists moved to the CPU (checkpoints read anywhere)."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _run(cfg, data, model, opt, traj, start, history, progress, stop_at, job: str = "run", prior: float = 0.0):
    """SGD from ``start`` to the end (or ``stop_at``), a checkpoint at each of the run's iterations; the
    seconds spent on steps, evaluations and checkpoint writes go to the timing log under ``job``.
    ``prior``: the training wall time stored with the checkpoint resumed from; each checkpoint stores
    the wall time of training up to it, over every session that trained the run (not its identity)."""
    began, spent = time.perf_counter(), {"test evaluations": [0.0, 0], "checkpoint writes": [0.0, 0]}
    ckpts = set(traj.iterations)
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    x_test, y_test = data.x_test, data.y_test
    if cfg.eval_n is not None:
        x_test, y_test = x_test[:cfg.eval_n], y_test[:cfg.eval_n]
    window_loss, window_correct, window_n = 0.0, 0, 0
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, mininterval=2,
               desc=f"train {cfg.arch}/{cfg.dataset} seed {cfg.seed}")
    model.train()
    it = start
    while True:
        if it in ckpts and not (history and history[-1]["iteration"] == it):
            rec = {"iteration": it, "lr": learning_rate(cfg, it),
                   "train_loss": window_loss / window_n if window_n else None,
                   "train_acc": window_correct / window_n if window_n else None}
            if it % cfg.eval_every == 0 or it == cfg.steps:
                t = time.perf_counter()
                rec["test_loss"], rec["test_acc"] = evaluate(model, x_test, y_test)
                spent["test evaluations"][0] += time.perf_counter() - t
                spent["test evaluations"][1] += 1
            history.append(rec)
            t = time.perf_counter()
            storage.save(traj.checkpoint_path(it), _to_cpu({
                "iteration": it, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "metrics": list(history), "arithmetic": arithmetic(cfg.threads, cfg.device),
                "wall_s": prior + time.perf_counter() - began}))
            spent["checkpoint writes"][0] += time.perf_counter() - t
            spent["checkpoint writes"][1] += 1
            window_loss, window_correct, window_n = 0.0, 0, 0
            bar.set_postfix(loss=rec["train_loss"], refresh=False)
        if it >= end:
            break
        x, y = train_batch(data, cfg.batch_size, cfg.seed, it, cfg.augment)
        x, y = x.to(cfg.device), y.to(cfg.device)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, it)
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        if not torch.isfinite(loss):
            bar.close()
            raise TrainingDiverged(
                f"training diverged: loss is {loss.item()} at iteration {it} "
                f"(lr {learning_rate(cfg, it):g}); hyperparameters: {dataclasses.asdict(cfg)}. "
                "Lower lr, add warmup, or check the data.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        window_loss += loss.item() * len(y)
        window_correct += (out.argmax(1) == y).sum().item()
        window_n += len(y)
        it += 1
        bar.update(1)
    bar.close()
    total = time.perf_counter() - began
    if it > start:
        record_time(f"{job}: SGD steps", total - sum(v[0] for v in spent.values()), it - start)
    for what, (secs, n) in spent.items():
        if n:
            record_time(f"{job}: {what}", secs, n)


CONTINUATION_EVERY = 500  # checkpoint spacing of a continuation (its endpoint is what the pages use)


class Continuation(Trajectory):
    """A run restarted from the stored base run at iteration ``t`` and trained on to T (a perturbed
    branch, a linearized switch). Its folder is ``<kind>_<hash of key>``; checkpoints at t, every
    ``every`` iterations, and T; a missing or damaged one is recomputed by ``rerun(key, store)``."""

    def __init__(self, kind: str, key, t: int, store: storage.RunStore, rerun, what: str = "t",
                 every: int = CONTINUATION_EVERY):
        cfg = key.base
        if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t <= cfg.steps:
            raise ValueError(f"{what} must be an integer in [0, {cfg.steps}]; got {t!r}")
        check_int("every", every, 1)
        super().__init__(cfg, store, store.run_dir(kind, key))
        self.key, self.t, self._rerun = key, t, rerun
        # every `every` iterations, and where the learning rate decays (the end of a constant window)
        self.iterations = sorted({t, cfg.steps, *range(t - t % every + every, cfg.steps, every),
                                  *(m for m in cfg.milestones if t < m < cfg.steps)})

    def _recompute(self) -> None:
        self._rerun(self.key, self.store, progress=False)


def continue_run(kind: str, key, t: int, start, rerun, store: storage.RunStore | None = None,
                 progress: bool | None = None, what: str = "t", every: int = CONTINUATION_EVERY,
                 cls: type = Continuation, batch_seed: int | None = None) -> Continuation:
    """Train (or resume, or open) a continuation of the base run ``key.base`` from iteration ``t``
    (an instance of ``cls``, checkpoints every ``every`` iterations).

    ``start(base_checkpoint)`` returns the module to train and its first checkpoint (model state,
    optimizer state, metrics); the optimizer, schedule, batches and thread count are the base
    run's, so a continuation that changes nothing ends bitwise equal to the base run. ``batch_seed``: take
    the batches and augmentation of this seed instead (an SGD-noise copy).
    """
    store = store or storage.RunStore()
    cfg = key.base
    base = train(cfg, store, progress=progress)
    if t not in base.iterations:
        raise ValueError(f"{what}={t} is not a checkpoint of the base run "
                         f"(every {cfg.ckpt_every} iterations up to {cfg.steps})")
    if storage.is_stored_only() and store.existing_dir(kind, key) is None:
        raise storage.NotStored(f"{kind} run of {cfg.arch}/{cfg.dataset} seed {cfg.seed}, {what} = {t} is not in the run store")
    run = cls(kind, key, t, store, rerun, what, every)
    if storage.load_or_none(run.checkpoint_path(cfg.steps), warn=False) is not None:
        return run
    storage.require_stored(f"{kind} run of {cfg.arch}/{cfg.dataset} seed {cfg.seed}, {what} = {t} (complete)")
    data = load_dataset(cfg.dataset)
    progress = show_progress(progress)
    with deterministic(cfg.threads):
        module, first = start(base.checkpoint(t))
        module.to(cfg.device)
        opt = make_optimizer(cfg, module.parameters())
        ck = _valid_prefix(run)
        if ck is None:
            ck = first
            storage.save(run.checkpoint_path(t), ck)
        module.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        began = time.perf_counter()  # not `start`: that is the caller's function
        _run(cfg if batch_seed is None else dataclasses.replace(cfg, seed=batch_seed), data, module, opt, run,
             ck["iteration"], list(ck["metrics"]), progress, None, f"{kind} {cfg.arch}", ck.get("wall_s", 0.0))
    announce(f"trained {kind} of {cfg.arch}/{cfg.dataset} seed {cfg.seed}, {what} = {t}: iterations "
             f"{ck['iteration']}-{cfg.steps} in {time.perf_counter() - began:.0f} s")
    return run


def _train_job(cfg: TrainConfig) -> None:
    train(cfg, progress=False)


def trained(cfg: TrainConfig, store: storage.RunStore | None = None, kind: str = "train", key=None) -> bool:
    """Whether the run ``cfg`` (or the ``kind`` run of ``key`` that continues it to ``cfg.steps``: a
    branch) is stored to its last checkpoint (a cheap check of the file's presence; opening the run
    still verifies every checkpoint)."""
    folder = (store or storage.RunStore()).existing_dir(kind, cfg if key is None else key)
    return folder is not None and (folder / f"ckpt_{cfg.steps:07d}.pt").exists()


def train_all(cfgs, desc: str = "base runs") -> list[Trajectory]:
    """`train` every configuration of ``cfgs`` (seeds of a setting): the missing runs side by side in
    worker processes (`lib.runtime.run_parallel`), each with its own thread count, so the runs are
    bitwise those `train` computes one by one; returns their trajectories in order."""
    cfgs = list(cfgs)
    todo = list({c: None for c in cfgs if not trained(c)})
    if todo:
        run_parallel(_train_job, todo, desc=desc, threads=max(c.threads for c in todo),
                     label=lambda c: f"{c.arch}/{c.dataset} seed {c.seed}")
    return [train(c) for c in cfgs]


def step_seconds(cfg: TrainConfig, repeats: int = 5) -> float:
    """Median wall time of one SGD step of ``cfg``'s model on this machine (``repeats`` steps after
    one warm-up, the run's thread count): what the book's budget is planned with."""
    data = load_dataset(cfg.dataset)
    times = []
    with deterministic(cfg.threads):
        model = build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed).to(cfg.device).train()
        opt = make_optimizer(cfg, model.parameters())
        for i in range(repeats + 1):
            x, y = train_batch(data, cfg.batch_size, cfg.seed, i, cfg.augment)
            t = time.perf_counter()
            loss = nn.functional.cross_entropy(model(x.to(cfg.device)), y.to(cfg.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i:
                times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]
