"""Benchmark: lib's eNTK against the torch.func jacobian-contraction method, same model, inputs and output choice.

    python benchmarks/entk.py                       # the issue's table (ResNet-20 width 16 and LeNet-5, n = 100 and 500)
    python benchmarks/entk.py --arch resnet20 --n 100 --kind trace
    python benchmarks/entk.py --memory 1000         # peak memory of the trace eNTK of ResNet-20 at n = 1000

The baseline is PyTorch's own NTK tutorial ("Neural Tangent Kernels", torch.func):
``vmap(jacrev(f))`` over the samples, then one einsum per parameter (``Naf,Maf->NM`` for the
trace, ``Naf,Mbf->NMab`` summed... here the kernel of the reduced output for ``sum``), summed.
For a kernel of one input set with itself it computes the Jacobian once. Timed in one
process, 2 threads, the model in eval mode on the book's data (MNIST-5k, 28x28x1).
"""
import argparse
import statistics
import subprocess
import sys
import time

import torch
from torch.func import functional_call, jacrev, vmap

import lib
from lib.kernels import _reduce


def tutorial_entk(model, x, kind):
    """PyTorch's NTK tutorial, jacobian contraction, for one input set with itself (its
    Jacobian computed once, where the tutorial's function computes J(x1) and J(x2))."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def fnet_single(p, xi):
        return _reduce(functional_call(model, (p, buffers), (xi.unsqueeze(0),)).squeeze(0), kind)

    # in chunks of 100 samples: in one vmap, n = 500 (trace) needs more than the machine's 24 GiB
    chunks = [vmap(jacrev(fnet_single), (None, 0))(params, x[i:i + 100]) for i in range(0, len(x), 100)]
    jac = [torch.cat([c[k] for c in chunks]).flatten(2) for k in params]
    del chunks
    return torch.stack([torch.einsum("Naf,Maf->NM", j, j) for j in jac]).sum(0)


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def case(arch, width, n, kind, data, repeats):
    """Median wall times of the baseline and lib.entk, run alternately ``repeats`` times."""
    model = lib.build_model(arch, data.shape, data.num_classes, width).eval()
    x = data.x_train[:n]
    lib.entk(model, x[:4], kind=kind)  # warm-up (one-time allocations, oneDNN kernels)
    t_ours, t_base = [], []
    for _ in range(repeats):
        ours, t = timed(lambda: lib.entk(model, x, kind=kind))
        t_ours.append(t)
        with torch.no_grad():
            base, t = timed(lambda: tutorial_entk(model, x, kind))
        t_base.append(t)
        rel = float((ours.double() - base.double()).abs().max() / base.double().abs().max())
        del base
    return statistics.median(t_base), statistics.median(t_ours), rel


def memory(n):
    """Run the trace eNTK of ResNet-20 (width 16) at n in a fresh process; report its peak RSS."""
    code = (f"import resource, time, torch, lib; torch.set_num_threads(2); "
            f"d = lib.load_dataset('mnist5k'); m = lib.build_model('resnet20', d.shape, d.num_classes, 16); "
            f"base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t = time.perf_counter(); "
            f"K = lib.entk(m, d.x_train[:{n}], kind='trace'); "
            f"print(time.perf_counter() - t, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, K.shape[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    secs, base, peak = float(out[0]), int(out[1]), int(out[2])
    print("| what | n | wall time | peak RSS of the process | before the kernel |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| `trace` eNTK, ResNet-20 width 16 | {n} | {secs:.1f} s | {peak / 2**20:.2f} GiB | {base / 2**20:.2f} GiB |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", nargs="*", default=["resnet20", "lenet5"], choices=list(lib.MODELS))
    ap.add_argument("--n", nargs="*", type=int, default=[100, 500])
    ap.add_argument("--kind", nargs="*", default=["trace", "sum"])
    ap.add_argument("--repeats", type=int, default=3, help="alternate runs of each; medians reported")
    ap.add_argument("--memory", type=int, default=None, help="only the peak-memory run at this n")
    a = ap.parse_args()
    if a.memory:
        return memory(a.memory)
    torch.set_num_threads(2)
    data = lib.load_dataset("mnist5k")
    widths = {"resnet20": 16, "vgg16": 64}
    print("| model | n | kind | torch.func jacobian contraction | lib.entk | speed-up | max rel. difference |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for arch in a.arch:
        for n in a.n:
            for kind in a.kind:
                t_base, t_ours, rel = case(arch, widths.get(arch), n, kind, data, a.repeats)
                print(f"| {arch}{f' (width {widths[arch]})' if arch in widths else ''} | {n} | `{kind}` | "
                      f"{t_base:.2f} s | {t_ours:.2f} s | {t_base / t_ours:.1f}x | {rel:.1e} |", flush=True)


if __name__ == "__main__":
    main()
