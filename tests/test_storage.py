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
    with pytest.warns(storage.StoreWarning, match="checksum mismatch"):
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


# --- a shared store: entries are data, never code ---------------------------------------------

def _entry_bytes(payload: bytes) -> bytes:
    """A file in the store's own format (see `storage.save`): header, valid SHA-256, payload."""
    import hashlib
    return storage.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _torch_payload(obj, **kw) -> bytes:
    import io
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


class _OpenFile:
    """Unpickling this calls ``open(path, "w")``: it creates the file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class _System:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


class _Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import pathlib
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


CRAFTED = {
    "open": lambda target: _torch_payload({"w": torch.ones(3), "rows": [1, _OpenFile(target)]}),
    "os.system": lambda target: _torch_payload({"x": _System(target)}),
    "pathlib touch": lambda target: _torch_payload([_Touch(target)]),
    "legacy torch format": lambda target: _torch_payload({"x": _OpenFile(target)}, _use_new_zipfile_serialization=False),
    "plain pickle": lambda target: __import__("pickle").dumps({"x": _OpenFile(target)}, protocol=2),
}


@pytest.mark.parametrize("attack", sorted(CRAFTED))
def test_crafted_entry_runs_nothing_and_is_recomputed(tmp_path, attack):
    st = storage.RunStore(tmp_path / "store")
    target = tmp_path / "pwned"
    entry = st.root / "train_0123456789abcdef" / "ckpt_0000000.pt"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(_entry_bytes(CRAFTED[attack](target)))
    with pytest.raises(storage.UnsafeEntry, match="ckpt_0000000.pt: refused, not plain data"):
        storage.load(entry)
    assert not target.exists() and entry.exists(), "load alone neither runs the payload nor moves the file"
    calls = []

    def compute():
        calls.append(1)
        return {"w": torch.arange(3.0)}

    with pytest.warns(storage.StoreWarning, match="ckpt_0000000.pt: refused"):
        value = st.cached(entry, compute)
    assert not target.exists(), "the crafted payload ran"
    assert calls == [1] and torch.equal(value["w"], torch.arange(3.0)), "the entry was recomputed"
    assert torch.equal(storage.load(entry)["w"], torch.arange(3.0)), "and the recomputed entry replaced it"
    aside = list(entry.parent.glob("ckpt_0000000.pt.unsafe-*"))
    assert len(aside) == 1, "the crafted file is kept aside for inspection, not deleted"
    st.cached(entry, compute)
    assert calls == [1]


def test_refused_entry_warns_even_when_quiet(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(_entry_bytes(CRAFTED["open"](tmp_path / "pwned")))
    with pytest.warns(storage.StoreWarning, match="refused"):
        assert storage.load_or_none(p, warn=False) is None
    assert not (tmp_path / "pwned").exists()


def test_what_the_store_holds_loads_as_data(tmp_path):
    """The payload types the lib stores: checkpoints (tensors, optimizer state, metrics, the
    arithmetic record with ``torch.__version__``), kernels, and rows of floats, where numpy
    arithmetic may leave numpy scalars."""
    import collections

    import numpy as np
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    payloads = {
        "checkpoint": {"iteration": 10, "model": model.state_dict(), "optimizer": opt.state_dict(),
                       "metrics": [{"iteration": 0, "lr": 0.1, "test_acc": None, "ok": True}],
                       "arithmetic": {"torch": torch.__version__, "cpu_capability": "AVX2", "threads": 2}},
        "kernel": torch.randn(4, 4, dtype=torch.float64),
        "row": {"barrier_test": np.float64(0.25), "dissimilarity": np.float32(0.5), "n": np.int64(3),
                "flag": np.bool_(True), "alphas": [0.0, 0.5, 1.0], "pair": (1, "a"), "none": None},
        "misc": collections.OrderedDict(size=torch.Size([2, 3]), b=torch.ones(2, dtype=torch.bfloat16),
                                        p=torch.nn.Parameter(torch.ones(1)), s={1, 2}, c=1 + 2j),
    }
    for name, obj in payloads.items():
        p = tmp_path / f"{name}.pt"
        storage.save(p, obj)
        assert repr(storage.load(p)) == repr(obj), name
    assert type(storage.load(tmp_path / "row.pt")["barrier_test"]) is np.float64


def test_damage_messages_are_warnings_not_page_output(tmp_path, capsys):
    p = tmp_path / "x.pt"
    storage.save(p, torch.ones(3))
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.warns(storage.StoreWarning, match="checksum mismatch"):
        assert storage.load_or_none(p) is None
    assert capsys.readouterr().out == ""


def test_inside_keeps_paths_in_the_folder(tmp_path):
    folder = tmp_path / "store" / "logs"
    folder.mkdir(parents=True)
    assert storage.inside(folder, "12_0_log.err") == folder / "12_0_log.err"
    assert storage.inside(folder, "sub/12_0_log.err") == folder / "sub" / "12_0_log.err"
    (tmp_path / "secret").write_text("x")
    (folder / "link.err").symlink_to(tmp_path / "secret")
    (folder / "dirlink").symlink_to(tmp_path)
    for bad in ["../secret", "../../etc/passwd", "a/../../secret", "/etc/passwd", str(tmp_path / "secret"),
                "", "link.err", "dirlink/secret", None, 3, ["a"], "a\0b"]:
        with pytest.raises(storage.UnsafePath):
            storage.inside(folder, bad)


def test_stored_only_reads_what_is_stored_and_computes_nothing(store):
    from conftest import tiny_config
    from lib.kernels import trajectory_kernels
    from lib.training import train
    cfg = tiny_config()
    with storage.stored_only(), pytest.raises(storage.NotStored, match="training run lenet5/mnist5k seed 0"):
        train(cfg, store)
    assert not list(store.root.glob("train_*")) if store.root.exists() else True  # no folder was made
    traj = train(cfg, store)
    with storage.stored_only():
        assert train(cfg, store).path == traj.path  # a stored run opens
        with pytest.raises(storage.NotStored, match="is not in the run store"):
            trajectory_kernels(traj, [20], n_probe=10, progress=False)  # its kernel was never computed
    assert not storage.is_stored_only()


def test_one_hashing_rule_at_every_depth_and_legacy_names_are_moved(store):
    """A nested configuration is reduced to its non-default fields like a top-level one; a run stored
    under the name of the older rule (nested configs with every field) is found and moved."""
    import json
    from lib.linearization import SwitchConfig
    from lib.training import TrainConfig
    cfg = TrainConfig(steps=100, seed=3)
    sc = SwitchConfig(cfg, 20)
    reduced = {"base": {"steps": 100, "seed": 3}, "t": 20}
    assert storage.config_hash(sc) == storage.hashlib.sha256(storage._canonical(reduced).encode()).hexdigest()[:16]
    # one more TrainConfig field left at its default would not rename the switch run
    assert storage.config_hash(sc) != storage._legacy_hash(sc)
    old = store.root / f"linear_{storage._legacy_hash(sc)}"
    old.mkdir(parents=True)
    (old / "config.json").write_text(json.dumps(storage.identity(sc)))
    (old / "ckpt_0000020.pt").write_bytes(b"x")
    new = store.run_dir("linear", sc)
    assert new.name == f"linear_{storage.config_hash(sc)}" and (new / "ckpt_0000020.pt").exists() and not old.exists()


def test_a_field_added_with_its_default_keeps_a_stored_run(store):
    """config.json written before a field existed (here SwitchConfig.bn) still names the run."""
    import json
    from lib.linearization import SwitchConfig
    from lib.training import TrainConfig
    sc = SwitchConfig(TrainConfig(steps=100), 20)
    path = store.run_dir("linear", sc)
    written = json.loads((path / "config.json").read_text())
    del written["bn"]
    (path / "config.json").write_text(json.dumps(written))
    assert store.existing_dir("linear", sc) == path and store.run_dir("linear", sc) == path
    assert store.existing_dir("linear", SwitchConfig(TrainConfig(steps=100), 20, bn="reestimate")) is None
