"""Benchmark: lib's training loop against a plain torch.utils.data.DataLoader loop, same model and data.

    python benchmarks/training.py                   # LeNet-5 and ResNet-20 width 8, 200 steps each
    python benchmarks/training.py --arch lenet5 --steps 500

Both loops start from the same initialization, take the same batches (a DataLoader with a
batch sampler yielding lib's per-iteration indices, default collation, lib's seeded crop
applied per batch) and the same learning-rate schedule, with deterministic algorithms on
2 threads. lib's loop also does what the book needs: a checkpoint every 25 iterations
(written atomically, with a checksum) and a test evaluation every 100. The final parameters
are compared: "same results" means bitwise equal.
"""
import argparse
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lib
from lib.data import augment, batch_indices
from lib.runtime import deterministic
from lib.training import learning_rate, make_optimizer


class LibBatches:
    """A batch sampler yielding lib's batch indices for iterations 0 .. steps-1."""

    def __init__(self, n, batch_size, seed, steps):
        self.n, self.batch_size, self.seed, self.steps = n, batch_size, seed, steps

    def __iter__(self):
        return (batch_indices(self.n, self.batch_size, self.seed, it).tolist() for it in range(self.steps))

    def __len__(self):
        return self.steps


def plain_loop(cfg, data):
    model = lib.build_model(cfg.arch, data.shape, data.num_classes, cfg.width, cfg.seed).train()
    opt = make_optimizer(cfg, model.parameters())
    loader = DataLoader(TensorDataset(data.x_train, data.y_train),
                        batch_sampler=LibBatches(len(data.y_train), cfg.batch_size, cfg.seed, cfg.steps))
    for it, (x, y) in enumerate(loader):
        if cfg.augment:
            x = augment(x, data.crop_pad, data.hflip, cfg.seed, it)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, it)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in model.named_parameters()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="*", default=["lenet5", "resnet20"], choices=list(lib.MODELS))
    ap.add_argument("--steps", type=int, default=None, help="default: 200")
    a = ap.parse_args()
    print("| model | steps | plain DataLoader loop | lib.train (with checkpoints and evaluation) | ratio | same final parameters |")
    print("| --- | --- | --- | --- | --- | --- |")
    for arch in a.arch:
        steps = a.steps or 200
        settings = lib.models.MODELS[arch].cpu
        cfg = lib.TrainConfig(arch=arch, steps=steps, **settings)
        data = lib.load_dataset(cfg.dataset)
        with deterministic(cfg.threads):
            t = time.perf_counter()
            plain = plain_loop(cfg, data)
            t_plain = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            traj = lib.train(cfg, lib.RunStore(tmp), progress=False, data=data)
            t_lib = time.perf_counter() - t
            ours = traj.params(steps)
        same = all(torch.equal(ours[k], plain[k]) for k in plain)
        width = f" (width {cfg.width})" if cfg.width else ""
        print(f"| {arch}{width} | {steps} | {steps / t_plain:.1f} steps/s | {steps / t_lib:.1f} steps/s | "
              f"{t_plain / t_lib:.2f}x | {'yes, bitwise' if same else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
