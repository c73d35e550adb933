"""The whole book, executed: the smoke build (warnings are errors) and papermill on a MyST page."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path, **extra):
    env = dict(os.environ, TWOPHASE_STORE=str(tmp_path / "store"), TWOPHASE_PROGRESS="0", **extra)
    return env


def _toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for ch in toc.get("chapters", []):
        files.append(ch["file"])
    return files


def test_toc_lists_only_existing_pages():
    for f in _toc_pages():
        assert (ROOT / "book" / f"{f}.md").exists(), f


@pytest.mark.slow
def test_smoke_build_warnings_as_errors(smoke_build):
    out, proc = smoke_build
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = out / "_build" / "html"
    for page in _toc_pages():
        text = (html / f"{page}.html").read_text()
        assert "Traceback" not in text and "Error" not in text.replace("ErrorHandler", ""), page
        assert "{glue" not in text, f"unresolved glue in {page}"
    bg = (html / "background.html").read_text()
    assert bg.count("<img") >= 5 and "T = 200" in bg  # the smoke preset's run, figures present
    assert "references.html#" in bg and "Stanislav Fort" in bg  # citations resolved from references.bib


@pytest.mark.slow
def test_papermill_runs_myst_page_with_override(tmp_path):
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "book/background.md", str(out), "-p", "arch", "resnet20",
         "-p", "preset", "smoke", "-p", "steps", "50", "-p", "n_probe", "20"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "does not end in one of" not in proc.stderr  # papermill's warning about .md paths is silenced
    nb = json.loads(out.read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and 'arch = "resnet20"' in "".join(injected[0]["source"])
    text = json.dumps(nb)
    assert "ResNet-20 (width 8) on fashion-mnist" in text and "T = 50" in text


@pytest.mark.slow
def test_papermill_bad_parameter_fails_with_choices(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "papermill", "book/background.md", str(tmp_path / "o.ipynb"), "-p", "arch", "resnet18"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode != 0
    assert "unknown arch 'resnet18'; valid choices: 'lenet5', 'lenet_300_100', 'resnet20', 'vgg16'" in proc.stderr
