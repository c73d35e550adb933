"""The run store: content-addressed folders, atomic writes, checksummed entries.

A run's folder is named by the hash of its configuration's non-default fields
(as open_lth does), so pages that share a configuration share its results.
Every entry is written to a temporary file and moved into place, and carries a
SHA-256 of its payload: a truncated or altered file is detected on load
(`CorruptEntry`) and the caller recomputes it.

The store's root is ``$TWOPHASE_STORE`` when set, else ``runs/`` at the top of
the repository.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

MAGIC = b"TWOPHASE1\n"
_DIGEST_LEN = 64  # hex SHA-256


class CorruptEntry(Exception):
    """A stored file is truncated, altered or not a store entry."""


def default_root() -> Path:
    env = os.environ.get("TWOPHASE_STORE")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "runs"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(path: Path, obj: Any) -> None:
    """Save a torch-serialisable object with a checksum header, atomically."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest().encode()
    atomic_write_bytes(path, MAGIC + digest + b"\n" + payload)


def load(path: Path) -> Any:
    """Load an entry written by `save`; raise `CorruptEntry` if it is damaged.

    Raises FileNotFoundError when there is no entry at all.
    """
    data = Path(path).read_bytes()
    head = len(MAGIC) + _DIGEST_LEN + 1
    if len(data) < head or not data.startswith(MAGIC):
        raise CorruptEntry(f"{path}: not a store entry (bad header)")
    digest = data[len(MAGIC):head - 1].decode(errors="replace")
    payload = data[head:]
    if hashlib.sha256(payload).hexdigest() != digest:
        raise CorruptEntry(f"{path}: checksum mismatch (truncated or altered)")
    return torch.load(io.BytesIO(payload), weights_only=False)


def load_or_none(path: Path, warn: bool = True) -> Any | None:
    """Load an entry; None if it is missing or damaged (a damaged one is renamed aside)."""
    try:
        return load(path)
    except FileNotFoundError:
        return None
    except CorruptEntry as err:
        quarantine(path)
        if warn:
            print(f"[store] {err}; recomputing it")
        return None


def quarantine(path: Path) -> None:
    """Move a damaged file aside (``*.corrupt-<time>``) rather than deleting it."""
    path = Path(path)
    if path.exists():
        os.replace(path, path.with_name(f"{path.name}.corrupt-{int(time.time() * 1e6)}"))


def config_hash(cfg) -> str:
    """Hash of a dataclass's non-default fields (open_lth style), 16 hex digits."""
    return hashlib.sha256(_canonical(non_default_fields(cfg)).encode()).hexdigest()[:16]


def identity(obj):
    """A configuration as plain data, without the fields marked ``metadata={"identity": False}``
    (where a run was computed, e.g. ``device``: a run trained on a GPU is found from a CPU)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: identity(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("identity", True)}
    if isinstance(obj, (list, tuple)):
        return [identity(v) for v in obj]
    if isinstance(obj, dict):
        return {k: identity(v) for k, v in obj.items()}
    return obj


def non_default_fields(cfg) -> dict:
    out = {}
    for f in dataclasses.fields(cfg):
        if not f.metadata.get("identity", True):
            continue
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if value != default:
            out[f.name] = value
    return out


def _json_default(obj):
    if dataclasses.is_dataclass(obj):
        return identity(obj)
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"cannot hash a {type(obj).__name__} in a configuration")


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=_json_default, separators=(",", ":"))


class RunStore:
    """A folder of runs, each in ``<root>/<kind>_<hash>/`` with its ``config.json``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def run_dir(self, kind: str, cfg) -> Path:
        """The folder of the run ``cfg``; created with its config.json on first use.

        If the folder holds a different full configuration (the defaults changed
        since it was written), the old folder is renamed aside, never deleted.
        """
        path = self.root / f"{kind}_{config_hash(cfg)}"
        full = _canonical(identity(cfg))
        cfg_file = path / "config.json"
        if cfg_file.exists():
            try:
                same = _canonical(json.loads(cfg_file.read_text())) == full
            except (json.JSONDecodeError, OSError):
                same = False
            if not same:
                os.replace(path, path.with_name(f"{path.name}.stale-{int(time.time())}"))
        if not cfg_file.exists():
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cfg_file, json.dumps(json.loads(full), indent=1, sort_keys=True).encode())
        return path

    def existing_dir(self, kind: str, cfg) -> Path | None:
        """The folder of the run ``cfg`` if it exists and holds this full configuration, else None
        (nothing is created or renamed)."""
        path = self.root / f"{kind}_{config_hash(cfg)}"
        try:
            same = _canonical(json.loads((path / "config.json").read_text())) == _canonical(identity(cfg))
        except (json.JSONDecodeError, OSError):
            return None
        return path if same else None

    def cached(self, path: Path, compute: Callable[[], Any]) -> Any:
        """Load ``path`` if it is a valid entry, else compute, save and return it."""
        value = load_or_none(path)
        if value is None:
            value = compute()
            save(path, value)
        return value
