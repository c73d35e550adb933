"""How far a run has fit its data: where each page's runs are in training.

The papers' window is 10^4 iterations of CIFAR-10 at batch 128 (25.6 epochs of 50,000 images),
during which the network is still fitting its training set. A run's place is its training loss
and training accuracy (the mean over the SGD batches since the previous checkpoint, in training
mode and with the run's augmentation: what a training loop reports) at the transition t* and at
T, beside the test numbers, and the epochs its window covers. `fit_criterion` is the rule the
default setting is chosen by: the training set not yet fit over most of Phase II.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import load_dataset
from .training import TrainConfig, Trajectory

PAPERS_ITERATIONS = 10_000  # the papers' window (Fig 2: "T is set to 10^4")
PAPERS_BATCH = 128  # Frankle et al.'s CIFAR-10 recipe, which the papers follow
PAPERS_TRAIN_IMAGES = 50_000  # CIFAR-10's training set
FIT_ACC = 0.95  # a training set is "fit" once the training accuracy reaches this
FIT_SHARE = 0.5  # ... and the criterion asks that it is not fit over more than this share of Phase II


def epochs(cfg: TrainConfig, steps: int | None = None) -> float:
    """Passes over the training set in ``steps`` iterations (T by default) at the run's batch size."""
    n = len(load_dataset(cfg.dataset).y_train)
    return (cfg.steps if steps is None else steps) * cfg.batch_size / n


def papers_epochs() -> float:
    """The papers' window in epochs: 10^4 iterations at batch 128 of CIFAR-10's 50,000 images."""
    return PAPERS_ITERATIONS * PAPERS_BATCH / PAPERS_TRAIN_IMAGES


def _at(traj: Trajectory, metrics: list, t: int, key: str) -> tuple[int, float]:
    """(iteration, value) of metric ``key`` at the record of ``metrics`` (the run's) nearest to ``t``."""
    rows = [r for r in metrics if r.get(key) is not None]
    if not rows:
        raise ValueError(f"the run {traj.path.name} records no {key}")
    r = min(rows, key=lambda r: abs(r["iteration"] - t))
    return r["iteration"], float(r[key])


@dataclass(frozen=True)
class FitPoint:
    """A run's training and test numbers near iteration ``t`` (each at its nearest record: training
    numbers at every checkpoint, test numbers where the run evaluated, ``test_t``)."""

    t: int
    epochs: float
    train_loss: float
    train_acc: float
    test_t: int
    test_loss: float
    test_acc: float


def _point(traj: Trajectory, metrics: list, t: int) -> FitPoint:
    test_t, test_loss = _at(traj, metrics, t, "test_loss")
    return FitPoint(t, epochs(traj.cfg, t), _at(traj, metrics, max(t, 1), "train_loss")[1],
                    _at(traj, metrics, max(t, 1), "train_acc")[1], test_t, test_loss,
                    _at(traj, metrics, t, "test_acc")[1])


def fit_at(traj: Trajectory, t: int) -> FitPoint:
    """The run's `FitPoint` at iteration ``t`` (0 has no training numbers: its first window is used)."""
    return _point(traj, traj.metrics, t)


@dataclass(frozen=True)
class FitCriterion:
    """Whether a run is in the papers' regime over Phase II [t*, T]: ``share_fit`` is the share of
    its Phase-II checkpoints with training accuracy at or above ``FIT_ACC``; ``holds`` when at most
    ``FIT_SHARE`` (the training set not yet fit over most of Phase II); ``room`` is 1 - test
    accuracy at T, the room left for a linearized run to lose."""

    share_fit: float
    holds: bool
    acc_mid: float
    room: float


def fit_criterion(traj: Trajectory, t_star: int) -> FitCriterion:
    """`FitCriterion` of one run with Phase II starting at ``t_star``."""
    metrics = traj.metrics  # one read of the run's last checkpoint
    two = [r["train_acc"] for r in metrics if r.get("train_acc") is not None and t_star <= r["iteration"] <= traj.cfg.steps]
    if not two:
        raise ValueError(f"t_star={t_star} leaves no checkpoint with a training accuracy before T = {traj.cfg.steps}")
    share = float(np.mean([a >= FIT_ACC for a in two]))
    mid = _point(traj, metrics, (t_star + traj.cfg.steps) // 2).train_acc
    return FitCriterion(share, share <= FIT_SHARE, mid, 1 - _point(traj, metrics, traj.cfg.steps).test_acc)


def fit_rows(trajs, t_star: int, labels=None) -> list[dict]:
    """One table row per run: epochs of its window, training loss and accuracy at t* and at T,
    test accuracy at both, and the share of Phase II with the training set fit."""
    rows = []
    for i, traj in enumerate(trajs):
        a, b = fit_at(traj, t_star), fit_at(traj, traj.cfg.steps)
        rows.append({"run": labels[i] if labels else f"seed {traj.cfg.seed}", "epochs (T)": f"{b.epochs:.1f}",
                     "train loss (t*)": f"{a.train_loss:.3f}", "train acc (t*)": f"{100 * a.train_acc:.1f}%",
                     "test acc (t*)": f"{100 * a.test_acc:.1f}%", "train loss (T)": f"{b.train_loss:.3f}",
                     "train acc (T)": f"{100 * b.train_acc:.1f}%", "test acc (T)": f"{100 * b.test_acc:.1f}%",
                     f"Phase II with train acc ≥ {100 * FIT_ACC:.0f}%": f"{100 * fit_criterion(traj, t_star).share_fit:.0f}%"})
    return rows


def span(values, fmt) -> str:
    """``fmt`` of the smallest and the largest of ``values`` as a range, or one value where they read the same."""
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def fit_sentence(trajs, t_star: int) -> str:
    """Where the runs are, in one sentence for a page: the window in epochs, training loss and
    accuracy at t* and at T (ranges over the runs), the test accuracy, and the criterion."""
    trajs = list(trajs)
    cfg = trajs[0].cfg
    n = len(load_dataset(cfg.dataset).y_train)
    a = [fit_at(t, t_star) for t in trajs]
    b = [fit_at(t, t.cfg.steps) for t in trajs]
    crit = [fit_criterion(t, t_star) for t in trajs]
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    loss = lambda v: f"{v:.3g}"  # noqa: E731
    many = len(trajs) > 1
    return (f"T = {cfg.steps:,} iterations at batch {cfg.batch_size} are {epochs(cfg):.1f} epochs of the "
            f"{n:,} training images ({papers_epochs():.1f} in the papers' window); "
            f"{'over the ' + str(len(trajs)) + ' seeds, ' if many else ''}"
            f"training accuracy {span([x.train_acc for x in a], pct)} and training loss "
            f"{span([x.train_loss for x in a], loss)} at t* = {t_star:,} ({epochs(cfg, t_star):.1f} epochs), "
            f"{span([x.train_acc for x in b], pct)} and {span([x.train_loss for x in b], loss)} at T; "
            f"test accuracy {span([x.test_acc for x in a], pct)} at t* and {span([x.test_acc for x in b], pct)} at T; "
            f"the training accuracy is at or above {100 * FIT_ACC:.0f}% on "
            f"{span([c.share_fit for c in crit], lambda v: f'{100 * v:.0f}%')} of Phase II's checkpoints "
            f"({'not yet fit over most of Phase II, as in the papers' if all(c.holds for c in crit) else 'fit over most of Phase II, unlike the papers' if not any(c.holds for c in crit) else 'fit over most of Phase II in some seeds only'})")
