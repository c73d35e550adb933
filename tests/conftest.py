import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

os.environ.setdefault("TWOPHASE_PROGRESS", "0")
# tiny jobs in-process: spawning workers costs seconds per pool (the tests marked slow check the pools)
os.environ.setdefault("TWOPHASE_WORKERS", "1")


@pytest.fixture
def store(tmp_path):
    from lib.storage import RunStore
    return RunStore(tmp_path / "store")


@pytest.fixture(scope="session")
def mnist5k():
    from lib.data import load_dataset
    return load_dataset("mnist5k")


def tiny_config(**kw):
    """A run of a few seconds: LeNet-5 on mnist5k, 60 iterations, checkpoints every 20."""
    from lib.training import TrainConfig
    base = dict(steps=60, ckpt_every=20, eval_every=20, eval_n=200, milestones=(40,))
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """The whole book built once with the smoke preset, execution forced (never the cache: edits
    to lib/ must show), warnings as errors, into a temporary folder with a temporary run store.
    Returns (the build's output folder, the finished process)."""
    tmp = tmp_path_factory.mktemp("smoke")
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cfg["execute"]["execute_notebooks"] = "force"
    cfg_path = tmp / "_config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    # no stored summaries: judging the committed paper-scale summaries costs minutes a page (tests/test_summary.py
    # and tests/test_protocol_setting in it judge small ones)
    (tmp / "summaries").mkdir()
    env = dict(os.environ, TWOPHASE_STORE=str(tmp / "store"), TWOPHASE_PROGRESS="0", TWOPHASE_PRESET="smoke",
               TWOPHASE_SUMMARIES=str(tmp / "summaries"))
    proc = subprocess.run(
        ["jupyter-book", "build", "book/", "-W", "--keep-going", "--config", str(cfg_path), "--path-output",
         str(tmp / "out")], cwd=ROOT, env=env, capture_output=True, text=True)
    return tmp / "out", proc


@pytest.fixture(scope="session")
def smoke_site(smoke_build):
    out, proc = smoke_build
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out
