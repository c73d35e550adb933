"""Failure handling: bad page parameters through papermill, missing data offline, a training
process killed with SIGKILL and restarted. (Damaged cache files and diverging runs are tested in
test_storage.py and test_training.py.)"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from lib import storage, training

ROOT = Path(__file__).resolve().parent.parent

# (page, papermill arguments, what the error must say): wrong types, negative sizes, empty or
# invalid grids, unknown names, missing data offline. Each must stop in the page's first cells with a
# clear message. (Every name check is also tested in-process in test_pages.py; a papermill run costs ~13 s.)
FUZZ = [
    ("cone", ["-p", "arch", "resnet18"], "unknown arch 'resnet18'; valid choices: 'lenet5'"),
    ("background", ["-p", "preset", "huge"], "unknown preset 'huge'; valid choices: 'smoke', 'default', 'full'"),
    ("background", ["-p", "steps", "-5"], "steps must be an integer >= 1"),
    ("background", ["-p", "steps", "ten"], "steps must be an integer >= 1"),
    ("background", ["-p", "width", "-4"], "width must be a positive number"),
    ("background", ["-p", "seed", "1.5"], "seed must be an integer >= 0"),
    ("background", ["-p", "kernel", "max"], "unknown kernel kind 'max'; valid choices"),
    ("cone", ["-y", "dts: []"], "dts must be a non-empty list of integers"),
    ("cone", ["-y", "taus: [13]"], "taus has values [13] not among the valid ones"),
    ("chaos", ["-p", "size", "-1"], "perturbation size must be a finite number > 0"),
    ("chaos", ["-p", "mode", "gauss"], "unknown perturbation mode 'gauss'; valid choices: 'entry', 'l2'"),
    ("linear", ["-y", "switch: [1.5]"], "switch must be a non-empty list of integers"),
    ("counterexample", ["-p", "counterexample", "resnet"], "unknown counterexample 'resnet'; valid choices"),
    ("background", ["-p", "dataset", "cifar10"], "is not on this machine. If you are offline, put the files in"),
]


@pytest.mark.slow
@pytest.mark.parametrize("page,args,message", FUZZ, ids=[" ".join(a) for _, a, _ in FUZZ])
def test_papermill_parameter_fuzz(tmp_path, page, args, message):
    env = dict(os.environ, TWOPHASE_STORE=str(tmp_path / "store"), TWOPHASE_PROGRESS="0",
               TWOPHASE_DATA=str(tmp_path / "data"), TWOPHASE_OFFLINE="1", TWOPHASE_PRESET="smoke")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "papermill", f"book/{page}.md", str(tmp_path / "o.ipynb"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "site-packages/torch" not in proc.stderr, "the error came from deep inside torch"
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("ckpt_*")), \
        "the page trained before checking its parameters"
    assert time.perf_counter() - t < 120


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_is_bitwise_equal(tmp_path):
    cfg = tiny_config(steps=400, ckpt_every=20, eval_every=100, milestones=(300,), momentum=0.9)
    killed = storage.RunStore(tmp_path / "killed")
    code = (f"import lib, lib.training as T; from lib.storage import RunStore; "
            f"T.train(T.TrainConfig(**{cfg.__dict__!r}), RunStore({str(killed.root)!r}), progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    run = killed.run_dir("train", cfg)
    deadline = time.time() + 120
    while not (run / "ckpt_0000100.pt").exists():
        assert proc.poll() is None, "the training process ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "ckpt_0000400.pt").exists(), "killed too late: the run had finished"
    resumed = training.train(cfg, killed)
    full = training.train(cfg, storage.RunStore(tmp_path / "full"))
    a, b = resumed.checkpoint(400), full.checkpoint(400)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    assert a["metrics"] == b["metrics"]
