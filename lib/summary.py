"""Compact summaries of stored runs, for results computed elsewhere (the papers' scale, on a GPU).

A summary holds one training seed of one setting: the raw and centered kernel distance S between
every pair of checkpoints, the instrument's noise floors, the training and test loss and accuracy
at every checkpoint, the chaos branches' barriers per t0 and draw where they are stored, the loss
barriers between this seed and the later seeds of its setting, and how it was computed (the
training configuration, the kernel, the arithmetic, the wall time of training). One ``.npz`` file,
a few hundred kB for 10^4 iterations; `write` stores it atomically with a SHA-256 of its content,
`read` checks it, and checks the content whole (`problem`: the setting, the kernel, the arrays'
shapes) so that a summary it returns can be judged. `lib.pages.summaries` writes a page's stored
runs as summaries.

A summary is judged by the same instrument as the pages' runs: `kernels_from` turns its S matrix
back into a kernel series with exactly those distances (a Gram-matrix embedding, double-centered,
so the instrument's centering leaves it unchanged), which `lib.pages.paper` feeds to the functions
of the cone page and `lib.pages.verdicts`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from . import storage
from .kernels import KernelSpec, noise_checkpoints, noise_floor, pairwise_distances, trajectory_kernels
from .runtime import arithmetic_text
from .training import TrainConfig, Trajectory

FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent
SUMMARY_DIR = ROOT / "book" / "paper_runs"  # where the book reads them ($TWOPHASE_SUMMARIES overrides)
METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")
# What `read` requires of a summary besides its checksum and format: these metadata keys (others,
# such as the arithmetic, the wall time and the noise floors' iterations, are optional) and arrays.
REQUIRED_META = ("format", "setting", "kernel", "noise", "metrics")
ARRAYS = ("iterations", "s_raw", "s_centered", "metrics", "chaos", "pairs")
S_MAX = 1 + 1e-6  # S lies in [0, 1] for positive semi-definite kernels; the slack covers float32 storage


class BadSummary(ValueError):
    """A summary file that is damaged, of another format, or not a summary."""


def summary_dir() -> Path:
    return Path(os.environ.get("TWOPHASE_SUMMARIES") or SUMMARY_DIR)


def file_name(cfg: TrainConfig) -> str:
    """``<arch>-w<width>_<dataset>_T<steps>_seed<seed>_<hash>.npz``: readable, and unique per configuration."""
    width = "default" if cfg.width is None else f"{cfg.width:g}"
    return f"{cfg.arch}-w{width}_{cfg.dataset}_T{cfg.steps}_seed{cfg.seed}_{storage.config_hash(cfg)}.npz"


def _upper(m: torch.Tensor) -> np.ndarray:
    i, j = np.triu_indices(m.shape[0], 1)
    return m.numpy()[i, j].astype(np.float32)


LINEAR_GRID = ("switch", "test_acc", "test_loss")  # columns of a summary's linear_grid: Fig 2 on this seed
LINEAR_AT = ("switch", "standard_acc", "standard_loss", "switched_acc", "switched_loss", "late_switch", "late_acc",
             "late_loss")  # linear_at's columns: standard training, switched at the seed's t*, at the last switch point


def summarize(traj: Trajectory, kernel, chaos_rows=(), pair_rows=(), wall_s: float | None = None,
              linear: dict | None = None, campaign: str | None = None) -> dict:
    """The summary of one stored run (see the module docstring). ``kernel``: the `KernelSpec` whose
    series is stored; ``chaos_rows``: (t0, draw, barrier_test, disagreement) per stored branch;
    ``pair_rows``: (other seed, barrier_test, disagreement) against later seeds; ``wall_s``: the
    training wall time (None: the one the run recorded); ``linear``: the seed's switched runs, a dict
    with ``grid`` (rows of ``LINEAR_GRID``, may be empty), ``at`` (one row of ``LINEAR_AT``: switched at
    the seed's own transition point) and ``correct`` (2 x n: standard and switched 0/1 per test
    example); ``campaign``: the name of the campaign that computed it. The protocol in force
    (`lib.protocol.stamp`) and the date are recorded."""
    import datetime

    from . import protocol
    cfg = traj.cfg
    k = trajectory_kernels(traj, **kernel.kwargs)
    its = sorted(k)
    late = noise_checkpoints(its, its[-1])
    noise = {c: noise_floor(traj, late, centered=c, **kernel.kwargs) for c in (False, True)}
    last = traj.checkpoint(traj.iterations[-1])  # metrics, arithmetic and wall time: one read
    rows = {m["iteration"]: m for m in last["metrics"]}
    metrics = np.array([[np.nan if rows.get(t, {}).get(m) is None else rows[t][m] for m in METRICS] for t in its],
                       dtype=np.float64)
    setting = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    setting["milestones"] = list(setting["milestones"])
    meta = dict(format=FORMAT, setting=setting, kernel=dataclasses.asdict(kernel), arithmetic=last.get("arithmetic"),
                wall_s=last.get("wall_s") if wall_s is None else wall_s, noise={("centered" if c else "raw"): v for c, v in noise.items()},
                noise_iterations=late, metrics=list(METRICS), protocol=protocol.stamp(), campaign=campaign,
                computed=datetime.date.today().isoformat())
    extra = {}
    if linear is not None:
        meta["linear"] = dict(grid=list(LINEAR_GRID), at=list(LINEAR_AT))
        extra = dict(linear_grid=np.asarray(linear.get("grid", ()), dtype=np.float64).reshape(-1, len(LINEAR_GRID)),
                     linear_at=np.asarray(linear["at"], dtype=np.float64).reshape(1, len(LINEAR_AT)),
                     linear_correct=np.asarray(linear["correct"], dtype=np.uint8).reshape(2, -1))
    return dict(meta=meta, **extra, iterations=np.asarray(its, dtype=np.int64),
                s_raw=_upper(pairwise_distances([k[t] for t in its], False)),
                s_centered=_upper(pairwise_distances([k[t] for t in its], True)),
                metrics=metrics,
                chaos=np.asarray(chaos_rows, dtype=np.float64).reshape(-1, 4),
                pairs=np.asarray(pair_rows, dtype=np.float64).reshape(-1, 3))


def write(path: Path, summary: dict) -> Path:
    """Store ``summary`` at ``path`` atomically, with the SHA-256 of its arrays and metadata."""
    arrays = {k: v for k, v in summary.items() if k != "meta"}
    meta = json.dumps(summary["meta"], sort_keys=True, default=float)
    digest = _digest(meta, arrays)
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.array(meta), sha256=np.array(digest), **arrays)
    storage.atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _digest(meta: str, arrays: dict) -> str:
    h = hashlib.sha256(meta.encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def read(path: Path) -> dict:
    """A summary written by `write`; `BadSummary` (naming the file and what is wrong) if it is damaged,
    not one, or not one this version can judge: its setting must be a `TrainConfig` (architecture and
    dataset known), its kernel a `KernelSpec`, its metadata hold ``REQUIRED_META`` and its arrays
    (``ARRAYS``) the shapes that its checkpoints give (`problem`)."""
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta_text, digest = str(data.pop("meta")), str(data.pop("sha256"))
        meta = json.loads(meta_text)
    except Exception as err:  # zip, npy and json errors come in many types
        raise BadSummary(f"{path}: not a readable run summary ({type(err).__name__}: {err})") from err
    if not isinstance(meta, dict):
        raise BadSummary(f"{path}: not a run summary (its metadata is a {type(meta).__name__}, not a mapping)")
    if meta.get("format") != FORMAT:
        raise BadSummary(f"{path}: summary format {meta.get('format')!r}; this version reads {FORMAT}")
    if _digest(meta_text, data) != digest:
        raise BadSummary(f"{path}: its content does not match its SHA-256 (damaged); write it again from the run store")
    why = problem(meta, data)
    if why is not None:
        raise BadSummary(f"{path}: {why}")
    return dict(meta=meta, **data)


def problem(meta: dict, arrays: dict) -> str | None:
    """What makes a summary's content unusable (one sentence), or None: the checks of `read` after the
    checksum, so that every summary it returns can be judged."""
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        return f"its metadata lacks {', '.join(missing)} (a summary holds {', '.join(REQUIRED_META)})"
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        return f"it lacks the array(s) {', '.join(missing)} (a summary holds {', '.join(ARRAYS)})"
    if not isinstance(meta["setting"], dict):
        return f"its setting is not a mapping of training fields: {meta['setting']!r}"
    try:
        config(dict(meta=meta))
    except (TypeError, ValueError) as err:
        return f"its setting is not a training configuration this version knows ({type(err).__name__}: {err})"
    if not isinstance(meta["kernel"], dict):
        return f"its kernel is not a mapping of kernel fields: {meta['kernel']!r}"
    try:
        KernelSpec(**meta["kernel"])
    except (TypeError, ValueError) as err:
        return f"its kernel is not a kernel specification this version knows ({type(err).__name__}: {err})"
    why = _noise_problem(meta["noise"])
    if why is not None:
        return why
    try:
        arithmetic_text(meta.get("arithmetic"))
    except (KeyError, TypeError) as err:
        return f"its arithmetic record is incomplete ({type(err).__name__}: {err})"
    wall = meta.get("wall_s")
    if wall is not None and not (_number(wall) and wall >= 0):
        return f"its training wall time is not a number of seconds: {wall!r}"
    names = meta["metrics"]
    if not (isinstance(names, list) and all(isinstance(m, str) for m in names)
            and names == [m for m in METRICS if m in names]):
        return f"its metrics {names!r} are not some of {', '.join(METRICS)} in that order"
    its = arrays["iterations"]
    if its.ndim != 1 or its.dtype.kind not in "iu" or len(its) < 2:
        return (f"iterations must be a 1-D integer array of at least 2 checkpoints; got shape {its.shape}, "
                f"dtype {its.dtype}")
    if np.any(np.diff(its.astype(np.int64)) <= 0):
        return "its iterations are not strictly increasing"
    n = len(its)
    pairs = n * (n - 1) // 2
    for name in ("s_raw", "s_centered"):
        s = arrays[name]
        if s.shape != (pairs,) or s.dtype.kind != "f":
            return (f"{name} has shape {s.shape} (dtype {s.dtype}); {n} checkpoints need ({pairs},) floats, "
                    f"one S per pair")
        if not np.all(np.isfinite(s)):
            return f"{name} holds non-finite values"
        if s.size and (s.min() < 0 or s.max() > S_MAX):
            return f"{name} holds values outside [0, 1] (from {s.min():g} to {s.max():g})"
    m = arrays["metrics"]
    if m.shape != (n, len(names)) or m.dtype.kind != "f":
        return (f"metrics has shape {m.shape} (dtype {m.dtype}); {n} checkpoints and {len(names)} metrics "
                f"need ({n}, {len(names)}) floats")
    for name, cols, what in (("chaos", 4, "t0, draw, test barrier, disagreement"),
                             ("pairs", 3, "other seed, test barrier, disagreement")):
        a = arrays[name]
        if a.ndim != 2 or a.shape[1] != cols or a.dtype.kind not in "fiu":
            return f"{name} has shape {a.shape} (dtype {a.dtype}); ({cols} columns: {what}) expected"
    return _linear_problem(meta, arrays) or _copies_problem(meta, arrays)


def _copies_problem(meta: dict, arrays: dict) -> str | None:
    """The chaos copies, where a summary holds them (``copies`` in its metadata: `lib.instability.COLUMNS`)."""
    from .instability import COLUMNS
    if "copies" not in meta and "copies" not in arrays:
        return None
    if meta.get("copies") != list(COLUMNS) or "copies" not in arrays:
        return f"its copies' columns {meta.get('copies')!r} are not {list(COLUMNS)}, or the array is missing"
    a = arrays["copies"]
    if a.ndim != 2 or a.shape[1] != len(COLUMNS) or a.dtype.kind != "f":
        return f"copies has shape {a.shape} (dtype {a.dtype}); ({len(COLUMNS)} columns) expected"
    return None


def _linear_problem(meta: dict, arrays: dict) -> str | None:
    """The switched runs, where a summary holds them (``linear`` in its metadata, as `summarize` lays
    them out): ``linear_grid`` rows of ``LINEAR_GRID``, one ``linear_at`` row of ``LINEAR_AT``, and
    ``linear_correct`` 0/1 per test example for the standard and the switched run."""
    names = ("linear_grid", "linear_at", "linear_correct")
    if "linear" not in meta:
        held = [k for k in names if k in arrays]
        return f"it holds {', '.join(held)} but no linear metadata" if held else None
    if meta["linear"] != dict(grid=list(LINEAR_GRID), at=list(LINEAR_AT)):
        return f"its linear columns {meta['linear']!r} are not grid {list(LINEAR_GRID)}, at {list(LINEAR_AT)}"
    missing = [k for k in names if k not in arrays]
    if missing:
        return f"its linear metadata comes without the array(s) {', '.join(missing)}"
    grid, at, correct = (arrays[k] for k in names)
    if grid.ndim != 2 or grid.shape[1] != len(LINEAR_GRID) or grid.dtype.kind != "f":
        return f"linear_grid has shape {grid.shape} (dtype {grid.dtype}); ({len(LINEAR_GRID)} columns) expected"
    if at.shape != (1, len(LINEAR_AT)) or at.dtype.kind != "f":
        return f"linear_at has shape {at.shape} (dtype {at.dtype}); (1, {len(LINEAR_AT)}) floats expected"
    if (correct.ndim != 2 or correct.shape[0] != 2 or correct.dtype.kind not in "iub"
            or not np.isin(correct, (0, 1)).all()):
        return f"linear_correct has shape {correct.shape} (dtype {correct.dtype}); (2, test examples) of 0/1 expected"
    return None


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)


def _noise_problem(noise) -> str | None:
    """Noise floors as `summarize` stores them: {"raw" | "centered": {source: [S per iteration]}}."""
    if not isinstance(noise, dict) or not all(isinstance(noise.get(c), dict) for c in ("raw", "centered")):
        return "its noise floors are not {raw: {source: [S, ...]}, centered: {source: [S, ...]}}"
    for c in ("raw", "centered"):
        for source, values in noise[c].items():
            if not isinstance(values, list) or not all(_number(v) for v in values):
                return f"its {c} noise floor {source!r} is not a list of numbers: {values!r}"
    return None


def load_all(folder: Path | None = None) -> tuple[list[dict], list[str]]:
    """Every summary in ``folder`` (default `summary_dir`), each with its ``path``; and one line per
    file that `read` rejected, naming it and why (it is left out, not silently)."""
    folder = summary_dir() if folder is None else Path(folder)
    out, bad = [], []
    for p in sorted(folder.glob("*.npz")) if folder.exists() else []:
        try:
            out.append(dict(read(p), path=p))
        except BadSummary as err:
            bad.append(str(err))
    return out, bad


def config(summary: dict) -> TrainConfig:
    """The training configuration the summary was computed with."""
    return TrainConfig(**summary["meta"]["setting"])


def s_matrix(summary: dict, centered: bool) -> np.ndarray:
    """The full symmetric S matrix between the summary's checkpoints."""
    u = summary["s_centered" if centered else "s_raw"].astype(np.float64)
    n = len(summary["iterations"])
    m = np.zeros((n, n))
    i, j = np.triu_indices(n, 1)
    m[i, j] = u
    return m + m.T


def kernels_from(summary: dict, centered: bool) -> dict:
    """{iteration: matrix} whose kernel distances (raw or centered alike) are the summary's S
    (``centered`` chooses which): the Gram matrix 1 - S of unit vectors, factored, each vector laid
    into a double-centered square matrix (an orthonormal basis of such matrices), so that centering
    changes nothing."""
    its = [int(t) for t in summary["iterations"]]
    gram = 1.0 - s_matrix(summary, centered)
    w, v = np.linalg.eigh(gram)
    vecs = v * np.sqrt(np.clip(w, 0, None))  # rows: vectors with this Gram matrix
    n = len(its)
    m = int(np.ceil(np.sqrt(n))) + 1  # (m - 1)^2 >= n double-centered directions
    q, _ = np.linalg.qr(np.column_stack([np.ones(m), np.eye(m)[:, :m - 1]]))
    u = q[:, 1:]  # m x (m - 1), orthonormal, orthogonal to the ones vector
    basis = np.einsum("ia,jb->abij", u, u).reshape((m - 1) ** 2, m, m)[:n]
    mats = np.einsum("tk,kij->tij", vecs, basis)
    return {t: torch.from_numpy(mats[i].copy()) for i, t in enumerate(its)}


def metric(summary: dict, name: str) -> tuple[list[int], list[float]]:
    """(iterations, values) of one of ``METRICS`` where it was measured."""
    col = summary["meta"]["metrics"].index(name)
    vals = summary["metrics"][:, col]
    keep = np.isfinite(vals)
    return summary["iterations"][keep].tolist(), vals[keep].tolist()
