"""Campaigns: what a page reads but the book's build cannot afford, computed on CPUs and stored as
summaries (`lib.summary`) in the repository.

    python -m lib campaign confirmatory             # LeNet-5, Fashion-MNIST, T = 10^4, seeds 5-9 (the protocol's)
    python -m lib campaign paper                    # ResNet-20 at the papers' window on Fashion-MNIST
    python -m lib campaign settings                 # the appendix's map of settings
    python -m lib campaign paper --status           # done / pending per seed, the remaining CPU time
    python -m lib campaign confirmatory --store /scratch/runs --out book/paper_runs

A campaign is a list of entries, each a page's sweep (``cone``: every seed trained with its kernels;
``linear``: the linear page's jobs, then the switched runs of every seed) over its seeds. The jobs
run here one after another, through the sweep's own jobs and completion markers
(`lib.sweep.run_job`), so ``python -m lib sweep`` and a campaign share their work. Each seed's
summary is written into the summary folder (``--out``, default `lib.summary.summary_dir`) as soon as
that seed is done, and never rewritten once it holds what its entry computes: an interrupted
campaign keeps every finished seed and, run again, resumes from the run store's last checkpoints.

The run store (``--store``, default ``$TWOPHASE_STORE`` or ``runs/``) may live outside the work
tree; the summaries are what is committed. Each summary records the protocol in force, the
arithmetic, the training wall time and the campaign's own measured seconds for that seed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import storage, summary
from .checks import check_choice


@dataclass(frozen=True)
class Entry:
    """One setting of a campaign: ``page`` (cone or linear), the page parameters and training overrides
    ``params`` (as `lib.pages.common.setup` takes them, without a seed) and the training ``seeds``."""

    page: str
    params: dict
    seeds: tuple
    note: str = ""

    def setup(self, seed: int):
        from .pages.common import setup
        return setup(**self.params, seed=seed, for_jobs=True)


def _grid_entries() -> tuple:
    """The appendix's grid (`lib.pages.settings.SETTINGS_GRID`) at the default preset, 3 seeds each."""
    from .pages.settings import campaign_params
    return tuple(Entry("cone", p, (0, 1, 2), note=n) for n, p in campaign_params())


FASHION_T4 = dict(preset="default", arch="lenet5", dataset="fashion-mnist", steps=10_000)
CAMPAIGNS = {
    # the protocol's confirmatory runs (protocol/claims.toml: confirmatory_setting, confirmatory_seeds)
    "confirmatory": lambda: (Entry("cone", FASHION_T4, (5, 6, 7, 8, 9), "the confirmatory kernels"),
                             Entry("linear", FASHION_T4, (5, 6, 7, 8, 9), "the confirmatory switched runs")),
    # ResNet-20 at the papers' window: width 8 (width 16 costs 0.31 s a step here, about 52 min of
    # training a seed before its kernels); checkpoints every 50 iterations (201 eNTKs a seed)
    "paper": lambda: (Entry("cone", dict(preset="default", arch="resnet20", width=8, dataset="fashion-mnist",
                                         steps=10_000, ckpt_every=50), (0, 1, 2), "ResNet-20 at the papers' window"),),
    "settings": _grid_entries,
    # the chaos claims' replicates (protocol/claims.toml: chaos_setting, chaos_seeds, chaos_copies)
    "chaos": lambda: (Entry("chaos", dict(preset="default", arch="lenet5", dataset="fashion-mnist", steps=2000),
                            (5, 6, 7), "perturbed and SGD-noise copies"),),
    # the smallest campaign: the tests run it end to end
    "smoke": lambda: (Entry("cone", dict(preset="smoke", steps=60, n_probe=10), (0, 1), "smoke"),),
    "smoke-chaos": lambda: (Entry("chaos", dict(preset="smoke", steps=60, n_probe=10), (0,), "smoke"),),
}


def entries(name: str) -> tuple:
    check_choice("campaign", name, CAMPAIGNS)
    return CAMPAIGNS[name]()


def _root(store) -> Path:
    return storage.RunStore(store).root


def _log_path(root: Path, name: str) -> Path:
    return root / "campaigns" / f"{name}.json"


def _read_log(root: Path, name: str) -> dict:
    try:
        data = json.loads(_log_path(root, name).read_text())
        return data if isinstance(data, dict) else {}
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _log(root: Path, name: str, key: str, record: dict) -> None:
    data = _read_log(root, name)
    data[key] = record
    storage.atomic_write_bytes(_log_path(root, name), json.dumps(data, indent=1, sort_keys=True).encode())


def _cfg(entry: Entry, seed: int):
    """The run a seed's summary describes: the page's configuration; for chaos its annealed one."""
    cfg = entry.setup(seed).cfg
    if entry.page == "chaos":
        from .instability import anneal_config
        cfg = anneal_config(cfg, _anneal_steps(entry))
    return cfg


def _anneal_steps(entry: Entry) -> int | None:
    """The protocol's anneal, except at the smoke preset (a quarter of its T)."""
    return entry.params["steps"] // 4 if entry.params.get("preset") == "smoke" else None


def _summary_path(out: Path, entry: Entry, seed: int) -> Path:
    return out / summary.file_name(_cfg(entry, seed))


def _holds(path: Path, entry: Entry) -> bool:
    """Whether the summary at ``path`` holds what ``entry`` computes (a linear entry: its switched runs)."""
    if not path.exists():
        return False
    try:
        s = summary.read(path)
    except summary.BadSummary:
        return False
    return {"linear": "linear_at", "chaos": "copies"}.get(entry.page, "s_raw") in s


def _job(entry: Entry, step: str, value, seed: int):
    from .sweep import Job
    params = dict(entry.params, seed=seed)
    return Job(entry.page, step, value, tuple(sorted(params.items())))


def _jobs(entry: Entry) -> list:
    """The sweep jobs of ``entry``, in order: a cone entry's one per seed; a linear entry's its page's phases."""
    from .sweep import expand
    if entry.page == "cone":
        return [_job(entry, "seed", s, s) for s in entry.seeds]
    if entry.page == "chaos":
        return []
    return [j for phase in expand(entry.page, dict(entry.params, seed=entry.seeds[0])) for j in phase]


def _linear_rows(entry: Entry) -> dict:
    """{seed: the `summary.summarize` ``linear`` argument} from the stored switched runs."""
    from .pages.linear import linear_sweep
    page = entry.setup(entry.seeds[0])
    ls = linear_sweep(page)
    out = {}
    for d in ls.per_seed:
        if d["at"] is None:
            continue
        grid = [(t, ls.final[t]["test_acc"], ls.final[t]["test_loss"]) for t in ls.switch] if d["seed"] == page.cfg.seed else []
        late = d["late"] or {"test_acc": float("nan"), "test_loss": float("nan")}
        last = max([t for t in ls.switch if t < page.cfg.steps], default=float("nan"))
        at = (d["switch"], d["standard"]["test_acc"], d["standard"]["test_loss"], d["at"]["test_acc"], d["at"]["test_loss"],
              last, late["test_acc"], late["test_loss"])
        out[d["seed"]] = dict(grid=grid, at=at, correct=d["correct"])
    return out


def _last_for(name: str, seed: int):
    """The last entry of campaign ``name`` that writes ``seed``'s summary (a cone entry followed by a linear
    one over the same setting: the linear entry's summary holds both)."""
    return [e for e in entries(name) if seed in e.seeds][-1]


def _write(entry: Entry, seed: int, out: Path, name: str, seconds: float | None, linear: dict | None) -> Path:
    from .training import train
    page = entry.setup(seed)
    traj = train(page.cfg)
    s = summary.summarize(traj, page.kernel, linear=linear, campaign=name)
    s["meta"]["campaign_s"] = seconds
    return summary.write(out / summary.file_name(page.cfg), s)


def run(name: str, store: str | None = None, out: str | Path | None = None, progress=print, stop_after: int | None = None,
        rewrite: bool = False) -> list[Path]:
    """Run the campaign ``name``: every job not yet done, one after another, each seed's summary written
    as soon as the seed is done. ``stop_after``: stop after this many seeds were completed in this call
    (the tests' interruption); ``rewrite``: write every summary again from the run store (after this
    version changed what a summary holds; the seconds measured before are kept). Returns the summaries written."""
    from .sweep import is_done, run_job
    root = _root(store)
    os.environ["TWOPHASE_STORE"] = str(root)
    out = summary.summary_dir() if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, completed = [], 0
    for entry in entries(name):
        if entry.page == "cone":
            for seed, job in zip(entry.seeds, _jobs(entry)):
                path = _summary_path(out, entry, seed)
                if _holds(path, entry) and (not rewrite or entry != _last_for(name, seed)):
                    continue
                began = time.perf_counter()
                if not is_done(root, job):
                    progress(f"[{name}] {job.name}: {entry.note}")
                    run_job(job, str(root))
                seconds = time.perf_counter() - began
                _log(root, name, job.name + "-" + job.key, {"seconds": seconds, "steps": entry.setup(seed).cfg.steps})
                written.append(_write(entry, seed, out, name, seconds, None))
                progress(f"[{name}] seed {seed}: {written[-1]} ({written[-1].stat().st_size / 1e3:.0f} kB)")
                completed += 1
                if stop_after is not None and completed >= stop_after:
                    return written
        elif entry.page == "chaos":
            for seed in entry.seeds:
                path = _summary_path(out, entry, seed)
                if _holds(path, entry):
                    continue
                began = time.perf_counter()
                rows = chaos_copies(entry, seed, progress=lambda m: progress(f"[{name}] seed {seed}: {m}"))
                seconds = time.perf_counter() - began
                _log(root, name, f"chaos-seed{seed}", {"seconds": seconds})
                written.append(_write_chaos(entry, seed, out, name, seconds, rows))
                progress(f"[{name}] seed {seed}: {written[-1]}")
                completed += 1
                if stop_after is not None and completed >= stop_after:
                    return written
        else:
            if all(_holds(_summary_path(out, entry, s), entry) for s in entry.seeds) and not rewrite:
                continue
            began = time.perf_counter()
            for job in _jobs(entry):
                if not is_done(root, job):
                    progress(f"[{name}] {job.name}: {entry.note}")
                    t = time.perf_counter()
                    run_job(job, str(root))
                    _log(root, name, job.name + "-" + job.key, {"seconds": time.perf_counter() - t})
            rows = _linear_rows(entry)
            seconds = time.perf_counter() - began
            logged = [v["seconds"] for k, v in _read_log(root, name).items() if k.startswith("linear-")]
            seconds = sum(logged) if rewrite and logged else seconds
            for seed in entry.seeds:
                if seed in rows:
                    written.append(_write(entry, seed, out, name, seconds / len(entry.seeds), rows[seed]))
                    progress(f"[{name}] seed {seed} with its switched runs: {written[-1]}")
    return written


CHAOS_COPIES = {"compared": (10, 3), "other": (2, 1)}  # (perturbed, SGD-noise) copies per t0 (protocol: chaos_copies)


def chaos_plan(entry: Entry, seed: int) -> list[tuple[int, str, int]]:
    """(t0, kind, copy) of every copy a seed of a chaos entry trains: the protocol's counts per t0 of the
    page's chaos grid (the smoke preset: 2 and 1 at the compared t0s, none elsewhere)."""
    from .pages.chaos import chaos_grid
    t0s = chaos_grid(entry.setup(seed))
    smoke = entry.params.get("preset") == "smoke"
    plan = []
    for t0 in t0s:
        compared = t0 in (t0s[0], t0s[-1])
        n_p, n_s = (2, 1) if smoke and compared else (0, 0) if smoke else CHAOS_COPIES["compared" if compared else "other"]
        plan += [(t0, "perturbed", k) for k in range(n_p)] + [(t0, "sgd", k) for k in range(n_s)]
    return plan


def chaos_copies(entry: Entry, seed: int, progress=print) -> list[dict]:
    """Train (or open) every copy of `chaos_plan` for ``seed`` and compare it with the annealed base run."""
    from .instability import copy_done, copy_row
    from .training import train
    page = entry.setup(seed)
    cfg = _cfg(entry, seed)
    base = train(cfg)
    rows = []
    for t0, kind, k in chaos_plan(entry, seed):
        if not copy_done(cfg, t0, kind, k, page.kernel, base.store):
            progress(f"t0 = {t0}, {kind} copy {k}")
        rows.append(copy_row(base, t0, kind, k, page.kernel))
    return rows


def _write_chaos(entry: Entry, seed: int, out: Path, name: str, seconds: float, rows: list) -> Path:
    import numpy as np

    from .instability import COLUMNS
    from .training import train
    page = entry.setup(seed)
    s = summary.summarize(train(_cfg(entry, seed)), page.kernel, campaign=name)
    s["meta"]["campaign_s"] = seconds
    s["meta"]["copies"] = list(COLUMNS)
    s["copies"] = np.asarray([[r[c] for c in COLUMNS] for r in rows], dtype=np.float64).reshape(-1, len(COLUMNS))
    return summary.write(out / summary.file_name(_cfg(entry, seed)), s)


def _step_seconds(entry: Entry, seed: int, root: Path) -> tuple[float, str]:
    """Seconds a training step of the entry's setting takes here: from a stored run's recorded wall time,
    else measured on a few steps (`training.step_seconds`)."""
    from .training import step_seconds, train, trained
    for s in entry.seeds:
        cfg = entry.setup(s).cfg
        if trained(cfg):
            wall = train(cfg).checkpoint(cfg.steps).get("wall_s")
            if wall:
                return wall / cfg.steps, f"seed {s}'s recorded training"
    return step_seconds(entry.setup(seed).cfg), "measured on 5 steps"


def status(name: str, store: str | None = None, out: str | Path | None = None) -> dict:
    """Per entry and seed: done (its summary holds the entry's results) or pending; the measured seconds of
    the done ones; an estimate of the remaining CPU time."""
    root = _root(store)
    os.environ["TWOPHASE_STORE"] = str(root)
    out = summary.summary_dir() if out is None else Path(out)
    log = _read_log(root, name)
    rows = []
    for entry in entries(name):
        jobs = _jobs(entry)
        measured = [log[j.name + "-" + j.key]["seconds"] for j in jobs if j.name + "-" + j.key in log]
        pending = [s for s in entry.seeds if not _holds(_summary_path(out, entry, s), entry)]
        step_s, how = _step_seconds(entry, entry.seeds[0], root) if pending else (None, "")
        cfg = entry.setup(entry.seeds[0]).cfg
        if not pending:
            estimate = 0.0
        elif entry.page == "cone" and measured:
            estimate = len(pending) * sum(measured) / len(measured)
            how = f"the mean of {len(measured)} finished seed(s)"
        elif entry.page == "cone":
            estimate = len(pending) * cfg.steps * step_s
            how += "; training only (the kernels add to it)"
        elif entry.page == "chaos":
            end = _cfg(entry, entry.seeds[0]).steps
            steps = len(pending) * (end + sum(end - t0 for t0, _, _ in chaos_plan(entry, entry.seeds[0])))
            estimate = steps * step_s
            how += f"; {steps:,} steps of base runs and copies, comparisons not counted"
        else:  # linear: every switched run from its switch point to T, a linearized step about 1.5 standard steps
            from .pages.linear import switch_grid
            grid = switch_grid(entry.setup(entry.seeds[0]))
            steps = sum(cfg.steps - t for t in grid if t < cfg.steps) + len(entry.seeds) * cfg.steps
            estimate = 1.5 * steps * step_s
            how += f"; {steps:,} linearized steps at 1.5 standard steps each"
        rows.append(dict(entry=entry, done=[s for s in entry.seeds if s not in pending], pending=pending,
                         seconds=measured, estimate_s=estimate, how=how))
    return dict(name=name, rows=rows, total_s=sum(r["estimate_s"] for r in rows))


def format_status(st: dict) -> str:
    lines = [f"campaign {st['name']}: about {st['total_s'] / 60:.0f} min of CPU time left on this machine"]
    for r in st["rows"]:
        e = r["entry"]
        lines.append(f"  {e.page} {e.note or ''} {json.dumps(e.params, sort_keys=True)}: done seeds {r['done'] or 'none'}, "
                     f"pending {r['pending'] or 'none'}"
                     + (f"; about {r['estimate_s'] / 60:.0f} min left ({r['how']})" if r["pending"] else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib campaign", description=__doc__.splitlines()[0])
    ap.add_argument("name", help=f"one of {sorted(CAMPAIGNS)}")
    ap.add_argument("--store", default=None, help="run store; default $TWOPHASE_STORE or runs/")
    ap.add_argument("--out", default=None, help="summary folder; default $TWOPHASE_SUMMARIES or book/paper_runs")
    ap.add_argument("--status", action="store_true", help="only report what is done and what remains")
    ap.add_argument("--rewrite", action="store_true", help="write every summary again from the run store")
    a = ap.parse_args(argv)
    try:
        if a.status:
            print(format_status(status(a.name, a.store, a.out)))
        else:
            run(a.name, a.store, a.out, rewrite=a.rewrite)
            print(format_status(status(a.name, a.store, a.out)))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
