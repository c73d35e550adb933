"""Figures used by the book's pages (matplotlib; each function draws on an Axes and returns it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]


def training_curves(traj, axes=None):
    """Loss (left) and accuracy (right) against iteration: train (mean since the previous checkpoint) and test."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, style in (("train", "-"), ("test", "o-")):
        for ax, metric in zip(axes, ("loss", "acc")):
            its, vals = traj.metric(f"{name}_{metric}")
            ax.plot(its, vals, style, ms=3, label=name)
    for ax, label in zip(axes, ("cross-entropy loss", "accuracy")):
        ax.set_xlabel("iteration t")
        ax.set_ylabel(label)
        ax.legend()
        for m in traj.cfg.milestones:
            if m < traj.cfg.steps:
                ax.axvline(m, color="grey", lw=0.8, ls=":")
    axes[0].set_yscale("log")
    return axes


def kernel_heatmap(h: torch.Tensor, labels: torch.Tensor | None = None, ax=None, title: str = ""):
    """An eNTK as an image (inputs sorted by class; class boundaries drawn)."""
    ax = _ax(ax)
    h = h.double().numpy()
    lim = np.abs(h).max()
    im = ax.imshow(h, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if labels is not None:
        edges = np.flatnonzero(np.diff(labels.numpy())) + 0.5
        for e in edges:
            ax.axhline(e, color="k", lw=0.3)
            ax.axvline(e, color="k", lw=0.3)
    ax.set_xlabel("probe input j (sorted by class)")
    ax.set_ylabel("probe input i")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046)
    return ax


def distance_matrix(s: torch.Tensor, iterations, ax=None, title: str = ""):
    """A pairwise kernel-distance matrix S(H(t_i), H(t_j)), annotated if small."""
    ax = _ax(ax)
    s = s.numpy() if isinstance(s, torch.Tensor) else np.asarray(s)
    im = ax.imshow(s, cmap="viridis", vmin=0)
    ticks = range(len(iterations))
    if len(iterations) <= 12:
        ax.set_xticks(ticks, [str(t) for t in iterations], rotation=45)
        ax.set_yticks(ticks, [str(t) for t in iterations])
        for i in ticks:
            for j in ticks:
                ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if s[i, j] < 0.6 * s.max() else "k")
    ax.set_xlabel("iteration t'")
    ax.set_ylabel("iteration t")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046, label="kernel distance S")
    return ax


def series(curves: dict, ax=None, xlabel: str = "iteration t", ylabel: str = "", logy: bool = False, title: str = ""):
    """Several (x, y) curves keyed by legend label."""
    ax = _ax(ax)
    for label, (x, y) in curves.items():
        ax.plot(x, y, "-", lw=1.4, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def kernel_snapshot(kernels: dict, t: int, labels=None, ax=None):
    """The eNTK at checkpoint ``t`` with its distance to H(0) in the title (static figure and widget)."""
    from .kernels import kernel_distance
    t0 = min(kernels)
    ax = kernel_heatmap(kernels[t], labels, ax, title=f"H({t}),  S(H({t0}), H({t})) = {kernel_distance(kernels[t0], kernels[t]):.3f}")
    ax.title.set_fontsize(8)
    return ax
