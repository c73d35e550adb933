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

Each build also prints its cost by page and by kind of work (SGD steps, test evaluations and
checkpoint writes of base runs, perturbed branches and linearized switches; eNTKs; loss barriers;
statistics; widget frames): count x mean seconds, from the timing log that `lib.runtime.record_time`
writes when ``$TWOPHASE_TIMINGS`` names a file, and the serial share: the part of the wall time
outside pools of independent jobs (`lib.runtime.run_parallel`). For the slower CPU kind on an
AVX-512 machine: ``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/build.py --only default``.
"""
import argparse
import os
import re
import subprocess
import sys
import contextlib
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_TIME = re.compile(r"([\w-]+)\.md: Executed notebook in ([\d.]+) seconds")


def build(out: Path, store: Path, preset: str, timings: Path | None = None,
          spans: dict | None = None) -> tuple[float, dict, str]:
    """One `jupyter-book build`: (wall seconds, {page: execution seconds}, log). With ``timings``, every
    timed piece of work appends to that file (`lib.runtime.record_time`) and ``spans`` receives each
    executed page's (start, end) in wall-clock time, read from the log as it streams."""
    env = dict(os.environ, TWOPHASE_STORE=str(store), TWOPHASE_PRESET=preset, TWOPHASE_PROGRESS="0")
    if timings is not None:
        env["TWOPHASE_TIMINGS"] = str(timings)
    t = time.perf_counter()
    proc = subprocess.Popen(["jupyter-book", "build", "book/", "--path-output", str(out), "-v"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        m = PAGE_TIME.search(line)
        if m and spans is not None:
            spans[m.group(1)] = (time.time() - float(m.group(2)), time.time())
    proc.wait()
    wall = time.perf_counter() - t
    log = "".join(lines)
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{log[-3000:]}")
    return wall, {m.group(1): float(m.group(2)) for m in PAGE_TIME.finditer(log)}, log


def breakdown(timings: Path, spans: dict, wall: float) -> str:
    """The build's cost by page and by kind of work (markdown), from the timing log: count x mean
    seconds per kind, what the page spent outside them (statistics not timed, plotting, loading,
    the kernel's start), and the serial share: the part of the build's wall time outside pools of
    two or more independent jobs (`lib.runtime.run_parallel`), which more cores cannot shorten."""
    import json
    from collections import defaultdict
    recs = [json.loads(line) for line in timings.read_text().splitlines() if line.strip()] if timings.exists() else []

    def page_of(r):
        mid = r["start"] + r["seconds"] / 2
        return next((p for p, (a, b) in spans.items() if a <= mid <= b), "(outside pages)")

    rows, pooled = [], 0.0
    for page in [*sorted(spans, key=lambda p: spans[p][0]), "(outside pages)"]:
        mine = [r for r in recs if page_of(r) == page]
        pools = [r for r in mine if r["kind"] == "pool"]
        pooled += sum(r["seconds"] for r in pools if r["count"] >= 2)
        kinds = defaultdict(lambda: [0.0, 0])
        for r in mine:
            if r["kind"] != "pool":
                kinds[r["kind"]][0] += r["seconds"]
                kinds[r["kind"]][1] += r["count"]
        page_wall = spans[page][1] - spans[page][0] if page in spans else None
        if page_wall is None and not kinds:
            continue
        parallel = any(r.get("workers", 1) > 1 for r in pools)
        for kind, (secs, n) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
            rows.append(f"| {page} | {kind} | {n} | {secs / n:.3g} s | {secs:.0f} s |")
        if page_wall is not None:
            rest = page_wall - sum(v[0] for v in kinds.values())
            rows.append(f"| {page} | rest of the page{' (jobs overlapped)' if parallel else ''}: untimed statistics, "
                        f"figures, loading, kernel start | | | {rest:.0f} s |")
            rows.append(f"| **{page}** | **page total** | | | **{page_wall:.0f} s** |")
    head = ("| page | work | count | mean | total |\n| --- | --- | --- | --- | --- |\n")
    serial = 1 - pooled / wall if wall else float("nan")
    return (head + "\n".join(rows) + f"\n\nBuild wall time {fmt(wall)}; inside pools of independent jobs {fmt(pooled)}; "
            f"serial share {serial:.2f}.")


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
    ap.add_argument("--keep", default=None, help="build in this (empty) folder and keep its run store and site "
                    "(<folder>/<preset>/store, <folder>/<preset>/out) instead of a temporary one")
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
    with tempfile.TemporaryDirectory() if a.keep is None else contextlib.nullcontext(a.keep) as tmp:
        tmp = Path(tmp)
        if a.keep is not None and any(tmp.iterdir() if tmp.exists() else ()):
            raise SystemExit(f"--keep {tmp}: the folder is not empty (a cold build needs an empty run store)")
        runs = []
        if a.only in (None, "smoke"):
            runs.append(("smoke build (cold)", "smoke", tmp / "smoke"))
        if a.only in (None, "default"):
            runs += [("default build, cold", "default", tmp / "default"), ("default build, warm rebuild", "default", tmp / "default")]
        tables = []
        for label, preset, folder in runs:
            spans, timings = {}, folder / f"timings-{len(rows)}.jsonl"
            folder.mkdir(parents=True, exist_ok=True)
            wall, pages, log = build(folder / "out", folder / "store", preset, timings, spans)
            if spans:
                tables.append((label, breakdown(timings, spans, wall)))
            if a.log:
                name = label.replace(" ", "_").replace(",", "")
                Path(a.log).mkdir(parents=True, exist_ok=True)
                (Path(a.log) / f"{name}.log").write_text(log)
                if timings.exists():
                    (Path(a.log) / f"{name}.timings.jsonl").write_text(timings.read_text())
            detail = " / ".join(f"{p} {v:.0f} s" for p, v in sorted(pages.items())) or "no page executed"
            rows.append((label, wall, detail))
            print(f"{label}: {fmt(wall)} ({detail})", flush=True)
    print("\n| build (2 CPU cores) | wall time | pages executed (myst-nb execution time) |")
    print("| --- | --- | --- |")
    for label, wall, detail in rows:
        print(f"| {label} | {fmt(wall)} | {detail} |")
    for label, table in tables:
        print(f"\n{label}, by page and kind of work:\n\n{table}")


if __name__ == "__main__":  # the workers of --throughput are spawned: they import this file
    main()
