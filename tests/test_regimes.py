"""The regime instrument on real (small) runs: the noise floor it measures, the lazy control it
must call lazy, the arithmetic each run records, and a verdict that does not depend on the CPU."""
import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, tiny_config
from lib import kernels, phases, runtime, storage, training
from lib import linearization as L
from lib.kernels import KernelSpec
from lib.pages import common, judging


def test_arithmetic_is_recorded_and_not_part_of_identity(store):
    cfg = tiny_config()
    traj = training.train(cfg, store)
    rec = traj.arithmetic
    assert rec == runtime.arithmetic(cfg.threads, cfg.device)
    assert rec["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and rec["threads"] == cfg.threads
    assert traj.path.name == f"train_{storage.config_hash(cfg)}"
    assert "cpu_capability" not in (traj.path / "config.json").read_text()
    assert "CPU capability" in runtime.arithmetic_text(rec)


def test_noise_floor_sources(store):
    """BatchNorm statistics re-estimated on other batches move the kernel measurably; the other
    eNTK engine only changes rounding."""
    cfg = tiny_config(arch="resnet20", width=2, steps=40, milestones=(30,))
    traj = training.train(cfg, store)
    noise = kernels.noise_floor(traj, [20, 40], n_probe=20)
    assert set(noise) == {"arithmetic", "bn batches"}
    assert all(0 <= s < 1e-9 for s in noise["arithmetic"])
    assert all(s > 1e-9 for s in noise["bn batches"])
    again = kernels.noise_floor(traj, [20, 40], n_probe=20)  # cached: identical
    assert again == noise
    # The floor is the arithmetic source alone: with one fixed set of BN batches (any set), a kernel
    # that did not move is measured twice at S = 0, so the batch set cannot differ within a pair.
    assert kernels.noise_value(noise) == max(noise["arithmetic"]) < min(noise["bn batches"])
    from lib.data import probe_indices
    x = traj.data.x_train[probe_indices(traj.data, 20)]
    other = kernels.bn_batches(traj.data, seed=kernels.NOISE_BN_SEED)
    assert kernels.kernel_distance(kernels._kernel_at(traj, 40, x, "sum", other),
                                   kernels._kernel_at(traj, 40, x, "sum", other)) == 0.0
    lenet = kernels.noise_floor(training.train(tiny_config(), store), [20], n_probe=20)
    assert set(lenet) == {"arithmetic"}  # no BatchNorm: nothing else to vary


def test_lazy_control_is_lazy_and_the_base_run_is_not(store):
    """The linearized run's eNTK is constant by construction: the instrument, with the base run's
    measured noise floor, calls it lazy; the standard run itself is not."""
    cfg = tiny_config(steps=400, ckpt_every=10, eval_every=100, milestones=(400,))
    page = common.PageSetup(common.PRESETS["smoke"], cfg, KernelSpec("sum", 30, "reestimate"))
    base = training.train(cfg, store)
    lin = L.switch_run(L.SwitchConfig(cfg, 150, ckpt_every=10), store)
    assert lin.iterations[:3] == [150, 160, 170]
    p150, p400 = lin.state_dict(150), lin.state_dict(400)
    assert any(not torch.equal(p150[k], p400[k]) for k in p150 if k.startswith("theta__"))  # it trains
    k_lin = kernels.trajectory_kernels(lin, kind="sum", n_probe=30)
    assert kernels.kernel_distance(k_lin[160], k_lin[400]) < 1e-12
    dts = [10, 20, 40]
    series = {**{t: h for t, h in common.run_kernels(page, base).items() if t < 150}, **k_lin}
    lazy = judging.judge_run(page, lin, "lazy", dts, kernels=series, noise_run=base)
    assert lazy.raw.name == "lazy" and lazy.centered.name == "lazy"
    run = judging.judge_run(page, base, "base", dts)
    assert run.raw.name != "lazy" and run.raw.noise_ratio.lo > phases.NOISE_RATIO


_SCRIPT = """
import hashlib, json, torch, lib
page = lib.pages.common.setup(preset="smoke")
a = lib.pages.cone.cone_analysis(page)
w = torch.cat([p.flatten() for p in a.traj.params(page.cfg.steps).values()])
print(json.dumps({"raw": a.setting.raw.name, "centered": a.setting.centered.name,
                  "capability": torch.backends.cpu.get_cpu_capability(),
                  "params": hashlib.sha256(w.numpy().tobytes()).hexdigest()}))
"""


@pytest.mark.slow
def test_cone_verdict_same_under_two_cpu_capabilities(tmp_path):
    """The smoke-scale cone verdict (centered S, which decides) in two processes whose arithmetic
    differs on purpose (ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA one step below the native one)."""
    native = torch.backends.cpu.get_cpu_capability()
    lower = {"AVX512": ("avx2", "AVX2"), "AVX2": ("default", "SSE41")}.get(native)
    if lower is None:
        pytest.skip(f"CPU capability {native}: no lower capability to compare against")
    out = {}
    for name, extra in (("native", {}), ("lower", {"ATEN_CPU_CAPABILITY": lower[0], "ONEDNN_MAX_CPU_ISA": lower[1]})):
        env = {**os.environ, "TWOPHASE_STORE": str(tmp_path / name), "TWOPHASE_PROGRESS": "0", **extra}
        proc = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["native"]["capability"] != out["lower"]["capability"]
    assert out["native"]["params"] != out["lower"]["params"], "the arithmetic variant did not change the bits"
    # the deciding reading (centered S) must not depend on the processor; the raw one is shown beside it and
    # is known to flip near its thresholds (with a constant learning rate over T the smoke run's raw reading
    # gave no-transition under AVX-512 and drifting under AVX2)
    assert out["native"]["centered"] == out["lower"]["centered"], out
