import os

import pytest

os.environ.setdefault("TWOPHASE_PROGRESS", "0")


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
