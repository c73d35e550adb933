"""A page's grid as independent jobs, run through submitit (locally or on a Slurm cluster).

    python -m lib sweep chaos --preset smoke                      # local executor
    python -m lib sweep chaos --preset paper --executor slurm --partition gpu --gpus 1 --time 600
    python -m lib sweep chaos --preset paper --status             # done / running / failed, with logs
    python -m lib sweep chaos --preset paper --dry-run            # the jobs, phase by phase; submits nothing

A page's work is split into jobs that each compute and store one piece in the run store
(``--store``, default ``$TWOPHASE_STORE`` or ``runs/``): first the base trajectory (or one
trajectory per seed), then one job per t0 (chaos), switch point (linear) or seed (cone,
counterexample). Every job is a call of the same `lib` function the page makes, so the page,
run later with the same parameters and store, reads the results instead of recomputing them.
A job whose marker says it finished is not submitted again; a job that is preempted or
killed resumes from the last checkpoint in the store (submitit requeues it on Slurm).

What the sweep reads back from the store is data: its markers (``sweeps/<page>/*.done``) and
job index (``sweeps/<page>/jobs.json``) are JSON, and a log path in the index is a name inside
the page's log folder, checked by `storage.inside` before it is opened. Whether a job succeeded
is its marker's word alone: submitit's result pickles are never loaded.

Each page that a sweep computes offers its jobs (`lib.pages.SWEEPS`): this module knows no page.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import storage

EXECUTORS = ("local", "slurm", "debug")
SLURM_COMMANDS = ("srun", "sbatch")


class ExecutorUnavailable(RuntimeError):
    """The chosen executor cannot run on this machine (Slurm's commands are not on PATH)."""


@dataclass(frozen=True)
class Job:
    """One piece of a page's work: ``step`` is base, seed, t0, switch or variant."""

    page: str
    step: str
    value: int | str | None
    params: tuple  # the page parameters, as sorted (name, value) pairs
    extra: tuple = ()  # page-specific parameters (size, mode, perturbation_seed, counterexample)

    @property
    def name(self) -> str:
        extra = dict(self.extra)
        draw, seed = extra.get("draw"), extra.get("train_seed")
        return (f"{self.page}-{self.step}" + ("" if self.value is None else f"-{self.value}")
                + ("" if seed is None else f"-seed{seed}") + ("" if draw is None else f"-draw{draw}"))

    @property
    def key(self) -> str:
        blob = json.dumps([self.page, self.step, self.value, list(self.params), list(self.extra)], default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _pages() -> dict:
    from .pages import SWEEPS
    return SWEEPS


def expand(page_name: str, params: dict, extra: dict | None = None) -> list[list[Job]]:
    """The page's jobs in phases (its ``jobs``, `lib.pages.SWEEPS`): every job of a phase may start
    once the previous phase is done."""
    from .checks import check_choice
    from .pages.common import setup
    check_choice("page", page_name, _pages())
    page = setup(**params, for_jobs=True)  # checks every parameter before anything is submitted
    p = tuple(sorted(params.items()))
    return [[Job(page_name, step, value, p, tuple(sorted(e.items()))) for step, value, e in phase]
            for phase in _pages()[page_name].jobs(page, dict(extra or {}))]


def run_job(job: Job, store_root: str) -> str:
    """Compute one job into the store at ``store_root`` (resuming from its checkpoints) by its page's
    ``run_job``, then write its completion marker. Runs in the worker process."""
    os.environ["TWOPHASE_STORE"] = store_root
    os.environ.setdefault("TWOPHASE_PROGRESS", "0")
    from .pages.common import setup
    _pages()[job.page].run_job(setup(**dict(job.params)), job.step, job.value, dict(job.extra))
    write_marker(Path(store_root), job)
    return job.name


def marker(root: Path, job: Job) -> Path:
    return root / "sweeps" / job.page / f"{job.name}-{job.key}.done"


def write_marker(root: Path, job: Job) -> None:
    """The job's completion marker: JSON, written atomically."""
    record = {"job": job.name, "key": job.key, "finished": time.time()}
    storage.atomic_write_bytes(marker(root, job), json.dumps(record).encode())


def is_done(root: Path, job: Job) -> bool:
    """Whether the job's marker is there and names this job. A marker of the older format (a
    checksummed torch entry) is read through `storage.load`, which loads data only; a damaged
    or foreign one counts as not done, so the job runs again and rewrites it."""
    path = marker(root, job)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return False
    if data.startswith(storage.MAGIC):
        record = storage.load_or_none(path, warn=False)
    else:
        try:
            record = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
    return isinstance(record, dict) and record.get("job") == job.name \
        and record.get("key", job.key) == job.key


class _Task:
    """A checkpointable callable: on preemption submitit requeues the same job, which resumes
    from the run store's last checkpoint."""

    def __init__(self, job: Job, store_root: str):
        self.job, self.store_root = job, store_root

    def __call__(self) -> str:
        return run_job(self.job, self.store_root)

    def checkpoint(self, *args, **kwargs):
        import submitit
        return submitit.helpers.DelayedSubmission(_Task(self.job, self.store_root))


def make_executor(kind: str, folder: Path, partition: str | None = None, gpus: int = 0, time_min: int = 240,
                  cpus: int = 2):
    from .checks import check_choice
    check_choice("executor", kind, EXECUTORS)
    if kind == "slurm":
        missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
        if missing:
            raise ExecutorUnavailable(
                f"the slurm executor needs Slurm's {'/'.join(SLURM_COMMANDS)} on PATH; not found: "
                f"{', '.join(missing)}: use --executor local")
    import submitit
    if kind == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=time_min)
        return ex
    ex = submitit.AutoExecutor(folder=str(folder), cluster=kind)
    params = dict(timeout_min=time_min, cpus_per_task=cpus, gpus_per_node=gpus, slurm_signal_delay_s=120)
    if partition:
        params["slurm_partition"] = partition
    ex.update_parameters(**params)
    return ex


def _log_folder(root: Path, page: str) -> Path:
    return root / "sweeps" / page / "logs"


def run_sweep(page: str, params: dict, extra: dict | None = None, store: str | None = None,
              executor: str = "local", partition: str | None = None, gpus: int = 0, time_min: int = 240,
              poll_s: float = 5.0, out=sys.stdout) -> dict:
    """Submit the page's jobs phase by phase, skipping finished ones; wait; report. Returns
    {'submitted': [...], 'skipped': [...], 'failed': {name: stderr path}}."""
    root = storage.RunStore(store).root
    ex = make_executor(executor, _log_folder(root, page), partition, gpus, time_min)
    report = {"submitted": [], "skipped": [], "failed": {}}
    for phase in expand(page, params, extra):
        todo = [j for j in phase if not is_done(root, j)]
        report["skipped"] += [j.name for j in phase if j not in todo]
        submitted = [(j, ex.submit(_Task(j, str(root)))) for j in todo]
        report["submitted"] += [j.name for j in todo]
        _save_index(root, page, submitted)
        while submitted:
            done = sum(s.done() for _, s in submitted)
            print(f"[{page}] {done}/{len(submitted)} jobs of this phase finished; "
                  f"{len(report['skipped'])} skipped as already stored", file=out, flush=True)
            if done == len(submitted):
                break
            time.sleep(poll_s)
        # a job succeeded if its JSON marker is in the store: submitit's result pickles (in the log
        # folder, inside the store) are never unpickled here
        report["failed"].update({j.name: str(s.paths.stderr) for j, s in submitted if not is_done(root, j)})
        if report["failed"]:
            break  # later phases need this one
    print(format_status(status(page, params, extra, store)), file=out)
    for name, log in report["failed"].items():
        print(f"FAILED {name}: see {log}", file=out)
    return report


def _index_path(root: Path, page: str) -> Path:
    return root / "sweeps" / page / "jobs.json"


def _read_index(root: Path, page: str) -> dict:
    """The page's job index ({job name: record}), read as JSON; {} if missing or not an index."""
    path = _index_path(root, page)
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        warnings.warn(f"[store] {path}: not a job index ({err}); ignored", storage.StoreWarning, stacklevel=2)
        return {}
    if not isinstance(index, dict):
        warnings.warn(f"[store] {path}: not a job index; ignored", storage.StoreWarning, stacklevel=2)
        return {}
    return {k: v for k, v in index.items() if isinstance(v, dict)}


def _log_name(root: Path, page: str, path) -> str:
    """A submitit log path as the index stores it: relative to the page's log folder."""
    folder = _log_folder(root, page).expanduser().absolute()
    try:
        return Path(path).absolute().relative_to(folder).as_posix()
    except ValueError:
        return Path(path).name


def _log_path(root: Path, page: str, recorded) -> Path | None:
    """The log file an index record names, inside the page's log folder, or None (with a
    warning) when the record's path is absolute elsewhere, climbs out with ``..`` or resolves
    outside the folder. An absolute path inside the folder (indices written before paths
    were stored relative) is accepted."""
    folder = _log_folder(root, page)
    rel = recorded
    if isinstance(recorded, str) and Path(recorded).is_absolute():
        try:
            rel = Path(recorded).relative_to(folder.expanduser().absolute()).as_posix()
        except ValueError:
            pass
    try:
        return storage.inside(folder, rel)
    except storage.UnsafePath as err:
        warnings.warn(f"[store] {_index_path(root, page)}: log path ignored: {err}", storage.StoreWarning,
                      stacklevel=2)
        return None


def _save_index(root: Path, page: str, submitted) -> None:
    path = _index_path(root, page)
    old = _read_index(root, page)
    for j, s in submitted:
        old[j.name] = {"job_id": str(s.job_id), "stderr": _log_name(root, page, s.paths.stderr),
                       "stdout": _log_name(root, page, s.paths.stdout), "key": j.key}
    storage.atomic_write_bytes(path, json.dumps(old, indent=1).encode())


def status(page: str, params: dict, extra: dict | None = None, store: str | None = None) -> dict:
    """Each job's state: done (marker in the store), failed (its log ends in a traceback),
    running (submitted, no marker yet) or pending (never submitted); with log paths."""
    root = storage.RunStore(store).root
    index = _read_index(root, page)
    out = {}
    for phase in expand(page, params, extra):
        for j in phase:
            info = index.get(j.name) if index.get(j.name, {}).get("key") == j.key else None
            log = _log_path(root, page, info.get("stderr")) if info else None
            if is_done(root, j):
                state = "done"
            elif info is None:
                state = "pending"
            else:
                text = log.read_text(errors="replace") if log is not None and log.is_file() else ""
                state = "failed" if "Traceback" in text else "running"
            out[j.name] = {"state": state, **({"stderr": str(log.absolute())} if log is not None else {})}
    return out


def format_status(st: dict) -> str:
    counts = {s: sum(v["state"] == s for v in st.values()) for s in ("done", "running", "failed", "pending")}
    lines = [", ".join(f"{n} {s}" for s, n in counts.items())]
    lines += [f"  failed: {name}  log: {v.get('stderr')}" for name, v in st.items() if v["state"] == "failed"]
    return "\n".join(lines)


def format_plan(page: str, params: dict, extra: dict | None = None, store: str | None = None) -> str:
    """The jobs a sweep would submit, phase by phase, each marked done (already stored: skipped)
    or to submit. Builds the job list only: nothing is trained, submitted or written."""
    root = storage.RunStore(store).root
    lines = []
    for i, phase in enumerate(expand(page, params, extra), 1):
        todo = [j for j in phase if not is_done(root, j)]
        lines.append(f"phase {i}: {len(phase)} job(s), {len(todo)} to submit")
        lines += [f"  {j.name}  {'to submit' if j in todo else 'done'}" for j in phase]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib sweep", description=__doc__.splitlines()[0])
    ap.add_argument("page", choices=list(_pages()))
    from .pages.common import PageParams  # the page parameters, declared once
    for f in dataclasses.fields(PageParams):
        env = f.metadata.get("env")
        ap.add_argument("--" + f.name.replace("_", "-"), type=f.metadata["type"],
                        default=os.environ.get(env, f.default) if env else f.default, help=f.metadata["help"] or None)
    options = {}  # each page's own options (its module's SWEEP_OPTIONS), offered for every page
    for name, module in _pages().items():
        for opt, kw in getattr(module, "SWEEP_OPTIONS", {}).items():
            if opt not in options:
                options[opt] = name
                ap.add_argument("--" + opt.replace("_", "-"), default=None, **{**kw, "help": f"{name}: {kw['help']}"})
    ap.add_argument("--store", default=None, help="run store (a shared path on a cluster); default $TWOPHASE_STORE or runs/")
    ap.add_argument("--executor", default="local", choices=EXECUTORS)
    ap.add_argument("--partition", default=None)
    ap.add_argument("--gpus", type=int, default=0)
    ap.add_argument("--time", type=int, default=240, help="minutes per job")
    ap.add_argument("--status", action="store_true", help="only report the jobs' states")
    ap.add_argument("--dry-run", action="store_true", help="only list the jobs, phase by phase; submit nothing")
    ap.add_argument("--summary", default=None, metavar="DIR",
                    help="then write a compact summary of each stored seed of the setting to DIR (lib.summary; "
                         "the book reads book/paper_runs); with --status, write it from what is stored")
    a = ap.parse_args(argv)
    params = {f.name: getattr(a, f.name) for f in dataclasses.fields(PageParams) if getattr(a, f.name) is not None}
    if "width" in params and float(params["width"]).is_integer():
        params["width"] = int(params["width"])
    extra = {k: getattr(a, k) for k in options if getattr(a, k) is not None}
    try:
        if a.status:
            print(format_status(status(a.page, params, extra, a.store)))
            if a.summary:
                write_summaries(params, a.store, a.summary)
            return 0
        if a.dry_run:
            print(format_plan(a.page, params, extra, a.store))
            return 0
        report = run_sweep(a.page, params, extra, a.store, a.executor, a.partition, a.gpus, a.time)
        if a.summary and not report["failed"]:
            write_summaries(params, a.store, a.summary)
    except (ValueError, ExecutorUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 1 if report["failed"] else 0


def write_summaries(params: dict, store: str | None, out: str) -> list:
    """`lib.pages.summaries.write_from_store` for the page parameters ``params`` in the run store ``store``."""
    from .pages.common import setup
    from .pages.summaries import write_from_store
    if store:
        os.environ["TWOPHASE_STORE"] = str(store)
    return write_from_store(setup(for_jobs=True, **params), out=out)
