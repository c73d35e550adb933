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
    assert "transition point" in text and "cone (saturation)" in text and "where the runs are" in text
    assert "seeds stored" in text and "lenet5 (default width) on" in text
