import pytest
import torch

from conftest import tiny_config
from lib import storage, training


def _final_state(traj):
    return traj.checkpoint(traj.iterations[-1])


def _assert_equal_states(a, b):
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for (ka, va), (kb, vb) in zip(a["optimizer"]["state"].items(), b["optimizer"]["state"].items()):
        assert torch.equal(va["momentum_buffer"], vb["momentum_buffer"])
    assert a["metrics"] == b["metrics"]


@pytest.mark.parametrize("kw", [dict(), dict(arch="resnet20", width=2, momentum=0.9, batch_size=32, eval_n=50)])
def test_same_seed_bitwise_identical(tmp_path, kw):
    cfg = tiny_config(**kw)
    a = training.train(cfg, storage.RunStore(tmp_path / "a"))
    b = training.train(cfg, storage.RunStore(tmp_path / "b"))
    _assert_equal_states(_final_state(a), _final_state(b))
    other = training.train(tiny_config(seed=1, **kw), storage.RunStore(tmp_path / "a"))
    assert not torch.equal(_final_state(other)["model"][other.param_names[0]],
                           _final_state(a)["model"][a.param_names[0]])


def test_checkpoints_and_metrics(store):
    cfg = tiny_config()
    traj = training.train(cfg, store)
    assert traj.iterations == [0, 20, 40, 60]
    m = traj.metrics
    assert [r["iteration"] for r in m] == [0, 20, 40, 60]
    assert m[0]["train_loss"] is None and m[1]["train_loss"] > 0 and 0 <= m[-1]["test_acc"] <= 1
    assert m[-1]["lr"] == pytest.approx(0.01)  # decayed at 40
    assert m[-1]["train_loss"] < m[1]["train_loss"], "the loss goes down"
    assert traj.params(0).keys() == dict(traj.model(0).named_parameters()).keys()
    assert not torch.equal(traj.params(0)["classifier.1.weight"], traj.params(60)["classifier.1.weight"])


def test_sparse_checkpoint_schedule():
    cfg = tiny_config(steps=1000, ckpt_every=25, ckpt_dense_until=100, ckpt_sparse_every=300)
    assert training.checkpoint_iterations(cfg) == [0, 25, 50, 75, 100, 400, 700, 1000]


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    cfg = tiny_config(momentum=0.9)  # momentum: the optimizer state must be restored too
    full = training.train(cfg, storage.RunStore(tmp_path / "full"))
    st = storage.RunStore(tmp_path / "resumed")
    part = training.train(cfg, st, stop_at=30)  # stops after the checkpoint at 20, 10 steps lost
    assert not part.checkpoint_path(40).exists() and part.checkpoint_path(20).exists()
    resumed = training.train(cfg, st)
    _assert_equal_states(_final_state(full), _final_state(resumed))


def test_cache_hit_does_not_retrain_and_returns_identical_tensors(store, monkeypatch):
    cfg = tiny_config()
    first = _final_state(training.train(cfg, store))

    def fail(*a, **k):
        raise AssertionError("retrained on a cache hit")

    monkeypatch.setattr(training, "_run", fail)
    again = training.train(cfg, store)
    _assert_equal_states(first, _final_state(again))


def test_damaged_checkpoint_is_recomputed(store):
    cfg = tiny_config()
    traj = training.train(cfg, store)
    original = traj.checkpoint(40)
    p = traj.checkpoint_path(40)
    p.write_bytes(p.read_bytes()[:100])  # truncated
    recomputed = traj.checkpoint(40)
    _assert_equal_states(original, recomputed)
    assert list(p.parent.glob("ckpt_0000040.pt.corrupt-*")), "the damaged file is kept aside"
    # a damaged middle checkpoint also makes train() resume from before it
    p.write_bytes(b"garbage")
    traj2 = training.train(cfg, store)
    _assert_equal_states(original, traj2.checkpoint(40))


def test_divergence_stops_with_iteration_and_hyperparameters(store):
    cfg = tiny_config(lr=1e4)
    with pytest.raises(training.TrainingDiverged, match=r"(?s)iteration \d+.*'arch': 'lenet5'.*'lr': 10000.0"):
        training.train(cfg, store)


@pytest.mark.parametrize("field,value", [("steps", 0), ("steps", 2.5), ("batch_size", -1), ("lr", float("nan")),
                                         ("arch", "mlp"), ("dataset", "imagenet"), ("width", -1), ("seed", -3)])
def test_bad_config_names_parameter(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_device_is_checked_and_checkpoints_are_on_cpu(store):
    with pytest.raises(ValueError, match="unknown device 'tpu'; valid choices: 'cpu', 'cuda'"):
        training.TrainConfig(device="tpu")
    traj = training.train(tiny_config(steps=20), store)
    assert all(v.device.type == "cpu" for v in traj.state_dict(20).values())


def test_timing_log_counts_the_work_done(tmp_path, monkeypatch):
    """With $TWOPHASE_TIMINGS set, training appends what it did (steps, evaluations, checkpoint writes)
    with their counts; a resumed run logs only the steps it trained; without the variable, nothing."""
    import json
    log = tmp_path / "timings.jsonl"
    monkeypatch.setenv("TWOPHASE_TIMINGS", str(log))
    st = storage.RunStore(tmp_path / "s")
    training.train(tiny_config(), st, stop_at=30)  # checkpoints 0, 20; the steps 0-30
    training.train(tiny_config(), st)  # resumes at 20: steps 20-60, checkpoints 40, 60
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    steps = [r for r in recs if r["kind"] == "base run lenet5: SGD steps"]
    assert [r["count"] for r in steps] == [30, 40]
    assert all(r["seconds"] > 0 and r["pid"] == __import__("os").getpid() for r in steps)
    writes = [r["count"] for r in recs if r["kind"] == "base run lenet5: checkpoint writes"]
    assert writes == [2, 2]
    monkeypatch.delenv("TWOPHASE_TIMINGS")
    training.train(tiny_config(seed=1), st)
    assert len(log.read_text().splitlines()) == len(recs)


@pytest.mark.slow  # spawns worker processes
def test_train_all_in_worker_processes_is_bitwise_train_here(tmp_path, monkeypatch):
    """`train_all` trains the missing runs side by side in spawned workers; each ends bitwise where
    `train` ends it in this process, and a stored run is opened, not trained again."""
    cfgs = [tiny_config(seed=s) for s in (0, 1)]
    monkeypatch.setenv("TWOPHASE_WORKERS", "2")
    monkeypatch.setenv("TWOPHASE_STORE", str(tmp_path / "pool"))
    assert not any(training.trained(c) for c in cfgs)
    pooled = training.train_all(cfgs)
    assert all(training.trained(c) for c in cfgs)
    here = storage.RunStore(tmp_path / "here")
    for c, t in zip(cfgs, pooled):
        _assert_equal_states(_final_state(t), _final_state(training.train(c, here)))
    mtime = pooled[0].checkpoint_path(cfgs[0].steps).stat().st_mtime_ns
    training.train_all(cfgs)
    assert pooled[0].checkpoint_path(cfgs[0].steps).stat().st_mtime_ns == mtime
