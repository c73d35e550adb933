import os
from dataclasses import dataclass

import pytest
import torch

from lib import storage


def test_roundtrip_and_checksum(tmp_path):
    obj = {"a": torch.randn(5, 3), "b": [1, 2]}
    p = tmp_path / "x.pt"
    storage.save(p, obj)
    back = storage.load(p)
    assert torch.equal(back["a"], obj["a"]) and back["b"] == [1, 2]
    assert not list(tmp_path.glob(".*tmp")), "no temporary file left behind"


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_entry_detected(tmp_path, damage):
    p = tmp_path / "x.pt"
    storage.save(p, {"w": torch.arange(1000.0)})
    data = bytearray(p.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[-10] ^= 0xFF
    else:
        data = bytearray(b"not a store entry at all")
    p.write_bytes(bytes(data))
    with pytest.raises(storage.CorruptEntry):
        storage.load(p)
    assert storage.load_or_none(p, warn=False) is None
    assert not p.exists() and list(tmp_path.glob("x.pt.corrupt-*")), "damaged file kept aside, not deleted"


def test_cached_recomputes_damaged(tmp_path):
    st = storage.RunStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return torch.ones(3) * len(calls)

    p = tmp_path / "k.pt"
    first = st.cached(p, compute)
    again = st.cached(p, compute)
    assert torch.equal(first, again) and len(calls) == 1
    p.write_bytes(p.read_bytes()[:-5])
    third = st.cached(p, compute)
    assert len(calls) == 2 and torch.equal(third, torch.ones(3) * 2)


@dataclass(frozen=True)
class Cfg:
    a: int = 1
    b: str = "x"
    c: tuple = (1, 2)


def test_config_hash_non_default_fields():
    assert storage.non_default_fields(Cfg()) == {}
    assert storage.non_default_fields(Cfg(a=2)) == {"a": 2}
    assert storage.config_hash(Cfg()) == storage.config_hash(Cfg(a=1))
    hashes = {storage.config_hash(c) for c in (Cfg(), Cfg(a=2), Cfg(b="y"), Cfg(c=(1, 3)))}
    assert len(hashes) == 4


def test_run_dir_stale_config_is_kept_aside(tmp_path):
    st = storage.RunStore(tmp_path)
    d = st.run_dir("train", Cfg(a=3))
    (d / "result.txt").write_text("computed")
    assert st.run_dir("train", Cfg(a=3)) == d and (d / "result.txt").exists()
    (d / "config.json").write_text('{"a": 3, "b": "x", "c": [9]}')  # as if a default had changed
    d2 = st.run_dir("train", Cfg(a=3))
    assert d2 == d and not (d / "result.txt").exists()
    stale = [p for p in tmp_path.iterdir() if ".stale-" in p.name]
    assert len(stale) == 1 and (stale[0] / "result.txt").read_text() == "computed"


def test_default_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOPHASE_STORE", str(tmp_path / "s"))
    assert storage.RunStore().root == tmp_path / "s"
    monkeypatch.delenv("TWOPHASE_STORE")
    assert storage.RunStore().root.name == "runs"


def test_atomic_write_failure_leaves_old_file(tmp_path, monkeypatch):
    p = tmp_path / "f.bin"
    storage.atomic_write_bytes(p, b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        storage.atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def test_device_is_not_part_of_a_runs_identity(tmp_path):
    from lib.linearization import SwitchConfig
    from lib.training import TrainConfig
    cpu, gpu = TrainConfig(), TrainConfig(device="cuda")
    assert storage.config_hash(cpu) == storage.config_hash(gpu)
    assert storage.config_hash(SwitchConfig(cpu, 0)) == storage.config_hash(SwitchConfig(gpu, 0))
    st = storage.RunStore(tmp_path)
    a = st.run_dir("train", gpu)
    (a / "marker").write_text("x")
    assert st.run_dir("train", cpu) == a and (a / "marker").exists()  # not renamed aside as stale
    assert "device" not in (a / "config.json").read_text()
    assert storage.config_hash(TrainConfig(threads=1)) != storage.config_hash(cpu)
