"""Benchmark: wall time of the book builds on this machine, page by page.

    python benchmarks/build.py                 # smoke build, cold default build, warm rebuild
    python benchmarks/build.py --only smoke

Each build runs `jupyter-book build book/` into a temporary output folder with a temporary,
empty run store (``$TWOPHASE_STORE``), so "cold" means: nothing trained, nothing cached. The warm
rebuild repeats the default build with its execution cache and run store in place, as a reader
who rebuilds after editing prose would. Page times are myst-nb's own execution times.
"""
import argparse
import os
import re
import subprocess
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


def fmt(s: float) -> str:
    return f"{int(s // 60)} min {s % 60:.0f} s" if s >= 60 else f"{s:.0f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["smoke", "default"], default=None)
    ap.add_argument("--log", default=None, help="also write the build logs to this folder")
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
