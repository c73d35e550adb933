"""Compact summaries of stored runs, for results computed elsewhere (the papers' scale, on a GPU).

A summary holds one training seed of one setting: the raw and centered kernel distance S between
every pair of checkpoints, the instrument's noise floors, the training and test loss and accuracy
at every checkpoint, the chaos branches' barriers per t0 and draw where they are stored, the loss
barriers between this seed and the later seeds of its setting, and how it was computed (the
training configuration, the kernel, the arithmetic, the wall time of training). One ``.npz`` file,
a few hundred kB for 10^4 iterations; `write` stores it atomically with a SHA-256 of its content,
`read` checks it.

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
from .kernels import noise_checkpoints, noise_floor, pairwise_distances, trajectory_kernels
from .training import TrainConfig, Trajectory, train, trained

FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent
SUMMARY_DIR = ROOT / "book" / "paper_runs"  # where the book reads them ($TWOPHASE_SUMMARIES overrides)
METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


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


def summarize(traj: Trajectory, kernel, chaos_rows=(), pair_rows=(), wall_s: float | None = None) -> dict:
    """The summary of one stored run (see the module docstring). ``kernel``: the `KernelSpec` whose
    series is stored; ``chaos_rows``: (t0, draw, barrier_test, disagreement) per stored branch;
    ``pair_rows``: (other seed, barrier_test, disagreement) against later seeds; ``wall_s``: the
    training wall time (None: the one the run recorded)."""
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
                noise_iterations=late, metrics=list(METRICS))
    return dict(meta=meta, iterations=np.asarray(its, dtype=np.int64),
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
    """A summary written by `write`; `BadSummary` (naming the file) if it is damaged or not one."""
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta_text, digest = str(data.pop("meta")), str(data.pop("sha256"))
        meta = json.loads(meta_text)
    except Exception as err:  # zip, npy and json errors come in many types
        raise BadSummary(f"{path}: not a readable run summary ({type(err).__name__}: {err})") from err
    if meta.get("format") != FORMAT:
        raise BadSummary(f"{path}: summary format {meta.get('format')!r}; this version reads {FORMAT}")
    if _digest(meta_text, data) != digest:
        raise BadSummary(f"{path}: its content does not match its SHA-256 (damaged); write it again from the run store")
    return dict(meta=meta, **data)


def load_all(folder: Path | None = None) -> tuple[list[dict], list[str]]:
    """Every summary in ``folder`` (default `summary_dir`), each with its ``path``; and one line per
    file that could not be read (it is left out, not silently)."""
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
    s = dict(summary["meta"]["setting"])
    s["milestones"] = tuple(s["milestones"])
    return TrainConfig(**s)


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


def from_store(page, seeds=None, out: Path | None = None, progress=print) -> list[Path]:
    """Write the summary of each seed of the page's setting that the run store holds (training
    nothing; kernels and noise floors are computed where missing), with the chaos branches and seed
    pairs it holds; returns the paths written. ``out``: the folder (default `summary_dir`)."""
    from .pages.chaos import chaos_grid, perturbations
    from .pages.common import seeds as page_seeds
    from . import perturbation as P
    out = summary_dir() if out is None else Path(out)
    seeds = list(page_seeds(page) if seeds is None else seeds)
    written, trajs = [], {}
    for s in seeds:  # runs already trained only: a summary trains nothing
        cfg = page.with_cfg(seed=s).cfg
        if trained(cfg):
            trajs[s] = train(cfg)
        else:
            progress(f"seed {s}: not in the run store; compute it with python -m lib sweep cone --preset "
                     f"{page.preset.name} --arch {cfg.arch} --dataset {cfg.dataset} --seed {s}")
    try:
        t0s = chaos_grid(page)
    except ValueError:
        t0s = []
    draws = perturbations(draws=max(page.preset.draws, page.preset.test_draws))
    for s, traj in trajs.items():
        chaos = []
        for t0 in t0s:
            for p in draws:
                if P.branch_done(P.BranchConfig(traj.cfg, t0, p), page.kernel, traj.store):
                    r = P.chaos_row(traj, t0, p, page.kernel, progress=False)
                    chaos.append((t0, p.seed, r["barrier_test"], r["disagreement"]))
        pairs = []
        for o, other in trajs.items():
            f = traj.path / f"seedpair_{other.path.name}_{page.kernel.key}.pt"
            c = storage.load_or_none(f) if o > s and f.exists() else None
            if c is not None:
                pairs.append((o, c["barrier_test"], c["disagreement"]))
        summ = summarize(traj, page.kernel, chaos, pairs)
        written.append(write(out / file_name(traj.cfg), summ))
        progress(f"seed {s}: {written[-1]} ({written[-1].stat().st_size / 1e3:.0f} kB)")
    return written

