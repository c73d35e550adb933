"""The claims registry (``protocol/claims.toml``): the book's protocol, read in one place.

The file lists every claim once (its id, the papers' words, the statistic, the replicate, the test,
the margins and each margin's source), the decision constants with the `lib` attribute each must
equal, the protocol's version and date, and a change log whose last entry carries the content hash.

- `load` reads it; `claims`, `claim`, `constants` give its parts; `version_line` is what the pages print.
- `content_hash` is the SHA-256 of everything but the change log (canonical JSON), so any edit of a
  rule or a constant changes it; `check` lists every disagreement: a `lib` constant that differs from
  the registry's value, or a content hash that is not the last change-log entry's.
- `holm` adjusts the p-values of one family (Holm's step-down, statsmodels).

``python -m lib protocol`` prints the version, the hash and any disagreement; ``--hash`` only the hash.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import sys
import tomllib
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "protocol" / "claims.toml"
FAMILIES = ("papers", "checks")


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load(path: Path | None = None) -> dict:
    """The registry as a dict (cached per path)."""
    return _load(str(PATH if path is None else path))


def content_hash(reg: dict | None = None) -> str:
    """SHA-256 of the registry without its change log (canonical JSON: sorted keys, no spaces)."""
    reg = load() if reg is None else reg
    body = {k: v for k, v in reg.items() if k != "changelog"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def version(reg: dict | None = None) -> int:
    return int((load() if reg is None else reg)["protocol"]["version"])


def stamp(reg: dict | None = None) -> dict:
    """What a stored result records of the protocol it was computed under: version, date, hash."""
    reg = load() if reg is None else reg
    return {"version": version(reg), "date": reg["protocol"]["date"], "sha256": content_hash(reg)}


def version_line(reg: dict | None = None) -> str:
    s = stamp(reg)
    return f"protocol version {s['version']} ({s['date']}, content SHA-256 {s['sha256'][:12]})"


def claims(family: str | None = None, reg: dict | None = None) -> list[dict]:
    """The claims in registry order, all or one ``family`` (``papers`` or ``checks``)."""
    reg = load() if reg is None else reg
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    return [c for c in reg["claim"] if family is None or c["family"] == family]


def claim(claim_id: str, reg: dict | None = None) -> dict:
    """One claim by its id; a ValueError naming the valid ids otherwise."""
    found = {c["id"]: c for c in claims(reg=reg)}
    if claim_id not in found:
        raise ValueError(f"unknown claim {claim_id!r}; valid: {sorted(found)}")
    return found[claim_id]


def constants(reg: dict | None = None) -> dict:
    """{name: {value, lib, kind, source}}."""
    return dict((load() if reg is None else reg)["constants"])


def value(name: str, reg: dict | None = None):
    c = constants(reg)
    if name not in c:
        raise ValueError(f"unknown protocol constant {name!r}; valid: {sorted(c)}")
    return c[name]["value"]


def lib_value(dotted: str):
    """The current value of ``module.ATTRIBUTE`` inside `lib`."""
    module, attr = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"lib.{module}"), attr)


def _equal(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)
    return a == b


def check(reg: dict | None = None) -> list[str]:
    """Every disagreement between the registry and the code, one line each (empty: they agree)."""
    reg = load() if reg is None else reg
    problems = []
    for name, c in constants(reg).items():
        try:
            current = lib_value(c["lib"])
        except (ImportError, AttributeError) as err:
            problems.append(f"{name}: lib.{c['lib']} does not exist ({err})")
            continue
        if not _equal(current, c["value"]):
            problems.append(f"{name}: lib.{c['lib']} = {current!r}, the protocol says {c['value']!r}")
    log = reg.get("changelog", [])
    if not log:
        problems.append("the change log is empty")
    else:
        last = log[-1]
        if int(last["version"]) != version(reg):
            problems.append(f"the last change-log entry is version {last['version']}, the protocol says {version(reg)}")
        if last.get("sha256") != content_hash(reg):
            problems.append(f"the registry changed without a new version: its content hash is {content_hash(reg)}, the "
                            f"last change-log entry (version {last['version']}) records {last.get('sha256')}")
        versions = [int(e["version"]) for e in log]
        if versions != sorted(set(versions)):
            problems.append(f"change-log versions must increase: {versions}")
    ids = [c["id"] for c in claims(reg=reg)]
    if len(ids) != len(set(ids)):
        problems.append(f"claim ids repeat: {ids}")
    for c in claims(reg=reg):
        for m in c.get("margins", []):
            if m not in constants(reg):
                problems.append(f"claim {c['id']}: margin {m} is not a protocol constant")
    return problems


def holm(pvalues, alpha: float | None = None) -> list[float | None]:
    """Holm-adjusted p-values of one family (None stays None: a claim without a p-value)."""
    from statsmodels.stats.multitest import multipletests
    alpha = load()["protocol"]["alpha"] if alpha is None else alpha
    idx = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(pvalues)
    if idx:
        adj = multipletests([float(pvalues[i]) for i in idx], alpha=alpha, method="holm")[1]
        for i, a in zip(idx, adj):
            out[i] = float(a)
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--hash":
        print(content_hash())
        return 0
    print(version_line())
    problems = check()
    for p in problems:
        print("  " + p)
    return 1 if problems else 0
