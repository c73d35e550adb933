"""Where a candidate default setting is in training: the measurement the default is chosen by.

    python benchmarks/regime.py                # every candidate, seeds 0 and 1
    python benchmarks/regime.py --seeds 0 1 2

The papers' window (10^4 iterations of CIFAR-10 at batch 128, 25.6 epochs) is one over which the
network is still fitting its training set. For each candidate (LeNet-5, the default preset's
T = 2000 and recipe, one dataset and augmentation choice) this trains the seeds, computes each
run's kernels and own transition point t* (`lib.pages.cone.run_t_star`), and prints the epochs of
the window, the training accuracy at t*, at the middle of Phase II and at T, the share of Phase
II with the training set fit (`lib.fit.fit_criterion`: training accuracy >= 95%), the test
accuracy at T (the room a linearized run has to lose), and the cost of a step and of a test
evaluation. The criterion: the training set not yet fit over most of Phase II, and the test
accuracy well below its ceiling.
"""
import argparse
import time

import numpy as np

import lib
from lib import fit
from lib.pages import common, cone

CANDIDATES = {
    "MNIST-5k, augmentation": dict(dataset="mnist5k"),
    "MNIST-5k, no augmentation": dict(dataset="mnist5k", augment=False),
    "Fashion-MNIST, augmentation": dict(dataset="fashion-mnist"),
    "Fashion-MNIST, no augmentation": dict(dataset="fashion-mnist", augment=False),
}


def measure(name: str, change: dict, seeds) -> dict:
    dataset = change["dataset"]
    page = common.setup(preset="default", dataset=dataset, **{k: v for k, v in change.items() if k != "dataset"})
    out = dict(candidate=name, seeds=[], t_star=[], acc_t=[], acc_mid=[], acc_T=[], share=[], test_T=[])
    for s in seeds:
        cfg = page.with_cfg(seed=s).cfg
        traj = lib.train(cfg)
        k = lib.kernels.trajectory_kernels(traj, **page.kernel.kwargs)
        t = cone.run_t_star(k, common.window_end(cfg))
        t = t if t is not None else int(0.2 * cfg.steps)
        c = fit.fit_criterion(traj, t)
        out["seeds"].append(s)
        out["t_star"].append(t)
        out["acc_t"].append(fit.fit_at(traj, t).train_acc)
        out["acc_mid"].append(c.acc_mid)
        out["acc_T"].append(fit.fit_at(traj, cfg.steps).train_acc)
        out["share"].append(c.share_fit)
        out["test_T"].append(fit.fit_at(traj, cfg.steps).test_acc)
    cfg = page.cfg
    out["epochs"] = fit.epochs(cfg)
    out["step_ms"] = 1e3 * lib.training.step_seconds(cfg)
    data = lib.load_dataset(dataset)
    model = lib.build_model(cfg.arch, data.shape, data.num_classes, cfg.width, 0)
    t0 = time.perf_counter()
    lib.training.evaluate(model, data.x_test, data.y_test)
    out["eval_s"] = time.perf_counter() - t0
    return out


def table(rows) -> str:
    pct = lambda v: " / ".join(f"{100 * x:.1f}" for x in v)  # noqa: E731
    lines = ["| candidate | epochs (T) | t* per seed | train acc at t* (%) | at mid Phase II (%) | at T (%) | "
             "Phase II fit (train acc >= 95%) | test acc at T (%) | step | test evaluation |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['candidate']} | {r['epochs']:.1f} | {' / '.join(map(str, r['t_star']))} | {pct(r['acc_t'])} | "
                     f"{pct(r['acc_mid'])} | {pct(r['acc_T'])} | {' / '.join(f'{100 * x:.0f}%' for x in r['share'])} | "
                     f"{pct(r['test_T'])} | {r['step_ms']:.1f} ms | {r['eval_s']:.2f} s |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--only", default=None, help="candidates whose name contains this")
    args = ap.parse_args()
    rows = []
    for name, change in CANDIDATES.items():
        if args.only and args.only not in name:
            continue
        t0 = time.perf_counter()
        rows.append(measure(name, change, args.seeds))
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    print(table(rows))
    crit = {r["candidate"]: bool(np.all(np.array(r["share"]) <= fit.FIT_SHARE)) for r in rows}
    print(f"\nnot fit over most of Phase II (share <= {fit.FIT_SHARE:g}): {crit}")


if __name__ == "__main__":
    main()
