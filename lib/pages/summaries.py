"""A page's stored runs written as compact summaries (`lib.summary`), for the page "At the papers'
scale" (`lib.pages.paper`) to read on another machine: ``python -m lib sweep <page> --summary DIR``
calls `write_from_store`. The summary format knows no page; what a page's setting is (its seeds,
its chaos grid and draws, its kernel) is read here.
"""
from __future__ import annotations

from pathlib import Path

from .. import perturbation as P
from .. import storage, summary
from ..training import train, trained
from .chaos import chaos_grid, perturbations
from .common import PageSetup, seeds as page_seeds


def write_from_store(page: PageSetup, seeds=None, out: Path | None = None, progress=print) -> list[Path]:
    """Write the summary of each seed of the page's setting that the run store holds (training
    nothing; kernels and noise floors are computed where missing), with the chaos branches and seed
    pairs it holds; returns the paths written. ``seeds``: default the page's; ``out``: the folder
    (default `summary.summary_dir`)."""
    out = summary.summary_dir() if out is None else Path(out)
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
        summ = summary.summarize(traj, page.kernel, chaos, pairs)
        written.append(summary.write(out / summary.file_name(traj.cfg), summ))
        progress(f"seed {s}: {written[-1]} ({written[-1].stat().st_size / 1e3:.0f} kB)")
    return written
