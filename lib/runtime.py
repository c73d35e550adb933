"""Where and how the arithmetic runs: thread count, deterministic algorithms, progress bars, and the
record of the arithmetic (torch version, CPU capability, threads, device) that every run stores.

Independent runs (seeds, perturbation branches, switch points) go to `run_parallel`: as many
worker processes as the cores hold runs of ``DEFAULT_THREADS`` threads. Measured on 2 cores
(LeNet-5, default preset): two seeds trained and judged (eNTKs included) took 15 s one after the
other with 2 threads each, 23 s as two 1-thread processes; four perturbed branches 34 s one after
the other, 42 s as two 2-thread processes with passive OpenMP waiting, 178 s with spinning
waits. So runs keep 2 threads, and on 2 cores they run one after another; a machine with more
cores runs them side by side.

Bitwise determinism holds per (CPU capability, torch version, thread count, device): the same
configuration run under another one of these is another draw of the same experiment.
``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512``) and ``ONEDNN_MAX_CPU_ISA`` change the
capability on purpose, which is how the book tests that a verdict does not depend on it.
"""
from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import torch
from tqdm import tqdm

from . import storage


def announce(line: str) -> None:
    """One progress line (a finished run and its time) where the person who started the work sees
    it: inside a Jupyter kernel (a book build, papermill) the terminal the kernel was started from,
    through the copy of the original stderr that ipykernel keeps, so the line stays out of the
    page; elsewhere stderr. Silent with ``$TWOPHASE_PROGRESS=0``."""
    if not show_progress(None):
        return
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)  # ipykernel's OutStream
    if isinstance(fd, int):
        try:
            os.write(fd, (line + "\n").encode())
            return
        except OSError:
            pass
    print(line, file=sys.stderr, flush=True)


def show_progress(progress: bool | None) -> bool:
    """A progress bar unless the caller says otherwise or ``$TWOPHASE_PROGRESS=0``."""
    return (os.environ.get("TWOPHASE_PROGRESS", "1") != "0") if progress is None else progress


@contextlib.contextmanager
def deterministic(threads: int):
    """Deterministic algorithms and a fixed thread count inside the block."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def arithmetic(threads: int | None = None, device: str = "cpu") -> dict:
    """What decides the bits of a run here: torch version, CPU capability, threads, device."""
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads() if threads is None else threads, "device": device}


def arithmetic_text(record: dict | None) -> str:
    """One line for a page's setting line, e.g. 'torch 2.14.1, CPU capability AVX512, 2 threads, cpu'."""
    if not record:
        return "arithmetic not recorded"
    return (f"torch {record['torch']}, CPU capability {record['cpu_capability']}, "
            f"{record['threads']} thread{'s' if record['threads'] != 1 else ''}, {record['device']}")


TIMINGS_ENV = "TWOPHASE_TIMINGS"  # a file: every timed piece of work appends one JSON line (benchmarks/build.py)


def record_time(kind: str, seconds: float, count: int = 1, start: float | None = None, **extra) -> None:
    """Append one line ``{"kind", "seconds", "count", "start", "pid", ...}`` to the timing log named by
    ``$TWOPHASE_TIMINGS``; nothing without it. ``kind`` names the work (``"base run lenet5: SGD steps"``,
    ``"eNTK"``, ...), ``count`` how many units the seconds cover. One ``write`` on a file opened for
    appending, so worker processes can share the log."""
    path = os.environ.get(TIMINGS_ENV)
    if not path:
        return
    rec = {"kind": kind, "seconds": round(float(seconds), 4), "count": int(count),
           "start": round(time.time() - seconds if start is None else start, 3), "pid": os.getpid(), **extra}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
    finally:
        os.close(fd)


@contextlib.contextmanager
def timed(kind: str, count: int = 1, **extra):
    """`record_time` of the block's wall time under ``kind``."""
    start, t = time.time(), time.perf_counter()
    try:
        yield
    finally:
        record_time(kind, time.perf_counter() - t, count, start, **extra)


def timing(kind: str):
    """Decorator: each call's wall time goes to the timing log under ``kind`` (`timed`)."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            if not os.environ.get(TIMINGS_ENV):
                return fn(*args, **kwargs)
            with timed(kind):
                return fn(*args, **kwargs)
        return call
    return wrap


DEFAULT_THREADS = 2  # torch threads per run (measured best on 2 cores; see the module docstring)


def cores() -> int:
    """The cores this process may use (``taskset`` and cgroup affinity respected)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def workers(threads: int = DEFAULT_THREADS) -> int:
    """Worker processes for runs of ``threads`` threads each: ``$TWOPHASE_WORKERS`` if set, else
    as many as fill the cores."""
    env = os.environ.get("TWOPHASE_WORKERS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"TWOPHASE_WORKERS must be an integer >= 1; got {env!r}")
        return int(env)
    return max(1, cores() // max(1, threads))


def _init_worker(threads: int):
    os.environ["TWOPHASE_PROGRESS"] = "0"  # one line per finished run from the parent instead
    torch.set_num_threads(threads)


@contextlib.contextmanager
def _worker_env(threads: int, n_workers: int):
    """Environment the spawned workers inherit: OpenMP and BLAS pools of ``threads`` threads from
    the start (an idle pool sized for every core spins and steals the other workers' cores)."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(threads) for k in names[:3]})
    if n_workers * threads > cores():  # more threads than cores: idle threads must sleep, not spin (5x slower)
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _main_not_reimported():
    """Spawned workers re-run the parent's main script unless it is guarded by ``if __name__ ==
    "__main__"``; the jobs need nothing from it, so hide it from them while the pool lives."""
    main = sys.modules.get("__main__")
    d = main.__dict__ if main is not None else {}
    saved = {k: d[k] for k in ("__file__", "__spec__") if k in d}
    d.pop("__file__", None)
    if "__spec__" in d:
        d["__spec__"] = None
    try:
        yield
    finally:
        d.update(saved)


def _timed(fn, job):
    t = time.perf_counter()
    return fn(job), time.perf_counter() - t


def run_parallel(fn, jobs, desc: str = "runs", threads: int = DEFAULT_THREADS, label=str,
                 progress: bool | None = None) -> list:
    """``[fn(job) for job in jobs]``, computed in worker processes (``workers(threads)`` of them)
    when there is more than one job and more than one worker; results in the order of ``jobs``.

    ``fn`` must be a module-level function and the jobs picklable (workers are spawned: a fresh
    interpreter, no state shared with this one). Each finished job prints one line (`announce`)
    with its label and time; a failing job raises here. Runs are bitwise the same either way: each
    sets its own thread count (`deterministic`), and what they store goes through the run store's
    atomic writes.
    """
    jobs = list(jobs)
    if jobs:
        storage.require_stored(f"{desc}: {label(jobs[0])}{f' and {len(jobs) - 1} more' if len(jobs) > 1 else ''}")
    n = min(workers(threads), len(jobs))
    out, done, start = [None] * len(jobs), 0, time.perf_counter()
    bar = tqdm(total=len(jobs), desc=desc, disable=not show_progress(progress) or len(jobs) < 2)

    def report(k, secs):
        nonlocal done
        done += 1
        bar.update()
        if show_progress(progress):
            announce(f"[{desc}] {label(jobs[k])}: {secs:.0f} s ({done}/{len(jobs)}, {time.perf_counter() - start:.0f} s "
                     f"in all, {n} worker{'s' if n > 1 else ''})")

    with bar, timed("pool", count=len(jobs), workers=n, desc=desc):
        if n <= 1:
            for k, job in enumerate(jobs):
                out[k], secs = _timed(fn, job)
                report(k, secs)
            return out
        with _main_not_reimported(), _worker_env(threads, n), ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(threads,)) as ex:
            futures = {ex.submit(_timed, fn, job): k for k, job in enumerate(jobs)}
            for f in as_completed(futures):
                k = futures[f]
                out[k], secs = f.result()
                report(k, secs)
    return out
