"""The run store: content-addressed folders, atomic writes, checksummed entries.

A run's folder is named by the hash of its configuration's non-default fields
(as open_lth does), so pages that share a configuration share its results.
Every entry is written to a temporary file and moved into place, and carries a
SHA-256 of its payload: a truncated or altered file is detected on load
(`CorruptEntry`) and the caller recomputes it.

A store may be shared (a cluster's project folder), so whoever can write one file into it
must not be able to run code in its readers: entries are loaded as data only (torch's
``weights_only`` unpickler: tensors, plain containers, numbers, strings, and the few data types
in `SAFE_TYPES`). An entry that would need anything else is refused (`UnsafeEntry`), moved
aside (``*.unsafe-<time>``) and recomputed; nothing in it runs. A path taken from a file's
contents is checked by `inside` before use: it cannot leave the store. Messages about
damaged or refused entries are `StoreWarning` warnings (stderr), never page output.

The store's root is ``$TWOPHASE_STORE`` when set, else ``runs/`` at the top of
the repository.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import contextlib
import json
import os
import pickle
import re
import tempfile
import time
import warnings
from pathlib import Path, PurePath
from typing import Any, Callable

import numpy as np
import torch
from torch.torch_version import TorchVersion

MAGIC = b"TWOPHASE1\n"
_DIGEST_LEN = 64  # hex SHA-256


class CorruptEntry(Exception):
    """A stored file is truncated, altered or not a store entry."""


class UnsafeEntry(CorruptEntry):
    """A stored file whose payload is more than data: loading it would call code outside
    `SAFE_TYPES` (a crafted or foreign file). Refused like a damaged entry, never run."""


class UnsafePath(ValueError):
    """A path read from a store file is absolute, climbs out with ``..``, or resolves outside
    the folder it must stay in."""


class StoreWarning(UserWarning):
    """A damaged or refused entry was moved aside and is being recomputed, or a record in the
    store was ignored."""


def _numpy_scalar_types() -> list:
    """What a numpy scalar (``np.float64(0.5)``, as numpy arithmetic returns into cached rows)
    needs to be rebuilt: the scalar constructor, `numpy.dtype`, and the dtype classes of the
    plain numeric dtypes. Not arrays, not object or structured dtypes."""
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    out = [np.dtype, (scalar, "numpy._core.multiarray.scalar"), (scalar, "numpy.core.multiarray.scalar")]
    for code in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "complex64", "complex128"):
        out.append(type(np.dtype(code)))
    return out


# Beyond torch's own allow-list (tensors, dtypes, torch.Size, OrderedDict, ...): the torch version
# string every checkpoint records (`lib.runtime.arithmetic` stores ``torch.__version__``, a str
# subclass) and numpy scalars. Added to torch's process-wide allow-list once, at import: they are
# data, and a process-wide addition has no add/remove race between loads.
SAFE_TYPES = [TorchVersion, *_numpy_scalar_types()]
torch.serialization.add_safe_globals(SAFE_TYPES)


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
    """Load an entry written by `save`, as data only; raise `CorruptEntry` if it is damaged,
    `UnsafeEntry` (a `CorruptEntry`) if its payload would need code to load.

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
    return _load_data(path, payload)


def _load_data(path: Path, payload: bytes) -> Any:
    """The payload unpickled as data only (torch's ``weights_only`` unpickler): `UnsafeEntry` if
    it names a callable or class outside the allow-list, `CorruptEntry` if it is not readable."""
    try:
        return torch.load(io.BytesIO(payload), weights_only=True)
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - a checksummed payload that does not load as data
        try:  # which globals it wanted: read from the pickle's opcodes, nothing is run
            wanted = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(payload)))
        except Exception:  # noqa: BLE001 - not a torch.save zip at all
            wanted = []
        text = str(err).split("WeightsUnpickler error:", 1)[-1]  # not torch's advice to load it unsafely
        wanted = wanted or sorted(set(re.findall(r"GLOBAL ([\w.]+) was not an allowed global", text)))
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(err).__name__)
        first = first.split(". ")[0][:160]
        if wanted:
            raise UnsafeEntry(f"{path}: refused, not plain data: loading it would call "
                              f"{', '.join(wanted)}; nothing in it was run") from None
        if isinstance(err, pickle.UnpicklingError) or "TorchScript" in text:
            raise UnsafeEntry(f"{path}: refused, not plain data ({first}); nothing in it was run") from None
        raise CorruptEntry(f"{path}: payload unreadable ({type(err).__name__}: {first})") from None


def load_or_none(path: Path, warn: bool = True) -> Any | None:
    """Load an entry; None if it is missing, damaged or refused (renamed aside: ``*.corrupt-*``,
    or ``*.unsafe-*`` for an `UnsafeEntry`). ``warn=False`` silences the message for a damaged
    entry, never for a refused one."""
    try:
        return load(path)
    except FileNotFoundError:
        return None
    except CorruptEntry as err:
        unsafe = isinstance(err, UnsafeEntry)
        quarantine(path, "unsafe" if unsafe else "corrupt")
        if warn or unsafe:
            warnings.warn(f"[store] {err}; moved aside, recomputing it", StoreWarning, stacklevel=2)
        return None


def quarantine(path: Path, reason: str = "corrupt") -> None:
    """Move a damaged (or refused) file aside (``*.<reason>-<time>``) rather than deleting it."""
    path = Path(path)
    try:
        os.replace(path, path.with_name(f"{path.name}.{reason}-{int(time.time() * 1e6)}"))
    except FileNotFoundError:  # gone already (another reader of a shared store moved it)
        pass


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` for a path read from a store file, after checking that it stays in
    ``folder``: a non-empty relative path, no ``..`` part, and (symbolic links followed) still
    under ``folder``. Raises `UnsafePath` otherwise."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise UnsafePath(f"{relative!r}: not a relative path inside {folder}")
    rel = PurePath(relative)
    if rel.is_absolute() or rel.anchor or ".." in rel.parts:
        raise UnsafePath(f"{relative!r}: absolute or climbing out with '..'; must stay inside {folder}")
    folder = Path(folder)
    path = folder / rel
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise UnsafePath(f"{relative!r}: resolves to {path.resolve()}, outside {folder}") from None
    return path


def config_hash(cfg) -> str:
    """Hash of a configuration's non-default fields (open_lth style), 16 hex digits. One rule at every
    depth: a nested configuration (a branch's or a switch run's ``base``) is reduced to its
    non-default fields too, so adding a field with a default keeps every run's name."""
    return hashlib.sha256(_canonical(_reduced(cfg)).encode()).hexdigest()[:16]


def _legacy_hash(cfg) -> str:
    """The name stores written before the one rule used (nested configurations with every field)."""
    return hashlib.sha256(_canonical(non_default_fields(cfg)).encode()).hexdigest()[:16]


def _default(f):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING


def matches(stored, cfg) -> bool:
    """Whether a stored config.json (``stored``, parsed) describes ``cfg``: every field equal, where
    a field missing from ``stored`` must be at its default (a field added since the run was
    written, with a default, does not make the run another one)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        if not isinstance(stored, dict):
            return False
        names = set()
        for f in dataclasses.fields(cfg):
            if not f.metadata.get("identity", True):
                continue
            names.add(f.name)
            value = getattr(cfg, f.name)
            if f.name not in stored:
                if value != _default(f):
                    return False
            elif not matches(stored[f.name], value):
                return False
        return set(stored) <= names
    return json.loads(_canonical(identity(cfg))) == stored


def _reads(path: Path):
    try:
        return json.loads((path / "config.json").read_text())
    except (json.JSONDecodeError, OSError):
        return None


def _reduced(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _reduced(v) for k, v in non_default_fields(obj).items()}
    if isinstance(obj, (list, tuple)):
        return [_reduced(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _reduced(v) for k, v in obj.items()}
    return obj


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
        if value != _default(f):
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


class NotStored(LookupError):
    """Raised inside `stored_only` where a result is missing and would have to be computed."""


_STORED_ONLY = [False]


@contextlib.contextmanager
def stored_only():
    """Inside this block nothing is trained or computed: what the run store holds is read, and
    anything missing raises `NotStored` naming it (used to read results a sweep computed)."""
    old = _STORED_ONLY[0]
    _STORED_ONLY[0] = True
    try:
        yield
    finally:
        _STORED_ONLY[0] = old


def is_stored_only() -> bool:
    return _STORED_ONLY[0]


def require_stored(what: str) -> None:
    """Raise `NotStored` about ``what`` inside `stored_only`; else nothing."""
    if _STORED_ONLY[0]:
        raise NotStored(f"{what} is not in the run store")


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
        self._migrate(kind, cfg, path)
        cfg_file = path / "config.json"
        if cfg_file.exists():
            stored = _reads(path)
            if stored is None or not matches(stored, cfg):
                os.replace(path, path.with_name(f"{path.name}.stale-{int(time.time())}"))
        if not cfg_file.exists():
            path.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cfg_file, json.dumps(json.loads(full), indent=1, sort_keys=True).encode())
        return path

    def _migrate(self, kind: str, cfg, path: Path) -> None:
        """A run stored under its legacy name (`_legacy_hash`) with this configuration is moved to
        its name now, so nothing computed before is lost."""
        old = self.root / f"{kind}_{_legacy_hash(cfg)}"
        if old == path or path.exists() or not old.exists():
            return
        stored = _reads(old)
        if stored is not None and matches(stored, cfg):
            try:
                os.replace(old, path)
            except OSError:  # another process moved it first
                pass

    def existing_dir(self, kind: str, cfg) -> Path | None:
        """The folder of the run ``cfg`` if it exists and holds this configuration, else None. Nothing
        is created; a run under its legacy name is moved to its name first (`_migrate`)."""
        path = self.root / f"{kind}_{config_hash(cfg)}"
        self._migrate(kind, cfg, path)
        stored = _reads(path)
        return path if stored is not None and matches(stored, cfg) else None

    def cached(self, path: Path, compute: Callable[[], Any]) -> Any:
        """Load ``path`` if it is a valid entry, else compute, save and return it."""
        value = load_or_none(path)
        if value is None:
            require_stored(str(path))
            value = compute()
            save(path, value)
        return value
