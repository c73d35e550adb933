"""Benchmark: one linearized training step against one standard step, same model and batch.

    python benchmarks/linear_step.py [--arch lenet5] [--width W] [--repeats 20]

Prints the median time of each and their ratio, measured in one run (2 threads, deterministic
algorithms, as the book trains).
"""
import argparse
import statistics
import time

import torch
from torch import nn

import lib
from lib.data import train_batch
from lib.linearization import Linearized
from lib.runtime import deterministic


def time_steps(model, x, y, repeats):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    times = []
    for i in range(repeats + 3):
        t = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 3:  # warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="lenet5", choices=list(lib.MODELS))
    ap.add_argument("--width", type=float, default=None)
    ap.add_argument("--dataset", default="mnist5k", choices=list(lib.DATASETS))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    data = lib.load_dataset(a.dataset)
    width = int(a.width) if a.width and a.width.is_integer() else a.width
    x, y = train_batch(data, a.batch_size, 0, 0, True)
    with deterministic(2):
        std = lib.build_model(a.arch, data.shape, data.num_classes, width).train()
        t_std = time_steps(std, x, y, a.repeats)
        lin = Linearized(lib.build_model(a.arch, data.shape, data.num_classes, width)).train()
        t_lin = time_steps(lin, x, y, a.repeats)
    print("| model | batch | standard step | linearized step | ratio |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| {a.arch} (width {width or 'default'}) | {a.batch_size} | {1e3 * t_std:.1f} ms | "
          f"{1e3 * t_lin:.1f} ms | {t_lin / t_std:.2f}x |")


if __name__ == "__main__":
    main()
