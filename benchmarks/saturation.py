"""The cone claim as saturation of the kernel's motion (lib.saturation), on the book's default
setting (seeds 0..4, trained and their kernels computed through the pages' API, cached in the run
store), with the test's calibration on surrogates of the same kernels:

    TWOPHASE_STORE=/work/store_helper python benchmarks/saturation.py --rep 200

Prints Markdown: per seed the lag profile D(L) of the centered S in Phase II (t >= ``--start``)
and its verdict, the setting verdict across seeds, the false-decision rate and power at 5 seeds on
the surrogates, and the correlation-time sweep of planted bounded motions.
"""
from __future__ import annotations

import argparse
import time

import torch

from lib import saturation as S
from lib.pages import common


def series(seed: int) -> dict:
    import lib.training
    page = common.setup(preset="default", seed=seed)
    return common.run_kernels(page, lib.training.train(page.cfg))


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    return "\n".join(lines + ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows])


def fmt(e, d=2) -> str:
    return e.fmt(d) if e is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--start", type=int, default=300, help="first Phase-II iteration")
    ap.add_argument("--rep", type=int, default=200, help="surrogate replicates for the calibration")
    ap.add_argument("--sweep-rep", type=int, default=40, help="replicates per correlation time")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    kernels = [series(s) for s in range(a.seeds)]
    print(f"trained/loaded {a.seeds} seeds in {time.time() - t0:.0f} s\n")

    results = [S.judge(k, a.start) for k in kernels]
    p = results[0].profile
    print(f"## D(L), centered S, Phase II [{p.window[0]}, {p.window[1]}] (spacing {p.spacing})\n")
    rows = [{"L": lag, **{f"seed {s}": f"{r.profile.D[i]:.4g}" for s, r in enumerate(results)}}
            for i, lag in enumerate(p.lags)]
    print(table(rows) + "\n")
    print("## Per-seed verdicts\n")
    print(table([{"seed": s, "verdict": r.name, "ℓ (iterations)": fmt(r.corr_time, 0), "D∞": f"{r.plateau:.3g}",
                  "long-lag exponent": fmt(r.exponent), "VR": fmt(r.variance_ratio), "ΔAIC": f"{r.delta_aic:.1f}",
                  "power-law b": f"{r.power[1]:.2f}"} for s, r in enumerate(results)]) + "\n")
    for test in S.TESTS:
        v = S.across_seeds(results, test)
        print(f"- across seeds ({v.test}, n = {v.n}): long-lag exponent {fmt(v.exponent)} (p of > "
              f"{S.EXPONENT_SPLIT:g}: {v.p_drift:.3g}), log(ℓ/L_max) {fmt(v.log_corr_time)} (p of < 0: {v.p_cone:.3g}) "
              f"-> **{v.verdict}** (per seed: {', '.join(v.names)})")

    t1 = time.time()
    cal = S.calibrate(kernels, a.start, n_seeds=5, n_rep=a.rep)
    print(f"\n## Calibration at 5 seeds, {a.rep} replicates per surrogate ({time.time() - t1:.0f} s)\n")
    print(table([{"surrogate": r.surrogate, "expected": r.expected, "power (setting)": f"{r.power:.3f}",
                  "false decision (setting)": f"{r.false_rate:.3f}", "power (per seed)": f"{r.seed_power:.3f}",
                  "false (per seed)": f"{r.seed_false_rate:.3f}", "setting verdicts": r.counts} for r in cal]))
    t2 = time.time()
    sweep = S.corr_time_sweep(kernels, a.start, n_seeds=5, n_rep=a.sweep_rep)
    window = p.window[1] - p.window[0]
    print(f"\n## Correlation-time sweep (window {window}, longest lag {p.lags[-1]}; 5 seeds, {a.sweep_rep} "
          f"replicates each; {time.time() - t2:.0f} s)\n")
    print(table([{"planted ℓ": r.surrogate.split("=")[1], "ℓ / window": f"{float(r.surrogate.split('=')[1]) / window:.3f}",
                  "cone (setting)": f"{r.power:.3f}", "drifting (setting)": f"{r.false_rate:.3f}",
                  "cone (per seed)": f"{r.seed_power:.3f}", "setting verdicts": r.counts} for r in sweep]))
    print(f"\ntotal {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
