"""Benchmark: wall time of the book builds on this machine, page by page.

    python benchmarks/build.py                 # smoke build, cold default build, warm rebuild
    python benchmarks/build.py --only smoke
    python benchmarks/build.py --throughput    # independent runs: 1 process x 2 threads vs 2 x 1
    python benchmarks/build.py --cores         # the smoke build on 1 core against all (taskset)

``--throughput`` trains independent runs (LeNet-5, and ResNet-20 width 8) one after another
with 2 threads each, and as 2 worker processes with 1 thread each (`lib.runtime.run_parallel`),
and prints steps per second of the whole batch; this is what chose ``lib.runtime.DEFAULT_THREADS``.
``--cores`` builds the smoke book under ``taskset`` on 1 core and on every core, and extrapolates
to 8 and 32 cores by Amdahl's law from the two (an extrapolation, not a measurement).

Each build runs `jupyter-book build book/` into a temporary output folder with a temporary,
empty run store (``$TWOPHASE_STORE``), so "cold" means: nothing trained, nothing cached. The warm
rebuild repeats the default build with its execution cache and run store in place, as a reader
who rebuilds after editing prose would. Page times are myst-nb's own execution times.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_TIME = re.compile(r"([\w-]+)\.md: Executed notebook in ([\d.]+) seconds")


def build(out: Path, store: Path, preset: str) -> tuple[float, dict, str]:
    env = dict(os.environ, TWOPHASE_STORE=str(store), TWOPHASE_PRESET=preset, TWOPHASE_PROGRESS="0")
    t = time.perf_counter()
    proc = subprocess.run(["jupyter-book", "build", "book/", "--path-output", str(out), "-v"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{log[-3000:]}")
    return wall, {m.group(1): float(m.group(2)) for m in PAGE_TIME.finditer(log)}, log


def _train_job(cfg) -> None:
    from lib.training import train
    train(cfg, progress=False)


def throughput(archs=("lenet5", "resnet20"), n_runs: int = 4) -> list[tuple]:
    """Steps per second of ``n_runs`` independent runs: sequential with 2 threads, and 2 workers x 1
    thread (and 2 workers x 2 threads with passive OpenMP waits, what oversubscription costs)."""
    from lib import runtime
    from lib.training import TrainConfig
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import build as this  # workers are spawned: they find the job by its module's name, not as __main__
    rows = []
    for arch in archs:
        kw = dict(width=8, momentum=0.9, steps=60) if arch == "resnet20" else dict(steps=400)
        for label, threads, workers in (("1 process x 2 threads", 2, 1), ("2 processes x 1 thread", 1, 2),
                                        ("2 processes x 2 threads", 2, 2)):
            with tempfile.TemporaryDirectory() as store:
                os.environ.update(TWOPHASE_STORE=store, TWOPHASE_WORKERS=str(workers), TWOPHASE_PROGRESS="0")
                cfgs = [TrainConfig(arch=arch, threads=threads, seed=100 + k, milestones=(), **kw) for k in range(n_runs)]
                t = time.perf_counter()
                runtime.run_parallel(this._train_job, cfgs, threads=threads, progress=False)
                wall = time.perf_counter() - t
            rows.append((arch, label, n_runs * kw["steps"] / wall, wall))
            print(f"{arch}, {label}: {rows[-1][2]:.1f} steps/s ({wall:.0f} s for {n_runs} runs)", flush=True)
    os.environ.pop("TWOPHASE_WORKERS", None)
    return rows


def cores_scaling() -> list[tuple]:
    """The smoke build on 1 core and on all cores (taskset), and Amdahl's extrapolation."""
    from lib.runtime import cores
    n = cores()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in (1, n):
            env_cmd = ["taskset", "-c", ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:k])]
            t = time.perf_counter()
            proc = subprocess.run(env_cmd + ["jupyter-book", "build", "book/", "--path-output", f"{tmp}/o{k}"], cwd=ROOT,
                                  env=dict(os.environ, TWOPHASE_STORE=f"{tmp}/s{k}", TWOPHASE_PRESET="smoke",
                                           TWOPHASE_PROGRESS="0"), capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"build failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
            out.append((k, time.perf_counter() - t))
            print(f"smoke build on {k} core(s): {fmt(out[-1][1])}", flush=True)
    (c1, t1), (cn, tn) = out
    if cn > 1:
        # t(c) = t1 * (s + (1 - s) / c): the serial share s from the two measurements
        s = max(0.0, min(1.0, (tn / t1 - 1 / cn) / (1 - 1 / cn)))
        for c in (8, 32):
            out.append((c, t1 * (s + (1 - s) / c)))
            print(f"extrapolated to {c} cores (serial share {s:.2f}): {fmt(out[-1][1])}", flush=True)
    return out


def fmt(s: float) -> str:
    return f"{int(s // 60)} min {s % 60:.0f} s" if s >= 60 else f"{s:.0f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["smoke", "default"], default=None)
    ap.add_argument("--log", default=None, help="also write the build logs to this folder")
    ap.add_argument("--throughput", action="store_true", help="only the independent-runs table")
    ap.add_argument("--cores", action="store_true", help="only the smoke build on 1 core against all")
    a = ap.parse_args()
    if a.throughput:
        rows = throughput()
        print("\n| model | layout | steps/s (all runs together) | wall time |\n| --- | --- | --- | --- |")
        for arch, label, sps, wall in rows:
            print(f"| {arch} | {label} | {sps:.1f} | {wall:.0f} s |")
        return
    if a.cores:
        rows = cores_scaling()
        print("\n| cores | smoke build |\n| --- | --- |")
        for k, wall in rows:
            print(f"| {k}{' (extrapolated)' if k > len(os.sched_getaffinity(0)) else ''} | {fmt(wall)} |")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = []
        if a.only in (None, "smoke"):
            runs.append(("smoke build (cold)", "smoke", tmp / "smoke"))
        if a.only in (None, "default"):
            runs += [("default build, cold", "default", tmp / "default"), ("default build, warm rebuild", "default", tmp / "default")]
        for label, preset, folder in runs:
            wall, pages, log = build(folder / "out", folder / "store", preset)
            if a.log:
                Path(a.log).mkdir(parents=True, exist_ok=True)
                (Path(a.log) / f"{label.replace(' ', '_').replace(',', '')}.log").write_text(log)
            detail = " / ".join(f"{p} {v:.0f} s" for p, v in sorted(pages.items())) or "no page executed"
            rows.append((label, wall, detail))
            print(f"{label}: {fmt(wall)} ({detail})", flush=True)
    print("\n| build (2 CPU cores) | wall time | pages executed (myst-nb execution time) |")
    print("| --- | --- | --- |")
    for label, wall, detail in rows:
        print(f"| {label} | {fmt(wall)} | {detail} |")


if __name__ == "__main__":  # the workers of --throughput are spawned: they import this file
    main()
