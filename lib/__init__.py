"""Training and eNTK helpers for the two-phase learning-dynamics book.

One module per concept: `data`, `models`, `training`, `kernels`, `linearization`,
`perturbation`, `phases` (the regime classifier and the claims' verdicts), `runtime` (threads,
determinism, the arithmetic a run records, parallel runs), `checks` (parameter checks),
`storage`, `fit` (where a run is in training), `summary` (compact summaries of stored runs),
`protocol` (the claims registry, protocol/claims.toml), `growth` (the protocol's cone rule),
`instability` (Frankle et al.'s instability: perturbed and SGD-noise copies),
`plots` (imported on first use), and `pages` (one module per page of the book: what
it computes, judges and glues, and the presets and parameter checks they share), with the sweep
command `sweep` and the CPU campaigns `campaign`.
"""
from . import data, fit, kernels, models, pages, storage, training  # noqa: F401
from .data import DATASETS, load_dataset, probe_indices  # noqa: F401
from .kernels import entk, kernel_distance, pairwise_distances, trajectory_kernels  # noqa: F401
from .models import MODELS, build_model  # noqa: F401
from .storage import RunStore  # noqa: F401
from .training import TrainConfig, Trajectory, train  # noqa: F401

__all__ = ["data", "fit", "kernels", "models", "pages", "plots", "storage", "training", "DATASETS", "MODELS", "RunStore",
           "TrainConfig", "Trajectory", "build_model", "entk", "kernel_distance", "load_dataset",
           "pairwise_distances", "probe_indices", "train", "trajectory_kernels"]


def __getattr__(name):
    """``lib.plots`` is imported on first use, so ``import lib`` does not import matplotlib."""
    if name == "plots":
        import importlib
        return importlib.import_module(f"{__name__}.plots")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
