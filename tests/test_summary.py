"""Run summaries (lib.summary) and the paper-scale page that reads them (lib.pages.paper)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from lib import summary
from lib.kernels import pairwise_distances


def _psd_series(n_its=12, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    h, out = a @ a.T, {}
    for t in range(0, 25 * n_its, 25):
        out[t] = h.clone()
        b = torch.randn(n, n, generator=g, dtype=torch.float64)
        h = h + 0.1 * b @ b.T
    return out


def _fake(k: dict) -> dict:
    its = sorted(k)
    up = lambda c: summary._upper(pairwise_distances([k[t] for t in its], c))  # noqa: E731
    return dict(iterations=np.asarray(its), s_raw=up(False), s_centered=up(True))


@pytest.mark.parametrize("centered", [False, True])
def test_kernels_from_a_summary_have_its_distances_raw_or_centered_alike(centered):
    """The rebuilt series has exactly the stored S (float32 storage), whichever S the instrument asks for."""
    s = _fake(_psd_series())
    rebuilt = summary.kernels_from(s, centered)
    assert sorted(rebuilt) == s["iterations"].tolist()
    mats = [rebuilt[t] for t in sorted(rebuilt)]
    want = summary.s_matrix(s, centered)
    for c in (False, True):
        got = pairwise_distances(mats, c).numpy()
        assert np.allclose(got, want, rtol=1e-5, atol=1e-9), (centered, c)
    assert not np.allclose(summary.s_matrix(s, True), summary.s_matrix(s, False)), "raw and centered S differ here"


def test_a_summary_round_trips_and_a_damaged_one_is_named(tmp_path, store):
    from conftest import tiny_config
    from lib import training
    from lib.kernels import KernelSpec
    traj = training.train(tiny_config(), store)
    spec = KernelSpec("sum", 20, "reestimate")
    s = summary.summarize(traj, spec, chaos_rows=[(20, 0, 0.01, 0.02)], pair_rows=[(1, 0.1, 0.05)], wall_s=1.5)
    path = summary.write(tmp_path / "runs" / summary.file_name(traj.cfg), s)
    back = summary.read(path)
    assert summary.config(back) == traj.cfg and back["meta"]["wall_s"] == 1.5
    assert back["iterations"].tolist() == traj.iterations
    assert summary.metric(back, "test_acc") == traj.metric("test_acc")
    assert np.array_equal(back["s_centered"], s["s_centered"]) and back["chaos"].tolist() == [[20, 0, 0.01, 0.02]]
    raw = path.read_bytes()
    (tmp_path / "runs" / "damaged.npz").write_bytes(raw[: len(raw) // 2])
    found, bad = summary.load_all(tmp_path / "runs")
    assert len(found) == 1 and len(bad) == 1 and "damaged.npz" in bad[0]
    with pytest.raises(summary.BadSummary, match="damaged.npz"):
        summary.read(tmp_path / "runs" / "damaged.npz")


def _valid() -> dict:
    """A small summary as `summary.summarize` lays it out (no training: the S of a synthetic series)."""
    import dataclasses
    from conftest import tiny_config
    from lib.kernels import KernelSpec
    s = _fake(_psd_series())
    n = len(s["iterations"])
    setting = dataclasses.asdict(tiny_config())
    setting["milestones"] = list(setting["milestones"])
    meta = dict(format=summary.FORMAT, setting=setting, kernel=dataclasses.asdict(KernelSpec("sum", 20, "reestimate")),
                arithmetic=None, wall_s=1.5, noise={"raw": {"arithmetic": [1e-7]}, "centered": {"arithmetic": [2e-7]}},
                noise_iterations=[250, 275], metrics=list(summary.METRICS))
    meta["linear"] = dict(grid=list(summary.LINEAR_GRID), at=list(summary.LINEAR_AT))
    return dict(meta=meta, **s, metrics=np.full((n, len(summary.METRICS)), 0.5),
                chaos=np.array([[25.0, 0, 0.01, 0.02]]), pairs=np.zeros((0, 3)),
                linear_grid=np.array([[100.0, 0.8, 0.5], [200.0, 0.82, 0.48]]),
                linear_at=np.array([[150.0, 0.85, 0.4, 0.83, 0.45, 800.0, 0.84, 0.42]]), linear_correct=np.ones((2, 20), dtype=np.uint8))


def _set(path, value):
    def edit(s):
        *keys, last = path
        d = s["meta"]
        for k in keys:
            d = d[k]
        d[last] = value
    return edit


def _swap_iterations(s):
    s["iterations"] = s["iterations"].copy()
    s["iterations"][[3, 4]] = s["iterations"][[4, 3]]


REJECTIONS = {  # kind: (the edit, which keeps a valid checksum, and the reason `read` gives)
    "unknown architecture": (_set(["setting", "arch"], "resnet999"),
                             r"setting is not a training configuration.*unknown arch 'resnet999'"),
    "unknown setting field": (_set(["setting", "lr_schedule"], "cosine"),
                              r"setting is not a training configuration.*TypeError.*lr_schedule"),
    "bad setting value": (_set(["setting", "steps"], -5), r"setting is not a training configuration.*steps"),
    "bad kernel spec": (_set(["kernel", "kind"], "banana"), r"kernel is not a kernel specification.*'banana'"),
    "unknown kernel field": (_set(["kernel", "probes"], 3), r"kernel is not a kernel specification.*probes"),
    "wrong S length": (lambda s: s.update(s_raw=s["s_raw"][:-1]), r"s_raw has shape \(65,\).*need \(66,\)"),
    "S out of range": (lambda s: s.update(s_centered=s["s_centered"] + 2), r"s_centered holds values outside \[0, 1\]"),
    "non-finite S": (lambda s: s["s_raw"].__setitem__(0, np.nan), r"s_raw holds non-finite values"),
    "wrong metrics shape": (lambda s: s.update(metrics=s["metrics"][:, :3]), r"metrics has shape \(12, 3\).*\(12, 4\)"),
    "metrics out of order": (_set(["metrics"], ["test_acc", "train_acc"]),
                             r"metrics \['test_acc', 'train_acc'\] are not"),
    "non-monotone iterations": (_swap_iterations, r"iterations are not strictly increasing"),
    "one checkpoint": (lambda s: s.update(iterations=s["iterations"][:1]), r"at least 2 checkpoints"),
    "wrong chaos shape": (lambda s: s.update(chaos=np.zeros((2, 3))), r"chaos has shape \(2, 3\).*4 columns"),
    "wrong pairs shape": (lambda s: s.update(pairs=np.zeros(3)), r"pairs has shape \(3,\).*3 columns"),
    "missing meta key": (lambda s: s["meta"].pop("noise"), r"metadata lacks noise"),
    "missing array": (lambda s: s.pop("pairs"), r"lacks the array\(s\) pairs"),
    "wrong linear shape": (lambda s: s.update(linear_at=np.zeros((1, 4))), r"linear_at has shape \(1, 4\)"),
    "linear arrays without metadata": (lambda s: s["meta"].pop("linear"), r"holds linear_grid.*no linear metadata"),
}


@pytest.mark.parametrize("kind", list(REJECTIONS))
def test_a_summary_that_cannot_be_judged_is_named_with_why_and_the_rest_are_kept(tmp_path, kind):
    """A summary with a valid checksum is still checked whole: `load_all` names the file and the
    reason, and returns the valid summary beside it, which the paper page groups and judges."""
    import re
    edit, reason = REJECTIONS[kind]
    good = summary.write(tmp_path / "good.npz", _valid())
    bad = _valid()
    edit(bad)
    summary.write(tmp_path / "bad.npz", bad)
    found, rejected = summary.load_all(tmp_path)
    assert [s["path"] for s in found] == [good]
    assert len(rejected) == 1 and "bad.npz" in rejected[0], rejected
    assert re.search(reason, rejected[0]), rejected[0]
    with pytest.raises(summary.BadSummary, match="bad.npz"):
        summary.read(tmp_path / "bad.npz")
    from lib.pages import paper
    (setting,) = paper.group(found)
    assert setting.seeds == (0,)


def test_the_paper_page_lists_what_is_missing_and_how_to_compute_it():
    from lib.pages import paper
    rows = paper.inventory([])
    assert len(rows) == len(paper.ARCHS) * len(paper.DATASETS)
    assert all(r["seeds stored"] == "none" and r["seeds missing"] == "0, 1, 2" for r in rows)
    assert all("python -m lib sweep cone --preset paper" in r["to compute them"] for r in rows)
    assert {r["setting"].split(" ")[0] for r in rows} == set(paper.ARCHS)


@pytest.mark.slow
def test_a_smoke_summary_is_written_by_the_sweep_command_and_judged_on_the_page(tmp_path):
    """`python -m lib sweep cone --summary DIR` writes one summary per seed; the page renders them
    (papermill), judged by the default pages' tests."""
    env = dict(os.environ, TWOPHASE_STORE=str(tmp_path / "store"), TWOPHASE_PROGRESS="0",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "summaries"
    for seed in (0, 1):
        proc = subprocess.run([sys.executable, "-m", "lib", "sweep", "cone", "--preset", "smoke", "--seed", str(seed),
                               "--summary", str(out)], cwd=ROOT, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(out.glob("*.npz"))
    assert len(files) == 2 and all("lenet5" in f.name for f in files)
    nb = tmp_path / "paper.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", "book/paper.md", str(nb), "-p", "summaries", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = json.dumps(json.loads(nb.read_text()))
    assert ">transition<" in text and ">cone<" in text and ">evolving<" in text and "where the runs are" in text
    assert "seeds stored" in text and "lenet5 (default width) on" in text


def test_protocol_setting_decides_only_from_held_out_seeds_under_a_known_protocol(monkeypatch, tmp_path):
    """A summary of the protocol's confirmatory setting decides only where its seed is held out and its
    protocol hash is in the change log; the others are named with the reason."""
    import dataclasses

    from lib import protocol
    from lib.pages import paper
    from lib.pages.common import setup
    reg = protocol.load()["protocol"]
    cfg = setup(**reg["confirmatory_setting"], for_jobs=True).cfg
    judged = []
    monkeypatch.setattr(paper, "judge_setting", lambda ps: judged.append(ps.seeds) or "judged")
    made = []
    for seed, stamp in ((5, protocol.stamp()), (6, protocol.stamp()), (0, protocol.stamp()),
                        (7, dict(protocol.stamp(), sha256="0" * 64))):
        s = _valid()
        setting = dataclasses.asdict(dataclasses.replace(cfg, seed=seed))
        setting["milestones"] = list(setting["milestones"])
        s["meta"]["setting"] = setting
        s["meta"]["protocol"] = stamp
        made.append(dict(summary.read(summary.write(tmp_path / f"s{seed}.npz", s)), path=tmp_path / f"s{seed}.npz"))
    result, left = paper.protocol_setting("confirmatory", made)
    assert result == "judged" and judged == [(5, 6)]
    assert any("s0.npz" in x and "exploratory" in x for x in left)
    assert any("s7.npz" in x and "unknown protocol" in x for x in left)
